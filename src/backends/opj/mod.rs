//! The `opj` backend: the Openjourney REST API (docs.opj.app, seed 001), one endpoint per
//! model. `base_url` is `…/v1`, `model` the path after it (`flux/1.1/pro`), the key goes as
//! `Authorization: Bearer`.
//!
//! - imagine: a model endpoint makes one image per job and documents no count field, so an
//!   imagine is four `POST /v1/<model>` jobs with seeds `seed`…`seed+3` (where the model takes
//!   a seed), `--ar` as the nearest `canvas`, `--no` as `negative_prompt` and `cfg_scale` as
//!   `guidance` where the model takes them ([`models`] says which does), `--style raw` as
//!   `raw` on FLUX 1.1 Pro Ultra. After each accepted POST the list of job ids so far is
//!   stored through [`ProgressSink::accepted`], so a restart or a retry re-attaches to those
//!   jobs and submits only the missing ones; all are then followed through `GET /v1/job/{id}`
//!   ([`jobs`]) and their `output` images downloaded. `remote_state` keeps
//!   `{"model", "jobs", "urls", "seeds"}`.
//! - U: `POST /v1/utils/upscale` with the chosen image's own `output` link from the parent's
//!   `remote_state` (a `data:` URI of the stored image when there is none) and `upscaler` as
//!   `model`.
//! - /describe: `POST /v1/utils/prompt-extract` with the upload as a `data:` URI (Easel keeps
//!   only its bytes); the one caption becomes up to four prompts as for AUTOMATIC1111's
//!   interrogator.
//! - No variation, blend or cancel: the reference has no image-to-image, mixing or cancel
//!   endpoint. Health is `GET /v1/internal/ping`.
//!
//! See [`wire`] for the response shapes, which the reference does not show.

mod errors;
mod jobs;
mod models;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::json;

use self::errors::SERVICE;
use self::jobs::{Follow, decode_ids, encode_ids, parse};
pub use self::models::Model;
use self::models::Options;
use self::wire::{ExtractRequest, GenerateRequest, Job as RemoteJob, UpscaleRequest};
use crate::backends::http_util::{Auth, JsonClient, Probe, excerpt, redact};
use crate::backends::kind::{self, Kind};
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ParentRef, ProgressSink,
    SourceImage,
};
use crate::config::{BackendConfig, Secret};
use crate::prompt::Param;

/// Base poll interval when `poll_ms` is not set.
const DEFAULT_POLL_MS: u64 = 2000;

pub(super) const KIND: Kind = Kind {
    name: "opj",
    default_concurrency: 2,
    needs_key: true,
    keys: kind::keys::<Options>,
    check: |cfg| Options::read(cfg).map(drop),
    build: |cfg, _| Ok(std::sync::Arc::new(OpjBackend::from_config(cfg)?)),
};
/// Cap on one downloaded image (4-megapixel FLUX Ultra PNGs run to a few tens of MiB).
const MAX_IMAGE_BYTES: usize = 40 << 20;
/// A result link that cannot be downloaded, completing "… sent a response Easel could not use: …".
const BAD_LINK: &str = "an `output` that is not an http(s) image link";
/// Jobs, and so images, per imagine.
const IMAGES: usize = 4;

pub struct OpjBackend {
    name: String,
    api: JsonClient,
    api_key: Secret,
    poll: Duration,
    model: &'static Model,
    guidance: Option<f64>,
    upscaler: Option<String>,
}

