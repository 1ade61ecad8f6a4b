//! Builds a running Easel from a [`Config`]: the database, image storage, backends and the
//! engine. This is the one wiring function; the binary and the tests both call it, so what
//! is tested is what runs.

use crate::backends::Registry;
use crate::config::Config;
use crate::prompt::{self, PromptError, PromptLimits};
use crate::storage::Storage;
use crate::tasks::engine::{Engine, SubmitError};
use crate::tasks::store::Store;
use crate::tasks::{MessageRef, NewTask, Task, TaskKind};

pub struct App {
    pub config: Config,
    pub engine: Engine,
    pub health: std::sync::Arc<crate::http::Health>,
    /// Fetches the images members hand to /blend and /describe.
    pub downloader: crate::imaging::Downloader,
}

/// Who asked, and where the answer goes.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub user_id: String,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub message: MessageRef,
}

#[derive(Debug, thiserror::Error)]
pub enum ImagineError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

impl App {
    /// Opens everything and settles tasks a previous run left unfinished. The engine is not
    /// started yet: call [`App::start`].
    pub async fn build(config: Config) -> anyhow::Result<App> {
        crate::http::prometheus();
        let store = Store::open(&config.database.url).await?;
        let storage = Storage::new(&config.storage.dir)?;
        let backends = Registry::from_config(&config.effective_backends(), &config.health)?;
        let engine =
            Engine::new(store, storage, backends, config.limits.clone(), config.imaging.grid_quality);
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
        Ok(App { config, engine, health: Default::default(), downloader })
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

    /// The first configured backend that can do what `can` asks, in config order.
    pub fn backend_that(&self, can: impl Fn(&crate::backends::Capabilities) -> bool) -> Option<String> {
        let backends = self.engine.backends();
        backends.names().find(|n| backends.get(n).is_some_and(|b| can(&b.capabilities()))).map(str::to_string)
    }

    /// Checks a prompt without queueing anything.
    pub fn check_prompt(&self, raw: &str) -> Result<(), PromptError> {
        prompt::parse(raw, &self.prompt_limits()).map(|_| ())
    }

    /// Parses a prompt (with its `{a, b}` permutations) and queues one imagine per prompt on
    /// `backend`, or the default backend. Nothing is queued unless every prompt is valid.
    pub async fn imagine(
        &self,
        raw: &str,
        backend: Option<&str>,
        who: &Requester,
    ) -> Result<Vec<Task>, ImagineError> {
        let specs = prompt::parse(raw, &self.prompt_limits())?;
        let backends = self.engine.backends();
        let backend = match backend {
            Some(name) => name.to_string(),
            None => backends.default_name().unwrap_or("demo").to_string(),
        };
        let mut tasks = Vec::with_capacity(specs.len());
        for spec in specs {
            let seed = spec.params.seed.unwrap_or_else(|| fastrand::u32(..));
            let task = self
                .engine
                .submit(NewTask {
                    kind: TaskKind::Imagine,
                    parent_id: None,
                    user_id: who.user_id.clone(),
                    guild_id: who.guild_id.clone(),
                    channel_id: who.channel_id.clone(),
                    prompt: spec,
                    backend: backend.clone(),
                    model: None,
                    seed,
                    message: who.message.clone(),
                    inputs: Vec::new(),
                })
                .await?;
            tasks.push(task);
        }
        Ok(tasks)
    }
}
