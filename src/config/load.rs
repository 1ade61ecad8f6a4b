//! Reading the configuration: which file, how the layers stack, and turning every problem
//! into a [`ConfigError`] that names where it came from, the key, and what to change.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};

use super::Config;
use super::backend::{check_url, normalize_model};

/// The environment variable that names the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "EASEL_CONFIG";
/// The file read from the working directory when neither `--config` nor `EASEL_CONFIG` is set.
pub const DEFAULT_FILE: &str = "easel.toml";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: `{key}` {message}")]
pub struct ConfigError {
    /// The file or environment variable the bad value came from.
    pub origin: String,
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(origin: impl Into<String>, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { origin: origin.into(), key: key.into(), message: message.into() }
    }
}

/// Loads the config named by `--config`, else `EASEL_CONFIG`, else `./easel.toml` if it
/// exists, else the defaults; the environment is layered on top.
pub fn load(cli_path: Option<&Path>) -> Result<Config, ConfigError> {
    let explicit =
        cli_path.map(Path::to_path_buf).or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
    let path = match explicit {
        Some(p) => Some(p),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
    };
    if let Some(p) = &path {
        check_readable(p)?;
    }
    load_from(path.as_deref(), std::env::vars())
}

/// Opens the file once to tell a missing file from one this user may not read: a config
/// folder made root-only hides the file from `stat` too, and "does not exist" would mislead.
fn check_readable(path: &Path) -> Result<(), ConfigError> {
    use std::io::ErrorKind;
    let problem = match std::fs::File::open(path).and_then(|f| f.metadata()) {
        Ok(meta) if meta.is_file() => return Ok(()),
        Ok(_) => "is not a file: check the path given to --config or EASEL_CONFIG".to_string(),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            "does not exist: check the path given to --config or EASEL_CONFIG".to_string()
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            "cannot be read: permission denied. The user Easel runs as needs read access to the file \
             and search (x) access to every folder above it, e.g. `chgrp easel` on the folder and the \
             file, `chmod 0750` the folder and `chmod 0640` the file"
                .to_string()
        }
        Err(e) => format!("cannot be read: {e}"),
    };
    Err(ConfigError::new(path.display().to_string(), "(file)", problem))
}

/// Loads from an optional file and the given environment (a parameter so tests stay hermetic).
pub fn load_from(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let source = path.map(|p| p.display().to_string()).unwrap_or_else(|| "the built-in defaults".into());

    let mut fig = Figment::new();
    if let Some(p) = path {
        fig = fig.merge(Toml::file_exact(p));
    }
    let layer = super::env::apply(fig, env, &source)?;
    let mut config: Config = layer.fig.extract().map_err(|e| from_figment(e, &source, &layer.env_keys))?;
    config.source = path.map(Path::to_path_buf);
    config.warnings = layer.warnings;
    validate(&config, &source)?;
    Ok(config)
}

fn from_figment(err: figment::Error, source: &str, env_keys: &[(String, String)]) -> ConfigError {
    let dotted = err.path.join(".");
    let origin = env_keys
        .iter()
        .find(|(key, _)| !dotted.is_empty() && (dotted == *key || dotted.starts_with(&format!("{key}."))))
        .map(|(_, var)| format!("environment variable {var}"))
        .unwrap_or_else(|| source.to_string());
    let (key, message) = describe(&err);
    ConfigError::new(origin, key, message)
}

/// The key a figment error is about (`backends[0].kind`) and what is wrong with it.
pub(super) fn describe(err: &figment::Error) -> (String, String) {
    let key = display_key(&err.path);
    let message = match &err.kind {
        figment::error::Kind::UnknownField(field, expected) => {
            // Figment's path usually ends with the unknown field already.
            let key = if err.path.last() == Some(field) || key.is_empty() && field.is_empty() {
                key
            } else if key.is_empty() {
                field.clone()
            } else {
                format!("{key}.{field}")
            };
            return (key, format!("is not a key Easel knows here; the keys are: {}", expected.join(", ")));
        }
        figment::error::Kind::UnknownVariant(found, expected) => {
            format!("has the unknown value `{found}`; use one of: {}", expected.join(", "))
        }
        figment::error::Kind::InvalidType(found, expected) => {
            format!("is {found}, but it must be {expected}")
        }
        figment::error::Kind::MissingField(field) => {
            let key = if key.is_empty() { field.to_string() } else { format!("{key}.{field}") };
            return (key, "is missing: this key is required".into());
        }
        other => other.to_string(),
    };
    (key, message)
}

/// `["backends", "0", "kind"]` → `backends[0].kind`.
fn display_key(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if part.parse::<usize>().is_ok() {
            out += &format!("[{part}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out += part;
        }
    }
    out
}

