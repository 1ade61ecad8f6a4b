//! Builds a running Easel from a [`Config`]: the database, image storage, backends, the engine,
//! the gate and members' preferences. This is the one wiring function; the binary and the
//! tests both call it, so what is tested is what runs. Above it sits the one submit path
//! (`submit` for /imagine, /blend and /describe, `press` for buttons and remix): gate →
//! compose and parse once → route → the new tasks → the engine. `views` gathers what /info,
//! /queue and /easel status show, as plain data for the Discord side to render.

pub mod edits;
pub mod favorites;
mod press;
mod refused;
mod results;
mod submit;
pub mod views;

pub use crate::admin::Requester;
pub use edits::EditForm;
pub use favorites::{FavoritesPage, Hearted};
pub use press::{Child, Pressed, RemixForm};
pub use refused::Refused;
pub use results::JobInfo;
pub use submit::{References, Ticket};

use crate::admin::Gate;
use crate::admin::moderation::WordFilter;
use crate::backends::Registry;
use crate::base::Clock;
use crate::config::{Config, ConfigError};
use crate::db::{Db, SubmitLimits};
use crate::imaging::{DownloadOptions, Downloader};
use crate::prefs::Prefs;
use crate::prompt::PromptLimits;
use crate::storage::Storage;
use crate::tasks::engine::Engine;

/// The config checks that need what is built from it: each backend kind's own keys and the
/// word filter's patterns. `easel check-config` runs them; [`App::build`] meets the same errors.
pub fn check_config(config: &Config) -> Result<(), ConfigError> {
    crate::backends::check(config)?;
    word_filter(config).map(drop)
}

fn word_filter(config: &Config) -> Result<WordFilter, ConfigError> {
    let m = &config.moderation;
    WordFilter::new(&m.banned_words, &m.allowed_words)
        .map_err(|(key, why)| ConfigError::new(config.source_name(), format!("moderation.{key}"), why))
}

pub struct App {
    pub config: Config,
    pub engine: Engine,
    /// The database, through its narrow methods.
    pub db: Db,
    /// Who may start work, where and how much; bans, pause and quota overrides.
    pub gate: Gate,
    /// Fetches the images members hand to /blend and /describe.
    pub downloader: Downloader,
    /// Members' /settings and /prefer choices.
    pub prefs: Prefs,
    /// Decides which day it is, for daily quotas (a manual clock in tests).
    pub clock: Clock,
}

impl App {
    /// Opens everything and settles tasks a previous run left unfinished. The engine is not
    /// started yet: call [`App::start`].
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_clock(config, Clock::system()).await
    }

    /// [`App::build`] with a given clock for day boundaries (tests move it past midnight).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<App> {
        let words = word_filter(&config)?;
        let db = Db::open(&config.database.url).await?;
        let storage = Storage::new(&config.storage.dir)?;
        let backends = Registry::from_config(&config)?;
        let engine = Engine::new(
            db.clone(),
            storage,
            backends,
            config.limits.clone(),
            config.imaging.grid_quality,
            clock.clone(),
        );
        // Before recovery, so a paused Easel restarts paused.
        let gate = Gate::new(&config, words, engine.clone(), db.clone(), clock.clone()).await?;
        engine.recover().await?;
        let downloader = Downloader::new(DownloadOptions {
            max_bytes: config.limits.max_image_bytes,
            // A Discord-compatible sandbox serves its attachments from its own origin.
            extra_attachment_origins: if config.discord.api_base.is_empty() {
                Vec::new()
            } else {
                vec![config.discord.api_base.clone()]
            },
            ..Default::default()
        })?;
        let prefs = Prefs::new(db.clone());
        Ok(App { config, engine, db, gate, downloader, prefs, clock })
    }

    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        self.engine.spawn()
    }

    pub fn prompt_limits(&self) -> PromptLimits {
        PromptLimits {
            max_prompts: self.config.limits.max_prompts,
            max_aspect: self.config.limits.max_aspect,
            max_length: self.config.limits.max_prompt_length,
        }
    }

    /// What a member's new tasks must fit when they are created: `[limits]`'s waiting cap,
    /// and `daily_limit` (their quota's) counted from the start of today.
    pub fn submit_limits(&self, daily_limit: Option<u32>) -> SubmitLimits {
        SubmitLimits {
            waiting_cap: self.config.limits.per_user_queued,
            daily_limit,
            day_start_ms: self.clock.day_start(),
        }
    }

    /// Names and aliases members can pick in the `model` option, for autocomplete: those of
    /// backends that can imagine, in config order, filtered by what was typed so far.
    pub fn model_choices(&self, typed: &str) -> Vec<String> {
        let typed = crate::config::normalize_model(typed);
        let backends = self.engine.backends();
        backends
            .names()
            .filter(|n| backends.get(n).is_some_and(|b| b.capabilities().imagine))
            .flat_map(|n| std::iter::once(n.to_string()).chain(backends.aliases(n).iter().cloned()))
            .filter(|name| crate::config::normalize_model(name).contains(&typed))
            .take(25)
            .collect()
    }
}
