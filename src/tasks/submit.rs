//! Creating tasks: each request's tasks are checked (backend, parent, input images), then
//! created all together or not at all, with the member's caps and daily quota checked in the
//! same transaction as the insert, so requests sent at once cannot pass a limit together.
//! The refusals name the member's numbers ([`SubmitError::QueueFull`],
//! [`SubmitError::DailyLimit`]).

use std::time::Duration;

use anyhow::Context;
use tracing::info;

use super::engine::{Engine, Inner, SubmitError};
use super::events::EventKind;
use super::runner;
use crate::base::{DAY_MS, ImageRole, TaskKind, TaskState};
use crate::db::{NewTask, OverLimit, StoredImage, SubmitLimits, Task};
use crate::imaging;

impl Engine {
    /// Checks and queues one task under `[limits]` (no daily quota): for callers without a
    /// member's quota, such as the command line.
    pub async fn submit(&self, new: NewTask) -> Result<Task, SubmitError> {
        let mut tasks = self.submit_all(vec![new], self.default_limits()).await?;
        Ok(tasks.remove(0))
    }

    /// The limits of a member with no quota of their own: `[limits]`'s waiting cap, no daily
    /// limit.
    pub fn default_limits(&self) -> SubmitLimits {
        let inner = self.inner();
        SubmitLimits {
            waiting_cap: inner.limits.per_user_queued,
            daily_limit: None,
            day_start_ms: inner.clock.day_start(),
        }
    }

    /// Checks and queues the tasks of one request — all of them, or none. Child tasks (U, V)
    /// must name a finished parent that has the chosen image; input images are checked, then
    /// stored with the task. The member (every task must be the same member's) may have
    /// their running cap plus `limits.waiting_cap` unfinished tasks and, with a daily limit,
    /// that many tasks a day; both are counted in the transaction that inserts, so requests
    /// sent at once cannot pass them together.
    pub async fn submit_all(
        &self,
        tasks: Vec<NewTask>,
        limits: SubmitLimits,
    ) -> Result<Vec<Task>, SubmitError> {
        let inner = self.inner();
        let Some(first) = tasks.first() else { return Ok(Vec::new()) };
        let user = first.user_id.clone();
        let running_cap = first.running_cap.unwrap_or(inner.limits.per_user_running);
        let asked = tasks.len() as u32;
        // Early and without a lock: a member already over a limit hears so before any
        // upload is decoded. The check that counts is the one in the insert.
        self.check_limits(&user, &limits, asked, running_cap).await?;
        let mut batch = Vec::with_capacity(tasks.len());
        for new in tasks {
            let checked = check_task(inner, &new).await;
            match checked {
                Ok(inputs) => batch.push((new, inputs)),
                Err(e) => {
                    discard_inputs(inner, &batch).await;
                    return Err(e);
                }
            }
        }
        let deadline = Duration::from_secs(inner.limits.task_deadline_secs);
        let created =
            inner.db.insert_tasks(&batch, &limits, running_cap, deadline, inner.clock.now_ms()).await;
        let tasks = match created {
            Ok(Ok(tasks)) => tasks,
            Ok(Err(OverLimit::ParentImagesRemoved { parent })) => {
                // Retention removed them between the check above and the insert.
                discard_inputs(inner, &batch).await;
                let task = inner.db.task(parent).await?;
                let removed =
                    task.as_ref().and_then(|t| t.images_removed).ok_or(SubmitError::ParentNotReady)?;
                let kind = batch.iter().find(|(t, _)| t.parent_id == Some(parent)).map(|(t, _)| t.kind);
                return Err(images_removed(
                    removed,
                    task.and_then(|t| t.finished_at),
                    &kind.unwrap_or(TaskKind::Upscale { index: 0 }),
                ));
            }
            Ok(Err(over)) => {
                discard_inputs(inner, &batch).await;
                info!(user_id = %user, ?over, "tasks refused at a limit");
                return Err(refusal(over, &limits, asked, running_cap));
            }
            Err(e) => {
                discard_inputs(inner, &batch).await;
                return Err(e.into());
            }
        };
        for task in &tasks {
            info!(task_id = task.id, user_id = %task.user_id, backend = %task.backend, kind = ?task.kind, "task queued");
            inner.emit(task.id, EventKind::Queued);
        }
        for task in &tasks {
            inner.db.release(task.id).await?;
        }
        inner.wake();
        Ok(tasks)
    }

    /// Refuses, naming the numbers, when `more` new tasks would take `user` past the
    /// per-member caps (`running_cap` is theirs). An early answer only, without a lock:
    /// [`Engine::submit_all`] checks again as it inserts.
    pub async fn check_room(&self, user: &str, more: u32, running_cap: u32) -> Result<(), SubmitError> {
        let limits = SubmitLimits { daily_limit: None, ..self.default_limits() };
        self.check_limits(user, &limits, more, running_cap).await
    }

    async fn check_limits(
        &self,
        user: &str,
        limits: &SubmitLimits,
        asked: u32,
        running_cap: u32,
    ) -> Result<(), SubmitError> {
        let db = &self.inner().db;
        let load = db.load_of(user).await?;
        let used = match limits.daily_limit {
            Some(_) => db.tasks_counted(user, limits.day_start_ms, limits.day_start_ms + DAY_MS).await?,
            None => 0,
        };
        limits.check(load, used, asked, running_cap).map_err(|over| refusal(over, limits, asked, running_cap))
    }
}

