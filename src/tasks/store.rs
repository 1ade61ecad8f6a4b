//! The task table in SQLite: inserting tasks, claiming the next one fairly, and every state
//! change as one guarded `UPDATE … WHERE state IN (…)`, so no task is ever finished twice.
//! All SQL of the task engine lives here.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
// Dynamic SQL here only splices in constant state names from `TaskState::as_str`.
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use super::{NewTask, Task};
use crate::base::{FailureCode, ImageRole, MessageRef, TaskId, TaskKind, TaskState, now_ms};

/// An image file that belongs to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub role: ImageRole,
    pub index: u8,
    pub path: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub seed: Option<u32>,
}

/// What a finished task leaves behind besides its images.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub prompts: Vec<String>,
    pub notes: Vec<String>,
    pub remote_state: Option<serde_json::Value>,
    pub images: Vec<StoredImage>,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

pub(super) const ACTIVE: &str = "('submitted', 'running')";
/// `next_attempt_at` of a task inserted but not yet released to the scheduler.
pub(super) const HELD: i64 = i64::MAX;

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("database.url `{url}` is not a SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = Path::new(opts.get_filename()).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        sqlx::migrate!("./migrations").run(&pool).await.context("applying database migrations")?;
        Ok(Store { pool })
    }

    /// Inserts a queued task together with its input images, in one transaction, so the
    /// engine can never claim a task whose inputs are not recorded yet. The task is held (not
    /// claimable) until [`Store::release`], so that whoever inserts it can announce it first.
    pub async fn insert(
        &self,
        new: &NewTask,
        inputs: &[StoredImage],
        deadline: Duration,
    ) -> anyhow::Result<Task> {
        self.insert_at(new, inputs, deadline, now_ms()).await
    }

    /// [`Store::insert`] with `created_at` from the caller's clock (the one daily quotas count
    /// by); the deadline still runs from the real time now.
    pub async fn insert_at(
        &self,
        new: &NewTask,
        inputs: &[StoredImage],
        deadline: Duration,
        created_at: i64,
    ) -> anyhow::Result<Task> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tasks (kind, state, parent_id, user_id, guild_id, channel_id, prompt, backend,
                 model, seed, next_attempt_at, deadline_at, input_count, interaction_token, token_expires_at,
                 message_id, message_original, running_cap, created_at, updated_at)
             VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        .fetch_one(&mut *tx)
        .await?;
        for img in inputs {
            insert_image(&mut *tx, id, img).await?;
        }
        tx.commit().await?;
        self.get(id).await?.context("a task vanished right after it was inserted")
    }

    /// Makes a held task claimable.
    pub async fn release(&self, id: TaskId) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE tasks SET next_attempt_at = ? WHERE id = ? AND state = 'queued' AND next_attempt_at = ?",
        )
        .bind(now_ms())
        .bind(id)
        .bind(HELD)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Releases tasks left held by a crash between insert and release; returns how many.
    pub async fn release_all_held(&self) -> anyhow::Result<u64> {
        let done = sqlx::query(
            "UPDATE tasks SET next_attempt_at = ? WHERE state = 'queued' AND next_attempt_at = ?",
        )
        .bind(now_ms())
        .bind(HELD)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn get(&self, id: TaskId) -> anyhow::Result<Option<Task>> {
        let row = sqlx::query("SELECT * FROM tasks WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| task_from_row(&r)).transpose()
    }

    /// Claims the next runnable task for `backend`, moving it `queued → submitted`.
    ///
    /// Fair across members: among users under their running cap, the one whose last task
    /// started longest ago (or never) goes first, so one member's batch cannot starve others.
    /// A member's cap is the one stored with the task at submit (from their roles or an
    /// admin's override); `per_user_running` stands in for tasks that have none.
    pub async fn claim_next(&self, backend: &str, per_user_running: u32) -> anyhow::Result<Option<Task>> {
        let now = now_ms();
        let sql = format!(
            "UPDATE tasks SET state = 'submitted', attempts = attempts + 1,
                 started_at = COALESCE(started_at, ?1), updated_at = ?1
             WHERE state = 'queued' AND id = (
                 SELECT t.id FROM tasks t
                 WHERE t.state = 'queued' AND t.backend = ?2 AND t.next_attempt_at <= ?1
                   AND (SELECT COUNT(*) FROM tasks a WHERE a.user_id = t.user_id AND a.state IN {ACTIVE})
                       < COALESCE(t.running_cap, ?3)
                 ORDER BY (SELECT MAX(a.started_at) FROM tasks a WHERE a.user_id = t.user_id) IS NOT NULL,
                          (SELECT MAX(a.started_at) FROM tasks a WHERE a.user_id = t.user_id),
                          t.id
                 LIMIT 1)
             RETURNING *"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(backend)
            .bind(per_user_running as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| task_from_row(&r)).transpose()
    }

    /// The earliest time after `after` (unix ms) at which a queued task of `backend` that is
    /// waiting out a retry delay becomes runnable.
    pub async fn next_retry_at(&self, backend: &str, after: i64) -> anyhow::Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM tasks
             WHERE state = 'queued' AND backend = ? AND next_attempt_at > ? AND next_attempt_at < ?",
        )
        .bind(backend)
        .bind(after)
        .bind(HELD)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Moves a task from one of `from` to `to`; false when it was not in any of them.
    pub async fn transition(&self, id: TaskId, from: &[TaskState], to: TaskState) -> anyhow::Result<bool> {
        debug_assert!(from.iter().all(|f| f.can_become(to)), "illegal transition to {to}");
        let now = now_ms();
        let finished = to.is_final().then_some(now);
        let sql = format!(
            "UPDATE tasks SET state = ?, updated_at = ?, finished_at = COALESCE(?, finished_at)
             WHERE id = ? AND state IN ({})",
            states_list(from)
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now)
            .bind(finished)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records progress; the first report also moves `submitted → running`.
    pub async fn set_progress(&self, id: TaskId, percent: u8) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET progress = MAX(progress, ?), state = 'running', updated_at = ?
             WHERE id = ? AND state IN ('submitted', 'running')",
        )
        .bind(percent as i64)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores the backend's job id, so a restart re-attaches instead of resubmitting.
    pub async fn set_remote_id(&self, id: TaskId, remote_id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET remote_id = ?, updated_at = ? WHERE id = ? AND state IN ('submitted', 'running')",
        )
        .bind(remote_id)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts an active task back in the queue to be tried again at `at` (unix ms).
    pub async fn requeue(&self, id: TaskId, at: i64) -> anyhow::Result<bool> {
        let sql = format!(
            "UPDATE tasks SET state = 'queued', next_attempt_at = ?, progress = 0, updated_at = ?
             WHERE id = ? AND state IN {ACTIVE}"
        );
        let done =
            sqlx::query(AssertSqlSafe(sql)).bind(at).bind(now_ms()).bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
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
            "UPDATE tasks SET state = 'failed', failure_code = ?, failure_message = ?, finished_at = ?, updated_at = ?
             WHERE id = ? AND state IN ({})",
            states_list(from)
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(code.as_str())
            .bind(message)
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Finishes an active task with its results, in one transaction: either the images and
    /// the success are both recorded or neither is.
    pub async fn succeed(&self, id: TaskId, outcome: &Outcome) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let sql = format!(
            "UPDATE tasks SET state = 'succeeded', progress = 100, output_prompts = ?, notes = ?,
                 remote_state = COALESCE(?, remote_state), finished_at = ?, updated_at = ?
             WHERE id = ? AND state IN {ACTIVE}"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(serde_json::to_string(&outcome.prompts)?)
            .bind(serde_json::to_string(&outcome.notes)?)
            .bind(outcome.remote_state.as_ref().map(|v| v.to_string()))
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for img in &outcome.images {
            insert_image(&mut *tx, id, img).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records an image file (input or preview) outside of a task's completion.
    pub async fn put_image(&self, task_id: TaskId, img: &StoredImage) -> anyhow::Result<()> {
        insert_image(&self.pool, task_id, img).await
    }

    pub async fn images(&self, task_id: TaskId, role: ImageRole) -> anyhow::Result<Vec<StoredImage>> {
        let rows = sqlx::query("SELECT * FROM task_images WHERE task_id = ? AND role = ? ORDER BY idx")
            .bind(task_id)
            .bind(role.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoredImage {
                role: ImageRole::parse(r.get::<&str, _>("role")),
                index: r.get::<i64, _>("idx") as u8,
                path: r.get("path"),
                mime: r.get("mime"),
                width: r.get::<i64, _>("width") as u32,
                height: r.get::<i64, _>("height") as u32,
                bytes: r.get::<i64, _>("bytes") as u64,
                seed: r.get::<Option<i64>, _>("seed").map(|s| s as u32),
            })
            .collect())
    }

    pub async fn in_states(&self, states: &[TaskState]) -> anyhow::Result<Vec<Task>> {
        let sql = format!("SELECT * FROM tasks WHERE state IN ({}) ORDER BY id", states_list(states));
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(task_from_row).collect()
    }

    pub async fn count_in_state(&self, state: TaskState) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE state = ?")
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?)
    }

    /// Points the task at the Discord message that shows it.
    pub async fn set_message(&self, id: TaskId, message: &MessageRef) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE tasks SET interaction_token = ?, token_expires_at = ?, message_id = ?, message_original = ?,
                 updated_at = ? WHERE id = ?",
        )
        .bind(&message.interaction_token)
        .bind(message.token_expires_at)
        .bind(&message.message_id)
        .bind(message.original)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that the task's final state is on Discord; false if it already was.
    pub async fn mark_delivered(&self, id: TaskId) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET delivered = 1 WHERE id = ? AND delivered = 0
                 AND state IN ('succeeded', 'failed', 'canceled')",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Tasks with a Discord message whose final state has not been shown yet, or that are
    /// still in flight: what message delivery must catch up on after a start.
    pub async fn undelivered(&self) -> anyhow::Result<Vec<Task>> {
        let rows = sqlx::query(
            "SELECT * FROM tasks WHERE delivered = 0 AND (interaction_token IS NOT NULL OR message_id IS NOT NULL)
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Indexes (0-based) of the images of `parent` that have been upscaled.
    pub async fn upscaled_indexes(&self, parent: TaskId) -> anyhow::Result<Vec<u8>> {
        let kinds: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM tasks WHERE parent_id = ? AND state != 'failed'")
                .bind(parent)
                .fetch_all(&self.pool)
                .await?;
        let mut out: Vec<u8> = kinds
            .iter()
            .filter_map(|k| match serde_json::from_str::<TaskKind>(k) {
                Ok(TaskKind::Upscale { index }) => Some(index),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Proves the database accepts writes (for `/healthz`).
    pub async fn probe_write(&self) -> anyhow::Result<()> {
        sqlx::query("INSERT OR REPLACE INTO health_probe (id, at) VALUES (1, ?)")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn counts_by_state(&self) -> anyhow::Result<Vec<(TaskState, i64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetch_all(&self.pool).await?;
        rows.into_iter().map(|(s, n)| Ok((TaskState::from_str(&s).map_err(anyhow::Error::msg)?, n))).collect()
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

async fn insert_image<'e, E>(exec: E, task_id: TaskId, img: &StoredImage) -> anyhow::Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT OR REPLACE INTO task_images (task_id, role, idx, path, mime, width, height, bytes, seed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(task_id)
    .bind(img.role.as_str())
    .bind(img.index as i64)
    .bind(&img.path)
    .bind(&img.mime)
    .bind(img.width as i64)
    .bind(img.height as i64)
    .bind(img.bytes as i64)
    .bind(img.seed.map(|s| s as i64))
    .execute(exec)
    .await?;
    Ok(())
}

fn states_list(states: &[TaskState]) -> String {
    states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

pub(super) fn task_from_row(r: &SqliteRow) -> anyhow::Result<Task> {
    let id: i64 = r.get("id");
    let json_list = |col: &str| -> anyhow::Result<Vec<String>> {
        serde_json::from_str(r.get::<&str, _>(col)).with_context(|| format!("task {id}: column {col}"))
    };
    let failure =
        match (r.get::<Option<String>, _>("failure_code"), r.get::<Option<String>, _>("failure_message")) {
            (Some(code), msg) => {
                Some((FailureCode::from_str(&code).map_err(anyhow::Error::msg)?, msg.unwrap_or_default()))
            }
            _ => None,
        };
    Ok(Task {
        id,
        kind: serde_json::from_str::<TaskKind>(r.get("kind")).with_context(|| format!("task {id}: kind"))?,
        state: TaskState::from_str(r.get("state")).map_err(anyhow::Error::msg)?,
        parent_id: r.get("parent_id"),
        user_id: r.get("user_id"),
        guild_id: r.get("guild_id"),
        channel_id: r.get("channel_id"),
        prompt: serde_json::from_str(r.get("prompt")).with_context(|| format!("task {id}: prompt"))?,
        backend: r.get("backend"),
        model: r.get("model"),
        tried_backends: json_list("tried_backends")?,
        remote_id: r.get("remote_id"),
        remote_state: r
            .get::<Option<String>, _>("remote_state")
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .with_context(|| format!("task {id}: remote_state"))?,
        progress: r.get::<i64, _>("progress").clamp(0, 100) as u8,
        seed: r.get::<i64, _>("seed") as u32,
        attempts: r.get::<i64, _>("attempts") as u32,
        next_attempt_at: r.get("next_attempt_at"),
        deadline_at: r.get("deadline_at"),
        failure,
        output_prompts: json_list("output_prompts")?,
        notes: json_list("notes")?,
        input_count: r.get::<i64, _>("input_count") as u8,
        message: MessageRef {
            interaction_token: r.get("interaction_token"),
            token_expires_at: r.get("token_expires_at"),
            message_id: r.get("message_id"),
            original: r.get::<i64, _>("message_original") != 0,
        },
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
    })
}
