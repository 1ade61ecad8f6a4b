//! The `a1111` backend: AUTOMATIC1111's Stable Diffusion web UI or SD WebUI Forge, started
//! with `--api` (and optionally `--api-auth user:password`, given to Easel as `api_key`).
//! `base_url` is the server root, e.g. `http://127.0.0.1:7860`; the adapter adds `/sdapi/v1`.
//!
//! - **imagine** is one `txt2img` with `batch_size: 4` and `seed` = the task's seed, so the four
//!   images have seeds `seed..seed+3`, read back from `info.all_seeds`. The size is `--ar` at
//!   `image_size` on the long side (short side a multiple of 8); `--no` is the negative prompt,
//!   `--tile` sets `tiling`, `model` goes in `override_settings.sd_model_checkpoint`. When the
//!   server puts its own grid first (`index_of_first_image` = 1) it is skipped. The seeds and
//!   the size are kept in the task's remote state for V.
//! - **variation**, `variation_mode = "subseed"` (default): txt2img again at the parent's size
//!   with the chosen image's own seed plus a second noise (`subseed`, four in a row from the
//!   variation task's seed) mixed in at `subseed_strength` 0.15 (Subtle) or 0.35 (Strong): the
//!   same composition with changed details. An image that was itself made by img2img or as a
//!   subseed variation has no seed that reproduces it, so its variations use img2img.
//!   `variation_mode = "img2img"`: img2img of the chosen image at `denoising_strength` 0.35
//!   (Subtle) or 0.6 (Strong), four images.
//! - **upscale** is `extra-single-image` with `upscaler` (default "R-ESRGAN 4x+") at
//!   `upscale_factor` (default 2).
//! - **describe** is `interrogate` with `interrogate_model` (default "clip"), which gives one
//!   caption: a subject phrase and comma-separated style tags. Easel turns it into four
//!   prompts: the caption as written; the subject alone; the subject with the first half of
//!   the tags; the subject with the other half (repeats are given once, so a caption with
//!   fewer than two tags gives fewer prompts).
//! - **blend** is not offered: the API has no way to mix images.
//!
//! The server runs one job at a time behind a global lock, so the adapter sends its own image
//! calls one at a time too (a queued call would otherwise spend its timeout waiting) and the
//! kind's default `concurrency` is 1. While txt2img or img2img runs, `/progress` is read every
//! second for the percentage and the live preview. A job interrupted by a restart is simply
//! run again (`rerun_is_free`): the GPU is the admin's own, so that costs only time.

mod client;
// Shared with `opj`, whose prompt-extract answers an interrogator caption too.
pub(crate) mod describe;
mod edit;
mod errors;
mod grid;
mod images;
mod progress;
mod settings;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::Mutex;

use self::client::{Api, Endpoint};
use self::errors::SERVICE;
use self::grid::{GRID, Plan};
use self::settings::{Options, Settings};
use self::wire::{
    Img2ImgRequest, InterrogateRequest, InterrogateResponse, MadeBy, RemoteState, UpscaleRequest,
    UpscaleResponse,
};
use crate::backends::http_util::redact;
use crate::backends::kind::{self, Kind};
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ParentRef, ProgressSink,
    SourceImage,
};
use crate::base::{FailureCode, Strength, UpscaleMode};
use crate::config::BackendConfig;

/// Most names listed when an admin has to pick an upscaler the server has.
const LISTED_NAMES: usize = 12;

pub(super) const KIND: Kind = Kind {
    name: "a1111",
    // One job at a time behind the server's global lock: a second would only wait there,
    // hiding its place in Easel's own queue.
    default_concurrency: 1,
    needs_key: false,
    keys: kind::keys::<Options>,
    check: |cfg| Options::read(cfg).map(drop),
    build: |cfg, _| Ok(std::sync::Arc::new(A1111Backend::from_config(cfg)?)),
};

