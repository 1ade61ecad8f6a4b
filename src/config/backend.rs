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
}

impl BackendKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendKind::Demo => "demo",
            BackendKind::Openai => "openai",
        }
    }
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
    /// Jobs this backend runs at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
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

    // --- demo ---
    /// Long side of each generated image, in pixels.
    #[serde(default)]
    pub image_size: Option<u32>,
    /// Pause between progress steps, so progress can be watched.
    #[serde(default)]
    pub step_ms: Option<u64>,
}

fn default_concurrency() -> usize {
    2
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
            concurrency: default_concurrency(),
            timeout_secs: default_timeout(),
            max_n: None,
            response_format: None,
            sizes: None,
            send_seed: None,
            send_negative_prompt: None,
            variation: None,
            blend: None,
            describe_model: None,
            image_size: None,
            step_ms: None,
        }
    }

    /// The kind-specific keys that are set, with the kind that reads each.
    fn kind_specific_keys(&self) -> Vec<(&'static str, BackendKind)> {
        use BackendKind::*;
        let mut keys = Vec::new();
        let mut note = |set: bool, key: &'static str, kind| {
            if set {
                keys.push((key, kind));
            }
        };
        note(self.max_n.is_some(), "max_n", Openai);
        note(self.response_format.is_some(), "response_format", Openai);
        note(self.sizes.is_some(), "sizes", Openai);
        note(self.send_seed.is_some(), "send_seed", Openai);
        note(self.send_negative_prompt.is_some(), "send_negative_prompt", Openai);
        note(self.variation.is_some(), "variation", Openai);
        note(self.blend.is_some(), "blend", Openai);
        note(self.describe_model.is_some(), "describe_model", Openai);
        note(self.image_size.is_some(), "image_size", Demo);
        note(self.step_ms.is_some(), "step_ms", Demo);
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
        if let Some((key, kind)) = self.kind_specific_keys().into_iter().find(|(_, k)| *k != self.kind) {
            return Err((
                key,
                format!(
                    "`{key}` is a setting of kind `{}`, not of kind `{}`: remove it",
                    kind.as_str(),
                    self.kind.as_str()
                ),
            ));
        }
        if self.concurrency == 0 {
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
        }
        Ok(())
    }

    pub fn summary(&self) -> String {
        let mut s = format!("`{}` ({}), {} at once", self.name, self.kind.as_str(), self.concurrency);
        if !self.base_url.is_empty() {
            s += &format!(", {}", self.base_url);
        }
        if let Some(model) = &self.model {
            s += &format!(", model {model}");
        }
        if self.kind != BackendKind::Demo {
            s += if self.api_key.is_empty() { ", api_key not set" } else { ", api_key set (redacted)" };
        }
        s
    }
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
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(format!("`{url}` uses `{}`: use an http:// or https:// address", u.scheme())),
        Err(e) => Err(format!("`{url}` is not a valid URL ({e})")),
    }
}
