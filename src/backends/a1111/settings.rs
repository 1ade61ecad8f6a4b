//! The adapter's settings: one `[[backends]]` entry of kind `a1111` with every default filled
//! in, the HTTP Basic credentials split out of `api_key`, and the capabilities that follow.

use std::fmt;
use std::time::Duration;

use anyhow::bail;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde::Deserialize;

use crate::backends::Capabilities;
use crate::backends::kind::{self, check_base_url, check_not_blank, check_sd_image_size};
use crate::base::Strength;
use crate::config::{BackendConfig, BadSetting, Secret};
use crate::prompt::Param;

/// Long side of a generated image: SDXL-class checkpoints (SDXL, Pony, Illustrious, FLUX) are
/// trained at about 1024²; SD 1.5 checkpoints want `image_size = 512` (or 768).
pub(super) const DEFAULT_IMAGE_SIZE: u32 = 1024;
/// Ships with A1111 and Forge, and is a good general-purpose upscaler.
pub(super) const DEFAULT_UPSCALER: &str = "R-ESRGAN 4x+";
pub(super) const DEFAULT_UPSCALE_FACTOR: f64 = 2.0;
/// BLIP caption plus CLIP-ranked style tags; built into both servers.
pub(super) const DEFAULT_INTERROGATE_MODEL: &str = "clip";
/// How often `/progress` is read while an image call is in flight.
pub(super) const POLL_EVERY: Duration = Duration::from_secs(1);
/// The widest aspect ratio offered: wider ones make a short side the models handle badly.
const MAX_ASPECT: f64 = 4.0;

/// The kind's own keys in a `[[backends]]` entry; unset ones take the server's or Easel's
/// defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Options {
    /// Long side of each generated image, in pixels.
    #[serde(default)]
    image_size: Option<u32>,
    /// Sampling steps; the server's default when unset.
    #[serde(default)]
    steps: Option<u32>,
    /// Classifier-free guidance scale; the server's default when unset.
    #[serde(default)]
    cfg_scale: Option<f64>,
    /// Sampler name as the server lists it (`GET /sdapi/v1/samplers`), e.g. "DPM++ 2M".
    #[serde(default)]
    sampler: Option<String>,
    /// Upscaler for U, as the server lists it (`GET /sdapi/v1/upscalers`).
    #[serde(default)]
    upscaler: Option<String>,
    /// How much U enlarges the image.
    #[serde(default)]
    upscale_factor: Option<f64>,
    /// How V makes variations.
    #[serde(default)]
    variation_mode: Option<VariationMode>,
    /// The `/sdapi/v1/interrogate` model for /describe: "clip" or "deepdanbooru".
    #[serde(default)]
    interrogate_model: Option<String>,
}

impl Options {
    /// Reads the entry's own keys and checks them with `base_url` and `api_key`.
    pub fn read(cfg: &BackendConfig) -> Result<Options, BadSetting> {
        let o: Options = cfg.parse_settings()?;
        check_base_url(cfg)?;
        // Never echo the key: it holds a password.
        if !cfg.api_key.is_empty() && !cfg.api_key.expose().contains(':') {
            return Err(BadSetting::new(
                "api_key",
                "is not of the form \"user:password\" (the server's --api-auth credentials)",
            ));
        }
        check_sd_image_size(o.image_size)?;
        if let Some(steps) = o.steps.filter(|s| !(1..=150).contains(s)) {
            return Err(BadSetting::new("steps", format!("{steps} is out of range: use 1 to 150")));
        }
        if let Some(cfg) = o.cfg_scale.filter(|c| !(c.is_finite() && *c > 0.0 && *c <= 30.0)) {
            return Err(BadSetting::new(
                "cfg_scale",
                format!("{cfg} is out of range: use a number above 0, up to 30"),
            ));
        }
        if let Some(f) = o.upscale_factor.filter(|f| !(f.is_finite() && *f > 1.0 && *f <= 4.0)) {
            return Err(BadSetting::new(
                "upscale_factor",
                format!("{f} is out of range: use a number above 1, up to 4"),
            ));
        }
        let fix = "name one the server lists";
        check_not_blank("sampler", o.sampler.as_deref(), fix)?;
        check_not_blank("upscaler", o.upscaler.as_deref(), fix)?;
        check_not_blank("interrogate_model", o.interrogate_model.as_deref(), fix)?;
        Ok(o)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum VariationMode {
    /// txt2img again with the image's own seed and a random subseed mixed in
    /// (`subseed_strength`): the same composition with small changes.
    Subseed,
    /// img2img of the chosen image (`denoising_strength`): works for any image.
    Img2img,
}

/// `--api-auth` credentials, from `api_key = "user:password"`.
#[derive(Clone)]
pub(super) struct Credentials {
    pub user: String,
    pub password: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}:***)", self.user)
    }
}

