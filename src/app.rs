//! Builds a running Easel from a [`Config`]: the database, image storage, backends and the
//! engine. This is the one wiring function; the binary and the tests both call it, so what
//! is tested is what runs.

use crate::admin::moderation::WordFilter;
use crate::admin::{Ask, Refusal};
use crate::backends::Registry;
use crate::backends::routing::{Request, Route, Want};
use crate::base::{Clock, DAY_MS};
use crate::base::{MessageRef, TaskKind};
use crate::config::{Config, ConfigError};
use crate::db::{Db, NewTask, SubmitLimits, Task};
use crate::prefs::UserSettings;
use crate::prompt::{self, PromptError, PromptLimits, PromptSpec};
use crate::storage::Storage;
use crate::tasks::engine::{Engine, SubmitError};

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
    pub health: std::sync::Arc<crate::http::Health>,
    /// Fetches the images members hand to /blend and /describe.
    pub downloader: crate::imaging::Downloader,
    /// The database: tasks, members' /settings and /prefer choices, the admin tables.
    pub db: Db,
    /// Decides which day it is, for daily quotas (a manual clock in tests).
    pub clock: Clock,
    /// `[moderation]`, compiled.
    pub words: WordFilter,
}

/// Who asked, and where the answer goes.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub user_id: String,
    /// `None` in a direct message with the bot.
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub message: MessageRef,
    /// The member's role ids in that guild (for quotas by role).
    pub roles: Vec<u64>,
    /// The member may use admin powers there (Manage Server or Administrator).
    pub admin: bool,
    /// A press on the member's own private-mode results in their DMs: the work began in a
    /// server that admitted it, so the no-DMs rule does not apply.
    pub private_results: bool,
}

/// An /imagine that passed every check: its prompts, each with the backend to run on.
#[derive(Debug)]
pub struct Prepared {
    pub routed: Vec<(PromptSpec, Route)>,
    pub running_cap: u32,
    /// The member's daily quota, checked again as the tasks are created.
    pub daily_limit: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImagineError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl App {
    /// Opens everything and settles tasks a previous run left unfinished. The engine is not
    /// started yet: call [`App::start`].
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_clock(config, Clock::system()).await
    }

    /// [`App::build`] with a given clock for day boundaries (tests move it past midnight).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<App> {
        crate::http::prometheus();
        let words = word_filter(&config)?;
        let db = Db::open(&config.database.url).await?;
        let paused = db.is_paused().await?;
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
        engine.set_paused(paused);
        engine.recover().await?;
        let downloader = crate::imaging::Downloader::new(crate::imaging::DownloadOptions {
            max_bytes: config.limits.max_image_bytes,
            // A Discord-compatible sandbox serves its attachments from its own origin.
            extra_attachment_origins: if config.discord.api_base.is_empty() {
                Vec::new()
            } else {
                vec![config.discord.api_base.clone()]
            },
            ..Default::default()
        })?;
        Ok(App { config, engine, health: Default::default(), downloader, db, clock, words })
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

    /// The backend for a new task that needs `want`, or why none can take it.
    pub async fn route(
        &self,
        want: Want,
        model: Option<&str>,
        spec: Option<&PromptSpec>,
    ) -> Result<Route, SubmitError> {
        self.engine.route(&Request { want: Some(want), model, spec, ..Request::default() }).await
    }

    /// The member's preferences: /settings and /prefer options.
    async fn preferences(
        &self,
        who: &Requester,
    ) -> Result<(UserSettings, Vec<(String, String)>), ImagineError> {
        let settings = self.db.settings(&who.user_id).await.map_err(SubmitError::Internal)?;
        let options = self.db.options(&who.user_id).await.map_err(SubmitError::Internal)?;
        Ok((settings, options))
    }

    /// The member's prompt made ready to queue: their options expanded and suffix added,
    /// parsed (with `{a, b}` permutations), their defaults filled in, room in their queue
    /// checked, and a backend routed for each prompt — `model` (a backend name or alias) when
    /// given, else their default model, else by `--v`/`--niji`, capability, health and load.
    async fn prepare(
        &self,
        composed: &str,
        model: Option<&str>,
        who: &Requester,
        settings: &UserSettings,
        running_cap: u32,
    ) -> Result<Vec<(PromptSpec, Route)>, ImagineError> {
        let specs = prompt::parse(composed, &self.prompt_limits())?;
        // All of a permutation's prompts are queued, or none.
        self.engine.check_room(&who.user_id, specs.len() as u32, running_cap).await?;
        let model = model.or(settings.model.as_deref());
        let mut routed = Vec::with_capacity(specs.len());
        for mut spec in specs {
            crate::prefs::apply_defaults(&mut spec, settings);
            let route = self.route(Want::Imagine, model, Some(&spec)).await?;
            routed.push((spec, route));
        }
        Ok(routed)
    }

