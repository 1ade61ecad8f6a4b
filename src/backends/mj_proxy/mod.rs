//! The `mj-proxy` backend: a midjourney-proxy server (novicezk's or trueai-org's, and the
//! hosted services that speak their protocol) driving a Midjourney account. Every operation
//! is a submit that returns a task id, which is stored at once through
//! [`ProgressSink::accepted`] so a restart re-attaches instead of paying for the job twice;
//! the task is then followed by polling, sped up by the optional notifyHook deliveries (to the
//! registry's webhook mailbox, under `/hooks/mj/…`), until it ends.
//!
//! - imagine: `/submit/imagine` with the canonical prompt, passed to Midjourney verbatim
//!   (image prompts are the URLs at its start). A re-roll reaches the adapter as a plain
//!   imagine without a parent, so 🔄 is a fresh `/submit/imagine` rather than the reroll
//!   button; Easel's own seed is not added, so each re-roll differs.
//! - blend: `/submit/blend` with 2–5 data URLs and the `--ar`'s nearest of 2:3, 1:1, 3:2.
//! - describe: `/submit/describe`, the keycap-numbered answer split into four prompts.
//! - U and V: the parent's button through `/submit/action`, else `/submit/change` by index.
//!
//! Grids come back as Midjourney's own 2×2 image, which the engine crops (`native_grid`).

mod actions;
mod describe;
mod errors;
mod follow;
mod settings;
mod wire;

// Midjourney's own conventions, which the `ohmygpt` kind shares.
pub(crate) use self::describe::split_prompts;
pub(crate) use self::errors::{failed_job, is_blocked};
pub(crate) use self::wire::Dimensions;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde::Serialize;

use self::actions::{RemoteState, Want};
use self::errors::SERVICE;
use self::follow::Follow;
use self::settings::Options;
use self::wire::{
    ActionRequest, BlendRequest, ChangeRequest, Common, DescribeRequest, ImagineRequest, SubmitResult, Task,
};
use crate::backends::http_util::{Auth, JsonClient, Letter, Mailbox, Probe, Reply, Route, redact};
use crate::backends::kind::{self, Kind};
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ParentRef, ProgressSink,
    SourceImage,
};
use crate::base::FailureCode;
use crate::config::{BackendConfig, Secret};
use crate::prompt::Speed;

pub(super) const KIND: Kind = Kind {
    name: "mj-proxy",
    default_concurrency: 2,
    needs_key: false,
    keys: kind::keys::<Options>,
    check: |cfg| Options::read(cfg).map(drop),
    build: |cfg, mailbox| Ok(std::sync::Arc::new(MjProxyBackend::from_config(cfg, mailbox)?)),
};

/// Base poll interval when `poll_ms` is not set.
const DEFAULT_POLL_MS: u64 = 1000;
/// Cap on a downloaded result image.
const MAX_IMAGE_BYTES: usize = 30 << 20;
/// Cap on one API answer: a Task is a few KiB; describe's prompts and buttons add little.
const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// A result link that cannot be downloaded, completing "… sent a response Easel could not use: …".
const BAD_LINK: &str = "an image link that is not an http(s) URL";
/// Images `/blend` takes.
const BLEND_IMAGES: std::ops::RangeInclusive<usize> = 2..=5;

pub struct MjProxyBackend {
    name: String,
    api: JsonClient,
    api_key: Secret,
    poll: Duration,
    /// The `notifyHook` sent with submits; `None` without `notify_hook` in the config.
    hook_url: Option<String>,
    /// Where notifyHook deliveries arrive (`/hooks/mj/…`).
    hooks: Route<Task>,
    /// Set once the proxy answered 404 to `/submit/action`, so later U/V go straight to
    /// `/submit/change`.
    no_action_endpoint: AtomicBool,
    /// Submits of a prompt with `--fast`/`--relax`/`--turbo` go to that speed's mount.
    speed_paths: bool,
}

impl std::fmt::Debug for MjProxyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MjProxyBackend")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("poll", &self.poll)
            .field("hooks", &self.hook_url.is_some())
            .finish_non_exhaustive()
    }
}

impl MjProxyBackend {
    /// Builds the backend; notifyHook deliveries (with `notify_hook`) arrive at `mailbox`.
    pub fn from_config(cfg: &BackendConfig, mailbox: &Mailbox) -> anyhow::Result<Self> {
        let settings = Options::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let options = settings.hooked();
        let hooks = mailbox.route::<Task>("mj");
        let name = cfg.name.clone();
        let base = kind::base_url(cfg)?;
        let hook_url = options.hook_url(&hooks, &name);
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        Ok(MjProxyBackend {
            api: client(&name, base, &cfg.api_key, timeout)?.image_hosts(&cfg.image_hosts),
            api_key: cfg.api_key.clone(),
            poll: Duration::from_millis(options.poll_ms.unwrap_or(DEFAULT_POLL_MS).max(10)),
            hook_url,
            hooks,
            no_action_endpoint: AtomicBool::new(false),
            speed_paths: settings.speed_paths,
            name,
        })
    }

