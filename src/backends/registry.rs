//! The configured backends by name, and the one table of kinds they are built from. Adding a
//! kind is its folder (which declares a [`Kind`]) and one line in [`KINDS`]. The registry
//! checks each `[[backends]]` entry against its kind — a key the kind does not have is an
//! error naming the kind it belongs to — builds the backends, and owns the webhook
//! [`Mailbox`] their services deliver to, whose routes [`Registry::router`] serves.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;

use super::http_util::Mailbox;
use super::kind::Kind;
use super::{
    Backend, a1111, comfyui, demo, health, imagineapi, mj_proxy, ohmygpt, openai, openjourney, opj, routing,
};
use crate::config::{BackendConfig, BadSetting, COMMON_KEYS, Config, ConfigError};

/// Every kind Easel speaks, in the order messages list them.
const KINDS: &[&Kind] = &[
    &demo::KIND,
    &openai::KIND,
    &a1111::KIND,
    &mj_proxy::KIND,
    &imagineapi::KIND,
    &openjourney::KIND,
    &opj::KIND,
    &comfyui::KIND,
    &ohmygpt::KIND,
];

fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// Checks every `[[backends]]` entry against its kind; the error names the file, the entry's
/// key and what to change. `easel check-config` runs this, and so does [`Registry::from_config`].
pub fn check(config: &Config) -> Result<(), ConfigError> {
    for (i, cfg) in config.backends.iter().enumerate() {
        check_entry(cfg).map_err(|bad| {
            ConfigError::new(config.source_name(), format!("backends[{i}].{}", bad.key), bad.message)
        })?;
    }
    Ok(())
}

fn check_entry(cfg: &BackendConfig) -> Result<&'static Kind, BadSetting> {
    let Some(kind) = kind(&cfg.kind) else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        return Err(BadSetting::new(
            "kind",
            format!("has the unknown value `{}`; use one of: {}", cfg.kind, names.join(", ")),
        ));
    };
    let own = (kind.keys)();
    if let Some(key) = cfg.settings.keys().find(|key| !own.contains(&key.as_str())) {
        let owners: Vec<String> = KINDS
            .iter()
            .filter(|k| (k.keys)().contains(&key.as_str()))
            .map(|k| format!("`{}`", k.name))
            .collect();
        let message = if owners.is_empty() {
            let known: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
            format!("is not a key Easel knows for kind `{}`; the keys are: {}", kind.name, known.join(", "))
        } else {
            format!(
                "`{key}` is a setting of kind {}, not of kind `{}` (backend `{}`): remove it",
                owners.join(" or "),
                kind.name,
                cfg.name
            )
        };
        return Err(BadSetting::new(key.clone(), message));
    }
    (kind.check)(cfg)?;
    Ok(kind)
}

/// What `easel check-config` warns about: what loading noticed, and each backend whose kind
/// needs an `api_key` but has an empty one (legal, since a key may be filled in later, but
/// every request would be refused).
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = config.warnings.clone();
    for cfg in &config.backends {
        if kind(&cfg.kind).is_some_and(|k| k.needs_key) && cfg.api_key.is_empty() {
            let var = format!("EASEL__BACKENDS__{}__API_KEY", crate::config::env_name(&cfg.name));
            out.push(format!(
                "backend `{}` ({}) has no api_key, and the service refuses requests without one: \
                 set api_key in its [[backends]] entry, or {var} (or {var}_FILE naming a file \
                 that holds it)",
                cfg.name, cfg.kind
            ));
        }
        if cfg.kind == "comfyui" && cfg.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
            out.push(format!(
                "backend `{}` (comfyui) has no model: Easel will use the checkpoint the server has \
                 (its first, if it has several; the log names it at start); set model to choose",
                cfg.name
            ));
        }
    }
    out
}

/// Jobs this backend runs at once: the configured number, else its kind's default.
pub fn concurrency(cfg: &BackendConfig) -> usize {
    cfg.concurrency.unwrap_or_else(|| kind(&cfg.kind).map_or(1, |k| k.default_concurrency))
}