impl std::fmt::Debug for OpjBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpjBackend")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("model", &self.model.path)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl OpjBackend {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Self> {
        let name = cfg.name.clone();
        let base = kind::base_url(cfg)?;
        let (options, model) = Options::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        Ok(OpjBackend {
            api: JsonClient::new(&SERVICE, &name, base, Auth::Bearer(&cfg.api_key), timeout)?
                .image_hosts(&cfg.image_hosts),
            api_key: cfg.api_key.clone(),
            poll: Duration::from_millis(options.poll_ms.unwrap_or(DEFAULT_POLL_MS).max(10)),
            model,
            guidance: options.cfg_scale,
            upscaler: options.upscaler.filter(|u| !u.trim().is_empty()),
            name,
        })
    }

    async fn execute(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        match &job.op {
            Operation::Imagine => self.imagine(job, progress).await,
            Operation::Upscale { index, source, parent } => {
                self.upscale(job, *index, source, parent, progress).await
            }
            Operation::Describe { image } => self.describe(job, image, progress).await,
            op => Err(SERVICE.unsupported(&self.name, &format!("cannot {} images", op.name()))),
        }
    }

    /// The four images: the jobs recorded before, then the missing ones, each recorded as soon
    /// as it is accepted.
    async fn imagine(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        let m = self.model;
        let negative = job.spec.negative_prompt().filter(|_| m.negative_prompt);
        let canvas = m.canvas_for(job.spec.aspect_or_square().ratio());
        let seeds: Vec<Option<u32>> =
            (0..IMAGES as u32).map(|i| m.seed.then(|| job.seed.wrapping_add(i))).collect();
        let mut ids = decode_ids(job.resume.as_deref());
        ids.truncate(IMAGES);
        while ids.len() < IMAGES {
            let body = GenerateRequest {
                prompt: job.spec.text.trim(),
                canvas,
                seed: seeds[ids.len()],
                negative_prompt: negative.as_deref(),
                guidance: self.guidance.filter(|_| m.guidance),
                raw: (m.raw && job.spec.params.style_raw).then_some(true),
            };
            ids.push(self.submit(m.path, &body).await?);
            progress.accepted(encode_ids(&ids)).await;
        }
        let ended = self.follow().all(&ids, progress).await?;
        let urls = ended.iter().zip(&ids).map(|(j, id)| image_link(id, j)).collect::<Result<Vec<_>, _>>()?;
        let downloads = urls.iter().map(|url| self.api.download(url, MAX_IMAGE_BYTES, BAD_LINK));
        let images = futures::future::try_join_all(downloads).await?;
        Ok(JobOutput {
            images: images
                .into_iter()
                .zip(&seeds)
                .map(|(bytes, &seed)| OutputImage { bytes, seed })
                .collect(),
            prompts: Vec::new(),
            remote_state: Some(json!({"model": m.path, "jobs": ids, "urls": urls, "seeds": seeds})),
        })
    }

    /// U through the service's upscaler, fed the chosen image's own link when the parent
    /// kept one: the service can fetch its own CDN, and nothing is uploaded twice.
    async fn upscale(
        &self,
        job: &Job,
        index: u8,
        source: &SourceImage,
        parent: &ParentRef,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let kept = parent.remote_state.as_ref().and_then(|s| s.get("urls")?.get(index as usize)?.as_str());
        let link = match kept.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
            Some(url) => url.to_string(),
            None => data_uri(source),
        };
        let body = UpscaleRequest { image: &link, model: self.upscaler.as_deref() };
        let (id, ended) = self.single(job, "utils/upscale", &body, progress).await?;
        let url = image_link(&id, &ended)?;
        let bytes = self.api.download(&url, MAX_IMAGE_BYTES, BAD_LINK).await?;
        Ok(JobOutput {
            images: vec![OutputImage { bytes, seed: None }],
            prompts: Vec::new(),
            remote_state: Some(json!({"jobs": [id], "urls": [url]})),
        })
    }

    async fn describe(
        &self,
        job: &Job,
        image: &SourceImage,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let link = data_uri(image);
        let (id, ended) =
            self.single(job, "utils/prompt-extract", &ExtractRequest { image: &link }, progress).await?;
        let outputs = ended.outputs();
        // One caption is split like an interrogator's; several are taken as prompts.
        let mut prompts: Vec<String> = match outputs.as_slice() {
            [caption] => crate::backends::a1111::describe::prompts(caption),
            many => many.iter().map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect(),
        };
        prompts.dedup();
        prompts.truncate(IMAGES);
        if prompts.is_empty() {
            return Err(SERVICE.bad_response(
                "a prompt-extract job whose `output` holds no prompt text",
                format!("job {id}: output {:?}", ended.output),
            ));
        }
        Ok(JobOutput { images: Vec::new(), prompts, remote_state: Some(json!({"jobs": [id]})) })
    }

    /// A one-job operation: the recorded job, else a new one, followed to its end.
    async fn single(
        &self,
        job: &Job,
        path: &str,
        body: &impl Serialize,
        progress: &ProgressSink,
    ) -> Result<(String, RemoteJob), BackendError> {
        let id = match decode_ids(job.resume.as_deref()).into_iter().next() {
            Some(id) => id,
            None => {
                let id = self.submit(path, body).await?;
                progress.accepted(encode_ids(std::slice::from_ref(&id))).await;
                id
            }
        };
        let ended = self.follow().all(std::slice::from_ref(&id), progress).await?;
        let ended = ended.into_iter().next().ok_or_else(|| errors::lost(&id))?;
        Ok((id, ended))
    }

    /// POSTs one job; its id.
    async fn submit(&self, path: &str, body: &impl Serialize) -> Result<String, BackendError> {
        // The model path (`flux/1.1/pro`) is several segments.
        let url = self.api.url(&path.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>());
        let reply = self.api.post(url, body).await?.success(|r| errors::from_status(&self.name, r))?;
        let created = parse(&reply)?;
        created.id().ok_or_else(|| {
            SERVICE.bad_response(
                format!("a new job without an `id` (expected {})", wire::JOB_SHAPE),
                format!("{}: {}", reply.what, excerpt(&reply.body, 300)),
            )
        })
    }

    fn follow(&self) -> Follow<'_> {
        Follow { api: &self.api, backend: &self.name, poll: self.poll, key: &self.api_key }
    }
}

