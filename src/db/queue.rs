//! The queue as members, routing and operators see it: each backend's waiting line and load,
//! how long tasks have been taking, each member's own unfinished work, and the counts by
//! state for /easel status and `/metrics`.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::AssertSqlSafe;

use super::tasks::{ACTIVE, HELD, Task, task_from_row};
use super::{Db, on_pool};
use crate::base::{TaskId, TaskState};

/// A backend's queue at a glance, for /queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendQueue {
    pub backend: String,
    pub queued: u32,
    pub running: u32,
}

impl Db {
    /// Queued tasks on `backend` that could move elsewhere: never accepted remotely.
    pub async fn movable_queued(&self, backend: &str) -> anyhow::Result<Vec<Task>> {
        on_pool!(self, pool => sqlx::query(
            "SELECT * FROM tasks WHERE state = 'queued' AND backend = $1 AND remote_id IS NULL
               AND next_attempt_at != $2 ORDER BY id",
        )
        .bind(backend)
        .bind(HELD)
        .fetch_all(pool).await?.iter().map(task_from_row).collect())
    }

    /// Queued and active tasks per backend: the load routing balances.
    pub async fn load_by_backend(&self) -> anyhow::Result<HashMap<String, u32>> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(format!(
            "SELECT backend, COUNT(*) FROM tasks WHERE state = 'queued' OR state IN {ACTIVE} GROUP BY backend"
        )))
        .fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(b, n)| (b, n as u32)).collect())
    }

    /// `user`'s waiting and running tasks, newest first.
    pub async fn unfinished_of(&self, user: &str) -> anyhow::Result<Vec<Task>> {
        on_pool!(self, pool => sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM tasks WHERE user_id = $1 AND (state = 'queued' OR state IN {ACTIVE}) ORDER BY id DESC"
        )))
        .bind(user)
        .fetch_all(pool).await?.iter().map(task_from_row).collect())
    }

    /// The waiting line of `backend` as (task, member) in id order, tasks still being
    /// created included: they are about to join, and in their turn.
    pub async fn line(&self, backend: &str) -> anyhow::Result<Vec<(TaskId, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id FROM tasks WHERE backend = $1 AND state = 'queued' ORDER BY id",
        )
        .bind(backend)
        .fetch_all(pool).await?))
    }

    /// Mean seconds from start to finish of the last `n` tasks that succeeded on `backend`.
    pub async fn recent_run_seconds(&self, backend: &str, n: u32) -> anyhow::Result<Option<f64>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT CAST(AVG(finished_at - started_at) / 1000.0 AS DOUBLE PRECISION) FROM (
                 SELECT finished_at, started_at FROM tasks
                 WHERE backend = $1 AND state = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL
                 ORDER BY finished_at DESC LIMIT $2) AS recent",
        )
        .bind(backend)
        .bind(n as i64)
        .fetch_one(pool).await?))
    }

    /// Queued and running tasks per backend, for /queue.
    pub async fn overview(&self) -> anyhow::Result<Vec<BackendQueue>> {
        let rows: Vec<(String, i64, i64)> = on_pool!(self, pool => sqlx::query_as(AssertSqlSafe(format!(
            "SELECT backend, SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN state IN {ACTIVE} THEN 1 ELSE 0 END)
             FROM tasks WHERE state = 'queued' OR state IN {ACTIVE} GROUP BY backend ORDER BY backend"
        )))
        .fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(backend, queued, running)| BackendQueue {
                backend,
                queued: queued as u32,
                running: running as u32,
            })
            .collect())
    }

    pub async fn counts_by_state(&self) -> anyhow::Result<Vec<(TaskState, i64)>> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => sqlx::query_as("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetch_all(pool).await?);
        rows.into_iter().map(|(s, n)| Ok((TaskState::from_str(&s).map_err(anyhow::Error::msg)?, n))).collect()
    }
}
