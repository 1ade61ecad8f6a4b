//! The `ohmygpt` kind's own config keys — the pool (`mode`), the body encoding
//! (`body_format`), the poll interval and the webhook base — and their checks, beside the
//! common keys. `base_url` is the server root: Easel adds the API path itself.

use serde::Deserialize;

use crate::backends::kind::{check_base_url, check_notify_hook, check_poll_ms};
use crate::config::{BackendConfig, BadSetting};
use crate::prompt::Speed;

/// The pool a job runs in at ohmygpt (`type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Fast,
    /// Midjourney's relax pool, which ohmygpt calls NORMAL: slower and cheaper.
    Normal,
}

impl Mode {
    /// The pool for a job whose prompt asked for `speed`; this one when it asked for none.
    /// ohmygpt has no turbo pool, so `--turbo` runs in the fast one.
    pub fn for_speed(self, speed: Option<Speed>) -> Mode {
        match speed {
            Some(Speed::Relax) => Mode::Normal,
            Some(Speed::Fast | Speed::Turbo) => Mode::Fast,
            None => self,
        }
    }
}

/// How create calls encode their fields: the endpoint pages document form bodies, the
/// service also reads JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    Json,
    Form,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The pool when the prompt names none (`--fast`, `--relax`).
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub body_format: Option<BodyFormat>,
    /// Base interval of `/query` polls in milliseconds; with webhooks, polling is the fallback.
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// The public base URL of Easel's HTTP server, which ohmygpt then POSTs updates to.
    #[serde(default)]
    pub notify_hook: Option<String>,
}

impl Settings {
    pub fn read(cfg: &BackendConfig) -> Result<Settings, BadSetting> {
        let settings: Settings = cfg.parse_settings()?;
        check_base_url(cfg)?;
        check_root(&cfg.base_url)?;
        check_poll_ms(settings.poll_ms)?;
        check_notify_hook(settings.notify_hook.as_deref())?;
        Ok(settings)
    }
}

/// `base_url` is the server root, not the API path Easel adds.
fn check_root(base_url: &str) -> Result<(), BadSetting> {
    let Ok(url) = reqwest::Url::parse(base_url.trim()) else { return Ok(()) };
    if url.path().contains("/api/v1") {
        return Err(BadSetting::new(
            "base_url",
            format!(
                "`{base_url}` should be the server root, such as https://api.ohmygpt.com: remove `{}` \
                 (Easel adds /api/v1/ai/draw/mj/… itself)",
                url.path()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(base: &str) -> BackendConfig {
        let mut cfg = BackendConfig::new("omg", "ohmygpt");
        cfg.base_url = base.into();
        cfg
    }

    #[test]
    fn keys_are_read_and_checked() {
        let s = Settings::read(
            &cfg("https://api.ohmygpt.com").with("mode", "normal").with("body_format", "form"),
        )
        .unwrap();
        assert_eq!((s.mode, s.body_format), (Some(Mode::Normal), Some(BodyFormat::Form)));
        let bad = Settings::read(&cfg("https://api.ohmygpt.com").with("mode", "turbo")).unwrap_err();
        assert_eq!(bad.key, "mode");
        assert!(bad.message.contains("fast, normal"), "{bad}");
        let bad = Settings::read(&cfg("https://api.ohmygpt.com/api/v1/ai/draw/mj")).unwrap_err();
        assert_eq!(bad.key, "base_url");
        assert!(bad.message.contains("remove `/api/v1/ai/draw/mj`"), "{bad}");
        assert_eq!(Settings::read(&cfg("")).unwrap_err().key, "base_url");
    }
}
