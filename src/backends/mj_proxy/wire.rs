//! The bodies exchanged with a midjourney-proxy server (novicezk's open-source Java proxy and
//! trueai-org's C# one): the submit requests Easel sends, the submit result and the Task
//! object it reads back, and the reading of a task's status and progress. Responses are read
//! leniently — ids may be strings or numbers, most fields may be absent or `null` — because
//! the two proxies and their forks disagree on the details.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Fields every submit endpoint takes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Common<'a> {
    /// Per-task callback URL; absent when Easel has no hook receiver configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_hook: Option<&'a str>,
    /// Echoed back in the Task; names the Easel task for whoever reads the proxy's logs.
    pub state: String,
}

/// `POST /submit/imagine`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ImagineRequest<'a> {
    pub prompt: &'a str,
    /// Image prompts as data URLs; Easel's image prompts are URLs inside `prompt`, so this is
    /// only sent when non-empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base64_array: Vec<String>,
    #[serde(flatten)]
    pub common: Common<'a>,
}

/// `POST /submit/blend`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BlendRequest<'a> {
    pub base64_array: Vec<String>,
    pub dimensions: Dimensions,
    #[serde(flatten)]
    pub common: Common<'a>,
}

/// The three shapes Midjourney's `/blend` offers (ohmygpt's blend takes the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Dimensions {
    /// 2:3
    Portrait,
    /// 1:1
    Square,
    /// 3:2
    Landscape,
}

impl Dimensions {
    /// The shape nearest to `ratio` (width / height), compared in log space so that 2:1 and
    /// 1:2 are equally far from square.
    pub fn nearest(ratio: f64) -> Dimensions {
        let target = if ratio.is_finite() && ratio > 0.0 { ratio.ln() } else { 0.0 };
        [(Dimensions::Square, 1.0_f64), (Dimensions::Portrait, 2.0 / 3.0), (Dimensions::Landscape, 1.5)]
            .into_iter()
            .min_by(|a, b| (a.1.ln() - target).abs().total_cmp(&(b.1.ln() - target).abs()))
            .map_or(Dimensions::Square, |(d, _)| d)
    }
}

/// `POST /submit/describe`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeRequest<'a> {
    pub base64: String,
    #[serde(flatten)]
    pub common: Common<'a>,
}

/// `POST /submit/action` (trueai, midjourney-proxy-plus): press one of the parent's buttons.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ActionRequest<'a> {
    pub task_id: &'a str,
    pub custom_id: &'a str,
    #[serde(flatten)]
    pub common: Common<'a>,
}

/// `POST /submit/change` (novicezk): U or V by index, for proxies without `/submit/action`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChangeRequest<'a> {
    pub task_id: &'a str,
    pub action: ChangeAction,
    /// 1-based, as on Midjourney's buttons.
    pub index: u8,
    #[serde(flatten)]
    pub common: Common<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum ChangeAction {
    Upscale,
    Variation,
}

/// What every submit endpoint answers: `{code, description, result, properties}`. The HTTP
/// status is usually 200 whatever the code says.
#[derive(Debug, Deserialize)]
pub(super) struct SubmitResult {
    pub code: i64,
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: Option<String>,
    /// The task id (a string at both proxies; a number at some forks).
    #[serde(default, deserialize_with = "lenient_string")]
    pub result: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: Map<String, Value>,
}

impl SubmitResult {
    /// `None` unless the body is a submit result (a Spring 404 page has `status`, not `code`).
    pub fn parse(body: &[u8]) -> Option<SubmitResult> {
        serde_json::from_slice(body).ok()
    }

    pub fn property_str(&self, key: &str) -> Option<String> {
        text_of(self.properties.get(key)?)
    }
}

/// One of the buttons Midjourney put under a result, as the proxy reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Button {
    pub custom_id: String,
    #[serde(default, deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient_string", skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// The proxy's Task, from `GET /task/{id}/fetch` or a notifyHook delivery.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Task {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub action: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// `"37%"`; a number at some forks; `""` on failure.
    #[serde(default)]
    pub progress: Option<Value>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub fail_reason: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub prompt: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub prompt_en: Option<String>,
    /// trueai only; novicezk tasks have none and are driven through `/submit/change`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub buttons: Vec<Button>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Status {
    NotStart,
    Submitted,
    InProgress,
    Success,
    Failure,
    /// trueai: a remix or zoom dialog waits for `/submit/modal`.
    Modal,
    /// trueai: cancelled through its API or admin pages.
    Cancel,
    /// A status Easel does not know (a newer proxy's); treated as work in progress.
    Other(String),
}

impl Status {
    /// Position in the life of a task, for ordering updates that arrive out of order.
    fn rank(&self) -> u8 {
        match self {
            Status::NotStart => 0,
            Status::Submitted => 1,
            Status::InProgress | Status::Other(_) => 2,
            Status::Modal | Status::Success | Status::Failure | Status::Cancel => 3,
        }
    }
}

