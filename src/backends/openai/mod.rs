//! The `openai` backend: the OpenAI-compatible Images API (OpenAI itself, ArtAPI, ohmygpt,
//! one-api/new-api relays, FLUX hosts). This module owns what each operation becomes at the
//! service: imagine is `/images/generations`, in one call of `n = 4` or in parallel smaller
//! calls where the provider caps `n`; variation is `/images/edits` of the chosen image or
//! `/images/variations`; blend is `/images/edits` with several images; describe asks a
//! vision chat model. The service has no upscaler and no progress, so neither is offered.
//!
//! A provider that answers a batch with "only one image per request" (`You must provide n=1
//! for this model.`) gets the grid again at once as parallel single calls, and keeps getting
//! single calls for as long as the process runs: learned, logged, no config change needed.
//! In the same way, a provider that refuses a JSON body to `/images/generations` (a 415, or a
//! 400 naming the content type: ohmygpt documents that endpoint form-encoded) gets the same
//! fields form-encoded at once, and from then on.

mod client;
mod describe;
mod edit;
mod errors;
mod images;
mod settings;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use reqwest::multipart::Part;

use self::client::Api;
use self::errors::SERVICE;
use self::settings::{Options, Settings, Size, Variation};
use self::wire::{ChatResponse, ImageRequest};
use crate::backends::http_util::{Reply, excerpt, redact};
use crate::backends::kind::{self, Kind};
use crate::backends::references;
use crate::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ProgressSink, SourceImage,
};
use crate::base::{FailureCode, Strength};
use crate::config::BackendConfig;

/// Images in a grid.
const GRID: u8 = 4;

pub(super) const KIND: Kind = Kind {
    name: "openai",
    default_concurrency: 2,
    needs_key: true,
    keys: kind::keys::<Options>,
    check: |cfg| Options::read(cfg).map(drop),
    build: |cfg, _| Ok(std::sync::Arc::new(OpenAiBackend::from_config(cfg)?)),
};

pub struct OpenAiBackend {
    settings: Settings,
    api: Api,
    /// Set once the provider refused a batch as "n=1 only": every grid is single calls since.
    one_per_call: AtomicBool,
    /// Set once the provider refused a JSON body: generations are form-encoded since.
    form_bodies: AtomicBool,
}

