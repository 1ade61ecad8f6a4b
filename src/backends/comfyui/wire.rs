//! ComfyUI's JSON, as its `server.py` sends and reads it (every field the adapter uses is
//! here). Every route is the same with or without an `/api` prefix; the adapter uses the bare
//! one.
//!
//! - `POST /prompt {prompt, client_id}` → `{prompt_id, number, node_errors}`; a workflow the
//!   server refuses → 400 `{error: {type, message, details, extra_info} | "text", node_errors:
//!   {"<id>": {errors: [{type, message, details}], class_type, dependent_outputs}}}`.
//! - `GET /queue` → `{queue_running: [[number, prompt_id, prompt, extra_data, outputs], …],
//!   queue_pending: […]}`; `POST /queue {delete: [ids]}` drops queued prompts.
//! - `GET /history/{id}` → `{}` until the prompt is done, then `{"<id>": {outputs: {"<node>":
//!   {images: [{filename, subfolder, type}]}}, status: {status_str, completed, messages:
//!   [[event, data], …]}}}`.
//! - `POST /upload/image` (multipart `image`, `type`, `subfolder`) → `{name, subfolder, type}`.
//! - `GET /system_stats` → `{system: {comfyui_version, …}, devices: […]}`.
//! - `/ws?clientId=…` text frames `{type, data}`; see [`Frame`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
pub(super) struct PromptRequest<'a> {
    pub prompt: &'a Value,
    /// Routes the job's progress, previews and results to our WebSocket.
    pub client_id: &'a str,
}

#[derive(Debug, Deserialize)]
pub(super) struct PromptResponse {
    #[serde(default)]
    pub prompt_id: Option<String>,
}

/// One item of `error` or of a node's `errors`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ErrorItem {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
}

impl ErrorItem {
    /// `message: details`, as one line.
    pub fn text(&self) -> String {
        let parts: Vec<&str> = [self.message.as_deref(), self.details.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        parts.join(": ").split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A node the server refused, with why.
#[derive(Debug, Clone)]
pub(super) struct NodeError {
    pub node_id: String,
    pub class_type: Option<String>,
    pub errors: Vec<ErrorItem>,
}

/// The 400 answer to `POST /prompt`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PromptRejection {
    /// An object on current servers, a plain string on old ones.
    #[serde(default)]
    pub error: Option<Value>,
    /// An object keyed by node id; `[]` when there are none.
    #[serde(default)]
    pub node_errors: Option<Value>,
}

impl PromptRejection {
    pub fn parse(body: &[u8]) -> Option<PromptRejection> {
        let parsed: PromptRejection = serde_json::from_slice(body).ok()?;
        (parsed.error.is_some() || parsed.node_errors.is_some()).then_some(parsed)
    }

    pub fn error(&self) -> Option<ErrorItem> {
        match self.error.as_ref()? {
            Value::String(s) => Some(ErrorItem { message: Some(s.clone()), ..ErrorItem::default() }),
            other => serde_json::from_value(other.clone()).ok(),
        }
    }

    /// The refused nodes in node-id order.
    pub fn node_errors(&self) -> Vec<NodeError> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(default)]
            errors: Vec<ErrorItem>,
            #[serde(default)]
            class_type: Option<String>,
        }
        let Some(Value::Object(map)) = &self.node_errors else { return Vec::new() };
        let mut out: Vec<NodeError> = map
            .iter()
            .filter_map(|(id, v)| {
                let e: Entry = serde_json::from_value(v.clone()).ok()?;
                Some(NodeError { node_id: id.clone(), class_type: e.class_type, errors: e.errors })
            })
            .collect();
        out.sort_by(|a, b| node_order(&a.node_id, &b.node_id));
        out
    }
}

/// Node ids are numbers in strings, mostly: "9" before "10".
pub(super) fn node_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Queue {
    #[serde(default)]
    pub queue_running: Vec<Value>,
    #[serde(default)]
    pub queue_pending: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Running,
    Pending,
}

