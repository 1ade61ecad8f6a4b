//! One `[[backends]]` entry: the keys every kind shares (name, kind, address, key, model,
//! aliases, concurrency, timeout), checked here, and the rest of the entry kept as written.
//! Those remaining keys belong to the entry's kind: its backend folder reads them into its own
//! typed settings (through [`BackendConfig::parse_settings`]) and checks them, and the backend
//! registry refuses a key the kind does not have, naming the kind it belongs to. The config
//! layer knows no kind but the built-in `demo` it falls back to.

use figment::value::{Dict, Tag, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Secret;

/// The keys of a `[[backends]]` entry that every kind has.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "base_url",
    "api_key",
    "model",
    "aliases",
    "concurrency",
    "timeout_secs",
    "image_hosts",
];

/// The kind Easel falls back to when no backend is configured: offline placeholder art.
pub const DEMO_KIND: &str = "demo";

#[derive(Debug, Clone, Deserialize)]
pub struct BackendConfig {
    pub name: String,
    /// Which protocol this entry speaks (`openai`, `a1111`, …); the backend registry lists them.
    pub kind: String,
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
    /// Jobs this backend runs at once; unset, the kind's default applies.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Per HTTP request.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Hosts (`cdn.lan`, `cdn.lan:8080`) whose image links Easel fetches even on a private
    /// address; other links off `base_url`'s origin must be public.
    #[serde(default)]
    pub image_hosts: Vec<String>,
    /// The kind's own keys, as written; its backend folder reads and checks them.
    #[serde(flatten)]
    pub settings: Dict,
}

/// A kind-specific key with a value Easel cannot use: `key` is the path inside the entry
/// (`steps`, `workflows.describe`) and `message` completes "`<key>` …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSetting {
    pub key: String,
    pub message: String,
}

impl BadSetting {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        BadSetting { key: key.into(), message: message.into() }
    }
}

impl std::fmt::Display for BadSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.key, self.message)
    }
}

fn default_timeout() -> u64 {
    180
}

impl BackendConfig {
    /// An entry of `kind` with nothing but its name set.
    pub fn new(name: &str, kind: &str) -> Self {
        BackendConfig {
            name: name.into(),
            kind: kind.into(),
            base_url: String::new(),
            api_key: Secret::default(),
            model: None,
            aliases: Vec::new(),
            concurrency: None,
            timeout_secs: default_timeout(),
            image_hosts: Vec::new(),
            settings: Dict::new(),
        }
    }

    pub fn demo(name: &str) -> Self {
        Self::new(name, DEMO_KIND)
    }

    /// Sets one of the kind's own keys, as the file would (`set("image_size", 512)`).
    pub fn set(&mut self, key: &str, value: impl Serialize) {
        match Value::serialize(value) {
            Ok(value) => {
                self.settings.insert(key.to_string(), value);
            }
            Err(e) => panic!("`{key}` cannot be a config value: {e}"),
        }
    }

    /// Builder form of [`BackendConfig::set`].
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.set(key, value);
        self
    }

    /// Removes one of the kind's own keys.
    pub fn unset(&mut self, key: &str) {
        self.settings.remove(key);
    }

    /// One of the kind's own keys read as `T`; `None` when it is absent or not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.settings.get(key).and_then(|v| v.deserialize().ok())
    }

    /// The kind's own keys read into its settings type `T` (which refuses keys it does not
    /// have); an error names the key inside the entry and what is wrong with it.
    pub fn parse_settings<T: DeserializeOwned>(&self) -> Result<T, BadSetting> {
        Value::Dict(Tag::Default, self.settings.clone()).deserialize().map_err(|e| {
            let (key, message) = super::load::describe(&e);
            BadSetting::new(key, message)
        })
    }

    /// Checks the keys every kind has; `Err` names the offending key inside the entry.
    pub(super) fn validate(&self) -> Result<(), BadSetting> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(BadSetting::new(
                "name",
                format!("`{}` is not a usable backend name: use 1–32 letters, digits, `-` or `_`", self.name),
            ));
        }
        for alias in &self.aliases {
            let norm = normalize_model(alias);
            if norm.is_empty()
                || norm.len() > 32
                || !norm.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(BadSetting::new(
                    "aliases",
                    format!(
                        "`{alias}` is not a usable alias: use 1–32 letters, digits, `.`, `-` or `_` (e.g. \"v6\", \"niji 6\", \"flux\")"
                    ),
                ));
            }
        }
        if self.concurrency == Some(0) {
            return Err(BadSetting::new("concurrency", "must be at least 1"));
        }
        if self.timeout_secs == 0 {
            return Err(BadSetting::new("timeout_secs", "must be at least 1"));
        }
        Ok(())
    }

    /// One line for `easel check-config`; `concurrency` is the number in effect.
    pub fn summary(&self, concurrency: usize) -> String {
        let mut s = format!("`{}` ({}), {} at once", self.name, self.kind, concurrency);
        if !self.base_url.is_empty() {
            s += &format!(", {}", crate::base::redact_url(&self.base_url));
        }
        if let Some(model) = &self.model {
            s += &format!(", model {model}");
        }
        if !self.aliases.is_empty() {
            s += &format!(", aliases {}", self.aliases.join(", "));
        }
        if self.kind != DEMO_KIND {
            s += if self.api_key.is_empty() { ", api_key not set" } else { ", api_key set (redacted)" };
        }
        s
    }
}

/// The keys of a settings type `T`: serde names them all in the error for a key `T` does not
/// have, so one is provoked with a key no type has.
pub fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut probe = Dict::new();
    probe.insert("\u{0}".into(), Value::from(true));
    match Value::Dict(Tag::Default, probe).deserialize::<T>() {
        Err(e) => match e.kind {
            figment::error::Kind::UnknownField(_, expected) => expected,
            _ => &[],
        },
        Ok(_) => &[],
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

/// Checks an address Easel will send requests to; `Err` completes "`<key>` …".
pub fn check_url(url: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Two {
        #[serde(default)]
        steps: Option<u32>,
        #[serde(default)]
        table: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        path: String,
    }

    #[test]
    fn settings_are_read_typed_and_errors_name_the_key() {
        let cfg = BackendConfig::new("b", "x").with("steps", 30);
        assert_eq!(cfg.parse_settings::<Two>().unwrap().steps, Some(30));
        assert_eq!(cfg.get::<u32>("steps"), Some(30));
        let err = BackendConfig::new("b", "x").with("steps", "many").parse_settings::<Two>().unwrap_err();
        assert_eq!(err.key, "steps");
        let mut table = Dict::new();
        table.insert("pth".into(), Value::from("x"));
        let err = BackendConfig::new("b", "x").with("table", table).parse_settings::<Two>().unwrap_err();
        assert_eq!(err.key, "table.pth");
        assert!(err.message.contains("path"), "{err}");
        assert_eq!(keys_of::<Two>(), ["steps", "table"]);
    }
}
