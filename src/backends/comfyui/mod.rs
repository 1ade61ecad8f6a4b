//! The `comfyui` backend: a ComfyUI server driven through workflow templates, one per
//! operation, in ComfyUI's API format with placeholders Easel fills for each job (see
//! [`template`]). `base_url` is the server root, e.g. `http://127.0.0.1:8188`.
//!
//! - **imagine** fills the imagine template (built in: checkpoint `model` → two CLIPTextEncode
//!   → EmptyLatentImage → KSampler → VAEDecode → SaveImage) with the prompt, `--no` as the
//!   negative prompt, the task's seed, `--ar` at `image_size` on the long side, and
//!   `batch_size` 4, so one prompt makes the whole grid. ComfyUI draws the noise of a batch
//!   from the one seed (`comfy.sample.prepare_noise`): the four images share the task's seed and
//!   none has a seed of its own (image *i* is not seed + *i*), so no per-image seed is
//!   reported; the seed is kept in the remote state with the result files.
//! - **variation** uploads the chosen image (`POST /upload/image`, into `input/easel/`) and
//!   fills the variation template (built in: LoadImage → VAEEncode → RepeatLatentBatch ×4 →
//!   KSampler at `denoise` 0.35 Subtle / 0.6 Strong with the task's seed).
//! - **upscale** uploads the image and runs the upscale template; there is no built-in one (an
//!   upscale model is a file the admin chooses; `deploy/comfyui/upscale.json` is an example), so
//!   without `workflows.upscale` U serves the stored image at full size. Upscale (Subtle) runs
//!   the upscale workflow (or, without one, a built-in Lanczos 2×) and is brought to exactly 2×.
//! - **edit** (Zoom Out, Custom Zoom, Make Square, Pan, Vary (Region)) uploads the source on
//!   its padded canvas, transparent where it repaints, and fills the edit template (built in:
//!   LoadImage → VAEEncode → SetLatentNoiseMask from LoadImage's MASK → RepeatLatentBatch ×4 →
//!   KSampler at the plan's strength); see [`edit`] for the separate `{{mask}}`.
//! - **upscale_creative** (built in: LoadImage → ImageScaleBy 2× → VAEEncode → KSampler at
//!   denoise 0.35) re-draws the image at twice its size.
//!
//! An operation whose workflow is set to `""` is off. Blend and describe are not offered.
//!
//! A job opens the `/ws` WebSocket with a fresh client id, posts `{prompt, client_id}` to
//! `/prompt`, and stores the prompt id at once ([`ProgressSink::accepted`]); progress,
//! previews and the end then come over the socket, and the images from `/history/{id}` and
//! `/view` (see [`follow`]). After a restart the job re-attaches to the same prompt id by polling
//! (`job.resume`), or submits again when the server no longer knows it. Cancel deletes a queued
//! prompt from `/queue`; a running one is interrupted only with `POST /interrupt
//! {"prompt_id"}` on servers that honour the id (0.3.57 and later), never with the global
//! interrupt, which would stop whoever's prompt is running.

mod checkpoint;
mod client;
mod edit;
mod errors;
mod follow;
mod inputs;
mod placeholder;
mod settings;
mod socket;
mod template;
mod wire;

use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use serde_json::json;

use self::checkpoint::Checkpoint;
use self::client::Api;
use self::errors::SERVICE;
use self::settings::Options;
use self::socket::Socket;
use self::template::{Placeholder, Template, Workflow, load};
use self::wire::{HistoryEntry, Place, PromptRequest, PromptResponse};
use crate::backends::http_util::{excerpt, redact};
use crate::backends::kind::{self, Kind};
use crate::backends::references;
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ProgressSink,
};
use crate::base::{FailureCode, UpscaleMode};
use crate::config::BackendConfig;
use crate::prompt::Param;

pub(super) const KIND: Kind = Kind {
    name: "comfyui",
    // ComfyUI executes one prompt at a time from its queue: a second job would only wait
    // there, hiding its place in Easel's own queue.
    default_concurrency: 1,
    needs_key: false,
    keys: kind::keys::<Options>,
    check: |cfg| Options::read(cfg).map(drop),
    build: |cfg, _| Ok(std::sync::Arc::new(ComfyUiBackend::from_config(cfg)?)),
};