impl Queue {
    /// Where the prompt is in the server's queue, if it is there.
    pub fn place(&self, prompt_id: &str) -> Option<Place> {
        // An item is `[number, prompt_id, prompt, extra_data, outputs]`.
        let holds = |items: &[Value]| {
            items.iter().any(|item| {
                item.get(1).and_then(Value::as_str) == Some(prompt_id)
                    || item.get("prompt_id").and_then(Value::as_str) == Some(prompt_id)
            })
        };
        if holds(&self.queue_running) {
            Some(Place::Running)
        } else if holds(&self.queue_pending) {
            Some(Place::Pending)
        } else {
            None
        }
    }
}

/// An image the server keeps, as `/view` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ImageRef {
    pub filename: String,
    #[serde(default)]
    pub subfolder: String,
    /// "output" for SaveImage, "temp" for PreviewImage.
    #[serde(default = "output", rename = "type")]
    pub kind: String,
}

fn output() -> String {
    "output".into()
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NodeOutput {
    #[serde(default)]
    pub images: Vec<ImageRef>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct HistoryStatus {
    #[serde(default)]
    pub status_str: Option<String>,
    /// `[[event, data], …]`: execution_start, execution_cached, execution_success,
    /// execution_error, execution_interrupted.
    #[serde(default)]
    pub messages: Vec<(String, Value)>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct HistoryEntry {
    #[serde(default)]
    pub outputs: BTreeMap<String, NodeOutput>,
    /// Missing on servers from before 2024.
    #[serde(default)]
    pub status: Option<HistoryStatus>,
}

impl HistoryEntry {
    /// The saved images (`type` "output") in node order; PreviewImage's temp images only when
    /// the workflow saved none.
    pub fn images(&self) -> Vec<ImageRef> {
        let mut nodes: Vec<(&String, &NodeOutput)> = self.outputs.iter().collect();
        nodes.sort_by(|a, b| node_order(a.0, b.0));
        let all: Vec<&ImageRef> = nodes.iter().flat_map(|(_, o)| &o.images).collect();
        let saved: Vec<ImageRef> = all.iter().filter(|i| i.kind == "output").map(|i| (*i).clone()).collect();
        if saved.is_empty() { all.into_iter().cloned().collect() } else { saved }
    }

    /// The event that ended an unsuccessful prompt: `execution_error` or `execution_interrupted`.
    pub fn failure(&self) -> Option<(String, Value)> {
        let status = self.status.as_ref()?;
        if status.status_str.as_deref() != Some("error") {
            return None;
        }
        let ended = status.messages.iter().rev().find(|(event, _)| event.starts_with("execution_"));
        Some(ended.cloned().unwrap_or_else(|| ("execution_error".into(), Value::Null)))
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Uploaded {
    pub name: String,
    #[serde(default)]
    pub subfolder: String,
}

impl Uploaded {
    /// How a LoadImage node names it: `subfolder/name`.
    pub fn load_name(&self) -> String {
        match self.subfolder.trim_matches('/') {
            "" => self.name.clone(),
            sub => format!("{sub}/{}", self.name),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SystemStats {
    #[serde(default)]
    pub system: SystemInfo,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SystemInfo {
    /// Present since 2025 (0.3.x); e.g. "0.3.57", "0.16.2".
    #[serde(default)]
    pub comfyui_version: Option<String>,
}

/// The first ComfyUI whose `POST /interrupt {"prompt_id"}` stops only that prompt (PR #9607;
/// checked in the server.py of 0.3.57). Older servers read no body and interrupt whatever runs.
const TARGETED_INTERRUPT_SINCE: (u64, u64, u64) = (0, 3, 57);

/// Whether `POST /interrupt {"prompt_id"}` is safe on a server of this version.
pub(super) fn targeted_interrupt(version: &str) -> bool {
    let mut parts = version.trim().trim_start_matches('v').split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    });
    let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) else { return false };
    let patch = parts.next().flatten().unwrap_or(0);
    (major, minor, patch) >= TARGETED_INTERRUPT_SINCE
}

/// A WebSocket text frame.
#[derive(Debug, Deserialize)]
pub(super) struct Frame {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: Value,
}

impl Frame {
    pub fn prompt_id(&self) -> Option<&str> {
        self.data.get("prompt_id").and_then(Value::as_str)
    }
}

/// `progress {value, max, prompt_id, node}`: sampler steps.
#[derive(Debug, Deserialize)]
pub(super) struct Progress {
    pub value: f64,
    pub max: f64,
}

/// `execution_error`'s data, also kept in the history's status messages.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ExecutionError {
    #[serde(default)]
    pub node_id: Option<Value>,
    #[serde(default)]
    pub node_type: Option<String>,
    #[serde(default)]
    pub exception_message: Option<String>,
    #[serde(default)]
    pub exception_type: Option<String>,
}

/// Binary frames: a 4-byte big-endian event type, then for previews (event 1) a 4-byte image
/// type (1 JPEG, 2 PNG) and the image. Anything else is not a preview.
pub(super) fn preview(frame: &[u8]) -> Option<&[u8]> {
    let event = u32::from_be_bytes(frame.get(0..4)?.try_into().ok()?);
    let format = u32::from_be_bytes(frame.get(4..8)?.try_into().ok()?);
    (event == 1 && matches!(format, 1 | 2)).then(|| &frame[8..]).filter(|image| !image.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_errors_are_read_in_node_order_from_both_error_shapes() {
        let body = json!({
            "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}},
            "node_errors": {
                "10": {"errors": [{"type": "x", "message": "Ten", "details": ""}], "class_type": "SaveImage"},
                "4": {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                  "details": "ckpt_name: 'a.safetensors' not in ['b.safetensors']"}],
                      "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}
            }
        });
        let r = PromptRejection::parse(body.to_string().as_bytes()).unwrap();
        let nodes = r.node_errors();
        assert_eq!(nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["4", "10"]);
        assert_eq!(
            nodes[0].errors[0].text(),
            "Value not in list: ckpt_name: 'a.safetensors' not in ['b.safetensors']"
        );
        assert_eq!(r.error().unwrap().text(), "Prompt outputs failed validation");
        let old = PromptRejection::parse(br#"{"error": "no prompt", "node_errors": []}"#).unwrap();
        assert_eq!(old.error().unwrap().text(), "no prompt");
        assert!(old.node_errors().is_empty());
        assert!(PromptRejection::parse(b"Internal Server Error").is_none());
    }

    #[test]
    fn queue_places_history_images_and_failures() {
        let q: Queue = serde_json::from_value(json!({
            "queue_running": [[0, "a", {}, {}, ["9"]]], "queue_pending": [[1, "b", {}, {}, ["9"]]]
        }))
        .unwrap();
        assert_eq!(
            (q.place("a"), q.place("b"), q.place("c")),
            (Some(Place::Running), Some(Place::Pending), None)
        );
        let h: HistoryEntry = serde_json::from_value(json!({
            "outputs": {"12": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]},
                        "9": {"images": [{"filename": "a.png", "subfolder": "easel", "type": "output"}]}},
            "status": {"status_str": "success", "completed": true, "messages": [["execution_start", {}]]}
        }))
        .unwrap();
        assert_eq!(h.images().iter().map(|i| i.filename.as_str()).collect::<Vec<_>>(), ["a.png"]);
        assert!(h.failure().is_none());
        let failed: HistoryEntry =
            serde_json::from_value(json!({"outputs": {}, "status": {"status_str": "error",
            "messages": [["execution_start", {}], ["execution_interrupted", {"node_id": "5"}]]}}))
            .unwrap();
        assert_eq!(failed.failure().unwrap().0, "execution_interrupted");
    }

    #[test]
    fn targeted_interrupt_needs_0_3_57_or_later() {
        for v in ["0.3.57", "0.3.60", "v0.4.0", "0.16.2", "1.0.0", "0.38.1"] {
            assert!(targeted_interrupt(v), "{v}");
        }
        for v in ["0.3.56", "0.3.43", "0.3.29.Diana", "", "unknown", "0"] {
            assert!(!targeted_interrupt(v), "{v}");
        }
    }

    #[test]
    fn only_preview_frames_are_previews() {
        let mut frame = vec![0, 0, 0, 1, 0, 0, 0, 2];
        frame.extend_from_slice(b"\x89PNG");
        assert_eq!(preview(&frame), Some(&b"\x89PNG"[..]));
        frame[3] = 3; // progress text
        assert!(preview(&frame).is_none());
        assert!(preview(&[0, 0, 0, 1, 0, 0, 0, 1]).is_none());
        assert!(preview(&[0, 0]).is_none());
    }
}
