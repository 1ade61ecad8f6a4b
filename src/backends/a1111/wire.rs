//! The bodies exchanged with `/sdapi/v1`: what Easel sends to txt2img, img2img, the extras
//! upscaler and the interrogator, and what it accepts back — including `info`, which the
//! server sends as a JSON document inside a string — plus the state Easel keeps with a
//! finished task so that a later V can find the seed of each image.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields txt2img and img2img share. Unset options are left out so the server's own
/// defaults (and its settings page) apply.
#[derive(Debug, Clone, Serialize)]
pub(super) struct GenerateRequest<'a> {
    pub prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<&'a str>,
    pub seed: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subseed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subseed_strength: Option<f64>,
    pub batch_size: u8,
    pub n_iter: u8,
    pub width: u32,
    pub height: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiling: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_settings: Option<OverrideSettings<'a>>,
    /// Names the job in the server's task queue (A1111 ≥ 1.6 and Forge; older servers ignore
    /// it), which makes it recognisable in the server's own logs.
    pub force_task_id: &'a str,
    pub send_images: bool,
    /// `false` also keeps the server from writing the images and the grid to its disk.
    pub save_images: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OverrideSettings<'a> {
    /// A checkpoint title, name or hash, as `GET /sdapi/v1/sd-models` lists them.
    pub sd_model_checkpoint: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct Img2ImgRequest<'a> {
    #[serde(flatten)]
    pub common: GenerateRequest<'a>,
    /// Plain base64, no `data:` prefix.
    pub init_images: Vec<String>,
    pub denoising_strength: f64,
    /// 0: "just resize" the init image to `width`×`height`.
    pub resize_mode: u8,
}

/// The answer of txt2img and img2img.
#[derive(Debug, Deserialize)]
pub(super) struct GenerateResponse {
    #[serde(default)]
    pub images: Option<Vec<String>>,
    /// A JSON document in a string at A1111 and Forge; an object is accepted too.
    #[serde(default)]
    pub info: Option<Value>,
}

/// The parts of `info` Easel reads.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Info {
    #[serde(default)]
    pub all_seeds: Option<Vec<i64>>,
    #[serde(default)]
    pub all_subseeds: Option<Vec<i64>>,
    /// 1 when `images[0]` is the server's own grid of the batch.
    #[serde(default)]
    pub index_of_first_image: Option<usize>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

