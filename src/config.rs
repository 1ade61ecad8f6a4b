//! Typed configuration: built-in defaults, then the TOML file, then the environment
//! (`EASEL__SECTION__KEY`, `EASEL__BACKENDS__<NAME>__KEY`, `DISCORD_TOKEN`, and every secret
//! also as `…_FILE`, naming a file that holds it). Unknown keys are
//! errors, every error names the file (or variable), the key and what to change, and secrets
//! never appear in `Debug` or in the summary `easel check-config` prints.
//!
//! What only the parts built from the config can judge is checked where they are built: each
//! backend kind's own keys by the backend registry, the word filter's patterns by the app
//! (`easel check-config` runs both).

mod backend;
mod env;
mod load;
mod retention;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

pub use backend::{
    BackendConfig, BadSetting, COMMON_KEYS, DEMO_KIND, check_url, keys_of, normalize_model, parse_size,
};
pub use env::env_name;
pub use load::{ConfigError, load, load_from};
pub use retention::RetentionConfig;

/// A secret string (token, API key): deserialised like a string, printed as `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub discord: DiscordConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub backends: Vec<BackendConfig>,
    pub limits: LimitsConfig,
    pub imaging: ImagingConfig,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub health: HealthConfig,
    /// Daily limits and running caps by Discord role (`[[quotas]]`).
    pub quotas: Vec<QuotaConfig>,
    pub moderation: ModerationConfig,
    /// What is removed after how long (images, finished tasks, the audit).
    pub retention: RetentionConfig,
    /// The channel hearted images are cross-posted to.
    pub showcase: ShowcaseConfig,
    /// Where the config was read from, for messages; not a key.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// What loading noticed that works but should change (a backend addressed by position in
    /// the environment); `easel check-config` prints them and `easel run` logs them.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    pub token: Secret,
    /// Only for a Discord-compatible sandbox or an HTTP proxy in front of Discord.
    pub api_base: String,
    /// Guilds to register commands in at start; empty registers them globally.
    pub guild_ids: Vec<u64>,
    /// Only the member who asked may press a task's buttons.
    pub buttons_owner_only: bool,
    /// Commands work in direct messages with the bot (otherwise a DM gets a polite refusal).
    pub allow_dms: bool,
    /// Guilds whose members may use Easel; empty = every guild the bot is in.
    pub allowed_guilds: Vec<u64>,
    /// Channels (or threads) where Easel may be used; empty = every channel.
    pub allowed_channels: Vec<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: "sqlite://data/easel.db".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { dir: "data/images".into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Tasks one member may have running at once, unless a role in `[[quotas]]` says otherwise.
    pub per_user_running: u32,
    pub per_user_queued: u32,
    /// Tasks one member may start per UTC day, unless a role in `[[quotas]]` says otherwise;
    /// 0 = unlimited.
    pub per_user_daily: u32,
    /// How many prompts one `{a, b}` permutation may expand to.
    pub max_prompts: usize,
    /// Characters in one prompt, parameters included.
    pub max_prompt_length: usize,
    /// Widest aspect ratio accepted, as long side / short side.
    pub max_aspect: f64,
    /// A task that has not finished this long after it was created fails.
    pub task_deadline_secs: u64,
    /// Tries per task for retryable backend failures.
    pub max_attempts: u32,
    /// Largest image a member may hand in (attachments and links), in bytes.
    pub max_image_bytes: u64,
    /// Memory that decoded images may take at once, in MiB; one member may use half.
    pub decode_budget_mib: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_user_running: 3,
            per_user_queued: 10,
            per_user_daily: 0,
            max_prompts: 4,
            max_prompt_length: 6000,
            max_aspect: 4.0,
            task_deadline_secs: 900,
            max_attempts: 4,
            max_image_bytes: 10 << 20,
            decode_budget_mib: crate::imaging::DEFAULT_DECODE_BUDGET >> 20,
        }
    }
}

/// One `[[quotas]]` entry: what members with this role get. A member with several listed
/// roles gets the most generous of each number; members with none get `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    pub role_id: u64,
    /// Tasks per UTC day; 0 or absent = unlimited.
    #[serde(default)]
    pub daily_limit: u32,
    /// Tasks running at once; absent = `limits.per_user_running`.
    #[serde(default)]
    pub running_cap: Option<u32>,
}

/// The prompt filter: regular expressions (case-insensitive) a prompt must not match, and
/// exceptions for words the filter would otherwise catch by mistake.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationConfig {
    pub banned_words: Vec<String>,
    /// A banned match that lies inside a match of one of these is let through.
    pub allowed_words: Vec<String>,
}

/// `[showcase]`: where the first ❤️ on an image cross-posts it, with its prompt and credit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShowcaseConfig {
    /// A channel id (written as a string or a number); absent = no showcase.
    #[serde(deserialize_with = "id_text")]
    pub channel_id: Option<String>,
}

/// A Discord id written as a string (as the docs ask) or as a number: an environment
/// variable's digits always arrive as a number.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Text(String),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Number(n) => n.to_string(),
        Id::Text(s) => s,
    }))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagingConfig {
    /// JPEG quality of the 2×2 grid.
    pub grid_quality: u8,
}

