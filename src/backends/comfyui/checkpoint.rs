//! Which checkpoint the templates load: the backend's `model`, or — when it is not set — the
//! one the server has, asked once of `/object_info/CheckpointLoaderSimple` and kept for the
//! life of the process (its only one, or its first, said in the log). A server with none
//! cannot draw what the built-in workflows describe: it is reported unhealthy, and its jobs
//! fail naming the fix.

use serde_json::Value;
use tokio::sync::OnceCell;

use super::client::Api;
use crate::backends::BackendError;
use crate::backends::http_util::excerpt;
use crate::base::FailureCode;

pub(super) struct Checkpoint {
    configured: Option<String>,
    /// Whether any template loads a checkpoint at all.
    needed: bool,
    found: OnceCell<String>,
}

impl Checkpoint {
    pub fn new(configured: Option<String>, needed: bool) -> Checkpoint {
        Checkpoint { configured, needed, found: OnceCell::new() }
    }

    /// The configured name, or the server's once it has been asked.
    pub fn known(&self) -> Option<&str> {
        self.configured.as_deref().or_else(|| self.found.get().map(String::as_str))
    }

    /// The checkpoint for `{{model}}`: `None` when no template loads one.
    pub async fn get(&self, api: &Api) -> Result<Option<String>, BackendError> {
        if let Some(name) = &self.configured {
            return Ok(Some(name.clone()));
        }
        if !self.needed {
            return Ok(None);
        }
        self.found.get_or_try_init(|| discover(api)).await.map(|name| Some(name.clone()))
    }
}

async fn discover(api: &Api) -> Result<String, BackendError> {
    let reply = api.get(&["object_info", "CheckpointLoaderSimple"]).await?;
    let info: Value =
        api.json(&reply, "a node description (`{\"CheckpointLoaderSimple\": {\"input\": …}}`)")?;
    let names = checkpoint_names(&info);
    let backend = &api.backend;
    match names.as_slice() {
        [] => Err(BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "The ComfyUI server behind backend `{backend}` has no checkpoint to draw with; an admin needs to put \
                 one in its models/checkpoints folder, or set `model`."
            ),
            format!("{}: no ckpt_name choices in {}", reply.what, excerpt(&reply.body, 300)),
        )),
        [only] => {
            tracing::info!(backend = %backend, checkpoint = %only, "`model` is not set; using the server's only checkpoint");
            Ok(only.clone())
        }
        [first, ..] => {
            tracing::warn!(
                backend = %backend, checkpoint = %first, available = names.len(),
                "`model` is not set and the server has several checkpoints; using the first (set `model` to choose)"
            );
            Ok(first.clone())
        }
    }
}

/// The choices of `ckpt_name`: `input.required.ckpt_name[0]` is the list of names, or — in
/// servers with typed node schemas — the word `"COMBO"` with the names in `[1].options`.
pub(super) fn checkpoint_names(info: &Value) -> Vec<String> {
    let input = &info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"];
    let list = match &input[0] {
        Value::Array(names) => names,
        Value::String(kind) if kind == "COMBO" => match &input[1]["options"] {
            Value::Array(names) => names,
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    list.iter().filter_map(Value::as_str).filter(|n| !n.trim().is_empty()).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_read_from_either_schema() {
        let classic = json!({"CheckpointLoaderSimple": {"input": {"required": {
            "ckpt_name": [["sd_xl_base_1.0.safetensors", "v1-5.ckpt"], {"tooltip": "The checkpoint"}]
        }}}});
        assert_eq!(checkpoint_names(&classic), ["sd_xl_base_1.0.safetensors", "v1-5.ckpt"]);
        let typed = json!({"CheckpointLoaderSimple": {"input": {"required": {
            "ckpt_name": ["COMBO", {"options": ["flux1-dev.safetensors"], "multiselect": false}]
        }}}});
        assert_eq!(checkpoint_names(&typed), ["flux1-dev.safetensors"]);
        let none = json!({"CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [[], {}]}}}});
        assert!(checkpoint_names(&none).is_empty());
        assert!(checkpoint_names(&json!({})).is_empty());
    }
}
