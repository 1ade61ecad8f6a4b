//! The model endpoints the Openjourney REST reference documents, and which request fields
//! each one takes. One entry per `POST /v1/<path>`; `model` in the config names the path.
//! The config check ([`Options`]) and the adapter both read this table, so a field is only sent to a model
//! documented to take it, and a prompt parameter only counts as honoured where it is sent.
//!
//! `canvas` is a named shape, not a ratio. The reference names them ("Square, Portrait,
//! Landscape and Wide Landscape") without sizes, so `--ar` picks the nearest of the shapes
//! below, compared on a log scale; the ratios are Easel's reading, used for nothing else.

use serde::Deserialize;

use crate::backends::kind::{check_base_url, check_not_blank, check_poll_ms};
use crate::config::{BackendConfig, BadSetting};

/// A canvas name as the API spells it, and the width / height Easel takes it to mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canvas {
    pub name: &'static str,
    pub ratio: f64,
}

pub const SQUARE: Canvas = Canvas { name: "Square", ratio: 1.0 };
pub const PORTRAIT: Canvas = Canvas { name: "Portrait", ratio: 2.0 / 3.0 };
pub const LANDSCAPE: Canvas = Canvas { name: "Landscape", ratio: 3.0 / 2.0 };
pub const WIDE_LANDSCAPE: Canvas = Canvas { name: "Wide Landscape", ratio: 16.0 / 9.0 };

const THREE: &[Canvas] = &[SQUARE, PORTRAIT, LANDSCAPE];
const FOUR: &[Canvas] = &[SQUARE, PORTRAIT, LANDSCAPE, WIDE_LANDSCAPE];

/// One documented model endpoint and the optional fields it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model {
    /// The path after `/v1/`, e.g. `flux/1.1/pro`.
    pub path: &'static str,
    /// The canvases it accepts; empty when the endpoint has no `canvas` field.
    pub canvases: &'static [Canvas],
    pub seed: bool,
    pub negative_prompt: bool,
    pub guidance: bool,
    /// FLUX 1.1 Pro Ultra's `raw` ("less processed and natural-looking").
    pub raw: bool,
}

const fn model(path: &'static str, canvases: &'static [Canvas], seed: bool) -> Model {
    Model { path, canvases, seed, negative_prompt: false, guidance: false, raw: false }
}

/// Every text-to-image endpoint of the reference, in its order.
pub const MODELS: &[Model] = &[
    Model { raw: true, ..model("flux/1.1/pro-ultra", FOUR, true) },
    model("flux/1.1/pro", FOUR, true),
    model("flux/pro", THREE, true),
    model("flux/fill-pro", THREE, true),
    model("flux/depth-pro", THREE, true),
    model("flux/canny-pro", THREE, true),
    model("flux/dev", THREE, true),
    model("flux/dev-lora", THREE, true),
    model("flux/fill-dev", THREE, true),
    model("flux/depth-dev", THREE, true),
    model("flux/canny-dev", THREE, true),
    model("flux/redux-dev", THREE, true),
    // Documented with `prompt` alone: no canvas, no seed.
    model("flux/schnell", &[], false),
    model("flux/redux-schnell", THREE, true),
    model("flux/schnell-lora", THREE, true),
    model("flux/cinema", THREE, true),
    model("flux/ghibsky", THREE, true),
    model("flux/hyper", THREE, true),
    model("flux/formfinder", THREE, true),
    model("flux/black-light", THREE, true),
    // The reference's example URL for this one says /v1/sdxl/generative (a copy slip); the
    // heading, which Easel follows, says /v1/re-craft/generative.
    model("re-craft/generative", THREE, false),
    Model { negative_prompt: true, guidance: true, ..model("sdxl/generative", THREE, true) },
    Model { negative_prompt: true, ..model("sdxl/pony", THREE, true) },
    model("sdxl/emoji", &[], false),
    model("sd/3.5/large-turbo", THREE, true),
    model("sd/3.5/large", THREE, true),
    model("sd/3.5/medium", THREE, true),
    model("sd/3/generative", THREE, true),
    Model { negative_prompt: true, guidance: true, ..model("sd/1/generative", THREE, true) },
];

/// Documented endpoints Easel does not drive, with the reason given to the admin.
const REFUSED: &[(&str, &str)] =
    &[("re-craft/svg", "makes SVG vector images, which Easel cannot show or put in a grid")];

impl Model {
    /// The model `path` names: `flux/1.1/pro`, also written `/v1/flux/1.1/pro`. The error
    /// says why and lists the paths that would do.
    pub fn find(path: &str) -> Result<&'static Model, String> {
        let wanted = path.trim().trim_matches('/');
        let wanted = wanted.strip_prefix("v1/").unwrap_or(wanted);
        if let Some(model) = MODELS.iter().find(|m| m.path.eq_ignore_ascii_case(wanted)) {
            return Ok(model);
        }
        if let Some((_, why)) = REFUSED.iter().find(|(p, _)| p.eq_ignore_ascii_case(wanted)) {
            return Err(format!("`{wanted}` {why}: use one of {}", Self::valid_list()));
        }
        Err(format!(
            "`{}` is not a documented Openjourney model: use one of {}",
            path.trim(),
            Self::valid_list()
        ))
    }

    /// The usable paths, for messages.
    pub fn valid_list() -> String {
        MODELS.iter().map(|m| m.path).collect::<Vec<_>>().join(", ")
    }

    /// The canvas nearest to `ratio` (width / height); `None` when the model takes none.
    pub fn canvas_for(&self, ratio: f64) -> Option<&'static str> {
        let distance = |c: &Canvas| (c.ratio.ln() - ratio.max(1e-3).ln()).abs();
        self.canvases.iter().min_by(|a, b| distance(a).total_cmp(&distance(b))).map(|c| c.name)
    }

    /// The widest shape it makes, as long side / short side.
    pub fn max_aspect(&self) -> f64 {
        self.canvases.iter().map(|c| c.ratio.max(1.0 / c.ratio)).fold(1.0, f64::max)
    }
}