    /// Lets `who` through the gate with this prompt (an audit row either way), checks the
    /// prompt and that some backend can draw it, without queueing anything: what
    /// [`App::queue_imagine`] then queues.
    pub async fn check_imagine(
        &self,
        raw: &str,
        model: Option<&str>,
        who: &Requester,
    ) -> Result<Prepared, ImagineError> {
        let (settings, options) = self.preferences(who).await?;
        let composed = crate::prefs::compose(raw, &settings.suffix, &options);
        // The gate first, so a barred member hears why before any prompt advice.
        let tasks = prompt::parse(&composed, &self.prompt_limits()).map_or(1, |specs| specs.len() as u32);
        let admission = self.admit(who, Ask::create("imagine", &composed, tasks)).await?;
        let running_cap = admission.quota.running_cap;
        let routed = self.prepare(&composed, model, who, &settings, running_cap).await?;
        Ok(Prepared { routed, running_cap, daily_limit: admission.quota.daily_limit })
    }

    /// Queues one imagine per prompt of `raw` with the member's preferences applied (see
    /// [`App::prepare`]), without the gate (the CLI, tests). Nothing is queued unless every
    /// prompt is valid and has a backend.
    pub async fn imagine(
        &self,
        raw: &str,
        model: Option<&str>,
        who: &Requester,
    ) -> Result<Vec<Task>, ImagineError> {
        let (settings, options) = self.preferences(who).await?;
        let composed = crate::prefs::compose(raw, &settings.suffix, &options);
        let running_cap = self.quota_for(who).await.map_err(SubmitError::Internal)?.running_cap;
        let routed = self.prepare(&composed, model, who, &settings, running_cap).await?;
        self.queue_imagine(Prepared { routed, running_cap, daily_limit: None }, who).await
    }

    /// Queues what [`App::check_imagine`] prepared, all or nothing; each task carries the
    /// member's running cap. Their caps and daily quota are checked again as the tasks are
    /// created.
    pub async fn queue_imagine(
        &self,
        prepared: Prepared,
        who: &Requester,
    ) -> Result<Vec<Task>, ImagineError> {
        let mut tasks = Vec::with_capacity(prepared.routed.len());
        for (spec, route) in prepared.routed {
            let seed = spec.params.seed.unwrap_or_else(|| fastrand::u32(..));
            tasks.push(NewTask {
                kind: TaskKind::Imagine,
                parent_id: None,
                user_id: who.user_id.clone(),
                guild_id: who.guild_id.clone(),
                channel_id: who.channel_id.clone(),
                prompt: spec,
                backend: route.backend,
                model: route.model,
                seed,
                message: who.message.clone(),
                inputs: Vec::new(),
                running_cap: Some(prepared.running_cap),
            });
        }
        Ok(self.engine.submit_all(tasks, self.submit_limits(prepared.daily_limit)).await?)
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

    /// What /info shows `who`: their unfinished tasks, today's usage under their quota,
    /// limits, backends.
    pub async fn info(&self, who: &Requester) -> anyhow::Result<crate::discord::panels::InfoView> {
        let store = &self.db;
        let user = &who.user_id;
        let quota = self.quota_for(who).await?;
        let day = self.clock.day_start();
        Ok(crate::discord::panels::InfoView {
            user_id: user.to_string(),
            tasks: store.unfinished_of(user).await?,
            today: store.tasks_counted(user, day, day + DAY_MS).await?,
            daily_limit: quota.daily_limit,
            running_cap: quota.running_cap,
            queued_cap: self.config.limits.per_user_queued,
            backends: self.backend_views(),
        })
    }

    /// What /easel status shows an admin.
    pub async fn status(&self) -> anyhow::Result<crate::discord::panels::StatusView> {
        let store = &self.db;
        Ok(crate::discord::panels::StatusView {
            paused: self.engine.is_paused(),
            counts: store.counts_by_state().await?,
            queues: self.queue_rows().await?,
            backends: self.backend_views(),
            bans: store.ban_count().await?,
        })
    }

    /// Each backend's health, in config order.
    pub fn backend_views(&self) -> Vec<crate::backends::health::HealthView> {
        let backends = self.engine.backends();
        backends.names().filter_map(|n| backends.health().view(n)).collect()
    }

    /// Each busy backend's queue, with how long a task queued now would take to finish.
    pub async fn queue_rows(
        &self,
    ) -> anyhow::Result<Vec<(crate::db::BackendQueue, Option<std::time::Duration>)>> {
        let store = &self.db;
        let mut rows = Vec::new();
        for row in store.overview().await? {
            let mean = store.recent_run_seconds(&row.backend, 20).await?;
            let slots = self.engine.backends().concurrency(&row.backend);
            let rounds = (row.queued as usize + 1).div_ceil(slots) as f64;
            rows.push((row, mean.map(|m| std::time::Duration::from_secs_f64(m.max(0.0) * rounds))));
        }
        Ok(rows)
    }
}
