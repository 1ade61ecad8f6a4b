//! The adapter's settings: one `[[backends]]` entry of kind `openai` with every default filled
//! in from the model's name, the capabilities that follow from them, and the mapping from
//! `--ar` to one of the sizes the model accepts.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::backends::kind::{self, check_base_url};
use crate::backends::{Capabilities, references};
use crate::config::{BackendConfig, BadSetting, Secret, parse_size};
use crate::prompt::{Aspect, Param};

pub(super) const DEFAULT_MODEL: &str = "gpt-image-1";
const DEFAULT_MAX_N: u8 = 4;
/// OpenAI's limit on the images of one `/images/edits` call for gpt-image models.
const MAX_REFERENCE_IMAGES: u32 = 16;
/// What `max_aspect` is when nothing bounds it.
const FREE_FORM_MAX_ASPECT: f64 = 4.0;

/// The kind's own keys in a `[[backends]]` entry; unset ones follow from the model's family.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Options {
    /// Images per request; 1 makes four parallel single-image calls (dall-e-3, some relays).
    #[serde(default)]
    max_n: Option<u8>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
    /// Sizes the model accepts (`WxH`); `--ar` picks the nearest.
    #[serde(default)]
    sizes: Option<Vec<String>>,
    /// Send `seed` and `negative_prompt` as extra fields (FLUX providers accept them).
    #[serde(default)]
    send_seed: Option<bool>,
    #[serde(default)]
    send_negative_prompt: Option<bool>,
    #[serde(default)]
    variation: Option<Variation>,
    /// Blend through `/images/edits` with several images (gpt-image models).
    #[serde(default)]
    blend: Option<bool>,
    /// An /imagine with reference images (`--sref`, `--cref`, `--oref`, image prompts, the
    /// `image:`/`style:` attachments) goes to `/images/edits` with them as `image[]`
    /// (gpt-image models take up to 16).
    #[serde(default)]
    reference_images: Option<bool>,
    /// A vision chat model for /describe through `/chat/completions`.
    #[serde(default)]
    describe_model: Option<String>,
}