/// The image link a finished job gives, in `output` or any other shape hosts use.
fn image_link(id: &str, job: &RemoteJob) -> Result<String, BackendError> {
    job.image_links().into_iter().next().ok_or_else(|| {
        let fields = job.fields_present().join(", ");
        SERVICE.bad_response(
            format!(
                "a finished job without an `output` image link, nor `result`, `url`, `image_url` or `images` \
                 (it had: {fields})"
            ),
            format!("job {id}: {fields}; output {:?}", job.output),
        )
    })
}

/// The image inline, for parameters the reference calls a LINK when Easel has no link.
fn data_uri(image: &SourceImage) -> String {
    format!("data:{};base64,{}", image.mime, STANDARD.encode(&image.bytes))
}

#[async_trait]
impl Backend for OpjBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        let m = self.model;
        let taken = [
            (Param::Aspect, !m.canvases.is_empty()),
            (Param::Seed, m.seed),
            (Param::No, m.negative_prompt),
            (Param::StyleRaw, m.raw),
        ];
        Capabilities {
            imagine: true,
            upscale: true,
            variation: false,
            blend: false,
            describe: true,
            previews: false,
            native_grid: false,
            resumable: true,
            rerun_is_free: false,
            parent_bound: false,
            max_aspect: m.max_aspect(),
            params: taken.into_iter().filter(|(_, yes)| *yes).map(|(p, _)| p).collect(),
            ..Capabilities::default()
        }
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        self.execute(&job, &progress).await.map_err(|e| redact(e, &[self.api_key.expose()]))
    }

    async fn health(&self) -> Result<(), String> {
        // "Ping the API & checkpoints".
        self.api
            .probe(self.api.url(&["internal", "ping"]), Probe::Success("check base_url (it ends in /v1)"))
            .await
    }
}
