//! The queue as members and routing see it: who is waiting where, how far along a task is in
//! line and how long tasks have been taking, each member's own unfinished work, and the moves
//! that routing and /cancel make. Kept apart from `store.rs`, which owns the task lifecycle.

use std::collections::HashMap;

use sqlx::AssertSqlSafe;

use super::Task;
use super::store::{ACTIVE, HELD, Store, task_from_row};
use crate::base::{TaskId, TaskState, now_ms};

/// A backend's queue at a glance, for /queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendQueue {
    pub backend: String,
    pub queued: u32,
    pub running: u32,
}

impl Store {
    /// Moves an active or queued task that no backend has accepted yet to `backend`, to run
    /// at once, remembering `from` as tried. Guarded on `from` and on the absence of a remote
    /// id, so a job a service already holds is never handed to a second one.
    pub async fn fail_over(&self, id: TaskId, from: &str, backend: &str) -> anyhow::Result<bool> {
        let now = now_ms();
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE tasks SET state = 'queued', backend = ?, next_attempt_at = ?, progress = 0, updated_at = ?,
                 tried_backends = json_insert(tried_backends, '$[#]', ?)
             WHERE id = ? AND backend = ? AND remote_id IS NULL
               AND (state IN {ACTIVE} OR (state = 'queued' AND next_attempt_at != ?))"
        )))
        .bind(backend)
        .bind(now)
        .bind(now)
        .bind(from)
        .bind(id)
        .bind(from)
        .bind(HELD)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queued tasks on `backend` that could move elsewhere: never accepted remotely.
    pub async fn movable_queued(&self, backend: &str) -> anyhow::Result<Vec<Task>> {
        let rows = sqlx::query(
            "SELECT * FROM tasks WHERE state = 'queued' AND backend = ? AND remote_id IS NULL
               AND next_attempt_at != ? ORDER BY id",
        )
        .bind(backend)
        .bind(HELD)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Queued and active tasks per backend: the load routing balances.
    pub async fn load_by_backend(&self) -> anyhow::Result<HashMap<String, u32>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT backend, COUNT(*) FROM tasks WHERE state = 'queued' OR state IN {ACTIVE} GROUP BY backend"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(b, n)| (b, n as u32)).collect())
    }

    /// How many tasks `user` has waiting (queued, retries included).
    pub async fn queued_count(&self, user: &str) -> anyhow::Result<u32> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE user_id = ? AND state = 'queued'")
            .bind(user)
            .fetch_one(self.pool())
            .await?;
        Ok(n as u32)
    }

    /// `user`'s waiting and running tasks, newest first.
    pub async fn unfinished_of(&self, user: &str) -> anyhow::Result<Vec<Task>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT * FROM tasks WHERE user_id = ? AND (state = 'queued' OR state IN {ACTIVE}) ORDER BY id DESC"
        )))
        .bind(user)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// The waiting line of `backend` as (task, member) in id order; held tasks excluded.
    pub async fn line(&self, backend: &str) -> anyhow::Result<Vec<(TaskId, String)>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id FROM tasks WHERE backend = ? AND state = 'queued' AND next_attempt_at != ?
             ORDER BY id",
        )
        .bind(backend)
        .bind(HELD)
        .fetch_all(self.pool())
        .await?)
    }

    /// Mean seconds from start to finish of the last `n` tasks that succeeded on `backend`.
    pub async fn recent_run_seconds(&self, backend: &str, n: u32) -> anyhow::Result<Option<f64>> {
        let mean: Option<f64> = sqlx::query_scalar(
            "SELECT AVG(finished_at - started_at) / 1000.0 FROM (
                 SELECT finished_at, started_at FROM tasks
                 WHERE backend = ? AND state = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL
                 ORDER BY finished_at DESC LIMIT ?)",
        )
        .bind(backend)
        .bind(n as i64)
        .fetch_one(self.pool())
        .await?;
        Ok(mean)
    }

    /// Queued and running tasks per backend, for /queue.
    pub async fn overview(&self) -> anyhow::Result<Vec<BackendQueue>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT backend, SUM(state = 'queued'), SUM(state IN {ACTIVE}) FROM tasks
             WHERE state = 'queued' OR state IN {ACTIVE} GROUP BY backend ORDER BY backend"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(backend, queued, running)| BackendQueue {
                backend,
                queued: queued as u32,
                running: running as u32,
            })
            .collect())
    }

    /// Cancels a task that is not finished; returns the state it was in, or `None` when it
    /// had already finished (or does not exist).
    pub async fn cancel(&self, id: TaskId) -> anyhow::Result<Option<TaskState>> {
        let Some(task) = self.get(id).await? else { return Ok(None) };
        if task.state.is_final() {
            return Ok(None);
        }
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE tasks SET state = 'canceled', finished_at = ?, updated_at = ? WHERE id = ? AND state = ?",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(task.state.as_str())
        .execute(self.pool())
        .await?;
        // Lost a race with the task's own progress: try again from its new state.
        if done.rows_affected() == 0 {
            return Box::pin(self.cancel(id)).await;
        }
        Ok(Some(task.state))
    }
}

/// Where a waiting task stands under round-robin fairness: each member's k-th waiting task
/// runs in round k, so the tasks ahead of `task` are its owner's earlier ones plus, from every
/// other member, their tasks of earlier rounds and (in this round) those queued before it.
/// Returns the 1-based place in line, or `None` when `task` is not waiting.
pub fn place_in_line(line: &[(TaskId, String)], task: TaskId) -> Option<usize> {
    let owner = &line.iter().find(|(id, _)| *id == task)?.1;
    let round = line.iter().filter(|(id, u)| u == owner && *id <= task).count();
    let mut per_user: HashMap<&str, usize> = HashMap::new();
    let mut ahead = round - 1;
    for (id, user) in line {
        if user == owner {
            continue;
        }
        let k = per_user.entry(user.as_str()).or_default();
        *k += 1;
        if *k < round || (*k == round && *id < task) {
            ahead += 1;
        }
    }
    Some(ahead + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(entries: &[(i64, &str)]) -> Vec<(TaskId, String)> {
        entries.iter().map(|(id, u)| (*id, u.to_string())).collect()
    }

    #[test]
    fn one_members_batch_does_not_push_another_member_back() {
        // A queued six, then B one: B's runs in round one, right after A's first.
        let l = line(&[(1, "a"), (2, "a"), (3, "a"), (4, "a"), (5, "a"), (6, "a"), (7, "b")]);
        assert_eq!(place_in_line(&l, 7), Some(2));
        assert_eq!(place_in_line(&l, 1), Some(1));
        assert_eq!(place_in_line(&l, 2), Some(3), "A's second waits for B's first");
        assert_eq!(place_in_line(&l, 6), Some(7));
        assert_eq!(place_in_line(&l, 99), None);
    }

    #[test]
    fn rounds_interleave_members_in_the_order_they_queued() {
        let l = line(&[(1, "a"), (2, "b"), (3, "a"), (4, "c"), (5, "b")]);
        // Round 1: a1, b2, c4; round 2: a3, b5.
        let places: Vec<usize> = [1, 2, 4, 3, 5].iter().map(|id| place_in_line(&l, *id).unwrap()).collect();
        assert_eq!(places, [1, 2, 3, 4, 5]);
    }
}