/// The summary `easel check-config` prints, every secret redacted.
pub fn summary(config: &Config) -> String {
    config.summary(|b| b.summary(concurrency(b)))
}

/// The configured backends by name, in config order, with their aliases and health.
#[derive(Clone, Default)]
pub struct Registry {
    order: Vec<String>,
    by_name: HashMap<String, Arc<dyn Backend>>,
    concurrency: HashMap<String, usize>,
    aliases: HashMap<String, Vec<String>>,
    health: Arc<health::HealthBoard>,
    mailbox: Mailbox,
}

impl Registry {
    /// Checks and builds the config's backends (the offline demo when none is configured).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        check(config)?;
        let mut reg = Registry::default();
        for cfg in config.effective_backends() {
            let kind = kind(&cfg.kind)
                .ok_or_else(|| anyhow::anyhow!("backend `{}`: no kind `{}`", cfg.name, cfg.kind))?;
            reg.insert((kind.build)(&cfg, &reg.mailbox)?, concurrency(&cfg));
            reg.aliases.insert(cfg.name.clone(), cfg.aliases.clone());
        }
        reg.health = health::HealthBoard::new(reg.order.iter().map(String::as_str), &config.health);
        Ok(reg)
    }

    pub fn insert(&mut self, backend: Arc<dyn Backend>, concurrency: usize) {
        let name = backend.name().to_string();
        if !self.by_name.contains_key(&name) {
            self.order.push(name.clone());
        }
        self.concurrency.insert(name.clone(), concurrency.max(1));
        self.by_name.insert(name, backend);
    }

    /// The webhook routes of this registry's backends, for the operator HTTP server.
    pub fn router(&self) -> Router {
        self.mailbox.router()
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Backend>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn concurrency(&self, name: &str) -> usize {
        self.concurrency.get(name).copied().unwrap_or(1)
    }

    pub fn aliases(&self, name: &str) -> &[String] {
        self.aliases.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn health(&self) -> &Arc<health::HealthBoard> {
        &self.health
    }

    /// Every backend as routing sees it, given the current queued + running counts.
    pub fn candidates(&self, load: &HashMap<String, u32>) -> Vec<routing::Candidate> {
        self.order
            .iter()
            .map(|name| routing::Candidate {
                name: name.clone(),
                aliases: self.aliases(name).to_vec(),
                caps: self.by_name[name].capabilities(),
                available: self.health.available(name),
                load: load.get(name).copied().unwrap_or(0),
                concurrency: self.concurrency(name),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_its_keys_are_its_own() {
        for (i, k) in KINDS.iter().enumerate() {
            assert!(KINDS[..i].iter().all(|other| other.name != k.name), "{} twice", k.name);
            assert!(k.default_concurrency >= 1);
            for key in (k.keys)() {
                assert!(!COMMON_KEYS.contains(key), "{}: `{key}` is a common key", k.name);
            }
        }
        assert!((a1111::KIND.keys)().contains(&"steps"));
    }

    #[test]
    fn a_key_of_another_kind_names_its_kinds() {
        let cfg = BackendConfig::demo("d").with("cfg_scale", 7);
        let err = check_entry(&cfg).unwrap_err();
        assert_eq!(err.key, "cfg_scale");
        assert_eq!(
            err.message,
            "`cfg_scale` is a setting of kind `a1111` or `opj`, not of kind `demo` (backend `d`): remove it"
        );
        let err = check_entry(&BackendConfig::demo("d").with("denoise", 1)).unwrap_err();
        assert!(err.message.contains("not a key Easel knows for kind `demo`"), "{err}");
        assert!(err.message.contains("timeout_secs") && err.message.contains("step_ms"), "{err}");
        let err = check_entry(&BackendConfig::new("x", "dalle")).unwrap_err();
        assert_eq!(err.key, "kind");
        assert!(err.message.contains("`dalle`") && err.message.contains("mj-proxy, imagineapi"), "{err}");
    }
}
