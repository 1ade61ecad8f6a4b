//! The bodies exchanged with an OpenAI-compatible service: what Easel sends to the Images API
//! and to `/chat/completions`, and what it accepts back, including the error bodies of
//! providers that do not use OpenAI's shape.

use reqwest::multipart::Form;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The common fields of `/images/generations` (as JSON) and of `/images/edits` and
/// `/images/variations` (as multipart text fields).
#[derive(Debug, Serialize)]
pub(super) struct ImageRequest<'a> {
    pub model: &'a str,
    /// Absent for `/images/variations`, which takes none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<&'a str>,
    pub n: u8,
    pub size: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<&'static str>,
    /// Not OpenAI's: FLUX providers take it; sent only when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<&'a str>,
}

impl ImageRequest<'_> {
    /// The same fields as multipart text fields, so edits and generations cannot drift apart.
    pub fn to_form(&self) -> Form {
        let mut form = Form::new();
        if let Ok(Value::Object(fields)) = serde_json::to_value(self) {
            for (key, value) in fields {
                let text = match value {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                form = form.text(key, text);
            }
        }
        form
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ImagesResponse {
    pub data: Vec<ImageDatum>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ImageDatum {
    #[serde(default)]
    pub b64_json: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub revised_prompt: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<ChatMessage<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct ChatMessage<'a> {
    pub role: &'static str,
    pub content: Vec<ContentPart<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Serialize)]
pub(super) struct ImageUrl {
    pub url: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChatResponse {
    pub choices: Vec<ChatChoice>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChatChoice {
    pub message: ChatReply,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChatReply {
    #[serde(default)]
    pub content: Option<ChatContent>,
    /// Set instead of `content` when the model declines to look at the image.
    #[serde(default)]
    pub refusal: Option<String>,
}

/// A string from OpenAI; some relays pass through an array of typed parts instead.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ChatContent {
    Text(String),
    Parts(Vec<ChatContentPart>),
}

#[derive(Debug, Deserialize)]
pub(super) struct ChatContentPart {
    #[serde(default)]
    pub text: Option<String>,
}

impl ChatContent {
    pub fn into_text(self) -> String {
        match self {
            ChatContent::Text(s) => s,
            ChatContent::Parts(parts) => {
                parts.into_iter().filter_map(|p| p.text).collect::<Vec<_>>().join("\n")
            }
        }
    }
}

/// Any error body Easel has met: OpenAI's `{"error":{…}}`, relays' `{"error":"…"}` or
/// `{"message":"…"}`, and FastAPI's `{"detail":"…"}` or `{"detail":[{loc,msg,type}]}`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub error: Option<ErrorField>,
    #[serde(default)]
    pub detail: Option<Detail>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ErrorField {
    Object(ErrorObject),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorObject {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub param: Option<Value>,
    /// A string at OpenAI, a number at some relays.
    #[serde(default)]
    pub code: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Detail {
    Text(String),
    Items(Vec<DetailItem>),
    Other(Value),
}

#[derive(Debug, Deserialize)]
pub(super) struct DetailItem {
    #[serde(default)]
    pub loc: Vec<Value>,
    #[serde(default)]
    pub msg: Option<String>,
}

impl ErrorBody {
    /// `None` when the body is not JSON or carries none of the known error fields.
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
        (parsed.error.is_some() || parsed.detail.is_some() || parsed.message.is_some()).then_some(parsed)
    }

    /// The provider's own words, as one line.
    pub fn message(&self) -> Option<String> {
        let from_error = match &self.error {
            Some(ErrorField::Object(o)) => o.message.clone(),
            Some(ErrorField::Text(s)) => Some(s.clone()),
            None => None,
        };
        let from_detail = || match &self.detail {
            Some(Detail::Text(s)) => Some(s.clone()),
            Some(Detail::Items(items)) => {
                let parts: Vec<String> = items
                    .iter()
                    .filter_map(|item| {
                        let msg = item.msg.as_deref()?;
                        // FastAPI prefixes the location with where it was found ("body").
                        let loc: Vec<String> = item
                            .loc
                            .iter()
                            .filter(|l| l.as_str() != Some("body"))
                            .map(|l| l.as_str().map(String::from).unwrap_or_else(|| l.to_string()))
                            .collect();
                        Some(if loc.is_empty() {
                            msg.to_string()
                        } else {
                            format!("{}: {msg}", loc.join("."))
                        })
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            Some(Detail::Other(v)) => Some(v.to_string()),
            None => None,
        };
        from_error
            .or_else(from_detail)
            .or_else(|| self.message.clone())
            .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|m| !m.is_empty())
    }

    /// `error.code` and `error.type`, lower-cased, for matching.
    pub fn codes(&self) -> Vec<String> {
        let Some(ErrorField::Object(o)) = &self.error else {
            return Vec::new();
        };
        let code = o.code.as_ref().map(|c| c.as_str().map(String::from).unwrap_or_else(|| c.to_string()));
        code.into_iter().chain(o.kind.clone()).map(|s| s.to_ascii_lowercase()).collect()
    }

    pub fn param(&self) -> Option<String> {
        let Some(ErrorField::Object(o)) = &self.error else {
            return None;
        };
        o.param.as_ref().and_then(|p| p.as_str()).map(String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_requests_skip_unset_extras() {
        let req = ImageRequest {
            model: "m",
            prompt: Some("a cat"),
            n: 4,
            size: "1024x1024".into(),
            response_format: None,
            seed: None,
            negative_prompt: None,
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json, serde_json::json!({"model":"m","prompt":"a cat","n":4,"size":"1024x1024"}));
    }

    #[test]
    fn error_messages_come_from_every_known_shape() {
        let msg = |body: &str| ErrorBody::parse(body.as_bytes()).and_then(|b| b.message());
        assert_eq!(
            msg(
                r#"{"error":{"message":"Bad size","type":"invalid_request_error","param":"size","code":null}}"#
            ),
            Some("Bad size".into())
        );
        assert_eq!(msg(r#"{"error":"quota gone"}"#), Some("quota gone".into()));
        assert_eq!(msg(r#"{"detail":"Not authenticated"}"#), Some("Not authenticated".into()));
        assert_eq!(
            msg(
                r#"{"detail":[{"loc":["body","width"],"msg":"ensure this value is less than or equal to 2048","type":"value_error"}]}"#
            ),
            Some("width: ensure this value is less than or equal to 2048".into())
        );
        assert_eq!(msg(r#"{"message":"  two\n lines "}"#), Some("two lines".into()));
        assert_eq!(msg("<html>502</html>"), None);
        assert_eq!(msg(r#"{"data":[]}"#), None);
    }
}
