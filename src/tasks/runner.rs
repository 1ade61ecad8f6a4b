//! Running one claimed task: building its job, driving the backend while recording progress
//! and the remote id, then turning the output into stored files and a final state — or a
//! retry, or a failure a member can understand.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::engine::Inner;
use super::events::EventKind;
use crate::backends::{
    BackendError, Capabilities, Job, JobOutput, Operation, ParentRef, ProgressSink, ProgressUpdate,
    SourceImage, http_util,
};
use crate::base::ImageRole;
use crate::base::{FailureCode, TaskKind, TaskState, now_ms};
use crate::db::{Outcome, StoredImage, Task};
use crate::imaging;
use crate::prompt::Param;

const ACTIVE: [TaskState; 2] = [TaskState::Submitted, TaskState::Running];

/// Retry delays grow 2 s, 4 s, 8 s… up to this, with ±25 % jitter so retries spread out.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

pub(super) fn operation_name(kind: &TaskKind) -> &'static str {
    match kind {
        TaskKind::Imagine | TaskKind::Reroll => "imagine",
        TaskKind::Upscale { .. } => "upscale",
        TaskKind::Variation { .. } => "make variations",
        TaskKind::Blend => "blend",
        TaskKind::Describe => "describe",
        TaskKind::Edit { action, .. } if action.outpaints() => "extend the image",
        TaskKind::Edit { .. } => "repaint the region",
        TaskKind::Upscale2x { .. } => "upscale",
    }
}

pub(super) async fn run(inner: Arc<Inner>, task: Task, abort: oneshot::Receiver<()>) {
    let id = task.id;
    let result = tokio::select! {
        result = execute(&inner, &task) => result,
        Ok(()) = abort => return stop_at_backend(&inner, &task).await,
    };
    // What this says about the backend feeds its circuit breaker; an upscale served from the
    // stored image never reached the backend and says nothing.
    let reached_backend = !matches!(task.kind, TaskKind::Upscale { .. })
        || inner.backends.get(&task.backend).is_some_and(|b| b.capabilities().upscale);
    let health = inner.backends.health();
    match &result {
        Ok(_) if reached_backend => health.record_task(&task.backend, None),
        Err(e) if reached_backend => health.record_task(&task.backend, Some(e.code)),
        _ => health.cancel_start(&task.backend),
    }
    let settled = match result {
        Ok(outcome) => match inner.db.succeed(id, &outcome).await {
            Ok(true) => {
                info!("task succeeded");
                record_finish(&task, "succeeded");
                inner.emit(id, EventKind::Succeeded);
                Ok(())
            }
            Ok(false) => Ok(()), // canceled or settled elsewhere meanwhile: nothing to do
            Err(e) => Err(e),
        },
        Err(failure) => settle_failure(&inner, &task, failure).await,
    };
    if let Err(e) = settled {
        error!(error = %format!("{e:#}"), "recording the task's outcome failed");
        let msg = format!("Something went wrong inside Easel (task {id}); an admin can find it in the log.");
        if let Ok(true) = inner.db.fail(id, &ACTIVE, FailureCode::Internal, &msg).await {
            inner.emit(id, EventKind::Failed { code: FailureCode::Internal, message: msg });
        }
    }
}

/// After /cancel stopped our side of a running task: ask the service to drop the job too,
/// when the protocol has a way (its result would be discarded anyway).
async fn stop_at_backend(inner: &Inner, task: &Task) {
    inner.backends.health().cancel_start(&task.backend);
    record_finish(task, "canceled");
    let remote = inner.db.task(task.id).await.ok().flatten().and_then(|t| t.remote_id);
    let (Some(remote), Some(backend)) = (remote, inner.backends.get(&task.backend)) else { return };
    match tokio::time::timeout(Duration::from_secs(15), backend.cancel(&remote)).await {
        Ok(Ok(true)) => info!(remote_id = %remote, "canceled at the backend"),
        Ok(Ok(false)) => {
            info!(remote_id = %remote, "the backend has no cancel; its result will be discarded")
        }
        Ok(Err(e)) => {
            warn!(remote_id = %remote, error = %e, "the backend refused to cancel; its result will be discarded")
        }
        Err(_) => warn!(remote_id = %remote, "the backend did not answer the cancel in time"),
    }
}

