//! The `openjourney` backend: the Open Journey API (`base_url` = `…/v1`, Bearer key).
//!
//! - imagine: one `POST /generate/batch` with four identical requests (the prompt text, the
//!   configured `model` as the `style`, the `--ar` mapped to the nearest ratio the API names,
//!   `--q` 2 and above as `"hd"`), its `batch_id` stored at once through
//!   [`ProgressSink::accepted`] so a restart re-attaches (`job.resume`) instead of paying
//!   twice; then `GET /generate/batch/{id}` until `completed` (progress is
//!   `completed / total`), and the four `results[].url` are downloaded. U serves the chosen
//!   stored image (`upscale: false`).
//! - webhooks: with `notify_hook` set, `<notify_hook>/hooks/openjourney/<secret>` is
//!   registered through `POST /webhooks` before the first job (or by
//!   [`OpenJourneyBackend::register_webhook`]); a `batch.*` delivery makes the waiting job
//!   poll at once. Polling stays the fallback.
//! - rate limits: the `X-RateLimit-*` headers pause the next request until the reset once
//!   `Remaining` reaches 0, so Easel does not run into 429s (see `client`).
//!
//! See `wire` for the response shapes read from the guide.

mod client;
mod errors;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::time::Instant;

use self::client::Api;
use self::errors::SERVICE;
use self::wire::{Batch, BatchRequest, Event, GenerateRequest, Status, WebhookRequest};
use crate::backends::http_util::{Auth, JsonClient, Letter, Mailbox, Probe, Reply, Route, excerpt, redact};
use crate::backends::kind::{self, Hooked, Kind};
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ProgressSink,
};
use crate::config::{BackendConfig, Secret};
use crate::prompt::Param;

pub(super) const KIND: Kind = Kind {
    name: "openjourney",
    default_concurrency: 2,
    needs_key: true,
    keys: kind::keys::<Hooked>,
    check: |cfg| Hooked::read(cfg).map(drop),
    build: |cfg, mailbox| Ok(std::sync::Arc::new(OpenJourneyBackend::from_config(cfg, mailbox)?)),
};

const DEFAULT_POLL_MS: u64 = 2000;
const DEFAULT_STYLE: &str = "auto";
const BACKOFF_FACTOR: u32 = 5;
const POLL_RETRIES: u32 = 4;
const MAX_IMAGE_BYTES: usize = 30 << 20;
/// A result link that cannot be downloaded, completing "… sent a response Easel could not use: …".
const BAD_LINK: &str = "an image link that is not an http(s) URL";
/// The aspect ratios the API names (the guide shows 1:1 and 16:9; the rest are the usual set).
const RATIOS: [(&str, f64); 7] = [
    ("1:1", 1.0),
    ("16:9", 16.0 / 9.0),
    ("9:16", 9.0 / 16.0),
    ("4:3", 4.0 / 3.0),
    ("3:4", 3.0 / 4.0),
    ("3:2", 1.5),
    ("2:3", 2.0 / 3.0),
];
/// The events registered; only `batch.*` ones wake a job.
const EVENTS: [&str; 1] = ["batch.completed"];

pub struct OpenJourneyBackend {
    name: String,
    api: Api,
    api_key: Secret,
    poll: Duration,
    style: String,
    hook_url: Option<String>,
    /// Where webhook deliveries arrive (`/hooks/openjourney/…`).
    hooks: Route<Event>,
    /// Set once `POST /webhooks` succeeded.
    registered: tokio::sync::Mutex<bool>,
}

impl std::fmt::Debug for OpenJourneyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenJourneyBackend")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("poll", &self.poll)
            .field("hooks", &self.hook_url.is_some())
            .finish_non_exhaustive()
    }
}

