//! Finished results as members handle them after the fact: the recent results a member can
//! show again, moving a result's message to where it was shown, and deleting a result (the
//! task and its image rows marked, so buttons naming it can say so).

use super::tasks::{StoredImage, Task, task_from_row};
use super::{Db, on_pool};
use crate::base::{MessageRef, TaskId, now_ms};

impl Db {
    /// The member's newest succeeded, not deleted results, newest first, at most `limit`.
    pub async fn recent_results_of(&self, user: &str, limit: u32) -> anyhow::Result<Vec<Task>> {
        const SQL: &str =
            "SELECT * FROM tasks WHERE user_id = $1 AND state = 'succeeded' AND deleted_at IS NULL
                           ORDER BY id DESC LIMIT $2";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(user).bind(limit as i64).fetch_all(pool).await?;
            rows.iter().map(task_from_row).collect()
        })
    }

    /// The result is shown again in `channel`: the new message becomes the one that shows it
    /// (and the one whose buttons count). False when it is not a live result any more.
    pub async fn move_result(
        &self,
        id: TaskId,
        guild: Option<&str>,
        channel: &str,
        message: &MessageRef,
    ) -> anyhow::Result<bool> {
        const SQL: &str =
            "UPDATE tasks SET guild_id = $1, channel_id = $2, interaction_token = $3, token_expires_at = $4,
                 message_id = $5, message_original = $6, updated_at = $7
             WHERE id = $8 AND state = 'succeeded' AND deleted_at IS NULL";
        let done = on_pool!(self, pool => sqlx::query(SQL)
            .bind(guild)
            .bind(channel)
            .bind(&message.interaction_token)
            .bind(message.token_expires_at)
            .bind(&message.message_id)
            .bind(message.original)
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Marks a finished result deleted by `by`, with all its image rows; returns the images
    /// whose files are to be removed, or `None` when it was already deleted (or unfinished).
    pub async fn mark_deleted(&self, id: TaskId, by: &str) -> anyhow::Result<Option<Vec<StoredImage>>> {
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE tasks SET deleted_at = $1, deleted_by = $2, updated_at = $1
                 WHERE id = $3 AND deleted_at IS NULL AND state IN ('succeeded', 'failed', 'canceled')",
            )
            .bind(now)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done != 1 {
                return Ok(None);
            }
            let rows = sqlx::query("SELECT * FROM task_images WHERE task_id = $1 AND deleted_at IS NULL")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query("UPDATE task_images SET deleted_at = $1 WHERE task_id = $2 AND deleted_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(rows.iter().map(super::tasks::image_from_row).collect()))
        })
    }
}