/// Prometheus: how tasks end and how long they take from request to result, by backend.
fn record_finish(task: &Task, state: &'static str) {
    let backend = task.backend.clone();
    metrics::counter!("easel_tasks_finished_total", "backend" => backend.clone(), "state" => state)
        .increment(1);
    let seconds = (now_ms() - task.created_at).max(0) as f64 / 1000.0;
    metrics::histogram!("easel_task_seconds", "backend" => backend).record(seconds);
}

async fn settle_failure(inner: &Inner, task: &Task, err: BackendError) -> anyhow::Result<()> {
    let id = task.id;
    metrics::counter!("easel_backend_errors_total", "backend" => task.backend.clone(), "code" => err.code.as_str())
        .increment(1);
    let now = now_ms();
    if err.retryable && task.attempts < inner.limits.max_attempts && now < task.deadline_at {
        // Another backend that can serve it takes over at once; else this one, after a pause.
        if super::failover::after_failure(inner, task, &err.user_message).await? {
            warn!(attempt = task.attempts, code = %err.code, detail = %err.detail, "backend failed; failed over");
            return Ok(());
        }
    }
    if err.retryable && task.attempts < inner.limits.max_attempts {
        let delay = err.retry_after.unwrap_or_else(|| backoff(task.attempts));
        let at = now + delay.as_millis() as i64;
        if at < task.deadline_at {
            warn!(attempt = task.attempts, code = %err.code,
                  detail = %err.detail, retry_in_ms = delay.as_millis() as u64, "backend failed; will retry");
            if inner.db.requeue(id, at).await? {
                inner.emit(
                    id,
                    EventKind::Retrying { attempt: task.attempts, after: delay, reason: err.user_message },
                );
            }
            return Ok(());
        }
    }
    warn!(code = %err.code,
          detail = %err.detail, "task failed");
    if inner.db.fail(id, &ACTIVE, err.code, &err.user_message).await? {
        record_finish(task, "failed");
        inner.emit(id, EventKind::Failed { code: err.code, message: err.user_message });
    }
    Ok(())
}

fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(2).saturating_mul(1 << attempt.saturating_sub(1).min(6));
    base.min(MAX_BACKOFF).mul_f64(0.75 + fastrand::f64() * 0.5)
}

fn internal(task: &Task, e: anyhow::Error) -> BackendError {
    error!(error = %format!("{e:#}"), "task failed inside Easel");
    BackendError::fatal(
        FailureCode::Internal,
        format!("Something went wrong inside Easel (task {}); an admin can find it in the log.", task.id),
        format!("{e:#}"),
    )
}

async fn execute(inner: &Inner, task: &Task) -> Result<Outcome, BackendError> {
    let now = now_ms();
    if now >= task.deadline_at {
        return Err(BackendError::fatal(
            FailureCode::DeadlineExceeded,
            "This task waited too long and was stopped. Please try again.",
            "deadline passed before the task ran",
        ));
    }
    let Some(backend) = inner.backends.get(&task.backend) else {
        return Err(BackendError::fatal(
            FailureCode::Unsupported,
            format!("Backend `{}` is no longer configured on this server.", task.backend),
            "backend missing from the registry",
        ));
    };
    let caps = backend.capabilities();

    // Without a native upscaler, U serves the stored full-size image: no backend call.
    if let TaskKind::Upscale { index } = task.kind
        && !caps.upscale
    {
        let parent = task.parent_id.context("an upscale without a parent").map_err(|e| internal(task, e))?;
        let images = inner.db.images(parent, ImageRole::Image).await.map_err(|e| internal(task, e))?;
        let chosen = images.into_iter().find(|i| i.index == index).ok_or_else(|| {
            BackendError::fatal(
                FailureCode::Unsupported,
                format!("Image #{} no longer exists.", index + 1),
                "parent image row missing",
            )
        })?;
        return Ok(Outcome { images: vec![StoredImage { index: 0, ..chosen }], ..Outcome::default() });
    }

    let job = build_job(inner, task).await.map_err(|e| internal(task, e))?;
    let (sink, mut updates) = ProgressSink::new();
    let budget = Duration::from_millis((task.deadline_at - now).max(0) as u64);
    let call = tokio::time::timeout(budget, backend.run(job, sink));
    tokio::pin!(call);
    let result = loop {
        tokio::select! {
            res = &mut call => break res,
            Some(update) = updates.recv() => on_update(inner, task, update).await,
        }
    };
    // The adapter may have reported just before returning.
    while let Ok(update) = updates.try_recv() {
        on_update(inner, task, update).await;
    }
    let output = match result {
        Ok(res) => res?,
        Err(_) => {
            return Err(BackendError::fatal(
                FailureCode::DeadlineExceeded,
                "The image service took too long, so this task was stopped. Please try again.",
                format!("overall deadline of {budget:?} passed"),
            ));
        }
    };
    finish(inner, task, &caps, output).await
}

