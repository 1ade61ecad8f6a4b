//! The Openjourney REST API's JSON. Every field name the adapter writes or reads is here and
//! nowhere else.
//!
//! The reference documents the request bodies (`prompt`, `canvas`, `seed`, `negative_prompt`,
//! `guidance`, `raw`; `image` and `model` for the utilities) but shows no response body at
//! all. Easel's reading, which the official JavaScript client (openjourney-javascript) agrees
//! with — it POSTs to a model, then polls `GET /job/{job.id}` until `job.status` ends and
//! returns `job.output`, documented as `'https://delivery.opjcdn.net/user_id/job_id.png'`:
//!
//! ```json
//! {"id": "…", "status": "starting" | "processing" | "succeeded" | "failed" | "cancelled",
//!  "progress": 40, "output": "https://…/job_id.png", "error": null | "<reason>"}
//! ```
//!
//! - Every POST (a model, `utils/upscale`, `utils/prompt-extract`) answers such a job; only
//!   its `id` is needed. A number is taken as well as a string.
//! - `status`: `starting`, `booting`, `queued`, `pending` are waiting; `processing`,
//!   `running` are working; `succeeded` (or `completed`, `success`) is done; `failed`
//!   (`error`) and `cancelled` end it. Any other word counts as still working.
//! - `progress`, when present, is a percentage (a number or a numeric string, `%` allowed).
//! - `output`: an image link, or for prompt-extract the prompt text; a list is read as its
//!   items, in order.
//! - Errors: a reason under `error` (a string, or an object with `message`), `message` or
//!   `detail` is shown; the HTTP status decides the class.
//!
//! A body that is not a JSON object with these fields fails with a message naming them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/<model>`; fields the model does not take are left out.
#[derive(Debug, Clone, Serialize)]
pub(super) struct GenerateRequest<'a> {
    pub prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canvas: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<bool>,
}

/// `POST /v1/utils/upscale`.
#[derive(Debug, Serialize)]
pub(super) struct UpscaleRequest<'a> {
    /// A link to the image.
    pub image: &'a str,
    /// The upscaler ("Real-ESRGAN", …); the service's default when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
}

/// `POST /v1/utils/prompt-extract`.
#[derive(Debug, Serialize)]
pub(super) struct ExtractRequest<'a> {
    pub image: &'a str,
}

/// A job, as every POST and `GET /v1/job/{id}` answer it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Job {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub progress: Option<Value>,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    /// Every other field, where hosts that differ from the reference put the image link.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// What an answer must look like, for error messages.
pub(super) const JOB_SHAPE: &str = "a job (`{\"id\", \"status\", \"output\"}`)";

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Status {
    Waiting,
    Working,
    Succeeded,
    Failed,
    Cancelled,
}

impl Job {
    /// The job id, as text.
    pub fn id(&self) -> Option<String> {
        let id = match self.id.as_ref()? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!id.is_empty()).then_some(id)
    }

    /// `None` when the answer has no `status` at all.
    pub fn status(&self) -> Option<Status> {
        let status = self.status.as_deref()?.trim().to_ascii_lowercase();
        Some(match status.as_str() {
            "starting" | "booting" | "queued" | "pending" | "waiting" => Status::Waiting,
            "succeeded" | "completed" | "success" | "done" => Status::Succeeded,
            "failed" | "error" => Status::Failed,
            "cancelled" | "canceled" => Status::Cancelled,
            _ => Status::Working,
        })
    }

    /// `progress` as a percentage, when it is one.
    pub fn percent(&self) -> Option<u8> {
        let n = match self.progress.as_ref()? {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok()?,
            _ => return None,
        };
        (n.is_finite() && n >= 0.0).then(|| n.min(100.0) as u8)
    }

    /// The non-empty strings of `output`, in order.
    pub fn outputs(&self) -> Vec<String> {
        let strings = match self.output.as_ref() {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        strings.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
    }

    /// The image links of a finished job, from every shape hosts use: `output` (a string or
    /// a list), `result.url`, `result` as a string, `url`, `image_url`, `images[0]`.
    pub fn image_links(&self) -> Vec<String> {
        let link = |v: &Value| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Object(o) => o.get("url").and_then(Value::as_str).map(|s| s.trim().to_string()),
            _ => None,
        };
        let field = |key: &str| self.rest.get(key);
        let more = [
            field("result").and_then(link),
            field("url").and_then(link),
            field("image_url").and_then(link),
            field("images").and_then(|i| i.get(0)).and_then(link),
        ];
        let mut links = self.outputs();
        links.extend(more.into_iter().flatten().filter(|l| !l.is_empty()));
        links
    }

    /// The names of the fields that came with a value, for saying what arrived.
    pub fn fields_present(&self) -> Vec<&str> {
        let own = [
            ("id", &self.id),
            ("status", &self.status.as_ref().map(|s| Value::String(s.clone()))),
            ("progress", &self.progress),
            ("output", &self.output),
            ("error", &self.error),
        ];
        let own = own.into_iter().filter(|(_, v)| v.as_ref().is_some_and(|v| !v.is_null())).map(|(k, _)| k);
        own.chain(self.rest.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k.as_str())).collect()
    }

    /// The reason a failed job gives, as one line.
    pub fn error_text(&self) -> Option<String> {
        self.error.as_ref().and_then(reason_in)
    }
}

