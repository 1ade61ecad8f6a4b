//! Each backend's waiting line, kept at hand: a waiting message is redrawn far more often
//! than the queue changes, so the line (and how long that backend's tasks have been taking)
//! is read once per change — any event that can move the queue bumps a generation — and
//! every waiting task's place is worked out in the same pass. A redraw in between costs no
//! query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::base::TaskId;
use crate::db::Db;

/// How many recent tasks the estimate of a backend's task time averages.
const RECENT: u32 = 20;

#[derive(Default)]
pub(super) struct Lines {
    generation: AtomicU64,
    /// Held while a line is read again, so a burst of redraws reads it once.
    backends: Mutex<HashMap<String, Line>>,
}

struct Line {
    generation: u64,
    places: HashMap<TaskId, usize>,
    /// Mean seconds a task of this backend took lately.
    mean_seconds: Option<f64>,
}

impl Lines {
    /// The queue may have moved: the next look reads the lines again.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// `task`'s 1-based place in `backend`'s line and that backend's recent mean task time
    /// in seconds; `None` when the task is not waiting there.
    pub async fn place(
        &self,
        db: &Db,
        backend: &str,
        task: TaskId,
    ) -> anyhow::Result<Option<(usize, Option<f64>)>> {
        let mut backends = self.backends.lock().await;
        // Read before the queries: a change while they run leaves this line stale, and read
        // again next time.
        let generation = self.generation.load(Ordering::SeqCst);
        if backends.get(backend).is_none_or(|line| line.generation != generation) {
            let waiting = db.line(backend).await?;
            let mean_seconds = db.recent_run_seconds(backend, RECENT).await?;
            let line = Line { generation, places: places_in_line(&waiting), mean_seconds };
            backends.insert(backend.to_string(), line);
        }
        let line = &backends[backend];
        Ok(line.places.get(&task).map(|place| (*place, line.mean_seconds)))
    }
}

/// Where each waiting task stands under round-robin fairness, from the line in id order:
/// each member's k-th waiting task runs in round k, and within a round members go in the
/// order of that round's tasks. Returns each task's 1-based place.
pub fn places_in_line(line: &[(TaskId, String)]) -> HashMap<TaskId, usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut order: Vec<(usize, TaskId)> = line
        .iter()
        .map(|(id, user)| {
            let round = seen.entry(user.as_str()).or_default();
            *round += 1;
            (*round, *id)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().enumerate().map(|(i, (_, id))| (id, i + 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(entries: &[(i64, &str)]) -> HashMap<TaskId, usize> {
        let line: Vec<(TaskId, String)> = entries.iter().map(|(id, u)| (*id, u.to_string())).collect();
        places_in_line(&line)
    }

    #[test]
    fn one_members_batch_does_not_push_another_member_back() {
        // A queued six, then B one: B's runs in round one, right after A's first.
        let p = places(&[(1, "a"), (2, "a"), (3, "a"), (4, "a"), (5, "a"), (6, "a"), (7, "b")]);
        assert_eq!(p[&7], 2);
        assert_eq!(p[&1], 1);
        assert_eq!(p[&2], 3, "A's second waits for B's first");
        assert_eq!(p[&6], 7);
        assert_eq!(p.get(&99), None);
    }

    #[test]
    fn rounds_interleave_members_in_the_order_they_queued() {
        let p = places(&[(1, "a"), (2, "b"), (3, "a"), (4, "c"), (5, "b")]);
        // Round 1: a1, b2, c4; round 2: a3, b5.
        let got: Vec<usize> = [1, 2, 4, 3, 5].iter().map(|id| p[id]).collect();
        assert_eq!(got, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn one_members_tasks_are_in_line_in_the_order_they_arrived() {
        let p = places(&[(3, "a"), (5, "a"), (9, "a"), (14, "a")]);
        assert_eq!([p[&3], p[&5], p[&9], p[&14]], [1, 2, 3, 4]);
    }
}