impl std::fmt::Debug for OpenAiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Settings` prints the key as `***` through `Secret`'s own Debug.
        f.debug_struct("OpenAiBackend").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// What one call to an image endpoint carries, besides `n` and the seed.
enum Call<'a> {
    Generate {
        prompt: &'a str,
        size: Size,
    },
    Edit {
        prompt: String,
        images: &'a [SourceImage],
        size: Size,
    },
    Vary {
        image: &'a SourceImage,
        size: Size,
    },
    /// An edit after U: the canvas and its mask (alpha 0 = paint), both `size`.
    Inpaint {
        prompt: &'a str,
        image: SourceImage,
        mask: SourceImage,
        size: Size,
    },
}

impl Call<'_> {
    fn size(&self) -> Size {
        match self {
            Call::Generate { size, .. }
            | Call::Edit { size, .. }
            | Call::Vary { size, .. }
            | Call::Inpaint { size, .. } => *size,
        }
    }
}

/// A slice of the grid that one request produces: images `first..first + n`.
#[derive(Debug, Clone, Copy)]
struct Batch {
    first: u8,
    n: u8,
}

impl OpenAiBackend {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Self> {
        let settings = Settings::from_config(cfg)?;
        let api = Api::new(&settings.name, settings.base_url.clone(), &settings.api_key, settings.timeout)?
            .image_hosts(&cfg.image_hosts);
        Ok(OpenAiBackend {
            settings,
            api,
            one_per_call: AtomicBool::new(false),
            form_bodies: AtomicBool::new(false),
        })
    }

    async fn dispatch(&self, job: &Job, progress: &ProgressSink) -> Result<JobOutput, BackendError> {
        let s = &self.settings;
        let wanted = self.capabilities().usable_references(&job.spec);
        let refs = match (&job.op, wanted.is_empty()) {
            (Operation::Imagine, false) => {
                references::fetch(&wanted, |url: String| async move { self.api.reference(&url).await })
                    .await?
            }
            _ => Vec::new(),
        };
        let ref_images: Vec<SourceImage> = refs.iter().map(|r| r.image.clone()).collect();
        let call = match &job.op {
            // The references are the images of an edit, the prompt saying what each is for.
            Operation::Imagine if !refs.is_empty() => Call::Edit {
                prompt: format!("{} {}", job.spec.text.trim(), references::roles(&refs)).trim().to_string(),
                images: &ref_images,
                size: s.size_for_aspect(job.spec.aspect_or_square()),
            },
            Operation::Imagine => Call::Generate {
                prompt: &job.spec.text,
                size: s.size_for_aspect(job.spec.aspect_or_square()),
            },
            Operation::Upscale { .. } => {
                return Err(
                    SERVICE.unsupported(&s.name, "has no upscaler; Easel serves the stored image instead")
                );
            }
            Operation::Variation { source, strength, .. } => {
                let size = s.nearest_size(aspect_of(source).unwrap_or(job.spec.aspect_or_square().ratio()));
                match s.variation {
                    Variation::Edits => Call::Edit {
                        prompt: variation_prompt(*strength, &job.spec.text),
                        images: std::slice::from_ref(source),
                        size,
                    },
                    Variation::Variations => Call::Vary { image: source, size },
                    Variation::None => {
                        return Err(SERVICE.unsupported(&s.name, "does not make variations"));
                    }
                }
            }
            Operation::Blend { images } => {
                if !s.blend {
                    return Err(SERVICE.unsupported(&s.name, "cannot blend images"));
                }
                Call::Edit {
                    prompt: blend_prompt(images.len(), &job.spec.text),
                    images,
                    size: s.size_for_aspect(job.spec.aspect_or_square()),
                }
            }
            Operation::Describe { image } => return self.describe(image).await,
            Operation::Edit { plan, source, .. } => {
                let (w, h) = plan.size();
                let size = s.nearest_size(f64::from(w) / f64::from(h.max(1)));
                let (image, mask) = edit::parts(plan, source, size).await?;
                Call::Inpaint { prompt: &job.spec.text, image, mask, size }
            }
            Operation::Upscale2x { .. } => {
                return Err(SERVICE.unsupported(&s.name, "has no upscaler"));
            }
        };
        self.grid(&call, job, progress).await
    }

    /// Makes the four images of a grid in as few calls as the provider takes: `max_n` per
    /// call, or one once the provider said it takes only one.
    async fn grid(
        &self,
        call: &Call<'_>,
        job: &Job,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let max_n = if self.one_per_call.load(Ordering::Relaxed) { 1 } else { self.settings.max_n };
        match self.grid_of(call, job, progress, max_n).await {
            Err(e) if max_n > 1 && errors::one_image_only(&e) => {
                self.one_per_call.store(true, Ordering::Relaxed);
                tracing::info!(
                    backend = %self.settings.name,
                    max_n,
                    "the provider takes one image per request; this backend now makes grids of parallel \
                     single calls (set max_n = 1 to start that way)"
                );
                self.grid_of(call, job, progress, 1).await
            }
            other => other,
        }
    }

    /// Makes the four images of a grid, in parallel requests of at most `max_n` images.
    async fn grid_of(
        &self,
        call: &Call<'_>,
        job: &Job,
        progress: &ProgressSink,
        max_n: u8,
    ) -> Result<JobOutput, BackendError> {
        let batches = plan(max_n);
        let mut pending: FuturesUnordered<_> = batches
            .iter()
            .map(|&batch| async move { self.request(call, job, batch).await.map(|images| (batch, images)) })
            .collect();
        let mut done = Vec::with_capacity(batches.len());
        while let Some(result) = pending.next().await {
            done.push(result?);
            if done.len() < batches.len() {
                let made: usize = done.iter().map(|(b, _): &(Batch, _)| b.n as usize).sum();
                progress.percent((made * 100 / GRID as usize) as u8, None);
            }
        }
        done.sort_by_key(|(batch, _)| batch.first);

        let mut output = JobOutput::default();
        let mut revised = Vec::new();
        for (batch, returned) in done {
            // A seed names one image only when the request made one image.
            let seed = (self.settings.send_seed && batch.n == 1).then(|| seed_for(job, batch));
            for image in returned {
                revised.push(image.revised_prompt);
                output.images.push(OutputImage { bytes: image.bytes, seed });
            }
        }
        let mut state = serde_json::json!({ "size": call.size().to_string() });
        if revised.iter().any(Option::is_some) {
            state["revised_prompts"] = serde_json::json!(revised);
        }
        output.remote_state = Some(state);
        Ok(output)
    }

    /// One request for `batch.n` images.
    async fn request(
        &self,
        call: &Call<'_>,
        job: &Job,
        batch: Batch,
    ) -> Result<Vec<images::Returned>, BackendError> {
        let s = &self.settings;
        let negative = job.spec.negative_prompt();
        let fields = ImageRequest {
            model: &s.model,
            prompt: None,
            n: batch.n,
            size: call.size().to_string(),
            response_format: s.response_format_field(),
            seed: s.send_seed.then(|| seed_for(job, batch)),
            negative_prompt: negative.as_deref().filter(|_| s.send_negative_prompt),
        };
        let reply = match call {
            Call::Generate { prompt, .. } => {
                let body = ImageRequest { prompt: Some(prompt), ..fields };
                self.generate(&body).await?
            }
            Call::Edit { prompt, images, .. } => {
                let mut form = ImageRequest { prompt: Some(prompt), ..fields }.to_form();
                // One image goes as `image`, several as repeated `image[]`, as OpenAI's SDKs do.
                let name = if images.len() == 1 { "image" } else { "image[]" };
                for (i, image) in images.iter().enumerate() {
                    form = form.part(name, file_part(image, i)?);
                }
                self.api.post_form("images/edits", form).await?
            }
            Call::Inpaint { prompt, image, mask, .. } => {
                let form = ImageRequest { prompt: Some(prompt), ..fields }.to_form();
                let form = form.part("image", file_part(image, 0)?).part("mask", file_part(mask, 1)?);
                self.api.post_form("images/edits", form).await?
            }
            Call::Vary { image, .. } => {
                let form = ImageRequest { negative_prompt: None, ..fields }.to_form();
                let form = form.part("image", file_part(image, 0)?);
                self.api.post_form("images/variations", form).await?
            }
        };
        images::collect(&self.api, &s.name, &reply.what, &reply.body, batch.n as usize).await
    }

    /// `/images/generations` as JSON, or form-encoded once the provider has said it takes
    /// only that.
    async fn generate(&self, body: &ImageRequest<'_>) -> Result<Reply, BackendError> {
        const PATH: &str = "images/generations";
        if self.form_bodies.load(Ordering::Relaxed) {
            return self.api.post_urlencoded(PATH, body).await;
        }
        match self.api.post_json(PATH, body).await {
            Err(e) if errors::wants_form(&e) => {
                self.form_bodies.store(true, Ordering::Relaxed);
                tracing::info!(
                    backend = %self.settings.name,
                    "the provider refused a JSON body; this backend now sends generations form-encoded"
                );
                self.api.post_urlencoded(PATH, body).await
            }
            other => other,
        }
    }

    async fn describe(&self, image: &SourceImage) -> Result<JobOutput, BackendError> {
        let Some(model) = self.settings.describe_model.as_deref() else {
            return Err(SERVICE.unsupported(&self.settings.name, "has no describe model configured"));
        };
        let answer = self.api.post_json("chat/completions", &describe::request(model, image)).await?;
        let what = answer.what;
        let reply: ChatResponse =
            SERVICE.parse_json(&what, &answer.body, "an answer that is not a chat completion")?;
        let Some(message) = reply.choices.into_iter().next().map(|c| c.message) else {
            return Err(SERVICE.bad_response("an empty chat answer", format!("{what}: no choices")));
        };
        if let Some(refusal) = message.refusal.filter(|r| !r.trim().is_empty()) {
            return Err(BackendError::fatal(
                FailureCode::ContentBlocked,
                format!("The describe model declined to describe this image: {refusal}"),
                format!("{what}: refusal: {refusal}"),
            ));
        }
        let text = message.content.map(wire::ChatContent::into_text).unwrap_or_default();
        let prompts = describe::parse_prompts(&text);
        if prompts.is_empty() {
            return Err(SERVICE.bad_response(
                "a description with no prompts in it",
                format!("{what}: content: {}", excerpt(text.as_bytes(), 300)),
            ));
        }
        Ok(JobOutput { prompts, ..JobOutput::default() })
    }
}

#[async_trait]
impl Backend for OpenAiBackend {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn capabilities(&self) -> Capabilities {
        self.settings.capabilities()
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        progress.percent(0, None);
        self.dispatch(&job, &progress).await.map_err(|e| redact(e, &[self.settings.api_key.expose()]))
    }

    async fn health(&self) -> Result<(), String> {
        self.api.probe().await
    }
}

/// Splits the grid into requests of at most `max_n` images: 4 → one call, 1 → four calls.
fn plan(max_n: u8) -> Vec<Batch> {
    let max_n = max_n.max(1);
    (0..GRID).step_by(max_n as usize).map(|first| Batch { first, n: max_n.min(GRID - first) }).collect()
}

/// Each request gets its own seed so parallel single-image calls do not repeat one image.
fn seed_for(job: &Job, batch: Batch) -> u32 {
    job.seed.wrapping_add(batch.first as u32)
}

fn aspect_of(image: &SourceImage) -> Option<f64> {
    (image.width > 0 && image.height > 0).then(|| image.width as f64 / image.height as f64)
}

fn file_part(image: &SourceImage, index: usize) -> Result<Part, BackendError> {
    // The service checks the part's type, and rejects `application/octet-stream`.
    let ext = match image.mime {
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => "png",
    };
    Part::bytes(image.bytes.to_vec())
        .file_name(format!("image-{}.{ext}", index + 1))
        .mime_str(image.mime)
        .map_err(|e| {
            BackendError::fatal(
                FailureCode::BadImage,
                "The input image has a type Easel cannot send.",
                format!("mime `{}`: {e}", image.mime),
            )
        })
}

fn variation_prompt(strength: Strength, prompt: &str) -> String {
    let how = match strength {
        Strength::Subtle => {
            "Make a close variation of this image: keep its subject, composition, colours and style, and change \
             only small details."
        }
        Strength::Strong => {
            "Make a loose variation of this image: keep its subject and style, but noticeably change the \
             composition, pose and details."
        }
    };
    if prompt.trim().is_empty() {
        how.to_string()
    } else {
        format!("{how} The image was made from: {prompt}")
    }
}

fn blend_prompt(count: usize, prompt: &str) -> String {
    let how = format!(
        "Blend these {count} images into one coherent new image that combines their subjects, styles and colours."
    );
    if prompt.trim().is_empty() { how } else { format!("{how} {prompt}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_split_by_max_n() {
        let shape = |max_n| plan(max_n).iter().map(|b| (b.first, b.n)).collect::<Vec<_>>();
        assert_eq!(shape(4), [(0, 4)]);
        assert_eq!(shape(10), [(0, 4)]);
        assert_eq!(shape(1), [(0, 1), (1, 1), (2, 1), (3, 1)]);
        assert_eq!(shape(3), [(0, 3), (3, 1)]);
        assert_eq!(shape(0), [(0, 1), (1, 1), (2, 1), (3, 1)]);
    }
}
