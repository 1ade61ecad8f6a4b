//! The task row and its image rows as Rust types, reading them back, and where each task's
//! Discord message lives (and whether its final state has been shown there).

use std::str::FromStr;

use anyhow::Context;

use super::retention::{ImagesRemoved, RemovedFor};
use super::row::Cols;
use super::{Db, on_pool};
use crate::base::{FailureCode, ImageRole, MessageRef, TaskId, TaskKind, TaskState, now_ms};
use crate::imaging::EditPlan;
use crate::prompt::PromptSpec;

/// A request to create a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub kind: TaskKind,
    pub parent_id: Option<TaskId>,
    pub user_id: String,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub prompt: PromptSpec,
    pub backend: String,
    /// The model the member asked for (a backend name or alias, normalised), if any: a
    /// failover stays within backends that answer to it.
    pub model: Option<String>,
    /// The member's `--seed`, or one Easel picked.
    pub seed: u32,
    pub message: MessageRef,
    /// Input images (blend, describe): encoded files, stored with the task on submit.
    pub inputs: Vec<bytes::Bytes>,
    /// How many tasks the member may have running at once (their quota); `None` =
    /// `limits.per_user_running`.
    pub running_cap: Option<u32>,
    /// An edit after U: its canvas, mask and strength.
    pub edit: Option<EditPlan>,
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub kind: TaskKind,
    pub state: TaskState,
    pub parent_id: Option<TaskId>,
    pub user_id: String,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub prompt: PromptSpec,
    pub backend: String,
    pub model: Option<String>,
    /// Backends that failed this task before the current one took it over.
    pub tried_backends: Vec<String>,
    pub remote_id: Option<String>,
    pub remote_state: Option<serde_json::Value>,
    pub progress: u8,
    pub seed: u32,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub deadline_at: i64,
    pub failure: Option<(FailureCode, String)>,
    pub output_prompts: Vec<String>,
    pub notes: Vec<String>,
    pub input_count: u8,
    pub message: MessageRef,
    /// An edit after U: its canvas, mask and strength.
    pub edit: Option<EditPlan>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Retention removed this task's images (the row stays so its buttons can say so).
    pub images_removed: Option<ImagesRemoved>,
    /// When the result was deleted (its message and image files are gone); `None` = it was not.
    pub deleted_at: Option<i64>,
}

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

/// `next_attempt_at` of a task inserted but not yet released to the scheduler.
pub(super) const HELD: i64 = i64::MAX;

/// The states of a task a backend holds (or is about to), as SQL.
pub(super) const ACTIVE: &str = "('submitted', 'running')";

impl Db {
    pub async fn task(&self, id: TaskId) -> anyhow::Result<Option<Task>> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT * FROM tasks WHERE id = $1").bind(id).fetch_optional(pool).await?;
            row.map(|r| task_from_row(&r)).transpose()
        })
    }

    pub async fn images(&self, task_id: TaskId, role: ImageRole) -> anyhow::Result<Vec<StoredImage>> {
        on_pool!(self, pool => {
            let rows = sqlx::query("SELECT * FROM task_images WHERE task_id = $1 AND role = $2 AND deleted_at IS NULL ORDER BY idx")
                .bind(task_id)
                .bind(role.as_str())
                .fetch_all(pool)
                .await?;
            Ok(rows.iter().map(image_from_row).collect())
        })
    }

    /// Records an image file (input or preview) outside of a task's completion.
    pub async fn put_image(&self, task_id: TaskId, img: &StoredImage) -> anyhow::Result<()> {
        on_pool!(self, pool => insert_image!(self.sql.upsert_image, pool, task_id, img));
        Ok(())
    }

    pub async fn in_states(&self, states: &[TaskState]) -> anyhow::Result<Vec<Task>> {
        let sql = format!("SELECT * FROM tasks WHERE state IN ({}) ORDER BY id", states_list(states));
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter().map(task_from_row).collect()
        })
    }

    /// Indexes (0-based) of the images of `parent` that have been upscaled.
    pub async fn upscaled_indexes(&self, parent: TaskId) -> anyhow::Result<Vec<u8>> {
        let kinds: Vec<String> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT kind FROM tasks WHERE parent_id = $1 AND state != 'failed'")
                .bind(parent)
                .fetch_all(pool)
                .await?
        });
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

    /// Points the task at the Discord message that shows it.
    pub async fn set_message(&self, id: TaskId, message: &MessageRef) -> anyhow::Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE tasks SET interaction_token = $1, token_expires_at = $2, message_id = $3,
                     message_original = $4, updated_at = $5
                 WHERE id = $6",
            )
            .bind(&message.interaction_token)
            .bind(message.token_expires_at)
            .bind(&message.message_id)
            .bind(message.original)
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Records that the task's final state is on Discord; false if it already was.
    pub async fn mark_delivered(&self, id: TaskId) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE tasks SET delivered = TRUE WHERE id = $1 AND delivered = FALSE
                     AND state IN ('succeeded', 'failed', 'canceled')",
            )
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Tasks with a Discord message whose final state has not been shown yet, or that are
    /// still in flight: what message delivery must catch up on after a start.
    pub async fn undelivered(&self) -> anyhow::Result<Vec<Task>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM tasks
                 WHERE delivered = FALSE AND (interaction_token IS NOT NULL OR message_id IS NOT NULL)
                 ORDER BY id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter().map(task_from_row).collect()
        })
    }

    /// How many finished tasks have a Discord message that does not show their end yet.
    pub async fn undelivered_final_count(&self) -> anyhow::Result<usize> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM tasks WHERE delivered = FALSE
                   AND state IN ('succeeded', 'failed', 'canceled')
                   AND (interaction_token IS NOT NULL OR message_id IS NOT NULL)",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(n as usize)
    }
}

