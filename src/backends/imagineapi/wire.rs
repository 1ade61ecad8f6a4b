//! ImagineAPI's JSON, as its guide shows it (every field name the adapter reads is here).
//! The server is a Directus instance: answers wrap the item in `{"data": …}` and errors come
//! as `{"errors": [{"message": …, "extensions": {"code": …}}]}`.
//!
//! `POST /items/images/` takes `{"prompt": …}` (Midjourney parameters inside the prompt) and
//! answers the new item; `GET /items/images/{id}` answers it again. An item:
//!
//! ```json
//! {"id": "d85674b8-…", "status": "pending" | "in-progress" | "completed" | "failed",
//!  "progress": null | 45 | "45", "url": null | "<grid>", "upscaled_urls": null | ["<u1>", …],
//!  "upscaled": ["<asset id>", …], "error": null | "<reason>", "prompt": "…", "ref": null}
//! ```
//!
//! The guide only ever shows `progress` and `error` as null; a number or a numeric string
//! (with or without `%`) is read as a percentage, and an error may be a string or an object
//! with a `message`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
pub(super) struct CreateImage<'a> {
    pub prompt: &'a str,
    /// Free-form reference the service stores with the item; Easel puts its task id there.
    #[serde(rename = "ref")]
    pub reference: String,
}

/// Directus's envelope.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    #[serde(default)]
    pub data: Option<Image>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Image {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub progress: Option<Value>,
    /// The 2×2 grid.
    #[serde(default)]
    pub url: Option<String>,
    /// The four upscaled images, in grid order.
    #[serde(default)]
    pub upscaled_urls: Option<Vec<String>>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Status {
    Pending,
    InProgress,
    Completed,
    Failed,
    Other(String),
}

impl Image {
    pub fn status(&self) -> Status {
        match self.status.as_deref().map(str::trim).unwrap_or("") {
            "pending" => Status::Pending,
            "in-progress" | "in_progress" => Status::InProgress,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            other => Status::Other(other.to_string()),
        }
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

    /// The reason a failed item gives, as one line.
    pub fn error_text(&self) -> Option<String> {
        let text = match self.error.as_ref()? {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string)?,
            Value::Null => return None,
            other => other.to_string(),
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        (!text.is_empty()).then_some(text)
    }

    /// The four upscaled images when all four are there.
    pub fn upscaled(&self) -> Option<&[String]> {
        let urls = self.upscaled_urls.as_deref()?;
        (urls.len() == 4 && urls.iter().all(|u| !u.trim().is_empty())).then_some(urls)
    }
}

/// Directus's error body; the first message.
pub(super) fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        message: Option<String>,
    }
    let errors: Errors = serde_json::from_slice(body).ok()?;
    errors.errors.into_iter().find_map(|e| e.message).filter(|m| !m.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(v: Value) -> Image {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn progress_and_errors_read_in_their_forms() {
        assert_eq!(image(json!({"progress": 45})).percent(), Some(45));
        assert_eq!(image(json!({"progress": "62%"})).percent(), Some(62));
        assert_eq!(image(json!({"progress": null})).percent(), None);
        assert_eq!(image(json!({"error": "Banned\nprompt"})).error_text().as_deref(), Some("Banned prompt"));
        assert_eq!(image(json!({"error": {"message": "x"}})).error_text().as_deref(), Some("x"));
        assert_eq!(image(json!({"status": "in-progress"})).status(), Status::InProgress);
        assert!(image(json!({"upscaled_urls": ["a", "b", "c"]})).upscaled().is_none());
        assert_eq!(
            error_message(br#"{"errors":[{"message":"Invalid user credentials."}]}"#).as_deref(),
            Some("Invalid user credentials.")
        );
    }
}