/// What a member over their daily quota is told (`resets_at`: unix ms). The gate's early
/// refusal says the same, in the same words.
pub fn daily_limit_text(used: u32, limit: u32, asked: u32, resets_at: i64) -> String {
    let over = if asked <= 1 || used >= limit {
        format!("You have used {used} of your {limit} images for today.")
    } else {
        format!(
            "This asks for {asked} images, and you have used {used} of your {limit} for today, so only \
             {} more fit. Ask for fewer (a shorter {{a, b}} list).",
            limit - used
        )
    };
    format!("{over} Your quota resets at 00:00 UTC (<t:{}:R>).", resets_at / 1000)
}

fn images_removed(
    removed: crate::db::ImagesRemoved,
    finished_at: Option<i64>,
    kind: &TaskKind,
) -> SubmitError {
    let done = if matches!(kind, TaskKind::Upscale { .. }) { "upscaled" } else { "varied" };
    SubmitError::ImagesRemoved(super::retention::images_removed_text(removed, finished_at, done))
}

/// The member's words for a limit `asked` more tasks would pass.
fn refusal(over: OverLimit, limits: &SubmitLimits, asked: u32, running_cap: u32) -> SubmitError {
    match over {
        // The member's running cap is theirs to fill; what is beyond it counts as waiting,
        // claimed yet or not, so the number agrees with the caps the message names.
        OverLimit::Waiting { unfinished, .. } => SubmitError::QueueFull {
            queued: unfinished.saturating_sub(running_cap),
            running: running_cap,
            cap: limits.waiting_cap,
        },
        OverLimit::Daily { used, limit } => {
            SubmitError::DailyLimit { used, limit, asked, resets_at: limits.day_start_ms + DAY_MS }
        }
        OverLimit::ParentImagesRemoved { .. } => SubmitError::ParentNotReady,
    }
}

/// Checks one task of a request and stores its input images; returns their rows.
async fn check_task(inner: &Inner, new: &NewTask) -> Result<Vec<StoredImage>, SubmitError> {
    let backend =
        inner.backends.get(&new.backend).ok_or_else(|| SubmitError::UnknownBackend(new.backend.clone()))?;
    let caps = backend.capabilities();
    let supported = match new.kind {
        TaskKind::Imagine | TaskKind::Reroll => caps.imagine,
        TaskKind::Upscale { .. } => true,
        TaskKind::Variation { .. } => caps.variation,
        TaskKind::Blend => caps.blend,
        TaskKind::Describe => caps.describe,
        // An edit needs its canvas and mask with it, or it could never run.
        TaskKind::Edit { action, .. } => caps.edits(action) && new.edit.is_some(),
        TaskKind::Upscale2x { mode, .. } => caps.upscales_2x(mode),
    };
    if !supported {
        return Err(SubmitError::Unsupported {
            backend: new.backend.clone(),
            operation: runner::operation_name(&new.kind),
        });
    }
    if let Some(index) = new.kind.source_index() {
        let parent_id = new.parent_id.ok_or(SubmitError::ParentNotReady)?;
        let parent = inner.db.task(parent_id).await?.ok_or(SubmitError::ParentNotReady)?;
        if parent.state != TaskState::Succeeded {
            return Err(SubmitError::ParentNotReady);
        }
        if let Some(removed) = parent.images_removed {
            return Err(images_removed(removed, parent.finished_at, &new.kind));
        }
        let images = inner.db.images(parent_id, ImageRole::Image).await?;
        if !images.iter().any(|i| i.index == index) {
            return Err(SubmitError::NoSuchImage(index + 1));
        }
    }
    // A full decode within the limits, not just the header: a truncated or corrupt upload
    // is refused now, while the member is still there to hear why. All are checked before
    // any is written.
    let mut found = Vec::with_capacity(new.inputs.len());
    for (i, bytes) in new.inputs.iter().enumerate() {
        let (data, member) = (bytes.clone(), new.user_id.clone());
        let checked = tokio::task::spawn_blocking(move || {
            let format = imaging::sniff(&data)?;
            // Charged to the member, so their uploads queue behind each other, not others'.
            let img = imaging::on_behalf_of(&member, || imaging::decode(&data))?;
            Ok::<_, imaging::ImageError>((format, img.width(), img.height()))
        })
        .await
        .context("checking an uploaded image")?;
        found.push(checked.map_err(|source| SubmitError::BadInput { index: i + 1, source })?);
    }
    let mut inputs = Vec::with_capacity(found.len());
    for (i, (bytes, (format, width, height))) in new.inputs.iter().zip(found).enumerate() {
        let path = inner.storage.write_incoming(i as u8, format.extension(), bytes).await?;
        inputs.push(StoredImage {
            role: ImageRole::Input,
            index: i as u8,
            path: path.display().to_string(),
            mime: format.mime().into(),
            width,
            height,
            bytes: bytes.len() as u64,
            seed: None,
        });
    }
    Ok(inputs)
}

/// Deletes the uploads of tasks that were then not created.
async fn discard_inputs(inner: &Inner, batch: &[(NewTask, Vec<StoredImage>)]) {
    for image in batch.iter().flat_map(|(_, inputs)| inputs) {
        inner.storage.discard(&image.path).await;
    }
}