impl Info {
    /// `None` when `info` is missing or unreadable; the images are still usable without it.
    pub fn parse(info: Option<&Value>) -> Option<Info> {
        match info? {
            Value::String(text) => serde_json::from_str(text).ok(),
            object @ Value::Object(_) => serde_json::from_value(object.clone()).ok(),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct UpscaleRequest<'a> {
    pub image: String,
    pub upscaler_1: &'a str,
    /// 0: scale by `upscaling_resize`.
    pub resize_mode: u8,
    pub upscaling_resize: f64,
    pub show_extras_results: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct UpscaleResponse {
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct InterrogateRequest<'a> {
    pub image: String,
    pub model: &'a str,
}

#[derive(Debug, Deserialize)]
pub(super) struct InterrogateResponse {
    #[serde(default)]
    pub caption: Option<String>,
}

/// `GET /sdapi/v1/progress`: the server's one current job, whoever started it.
#[derive(Debug, Deserialize)]
pub(super) struct ProgressResponse {
    /// 0 to 1.
    #[serde(default)]
    pub progress: f64,
    #[serde(default)]
    pub state: Option<ProgressState>,
    /// The latest live preview, base64; `null` until the first one is made.
    #[serde(default)]
    pub current_image: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ProgressState {
    /// 0 when the server is idle.
    #[serde(default)]
    pub job_count: i64,
}

/// `GET /sdapi/v1/upscalers` and `/sdapi/v1/sd-models`, read only for their names.
#[derive(Debug, Deserialize)]
pub(super) struct Named {
    #[serde(default, alias = "title")]
    pub name: Option<String>,
}

/// The server's error body: `{"error", "detail", "body", "errors"}` from A1111's exception
/// handler, or FastAPI's own `{"detail": "…"}` / `{"detail": [{loc, msg, type}]}` (Forge, 422s,
/// unknown routes).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorBody {
    /// The exception's class name, e.g. `OutOfMemoryError`.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub detail: Option<Value>,
    /// `str(exception)`.
    #[serde(default)]
    pub errors: Option<Value>,
}

impl ErrorBody {
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
        (parsed.error.is_some() || parsed.detail.is_some() || parsed.errors.is_some()).then_some(parsed)
    }

    /// The server's own words as one line: `detail`, else `errors`.
    pub fn message(&self) -> Option<String> {
        let detail = match &self.detail {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(items)) => {
                let parts: Vec<String> = items.iter().filter_map(validation_item).collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let errors = || match &self.errors {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        [detail, errors()]
            .into_iter()
            .flatten()
            .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
            .find(|m| !m.is_empty())
    }

    /// Everything the body says, lower-cased, for matching phrases such as "out of memory".
    pub fn haystack(&self) -> String {
        let mut text = self.error.clone().unwrap_or_default();
        for value in [&self.detail, &self.errors].into_iter().flatten() {
            text.push(' ');
            text += &value.as_str().map(String::from).unwrap_or_else(|| value.to_string());
        }
        text.to_lowercase()
    }
}

/// One pydantic validation failure as `field: message`.
fn validation_item(item: &Value) -> Option<String> {
    let msg = item.get("msg")?.as_str()?;
    let loc: Vec<String> = item
        .get("loc")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        // FastAPI prefixes the location with where it was found.
        .filter(|l| l.as_str() != Some("body"))
        .map(|l| l.as_str().map(String::from).unwrap_or_else(|| l.to_string()))
        .collect();
    Some(if loc.is_empty() { msg.to_string() } else { format!("{}: {msg}", loc.join(".")) })
}

/// How a task's images were made; decides what a later V of them can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum MadeBy {
    /// Plain txt2img: each image is reproduced by its own seed.
    Txt2img,
    /// txt2img with a subseed mixed in: no single seed reproduces an image.
    Subseed,
    Img2img,
}

/// `JobOutput::remote_state` of a grid task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct RemoteState {
    pub made_by: MadeBy,
    pub width: u32,
    pub height: u32,
    /// Per image, in grid order.
    pub all_seeds: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all_subseeds: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subseed_strength: Option<f64>,
}

impl RemoteState {
    pub fn parse(value: Option<&Value>) -> Option<RemoteState> {
        serde_json::from_value(value?.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn info_is_read_from_a_string_or_an_object() {
        let text =
            json!(r#"{"seed": 5, "all_seeds": [5, 6, 7, 8], "index_of_first_image": 1, "width": 1024}"#);
        let info = Info::parse(Some(&text)).unwrap();
        assert_eq!(info.all_seeds, Some(vec![5, 6, 7, 8]));
        assert_eq!(info.index_of_first_image, Some(1));
        let object = json!({"all_seeds": [1], "height": 512});
        assert_eq!(Info::parse(Some(&object)).unwrap().height, Some(512));
        assert!(Info::parse(Some(&json!("{not json"))).is_none());
        assert!(Info::parse(None).is_none());
    }

    #[test]
    fn error_messages_come_from_both_shapes() {
        let msg = |body: &str| ErrorBody::parse(body.as_bytes()).and_then(|b| b.message());
        assert_eq!(
            msg(
                r#"{"error":"HTTPException","detail":"Model not found","body":"","errors":"404: Model not found"}"#
            ),
            Some("Model not found".into())
        );
        assert_eq!(
            msg(r#"{"error":"OutOfMemoryError","detail":"","body":"","errors":"CUDA out of memory. Tried"}"#),
            Some("CUDA out of memory. Tried".into())
        );
        assert_eq!(
            msg(r#"{"detail":[{"loc":["body","width"],"msg":"value is not a valid integer","type":"x"}]}"#),
            Some("width: value is not a valid integer".into())
        );
        assert_eq!(msg(r#"{"detail":"Not Found"}"#), Some("Not Found".into()));
        assert_eq!(msg("Internal Server Error"), None);
    }

    #[test]
    fn unset_options_are_not_sent() {
        let req = GenerateRequest {
            prompt: "a cat",
            negative_prompt: None,
            seed: 7,
            subseed: None,
            subseed_strength: None,
            batch_size: 4,
            n_iter: 1,
            width: 1024,
            height: 576,
            steps: None,
            cfg_scale: None,
            sampler_name: None,
            tiling: None,
            override_settings: None,
            force_task_id: "easel-1",
            send_images: true,
            save_images: false,
        };
        let img2img = Img2ImgRequest {
            common: req.clone(),
            init_images: vec!["AAAA".into()],
            denoising_strength: 0.35,
            resize_mode: 0,
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"prompt":"a cat","seed":7,"batch_size":4,"n_iter":1,"width":1024,"height":576,
                   "force_task_id":"easel-1","send_images":true,"save_images":false})
        );
        let sent = serde_json::to_value(&img2img).unwrap();
        assert_eq!(sent["init_images"], json!(["AAAA"]));
        assert_eq!(sent["prompt"], "a cat");
    }
}
