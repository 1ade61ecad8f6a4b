//! A task's life after it is created: claiming the next one fairly, and every state change
//! as one guarded `UPDATE … WHERE state IN (…)`, so no task is ever finished twice.

use sqlx::AssertSqlSafe;

use super::dialect::Claim;
use super::tasks::{ACTIVE, HELD, Outcome, Task, insert_image, states_list, task_from_row};
use super::{Db, on_pool};
use crate::base::{FailureCode, TaskId, TaskState, now_ms};

/// How many candidates a PostgreSQL claim tries before it leaves the rest to the next
/// wake-up (each miss means another claim just took a slot of that member).
const CLAIM_TRIES: usize = 8;

impl Db {
    /// Claims the next runnable task for `backend`, moving it `queued → submitted`.
    ///
    /// Fair across members: among users under their running cap, the one whose last task
    /// started longest ago (or never) goes first, so one member's batch cannot starve others;
    /// then that member's oldest task, and never one sent after a task of theirs that is
    /// still being created, so each member's tasks start in the order they arrived. A
    /// member's cap is the one stored with the task at submit (from their roles or an
    /// admin's override); `per_user_running` stands in for tasks that have none.
    pub async fn claim_next(&self, backend: &str, per_user_running: u32) -> anyhow::Result<Option<Task>> {
        let now = now_ms();
        let cap = per_user_running as i64;
        match (&self.pool, &self.sql.claim) {
            (super::Pool::Sqlite(pool), Claim::OneStatement(sql)) => {
                let row = sqlx::query(*sql)
                    .bind(now)
                    .bind(backend)
                    .bind(cap)
                    .bind(HELD)
                    .fetch_optional(pool)
                    .await?;
                row.map(|r| task_from_row(&r)).transpose()
            }
            (super::Pool::Postgres(pool), Claim::PickLockTake { pick, lock_member, take }) => {
                // A pick can lose to a concurrent claim of the same member that committed
                // after the pick's snapshot; the retry's pick then sees it and moves on.
                for _ in 0..CLAIM_TRIES {
                    let mut tx = pool.begin().await?;
                    let picked: Option<(i64, String)> = sqlx::query_as(*pick)
                        .bind(now)
                        .bind(backend)
                        .bind(cap)
                        .bind(HELD)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some((id, user)) = picked else { return Ok(None) };
                    sqlx::query(*lock_member).bind(&user).execute(&mut *tx).await?;
                    let row =
                        sqlx::query(*take).bind(now).bind(id).bind(cap).fetch_optional(&mut *tx).await?;
                    if let Some(row) = row {
                        let task = task_from_row(&row)?;
                        tx.commit().await?;
                        return Ok(Some(task));
                    }
                    tx.rollback().await?;
                }
                Ok(None)
            }
            _ => unreachable!("each pool has its own dialect"),
        }
    }

