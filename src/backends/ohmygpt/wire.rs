//! What goes over the wire to ohmygpt's Midjourney Open API and how its answers read: the
//! fields of each endpoint and their two encodings (JSON, or the form bodies the endpoint
//! pages document), the `{statusCode, message, errorType, data}` envelope, and the task
//! object with its status, progress string, image links and actions. Field names live only
//! here. The research note (`research/ohmygpt-mj.md`) marks much of this as guessed from
//! client code, so answers are read leniently: ids as numbers or strings, any field absent
//! or `null`, unknown statuses as work in progress.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::settings::Mode;

/// Every endpoint lives under this path of the server root.
pub(super) const API_PATH: [&str; 5] = ["api", "v1", "ai", "draw", "mj"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Imagine,
    Action,
    Blend,
    Describe,
    Query,
    /// The paginated task list: the health probe's cheap authenticated call.
    ListTasks,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Imagine => "imagine",
            Endpoint::Action => "action",
            Endpoint::Blend => "blend",
            Endpoint::Describe => "describe",
            Endpoint::Query => "query",
            Endpoint::ListTasks => "query-mj-tasks",
        }
    }
}

/// The fields of one request in order, before encoding. Every endpoint requires
/// `model=midjourney`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn new() -> Fields {
        Fields(vec![("model", json!("midjourney"))])
    }

    fn with(mut self, key: &'static str, value: impl Into<Value>) -> Fields {
        self.0.push((key, value.into()));
        self
    }

    /// The fields every create call shares: the pool, and the webhook when Easel has one.
    fn common(self, common: &Common<'_>) -> Fields {
        let fields = self.with("type", mode_name(common.mode));
        match common.webhook {
            Some(url) => fields.with("webhook", url),
            None => fields,
        }
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    /// Form pairs: text as itself, anything else (the image arrays) as its JSON text, which
    /// is what the imagine page's example value for `base64Array` shows.
    pub fn to_form(&self) -> Vec<(String, String)> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.0.iter().map(|(k, v)| (k.to_string(), text(v))).collect()
    }
}

/// What every create call carries besides its own fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Common<'a> {
    pub mode: Mode,
    pub webhook: Option<&'a str>,
}

/// `type`: the pool's name as the service writes it.
pub(super) fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Fast => "FAST",
        Mode::Normal => "NORMAL",
    }
}

/// `/imagine`: the prompt as Midjourney reads it. Image prompts stay as URLs at its start
/// (`base64Array` is never sent: the doc itself calls base64 references unreliable).
pub(super) fn imagine(prompt: &str, common: &Common<'_>) -> Fields {
    Fields::new().with("prompt", prompt).common(common)
}

/// `/action`: one of the parent's actions by its customId. The task id goes as text, as
/// form bodies (and `/query`'s documented example) carry it.
pub(super) fn action(parent_id: &str, custom_id: &str, common: &Common<'_>) -> Fields {
    Fields::new().with("taskId", parent_id).with("customId", custom_id).common(common)
}

/// `/blend`: 2–5 data URLs and one of PORTRAIT, SQUARE, LANDSCAPE.
pub(super) fn blend(images: Vec<String>, dimensions: Value, common: &Common<'_>) -> Fields {
    Fields::new().with("base64Array", images).with("dimensions", dimensions).common(common)
}

/// `/describe`: one data URL.
pub(super) fn describe(image: String, common: &Common<'_>) -> Fields {
    Fields::new().with("base64", image).common(common)
}

pub(super) fn query(task_id: &str) -> Fields {
    Fields::new().with("taskId", task_id)
}

/// `/query-mj-tasks` takes only `model` in its body (paging is in the query string).
pub(super) fn list_tasks() -> Fields {
    Fields::new()
}

/// Every answer: `{statusCode, message, errorType, data}` (NestJS's error shape adds `error`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope {
    #[serde(default)]
    pub status_code: Value,
    /// A sentence, or (NestJS validation errors) a list of them.
    #[serde(default)]
    pub message: Value,
    #[serde(default)]
    pub error_type: Value,
    #[serde(default)]
    pub data: Value,
}

impl Envelope {
    /// `None` unless the body is a JSON object with a `statusCode`.
    pub fn parse(body: &[u8]) -> Option<Envelope> {
        serde_json::from_slice::<Envelope>(body).ok().filter(|e| e.code().is_some())
    }

