//! Retention (migration 0006): which tasks' images may be removed, removing them, pruning old
//! finished tasks and audit rows, and the database's own upkeep (`easel db backup`, `easel db
//! vacuum`).
//!
//! One rule protects work in progress: [`PINNED`], the tasks whose images must stay whatever
//! their age or the size cap. Every statement here that removes images or tasks excludes it,
//! inside the same write transaction that removes, so a task submitted meanwhile either pins
//! its parent first or finds the parent's images already marked removed. A new reason to keep
//! images is one more `UNION` in that one place (as members' favourites are).
//!
//! Removing images deletes their rows and returns the files no row points at any more (an
//! upscale may reuse its parent's file); the caller deletes those files after the commit, so a
//! crash in between leaves a stray file, never a row pointing at nothing.

use sqlx::Row;

use super::{Db, Pool, on_pool};
use crate::base::TaskId;

/// Deletes the image rows of `$tasks` inside the transaction `$tx` and evaluates to the
/// files (with sizes) that no remaining row points at. A macro, not a function, so the one
/// body serves the transaction of either database.
macro_rules! drop_image_rows {
    ($tx:ident, $tasks:expr) => {{
        let tasks: &[TaskId] = $tasks;
        let mut files: Vec<(String, u64)> = Vec::new();
        if !tasks.is_empty() {
            let list = id_list(tasks);
            let select = format!(
                "SELECT path, MAX(bytes) AS bytes FROM task_images WHERE task_id IN ({list}) GROUP BY path"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch_all(&mut *$tx).await?;
            let delete = format!("DELETE FROM task_images WHERE task_id IN ({list})");
            sqlx::query(sqlx::AssertSqlSafe(delete)).execute(&mut *$tx).await?;
            for r in rows {
                let path: String = r.get("path");
                let shared: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM task_images WHERE path = $1)")
                        .bind(&path)
                        .fetch_one(&mut *$tx)
                        .await?;
                if !shared {
                    files.push((path, r.get::<i64, _>("bytes").max(0) as u64));
                }
            }
        }
        files
    }};
}

/// The tasks whose images must stay: a task not finished yet (its input images), the parent
/// of one (the image a U or V works from), and a finished task whose end has not reached
/// its Discord message yet (the delivery attaches the images).
pub(super) const PINNED: &str = "
    SELECT id FROM tasks WHERE state IN ('queued', 'submitted', 'running')
    UNION SELECT parent_id FROM tasks
        WHERE state IN ('queued', 'submitted', 'running') AND parent_id IS NOT NULL
    UNION SELECT id FROM tasks
        WHERE delivered = FALSE AND state IN ('succeeded', 'failed', 'canceled')
          AND (interaction_token IS NOT NULL OR message_id IS NOT NULL)
    UNION SELECT task_id FROM favorites";

const FINISHED: &str = "('succeeded', 'failed', 'canceled')";

/// Why a task's images were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovedFor {
    /// Older than `retention.image_days`.
    Age,
    /// The oldest, while the images took more than `retention.image_max_gb`.
    Size,
}

impl RemovedFor {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovedFor::Age => "age",
            RemovedFor::Size => "size",
        }
    }

    pub(super) fn parse(s: &str) -> RemovedFor {
        if s == "size" { RemovedFor::Size } else { RemovedFor::Age }
    }
}

/// When and why a task's images were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagesRemoved {
    pub at: i64,
    pub why: RemovedFor,
}

/// A finished task whose images retention may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removable {
    pub id: TaskId,
    pub finished_at: i64,
    /// What its image rows add up to (a file another task shares is counted here too).
    pub bytes: u64,
}

/// What a removal took away: the tasks it marked (or deleted) and the image files no row
/// points at any more, with their sizes, for the caller to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub tasks: Vec<TaskId>,
    pub files: Vec<(String, u64)>,
}