impl Task {
    pub fn status(&self) -> Status {
        match self.status.as_deref().map(str::trim).unwrap_or("") {
            "NOT_START" | "" => Status::NotStart,
            "SUBMITTED" => Status::Submitted,
            "IN_PROGRESS" => Status::InProgress,
            "SUCCESS" => Status::Success,
            "FAILURE" => Status::Failure,
            "MODAL" => Status::Modal,
            "CANCEL" => Status::Cancel,
            other => Status::Other(other.to_string()),
        }
    }

    /// The progress as a whole percentage, when it reads as one.
    pub fn percent(&self) -> Option<u8> {
        let n = match self.progress.as_ref()? {
            Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok()?,
            Value::Number(n) => n.as_f64()?,
            _ => return None,
        };
        (n.is_finite() && n >= 0.0).then(|| n.min(100.0) as u8)
    }

    /// Orders two reports of one task: later status first, then more progress.
    pub fn order_key(&self) -> (u8, u8) {
        (self.status().rank(), self.percent().unwrap_or(0))
    }

    pub fn image_url(&self) -> Option<&str> {
        self.image_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    pub fn property_str(&self, key: &str) -> Option<String> {
        text_of(self.properties.get(key)?)
    }
}

/// A JSON scalar as text; `None` for null, empty strings, arrays and objects.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Strings as themselves, numbers and booleans as their text, anything else as `None`.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text_of(&Value::deserialize(d)?))
}

/// `null` as the type's default, for lists and maps the proxies sometimes send as `null`.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tasks_read_leniently() {
        let t: Task = serde_json::from_value(json!({
            "id": 1712345678901_u64, "status": "IN_PROGRESS", "progress": "37%",
            "imageUrl": " ", "buttons": null, "properties": null, "failReason": null
        }))
        .unwrap();
        assert_eq!(t.id.as_deref(), Some("1712345678901"));
        assert_eq!(t.status(), Status::InProgress);
        assert_eq!(t.percent(), Some(37));
        assert_eq!(t.image_url(), None);
        assert!(t.buttons.is_empty());
        let t: Task = serde_json::from_value(json!({"status": "WAITING", "progress": 250})).unwrap();
        assert_eq!(t.status(), Status::Other("WAITING".into()));
        assert_eq!(t.percent(), Some(100));
        let t: Task = serde_json::from_value(json!({"status": "FAILURE", "progress": ""})).unwrap();
        assert_eq!(t.percent(), None);
        assert_eq!(t.status(), Status::Failure);
    }

    #[test]
    fn updates_order_by_status_then_progress() {
        let at = |status: &str, progress: &str| {
            serde_json::from_value::<Task>(json!({"status": status, "progress": progress}))
                .unwrap()
                .order_key()
        };
        assert!(at("SUBMITTED", "0%") > at("NOT_START", "0%"));
        assert!(at("IN_PROGRESS", "80%") > at("IN_PROGRESS", "37%"));
        assert!(at("SUCCESS", "100%") > at("IN_PROGRESS", "100%"));
        assert!(at("FAILURE", "") > at("IN_PROGRESS", "99%"));
    }

    #[test]
    fn submit_results_read_numbers_and_nulls() {
        let r = SubmitResult::parse(
            br#"{"code":1,"description":null,"result":1320098173412546,"properties":null}"#,
        )
        .unwrap();
        assert_eq!(r.result.as_deref(), Some("1320098173412546"));
        assert!(r.properties.is_empty());
        assert!(SubmitResult::parse(br#"{"status":404,"error":"Not Found"}"#).is_none());
    }

    #[test]
    fn requests_use_the_proxy_field_names() {
        let common = || Common { notify_hook: None, state: "easel-7".into() };
        let v =
            serde_json::to_value(ImagineRequest { prompt: "cat", base64_array: vec![], common: common() })
                .unwrap();
        assert_eq!(v, json!({"prompt": "cat", "state": "easel-7"}));
        let v = serde_json::to_value(ChangeRequest {
            task_id: "9",
            action: ChangeAction::Upscale,
            index: 2,
            common: Common { notify_hook: Some("http://h/hooks/mj/s"), state: "easel-7".into() },
        })
        .unwrap();
        assert_eq!(
            v,
            json!({
                "taskId": "9", "action": "UPSCALE", "index": 2,
                "notifyHook": "http://h/hooks/mj/s", "state": "easel-7"
            })
        );
        let v = serde_json::to_value(Dimensions::Landscape).unwrap();
        assert_eq!(v, json!("LANDSCAPE"));
    }

    #[test]
    fn blend_shapes_follow_the_aspect() {
        assert_eq!(Dimensions::nearest(1.0), Dimensions::Square);
        assert_eq!(Dimensions::nearest(2.0 / 3.0), Dimensions::Portrait);
        assert_eq!(Dimensions::nearest(16.0 / 9.0), Dimensions::Landscape);
        assert_eq!(Dimensions::nearest(4.0 / 5.0), Dimensions::Portrait);
        // 1.2 is nearer 1:1 than 3:2 by ratio.
        assert_eq!(Dimensions::nearest(1.2), Dimensions::Square);
        assert_eq!(Dimensions::nearest(f64::NAN), Dimensions::Square);
    }
}