/// A reason from an `error` value: a string, or an object's `message` / `detail`.
fn reason_in(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Object(o) => ["message", "detail", "error"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_string)?,
        _ => return None,
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// The reason an error body gives: under `error`, `message` or `detail`.
pub(super) fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    ["error", "message", "detail"].iter().find_map(|k| value.get(*k).and_then(reason_in))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(v: Value) -> Job {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn jobs_read_in_their_forms() {
        assert_eq!(job(json!({"id": "j-1"})).id().as_deref(), Some("j-1"));
        assert_eq!(job(json!({"id": 42})).id().as_deref(), Some("42"));
        assert_eq!(job(json!({"id": " "})).id(), None);
        assert_eq!(job(json!({"status": "starting"})).status(), Some(Status::Waiting));
        assert_eq!(job(json!({"status": "Processing"})).status(), Some(Status::Working));
        assert_eq!(job(json!({"status": "completed"})).status(), Some(Status::Succeeded));
        assert_eq!(job(json!({"status": "canceled"})).status(), Some(Status::Cancelled));
        assert_eq!(job(json!({})).status(), None);
        assert_eq!(job(json!({"progress": 45})).percent(), Some(45));
        assert_eq!(job(json!({"progress": "62%"})).percent(), Some(62));
        assert_eq!(job(json!({"output": "https://x/a.png"})).outputs(), ["https://x/a.png"]);
        assert_eq!(job(json!({"output": ["a", " ", "b"]})).outputs(), ["a", "b"]);
        assert_eq!(
            job(json!({"error": {"message": "NSFW\ncontent"}})).error_text().as_deref(),
            Some("NSFW content")
        );
    }

    #[test]
    fn image_links_are_read_from_every_plausible_shape() {
        let link = |v: Value| job(v).image_links();
        assert_eq!(link(json!({"output": ["https://x/a.png"]})), ["https://x/a.png"]);
        assert_eq!(link(json!({"result": {"url": "https://x/b.png"}})), ["https://x/b.png"]);
        assert_eq!(link(json!({"result": "https://x/c.png"})), ["https://x/c.png"]);
        assert_eq!(link(json!({"url": "https://x/d.png"})), ["https://x/d.png"]);
        assert_eq!(link(json!({"image_url": "https://x/e.png"})), ["https://x/e.png"]);
        assert_eq!(link(json!({"images": [{"url": "https://x/f.png"}]})), ["https://x/f.png"]);
        assert_eq!(link(json!({"images": ["https://x/g.png"]})), ["https://x/g.png"]);
        let empty = job(json!({"id": 1, "status": "done", "output": null, "seed": 3}));
        assert!(empty.image_links().is_empty());
        assert_eq!(empty.fields_present(), ["id", "status", "seed"]);
    }

    #[test]
    fn error_bodies_give_their_reason() {
        assert_eq!(error_message(br#"{"error": "Invalid canvas"}"#).as_deref(), Some("Invalid canvas"));
        assert_eq!(error_message(br#"{"error": {"message": "No credits"}}"#).as_deref(), Some("No credits"));
        assert_eq!(error_message(br#"{"detail": "Not found"}"#).as_deref(), Some("Not found"));
        assert_eq!(error_message(b"<html>"), None);
    }

    #[test]
    fn requests_leave_out_what_a_model_does_not_take() {
        let body = GenerateRequest {
            prompt: "a cat",
            canvas: Some("Square"),
            seed: Some(7),
            negative_prompt: None,
            guidance: None,
            raw: None,
        };
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({"prompt": "a cat", "canvas": "Square", "seed": 7})
        );
    }
}
