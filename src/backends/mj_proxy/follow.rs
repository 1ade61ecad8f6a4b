//! Following one task at the proxy until it ends: `GET /task/{id}/fetch` at an interval that
//! stays short while progress moves and backs off while it stands still, with notifyHook
//! deliveries taken as they arrive in between. Both sources feed one monotonic view — an
//! update older than what was seen is dropped — which turns percentages and throttled
//! previews into progress reports and a final status into the finished Task or an error.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::errors::{self, SERVICE};
use super::wire::{Status, Task};
use crate::backends::http_util::{JsonClient, Subscription};
use crate::backends::{BackendError, ProgressSink};

/// Polls back off to this many times the base interval while nothing changes.
const BACKOFF_FACTOR: u32 = 5;
/// "No such task" answers in a row before the task counts as lost: the first fetch can race
/// a proxy that saves tasks asynchronously.
const UNKNOWN_LIMIT: u32 = 3;
/// Retryable polling failures in a row that are absorbed here; the next one is returned (and
/// the engine's retry re-attaches to the same task).
const POLL_RETRIES: u32 = 4;
/// Least time between two preview downloads.
const PREVIEW_EVERY: Duration = Duration::from_secs(3);
/// Cap on a preview image; a bigger one is skipped.
const PREVIEW_MAX_BYTES: usize = 8 << 20;
/// Previews are optional, so a slow one is given up early.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Follow<'a> {
    pub api: &'a JsonClient,
    pub backend: &'a str,
    pub progress: &'a ProgressSink,
    pub poll: Duration,
    pub hooks: Option<Subscription<Task>>,
    /// What the submit answer said about the task (code 21's `properties`), used when the
    /// proxy cannot be asked about it.
    pub fallback: Option<Task>,
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
    /// Waits for the task to end: `Ok` with the Task on SUCCESS, the classified error on
    /// FAILURE, MODAL, CANCEL, a lost task or a persistent polling failure.
    pub async fn run(mut self, id: &str) -> Result<Task, BackendError> {
        let base = self.poll.max(Duration::from_millis(1));
        let longest = base * BACKOFF_FACTOR;
        let mut interval = base;
        let mut seen = Seen::default();
        let (mut unknown, mut failures) = (0, 0);
        loop {
            let before = seen.key;
            match self.fetch(id).await {
                Ok(Some(task)) => {
                    (unknown, failures) = (0, 0);
                    if let Some(done) = self.consider(id, task, &mut seen).await? {
                        return Ok(done);
                    }
                }
                Ok(None) => {
                    unknown += 1;
                    if let Some(known) = self.fallback.take() {
                        if let Some(done) = self.consider(id, known, &mut seen).await? {
                            return Ok(done);
                        }
                    } else if unknown >= UNKNOWN_LIMIT {
                        return Err(errors::lost(id));
                    }
                }
                Err(e) if e.retryable && failures < POLL_RETRIES => {
                    failures += 1;
                    let error = &e.detail;
                    tracing::warn!(backend = self.backend, task = id, %error, "mj-proxy poll failed");
                }
                Err(e) => return Err(e),
            }
            interval = if seen.key > before { base } else { (interval * 2).min(longest) };

            // Until the next poll, hook deliveries are taken as they come. While they flow the
            // poll is only a safety net, so it waits the longest interval.
            let mut next_poll = Instant::now() + interval;
            loop {
                let delivery = async {
                    match self.hooks.as_mut() {
                        Some(sub) => sub.next().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(next_poll) => break,
                    task = delivery => {
                        if let Some(done) = self.consider(id, task, &mut seen).await? {
                            return Ok(done);
                        }
                        next_poll = next_poll.max(Instant::now() + longest);
                    }
                }
            }
        }
    }

    /// `None` when the proxy does not know the task (an empty body, `null`, 204 or 404).
    async fn fetch(&self, id: &str) -> Result<Option<Task>, BackendError> {
        let reply = self.api.get(self.api.url(&["task", id, "fetch"])).await?;
        let status = reply.status.as_u16();
        if status == 204 || status == 404 {
            return Ok(None);
        }
        let reply = reply.success(|r| errors::from_status(self.backend, r))?;
        if reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let task: Option<Task> =
            SERVICE.parse_json(&reply.what, &reply.body, "an answer that is not a task")?;
        // A task without status is a placeholder some forks answer for unknown ids.
        Ok(task.filter(|t| t.status.is_some()))
    }

    /// Applies one report of the task if it is newer than what was seen; returns the task
    /// when it has ended well.
    async fn consider(&self, id: &str, task: Task, seen: &mut Seen) -> Result<Option<Task>, BackendError> {
        let key = task.order_key();
        if seen.key.is_some_and(|k| key <= k) {
            return Ok(None);
        }
        seen.key = Some(key);
        match task.status() {
            Status::Success => Ok(Some(task)),
            Status::Failure => Err(errors::task_failed(id, &task)),
            Status::Modal => Err(errors::modal(self.backend, id)),
            Status::Cancel => Err(errors::cancelled(id)),
            Status::NotStart | Status::Submitted => {
                if seen.percent.is_none() {
                    seen.percent = Some(0);
                    self.progress.percent(0, None);
                }
                Ok(None)
            }
            Status::InProgress | Status::Other(_) => {
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

    /// The in-progress image, at most every [`PREVIEW_EVERY`]; `None` when there is no new
    /// one, it is too soon, or the download fails (a preview is never worth failing for).
    async fn preview(&self, task: &Task, seen: &mut Seen) -> Option<Bytes> {
        let url = task.image_url()?;
        if seen.preview_url.as_deref() == Some(url)
            || seen.preview_at.is_some_and(|at| at.elapsed() < PREVIEW_EVERY)
        {
            return None;
        }
        seen.preview_at = Some(Instant::now());
        seen.preview_url = Some(url.to_string());
        match self.api.download_within(url, PREVIEW_MAX_BYTES, super::BAD_LINK, PREVIEW_TIMEOUT).await {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::debug!(backend = self.backend, error = %e.detail, "mj-proxy preview skipped");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::ProgressUpdate;
    use crate::base::FailureCode;
    use crate::config::Secret;

    fn task(status: &str, progress: &str) -> Task {
        serde_json::from_value(serde_json::json!({"status": status, "progress": progress})).unwrap()
    }

    #[tokio::test]
    async fn only_newer_reports_move_progress() {
        let base = "http://127.0.0.1:9".parse().unwrap();
        let api = super::super::client("t", base, &Secret::default(), Duration::from_secs(1)).unwrap();
        let (sink, mut updates) = ProgressSink::new();
        let follow = Follow {
            api: &api,
            backend: "t",
            progress: &sink,
            poll: Duration::from_secs(1),
            hooks: None,
            fallback: None,
        };
        let mut seen = Seen::default();
        let reports = [
            ("SUBMITTED", "0%"),
            ("NOT_START", "0%"),
            ("IN_PROGRESS", "37%"),
            ("IN_PROGRESS", "10%"),
            ("SUBMITTED", "0%"),
            ("IN_PROGRESS", "37%"),
            ("IN_PROGRESS", "100%"),
        ];
        for (status, progress) in reports {
            assert!(follow.consider("1", task(status, progress), &mut seen).await.unwrap().is_none());
        }
        let done = follow.consider("1", task("SUCCESS", "100%"), &mut seen).await.unwrap();
        assert!(done.is_some());
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
    async fn final_statuses_become_errors() {
        let api = super::super::client(
            "t",
            "http://h".parse().unwrap(),
            &Secret::default(),
            Duration::from_secs(1),
        )
        .unwrap();
        let sink = ProgressSink::discard();
        let follow = Follow {
            api: &api,
            backend: "b",
            progress: &sink,
            poll: Duration::from_secs(1),
            hooks: None,
            fallback: None,
        };
        for (status, code) in
            [("MODAL", FailureCode::BackendRejected), ("CANCEL", FailureCode::BackendRejected)]
        {
            let e = follow.consider("1", task(status, ""), &mut Seen::default()).await.unwrap_err();
            assert_eq!(e.code, code);
        }
    }
}