impl OpenJourneyBackend {
    /// Builds the backend; webhook deliveries (with `notify_hook`) arrive at `mailbox`.
    pub fn from_config(cfg: &BackendConfig, mailbox: &Mailbox) -> anyhow::Result<Self> {
        let options = Hooked::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        let hooks = mailbox.route::<Event>("openjourney");
        let name = cfg.name.clone();
        let base = kind::base_url(cfg)?;
        let hook_url = options.hook_url(&hooks, &name);
        let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
        Ok(OpenJourneyBackend {
            // The key is for the API only, never for the CDN holding the results.
            api: Api::new(
                JsonClient::new(&SERVICE, &name, base, Auth::Bearer(&cfg.api_key), timeout)?
                    .key_for_api_only()
                    .image_hosts(&cfg.image_hosts),
            ),
            api_key: cfg.api_key.clone(),
            poll: Duration::from_millis(options.poll_ms.unwrap_or(DEFAULT_POLL_MS).max(10)),
            style: cfg.model.clone().filter(|m| !m.trim().is_empty()).unwrap_or_else(|| DEFAULT_STYLE.into()),
            hook_url,
            hooks,
            registered: tokio::sync::Mutex::new(false),
            name,
        })
    }

    /// Registers the webhook through `POST /webhooks` unless done already; without
    /// `notify_hook` there is nothing to do.
    pub async fn register_webhook(&self) -> Result<(), BackendError> {
        let Some(url) = self.hook_url.as_deref() else { return Ok(()) };
        let mut registered = self.registered.lock().await;
        if !*registered {
            let reply = self.api.post(&["webhooks"], &WebhookRequest { url, events: &EVENTS }).await;
            self.check(reply?)?;
            *registered = true;
        }
        Ok(())
    }

    async fn execute(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        if !matches!(job.op, Operation::Imagine) {
            return Err(SERVICE.unsupported(&self.name, &format!("cannot {} images", job.op.name())));
        }
        if let Err(e) = self.register_webhook().await {
            let error = redact(e, &[self.api_key.expose(), self.hooks.secret()]).detail;
            tracing::warn!(backend = %self.name, %error, "openjourney webhook registration failed; polling only");
        }
        let id = match job.resume.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => id.to_string(),
            None => self.submit(job, progress).await?,
        };
        let batch = self.follow(&id, progress).await?;
        self.output(&id, batch).await
    }

    async fn submit(&self, job: &Job, progress: &ProgressSink) -> Result<String, BackendError> {
        let request = GenerateRequest {
            prompt: job.spec.text.clone(),
            style: self.style.clone(),
            aspect_ratio: nearest_ratio(job.spec.aspect_or_square().ratio()),
            quality: job.spec.params.quality.map(|q| if q >= 2.0 { "hd" } else { "standard" }),
        };
        let body = BatchRequest { requests: vec![request; 4] };
        let reply = self.check(self.api.post(&["generate", "batch"], &body).await?)?;
        let batch = parse(&reply)?;
        let Some(id) = batch.batch_id.filter(|id| !id.trim().is_empty()) else {
            return Err(SERVICE.bad_response(
                "a batch without a `batch_id`",
                format!("{}: {}", reply.what, excerpt(&reply.body, 300)),
            ));
        };
        progress.accepted(id.clone()).await;
        Ok(id)
    }

    /// Polls the batch until it ends, polling at once whenever a webhook delivery arrives.
    async fn follow(&self, id: &str, progress: &ProgressSink) -> Result<Batch, BackendError> {
        let mut hooks = self.hook_url.as_ref().map(|_| self.hooks.subscribe(&self.name, id));
        let (base, mut failures) = (self.poll, 0);
        let longest = base * BACKOFF_FACTOR;
        let mut interval = base;
        let mut seen: Option<u8> = None;
        loop {
            match self.api.get(&["generate", "batch", id]).await.and_then(|r| self.check(r)) {
                Ok(reply) => {
                    failures = 0;
                    let batch = parse(&reply)?;
                    match batch.status() {
                        Status::Completed => return Ok(batch),
                        Status::Failed => return Err(self.batch_failed(id, &batch)),
                        Status::Running => {
                            let percent = batch.percent();
                            interval = if seen == Some(percent) { (interval * 2).min(longest) } else { base };
                            if seen != Some(percent) {
                                progress.percent(percent, None);
                                seen = Some(percent);
                            }
                        }
                    }
                }
                Err(e) if e.retryable && failures < POLL_RETRIES => {
                    failures += 1;
                    tracing::warn!(backend = %self.name, batch = id, error = %e.detail, "openjourney poll failed");
                    // Never below the base interval: a `Retry-After: 0` must not make a busy loop.
                    interval = e.retry_after.unwrap_or(interval).min(Duration::from_secs(120)).max(base);
                }
                Err(e) => return Err(e),
            }
            let wake = async {
                match hooks.as_mut() {
                    Some(sub) => sub.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(Instant::now() + interval) => {}
                _ = wake => {}
            }
        }
    }

    fn batch_failed(&self, id: &str, batch: &Batch) -> BackendError {
        let detail = format!("batch {id} ended `{}`", batch.status.as_deref().unwrap_or(""));
        match &batch.error {
            Some(error) => errors::from_code(&self.name, error, detail, None),
            None => BackendError::fatal(
                crate::base::FailureCode::BackendRejected,
                "Open Journey could not finish these images (no reason given).",
                detail,
            ),
        }
    }

    /// A success answer, or the classified refusal.
    fn check(&self, reply: Reply) -> Result<Reply, BackendError> {
        reply.success(|r| errors::from_status(&self.name, r))
    }

    async fn output(&self, id: &str, batch: Batch) -> Result<JobOutput, BackendError> {
        let urls: Vec<&str> =
            batch.results.iter().filter_map(|r| r.url.as_deref()).filter(|u| !u.trim().is_empty()).collect();
        if urls.len() != 4 {
            return Err(SERVICE.bad_response(
                format!("a finished batch with {} image URLs instead of 4", urls.len()),
                format!("batch {id}: results {:?}", batch.results),
            ));
        }
        let images = futures::future::try_join_all(
            urls.iter().map(|u| self.api.client.download(u, MAX_IMAGE_BYTES, BAD_LINK)),
        )
        .await?;
        let ids: Vec<Option<&str>> = batch.results.iter().map(|r| r.id.as_deref()).collect();
        Ok(JobOutput {
            images: images.into_iter().map(|bytes| OutputImage { bytes, seed: None }).collect(),
            prompts: Vec::new(),
            remote_state: Some(json!({"batch_id": id, "image_ids": ids, "urls": urls})),
        })
    }
}