impl Default for ImagingConfig {
    fn default() -> Self {
        ImagingConfig { grid_quality: 90 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address for `/healthz` and `/metrics` (e.g. "127.0.0.1:9090"); empty = off.
    pub listen: String,
}

/// How Easel watches its backends: periodic probes, and a circuit breaker that stops sending
/// work to a backend that keeps failing until it has had time to recover.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds between background probes of each backend.
    pub check_interval_secs: u64,
    /// Consecutive failures that open a backend's circuit breaker.
    pub breaker_failures: u32,
    /// Seconds an open breaker waits before letting one probe task through.
    pub breaker_cooldown_secs: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { check_interval_secs: 60, breaker_failures: 5, breaker_cooldown_secs: 30 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `easel=debug`, …; `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Text }
    }
}

impl Config {
    /// The backends to use: the configured ones, or the offline demo when none is configured.
    pub fn effective_backends(&self) -> Vec<BackendConfig> {
        if self.backends.is_empty() { vec![BackendConfig::demo("demo")] } else { self.backends.clone() }
    }

    /// What `easel run` needs beyond a well-formed file: a bot token.
    pub fn check_runnable(&self) -> Result<(), ConfigError> {
        if self.discord.token.is_empty() {
            return Err(ConfigError::new(
                self.source_name(),
                "discord.token",
                "no Discord bot token is set: put it in [discord] token or the DISCORD_TOKEN \
                 environment variable (to try Easel without Discord, run `easel imagine \"a prompt\"`)",
            ));
        }
        Ok(())
    }

    pub fn source_name(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the built-in defaults".into())
    }

    /// A summary for `easel check-config`, with every secret redacted; `backend_line` says
    /// one backend in a line (the backend registry knows what each kind defaults to).
    pub fn summary(&self, backend_line: impl Fn(&BackendConfig) -> String) -> String {
        let set = |s: &Secret| if s.is_empty() { "not set" } else { "set (redacted)" };
        let mut out = format!("config: {}\n", self.source_name());
        out += &format!(
            "discord: token {}, api_base {}, commands registered {}\n",
            set(&self.discord.token),
            if self.discord.api_base.is_empty() {
                "Discord".to_string()
            } else {
                crate::base::redact_url(&self.discord.api_base)
            },
            if self.discord.guild_ids.is_empty() {
                "globally".to_string()
            } else {
                format!("in guilds {:?}", self.discord.guild_ids)
            }
        );
        let database = crate::base::redact_url(&self.database.url);
        out += &format!("database: {database}\nstorage: {}\n", self.storage.dir.display());
        if self.backends.is_empty() {
            out += "backends: none configured, using the built-in offline demo backend\n";
        }
        for (i, b) in self.effective_backends().iter().enumerate() {
            out += &format!("backend {i}: {}\n", backend_line(b));
        }
        let l = &self.limits;
        out += &format!(
            "limits: {} running and {} queued per user, {} per day, {} prompts per permutation, \
             task deadline {} s, {} attempts, {} MiB for decoding images\n",
            l.per_user_running,
            l.per_user_queued,
            if l.per_user_daily == 0 { "unlimited".to_string() } else { l.per_user_daily.to_string() },
            l.max_prompts,
            l.task_deadline_secs,
            l.max_attempts,
            l.decode_budget_mib
        );
        for q in &self.quotas {
            out += &format!(
                "quota for role {}: {} per day, {} running\n",
                q.role_id,
                if q.daily_limit == 0 { "unlimited".to_string() } else { q.daily_limit.to_string() },
                q.running_cap.unwrap_or(l.per_user_running)
            );
        }
        let d = &self.discord;
        out += &format!(
            "where: DMs {}, guilds {}, channels {}; {} banned word pattern(s), {} exception(s)\n",
            if d.allow_dms { "allowed" } else { "refused" },
            if d.allowed_guilds.is_empty() { "all".to_string() } else { format!("{:?}", d.allowed_guilds) },
            if d.allowed_channels.is_empty() {
                "all".to_string()
            } else {
                format!("{:?}", d.allowed_channels)
            },
            self.moderation.banned_words.len(),
            self.moderation.allowed_words.len()
        );
        out += &self.retention.summary();
        for note in self.timing_notes() {
            out += &format!("note: {note}\n");
        }
        out
    }

    /// Backends whose per-request timeout leaves no room for a retry within the task
    /// deadline: a service that hangs would end every such task as `deadline-exceeded`
    /// after one try. Legal (a slow local GPU may need it), so a note rather than an error.
    pub fn timing_notes(&self) -> Vec<String> {
        let deadline = self.limits.task_deadline_secs;
        self.effective_backends()
            .iter()
            .filter(|b| b.kind != DEMO_KIND && b.timeout_secs.saturating_mul(2) > deadline)
            .map(|b| {
                format!(
                    "backend `{}` waits up to {} s per request but a task may take {} s in all \
                     (limits.task_deadline_secs), so a request that hangs is never retried; \
                     lower timeout_secs or raise the deadline",
                    b.name, b.timeout_secs, deadline
                )
            })
            .collect()
    }
}
