//! Creating tasks. All the tasks of one request are inserted together or not at all, in one
//! transaction that first counts what the member already has — unfinished tasks against
//! their caps, today's tasks against their daily quota — so requests a member sends at once
//! can never pass a limit together: the dialect's `begin_submit` makes a second submit wait
//! until the first has counted and inserted. Tasks are inserted held (not claimable) so
//! that whoever submits them can announce them first, then released.

use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::tasks::{ACTIVE, HELD, NewTask, StoredImage, Task, insert_image, task_from_row};
use super::{Db, on_pool};
use crate::base::{DAY_MS, TaskId, now_ms};

/// The limits a member's new tasks must fit, checked when they are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitLimits {
    /// Tasks a member may have waiting besides those their running cap lets run
    /// (`limits.per_user_queued`).
    pub waiting_cap: u32,
    /// Tasks a member may create per UTC day; `None` = unlimited.
    pub daily_limit: Option<u32>,
    /// When the member's day began (unix ms): the daily quota counts from here.
    pub day_start_ms: i64,
}

/// The limit a request would pass, with the member's numbers at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// The member has `unfinished` tasks, and the request would take them past their
    /// running cap plus the waiting cap.
    Waiting { unfinished: u32 },
    /// `used` of the member's tasks count against today's quota of `limit` already.
    Daily { used: u32, limit: u32 },
    /// Not a limit but found in the same transaction: retention removed the images of
    /// `parent`, which a U or V of the request would work from.
    ParentImagesRemoved { parent: TaskId },
}

/// A member's unfinished tasks: waiting, and with a backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberLoad {
    pub queued: u32,
    pub active: u32,
}

impl SubmitLimits {
    /// Whether `asked` more tasks fit: the daily quota first (the member can do nothing
    /// about it today), then the caps — `running_cap` tasks may run and `waiting_cap` more
    /// wait, so that many unfinished tasks in all.
    pub fn check(
        &self,
        load: MemberLoad,
        used_today: u32,
        asked: u32,
        running_cap: u32,
    ) -> Result<(), OverLimit> {
        if let Some(limit) = self.daily_limit
            && used_today + asked > limit
        {
            return Err(OverLimit::Daily { used: used_today, limit });
        }
        let unfinished = load.queued + load.active;
        if unfinished + asked > running_cap + self.waiting_cap {
            return Err(OverLimit::Waiting { unfinished });
        }
        Ok(())
    }
}