    async fn execute(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        let (id, fallback) = match job.resume.as_deref().filter(|id| !id.trim().is_empty()) {
            Some(id) => (id.to_string(), None),
            None => self.submit(job, progress).await?,
        };
        let follow = Follow {
            api: &self.api,
            backend: &self.name,
            progress,
            poll: self.poll,
            hooks: self.hook_url.as_ref().map(|_| self.hooks.subscribe(&self.name, &id)),
            fallback,
        };
        let task = follow.run(&id).await?;
        self.output(job, &id, task).await
    }

    /// Submits the job and records the task id; returns it with what the answer said about an
    /// already existing task (code 21).
    async fn submit(
        &self,
        job: &Job,
        progress: &ProgressSink,
    ) -> Result<(String, Option<Task>), BackendError> {
        let common =
            Common { notify_hook: self.hook_url.as_deref(), state: format!("easel-{}", job.task_id) };
        let speed = job.spec.params.speed;
        let answer = match &job.op {
            Operation::Imagine => {
                let prompt = job.spec.canonical();
                let body = ImagineRequest { prompt: &prompt, base64_array: Vec::new(), common };
                self.submit_to("imagine", &body, speed).await?
            }
            Operation::Blend { images } => {
                if !BLEND_IMAGES.contains(&images.len()) {
                    return Err(BackendError::fatal(
                        FailureCode::BackendRejected,
                        format!("Midjourney blends 2 to 5 images, not {}.", images.len()),
                        format!("blend of {} images", images.len()),
                    ));
                }
                let body = BlendRequest {
                    base64_array: images.iter().map(data_url).collect(),
                    dimensions: Dimensions::nearest(job.spec.aspect_or_square().ratio()),
                    common,
                };
                self.submit_to("blend", &body, speed).await?
            }
            Operation::Describe { image } => {
                self.submit_to("describe", &DescribeRequest { base64: data_url(image), common }, speed)
                    .await?
            }
            Operation::Upscale { index, parent, .. } => {
                self.press(parent, Want::Upscale(*index), common, speed).await?
            }
            Operation::Variation { index, strength, parent, .. } => {
                self.press(parent, Want::Variation(*index, *strength), common, speed).await?
            }
            op @ (Operation::Edit { .. } | Operation::Upscale2x { .. }) => {
                return Err(BackendError::fatal(
                    FailureCode::Unsupported,
                    format!("Backend `{}` does not offer this button.", self.name),
                    format!("{} is not pressed through this proxy", op.name()),
                ));
            }
        };

        let Some(id) = answer.result.clone().filter(|id| !id.trim().is_empty()) else {
            return Err(SERVICE.bad_response(
                "an accepted submit without a task id",
                format!("submit code {}: no `result`", answer.code),
            ));
        };
        progress.accepted(id.clone()).await;
        match answer.code {
            22 => {
                let ahead = answer.property_str("numberOfQueues").unwrap_or_else(|| "some".into());
                tracing::info!(backend = %self.name, task = %id, ahead = %ahead, "mj-proxy queued the task");
                progress.percent(0, None);
                Ok((id, None))
            }
            // 21 is either an existing result (a repeated U at novicezk) or a new task waiting
            // in a remix dialog (trueai).
            21 if answer.property_str("remix").as_deref() == Some("true") => {
                Err(errors::modal(&self.name, &id))
            }
            21 => {
                let known = Task {
                    id: Some(id.clone()),
                    status: answer.property_str("status"),
                    image_url: answer.property_str("imageUrl"),
                    ..Task::default()
                };
                Ok((id, known.status.is_some().then_some(known)))
            }
            _ => Ok((id, None)),
        }
    }

    /// Presses the parent's button for `want`, or asks `/submit/change` when there is none or
    /// the proxy has no `/submit/action`.
    async fn press(
        &self,
        parent: &ParentRef,
        want: Want,
        common: Common<'_>,
        speed: Option<Speed>,
    ) -> Result<SubmitResult, BackendError> {
        if want.index() > 3 {
            return Err(SERVICE.unsupported(&self.name, "has only images 1 to 4 in a grid"));
        }
        let Some(parent_id) = parent.remote_id.as_deref().filter(|id| !id.trim().is_empty()) else {
            return Err(SERVICE.unsupported(&self.name, "can only act on images it made itself"));
        };
        let state = RemoteState::read(parent.remote_state.as_ref());
        if let Some(custom_id) = want.button(&state)
            && !self.no_action_endpoint.load(Ordering::Relaxed)
        {
            let body = ActionRequest { task_id: parent_id, custom_id, common: common.clone() };
            if let Some(answer) = self.post_submit("action", &body, speed).await? {
                return Ok(answer);
            }
            tracing::info!(backend = %self.name, "mj-proxy has no /submit/action; using /submit/change");
            self.no_action_endpoint.store(true, Ordering::Relaxed);
        }
        let (action, index) = want.change(&state).map_err(|why| SERVICE.unsupported(&self.name, why))?;
        self.submit_to("change", &ChangeRequest { task_id: parent_id, action, index, common }, speed).await
    }