fn parse(reply: &Reply) -> Result<Batch, BackendError> {
    SERVICE.parse_json(&reply.what, &reply.body, "an answer that is not a batch")
}

/// The API's ratio nearest to `ratio` (width / height), compared on a log scale.
fn nearest_ratio(ratio: f64) -> &'static str {
    let distance = |r: f64| (r.ln() - ratio.max(1e-3).ln()).abs();
    RATIOS.iter().min_by(|a, b| distance(a.1).total_cmp(&distance(b.1))).map_or("1:1", |r| r.0)
}

#[async_trait]
impl Backend for OpenJourneyBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            imagine: true,
            upscale: false,
            variation: false,
            blend: false,
            describe: false,
            previews: false,
            native_grid: false,
            resumable: true,
            rerun_is_free: false,
            parent_bound: false,
            max_aspect: 16.0 / 9.0,
            params: vec![Param::Aspect, Param::Quality],
            ..Capabilities::default()
        }
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        self.execute(&job, &progress)
            .await
            .map_err(|e| redact(e, &[self.api_key.expose(), self.hooks.secret()]))
    }

    async fn health(&self) -> Result<(), String> {
        // A batch that does not exist: only refused keys and outages count.
        let url = self.api.client.url(&["generate", "batch", "easel-health-probe"]);
        self.api.client.probe(url, Probe::NoServerError).await
    }
}

/// A webhook delivery wakes the job waiting on its batch, which then asks for the batch.
impl Letter for Event {
    fn job_id(&self) -> Option<String> {
        self.batch_id().map(String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_ratios_map_to_the_nearest_named_one() {
        assert_eq!(nearest_ratio(1.0), "1:1");
        assert_eq!(nearest_ratio(16.0 / 9.0), "16:9");
        assert_eq!(nearest_ratio(9.0 / 21.0), "9:16");
        assert_eq!(nearest_ratio(4.0), "16:9");
        assert_eq!(nearest_ratio(5.0 / 4.0), "4:3");
        assert_eq!(nearest_ratio(2.0 / 3.0), "2:3");
    }
}