async fn on_update(inner: &Inner, task: &Task, update: ProgressUpdate) {
    match update {
        ProgressUpdate::Percent { percent, preview } => {
            if let Err(e) = inner.db.set_progress(task.id, percent).await {
                warn!(error = %format!("{e:#}"), "recording progress failed");
            }
            inner.emit(task.id, EventKind::Progress { percent, preview });
        }
        ProgressUpdate::Accepted { remote_id, ack } => {
            if let Err(e) = inner.db.set_remote_id(task.id, &remote_id).await {
                error!(error = %format!("{e:#}"), "recording the remote id failed");
            }
            let _ = ack.send(());
        }
    }
}

async fn build_job(inner: &Inner, task: &Task) -> anyhow::Result<Job> {
    let op = match task.kind {
        TaskKind::Imagine | TaskKind::Reroll => Operation::Imagine,
        TaskKind::Upscale { index } => {
            let (source, parent) = parent_source(inner, task, index).await?;
            Operation::Upscale { index, source, parent }
        }
        TaskKind::Variation { index, strength } => {
            let (source, parent) = parent_source(inner, task, index).await?;
            Operation::Variation { index, strength, source, parent }
        }
        TaskKind::Blend => Operation::Blend { images: load_sources(inner, task.id, ImageRole::Input).await? },
        TaskKind::Describe => {
            let image = load_sources(inner, task.id, ImageRole::Input)
                .await?
                .into_iter()
                .next()
                .context("describe has no image")?;
            Operation::Describe { image }
        }
        TaskKind::Edit { index, action } => {
            let plan = task.edit.clone().context("an edit without its canvas and mask")?;
            plan.check().map_err(anyhow::Error::msg)?;
            let (source, parent) = parent_source(inner, task, index).await?;
            Operation::Edit { index, action, plan, source, parent }
        }
        TaskKind::Upscale2x { index, mode } => {
            let (source, parent) = parent_source(inner, task, index).await?;
            Operation::Upscale2x { index, mode, source, parent }
        }
    };
    Ok(Job {
        task_id: task.id,
        op,
        spec: task.prompt.clone(),
        seed: task.seed,
        resume: task.remote_id.clone(),
    })
}

async fn parent_source(inner: &Inner, task: &Task, index: u8) -> anyhow::Result<(SourceImage, ParentRef)> {
    let parent_id = task.parent_id.context("task has no parent")?;
    let parent = inner.db.task(parent_id).await?.context("parent task missing")?;
    let source = load_sources(inner, parent_id, ImageRole::Image)
        .await?
        .into_iter()
        .nth(index as usize)
        .with_context(|| format!("parent {parent_id} has no image {index}"))?;
    Ok((
        source,
        ParentRef { remote_id: parent.remote_id, remote_state: parent.remote_state, seed: Some(parent.seed) },
    ))
}

async fn load_sources(inner: &Inner, task: i64, role: ImageRole) -> anyhow::Result<Vec<SourceImage>> {
    let mut out = Vec::new();
    for img in inner.db.images(task, role).await? {
        let bytes = inner.storage.read(&img.path).await?;
        let format =
            imaging::sniff(&bytes).with_context(|| format!("stored image {} is unreadable", img.path))?;
        out.push(SourceImage { bytes, mime: format.mime(), width: img.width, height: img.height });
    }
    Ok(out)
}

