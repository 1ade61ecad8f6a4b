//! The `ohmygpt` backend: ohmygpt's Midjourney Open API (`/api/v1/ai/draw/mj/*`, protocol
//! notes in `research/ohmygpt-mj.md`). Every operation is one create call answering an
//! integer task id, which is stored at once through [`ProgressSink::accepted`] so a restart
//! re-attaches instead of paying twice; the task is then followed through `/query`, woken by
//! the optional webhook (to the registry's mailbox, under `/hooks/ohmygpt/…?task=<Easel
//! task>`, since the delivery's payload is undocumented), until it ends.
//!
//! - imagine: the member's prompt verbatim, Midjourney flags and leading image URLs
//!   included, in the pool the prompt asks for (`--relax` → NORMAL, `--fast` and `--turbo`
//!   → FAST, ohmygpt having no turbo pool), else the configured one (`mode` → `type`). A re-roll reaches the adapter as a
//!   plain imagine, so 🔄 is a fresh imagine of the same prompt.
//! - U and V: `/action` with the parent's task id and the customId from the `actions` it
//!   listed, kept in the parent's `remote_state`.
//! - blend: 2–5 data URLs and the `--ar`'s nearest of PORTRAIT, SQUARE, LANDSCAPE.
//! - describe: one data URL; the four prompts come back as one text in `prompt`.
//!
//! Grids come back as Midjourney's own 2×2 image, which the engine crops (`native_grid`).
//! The protocol itself (fields, envelope, statuses, actions, errors) is in the pure
//! modules; this one and [`client`] are the glue.

mod actions;
mod client;
mod errors;
mod follow;
mod settings;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use self::settings::{BodyFormat, Mode, Settings};

use self::actions::{RemoteState, Want};
use self::client::Api;
use self::errors::SERVICE;
use self::follow::Follow;
use self::wire::{Common, Endpoint, Fields, Task};
use crate::backends::http_util::{self, Letter, Mailbox, Route};
use crate::backends::kind::{self, Kind};
use crate::backends::mj_proxy::{Dimensions, split_prompts};
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ParentRef, ProgressSink,
    SourceImage,
};
use crate::base::FailureCode;
use crate::config::{BackendConfig, Secret};

pub(super) const KIND: Kind = Kind {
    name: "ohmygpt",
    default_concurrency: 2,
    needs_key: true,
    keys: kind::keys::<Settings>,
    check: |cfg| Settings::read(cfg).map(drop),
    build: |cfg, mailbox| Ok(std::sync::Arc::new(OhMyGptBackend::from_config(cfg, mailbox)?)),
};

/// Base poll interval when `poll_ms` is not set; clients of the service poll every 2–5 s.
const DEFAULT_POLL_MS: u64 = 2000;
/// Cap on a downloaded result image.
const MAX_IMAGE_BYTES: usize = 30 << 20;
/// Images `/blend` takes.
const BLEND_IMAGES: std::ops::RangeInclusive<usize> = 2..=5;

pub struct OhMyGptBackend {
    name: String,
    api: Api,
    api_key: Secret,
    mode: Mode,
    poll: Duration,
    /// Easel's public base URL for webhooks; `None` without `notify_hook` in the config.
    public_url: Option<String>,
    /// Where webhook deliveries arrive (`/hooks/ohmygpt/…`).
    hooks: Route<Task>,
}

impl std::fmt::Debug for OhMyGptBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OhMyGptBackend")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("mode", &self.mode)
            .field("webhooks", &self.public_url.is_some())
            .finish_non_exhaustive()
    }
}

impl OhMyGptBackend {
    /// Builds the backend; webhook deliveries (with `notify_hook`) arrive at `mailbox`.
    pub fn from_config(cfg: &BackendConfig, mailbox: &Mailbox) -> anyhow::Result<Self> {
        let settings = Settings::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let name = cfg.name.clone();
        let base = kind::base_url(cfg)?;
        let public_url =
            settings.notify_hook.as_deref().map(str::trim).filter(|h| !h.is_empty()).map(String::from);
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        let format = settings.body_format.unwrap_or_default();
        Ok(OhMyGptBackend {
            api: Api::new(&name, base, &cfg.api_key, format, timeout)?.image_hosts(&cfg.image_hosts),
            api_key: cfg.api_key.clone(),
            mode: settings.mode.unwrap_or_default(),
            poll: Duration::from_millis(settings.poll_ms.unwrap_or(DEFAULT_POLL_MS).max(10)),
            public_url,
            hooks: mailbox.route::<Task>("ohmygpt"),
            name,
        })
    }