    pub fn code(&self) -> Option<u16> {
        match &self.status_code {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn is_success(&self) -> bool {
        self.code() == Some(200)
    }

    /// The message on one line; a list of messages joined.
    pub fn message(&self) -> Option<String> {
        let text = match &self.message {
            Value::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>().join("; "),
            other => scalar(other)?,
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        (!text.is_empty()).then_some(text)
    }

    pub fn error_type(&self) -> Option<String> {
        scalar(&self.error_type)
    }

    /// A create call's `data`: the new task's integer id (also read from a string, or from an
    /// object's `taskId`, in case a mirror wraps it).
    pub fn task_id(&self) -> Option<String> {
        match &self.data {
            Value::Object(map) => map.get("taskId").and_then(scalar),
            other => scalar(other),
        }
        .filter(|id| !id.trim().is_empty())
    }

    /// `/query`'s `data`; `None` when it holds no task (`null`, an empty object).
    pub fn task(&self) -> Option<Task> {
        match &self.data {
            Value::Object(map) if !map.is_empty() => Some(Task(map.clone())),
            _ => None,
        }
    }
}

/// A JSON scalar as text; `None` for null, empty strings, arrays and objects.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One of a finished task's follow-ups: `{customId, emoji, label}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskAction {
    pub custom_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// `NOT_START`, `SUBMITTED` (or no status yet).
    Waiting,
    /// `IN_PROGRESS`, and any status Easel does not know.
    Running,
    Success,
    /// `FAILURE` (`FAILED` in one client), or any unfinished task with a `failReason`.
    Failure,
}

/// The task object of `/query` (and, in clients, of webhook deliveries), kept as the
/// service sent it and read through accessors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub(super) struct Task(Map<String, Value>);

impl Task {
    fn text(&self, key: &str) -> Option<String> {
        self.0.get(key).and_then(scalar)
    }

    pub fn id(&self) -> Option<String> {
        self.text("taskId")
    }

    /// `IMAGINE`, `UPSCALE`, `VARIATION`, `ZOOM`, `PAN`, `BLEND`, …
    pub fn action(&self) -> Option<String> {
        self.text("action")
    }

    pub fn fail_reason(&self) -> Option<String> {
        self.text("failReason").map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    pub fn prompt(&self) -> Option<String> {
        self.text("prompt")
    }

    /// Whether the task says where it stands at all (a webhook body may not).
    pub fn has_status(&self) -> bool {
        self.text("status").is_some()
    }

    pub fn status(&self) -> Status {
        let status = self.text("status").unwrap_or_default().to_ascii_uppercase();
        match status.as_str() {
            "SUCCESS" => Status::Success,
            "FAILURE" | "FAILED" => Status::Failure,
            _ if self.fail_reason().is_some() => Status::Failure,
            "" | "NOT_START" | "SUBMITTED" => Status::Waiting,
            _ => Status::Running,
        }
    }

    /// The leading number of `progress` (`"37%"`, `"37.5 %"`, `37`), capped at 100.
    pub fn percent(&self) -> Option<u8> {
        let n = match self.0.get("progress")? {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => {
                let s = s.trim();
                let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
                s[..end].parse::<f64>().ok()?
            }
            _ => return None,
        };
        (n.is_finite() && n >= 0.0).then(|| n.min(100.0) as u8)
    }

    /// Orders two reports of one task, which polls and webhooks may deliver out of order:
    /// later status first, then more progress.
    pub fn order_key(&self) -> (u8, u8) {
        let rank = match self.status() {
            Status::Waiting => 0,
            Status::Running => 1,
            Status::Success | Status::Failure => 2,
        };
        (rank, self.percent().unwrap_or(0))
    }

    /// The image links to try in order: the object-storage copy when there is one (it
    /// outlives Discord's expiring attachment links), then the Discord CDN link.
    pub fn image_urls(&self) -> Vec<String> {
        ["imageS3Url", "imageDcUrl"]
            .iter()
            .filter_map(|key| self.text(key))
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .collect()
    }

    /// The actions that carry a customId.
    pub fn actions(&self) -> Vec<TaskAction> {
        let Some(Value::Array(items)) = self.0.get("actions") else { return Vec::new() };
        items
            .iter()
            .filter_map(|item| serde_json::from_value::<TaskAction>(item.clone()).ok())
            .filter(|a| !a.custom_id.trim().is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(value: Value) -> Task {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn fields_encode_as_json_and_as_form() {
        let common = Common { mode: Mode::Normal, webhook: Some("https://e.example/hooks/ohmygpt/s?task=7") };
        let f = imagine("a fox --ar 3:2", &common);
        assert_eq!(
            f.to_json(),
            json!({"model": "midjourney", "prompt": "a fox --ar 3:2", "type": "NORMAL",
                   "webhook": "https://e.example/hooks/ohmygpt/s?task=7"})
        );
        let f = blend(
            vec!["data:image/png;base64,AA==".into(), "data:b".into()],
            json!("SQUARE"),
            &Common { mode: Mode::Fast, webhook: None },
        );
        let form = f.to_form();
        assert_eq!(form[1], ("base64Array".into(), r#"["data:image/png;base64,AA==","data:b"]"#.into()));
        assert_eq!(
            form.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["model", "base64Array", "dimensions", "type"]
        );
        let f = action("3432", "MJ::JOB::upsample::2::h", &Common { mode: Mode::Fast, webhook: None });
        assert_eq!(f.to_json()["taskId"], "3432", "ids go back as text");
        assert_eq!(
            query("12").to_form(),
            [("model".into(), "midjourney".into()), ("taskId".into(), "12".into())]
        );
    }

    #[test]
    fn envelopes_read_codes_messages_and_ids() {
        let e = Envelope::parse(br#"{"statusCode":200,"message":"Success","data":3432}"#).unwrap();
        assert!(e.is_success());
        assert_eq!(e.task_id().as_deref(), Some("3432"));
        let e = Envelope::parse(br#"{"statusCode":"200","data":"77"}"#).unwrap();
        assert_eq!((e.is_success(), e.task_id().as_deref()), (true, Some("77")));
        let e = Envelope::parse(br#"{"statusCode":200,"data":{"taskId":5}}"#).unwrap();
        assert_eq!(e.task_id().as_deref(), Some("5"));
        let e = Envelope::parse(
            br#"{"statusCode":402,"message":"User balance is insufficient","errorType":"insufficient_balance_error","data":null}"#,
        )
        .unwrap();
        assert_eq!((e.code(), e.error_type().as_deref()), (Some(402), Some("insufficient_balance_error")));
        assert_eq!(e.task_id(), None);
        let e =
            Envelope::parse(br#"{"statusCode":400,"message":["prompt should not be empty","x"]}"#).unwrap();
        assert_eq!(e.message().as_deref(), Some("prompt should not be empty; x"));
        assert!(Envelope::parse(br#"{"status":404}"#).is_none());
        assert!(Envelope::parse(b"<html>502 Bad Gateway</html>").is_none());
        assert!(Envelope::parse(br#"{"statusCode":200,"data":null}"#).unwrap().task().is_none());
    }

    #[test]
    fn statuses_and_progress_read_leniently() {
        let at = |status: &str, progress: Value| task(json!({"status": status, "progress": progress}));
        assert_eq!(at("NOT_START", json!("0%")).status(), Status::Waiting);
        assert_eq!(at("SUBMITTED", json!("0%")).status(), Status::Waiting);
        assert_eq!(at("IN_PROGRESS", json!("37%")).percent(), Some(37));
        assert_eq!(at("IN_PROGRESS", json!(" 52.5 %")).percent(), Some(52));
        assert_eq!(at("IN_PROGRESS", json!(250)).percent(), Some(100));
        assert_eq!(at("IN_PROGRESS", json!("waiting")).percent(), None);
        assert_eq!(at("QUEUED_SOMEWHERE", json!(null)).status(), Status::Running);
        assert_eq!(at("failed", json!("")).status(), Status::Failure);
        let t = task(json!({"status": "IN_PROGRESS", "failReason": "Job\n failed"}));
        assert_eq!((t.status(), t.fail_reason().as_deref()), (Status::Failure, Some("Job failed")));
        assert!(at("SUCCESS", json!("100%")).order_key() > at("IN_PROGRESS", json!("100%")).order_key());
        assert!(at("IN_PROGRESS", json!("80%")).order_key() > at("IN_PROGRESS", json!("37%")).order_key());
        assert!(at("IN_PROGRESS", json!("1%")).order_key() > at("SUBMITTED", json!("0%")).order_key());
    }

    #[test]
    fn tasks_give_links_in_order_and_their_actions() {
        let t = task(json!({
            "taskId": 3432, "imageS3Url": null, "imageDcUrl": "https://cdn.discordapp.com/a/1/2/g.png",
            "actions": [
                {"customId": "MJ::JOB::upsample::1::h", "emoji": "", "label": "U1"},
                {"customId": "", "label": "broken"}, {"label": "no id"}, "junk"
            ]
        }));
        assert_eq!(t.id().as_deref(), Some("3432"));
        assert_eq!(t.image_urls(), ["https://cdn.discordapp.com/a/1/2/g.png"]);
        assert_eq!(t.actions().len(), 1);
        let t = task(json!({"imageS3Url": "https://s3.example/g.png", "imageDcUrl": "https://cdn/g.png"}));
        assert_eq!(t.image_urls(), ["https://s3.example/g.png", "https://cdn/g.png"]);
        assert!(task(json!({"imageDcUrl": "ftp://x", "actions": null})).image_urls().is_empty());
    }
}