impl Options {
    /// Reads the entry's own keys and checks them with `base_url`.
    pub fn read(cfg: &BackendConfig) -> Result<Options, BadSetting> {
        let options: Options = cfg.parse_settings()?;
        check_base_url(cfg)?;
        if let Some(n) = options.max_n.filter(|n| !(1..=10).contains(n)) {
            return Err(BadSetting::new("max_n", format!("{n} is out of range: use 1 to 10")));
        }
        for size in options.sizes.iter().flatten() {
            if parse_size(size).is_none() {
                return Err(BadSetting::new(
                    "sizes",
                    format!("`{size}` is not a size: write it as WIDTHxHEIGHT, e.g. \"1024x1024\""),
                ));
            }
        }
        if options.sizes.as_ref().is_some_and(Vec::is_empty) {
            return Err(BadSetting::new("sizes", "the list is empty: name at least one size"));
        }
        Ok(options)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ResponseFormat {
    /// Ask for base64 in the response body.
    B64Json,
    /// Ask for URLs and download them.
    Url,
    /// Send no `response_format` (GPT image models reject the field and always answer b64).
    Omit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Variation {
    /// `/images/edits` with the chosen image and the prompt (gpt-image models).
    Edits,
    /// `/images/variations` (dall-e-2 and providers that only have that).
    Variations,
    /// No variations: V buttons are not offered.
    None,
}

/// The model families whose defaults differ. Anything else is treated as a generic
/// OpenAI-compatible provider (FLUX relays and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    GptImage,
    DallE3,
    DallE2,
    Other,
}

impl Family {
    fn of(model: &str) -> Family {
        // Routers spell models `openai/gpt-image-1`; the family is in the last segment.
        let bare = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
        if bare.starts_with("gpt-image") {
            Family::GptImage
        } else if bare.starts_with("dall-e-3") {
            Family::DallE3
        } else if bare.starts_with("dall-e-2") {
            Family::DallE2
        } else {
            Family::Other
        }
    }

    fn default_sizes(self) -> Vec<Size> {
        let s = |w, h| Size { w, h };
        match self {
            Family::GptImage => vec![s(1024, 1024), s(1536, 1024), s(1024, 1536)],
            Family::DallE3 => vec![s(1024, 1024), s(1792, 1024), s(1024, 1792)],
            Family::DallE2 | Family::Other => vec![s(1024, 1024)],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Size {
    pub w: u32,
    pub h: u32,
}

impl Size {
    fn ratio(self) -> f64 {
        self.w as f64 / self.h as f64
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.w, self.h)
    }
}

#[derive(Debug)]
pub(super) struct Settings {
    pub name: String,
    pub base_url: Url,
    pub api_key: Secret,
    pub model: String,
    pub timeout: Duration,
    pub max_n: u8,
    pub response_format: ResponseFormat,
    pub sizes: Vec<Size>,
    pub send_seed: bool,
    pub send_negative_prompt: bool,
    pub variation: Variation,
    pub blend: bool,
    pub reference_images: bool,
    pub describe_model: Option<String>,
}

impl Settings {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Settings> {
        let options = Options::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let name = cfg.name.clone();
        let base_url = kind::base_url(cfg)?;
        let model = cfg
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or(DEFAULT_MODEL)
            .to_string();
        let family = Family::of(&model);
        let sizes = match &options.sizes {
            None => family.default_sizes(),
            // Checked by `Options::read`.
            Some(list) => list.iter().filter_map(|s| parse_size(s)).map(|(w, h)| Size { w, h }).collect(),
        };
        // dall-e-3 refuses n > 1, so a bare dall-e-3 entry must not default to batches of four.
        let default_max_n = if family == Family::DallE3 { 1 } else { DEFAULT_MAX_N };
        Ok(Settings {
            name,
            base_url,
            api_key: cfg.api_key.clone(),
            timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
            max_n: options.max_n.unwrap_or(default_max_n).clamp(1, 10),
            // GPT image models reject `response_format` and always answer in base64.
            response_format: options.response_format.unwrap_or(if family == Family::GptImage {
                ResponseFormat::Omit
            } else {
                ResponseFormat::B64Json
            }),
            sizes,
            send_seed: options.send_seed.unwrap_or(false),
            send_negative_prompt: options.send_negative_prompt.unwrap_or(false),
            variation: options.variation.unwrap_or(match family {
                Family::GptImage => Variation::Edits,
                Family::DallE2 => Variation::Variations,
                Family::DallE3 | Family::Other => Variation::None,
            }),
            blend: options.blend.unwrap_or(family == Family::GptImage),
            // gpt-image models take several input images in `/images/edits`; dall-e-2 edits
            // only the one image it is given, dall-e-3 has no edits, and other models are
            // unknown: off unless the admin says so.
            reference_images: options.reference_images.unwrap_or(family == Family::GptImage),
            describe_model: options
                .describe_model
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(String::from),
            model,
        })
    }

    /// The `response_format` value to send, if any.
    pub fn response_format_field(&self) -> Option<&'static str> {
        match self.response_format {
            ResponseFormat::B64Json => Some("b64_json"),
            ResponseFormat::Url => Some("url"),
            ResponseFormat::Omit => None,
        }
    }

    /// The accepted size closest to `ratio` (width / height), compared in log space so that
    /// 2:1 and 1:2 are equally far from 1:1. Ties go to the size listed first.
    pub fn nearest_size(&self, ratio: f64) -> Size {
        let target = if ratio.is_finite() && ratio > 0.0 { ratio.ln() } else { 0.0 };
        self.sizes
            .iter()
            .copied()
            .min_by(|a, b| (a.ratio().ln() - target).abs().total_cmp(&(b.ratio().ln() - target).abs()))
            .unwrap_or(Size { w: 1024, h: 1024 })
    }

    pub fn size_for_aspect(&self, aspect: Aspect) -> Size {
        self.nearest_size(aspect.ratio())
    }

    pub fn capabilities(&self) -> Capabilities {
        let max_aspect = self
            .sizes
            .iter()
            .map(|s| s.w.max(s.h) as f64 / s.w.min(s.h) as f64)
            .reduce(f64::max)
            .unwrap_or(FREE_FORM_MAX_ASPECT);
        let mut params = vec![Param::Aspect];
        if self.send_seed {
            params.push(Param::Seed);
        }
        if self.send_negative_prompt {
            params.push(Param::No);
        }
        if self.reference_images {
            params.extend(references::PARAMS);
        }
        Capabilities {
            imagine: true,
            upscale: false,
            variation: self.variation != Variation::None,
            blend: self.blend,
            describe: self.describe_model.is_some(),
            previews: false,
            native_grid: false,
            resumable: false,
            rerun_is_free: false,
            parent_bound: false,
            max_aspect,
            // `/images/edits` with a mask serves every edit after U where edits are known to work.
            outpaint: self.variation == Variation::Edits,
            inpaint: self.variation == Variation::Edits,
            max_side: self.sizes.iter().map(|s| s.w.max(s.h)).max().unwrap_or(0),
            max_reference_images: if self.reference_images { MAX_REFERENCE_IMAGES } else { 0 },
            params,
            ..Capabilities::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(model: Option<&str>) -> BackendConfig {
        let mut c = BackendConfig::new("t", "openai");
        c.base_url = "https://api.example.com/v1".into();
        c.model = model.map(String::from);
        c
    }

    #[test]
    fn defaults_follow_the_model_family() {
        let gpt = Settings::from_config(&cfg(None)).unwrap();
        assert_eq!(gpt.model, "gpt-image-1");
        assert_eq!(gpt.response_format, ResponseFormat::Omit);
        assert_eq!(gpt.variation, Variation::Edits);
        assert!(gpt.blend);
        assert_eq!(gpt.max_n, 4);
        assert_eq!(gpt.sizes.len(), 3);

        let d3 = Settings::from_config(&cfg(Some("dall-e-3"))).unwrap();
        assert_eq!(d3.max_n, 1);
        assert_eq!(d3.response_format, ResponseFormat::B64Json);
        assert_eq!(d3.variation, Variation::None);
        assert_eq!(d3.nearest_size(16.0 / 9.0).to_string(), "1792x1024");

        let d2 = Settings::from_config(&cfg(Some("dall-e-2"))).unwrap();
        assert_eq!(d2.variation, Variation::Variations);
        assert!(!d2.blend);

        let routed = Settings::from_config(&cfg(Some("openai/gpt-image-1.5"))).unwrap();
        assert_eq!(routed.variation, Variation::Edits);

        let flux = Settings::from_config(&cfg(Some("flux-dev"))).unwrap();
        assert_eq!(flux.sizes, vec![Size { w: 1024, h: 1024 }]);
        assert_eq!(flux.capabilities().max_aspect, 1.0);
    }

    #[test]
    fn nearest_size_is_measured_in_log_space() {
        let s = Settings::from_config(&cfg(None)).unwrap();
        assert_eq!(s.nearest_size(1.0).to_string(), "1024x1024");
        assert_eq!(s.nearest_size(16.0 / 9.0).to_string(), "1536x1024");
        assert_eq!(s.nearest_size(9.0 / 16.0).to_string(), "1024x1536");
        // 1.22 is nearer 1.5 than 1.0 linearly, but nearer 1.0 by ratio.
        assert_eq!(s.nearest_size(1.22).to_string(), "1024x1024");
        assert_eq!(s.nearest_size(1.23).to_string(), "1536x1024");
        assert_eq!(s.nearest_size(f64::NAN).to_string(), "1024x1024");
        assert_eq!(s.capabilities().max_aspect, 1.5);
    }

    #[test]
    fn bad_base_urls_and_sizes_are_refused() {
        let mut c = cfg(None);
        c.base_url = "ftp://x".into();
        assert!(Settings::from_config(&c).is_err());
        let mut c = cfg(None);
        c.set("sizes", ["big"]);
        let err = Settings::from_config(&c).unwrap_err().to_string();
        assert!(err.contains("`big`"), "{err}");
    }
}