/// Turns a backend's output into stored files: the 2×2 grid for grid tasks (cropping a
/// backend-made grid into four first), the original file for single images.
async fn finish(
    inner: &Inner,
    task: &Task,
    caps: &Capabilities,
    output: JobOutput,
) -> Result<Outcome, BackendError> {
    let bad = |detail: String| {
        BackendError::retryable(
            FailureCode::BackendBadResponse,
            "The image service sent back something that isn't a usable image.",
            detail,
        )
    };
    let mut outcome = Outcome { remote_state: output.remote_state.clone(), ..Outcome::default() };
    let mut ignored = caps.ignored_params(&task.prompt);
    if task.model.is_some() {
        // `--v`/`--niji` chose this backend by its alias: they were honoured, not ignored.
        ignored.retain(|p| !matches!(p, Param::Version | Param::Niji));
    }
    if !ignored.is_empty() {
        let flags: Vec<&str> = ignored.iter().map(|p| p.flag()).collect();
        outcome.notes.push(format!("Backend `{}` ignores {}", task.backend, flags.join(", ")));
    }
    if inner.backends.len() > 1 {
        // With several backends the member should know which one made this, and why another
        // did not.
        let mut note = format!("Served by `{}`", task.backend);
        if !task.tried_backends.is_empty() {
            let tried: Vec<String> = task.tried_backends.iter().map(|b| format!("`{b}`")).collect();
            note += &format!(" after {} failed", tried.join(", "));
        }
        outcome.notes.push(note);
    }
    if task.kind == TaskKind::Describe {
        if output.prompts.is_empty() {
            return Err(bad("describe returned no prompts".into()));
        }
        outcome.prompts = output.prompts.into_iter().take(4).collect();
        return Ok(outcome);
    }
    let quality = inner.grid_quality;
    let grid_task = task.kind.makes_grid();
    let images = output.images;
    let member = task.user_id.clone();
    let processed = tokio::task::spawn_blocking(move || {
        imaging::on_behalf_of(&member, || process_images(images, grid_task, quality))
    })
    .await
    .map_err(|e| internal(task, anyhow::anyhow!("image processing panicked: {e}")))?
    .map_err(|e| unusable_output(e, &bad))?;
    for (role, index, bytes, format, width, height, seed) in processed {
        let path = inner
            .storage
            .write(task.id, role, index, format.extension(), &bytes)
            .await
            .map_err(|e| internal(task, e))?;
        outcome.images.push(StoredImage {
            role,
            index,
            path: path.display().to_string(),
            mime: format.mime().into(),
            width,
            height,
            bytes: bytes.len() as u64,
            seed,
        });
    }
    Ok(outcome)
}

/// Why the images a backend returned could not be made into a result: a decoder error says
/// precisely (cut off, too large, not an image, whatever the adapter), anything else is a bad
/// response.
fn unusable_output(err: anyhow::Error, bad: &dyn Fn(String) -> BackendError) -> BackendError {
    match err.downcast_ref::<imaging::ImageError>() {
        Some(image) => http_util::image_error("the image service", "decoding its images", image),
        None => bad(format!("{err:#}")),
    }
}

type Processed = (ImageRole, u8, Vec<u8>, imaging::Format, u32, u32, Option<u32>);

/// CPU-bound: runs on the blocking pool.
fn process_images(
    images: Vec<crate::backends::OutputImage>,
    grid_task: bool,
    quality: u8,
) -> anyhow::Result<Vec<Processed>> {
    let mut out = Vec::new();
    if !grid_task {
        let first = images.first().context("the backend returned no image")?;
        let (bytes, format) = imaging::single_for_discord(&first.bytes)?;
        let (_, w, h) = imaging::probe(&bytes)?;
        out.push((ImageRole::Image, 0, bytes, format, w, h, first.seed));
        return Ok(out);
    }
    let encoded: Vec<(Bytes, Option<u32>)> = match images.len() {
        4 => images.into_iter().map(|i| (i.bytes, i.seed)).collect(),
        1 => {
            // A backend-made grid: split it so each quadrant can be upscaled on its own.
            imaging::split_grid(&images[0].bytes)?.into_iter().map(|png| (Bytes::from(png), None)).collect()
        }
        n => anyhow::bail!("expected 4 images (or one grid), got {n}"),
    };
    let refs: [&[u8]; 4] = [&encoded[0].0, &encoded[1].0, &encoded[2].0, &encoded[3].0];
    // Only the sizes are needed from here: the tiles' pixels go before the singles decode.
    let imaging::Grid { jpeg, width, height, sizes, .. } = imaging::grid_from_encoded(&refs, quality)?;
    out.push((ImageRole::Grid, 0, jpeg, imaging::Format::Jpeg, width, height, None));
    for (i, ((bytes, seed), (w, h))) in encoded.iter().zip(sizes).enumerate() {
        let (kept, format) = imaging::single_for_discord(bytes)?;
        out.push((ImageRole::Image, i as u8, kept, format, w, h, *seed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= MAX_BACKOFF.mul_f64(1.25), "attempt {attempt}: {d:?}");
            assert!(d >= Duration::from_millis(1500), "attempt {attempt}: {d:?}");
        }
        assert!(backoff(4) > backoff(1).mul_f64(1.9));
    }
}
