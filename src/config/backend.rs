//! One `[[backends]]` entry: the fields every kind shares and the few that only one kind
//! reads. A field set on a kind that does not read it is an error rather than silently
//! ignored, so a typo'd or misplaced setting is caught by `easel check-config`.

use serde::Deserialize;

use super::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Built in and offline: deterministic placeholder art.
    Demo,
    /// The OpenAI-compatible Images API (OpenAI, ArtAPI, ohmygpt, relays).
    Openai,
    /// AUTOMATIC1111's Stable Diffusion web UI or SD WebUI Forge, started with `--api`.
    A1111,
    /// A midjourney-proxy server (novicezk or trueai-org) driving a Midjourney account.
    MjProxy,
    /// ImagineAPI (imagineapi.dev): a hosted Midjourney front end, polled by image id.
    #[serde(rename = "imagineapi")]
    ImagineApi,
    /// The Open Journey API (`…/v1`): batches of four, polled or announced by webhook.
    #[serde(rename = "openjourney")]
    OpenJourney,
    /// The Openjourney REST API (`…/v1`, docs.opj.app): one endpoint per model, four jobs
    /// per imagine, followed through `/job/{id}`.
    #[serde(rename = "opj")]
    Opj,
    /// A ComfyUI server, driven through workflow templates in its API format.
    #[serde(rename = "comfyui")]
    ComfyUi,
}

