//! The `mj-proxy` kind's own config keys — the poll interval, the webhook base, and
//! `speed_paths` for proxies that choose Midjourney's speed by path — and their checks.
//!
//! trueai-org's midjourney-proxy mounts its API at `/mj` and again at `/mj-fast/mj`,
//! `/mj-relax/mj` and `/mj-turbo/mj`, each drawing on accounts of that speed. With
//! `speed_paths = true`, a prompt's `--fast`/`--relax`/`--turbo` sends its submits to that
//! mount (the flag stays in the prompt, which Midjourney reads too); other proxies have only
//! `/mj`, where the flag in the prompt is all there is.

use reqwest::Url;
use serde::Deserialize;

use crate::backends::kind::{Hooked, check_base_url, check_notify_hook, check_poll_ms};
use crate::config::{BackendConfig, BadSetting};
use crate::prompt::Speed;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// As [`Hooked::poll_ms`].
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// As [`Hooked::notify_hook`].
    #[serde(default)]
    pub notify_hook: Option<String>,
    /// The proxy mounts `/mj-fast`, `/mj-relax` and `/mj-turbo` beside `/mj` (trueai).
    #[serde(default)]
    pub speed_paths: bool,
}

impl Options {
    pub fn read(cfg: &BackendConfig) -> Result<Options, BadSetting> {
        let options: Options = cfg.parse_settings()?;
        check_base_url(cfg)?;
        check_poll_ms(options.poll_ms)?;
        check_notify_hook(options.notify_hook.as_deref())?;
        if options.speed_paths && Url::parse(cfg.base_url.trim()).ok().and_then(|u| mount(&u)).is_none() {
            return Err(BadSetting::new(
                "speed_paths",
                format!(
                    "needs a `base_url` that ends in `/mj` (such as http://proxy:8080/mj), so Easel can reach \
                     `/mj-fast/mj` beside it; `{}` does not",
                    cfg.base_url.trim()
                ),
            ));
        }
        Ok(options)
    }

    pub fn hooked(&self) -> Hooked {
        Hooked { poll_ms: self.poll_ms, notify_hook: self.notify_hook.clone() }
    }
}

/// The path of `base` before its final `mj` segment: `/api/mj/` → `/api/`.
fn mount(base: &Url) -> Option<String> {
    let path = base.path().trim_end_matches('/');
    path.strip_suffix("/mj").map(|root| format!("{root}/"))
}

/// `url` (under `base`) moved to the mount for `speed`: `…/mj/submit/imagine` →
/// `…/mj-fast/mj/submit/imagine`. Unchanged without a speed.
pub fn for_speed(base: &Url, url: Url, speed: Option<Speed>) -> Url {
    let (Some(speed), Some(root)) = (speed, mount(base)) else { return url };
    let name = match speed {
        Speed::Fast => "mj-fast",
        Speed::Relax => "mj-relax",
        Speed::Turbo => "mj-turbo",
    };
    let Some(rest) = url.path().strip_prefix(&format!("{root}mj")) else { return url };
    let path = format!("{root}{name}/mj{rest}");
    let mut moved = url;
    moved.set_path(&path);
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speed_moves_the_call_to_its_mount() {
        let base = Url::parse("http://proxy:8080/mj").unwrap();
        let url = Url::parse("http://proxy:8080/mj/submit/imagine").unwrap();
        assert_eq!(
            for_speed(&base, url.clone(), Some(Speed::Fast)).as_str(),
            "http://proxy:8080/mj-fast/mj/submit/imagine"
        );
        assert_eq!(
            for_speed(&base, url.clone(), Some(Speed::Relax)).as_str(),
            "http://proxy:8080/mj-relax/mj/submit/imagine"
        );
        assert_eq!(for_speed(&base, url.clone(), None), url);
        let nested = Url::parse("https://h/api/mj/").unwrap();
        let url = Url::parse("https://h/api/mj/submit/action").unwrap();
        assert_eq!(
            for_speed(&nested, url, Some(Speed::Turbo)).as_str(),
            "https://h/api/mj-turbo/mj/submit/action"
        );
    }

    #[test]
    fn the_mount_is_the_path_before_mj() {
        let mount = |s: &str| mount(&Url::parse(s).unwrap());
        assert_eq!(mount("http://h/mj").as_deref(), Some("/"));
        assert_eq!(mount("http://h/x/mj/").as_deref(), Some("/x/"));
        assert_eq!(mount("http://h/"), None);
        assert_eq!(mount("http://h/mjx"), None);
    }
}
