//! The `imagineapi` backend: ImagineAPI (imagineapi.dev), a hosted Midjourney front end
//! built on Directus. `base_url` is the server's root (what comes before `/items`), the token
//! goes as `Authorization: Bearer`.
//!
//! - imagine: `POST /items/images/` with the canonical prompt, Midjourney parameters and
//!   image URLs included, passed on verbatim. The item id is stored at once through
//!   [`ProgressSink::accepted`], so a restart re-attaches (`job.resume`) instead of paying
//!   twice; the item is then polled with `GET /items/images/{id}` through `pending` and
//!   `in-progress` (its `progress`, when given, becomes the percentage) to `completed` or
//!   `failed`.
//! - The result: ImagineAPI upscales all four images itself (`upscaled_urls`), so those four
//!   are returned and the engine builds the grid from them; U1–U4 then serve the stored
//!   image, which is already the upscaled one (`upscale: false`). An item that completed
//!   with only the grid `url` returns that grid, which the engine splits. Both URLs go into
//!   `remote_state` as `{"id", "grid_url", "upscaled_urls"}`.
//! - No variation, blend or describe: ImagineAPI's image items have no such actions.
//!
//! See [`wire`] for the response shapes read from the guide.

mod errors;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::time::Instant;

use self::errors::SERVICE;
use self::wire::{CreateImage, Envelope, Image, Status};
use crate::backends::http_util::{Auth, JsonClient, Probe, excerpt, redact};
use crate::backends::kind::{self, Kind, Polled};
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ProgressSink,
};
use crate::config::{BackendConfig, Secret};
use crate::prompt::Param;

/// Base poll interval when `poll_ms` is not set; the guide polls every 5 s, jobs take ~30 s.
const DEFAULT_POLL_MS: u64 = 2000;

pub(super) const KIND: Kind = Kind {
    name: "imagineapi",
    default_concurrency: 2,
    needs_key: true,
    keys: kind::keys::<Polled>,
    check: |cfg| Polled::read(cfg).map(drop),
    build: |cfg, _| Ok(std::sync::Arc::new(ImagineApiBackend::from_config(cfg)?)),
};
/// Polls back off to this many times the base interval while nothing changes.
const BACKOFF_FACTOR: u32 = 5;
/// Retryable polling failures in a row absorbed here; the next is returned (and the engine's
/// retry re-attaches to the same item).
const POLL_RETRIES: u32 = 4;
/// 404s in a row before the item counts as lost.
const UNKNOWN_LIMIT: u32 = 3;
/// Cap on one downloaded image (Midjourney's upscales are a few MiB).
const MAX_IMAGE_BYTES: usize = 30 << 20;
/// A result link that cannot be downloaded, completing "… sent a response Easel could not use: …".
const BAD_LINK: &str = "an image link that is not an http(s) URL";

pub struct ImagineApiBackend {
    name: String,
    api: JsonClient,
    api_key: Secret,
    poll: Duration,
}

