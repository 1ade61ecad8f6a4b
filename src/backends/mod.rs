//! The seam between Easel and the image services it drives. A backend adapter turns one
//! [`Job`] into one [`JobOutput`] over its own protocol and says, through [`Capabilities`],
//! which operations and prompt parameters it can honour. Retries, deadlines and the grid are
//! the engine's business, not the adapter's: an adapter only classifies its failures.
//!
//! A protocol is one folder (its settings, checks, wire format and adapter) and one line in
//! the [`Registry`]'s table of kinds; what the adapters share — the JSON client, the status
//! ladder, the webhook mailbox — is in [`http_util`].

pub mod a1111;
pub mod comfyui;
pub mod demo;
mod demo_art;
mod demo_edit;
pub mod health;
pub mod http_util;
pub mod imagineapi;
mod kind;
pub mod mj_proxy;
pub mod ohmygpt;
pub mod openai;
pub mod openjourney;
pub mod opj;
pub mod references;
mod registry;
pub mod routing;

pub use registry::{Registry, check, concurrency, summary, warnings};

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::base::{EditAction, FailureCode, Strength, TaskId, UpscaleMode};
use crate::imaging::EditPlan;
use crate::prompt::{Param, PromptSpec};

/// What a backend can do. The engine composes what is missing (a grid from four images, an
/// upscale from the stored full-size image), and the Discord side hides what cannot be served.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capabilities {
    pub imagine: bool,
    /// The backend has its own upscaler; without it, U serves the stored image at full size.
    pub upscale: bool,
    pub variation: bool,
    pub blend: bool,
    pub describe: bool,
    /// Sends preview images while it works.
    pub previews: bool,
    /// Returns one 2×2 grid image instead of four images.
    pub native_grid: bool,
    /// A job interrupted by a restart can be re-attached through its remote id.
    pub resumable: bool,
    /// Running the same job again is harmless (no cost, no duplicate at the provider), so a
    /// job interrupted by a restart may simply run again.
    pub rerun_is_free: bool,
    /// U and V act on the parent's job at the service (midjourney-proxy's buttons), so they
    /// can only run on the backend that made the parent.
    pub parent_bound: bool,
    /// The widest aspect ratio it accepts, as long side / short side.
    pub max_aspect: f64,
    /// Zoom Out, Custom Zoom, Make Square and Pan: fills new canvas around an image.
    pub outpaint: bool,
    /// Vary (Region): repaints a marked part of an image.
    pub inpaint: bool,
    /// Upscale (Subtle): the backend's faithful upscaler at 2×.
    pub upscale_subtle: bool,
    /// Upscale (Creative): a re-drawing at 2× that adds detail.
    pub upscale_creative: bool,
    /// The longest canvas side it draws, for Zoom Out and Pan (0 = no limit of its own).
    pub max_side: u32,
    /// How many reference images (`--sref`, `--cref`, `--oref`, image prompts: those of their
    /// kinds in `params`) it takes as images; 0 = it takes none as images (a Midjourney
    /// service reads the links in the prompt itself). See [`references`].
    pub max_reference_images: u32,
    /// Prompt parameters it honours; the others are listed to the member as ignored.
    pub params: Vec<Param>,
}

impl Capabilities {
    /// A Midjourney account behind an API (midjourney-proxy, ohmygpt): every operation,
    /// Midjourney's own 2×2 grid, U and V acting on the parent's job at the service, jobs
    /// that can be re-attached but cost money to run again, and the prompt passed verbatim.
    pub fn midjourney() -> Capabilities {
        Capabilities {
            imagine: true,
            upscale: true,
            variation: true,
            blend: true,
            describe: true,
            previews: true,
            native_grid: true,
            resumable: true,
            rerun_is_free: false,
            parent_bound: true,
            // Midjourney goes wider; this is Easel's own default limit.
            max_aspect: 4.0,
            // Midjourney's own buttons after U are offered by the adapters that can press them.
            outpaint: false,
            inpaint: false,
            upscale_subtle: false,
            upscale_creative: false,
            max_side: 0,
            max_reference_images: 0,
            // Parameters and image URLs reach Midjourney as the member wrote them.
            params: Param::ALL.to_vec(),
        }
    }

    /// Whether it can serve the edit `action` (Zoom, Pan, Square: outpaint; Vary (Region):
    /// inpaint).
    pub fn edits(&self, action: EditAction) -> bool {
        if action.outpaints() { self.outpaint } else { self.inpaint }
    }

    /// Whether it can serve Upscale (Subtle) or (Creative).
    pub fn upscales_2x(&self, mode: UpscaleMode) -> bool {
        match mode {
            UpscaleMode::Subtle => self.upscale_subtle,
            UpscaleMode::Creative => self.upscale_creative,
        }
    }

    /// Parameters present in `spec` that this backend will not honour.
    pub fn ignored_params(&self, spec: &PromptSpec) -> Vec<Param> {
        let unused = self.unused_references(spec);
        spec.present_params().into_iter().filter(|p| !self.params.contains(p) || unused.contains(p)).collect()
    }
}

/// An image handed to a backend as input: a parent's result or a member's upload.
#[derive(Clone)]
pub struct SourceImage {
    pub bytes: Bytes,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
}

impl fmt::Debug for SourceImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceImage({} {}x{}, {} bytes)", self.mime, self.width, self.height, self.bytes.len())
    }
}