fn validate(config: &Config, source: &str) -> Result<(), ConfigError> {
    let err = |key: &str, msg: String| ConfigError::new(source, key, msg);
    if !config.discord.api_base.is_empty() {
        check_url(&config.discord.api_base).map_err(|m| err("discord.api_base", m))?;
    }
    if !config.http.listen.is_empty() && config.http.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(err(
            "http.listen",
            format!(
                "`{}` is not an address to listen on: write it as \"127.0.0.1:9090\"",
                config.http.listen
            ),
        ));
    }
    let scheme = config.database.url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    if !matches!(scheme.as_str(), "sqlite" | "postgres" | "postgresql") {
        return Err(err(
            "database.url",
            format!(
                "`{}` names no database Easel can use: write \"sqlite://data/easel.db\" or \
                 \"postgres://user:password@host/dbname\"",
                crate::base::redact_url(&config.database.url)
            ),
        ));
    }
    if let Some(channel) = &config.showcase.channel_id
        && (channel.is_empty() || !channel.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(err(
            "showcase.channel_id",
            format!(
                "`{channel}` is not a Discord channel id: copy the channel's id (Developer Mode, right-click \
                 the channel, Copy Channel ID) and write it in quotes, e.g. \"123456789012345678\""
            ),
        ));
    }
    for (i, backend) in config.backends.iter().enumerate() {
        backend.validate().map_err(|bad| err(&format!("backends[{i}].{}", bad.key), bad.message))?;
        if let Some(j) = config.backends[..i].iter().position(|b| b.name == backend.name) {
            return Err(err(
                &format!("backends[{i}].name"),
                format!(
                    "`{}` is already the name of backends[{j}]: give each backend its own name",
                    backend.name
                ),
            ));
        }
    }
    let mut taken: Vec<(String, String)> = Vec::new(); // (normalised name or alias, owner)
    for (i, backend) in config.backends.iter().enumerate() {
        let names = std::iter::once(&backend.name).chain(&backend.aliases);
        for (n, name) in names.enumerate() {
            let norm = normalize_model(name);
            if let Some((_, owner)) = taken.iter().find(|(t, _)| *t == norm) {
                let key =
                    if n == 0 { format!("backends[{i}].name") } else { format!("backends[{i}].aliases") };
                return Err(err(
                    &key,
                    format!(
                        "`{name}` already names backend `{owner}`: each name and alias must pick one backend"
                    ),
                ));
            }
            taken.push((norm, backend.name.clone()));
        }
    }
    let h = &config.health;
    for (key, value) in [
        ("health.check_interval_secs", h.check_interval_secs),
        ("health.breaker_failures", h.breaker_failures as u64),
        ("health.breaker_cooldown_secs", h.breaker_cooldown_secs),
    ] {
        if value == 0 {
            return Err(err(key, "must be at least 1".into()));
        }
    }
    let l = &config.limits;
    let positive = [
        ("limits.per_user_running", l.per_user_running as u64),
        ("limits.per_user_queued", l.per_user_queued as u64),
        ("limits.max_prompts", l.max_prompts as u64),
        ("limits.max_prompt_length", l.max_prompt_length as u64),
        ("limits.task_deadline_secs", l.task_deadline_secs),
        ("limits.max_attempts", l.max_attempts as u64),
        ("limits.max_image_bytes", l.max_image_bytes),
    ];
    for (key, value) in positive {
        if value == 0 {
            return Err(err(key, "must be at least 1".into()));
        }
    }
    for (i, q) in config.quotas.iter().enumerate() {
        if q.role_id == 0 {
            return Err(err(
                &format!("quotas[{i}].role_id"),
                "must be a Discord role id (Server Settings → Roles → right-click → Copy Role ID)".into(),
            ));
        }
        if q.running_cap == Some(0) {
            return Err(err(
                &format!("quotas[{i}].running_cap"),
                "must be at least 1 (leave it out to use limits.per_user_running)".into(),
            ));
        }
        if let Some(j) = config.quotas[..i].iter().position(|p| p.role_id == q.role_id) {
            return Err(err(
                &format!("quotas[{i}].role_id"),
                format!("role {} already has a quota in quotas[{j}]: give each role one entry", q.role_id),
            ));
        }
    }
    // Past Discord's own per-file limit nothing larger could arrive as an attachment, and a
    // bigger link would only cost memory.
    if l.max_image_bytes > crate::imaging::DISCORD_FILE_LIMIT as u64 {
        return Err(err(
            "limits.max_image_bytes",
            format!(
                "{} is over Discord's 10 MiB file limit: use at most {}",
                l.max_image_bytes,
                crate::imaging::DISCORD_FILE_LIMIT
            ),
        ));
    }
    if !(64..=65_536).contains(&l.decode_budget_mib) {
        return Err(err(
            "limits.decode_budget_mib",
            format!(
                "{} is out of range: use 64 to 65536 (MiB; an 8192×8192 image needs 256)",
                l.decode_budget_mib
            ),
        ));
    }
    if !(1.0..=16.0).contains(&l.max_aspect) {
        return Err(err("limits.max_aspect", format!("{} is out of range: use 1 to 16", l.max_aspect)));
    }
    if !(1..=100).contains(&config.imaging.grid_quality) {
        return Err(err(
            "imaging.grid_quality",
            format!("{} is out of range: use 1 to 100", config.imaging.grid_quality),
        ));
    }
    config.retention.check().map_err(|(key, msg)| err(key, msg))?;
    tracing_subscriber::EnvFilter::try_new(&config.log.level).map_err(|e| {
        err("log.level", format!("`{}` is not a log filter ({e}); try \"info\"", config.log.level))
    })?;
    Ok(())
}
