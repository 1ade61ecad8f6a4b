//! What the informational replies show — /info, /queue and /easel status — gathered from the
//! engine, the gate and the backends as plain data. The Discord side turns these into text.

use std::time::Duration;

use super::{App, Requester};
use crate::backends::health::HealthView;
use crate::base::{DAY_MS, TaskState};
use crate::db::BackendQueue;
use crate::db::Task;

/// Everything /info shows a member.
#[derive(Debug, Clone, Default)]
pub struct InfoView {
    pub user_id: String,
    /// Their waiting and running tasks, newest first.
    pub tasks: Vec<Task>,
    pub today: u32,
    pub daily_limit: Option<u32>,
    pub running_cap: u32,
    pub queued_cap: u32,
    pub backends: Vec<HealthView>,
}

/// Everything /easel status shows an admin.
#[derive(Debug, Clone, Default)]
pub struct StatusView {
    pub paused: bool,
    /// Tasks in each state, all time.
    pub counts: Vec<(TaskState, i64)>,
    pub queues: Vec<(BackendQueue, Option<Duration>)>,
    pub backends: Vec<HealthView>,
    pub bans: u32,
}

impl App {
    /// What /info shows `who`: their unfinished tasks, today's usage under their quota,
    /// limits, backends.
    pub async fn info(&self, who: &Requester) -> anyhow::Result<InfoView> {
        let store = &self.db;
        let user = &who.user_id;
        let quota = self.gate.quota_for(who).await?;
        let day = self.clock.day_start();
        Ok(InfoView {
            user_id: user.to_string(),
            tasks: store.unfinished_of(user).await?,
            today: store.tasks_counted(user, day, day + DAY_MS).await?,
            daily_limit: quota.daily_limit,
            running_cap: quota.running_cap,
            queued_cap: self.config.limits.per_user_queued,
            backends: self.backend_views(),
        })
    }

    /// What /easel status shows an admin.
    pub async fn status(&self) -> anyhow::Result<StatusView> {
        let store = &self.db;
        Ok(StatusView {
            paused: self.gate.is_paused(),
            counts: store.counts_by_state().await?,
            queues: self.queue_rows().await?,
            backends: self.backend_views(),
            bans: store.ban_count().await?,
        })
    }

    /// Each backend's health, in config order.
    pub fn backend_views(&self) -> Vec<HealthView> {
        let backends = self.engine.backends();
        backends.names().filter_map(|n| backends.health().view(n)).collect()
    }

    /// Each busy backend's queue, with how long a task queued now would take to finish.
    pub async fn queue_rows(&self) -> anyhow::Result<Vec<(BackendQueue, Option<Duration>)>> {
        let store = &self.db;
        let mut rows = Vec::new();
        for row in store.overview().await? {
            let mean = store.recent_run_seconds(&row.backend, 20).await?;
            let slots = self.engine.backends().concurrency(&row.backend);
            let rounds = (row.queued as usize + 1).div_ceil(slots) as f64;
            rows.push((row, mean.map(|m| Duration::from_secs_f64(m.max(0.0) * rounds))));
        }
        Ok(rows)
    }
}
