//! The Open Journey API's JSON, as its integration guide shows it; every field name the
//! adapter reads is here.
//!
//! - `POST /generate/batch` takes `{"requests": [{prompt, style, aspect_ratio, quality}, …]}`
//!   and answers `{"batch_id", "status": "processing", "total", "completed", "results": []}`.
//! - `GET /generate/batch/{batch_id}` answers the same object; when `status` is `completed`,
//!   `results` holds `{id, url, prompt}` per image, in request order.
//! - `POST /webhooks` takes `{"url", "events": ["batch.completed", …]}`; deliveries are
//!   `{"event", "timestamp", "data"}` with, for `batch.*` events, the batch in `data`.
//! - Errors: `{"error": {"code", "message", "details"}}`.
//!
//! The guide shows only `processing` and `completed`; `failed`, `error`, `cancelled` and
//! `expired` are read as a failed batch (with an `error` object when one comes along), and
//! any other status as still running. Progress is `completed / total`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub(super) struct GenerateRequest {
    pub prompt: String,
    pub style: String,
    pub aspect_ratio: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(super) struct BatchRequest {
    pub requests: Vec<GenerateRequest>,
}

#[derive(Debug, Serialize)]
pub(super) struct WebhookRequest<'a> {
    pub url: &'a str,
    pub events: &'a [&'a str],
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Batch {
    #[serde(default)]
    pub batch_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub total: Option<u32>,
    #[serde(default)]
    pub completed: Option<u32>,
    #[serde(default)]
    pub results: Vec<BatchImage>,
    #[serde(default)]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct BatchImage {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Status {
    Running,
    Completed,
    Failed,
}

impl Batch {
    pub fn status(&self) -> Status {
        match self.status.as_deref().map(str::trim).unwrap_or("") {
            "completed" => Status::Completed,
            "failed" | "error" | "cancelled" | "canceled" | "expired" => Status::Failed,
            _ => Status::Running,
        }
    }

    /// `completed / total` as a percentage below 100.
    pub fn percent(&self) -> u8 {
        match (self.completed, self.total) {
            (Some(done), Some(total)) if total > 0 => (done.min(total) * 100 / total).min(99) as u8,
            _ => 0,
        }
    }
}

/// The `error` object of a refusal or a failed batch.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    pub error: ApiError,
}

/// A webhook delivery, `{"event", "timestamp", "data"}`. Which event it is does not matter:
/// any delivery about a batch only wakes the job waiting on it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Event {
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// The batch id a `batch.*` event is about.
    pub fn batch_id(&self) -> Option<&str> {
        self.data.get("batch_id").and_then(Value::as_str).filter(|id| !id.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_and_progress() {
        let b: Batch = serde_json::from_value(
            json!({"batch_id": "b", "status": "processing", "total": 4, "completed": 2}),
        )
        .unwrap();
        assert_eq!((b.status(), b.percent()), (Status::Running, 50));
        let b: Batch =
            serde_json::from_value(json!({"status": "completed", "total": 4, "completed": 4})).unwrap();
        assert_eq!((b.status(), b.percent()), (Status::Completed, 99));
        let b: Batch =
            serde_json::from_value(json!({"status": "failed", "error": {"code": "server_error"}})).unwrap();
        assert_eq!(b.status(), Status::Failed);
        let e: Event =
            serde_json::from_value(json!({"event": "batch.completed", "data": {"batch_id": "x"}})).unwrap();
        assert_eq!(e.batch_id(), Some("x"));
    }
}
