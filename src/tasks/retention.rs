//! The retention pass `[retention]` asks for, and the background loop that runs it: finished
//! tasks past `task_days` are deleted, images past `image_days` removed, then the oldest
//! images while the rest exceed `image_max_gb`, then audit rows past `audit_days`. What may go
//! is decided by the database (`Db::removable_images` and friends, which never offer what an
//! unfinished task needs); this module deletes the files it is handed, logs each removal and
//! counts it in `easel_retention_removed_total` and `easel_retention_freed_bytes_total`.

use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::base::{Clock, DAY_MS, TaskId};
use crate::config::RetentionConfig;
use crate::db::{Db, ImagesRemoved, Removed, RemovedFor};
use crate::storage::Storage;

/// Tasks handled per transaction, so a first pass over a large database never holds the
/// write lock for long.
const BATCH: u32 = 200;

/// What one pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Tasks whose images were removed for their age.
    pub images_by_age: Vec<TaskId>,
    /// Tasks whose images were removed, oldest first, to get under the size cap.
    pub images_by_size: Vec<TaskId>,
    /// Finished tasks deleted.
    pub tasks_deleted: Vec<TaskId>,
    /// Image files deleted, and their bytes.
    pub files: u64,
    pub bytes: u64,
    pub audit_rows: u64,
    /// The images still over the cap after the pass (everything left was pinned), in bytes.
    pub still_over_cap: Option<u64>,
}

/// One retention pass at `now` (unix ms) under `policy`.
pub async fn sweep(db: &Db, storage: &Storage, policy: &RetentionConfig, now: i64) -> anyhow::Result<Swept> {
    let mut swept = Swept::default();
    if policy.task_days > 0 {
        let before = now - i64::from(policy.task_days) * DAY_MS;
        loop {
            let removed = db.delete_finished_tasks(before, BATCH).await?;
            if removed.tasks.is_empty() {
                break;
            }
            counted("tasks", "age", removed.tasks.len() as u64);
            delete_files(storage, &removed, &mut swept).await;
            swept.tasks_deleted.extend(removed.tasks);
        }
    }
    if policy.image_days > 0 {
        let before = now - i64::from(policy.image_days) * DAY_MS;
        loop {
            let ids: Vec<TaskId> = db.removable_images(before, BATCH).await?.iter().map(|r| r.id).collect();
            let removed = db.remove_images(&ids, RemovedFor::Age, now).await?;
            if removed.tasks.is_empty() {
                break;
            }
            counted("images", "age", removed.tasks.len() as u64);
            delete_files(storage, &removed, &mut swept).await;
            swept.images_by_age.extend(removed.tasks);
        }
    }
    if let Some(cap) = policy.image_max_bytes() {
        swept.still_over_cap = size_cap(db, storage, cap, now, &mut swept).await?;
    }
    if policy.audit_days > 0 {
        swept.audit_rows = db.delete_audit_before(now - i64::from(policy.audit_days) * DAY_MS).await?;
        counted("audit", "age", swept.audit_rows);
    }
    Ok(swept)
}

/// Removes the oldest finished tasks' images until what is stored fits `cap`; returns the
/// total when even that was not enough.
async fn size_cap(
    db: &Db,
    storage: &Storage,
    cap: u64,
    now: i64,
    swept: &mut Swept,
) -> anyhow::Result<Option<u64>> {
    loop {
        let total = db.stored_image_bytes().await?;
        if total <= cap {
            return Ok(None);
        }
        // Oldest first, as many as should bring it under; a file shared with a newer task
        // frees nothing yet, so the total is measured again after each round.
        let mut excess = total - cap;
        let mut ids = Vec::new();
        for r in db.removable_images(i64::MAX, BATCH).await? {
            ids.push(r.id);
            excess = excess.saturating_sub(r.bytes);
            if excess == 0 {
                break;
            }
        }
        let removed = db.remove_images(&ids, RemovedFor::Size, now).await?;
        if removed.tasks.is_empty() {
            return Ok(Some(total));
        }
        counted("images", "size", removed.tasks.len() as u64);
        delete_files(storage, &removed, swept).await;
        swept.images_by_size.extend(removed.tasks);
    }
}

async fn delete_files(storage: &Storage, removed: &Removed, swept: &mut Swept) {
    for (path, bytes) in &removed.files {
        match storage.remove(path).await {
            Ok(()) => {
                swept.files += 1;
                swept.bytes += bytes;
                metrics::counter!("easel_retention_freed_bytes_total").increment(*bytes);
            }
            Err(e) => warn!(path, error = %format!("{e:#}"), "could not delete an image retention let go"),
        }
    }
}

fn counted(what: &'static str, reason: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!("easel_retention_removed_total", "what" => what, "reason" => reason).increment(n);
    }
}

/// Runs [`sweep`] at start and then every `policy.interval_minutes`, logging what each pass
/// removed; `None` when the policy removes nothing (the defaults).
pub fn spawn(db: Db, storage: Storage, policy: RetentionConfig, clock: Clock) -> Option<JoinHandle<()>> {
    if !policy.removes_anything() {
        return None;
    }
    let every = Duration::from_secs(policy.interval_minutes.saturating_mul(60));
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&db, &storage, &policy, clock.now_ms()).await {
                Ok(s) => log(&s),
                Err(e) => warn!(error = %format!("{e:#}"), "the retention pass failed; it runs again later"),
            }
        }
    }))
}

fn log(s: &Swept) {
    if !s.tasks_deleted.is_empty()
        || !s.images_by_age.is_empty()
        || !s.images_by_size.is_empty()
        || s.audit_rows > 0
    {
        info!(
            tasks_deleted = s.tasks_deleted.len(),
            images_removed_by_age = s.images_by_age.len(),
            images_removed_by_size = s.images_by_size.len(),
            files = s.files,
            bytes = s.bytes,
            audit_rows = s.audit_rows,
            "retention removed old data"
        );
    }
    if let Some(total) = s.still_over_cap {
        warn!(
            stored_bytes = total,
            "the images are over retention.image_max_gb, but all that is left is needed by unfinished tasks"
        );
    }
}

/// What a member hears when a button needs images retention removed: why they are gone and
/// what to do instead. `done` is what the button would have done ("upscaled").
pub fn images_removed_text(removed: ImagesRemoved, finished_at: Option<i64>, done: &str) -> String {
    let why = match removed.why {
        RemovedFor::Age => {
            let days = finished_at.map_or(0, |f| (removed.at - f) / DAY_MS).max(1);
            format!("removed after {days} day{}", if days == 1 { "" } else { "s" })
        }
        RemovedFor::Size => "removed to free disk space".to_string(),
    };
    format!(
        "The images of this result were {why}, so it can't be {done} any more — run /imagine again \
         to make new ones."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_says_how_long_the_images_were_kept_or_that_space_ran_out() {
        let aged = ImagesRemoved { at: 30 * DAY_MS + 5_000, why: RemovedFor::Age };
        assert_eq!(
            images_removed_text(aged, Some(0), "upscaled"),
            "The images of this result were removed after 30 days, so it can't be upscaled any more — \
             run /imagine again to make new ones."
        );
        let full = ImagesRemoved { at: 9, why: RemovedFor::Size };
        assert!(
            images_removed_text(full, Some(0), "varied")
                .contains("removed to free disk space, so it can't be varied")
        );
    }
}