const DEFAULT_IMAGINE: &str = include_str!("default_imagine.json");
const DEFAULT_VARIATION: &str = include_str!("default_variation.json");
const DEFAULT_EDIT: &str = include_str!("default_edit.json");
const DEFAULT_UPSCALE_SUBTLE: &str = include_str!("default_upscale_subtle.json");
const DEFAULT_UPSCALE_CREATIVE: &str = include_str!("default_upscale_creative.json");
/// Upscale (Creative)'s denoise: new detail, the same picture.
const CREATIVE_DENOISE: f64 = 0.35;
/// Images in a grid, made by one prompt.
const GRID: usize = 4;
/// SDXL-class checkpoints are trained at about 1024²; SD 1.5 wants `image_size = 512`.
const DEFAULT_IMAGE_SIZE: u32 = 1024;
/// `/history` polls when the WebSocket is not available.
const DEFAULT_POLL_MS: u64 = 1000;
const MAX_ASPECT: f64 = 4.0;

pub struct ComfyUiBackend {
    name: String,
    api: Api,
    imagine: Template,
    variation: Option<Template>,
    upscale: Option<Template>,
    /// The upscale workflow, or the built-in Lanczos 2× when none is set.
    upscale_subtle: Option<Template>,
    upscale_creative: Option<Template>,
    edit: Option<Template>,
    /// Imagine when the prompt has a reference image; none built in.
    imagine_reference: Option<Template>,
    model: Checkpoint,
    image_size: u32,
    poll: Duration,
    /// The bearer key, scrubbed from every error.
    secrets: Vec<String>,
}

impl std::fmt::Debug for ComfyUiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = |t: &Option<Template>| t.as_ref().map(|t| t.origin.clone());
        f.debug_struct("ComfyUiBackend")
            .field("name", &self.name)
            .field("imagine", &self.imagine.origin)
            .field("variation", &origin(&self.variation))
            .field("upscale", &origin(&self.upscale))
            .field("upscale_subtle", &origin(&self.upscale_subtle))
            .field("upscale_creative", &origin(&self.upscale_creative))
            .field("edit", &origin(&self.edit))
            .field("imagine_reference", &origin(&self.imagine_reference))
            .field("model", &self.model.known())
            .finish_non_exhaustive()
    }
}

impl ComfyUiBackend {
    /// Reads and checks every template; an error names the backend, the file and the fix.
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Self> {
        let options = Options::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let name = cfg.name.clone();
        let base = kind::base_url(cfg)?;
        let workflows = options.workflows.unwrap_or_default();
        let imagine = load(&name, Workflow::Imagine, workflows.imagine.as_deref(), Some(DEFAULT_IMAGINE))?
            .ok_or_else(|| {
                anyhow!("backend `{name}`: `workflows.imagine` is empty; name a template or remove it")
            })?;
        let variation =
            load(&name, Workflow::Variation, workflows.variation.as_deref(), Some(DEFAULT_VARIATION))?;
        let upscale = load(&name, Workflow::Upscale, workflows.upscale.as_deref(), None)?;
        let upscale_subtle = match workflows.upscale {
            None => load(&name, Workflow::Upscale, None, Some(DEFAULT_UPSCALE_SUBTLE))?,
            Some(_) => upscale.clone(),
        };
        let upscale_creative = load(
            &name,
            Workflow::UpscaleCreative,
            workflows.upscale_creative.as_deref(),
            Some(DEFAULT_UPSCALE_CREATIVE),
        )?;
        let edit = load(&name, Workflow::Edit, workflows.edit.as_deref(), Some(DEFAULT_EDIT))?;
        let imagine_reference =
            load(&name, Workflow::ImagineReference, workflows.imagine_reference.as_deref(), None)?;
        let model = cfg.model.as_deref().map(str::trim).filter(|m| !m.is_empty()).map(String::from);
        // Without `model`, the checkpoint is the server's own, asked for at the first probe.
        let needs_model = [
            Some(&imagine),
            variation.as_ref(),
            upscale_subtle.as_ref(),
            upscale_creative.as_ref(),
            edit.as_ref(),
            imagine_reference.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|t| t.uses(Placeholder::Model));
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        Ok(ComfyUiBackend {
            api: Api::new(&name, base, &cfg.api_key, timeout, model.clone())?.image_hosts(&cfg.image_hosts),
            secrets: (!cfg.api_key.is_empty())
                .then(|| cfg.api_key.expose().trim().to_string())
                .into_iter()
                .collect(),
            imagine,
            variation,
            upscale,
            upscale_subtle,
            upscale_creative,
            edit,
            imagine_reference,
            model: Checkpoint::new(model, needs_model),
            image_size: options.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
            poll: Duration::from_millis(options.poll_ms.unwrap_or(DEFAULT_POLL_MS).max(10)),
            name,
        })
    }

