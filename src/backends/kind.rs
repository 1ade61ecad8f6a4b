//! What a protocol folder tells the registry about its kind — its name, its default
//! concurrency, its own config keys, how to check them and how to build the backend — and the
//! checks of config values that several kinds share. Each folder declares one [`Kind`]; the
//! registry's table lists them.

use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use reqwest::Url;

use super::Backend;
use super::http_util::{Letter, Mailbox, Route};
use crate::config::{BackendConfig, BadSetting, check_url};

pub struct Kind {
    /// The `kind` value of a `[[backends]]` entry.
    pub name: &'static str,
    /// Jobs a backend of this kind runs at once when `concurrency` is not set.
    pub default_concurrency: usize,
    /// The service refuses every request without `api_key` (a hosted API), so an empty one is
    /// worth a warning in `easel check-config`; kinds where it is optional (a local server
    /// without auth) say false.
    pub needs_key: bool,
    /// The kind's own keys, beside [`crate::config::COMMON_KEYS`].
    pub keys: fn() -> &'static [&'static str],
    /// Reads and checks the kind's own keys and what it needs of the common ones.
    pub check: fn(&BackendConfig) -> Result<(), BadSetting>,
    /// Builds the backend; webhook receivers come from the registry's mailbox.
    pub build: fn(&BackendConfig, &Mailbox) -> anyhow::Result<Arc<dyn Backend>>,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({})", self.name)
    }
}

/// The keys of settings type `T`, for [`Kind::keys`].
pub fn keys<T: DeserializeOwned>() -> &'static [&'static str] {
    crate::config::keys_of::<T>()
}

/// A setting a backend's constructor refused, as its error: names the backend and the key.
pub fn invalid(cfg: &BackendConfig, bad: BadSetting) -> anyhow::Error {
    anyhow::anyhow!("backend `{}`: {bad}", cfg.name)
}

/// `base_url` as the URL requests go to (each kind's `read` has checked it already).
pub fn base_url(cfg: &BackendConfig) -> anyhow::Result<Url> {
    check_base_url(cfg).map_err(|bad| invalid(cfg, bad))?;
    Ok(Url::parse(cfg.base_url.trim())?)
}

/// `base_url` is an address requests can go to.
pub fn check_base_url(cfg: &BackendConfig) -> Result<(), BadSetting> {
    check_url(&cfg.base_url).map_err(|m| BadSetting::new("base_url", m))
}

/// How often a job's status is asked for, in milliseconds.
pub fn check_poll_ms(poll_ms: Option<u64>) -> Result<(), BadSetting> {
    match poll_ms.filter(|ms| !(10..=60_000).contains(ms)) {
        Some(ms) => Err(BadSetting::new("poll_ms", format!("{ms} is out of range: use 10 to 60000"))),
        None => Ok(()),
    }
}

/// Easel's public base URL for webhooks.
pub fn check_notify_hook(hook: Option<&str>) -> Result<(), BadSetting> {
    match hook {
        Some(hook) => check_url(hook).map_err(|m| BadSetting::new("notify_hook", m)),
        None => Ok(()),
    }
}

/// The long side of images a Stable Diffusion server draws: latents are 8 pixels a cell.
pub fn check_sd_image_size(size: Option<u32>) -> Result<(), BadSetting> {
    match size.filter(|s| !(256..=2048).contains(s) || s % 8 != 0) {
        Some(size) => Err(BadSetting::new(
            "image_size",
            format!("{size} is not usable: use a multiple of 8 from 256 to 2048"),
        )),
        None => Ok(()),
    }
}

/// A name the server must know, when set, is not blank; `fix` completes "… or remove the key".
pub fn check_not_blank(key: &str, value: Option<&str>, fix: &str) -> Result<(), BadSetting> {
    if value.is_some_and(|v| v.trim().is_empty()) {
        return Err(BadSetting::new(key, format!("is empty: {fix}, or remove the key")));
    }
    Ok(())
}

/// The own keys of a kind whose jobs are followed by polling.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Polled {
    /// Base interval of status polls in milliseconds; polls back off to five times this while
    /// progress stands still.
    #[serde(default)]
    pub poll_ms: Option<u64>,
}

impl Polled {
    pub fn read(cfg: &BackendConfig) -> Result<Polled, BadSetting> {
        let options: Polled = cfg.parse_settings()?;
        check_base_url(cfg)?;
        check_poll_ms(options.poll_ms)?;
        Ok(options)
    }
}

/// The own keys of a kind whose service can also announce job updates by webhook.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooked {
    /// As [`Polled::poll_ms`]; with webhooks, polling is the fallback.
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// The public base URL of Easel's HTTP server, which the service then POSTs updates to
    /// (`<notify_hook>/hooks/<kind's path>/<secret>`).
    #[serde(default)]
    pub notify_hook: Option<String>,
}

impl Hooked {
    /// The URL to give the service for deliveries to `route`, with `notify_hook` set.
    pub fn hook_url<L: Letter>(&self, route: &Route<L>, backend: &str) -> Option<String> {
        let public = self.notify_hook.as_deref().map(str::trim).filter(|h| !h.is_empty())?;
        Some(route.url(public, backend))
    }

    pub fn read(cfg: &BackendConfig) -> Result<Hooked, BadSetting> {
        let options: Hooked = cfg.parse_settings()?;
        check_base_url(cfg)?;
        check_poll_ms(options.poll_ms)?;
        check_notify_hook(options.notify_hook.as_deref())?;
        Ok(options)
    }
}
