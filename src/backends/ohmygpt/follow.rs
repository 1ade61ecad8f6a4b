//! Following one task until it ends: `/query` at an interval that stays short while progress
//! moves and backs off while it stands still, and at once whenever a webhook delivery wakes
//! the job. Every answer feeds one monotonic view (an update older than what was seen is
//! dropped), which turns progress strings and in-progress images into progress reports and a
//! final status into the finished task or an error.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::client::Api;
use super::errors;
use super::wire::{self, Endpoint, Status, Task};
use crate::backends::http_util::Subscription;
use crate::backends::{BackendError, ProgressSink};

/// Polls back off to this many times the base interval while nothing changes.
const BACKOFF_FACTOR: u32 = 5;
/// Answers without a task in a row before the task counts as lost: the first query can race
/// the service's own bookkeeping.
const UNKNOWN_LIMIT: u32 = 3;
/// Retryable query failures in a row absorbed here; the next one is returned (and the
/// engine's retry re-attaches to the same task).
const POLL_RETRIES: u32 = 4;
/// Least time between two preview downloads.
const PREVIEW_EVERY: Duration = Duration::from_secs(3);
const PREVIEW_MAX_BYTES: usize = 8 << 20;
/// Previews are optional, so a slow one is given up early.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Follow<'a> {
    pub api: &'a Api,
    pub backend: &'a str,
    pub progress: &'a ProgressSink,
    pub poll: Duration,
    pub hooks: Option<Subscription<Task>>,
}

/// The monotonic view of the task and what has been reported from it.
#[derive(Default)]
struct Seen {
    key: Option<(u8, u8)>,
    /// The last percentage reported, so NOT_START and SUBMITTED do not both report 0.
    percent: Option<u8>,
    preview_at: Option<Instant>,
    preview_url: Option<String>,
}

impl Follow<'_> {
    /// Waits for the task to end: `Ok` with the task on SUCCESS, the classified error on
    /// failure, a lost task or a persistent query failure.
    pub async fn run(mut self, id: &str) -> Result<Task, BackendError> {
        let base = self.poll.max(Duration::from_millis(1));
        let longest = base * BACKOFF_FACTOR;
        // While webhooks come, polling is only the safety net.
        let mut interval = if self.hooks.is_some() { longest } else { base };
        let mut seen = Seen::default();
        let (mut unknown, mut failures) = (0, 0);
        loop {
            let before = seen.key;
            match self.api.call(Endpoint::Query, &wire::query(id)).await.map(|env| env.task()) {
                Ok(Some(task)) => {
                    (unknown, failures) = (0, 0);
                    if let Some(done) = self.consider(id, task, &mut seen).await? {
                        return Ok(done);
                    }
                }
                Ok(None) => {
                    unknown += 1;
                    if unknown >= UNKNOWN_LIMIT {
                        return Err(errors::lost(id));
                    }
                }
                Err(e) if e.retryable && failures < POLL_RETRIES => {
                    failures += 1;
                    tracing::warn!(backend = self.backend, task = id, error = %e.detail, "ohmygpt query failed");
                }
                Err(e) => return Err(e),
            }
            if self.hooks.is_none() {
                interval = if seen.key > before { base } else { (interval * 2).min(longest) };
            }
            let wake = async {
                match self.hooks.as_mut() {
                    Some(sub) => {
                        sub.next().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = wake => {}
            }
        }
    }

    /// Applies one report if it is newer than what was seen; returns the task when it has
    /// ended well.
    async fn consider(&self, id: &str, task: Task, seen: &mut Seen) -> Result<Option<Task>, BackendError> {
        let key = task.order_key();
        if seen.key.is_some_and(|k| key <= k) {
            return Ok(None);
        }
        seen.key = Some(key);
        match task.status() {
            Status::Success => Ok(Some(task)),
            Status::Failure => Err(errors::task_failed(id, &task)),
            Status::Waiting => {
                if seen.percent.is_none() {
                    seen.percent = Some(0);
                    self.progress.percent(0, None);
                }
                Ok(None)
            }
            Status::Running => {
                // 100 is for the finished task; a task still running at "100%" shows 99.
                let percent = task.percent().unwrap_or(0).min(99);
                let preview = self.preview(&task, seen).await;
                if preview.is_some() || seen.percent != Some(percent) {
                    seen.percent = Some(percent);
                    self.progress.percent(percent, preview);
                }
                Ok(None)
            }
        }
    }

    /// The in-progress image when the task links one, at most every [`PREVIEW_EVERY`];
    /// `None` when there is no new one, it is too soon, or the download fails (a preview is
    /// never worth failing for).
    async fn preview(&self, task: &Task, seen: &mut Seen) -> Option<Bytes> {
        let url = task.image_urls().into_iter().next()?;
        if seen.preview_url.as_deref() == Some(url.as_str())
            || seen.preview_at.is_some_and(|at| at.elapsed() < PREVIEW_EVERY)
        {
            return None;
        }
        seen.preview_at = Some(Instant::now());
        let timeout = PREVIEW_TIMEOUT.min(self.api.timeout());
        let got = self.api.download(&url, PREVIEW_MAX_BYTES, timeout).await;
        seen.preview_url = Some(url);
        got.map_err(|e| tracing::debug!(backend = self.backend, error = %e.detail, "ohmygpt preview skipped"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::BodyFormat;
    use super::*;
    use crate::backends::ProgressUpdate;
    use crate::base::FailureCode;
    use crate::config::Secret;

    fn task(status: &str, progress: &str) -> Task {
        serde_json::from_value(serde_json::json!({"status": status, "progress": progress})).unwrap()
    }

    fn api() -> Api {
        let base = "http://127.0.0.1:9".parse().unwrap();
        Api::new("t", base, &Secret::default(), BodyFormat::Json, Duration::from_secs(1)).unwrap()
    }

    #[tokio::test]
    async fn only_newer_reports_move_progress() {
        let api = api();
        let (sink, mut updates) = ProgressSink::new();
        let follow =
            Follow { api: &api, backend: "t", progress: &sink, poll: Duration::from_secs(1), hooks: None };
        let mut seen = Seen::default();
        let reports = [
            ("NOT_START", "0%"),
            ("SUBMITTED", "0%"),
            ("IN_PROGRESS", "37%"),
            ("IN_PROGRESS", "10%"),
            ("SUBMITTED", "0%"),
            ("IN_PROGRESS", "100%"),
        ];
        for (status, progress) in reports {
            assert!(follow.consider("1", task(status, progress), &mut seen).await.unwrap().is_none());
        }
        assert!(follow.consider("1", task("SUCCESS", "100%"), &mut seen).await.unwrap().is_some());
        // Nothing after the end counts, not even a failure.
        assert!(follow.consider("1", task("FAILURE", ""), &mut seen).await.unwrap().is_none());
        drop(sink);
        let mut percents = Vec::new();
        while let Some(update) = updates.recv().await {
            if let ProgressUpdate::Percent { percent, .. } = update {
                percents.push(percent);
            }
        }
        assert_eq!(percents, [0, 37, 99]);
    }

    #[tokio::test]
    async fn a_failure_ends_the_task() {
        let api = api();
        let sink = ProgressSink::discard();
        let follow =
            Follow { api: &api, backend: "t", progress: &sink, poll: Duration::from_secs(1), hooks: None };
        let failed: Task =
            serde_json::from_value(serde_json::json!({"status": "FAILURE", "failReason": "no"})).unwrap();
        let e = follow.consider("1", failed, &mut Seen::default()).await.unwrap_err();
        assert_eq!(e.code, FailureCode::BackendRejected);
    }
}