    async fn execute(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        // Subscribed before the submit, so no early delivery goes unheard.
        let task = job.task_id.to_string();
        let hooks = self.public_url.as_ref().map(|_| self.hooks.subscribe(&self.name, &task));
        let id = match job.resume.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => id.to_string(),
            None => self.submit(job, progress).await?,
        };
        let follow = Follow { api: &self.api, backend: &self.name, progress, poll: self.poll, hooks };
        let task = follow.run(&id).await?;
        self.output(job, &id, task).await
    }

    /// Submits the job and records the task id.
    async fn submit(&self, job: &Job, progress: &ProgressSink) -> Result<String, BackendError> {
        let task = job.task_id.to_string();
        let webhook =
            self.public_url.as_deref().map(|public| self.hooks.url_for_task(public, &self.name, &task));
        let common = Common { mode: self.mode.for_speed(job.spec.params.speed), webhook: webhook.as_deref() };
        let (endpoint, fields) = match &job.op {
            Operation::Imagine => (Endpoint::Imagine, wire::imagine(&job.spec.canonical(), &common)),
            Operation::Blend { images } => {
                if !BLEND_IMAGES.contains(&images.len()) {
                    return Err(BackendError::fatal(
                        FailureCode::BackendRejected,
                        format!("Midjourney blends 2 to 5 images, not {}.", images.len()),
                        format!("blend of {} images", images.len()),
                    ));
                }
                let dimensions = Dimensions::nearest(job.spec.aspect_or_square().ratio());
                let dimensions = serde_json::to_value(dimensions).unwrap_or_default();
                (Endpoint::Blend, wire::blend(images.iter().map(data_url).collect(), dimensions, &common))
            }
            Operation::Describe { image } => (Endpoint::Describe, wire::describe(data_url(image), &common)),
            Operation::Upscale { index, parent, .. } => self.press(parent, Want::Upscale(*index), &common)?,
            Operation::Variation { index, strength, parent, .. } => {
                self.press(parent, Want::Variation(*index, *strength), &common)?
            }
            op @ (Operation::Edit { .. } | Operation::Upscale2x { .. }) => {
                return Err(BackendError::fatal(
                    FailureCode::Unsupported,
                    format!("Backend `{}` does not offer this button.", self.name),
                    format!("{} is not pressed through ohmygpt", op.name()),
                ));
            }
        };
        let envelope = self.api.call(endpoint, &fields).await?;
        let Some(id) = envelope.task_id() else {
            return Err(errors::bad_response(
                "an accepted task without a task id",
                format!("{}: `data` is {}", endpoint.path(), envelope.data),
            ));
        };
        progress.accepted(id.clone()).await;
        Ok(id)
    }

    /// The `/action` call that presses the parent's action for `want`.
    fn press(
        &self,
        parent: &ParentRef,
        want: Want,
        common: &Common<'_>,
    ) -> Result<(Endpoint, Fields), BackendError> {
        let Some(parent_id) = parent.remote_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) else {
            return Err(SERVICE.unsupported(&self.name, "can only act on images it made itself"));
        };
        let state = RemoteState::read(parent.remote_state.as_ref());
        let custom_id = want.custom_id(&state).map_err(|why| SERVICE.unsupported(&self.name, &why))?;
        Ok((Endpoint::Action, wire::action(parent_id, custom_id, common)))
    }

    /// The finished task as Easel's output: describe's prompts, or the one image (a 2×2 grid
    /// for everything but an upscale), with the task's actions kept for later U and V.
    async fn output(&self, job: &Job, id: &str, task: Task) -> Result<JobOutput, BackendError> {
        let remote_state = RemoteState::of(id, &task).to_value();
        if let Operation::Describe { .. } = job.op {
            let prompts = task.prompt().map(|text| split_prompts(&text)).unwrap_or_default();
            if prompts.is_empty() {
                return Err(errors::bad_response(
                    "a description with no prompts in it",
                    format!("task {id}: no text in `prompt`"),
                ));
            }
            return Ok(JobOutput { prompts, remote_state, ..JobOutput::default() });
        }
        let urls = task.image_urls();
        if urls.is_empty() {
            return Err(errors::bad_response(
                "a finished task without an image",
                format!("task {id}: no imageS3Url or imageDcUrl"),
            ));
        }
        // The object-storage copy first; the Discord link when that one does not work.
        let mut last = None;
        for url in &urls {
            match self.api.download(url, MAX_IMAGE_BYTES, self.api.timeout()).await {
                Ok(bytes) => {
                    let images = vec![OutputImage { bytes, seed: None }];
                    return Ok(JobOutput { images, prompts: Vec::new(), remote_state });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| errors::bad_response("no image", id.to_string())))
    }
}

#[async_trait]
impl Backend for OhMyGptBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::midjourney()
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        self.execute(&job, &progress)
            .await
            .map_err(|e| http_util::redact(e, &[self.api_key.expose(), self.hooks.secret()]))
    }

    /// Lists one page of tasks: a cheap call that needs the key and the midJourney permission.
    async fn health(&self) -> Result<(), String> {
        let query = [("page", "1"), ("pageSize", "5")];
        match self.api.call_with_query(Endpoint::ListTasks, &wire::list_tasks(), &query).await {
            Ok(_) => Ok(()),
            // Rate limited means reachable and keyed.
            Err(e) if e.code == FailureCode::RateLimited && e.retryable => Ok(()),
            Err(e) => Err(http_util::redact(e, &[self.api_key.expose()]).user_message),
        }
    }
}

fn data_url(image: &SourceImage) -> String {
    format!("data:{};base64,{}", image.mime, STANDARD.encode(&image.bytes))
}

/// Deliveries only wake the job, which then asks `/query`; a delivery that says nothing of
/// the task's status always wakes it, one that does only when it moved on.
impl Letter for Task {
    fn job_id(&self) -> Option<String> {
        self.id()
    }

    fn supersedes(&self, seen: &Self) -> bool {
        !self.has_status() || !seen.has_status() || self.order_key() > seen.order_key()
    }
}