impl Db {
    /// Inserts the tasks of one request, each with its input images, if they fit the
    /// member's `limits` (`running_cap` = the member's running cap); otherwise inserts
    /// nothing and says which limit they would pass. The tasks are held until
    /// [`Db::release`]. `created_at` is from the caller's clock, the one daily quotas count
    /// by; the deadline runs from the real time now. Every task must be the same member's.
    pub async fn insert_tasks(
        &self,
        batch: &[(NewTask, Vec<StoredImage>)],
        limits: &SubmitLimits,
        running_cap: u32,
        deadline: Duration,
        created_at: i64,
    ) -> anyhow::Result<Result<Vec<Task>, OverLimit>> {
        let Some((first, _)) = batch.first() else { return Ok(Ok(Vec::new())) };
        let user = first.user_id.as_str();
        anyhow::ensure!(batch.iter().all(|(t, _)| t.user_id == user), "one request's tasks are one member's");
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.sql.begin_submit).await?;
            if let Some(lock) = self.sql.lock_member {
                sqlx::query(lock).bind(user).execute(&mut *tx).await?;
            }
            let (queued, active): (i64, i64) =
                sqlx::query_as(AssertSqlSafe(load_sql())).bind(user).fetch_one(&mut *tx).await?;
            let load = MemberLoad { queued: queued as u32, active: active as u32 };
            let used: i64 = match limits.daily_limit {
                Some(_) => {
                    sqlx::query_scalar(COUNTED_SQL)
                        .bind(user)
                        .bind(limits.day_start_ms)
                        .bind(limits.day_start_ms + DAY_MS)
                        .fetch_one(&mut *tx)
                        .await?
                }
                None => 0,
            };
            if let Err(over) = limits.check(load, used as u32, batch.len() as u32, running_cap) {
                tx.rollback().await?;
                return Ok(Err(over));
            }
            // Under the same write lock as retention's removals: either this insert pins the
            // parent first, or it sees the parent's images already gone.
            let parents: Vec<TaskId> = batch
                .iter()
                .filter(|(t, _)| t.kind.source_index().is_some())
                .filter_map(|(t, _)| t.parent_id)
                .collect();
            if let (Some((_, shared)), false) = (self.sql.retention_lock, parents.is_empty()) {
                sqlx::query(shared).execute(&mut *tx).await?;
            }
            for parent in parents {
                let removed: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = $1 AND images_removed_at IS NOT NULL)",
                )
                .bind(parent)
                .fetch_one(&mut *tx)
                .await?;
                if removed {
                    tx.rollback().await?;
                    return Ok(Err(OverLimit::ParentImagesRemoved { parent }));
                }
            }
            let mut tasks = Vec::with_capacity(batch.len());
            for (new, inputs) in batch {
                let row = sqlx::query(
                    "INSERT INTO tasks (kind, state, parent_id, user_id, guild_id, channel_id, prompt, backend,
                         model, seed, next_attempt_at, deadline_at, input_count, interaction_token, token_expires_at,
                         message_id, message_original, running_cap, created_at, updated_at, edit)
                     VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                         $18, $19, $20)
                     RETURNING *",
                )
                .bind(serde_json::to_string(&new.kind)?)
                .bind(new.parent_id)
                .bind(&new.user_id)
                .bind(&new.guild_id)
                .bind(&new.channel_id)
                .bind(serde_json::to_string(&new.prompt)?)
                .bind(&new.backend)
                .bind(&new.model)
                .bind(new.seed as i64)
                .bind(HELD)
                .bind(now + deadline.as_millis() as i64)
                .bind(inputs.len() as i64)
                .bind(&new.message.interaction_token)
                .bind(new.message.token_expires_at)
                .bind(&new.message.message_id)
                .bind(new.message.original)
                .bind(new.running_cap.map(i64::from))
                .bind(created_at)
                .bind(now)
                .bind(new.edit.as_ref().map(serde_json::to_string).transpose()?)
                .fetch_one(&mut *tx)
                .await?;
                let task = task_from_row(&row)?;
                for img in inputs {
                    insert_image!(self.sql.upsert_image, &mut *tx, task.id, img);
                }
                tasks.push(task);
            }
            tx.commit().await?;
            Ok(Ok(tasks))
        })
    }

    /// Makes a held task claimable.
    pub async fn release(&self, id: TaskId) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE tasks SET next_attempt_at = $1 WHERE id = $2 AND state = 'queued' AND next_attempt_at = $3",
        )
        .bind(now_ms())
        .bind(id)
        .bind(HELD)
        .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Releases tasks left held by a crash between insert and release; returns how many.
    pub async fn release_all_held(&self) -> anyhow::Result<u64> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE tasks SET next_attempt_at = $1 WHERE state = 'queued' AND next_attempt_at = $2",
        )
        .bind(now_ms())
        .bind(HELD)
        .execute(pool).await?.rows_affected());
        Ok(done)
    }

    /// `user`'s unfinished tasks now (outside any submit: for an early, friendly refusal).
    pub async fn load_of(&self, user: &str) -> anyhow::Result<MemberLoad> {
        let (queued, active): (i64, i64) = on_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(load_sql())).bind(user).fetch_one(pool).await?
        });
        Ok(MemberLoad { queued: queued as u32, active: active as u32 })
    }

    /// Tasks of `user` created in `[from, to)` (unix ms) that count against a daily quota.
    pub async fn tasks_counted(&self, user: &str, from: i64, to: i64) -> anyhow::Result<u32> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(COUNTED_SQL).bind(user).bind(from).bind(to).fetch_one(pool).await?
        });
        Ok(n as u32)
    }
}

/// A member's (`$1`) queued and active tasks.
fn load_sql() -> String {
    format!(
        "SELECT COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN state IN {ACTIVE} THEN 1 ELSE 0 END), 0)
         FROM tasks WHERE user_id = $1 AND (state = 'queued' OR state IN {ACTIVE})"
    )
}

/// Tasks of member `$1` created in `[$2, $3)` that count against a daily quota: all but the
/// tasks that failed (the service's fault, not the member's use) and those canceled before
/// they started (nothing was spent on them).
const COUNTED_SQL: &str =
    "SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND created_at >= $2 AND created_at < $3
       AND state != 'failed' AND NOT (state = 'canceled' AND started_at IS NULL)";

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SubmitLimits = SubmitLimits { waiting_cap: 10, daily_limit: Some(5), day_start_ms: 0 };

    #[test]
    fn the_caps_allow_running_plus_waiting_unfinished_tasks() {
        let load = MemberLoad { queued: 10, active: 2 };
        assert_eq!(LIMITS.check(load, 0, 1, 3), Ok(()), "the third running slot is free");
        assert_eq!(LIMITS.check(load, 0, 2, 3), Err(OverLimit::Waiting { unfinished: 12 }));
        let burst = MemberLoad { queued: 13, active: 0 };
        assert_eq!(LIMITS.check(burst, 0, 1, 3), Err(OverLimit::Waiting { unfinished: 13 }));
    }

    #[test]
    fn the_daily_quota_is_checked_first_and_counts_the_whole_request() {
        let full = MemberLoad { queued: 13, active: 0 };
        assert_eq!(LIMITS.check(full, 5, 1, 3), Err(OverLimit::Daily { used: 5, limit: 5 }));
        assert_eq!(LIMITS.check(MemberLoad::default(), 3, 3, 3), Err(OverLimit::Daily { used: 3, limit: 5 }));
        assert_eq!(LIMITS.check(MemberLoad::default(), 3, 2, 3), Ok(()));
        let unlimited = SubmitLimits { daily_limit: None, ..LIMITS };
        assert_eq!(unlimited.check(MemberLoad::default(), 500, 1, 3), Ok(()));
    }
}