    /// The earliest time after `after` (unix ms) at which a queued task of `backend` that is
    /// waiting out a retry delay becomes runnable.
    pub async fn next_retry_at(&self, backend: &str, after: i64) -> anyhow::Result<Option<i64>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM tasks
             WHERE state = 'queued' AND backend = $1 AND next_attempt_at > $2 AND next_attempt_at < $3",
        )
        .bind(backend)
        .bind(after)
        .bind(HELD)
        .fetch_one(pool)
        .await?))
    }

    /// Moves a task from one of `from` to `to`; false when it was not in any of them.
    pub async fn transition(&self, id: TaskId, from: &[TaskState], to: TaskState) -> anyhow::Result<bool> {
        debug_assert!(from.iter().all(|f| f.can_become(to)), "illegal transition to {to}");
        let now = now_ms();
        let sql = format!(
            "UPDATE tasks SET state = $1, updated_at = $2, finished_at = COALESCE($3, finished_at)
             WHERE id = $4 AND state IN ({})",
            states_list(from)
        );
        let done = on_pool!(self, pool => sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now)
            .bind(to.is_final().then_some(now))
            .bind(id)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Records progress, which never goes backwards; the first report also moves
    /// `submitted → running`.
    pub async fn set_progress(&self, id: TaskId, percent: u8) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(AssertSqlSafe(format!(
            "UPDATE tasks SET progress = CASE WHEN progress < $1 THEN $1 ELSE progress END,
                 state = 'running', updated_at = $2
             WHERE id = $3 AND state IN {ACTIVE}"
        )))
        .bind(percent as i64)
        .bind(now_ms())
        .bind(id)
        .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Stores the backend's job id, so a restart re-attaches instead of resubmitting.
    pub async fn set_remote_id(&self, id: TaskId, remote_id: &str) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(AssertSqlSafe(format!(
            "UPDATE tasks SET remote_id = $1, updated_at = $2 WHERE id = $3 AND state IN {ACTIVE}"
        )))
        .bind(remote_id)
        .bind(now_ms())
        .bind(id)
        .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Puts an active task back in the queue to be tried again at `at` (unix ms).
    pub async fn requeue(&self, id: TaskId, at: i64) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(AssertSqlSafe(format!(
            "UPDATE tasks SET state = 'queued', next_attempt_at = $1, progress = 0, updated_at = $2
             WHERE id = $3 AND state IN {ACTIVE}"
        )))
        .bind(at)
        .bind(now_ms())
        .bind(id)
        .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    pub async fn fail(
        &self,
        id: TaskId,
        from: &[TaskState],
        code: FailureCode,
        message: &str,
    ) -> anyhow::Result<bool> {
        let now = now_ms();
        let sql = format!(
            "UPDATE tasks SET state = 'failed', failure_code = $1, failure_message = $2, finished_at = $3,
                 updated_at = $3
             WHERE id = $4 AND state IN ({})",
            states_list(from)
        );
        let done = on_pool!(self, pool => sqlx::query(AssertSqlSafe(sql))
            .bind(code.as_str())
            .bind(message)
            .bind(now)
            .bind(id)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Finishes an active task with its results, in one transaction: either the images and
    /// the success are both recorded or neither is.
    pub async fn succeed(&self, id: TaskId, outcome: &Outcome) -> anyhow::Result<bool> {
        let sql = format!(
            "UPDATE tasks SET state = 'succeeded', progress = 100, output_prompts = $1, notes = $2,
                 remote_state = COALESCE($3, remote_state), finished_at = $4, updated_at = $4
             WHERE id = $5 AND state IN {ACTIVE}"
        );
        let prompts = serde_json::to_string(&outcome.prompts)?;
        let notes = serde_json::to_string(&outcome.notes)?;
        let remote_state = outcome.remote_state.as_ref().map(|v| v.to_string());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(AssertSqlSafe(sql))
                .bind(prompts)
                .bind(notes)
                .bind(remote_state)
                .bind(now_ms())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
            for img in &outcome.images {
                insert_image!(self.sql.upsert_image, &mut *tx, id, img);
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Moves an active or queued task that no backend has accepted yet to `backend`, to run
    /// at once, remembering `from` as tried. Guarded on `from` and on the absence of a remote
    /// id, so a job a service already holds is never handed to a second one.
    pub async fn fail_over(&self, id: TaskId, from: &str, backend: &str) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(self.sql.fail_over)
            .bind(backend)
            .bind(now_ms())
            .bind(from)
            .bind(id)
            .bind(HELD)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Cancels a task that is not finished; returns the state it was in, or `None` when it
    /// had already finished (or does not exist).
    pub async fn cancel(&self, id: TaskId) -> anyhow::Result<Option<TaskState>> {
        loop {
            let Some(task) = self.task(id).await? else { return Ok(None) };
            if task.state.is_final() {
                return Ok(None);
            }
            let now = now_ms();
            let done = on_pool!(self, pool => sqlx::query(
                "UPDATE tasks SET state = 'canceled', finished_at = $1, updated_at = $1
                 WHERE id = $2 AND state = $3",
            )
            .bind(now)
            .bind(id)
            .bind(task.state.as_str())
            .execute(pool).await?.rows_affected());
            // Lost a race with the task's own progress: try again from its new state.
            if done == 1 {
                return Ok(Some(task.state));
            }
        }
    }
}