#[derive(Debug)]
pub(super) struct Settings {
    pub name: String,
    /// The server root, before `/sdapi/v1`, without credentials in it.
    pub base_url: Url,
    pub credentials: Option<Credentials>,
    pub model: Option<String>,
    pub timeout: Duration,
    pub image_size: u32,
    pub steps: Option<u32>,
    pub cfg_scale: Option<f64>,
    pub sampler: Option<String>,
    pub upscaler: String,
    pub upscale_factor: f64,
    pub variation: VariationMode,
    pub interrogate_model: String,
}

impl Settings {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Settings> {
        let o = Options::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let name = cfg.name.clone();
        let mut base_url = kind::base_url(cfg)?;
        // Credentials written into the URL would end up in every logged request line: take
        // them out, and use them when `api_key` does not give any.
        let from_url = (!base_url.username().is_empty()).then(|| {
            let user = decode_userinfo(base_url.username());
            let password = base_url.password().map(decode_userinfo).unwrap_or_default();
            format!("{user}:{password}")
        });
        let _ = base_url.set_username("");
        let _ = base_url.set_password(None);
        // `…/sdapi/v1` is a common slip: the adapter adds it itself.
        let path = base_url.path().trim_end_matches('/').to_string();
        if let Some(root) = path.strip_suffix("/sdapi/v1") {
            base_url.set_path(if root.is_empty() { "/" } else { root });
        }
        let key =
            if cfg.api_key.is_empty() { from_url.unwrap_or_default() } else { cfg.api_key.expose().into() };
        let credentials = match key.trim() {
            "" => None,
            key => {
                let Some((user, password)) = key.split_once(':') else {
                    bail!(
                        "backend `{name}`: api_key is not of the form \"user:password\" (the server's --api-auth)"
                    );
                };
                Some(Credentials { user: user.to_string(), password: Secret::new(password) })
            }
        };
        let text = |value: &Option<String>| {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from)
        };
        Ok(Settings {
            name,
            base_url,
            credentials,
            model: text(&cfg.model),
            timeout: Duration::from_secs(cfg.timeout_secs.max(1)),
            image_size: o.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
            steps: o.steps,
            cfg_scale: o.cfg_scale,
            sampler: text(&o.sampler),
            upscaler: text(&o.upscaler).unwrap_or_else(|| DEFAULT_UPSCALER.into()),
            upscale_factor: o.upscale_factor.unwrap_or(DEFAULT_UPSCALE_FACTOR),
            variation: o.variation_mode.unwrap_or(VariationMode::Subseed),
            interrogate_model: text(&o.interrogate_model).unwrap_or_else(|| DEFAULT_INTERROGATE_MODEL.into()),
        })
    }

    /// Every form in which the password could show up in a message: the whole `user:password`,
    /// the password alone (when long enough not to match ordinary words) and the Basic token.
    pub fn secrets(&self) -> Vec<String> {
        let Some(c) = &self.credentials else { return Vec::new() };
        let pair = format!("{}:{}", c.user, c.password.expose());
        let mut secrets = vec![STANDARD.encode(&pair), pair];
        if c.password.expose().chars().count() >= 4 {
            secrets.push(c.password.expose().to_string());
        }
        secrets
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            imagine: true,
            upscale: true,
            variation: true,
            blend: false,
            describe: true,
            previews: true,
            native_grid: false,
            resumable: false,
            // The server is the admin's own GPU: running an interrupted job again costs
            // nothing but time, and leaves nothing behind at a provider.
            rerun_is_free: true,
            parent_bound: false,
            max_aspect: MAX_ASPECT,
            // img2img inpainting serves every edit after U; extras and img2img the 2× upscales.
            outpaint: true,
            inpaint: true,
            upscale_subtle: true,
            upscale_creative: true,
            // A Zoom Out 2x of an image at `image_size` fits; larger canvases shrink the source.
            max_side: self.image_size * 2,
            max_reference_images: 0,
            params: vec![Param::Aspect, Param::Seed, Param::No, Param::Tile],
        }
    }
}