pub struct A1111Backend {
    settings: Settings,
    api: Api,
    /// Every form of the password, scrubbed from every error.
    secrets: Vec<String>,
    /// Held for each call that occupies the server's queue.
    gpu: Mutex<()>,
    poll_every: Duration,
}

impl std::fmt::Debug for A1111Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Settings` prints the password as `***` through `Credentials`' own Debug.
        f.debug_struct("A1111Backend").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl A1111Backend {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Self> {
        let settings = Settings::from_config(cfg)?;
        let api = Api::new(&settings)?;
        let secrets = settings.secrets();
        Ok(A1111Backend { settings, api, secrets, gpu: Mutex::new(()), poll_every: settings::POLL_EVERY })
    }

    /// Reads `/progress` at another interval than once a second (tests use a few milliseconds).
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_every = every.max(Duration::from_millis(1));
        self
    }

    async fn dispatch(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        match &job.op {
            Operation::Imagine => self.txt2img(job, Plan::imagine(&self.settings, job), progress).await,
            Operation::Variation { index, strength, source, parent } => {
                self.variation(job, *index, *strength, source, parent, progress).await
            }
            Operation::Upscale { index, source, parent } => {
                self.upscale(*index, source, parent, self.settings.upscale_factor).await
            }
            Operation::Edit { plan, source, .. } => self.edit(job, plan, source, progress).await,
            Operation::Upscale2x { index, mode: UpscaleMode::Subtle, source, parent } => {
                self.upscale(*index, source, parent, 2.0).await
            }
            Operation::Upscale2x { mode: UpscaleMode::Creative, source, .. } => {
                self.upscale_creative(job, source, progress).await
            }
            Operation::Describe { image } => self.describe(image).await,
            Operation::Blend { .. } => Err(SERVICE.unsupported(&self.settings.name, "cannot blend images")),
        }
    }

    async fn variation(
        &self,
        job: &Job,
        index: u8,
        strength: Strength,
        source: &SourceImage,
        parent: &ParentRef,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let plan = Plan::variation(&self.settings, job, index, strength, source, parent);
        if plan.made_by != MadeBy::Img2img {
            return self.txt2img(job, plan, progress).await;
        }
        let negative = job.spec.negative_prompt();
        let tag = grid::task_tag(job);
        let body = Img2ImgRequest {
            common: plan.request(&self.settings, job, negative.as_deref(), &tag),
            init_images: vec![images::encode(&source.bytes)],
            denoising_strength: settings::denoising_strength(strength),
            resize_mode: 0,
        };
        let answer = self.generate(Endpoint::Img2img, &body, progress).await?;
        Ok(plan.output(images::batch(&answer, &self.what(Endpoint::Img2img), GRID)?))
    }

    async fn txt2img(
        &self,
        job: &Job,
        plan: Plan,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let negative = job.spec.negative_prompt();
        let tag = grid::task_tag(job);
        let body = plan.request(&self.settings, job, negative.as_deref(), &tag);
        let answer = self.generate(Endpoint::Txt2img, &body, progress).await?;
        Ok(plan.output(images::batch(&answer, &self.what(Endpoint::Txt2img), GRID)?))
    }

    async fn upscale(
        &self,
        index: u8,
        source: &SourceImage,
        parent: &ParentRef,
        factor: f64,
    ) -> Result<JobOutput, BackendError> {
        let s = &self.settings;
        let body = UpscaleRequest {
            image: images::encode(&source.bytes),
            upscaler_1: &s.upscaler,
            resize_mode: 0,
            upscaling_resize: factor,
            show_extras_results: true,
        };
        let answer = match self.queued(Endpoint::Upscale, &body).await {
            Err(e) if e.detail.contains(errors::UNKNOWN_UPSCALER) => {
                return Err(self.with_choices(e, Endpoint::Upscalers, "upscalers").await);
            }
            other => other?,
        };
        let what = self.what(Endpoint::Upscale);
        let reply: UpscaleResponse =
            SERVICE.parse_json(&what, &answer, "an answer that is not an upscale result")?;
        let Some(image) = reply.image.filter(|i| !i.trim().is_empty()) else {
            return Err(SERVICE.bad_response("an upscale result with no image", format!("{what}: no image")));
        };
        let bytes = images::decode(&image, &format!("{what}: image"))?;
        let state = RemoteState::parse(parent.remote_state.as_ref());
        let seed = grid::image_seed(state.as_ref(), parent, index).and_then(|s| u32::try_from(s).ok());
        Ok(JobOutput {
            images: vec![OutputImage { bytes, seed }],
            prompts: Vec::new(),
            remote_state: Some(serde_json::json!({ "upscaler": s.upscaler, "factor": factor })),
        })
    }

    async fn describe(&self, image: &SourceImage) -> Result<JobOutput, BackendError> {
        let model = &self.settings.interrogate_model;
        let body = InterrogateRequest { image: images::encode(&image.bytes), model };
        let answer = self.queued(Endpoint::Interrogate, &body).await?;
        let what = self.what(Endpoint::Interrogate);
        let reply: InterrogateResponse =
            SERVICE.parse_json(&what, &answer, "an answer that is not a caption")?;
        let caption = reply.caption.unwrap_or_default();
        // A1111's CLIP interrogator answers 200 with "<error>" appended when it fails midway.
        let failed = caption.contains("<error>");
        let prompts = describe::prompts(&caption.replace("<error>", ""));
        if prompts.is_empty() {
            let detail = format!("{what} (model {model}): caption {caption:?}");
            return Err(if failed {
                BackendError::retryable(
                    FailureCode::BackendError,
                    "The image server's interrogator failed; its console shows why.",
                    detail,
                )
            } else {
                SERVICE.bad_response("an empty caption", detail)
            });
        }
        Ok(JobOutput { prompts, ..JobOutput::default() })
    }

    /// A txt2img or img2img call, with `/progress` read while it is in flight.
    async fn generate(
        &self,
        endpoint: Endpoint,
        body: &impl Serialize,
        progress: &ProgressSink,
    ) -> Result<Bytes, BackendError> {
        let _turn = self.gpu.lock().await;
        let call = self.api.post_json(endpoint, body);
        let watch = progress::watch(&self.api, progress, self.poll_every);
        tokio::select! {
            result = call => result,
            never = watch => match never {},
        }
    }

    /// A call that occupies the server's queue without progress to watch.
    async fn queued(&self, endpoint: Endpoint, body: &impl Serialize) -> Result<Bytes, BackendError> {
        let _turn = self.gpu.lock().await;
        self.api.post_json(endpoint, body).await
    }

    /// Adds the names the server does have to an error about one it does not.
    async fn with_choices(&self, mut err: BackendError, list: Endpoint, what: &str) -> BackendError {
        let names = self.api.list_names(list).await;
        if !names.is_empty() {
            let shown: Vec<String> = names.iter().take(LISTED_NAMES).map(|n| format!("`{n}`")).collect();
            let more = names.len().saturating_sub(LISTED_NAMES);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            err.user_message += &format!(" The server's {what}: {}{more}.", shown.join(", "));
        }
        err
    }

    fn what(&self, endpoint: Endpoint) -> String {
        format!("POST {}", self.api.url(endpoint))
    }
}

#[async_trait]
impl Backend for A1111Backend {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn capabilities(&self) -> Capabilities {
        self.settings.capabilities()
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        progress.percent(0, None);
        self.dispatch(&job, &progress).await.map_err(|e| redact(e, &self.secrets))
    }

    /// Lists the checkpoints: cheap, outside the server's job queue, and behind `--api-auth`,
    /// so it checks both that the API is up and that the credentials work.
    async fn health(&self) -> Result<(), String> {
        match self.api.get(Endpoint::SdModels).await {
            Ok(_) => Ok(()),
            Err(e) => Err(redact(e, &self.secrets).user_message),
        }
    }
}