/// Records one image row with the dialect's upsert `$sql`, on `$exec` (a pool or a
/// transaction of either driver).
macro_rules! insert_image {
    ($sql:expr, $exec:expr, $task_id:expr, $img:expr) => {{
        let img: &$crate::db::StoredImage = $img;
        sqlx::query($sql)
            .bind($task_id)
            .bind(img.role.as_str())
            .bind(img.index as i64)
            .bind(&img.path)
            .bind(&img.mime)
            .bind(img.width as i64)
            .bind(img.height as i64)
            .bind(img.bytes as i64)
            .bind(img.seed.map(|s| s as i64))
            .execute($exec)
            .await?;
    }};
}
pub(super) use insert_image;

/// `'queued', 'running'`: only constant state names from `TaskState::as_str`, so splicing
/// the list into SQL is safe.
pub(super) fn states_list(states: &[TaskState]) -> String {
    states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

pub(super) fn image_from_row(r: &impl Cols) -> StoredImage {
    StoredImage {
        role: ImageRole::parse(&r.text("role")),
        index: r.int("idx") as u8,
        path: r.text("path"),
        mime: r.text("mime"),
        width: r.int("width") as u32,
        height: r.int("height") as u32,
        bytes: r.int("bytes") as u64,
        seed: r.opt_int("seed").map(|s| s as u32),
    }
}

pub(super) fn task_from_row(r: &impl Cols) -> anyhow::Result<Task> {
    let id: i64 = r.int("id");
    let json_list = |col: &str| -> anyhow::Result<Vec<String>> {
        serde_json::from_str(&r.text(col)).with_context(|| format!("task {id}: column {col}"))
    };
    let failure = match (r.opt_text("failure_code"), r.opt_text("failure_message")) {
        (Some(code), msg) => {
            Some((FailureCode::from_str(&code).map_err(anyhow::Error::msg)?, msg.unwrap_or_default()))
        }
        _ => None,
    };
    Ok(Task {
        id,
        kind: serde_json::from_str::<TaskKind>(&r.text("kind"))
            .with_context(|| format!("task {id}: kind"))?,
        state: TaskState::from_str(&r.text("state")).map_err(anyhow::Error::msg)?,
        parent_id: r.opt_int("parent_id"),
        user_id: r.text("user_id"),
        guild_id: r.opt_text("guild_id"),
        channel_id: r.opt_text("channel_id"),
        prompt: serde_json::from_str(&r.text("prompt")).with_context(|| format!("task {id}: prompt"))?,
        backend: r.text("backend"),
        model: r.opt_text("model"),
        tried_backends: json_list("tried_backends")?,
        remote_id: r.opt_text("remote_id"),
        remote_state: r
            .opt_text("remote_state")
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .with_context(|| format!("task {id}: remote_state"))?,
        progress: r.int("progress").clamp(0, 100) as u8,
        seed: r.int("seed") as u32,
        attempts: r.int("attempts") as u32,
        next_attempt_at: r.int("next_attempt_at"),
        deadline_at: r.int("deadline_at"),
        failure,
        output_prompts: json_list("output_prompts")?,
        notes: json_list("notes")?,
        input_count: r.int("input_count") as u8,
        message: MessageRef {
            interaction_token: r.opt_text("interaction_token"),
            token_expires_at: r.opt_int("token_expires_at"),
            message_id: r.opt_text("message_id"),
            original: r.flag("message_original"),
        },
        created_at: r.int("created_at"),
        started_at: r.opt_int("started_at"),
        finished_at: r.opt_int("finished_at"),
        images_removed: r.opt_int("images_removed_at").map(|at| ImagesRemoved {
            at,
            why: RemovedFor::parse(r.opt_text("images_removed_why").as_deref().unwrap_or("age")),
        }),
        deleted_at: r.opt_int("deleted_at"),
        edit: r
            .opt_text("edit")
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .with_context(|| format!("task {id}: edit"))?,
    })
}
