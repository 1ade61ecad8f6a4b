//! The kind's own keys in a `[[backends]]` entry of kind `comfyui`, and what can be checked
//! of them without reading the templates (building the backend reads and checks those).

use serde::Deserialize;

use crate::backends::kind::{check_base_url, check_poll_ms, check_sd_image_size};
use crate::config::{BackendConfig, BadSetting};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Options {
    /// Long side of each generated image, in pixels.
    #[serde(default)]
    pub image_size: Option<u32>,
    /// How often `/history` is polled when the WebSocket is not available.
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// Workflow templates per operation.
    #[serde(default)]
    pub workflows: Option<Workflows>,
}

/// `workflows = { imagine = "…", variation = "…", upscale = "…", edit = "…",
/// upscale_creative = "…" }`: paths to workflow templates in ComfyUI's API format. Unset: the
/// built-in template (all but upscale) or none (upscale: U serves the full-size image and
/// Upscale (Subtle) is a Lanczos 2×); `""` turns an operation off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Workflows {
    #[serde(default)]
    pub imagine: Option<String>,
    #[serde(default)]
    pub variation: Option<String>,
    #[serde(default)]
    pub upscale: Option<String>,
    /// Zoom Out, Custom Zoom, Make Square, Pan and Vary (Region).
    #[serde(default)]
    pub edit: Option<String>,
    #[serde(default)]
    pub upscale_creative: Option<String>,
    /// Imagine for prompts with a reference image (`{{reference_image}}`); none built in.
    #[serde(default)]
    pub imagine_reference: Option<String>,
}

impl Options {
    pub fn read(cfg: &BackendConfig) -> Result<Options, BadSetting> {
        let options: Options = cfg.parse_settings()?;
        check_base_url(cfg)?;
        check_sd_image_size(options.image_size)?;
        check_poll_ms(options.poll_ms)?;
        if options.workflows.as_ref().and_then(|w| w.imagine.as_deref()).is_some_and(|p| p.trim().is_empty())
        {
            return Err(BadSetting::new(
                "workflows",
                "`imagine` is empty: every backend makes images; name a template file, or remove the key \
                 to use the built-in one",
            ));
        }
        if cfg.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(BadSetting::new(
                "model",
                "is empty: name a checkpoint file the server has, or remove the key",
            ));
        }
        Ok(options)
    }
}