/// How far a subseed variation moves from the image: the weight of the new noise.
pub(super) fn subseed_strength(strength: Strength) -> f64 {
    match strength {
        Strength::Subtle => 0.15,
        Strength::Strong => 0.35,
    }
}

/// How far an img2img variation moves from the image: how much of it is re-drawn.
pub(super) fn denoising_strength(strength: Strength) -> f64 {
    match strength {
        Strength::Subtle => 0.35,
        Strength::Strong => 0.6,
    }
}

/// Userinfo in a URL is percent-encoded (`p%40ss` for `p@ss`).
fn decode_userinfo(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(base_url: &str, api_key: &str) -> BackendConfig {
        let mut c = BackendConfig::new("sd", "a1111");
        c.base_url = base_url.into();
        c.api_key = Secret::new(api_key);
        c
    }

    #[test]
    fn defaults_are_filled_in() {
        let s = Settings::from_config(&cfg("http://127.0.0.1:7860", "")).unwrap();
        assert_eq!(s.image_size, 1024);
        assert_eq!(s.upscaler, "R-ESRGAN 4x+");
        assert_eq!(s.upscale_factor, 2.0);
        assert_eq!(s.variation, VariationMode::Subseed);
        assert_eq!(s.interrogate_model, "clip");
        assert!(s.credentials.is_none() && s.secrets().is_empty());
        assert!(s.capabilities().rerun_is_free);
    }

    #[test]
    fn credentials_come_from_the_key_or_the_url_and_leave_the_url() {
        let s = Settings::from_config(&cfg("http://gpu:7860/sdapi/v1/", "me:s3cret:x")).unwrap();
        let c = s.credentials.clone().unwrap();
        assert_eq!((c.user.as_str(), c.password.expose()), ("me", "s3cret:x"));
        assert_eq!(s.base_url.as_str(), "http://gpu:7860/");
        assert!(!format!("{s:?}").contains("s3cret"));

        let s = Settings::from_config(&cfg("https://me:p%40ss-word@gpu.example/sd", "")).unwrap();
        assert_eq!(s.credentials.unwrap().password.expose(), "p@ss-word");
        assert_eq!(s.base_url.as_str(), "https://gpu.example/sd");

        let err = Settings::from_config(&cfg("http://gpu:7860", "no-colon-here")).unwrap_err().to_string();
        assert!(!err.contains("no-colon-here"), "{err}");
        assert!(Settings::from_config(&cfg("ftp://gpu", "")).is_err());
    }

    #[test]
    fn secrets_cover_the_pair_the_password_and_the_basic_token() {
        let s = Settings::from_config(&cfg("http://gpu", "me:hunter22")).unwrap();
        let secrets = s.secrets();
        assert!(secrets.contains(&"me:hunter22".to_string()));
        assert!(secrets.contains(&"hunter22".to_string()));
        assert!(secrets.contains(&STANDARD.encode("me:hunter22")));
        // A very short password is not scrubbed on its own: it would mangle ordinary words.
        let s = Settings::from_config(&cfg("http://gpu", "me:ab")).unwrap();
        assert!(!s.secrets().contains(&"ab".to_string()));
    }
}