    async fn execute(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        let unsupported = |what: &str| SERVICE.unsupported(&self.name, what);
        let template = match &job.op {
            Operation::Imagine => match &self.imagine_reference {
                Some(t) if !self.capabilities().usable_references(&job.spec).is_empty() => t,
                _ => &self.imagine,
            },
            Operation::Variation { .. } => {
                self.variation.as_ref().ok_or_else(|| unsupported("has no variation workflow"))?
            }
            Operation::Upscale { .. } => {
                self.upscale.as_ref().ok_or_else(|| unsupported("has no upscale workflow"))?
            }
            Operation::Blend { .. } => return Err(unsupported("cannot blend images")),
            Operation::Describe { .. } => return Err(unsupported("cannot describe images")),
            Operation::Edit { .. } => {
                self.edit.as_ref().ok_or_else(|| unsupported("has no edit workflow"))?
            }
            Operation::Upscale2x { mode: UpscaleMode::Subtle, .. } => {
                self.upscale_subtle.as_ref().ok_or_else(|| unsupported("has no upscale workflow"))?
            }
            Operation::Upscale2x { mode: UpscaleMode::Creative, .. } => self
                .upscale_creative
                .as_ref()
                .ok_or_else(|| unsupported("has no upscale_creative workflow"))?,
        };
        let resumed = match job.resume.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) if follow::known(&self.api, id).await? => Some(id.to_string()),
            Some(id) => {
                tracing::info!(backend = %self.name, prompt = id, "comfyui no longer knows the prompt; submitting it again");
                None
            }
            None => None,
        };
        // A re-attached prompt's events go to the socket of the run that submitted it.
        let (prompt_id, socket) = match resumed {
            Some(id) => (id, None),
            None => self.submit(job, template, progress).await?,
        };
        let entry = follow::follow(&self.api, &prompt_id, socket, progress, self.poll).await?;
        self.output(job, &prompt_id, &entry).await
    }

    /// Uploads the input, opens the socket, queues the prompt and records its id.
    async fn submit(
        &self,
        job: &Job,
        template: &Template,
        progress: &ProgressSink,
    ) -> Result<(String, Option<Socket>), BackendError> {
        let values = self.values(job, template).await?;
        let graph = template.fill(&values).map_err(|p| {
            BackendError::fatal(
                FailureCode::Internal,
                "Easel could not fill in the workflow.",
                format!("{} uses {p}, which has no value for {}", template.origin, job.op.name()),
            )
        })?;
        let client_id = format!("easel-{}-{:016x}", job.task_id, fastrand::u64(..));
        let socket = match Socket::connect(&self.api, &client_id).await {
            Ok(socket) => Some(socket),
            Err(e) => {
                tracing::warn!(backend = %self.name, error = %e, "comfyui websocket unavailable; polling /history instead");
                None
            }
        };
        let reply =
            self.api.post(&["prompt"], &PromptRequest { prompt: &graph, client_id: &client_id }).await?;
        let answer: PromptResponse = self.api.json(&reply, "a queued prompt (`{\"prompt_id\": …}`)")?;
        let Some(id) = answer.prompt_id.filter(|id| !id.trim().is_empty()) else {
            return Err(SERVICE.bad_response(
                "a queued prompt without a `prompt_id`",
                format!("{}: {}", reply.what, excerpt(&reply.body, 300)),
            ));
        };
        progress.accepted(id.clone()).await;
        Ok((id, socket))
    }

    /// Downloads the saved images: four for a grid, the first for an upscale.
    async fn output(
        &self,
        job: &Job,
        prompt_id: &str,
        entry: &HistoryEntry,
    ) -> Result<JobOutput, BackendError> {
        let wanted = match job.op {
            Operation::Upscale { .. } | Operation::Upscale2x { .. } => 1,
            _ => GRID,
        };
        let refs = entry.images();
        if refs.len() < wanted {
            return Err(SERVICE.bad_response(
                format!(
                    "{} saved image(s) where the {} workflow should save {wanted} (one SaveImage node that gets the \
                     whole batch)",
                    refs.len(),
                    job.op.name()
                ),
                format!("prompt {prompt_id}: outputs {:?}", refs),
            ));
        }
        let refs = &refs[..wanted];
        let downloads = refs.iter().map(|image| self.api.view(image));
        let mut images = futures::future::try_join_all(downloads).await?;
        if let Operation::Upscale2x { source, .. } = &job.op {
            images[0] = edit::fit_2x(images[0].clone(), source).await?;
        }
        Ok(JobOutput {
            images: images.into_iter().map(|bytes| OutputImage { bytes, seed: None }).collect(),
            prompts: Vec::new(),
            remote_state: Some(json!({ "prompt_id": prompt_id, "seed": job.seed, "images": refs })),
        })
    }

    async fn try_cancel(&self, prompt_id: &str) -> Result<bool, BackendError> {
        match self.api.queue().await?.place(prompt_id) {
            Some(Place::Pending) => {
                let reply = self.api.post(&["queue"], &json!({ "delete": [prompt_id] })).await?;
                if !reply.status.is_success() {
                    return Err(self.api.status_error(&reply));
                }
                match self.api.queue().await?.place(prompt_id) {
                    None => Ok(true),
                    // It started in the meantime.
                    Some(Place::Running) => self.interrupt(prompt_id).await,
                    Some(Place::Pending) => Ok(false),
                }
            }
            Some(Place::Running) => self.interrupt(prompt_id).await,
            None => Ok(false),
        }
    }

    /// Interrupts `prompt_id` only where the server checks the id; `Ok(false)` elsewhere.
    async fn interrupt(&self, prompt_id: &str) -> Result<bool, BackendError> {
        let version = self.api.system_stats().await?.system.comfyui_version;
        if !version.as_deref().is_some_and(wire::targeted_interrupt) {
            tracing::info!(
                backend = %self.name, prompt = prompt_id, version = ?version,
                "this ComfyUI cannot interrupt one prompt by id; it runs to its end and the result is discarded"
            );
            return Ok(false);
        }
        let reply = self.api.post(&["interrupt"], &json!({ "prompt_id": prompt_id })).await?;
        match reply.status {
            s if s.is_success() => Ok(true),
            // Newer servers answer 404 when the id is no longer the running one.
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.api.status_error(&reply)),
        }
    }
}