/// The kind's own keys in a `[[backends]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Options {
    /// Base interval of `/job/{id}` polls in milliseconds.
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// Sent as `guidance` to the models that take it.
    #[serde(default)]
    pub cfg_scale: Option<f64>,
    /// The `model` of `/utils/upscale` ("Real-ESRGAN", …).
    #[serde(default)]
    pub upscaler: Option<String>,
}

impl Options {
    /// Reads the entry's own keys and checks them with `base_url` (it ends in `/v1`) and
    /// `model` (a documented endpoint, taking `guidance` if `cfg_scale` is set).
    pub fn read(cfg: &BackendConfig) -> Result<(Options, &'static Model), BadSetting> {
        let options: Options = cfg.parse_settings()?;
        check_base_url(cfg)?;
        check_poll_ms(options.poll_ms)?;
        // A base without `/v1`, or with a model path after it, would 404 on every request.
        let path =
            reqwest::Url::parse(cfg.base_url.trim()).map(|u| u.path().trim_end_matches('/').to_string());
        if !path.is_ok_and(|p| p.ends_with("/v1")) {
            return Err(BadSetting::new(
                "base_url",
                format!(
                    "`{}` does not end in /v1: give everything before the API's own paths, e.g. \
                     \"https://api.opj.app/v1\"",
                    cfg.base_url
                ),
            ));
        }
        let Some(path) = cfg.model.as_deref() else {
            return Err(BadSetting::new(
                "model",
                format!("is not set: name the endpoint after /v1/, one of {}", Model::valid_list()),
            ));
        };
        let model = Model::find(path).map_err(|m| BadSetting::new("model", m))?;
        if let Some(scale) = options.cfg_scale {
            if !model.guidance {
                let takers: Vec<&str> = MODELS.iter().filter(|m| m.guidance).map(|m| m.path).collect();
                return Err(BadSetting::new(
                    "cfg_scale",
                    format!(
                        "model `{}` takes no guidance (only {} do): remove cfg_scale",
                        model.path,
                        takers.join(" and ")
                    ),
                ));
            }
            if !(scale.is_finite() && scale > 0.0 && scale <= 30.0) {
                return Err(BadSetting::new(
                    "cfg_scale",
                    format!("{scale} is out of range: use a number above 0, up to 30"),
                ));
            }
        }
        check_not_blank("upscaler", options.upscaler.as_deref(), "name one such as \"Real-ESRGAN\"")?;
        Ok((options, model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_found_in_their_written_forms() {
        assert_eq!(Model::find("flux/1.1/pro").unwrap().path, "flux/1.1/pro");
        assert_eq!(Model::find(" /v1/sd/1/generative/ ").unwrap().path, "sd/1/generative");
        let e = Model::find("flux/2/pro").unwrap_err();
        assert!(e.contains("`flux/2/pro` is not a documented") && e.contains("flux/1.1/pro-ultra"), "{e}");
        let e = Model::find("re-craft/svg").unwrap_err();
        assert!(e.contains("SVG") && e.contains("sdxl/generative"), "{e}");
    }

    #[test]
    fn the_nearest_canvas_is_picked_among_those_the_model_takes() {
        let pro = Model::find("flux/1.1/pro").unwrap();
        assert_eq!(pro.canvas_for(1.0), Some("Square"));
        assert_eq!(pro.canvas_for(16.0 / 9.0), Some("Wide Landscape"));
        assert_eq!(pro.canvas_for(4.0), Some("Wide Landscape"));
        assert_eq!(pro.canvas_for(3.0 / 2.0), Some("Landscape"));
        assert_eq!(pro.canvas_for(5.0 / 4.0), Some("Landscape"));
        assert_eq!(pro.canvas_for(9.0 / 16.0), Some("Portrait"));
        assert_eq!(pro.canvas_for(1.1), Some("Square"));
        let dev = Model::find("flux/dev").unwrap();
        assert_eq!(dev.canvas_for(21.0 / 9.0), Some("Landscape"));
        assert_eq!(Model::find("flux/schnell").unwrap().canvas_for(2.0), None);
        assert!((pro.max_aspect() - 16.0 / 9.0).abs() < 1e-9);
        assert!((dev.max_aspect() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn fields_follow_the_reference() {
        let takes = |p: &str| {
            let m = Model::find(p).unwrap();
            (m.seed, m.negative_prompt, m.guidance, m.raw)
        };
        assert_eq!(takes("sdxl/generative"), (true, true, true, false));
        assert_eq!(takes("sd/1/generative"), (true, true, true, false));
        assert_eq!(takes("sdxl/pony"), (true, true, false, false));
        assert_eq!(takes("flux/1.1/pro-ultra"), (true, false, false, true));
        assert_eq!(takes("re-craft/generative"), (false, false, false, false));
        assert_eq!(takes("sdxl/emoji"), (false, false, false, false));
        assert_eq!(MODELS.len(), 29);
    }
}