    /// `submit/<what>` under `base_url`, or under the mount for `speed` with `speed_paths`.
    fn submit_url(&self, what: &str, speed: Option<Speed>) -> Url {
        let url = self.api.url(&["submit", what]);
        match self.speed_paths {
            true => settings::for_speed(self.api.base(), url, speed),
            false => url,
        }
    }

    /// `POST submit/<what>`, failing when the endpoint does not exist.
    async fn submit_to(
        &self,
        what: &str,
        body: &impl Serialize,
        speed: Option<Speed>,
    ) -> Result<SubmitResult, BackendError> {
        match self.post_submit(what, body, speed).await? {
            Some(answer) => Ok(answer),
            None => {
                let what = format!("POST {}", self.submit_url(what, speed));
                let missing = Reply {
                    status: reqwest::StatusCode::NOT_FOUND,
                    headers: Default::default(),
                    body: Default::default(),
                    what,
                };
                Err(errors::from_status(&self.name, &missing))
            }
        }
    }

    /// `POST submit/<what>`: the accepted answer, `None` when the proxy has no such endpoint
    /// (a 404 that is not a submit result: trueai answers code 3 with HTTP 404 too), or the
    /// classified refusal.
    async fn post_submit(
        &self,
        what: &str,
        body: &impl Serialize,
        speed: Option<Speed>,
    ) -> Result<Option<SubmitResult>, BackendError> {
        let reply = self.api.post(self.submit_url(what, speed), body).await?;
        let status = reply.status.as_u16();
        if !matches!(status, 401 | 403 | 429)
            && let Some(answer) = SubmitResult::parse(&reply.body)
        {
            errors::check_code(&reply.what, &answer)?;
            return Ok(Some(answer));
        }
        if status == 404 {
            return Ok(None);
        }
        Err(if reply.status.is_success() {
            SERVICE.unusable_json(&reply.what, &reply.body, "an answer that is not a submit result")
        } else {
            errors::from_status(&self.name, &reply)
        })
    }

    /// The finished task as Easel's output: describe's prompts, or the one image (a 2×2 grid
    /// for everything but an upscale), with the task's buttons kept for later U and V.
    async fn output(&self, job: &Job, id: &str, task: Task) -> Result<JobOutput, BackendError> {
        let remote_state = RemoteState::of(id, &task).to_value();
        if let Operation::Describe { .. } = job.op {
            let prompts = describe::prompts(&task);
            if prompts.is_empty() {
                return Err(SERVICE.bad_response(
                    "a description with no prompts in it",
                    format!("task {id}: no keycap-numbered prompts in finalPrompt/promptEn/prompt"),
                ));
            }
            return Ok(JobOutput { prompts, remote_state, ..JobOutput::default() });
        }
        let Some(url) = task.image_url() else {
            return Err(
                SERVICE.bad_response("a finished task without an image", format!("task {id}: no imageUrl"))
            );
        };
        let bytes = self.api.download(url, MAX_IMAGE_BYTES, BAD_LINK).await?;
        Ok(JobOutput { images: vec![OutputImage { bytes, seed: None }], prompts: Vec::new(), remote_state })
    }
}

#[async_trait]
impl Backend for MjProxyBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::midjourney()
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        self.execute(&job, &progress)
            .await
            .map_err(|e| redact(e, &[self.api_key.expose(), self.hooks.secret()]))
    }

    async fn health(&self) -> Result<(), String> {
        // A task that does not exist, which both proxies answer cheaply (empty, `null` or 404)
        // once the secret is accepted.
        self.api.probe(self.api.url(&["task", "easel-health-probe", "fetch"]), Probe::NoServerError).await
    }
}

/// The client for the proxy: the secret goes in the `mj-api-secret` header both proxies read.
fn client(backend: &str, base: Url, key: &Secret, timeout: Duration) -> anyhow::Result<JsonClient> {
    Ok(JsonClient::new(&SERVICE, backend, base, Auth::Header("mj-api-secret", key), timeout)?
        .max_response(MAX_RESPONSE_BYTES))
}

fn data_url(image: &SourceImage) -> String {
    format!("data:{};base64,{}", image.mime, STANDARD.encode(&image.bytes))
}

/// Deliveries can come twice or out of order: only a later status, or more progress in the
/// same status, replaces what was seen.
impl Letter for Task {
    fn job_id(&self) -> Option<String> {
        self.id.clone()
    }

    fn supersedes(&self, seen: &Self) -> bool {
        self.order_key() > seen.order_key()
    }
}