#[async_trait]
impl Backend for ComfyUiBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        let mut params = vec![Param::Aspect, Param::Seed];
        if self.imagine.uses(Placeholder::NegativePrompt) {
            params.push(Param::No);
        }
        if self.imagine_reference.is_some() {
            params.extend(references::PARAMS);
        }
        Capabilities {
            imagine: true,
            upscale: self.upscale.is_some(),
            variation: self.variation.is_some(),
            blend: false,
            describe: false,
            previews: true,
            native_grid: false,
            resumable: true,
            // The server is the admin's own GPU: running a job again costs only time.
            rerun_is_free: true,
            parent_bound: false,
            max_aspect: MAX_ASPECT,
            outpaint: self.edit.is_some(),
            inpaint: self.edit.is_some(),
            upscale_subtle: self.upscale_subtle.is_some(),
            upscale_creative: self.upscale_creative.is_some(),
            // As a1111: a zoom of an image at `image_size` is drawn at most twice that.
            max_side: self.image_size * 2,
            // One `{{reference_image}}`: the first reference; the others are named as ignored.
            max_reference_images: u32::from(self.imagine_reference.is_some()),
            params,
        }
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        progress.percent(0, None);
        self.execute(&job, &progress).await.map_err(|e| redact(e, &self.secrets))
    }

    /// `GET /system_stats`: cheap, outside the job queue; and, the first time without
    /// `model`, which checkpoint the server has.
    async fn health(&self) -> Result<(), String> {
        let up = async {
            self.api.system_stats().await?;
            self.model.get(&self.api).await
        };
        up.await.map(drop).map_err(|e| redact(e, &self.secrets).user_message)
    }

    async fn cancel(&self, remote_id: &str) -> Result<bool, BackendError> {
        self.try_cancel(remote_id.trim()).await.map_err(|e| redact(e, &self.secrets))
    }
}