/// The parent task's footprint at its backend, for protocols that act on their own jobs
/// (midjourney-proxy's buttons, for instance).
#[derive(Debug, Clone, Default)]
pub struct ParentRef {
    pub remote_id: Option<String>,
    pub remote_state: Option<serde_json::Value>,
    pub seed: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Operation {
    /// Four images from the prompt. A re-roll is an imagine with a fresh seed.
    Imagine,
    /// Image `index` (0-based) of the parent, at higher resolution.
    Upscale { index: u8, source: SourceImage, parent: ParentRef },
    /// Four new images close to image `index` of the parent.
    Variation { index: u8, strength: Strength, source: SourceImage, parent: ParentRef },
    /// Four images mixing the inputs.
    Blend { images: Vec<SourceImage> },
    /// Four prompts that could have produced the image.
    Describe { image: SourceImage },
    /// Four images of `plan`'s canvas: the source where the mask keeps it, new paint where it
    /// repaints (Zoom Out, Custom Zoom, Make Square, Pan, Vary (Region)).
    Edit { index: u8, action: EditAction, plan: EditPlan, source: SourceImage, parent: ParentRef },
    /// Image `index` of the parent at twice its size: Upscale (Subtle / Creative).
    Upscale2x { index: u8, mode: UpscaleMode, source: SourceImage, parent: ParentRef },
}

impl Operation {
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Imagine => "imagine",
            Operation::Upscale { .. } => "upscale",
            Operation::Variation { .. } => "variation",
            Operation::Blend { .. } => "blend",
            Operation::Describe { .. } => "describe",
            Operation::Edit { .. } => "edit",
            Operation::Upscale2x { .. } => "upscale 2x",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub task_id: TaskId,
    pub op: Operation,
    pub spec: PromptSpec,
    /// The seed Easel chose (or the member's `--seed`); backends that take seeds use it.
    pub seed: u32,
    /// Set when the engine re-attaches to work submitted before a restart.
    pub resume: Option<String>,
}

/// An image as the backend made it: kept byte for byte when it is small enough.
#[derive(Clone)]
pub struct OutputImage {
    pub bytes: Bytes,
    /// Seed of this image when the backend reports one.
    pub seed: Option<u32>,
}

impl fmt::Debug for OutputImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OutputImage({} bytes, seed {:?})", self.bytes.len(), self.seed)
    }
}

#[derive(Debug, Clone, Default)]
pub struct JobOutput {
    /// Four images for grid operations (or one native grid when `native_grid`), one for upscale.
    pub images: Vec<OutputImage>,
    /// Describe's prompts.
    pub prompts: Vec<String>,
    /// Opaque state the backend wants kept with the task (button ids, per-image seeds…).
    pub remote_state: Option<serde_json::Value>,
}

/// A failure, classified for the engine. `detail` is for the log; `user_message` for members.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct BackendError {
    pub code: FailureCode,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    pub detail: String,
    pub user_message: String,
}

impl BackendError {
    pub fn fatal(code: FailureCode, user_message: impl Into<String>, detail: impl Into<String>) -> Self {
        BackendError {
            code,
            retryable: false,
            retry_after: None,
            // Transport errors name the URL they fetched, credentials and `?key=` included.
            detail: crate::base::redact_urls(&detail.into()),
            user_message: crate::base::redact_urls(&user_message.into()),
        }
    }

    pub fn retryable(code: FailureCode, user_message: impl Into<String>, detail: impl Into<String>) -> Self {
        BackendError { retryable: true, ..Self::fatal(code, user_message, detail) }
    }

    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

/// What a backend reports while it works.
#[derive(Debug)]
pub enum ProgressUpdate {
    Percent {
        percent: u8,
        preview: Option<Bytes>,
    },
    /// The backend accepted the job under this id. The engine stores it before acknowledging,
    /// so a restart re-attaches instead of submitting twice.
    Accepted {
        remote_id: String,
        ack: oneshot::Sender<()>,
    },
}

/// The adapter's handle for reporting progress; cheap to clone.
#[derive(Clone, Debug)]
pub struct ProgressSink {
    tx: mpsc::UnboundedSender<ProgressUpdate>,
}

impl ProgressSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ProgressUpdate>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ProgressSink { tx }, rx)
    }

    /// A sink whose reports go nowhere, for callers that do not watch progress.
    pub fn discard() -> Self {
        Self::new().0
    }

    pub fn percent(&self, percent: u8, preview: Option<Bytes>) {
        let _ = self.tx.send(ProgressUpdate::Percent { percent: percent.min(100), preview });
    }

    /// Records the remote job id durably before returning.
    pub async fn accepted(&self, remote_id: impl Into<String>) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(ProgressUpdate::Accepted { remote_id: remote_id.into(), ack }).is_ok() {
            let _ = done.await;
        }
    }
}

#[async_trait]
pub trait Backend: Send + Sync {
    fn name(&self) -> &str;
    fn capabilities(&self) -> Capabilities;
    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError>;

    /// A cheap probe for `/healthz`: can the service be reached with these credentials?
    /// Backends with nothing to probe (the demo) are always healthy.
    async fn health(&self) -> Result<(), String> {
        Ok(())
    }

    /// Asks the service to stop the job it accepted under `remote_id`. `Ok(true)` when the
    /// protocol has a way to cancel that one job and the service took it; `Ok(false)` when it
    /// has none (the engine then discards the result when it arrives). Never cancels anything
    /// but that job: other members' work on a shared server is not ours to stop.
    async fn cancel(&self, _remote_id: &str) -> Result<bool, BackendError> {
        Ok(false)
    }
}