impl BackendKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendKind::Demo => "demo",
            BackendKind::Openai => "openai",
            BackendKind::A1111 => "a1111",
            BackendKind::MjProxy => "mj-proxy",
            BackendKind::ImagineApi => "imagineapi",
            BackendKind::OpenJourney => "openjourney",
            BackendKind::Opj => "opj",
            BackendKind::ComfyUi => "comfyui",
        }
    }

    /// Jobs a backend of this kind runs at once when `concurrency` is not set. A1111 and Forge
    /// run one job at a time behind a global lock, and ComfyUI executes one prompt at a time
    /// from its queue, so a second job would only wait there, hiding its place in Easel's own
    /// queue.
    pub fn default_concurrency(&self) -> usize {
        match self {
            BackendKind::A1111 | BackendKind::ComfyUi => 1,
            BackendKind::Demo
            | BackendKind::Openai
            | BackendKind::MjProxy
            | BackendKind::ImagineApi
            | BackendKind::OpenJourney
            | BackendKind::Opj => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum A1111Variation {
    /// txt2img again with the image's own seed and a random subseed mixed in
    /// (`subseed_strength`): the same composition with small changes.
    Subseed,
    /// img2img of the chosen image (`denoising_strength`): works for any image.
    Img2img,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenAiResponseFormat {
    /// Ask for base64 in the response body.
    B64Json,
    /// Ask for URLs and download them.
    Url,
    /// Send no `response_format` (GPT image models reject the field and always answer b64).
    Omit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenAiVariation {
    /// `/images/edits` with the chosen image and the prompt (gpt-image models).
    Edits,
    /// `/images/variations` (dall-e-2 and providers that only have that).
    Variations,
    /// No variations: V buttons are not offered.
    None,
}

/// `workflows = { imagine = "…", variation = "…", upscale = "…" }` of a `comfyui` backend:
/// paths to workflow templates in ComfyUI's API format. Unset: the built-in template
/// (imagine, variation) or none (upscale); `""` turns an operation off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComfyWorkflows {
    #[serde(default)]
    pub imagine: Option<String>,
    #[serde(default)]
    pub variation: Option<String>,
    #[serde(default)]
    pub upscale: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKind,
    /// Everything before the protocol's own paths (`…/v1` for openai).
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub api_key: Secret,
    #[serde(default)]
    pub model: Option<String>,
    /// Other names members may pick this backend by: in the `model` option of /imagine, or as
    /// `--v 6` / `--niji 6` in a prompt when an alias reads `v6` / `niji 6`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Jobs this backend runs at once; [`BackendConfig::concurrency`] applies the kind's default.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Per HTTP request.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,

    // --- openai ---
    /// Images per request; 1 makes four parallel single-image calls (dall-e-3, some relays).
    #[serde(default)]
    pub max_n: Option<u8>,
    #[serde(default)]
    pub response_format: Option<OpenAiResponseFormat>,
    /// Sizes the model accepts (`WxH`); `--ar` picks the nearest.
    #[serde(default)]
    pub sizes: Option<Vec<String>>,
    /// Send `seed` and `negative_prompt` as extra fields (FLUX providers accept them).
    #[serde(default)]
    pub send_seed: Option<bool>,
    #[serde(default)]
    pub send_negative_prompt: Option<bool>,
    #[serde(default)]
    pub variation: Option<OpenAiVariation>,
    /// Blend through `/images/edits` with several images (gpt-image models).
    #[serde(default)]
    pub blend: Option<bool>,
    /// A vision chat model for /describe through `/chat/completions`.
    #[serde(default)]
    pub describe_model: Option<String>,

    // --- mj-proxy, imagineapi, openjourney, opj, comfyui ---
    /// Base interval of status polls in milliseconds; polls back off to five times this
    /// while progress stands still (comfyui: how often `/history` is polled when its
    /// WebSocket is not available).
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// The public base URL of Easel's HTTP server; the proxy then POSTs task updates to
    /// `<notify_hook>/hooks/mj/<secret>` (mj-proxy) or `<notify_hook>/hooks/openjourney/<secret>`
    /// (openjourney, registered through `POST /webhooks`), and polling becomes the fallback.
    #[serde(default)]
    pub notify_hook: Option<String>,

    // --- a1111 (and opj where noted) ---
    /// Sampling steps; the server's default when unset.
    #[serde(default)]
    pub steps: Option<u32>,
    /// Classifier-free guidance scale; the server's default when unset. For opj, sent as
    /// `guidance` to the models that take it.
    #[serde(default)]
    pub cfg_scale: Option<f64>,
    /// Sampler name as the server lists it (`GET /sdapi/v1/samplers`), e.g. "DPM++ 2M".
    #[serde(default)]
    pub sampler: Option<String>,
    /// Upscaler for U, as the server lists it (`GET /sdapi/v1/upscalers`); for opj, the
    /// `model` of `/utils/upscale` ("Real-ESRGAN", …).
    #[serde(default)]
    pub upscaler: Option<String>,
    /// How much U enlarges the image.
    #[serde(default)]
    pub upscale_factor: Option<f64>,
    /// How V makes variations.
    #[serde(default)]
    pub variation_mode: Option<A1111Variation>,
    /// The `/sdapi/v1/interrogate` model for /describe: "clip" or "deepdanbooru".
    #[serde(default)]
    pub interrogate_model: Option<String>,

    // --- comfyui ---
    /// Workflow templates per operation.
    #[serde(default)]
    pub workflows: Option<ComfyWorkflows>,

    // --- demo, a1111 and comfyui ---
    /// Long side of each generated image, in pixels.
    #[serde(default)]
    pub image_size: Option<u32>,

    // --- demo ---
    /// Pause between progress steps, so progress can be watched.
    #[serde(default)]
    pub step_ms: Option<u64>,
}

fn default_timeout() -> u64 {
    180
}

impl BackendConfig {
    pub fn demo(name: &str) -> Self {
        BackendConfig {
            name: name.into(),
            kind: BackendKind::Demo,
            base_url: String::new(),
            api_key: Secret::default(),
            model: None,
            aliases: Vec::new(),
            concurrency: None,
            timeout_secs: default_timeout(),
            max_n: None,
            response_format: None,
            sizes: None,
            send_seed: None,
            send_negative_prompt: None,
            variation: None,
            blend: None,
            describe_model: None,
            poll_ms: None,
            notify_hook: None,
            steps: None,
            cfg_scale: None,
            sampler: None,
            upscaler: None,
            upscale_factor: None,
            variation_mode: None,
            interrogate_model: None,
            workflows: None,
            image_size: None,
            step_ms: None,
        }
    }

    /// Jobs this backend runs at once: the configured number, else the kind's default.
    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or_else(|| self.kind.default_concurrency())
    }

    /// The kind-specific keys that are set, with the kinds that read each.
    fn kind_specific_keys(&self) -> Vec<(&'static str, &'static [BackendKind])> {
        use BackendKind::*;
        let mut keys = Vec::new();
        let mut note = |set: bool, key: &'static str, kinds: &'static [BackendKind]| {
            if set {
                keys.push((key, kinds));
            }
        };
        note(self.max_n.is_some(), "max_n", &[Openai]);
        note(self.response_format.is_some(), "response_format", &[Openai]);
        note(self.sizes.is_some(), "sizes", &[Openai]);
        note(self.send_seed.is_some(), "send_seed", &[Openai]);
        note(self.send_negative_prompt.is_some(), "send_negative_prompt", &[Openai]);
        note(self.variation.is_some(), "variation", &[Openai]);
        note(self.blend.is_some(), "blend", &[Openai]);
        note(self.describe_model.is_some(), "describe_model", &[Openai]);
        note(self.steps.is_some(), "steps", &[A1111]);
        note(self.cfg_scale.is_some(), "cfg_scale", &[A1111, Opj]);
        note(self.sampler.is_some(), "sampler", &[A1111]);
        note(self.upscaler.is_some(), "upscaler", &[A1111, Opj]);
        note(self.upscale_factor.is_some(), "upscale_factor", &[A1111]);
        note(self.variation_mode.is_some(), "variation_mode", &[A1111]);
        note(self.interrogate_model.is_some(), "interrogate_model", &[A1111]);
        note(self.workflows.is_some(), "workflows", &[ComfyUi]);
        note(self.image_size.is_some(), "image_size", &[Demo, A1111, ComfyUi]);
        note(self.step_ms.is_some(), "step_ms", &[Demo]);
        note(self.poll_ms.is_some(), "poll_ms", &[MjProxy, ImagineApi, OpenJourney, Opj, ComfyUi]);
        note(self.notify_hook.is_some(), "notify_hook", &[MjProxy, OpenJourney]);
        keys
    }

    /// Checks one entry; `Err((key, message))` names the offending key inside the entry.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err((
                "name",
                format!("`{}` is not a usable backend name: use 1–32 letters, digits, `-` or `_`", self.name),
            ));
        }
        if let Some((key, kinds)) =
            self.kind_specific_keys().into_iter().find(|(_, kinds)| !kinds.contains(&self.kind))
        {
            let names: Vec<String> = kinds.iter().map(|k| format!("`{}`", k.as_str())).collect();
            return Err((
                key,
                format!(
                    "`{key}` is a setting of kind {}, not of kind `{}`: remove it",
                    names.join(" or "),
                    self.kind.as_str()
                ),
            ));
        }
        for alias in &self.aliases {
            let norm = normalize_model(alias);
            if norm.is_empty()
                || norm.len() > 32
                || !norm.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err((
                    "aliases",
                    format!(
                        "`{alias}` is not a usable alias: use 1–32 letters, digits, `.`, `-` or `_` (e.g. \"v6\", \"niji 6\", \"flux\")"
                    ),
                ));
            }
        }
        if self.concurrency == Some(0) {
            return Err(("concurrency", "must be at least 1".into()));
        }
        if self.timeout_secs == 0 {
            return Err(("timeout_secs", "must be at least 1".into()));
        }
        match self.kind {
            BackendKind::Demo => {
                if let Some(size) = self.image_size.filter(|s| !(64..=2048).contains(s)) {
                    return Err(("image_size", format!("{size} is out of range: use 64 to 2048")));
                }
            }
            BackendKind::Openai => {
                check_url(&self.base_url).map_err(|m| ("base_url", m))?;
                if let Some(n) = self.max_n.filter(|n| !(1..=10).contains(n)) {
                    return Err(("max_n", format!("{n} is out of range: use 1 to 10")));
                }
                for size in self.sizes.iter().flatten() {
                    if parse_size(size).is_none() {
                        return Err((
                            "sizes",
                            format!("`{size}` is not a size: write it as WIDTHxHEIGHT, e.g. \"1024x1024\""),
                        ));
                    }
                }
                if self.sizes.as_ref().is_some_and(Vec::is_empty) {
                    return Err(("sizes", "the list is empty: name at least one size".into()));
                }
            }
            BackendKind::A1111 => self.validate_a1111()?,
            BackendKind::ComfyUi => self.validate_comfyui()?,
            BackendKind::MjProxy | BackendKind::ImagineApi | BackendKind::OpenJourney | BackendKind::Opj => {
                check_url(&self.base_url).map_err(|m| ("base_url", m))?;
                if let Some(ms) = self.poll_ms.filter(|ms| !(10..=60_000).contains(ms)) {
                    return Err(("poll_ms", format!("{ms} is out of range: use 10 to 60000")));
                }
                if let Some(hook) = &self.notify_hook {
                    check_url(hook).map_err(|m| ("notify_hook", m))?;
                }
                if self.kind == BackendKind::Opj {
                    // Beside the model table it checks against.
                    crate::backends::opj::models::check_config(self)?;
                }
            }
        }
        Ok(())
    }

    fn validate_a1111(&self) -> Result<(), (&'static str, String)> {
        check_url(&self.base_url).map_err(|m| ("base_url", m))?;
        // Never echo the key: it holds a password.
        if !self.api_key.is_empty() && !self.api_key.expose().contains(':') {
            return Err((
                "api_key",
                "is not of the form \"user:password\" (the server's --api-auth credentials)".into(),
            ));
        }
        if let Some(size) = self.image_size.filter(|s| !(256..=2048).contains(s) || s % 8 != 0) {
            return Err((
                "image_size",
                format!("{size} is not usable: use a multiple of 8 from 256 to 2048"),
            ));
        }
        if let Some(steps) = self.steps.filter(|s| !(1..=150).contains(s)) {
            return Err(("steps", format!("{steps} is out of range: use 1 to 150")));
        }
        if let Some(cfg) = self.cfg_scale.filter(|c| !(c.is_finite() && *c > 0.0 && *c <= 30.0)) {
            return Err(("cfg_scale", format!("{cfg} is out of range: use a number above 0, up to 30")));
        }
        if let Some(f) = self.upscale_factor.filter(|f| !(f.is_finite() && *f > 1.0 && *f <= 4.0)) {
            return Err(("upscale_factor", format!("{f} is out of range: use a number above 1, up to 4")));
        }
        let names = [
            ("sampler", &self.sampler),
            ("upscaler", &self.upscaler),
            ("interrogate_model", &self.interrogate_model),
        ];
        for (key, value) in names {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err((key, "is empty: name one the server lists, or remove the key".into()));
            }
        }
        Ok(())
    }

    /// What can be checked without reading the templates; `ComfyUiBackend::from_config`
    /// reads and checks those.
    fn validate_comfyui(&self) -> Result<(), (&'static str, String)> {
        check_url(&self.base_url).map_err(|m| ("base_url", m))?;
        if let Some(size) = self.image_size.filter(|s| !(256..=2048).contains(s) || s % 8 != 0) {
            return Err((
                "image_size",
                format!("{size} is not usable: use a multiple of 8 from 256 to 2048"),
            ));
        }
        if let Some(ms) = self.poll_ms.filter(|ms| !(10..=60_000).contains(ms)) {
            return Err(("poll_ms", format!("{ms} is out of range: use 10 to 60000")));
        }
        if self.workflows.as_ref().and_then(|w| w.imagine.as_deref()).is_some_and(|p| p.trim().is_empty()) {
            return Err((
                "workflows",
                "`imagine` is empty: every backend makes images; name a template file, or remove the key \
                 to use the built-in one"
                    .into(),
            ));
        }
        if self.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err((
                "model",
                "is empty: name a checkpoint file the server has, or remove the key".into(),
            ));
        }
        Ok(())
    }

    pub fn summary(&self) -> String {
        let mut s = format!("`{}` ({}), {} at once", self.name, self.kind.as_str(), self.concurrency());
        if !self.base_url.is_empty() {
            s += &format!(", {}", crate::base::redact_url(&self.base_url));
        }
        if let Some(model) = &self.model {
            s += &format!(", model {model}");
        }
        if !self.aliases.is_empty() {
            s += &format!(", aliases {}", self.aliases.join(", "));
        }
        if self.kind != BackendKind::Demo {
            s += if self.api_key.is_empty() { ", api_key not set" } else { ", api_key set (redacted)" };
        }
        s
    }
}

/// How names and aliases are compared: lowercase, without spaces or leading dashes, so
/// `--niji 6`, `niji 6` and `Niji6` are one model.
pub fn normalize_model(s: &str) -> String {
    s.trim().trim_start_matches('-').chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase()
}

/// `"1024x1536"` → `(1024, 1536)`.
pub fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim().split_once(['x', 'X'])?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

pub(super) fn check_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("is empty: give the service's address, e.g. \"https://api.openai.com/v1\"".into());
    }
    let shown = crate::base::redact_url(url);
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(format!("`{shown}` uses `{}`: use an http:// or https:// address", u.scheme())),
        Err(e) => Err(format!("`{shown}` is not a valid URL ({e})")),
    }
}