impl Db {
    /// The tasks whose images retention must keep ([`PINNED`]), in id order.
    pub async fn pinned_tasks(&self) -> anyhow::Result<Vec<TaskId>> {
        let sql = format!("SELECT id FROM ({PINNED}) AS pinned ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?))
    }

    /// Up to `limit` finished tasks that finished before `before` (unix ms) and still have
    /// images that may go, oldest first.
    pub async fn removable_images(&self, before: i64, limit: u32) -> anyhow::Result<Vec<Removable>> {
        let sql = format!(
            "SELECT t.id, t.finished_at, (SELECT CAST(SUM(i.bytes) AS BIGINT) FROM task_images i WHERE i.task_id = t.id) AS bytes
             FROM tasks t
             WHERE t.state IN {FINISHED} AND t.finished_at < $1 AND t.images_removed_at IS NULL
               AND EXISTS (SELECT 1 FROM task_images i WHERE i.task_id = t.id)
               AND t.id NOT IN ({PINNED})
             ORDER BY t.finished_at, t.id LIMIT $2"
        );
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Removable {
                    id: r.get("id"),
                    finished_at: r.get("finished_at"),
                    bytes: r.get::<Option<i64>, _>("bytes").unwrap_or(0).max(0) as u64,
                })
                .collect()
        }))
    }

    /// The bytes of every image file Easel records, each file counted once.
    pub async fn stored_image_bytes(&self) -> anyhow::Result<u64> {
        const SQL: &str = "SELECT CAST(SUM(bytes) AS BIGINT)
                           FROM (SELECT MAX(bytes) AS bytes FROM task_images GROUP BY path) AS files";
        let n: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    /// Removes the images of those of `ids` that are finished, not pinned and not already
    /// without images, and marks those tasks (`why`, at `now`); returns them in `ids`' order.
    pub async fn remove_images(&self, ids: &[TaskId], why: RemovedFor, now: i64) -> anyhow::Result<Removed> {
        if ids.is_empty() {
            return Ok(Removed::default());
        }
        let sql = format!(
            "UPDATE tasks SET images_removed_at = $1, images_removed_why = $2, updated_at = $1
             WHERE id IN ({}) AND state IN {FINISHED} AND images_removed_at IS NULL
               AND id NOT IN ({PINNED})
             RETURNING id",
            id_list(ids)
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.sql.begin_write).await?;
            if let Some((exclusive, _)) = self.sql.retention_lock {
                sqlx::query(exclusive).execute(&mut *tx).await?;
            }
            let done: Vec<TaskId> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(why.as_str())
                .fetch_all(&mut *tx)
                .await?;
            // In the order asked (oldest first), for the log and the caller.
            let marked: Vec<TaskId> = ids.iter().copied().filter(|id| done.contains(id)).collect();
            let files = drop_image_rows!(tx, &marked);
            tx.commit().await?;
            Ok(Removed { tasks: marked, files })
        })
    }

    /// Deletes up to `limit` finished tasks that finished before `before` (unix ms), oldest
    /// first, with their images, except pinned ones. Their children stay, without a parent.
    pub async fn delete_finished_tasks(&self, before: i64, limit: u32) -> anyhow::Result<Removed> {
        let sql = format!(
            "SELECT id FROM tasks WHERE state IN {FINISHED} AND finished_at < $1 AND id NOT IN ({PINNED})
             ORDER BY finished_at, id LIMIT $2"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.sql.begin_write).await?;
            if let Some((exclusive, _)) = self.sql.retention_lock {
                sqlx::query(exclusive).execute(&mut *tx).await?;
            }
            let doomed: Vec<TaskId> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            if doomed.is_empty() {
                return Ok(Removed::default());
            }
            let files = drop_image_rows!(tx, &doomed);
            let list = id_list(&doomed);
            let orphan = format!("UPDATE tasks SET parent_id = NULL WHERE parent_id IN ({list})");
            sqlx::query(sqlx::AssertSqlSafe(orphan)).execute(&mut *tx).await?;
            let delete = format!("DELETE FROM tasks WHERE id IN ({list})");
            sqlx::query(sqlx::AssertSqlSafe(delete)).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Removed { tasks: doomed, files })
        })
    }

    /// Deletes the prompt audit's rows from before `before` (unix ms); returns how many.
    pub async fn delete_audit_before(&self, before: i64) -> anyhow::Result<u64> {
        const SQL: &str = "DELETE FROM prompt_audit WHERE at < $1";
        Ok(on_pool!(self, pool => sqlx::query(SQL).bind(before).execute(pool).await?.rows_affected()))
    }

    /// Writes a consistent copy of the whole database to `file` (which must not exist) while
    /// others keep using it: SQLite's `VACUUM INTO`, one read transaction, compacted.
    pub async fn backup_into(&self, file: &std::path::Path) -> anyhow::Result<()> {
        let path = file.to_str().ok_or_else(|| anyhow::anyhow!("the backup path is not UTF-8"))?;
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("VACUUM INTO $1").bind(path).execute(pool).await?,
            Pool::Postgres(_) => anyhow::bail!(
                "`easel db backup` copies a SQLite database; back PostgreSQL up with its own tools (pg_dump)"
            ),
        };
        Ok(())
    }

    /// Rewrites the database file without its free pages (after a large prune).
    pub async fn vacuum(&self) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query("VACUUM").execute(pool).await?.rows_affected());
        Ok(())
    }
}

/// `1, 2, 3`: task ids are integers, so splicing them into SQL is safe.
fn id_list(ids: &[TaskId]) -> String {
    ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
}