impl std::fmt::Debug for ImagineApiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImagineApiBackend")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl ImagineApiBackend {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Self> {
        let options = Polled::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let name = cfg.name.clone();
        let base = kind::base_url(cfg)?;
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        Ok(ImagineApiBackend {
            api: JsonClient::new(&SERVICE, &name, base, Auth::Bearer(&cfg.api_key), timeout)?
                .image_hosts(&cfg.image_hosts),
            api_key: cfg.api_key.clone(),
            poll: Duration::from_millis(options.poll_ms.unwrap_or(DEFAULT_POLL_MS).max(10)),
            name,
        })
    }

    async fn execute(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        if !matches!(job.op, Operation::Imagine) {
            return Err(SERVICE.unsupported(&self.name, &format!("cannot {} images", job.op.name())));
        }
        let id = match job.resume.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => id.to_string(),
            None => self.submit(job, progress).await?,
        };
        let image = self.follow(&id, progress).await?;
        self.output(&id, image).await
    }

    /// Creates the image item and records its id.
    async fn submit(&self, job: &Job, progress: &ProgressSink) -> Result<String, BackendError> {
        let prompt = job.spec.canonical();
        let body = CreateImage { prompt: &prompt, reference: format!("easel-{}", job.task_id) };
        // The guide's `POST /items/images/` has a trailing slash.
        let url = self.api.url(&["items", "images", ""]);
        let reply = self.api.post(url, &body).await?.success(|r| errors::from_status(&self.name, r))?;
        let image = parse(&reply.what, &reply.body)?
            .ok_or_else(|| SERVICE.bad_response("a created image without `data`", reply.what.clone()))?;
        let Some(id) = image.id.clone().filter(|id| !id.trim().is_empty()) else {
            return Err(SERVICE.bad_response(
                "a created image without an `id`",
                format!("{}: {}", reply.what, excerpt(&reply.body, 300)),
            ));
        };
        progress.accepted(id.clone()).await;
        Ok(id)
    }

    /// Polls the item until it ends: `Ok` when `completed`, the classified error otherwise.
    async fn follow(&self, id: &str, progress: &ProgressSink) -> Result<Image, BackendError> {
        let base = self.poll;
        let longest = base * BACKOFF_FACTOR;
        let mut interval = base;
        let (mut unknown, mut failures) = (0, 0);
        let mut seen: Option<(Status, Option<u8>)> = None;
        loop {
            match self.fetch(id).await {
                Ok(Some(image)) => {
                    (unknown, failures) = (0, 0);
                    let now = (image.status(), image.percent());
                    let moved = seen.as_ref() != Some(&now);
                    match now.0 {
                        Status::Completed => return Ok(image),
                        Status::Failed => return Err(errors::image_failed(id, &image)),
                        Status::Pending if moved => progress.percent(0, None),
                        // 100 is for the finished image.
                        Status::InProgress | Status::Other(_) if moved => {
                            progress.percent(now.1.unwrap_or(0).min(99), None)
                        }
                        _ => {}
                    }
                    interval = if moved { base } else { (interval * 2).min(longest) };
                    seen = Some(now);
                }
                Ok(None) => {
                    unknown += 1;
                    if unknown >= UNKNOWN_LIMIT {
                        return Err(errors::lost(id));
                    }
                }
                Err(e) if e.retryable && failures < POLL_RETRIES => {
                    failures += 1;
                    tracing::warn!(backend = %self.name, image = id, error = %e.detail, "imagineapi poll failed");
                    let wait = e.retry_after.unwrap_or(interval).min(longest.max(Duration::from_secs(60)));
                    tokio::time::sleep_until(Instant::now() + wait).await;
                    continue;
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// `None` when the service does not know the item (404 or no `data`).
    async fn fetch(&self, id: &str) -> Result<Option<Image>, BackendError> {
        let reply = self.api.get(self.api.url(&["items", "images", id])).await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let reply = reply.success(|r| errors::from_status(&self.name, r))?;
        parse(&reply.what, &reply.body)
    }

    /// The finished item as Easel's output: the four upscaled images, else the grid.
    async fn output(&self, id: &str, image: Image) -> Result<JobOutput, BackendError> {
        let remote_state = Some(json!({
            "id": id,
            "grid_url": image.url,
            "upscaled_urls": image.upscaled_urls,
        }));
        let images = match (image.upscaled(), image.url.as_deref().filter(|u| !u.trim().is_empty())) {
            (Some(urls), _) => {
                let downloads = urls.iter().map(|url| self.api.download(url, MAX_IMAGE_BYTES, BAD_LINK));
                futures::future::try_join_all(downloads).await?
            }
            (None, Some(grid)) => vec![self.api.download(grid, MAX_IMAGE_BYTES, BAD_LINK).await?],
            (None, None) => {
                return Err(SERVICE.bad_response(
                    "a completed image without `url` or four `upscaled_urls`",
                    format!("image {id}: url and upscaled_urls missing"),
                ));
            }
        };
        let images = images.into_iter().map(|bytes| OutputImage { bytes, seed: None }).collect();
        Ok(JobOutput { images, prompts: Vec::new(), remote_state })
    }
}

/// Reads `{"data": item}`; `None` when `data` is null.
fn parse(what: &str, body: &[u8]) -> Result<Option<Image>, BackendError> {
    let envelope: Envelope =
        SERVICE.parse_json(what, body, "an answer that is not an image item (`{\"data\": {…}}`)")?;
    Ok(envelope.data)
}

#[async_trait]
impl Backend for ImagineApiBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            imagine: true,
            // The four results are already Midjourney's upscales: U serves them as stored.
            upscale: false,
            variation: false,
            blend: false,
            describe: false,
            previews: false,
            native_grid: false,
            resumable: true,
            rerun_is_free: false,
            parent_bound: false,
            max_aspect: 4.0,
            // The prompt reaches Midjourney verbatim, parameters and image URLs included.
            params: Param::ALL.to_vec(),
            ..Capabilities::default()
        }
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        self.execute(&job, &progress).await.map_err(|e| redact(e, &[self.api_key.expose()]))
    }

    async fn health(&self) -> Result<(), String> {
        // `GET /users/me` (Directus) needs a valid token and nothing else.
        self.api.probe(self.api.url(&["users", "me"]), Probe::NoServerError).await
    }
}
