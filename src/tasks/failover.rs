//! Keeping work moving when a backend is unwell: moving a failed task to another backend that
//! can serve the same operation (and the same model, when the member chose one), moving the
//! queue off a backend whose circuit breaker is open, and probing every backend in the
//! background so routing knows which are up.
//!
//! A task moves only while no service has accepted it (no remote id): a job a service holds
//! may still finish there, and running it a second time elsewhere could bill the admin twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use super::engine::{Inner, SubmitError};
use super::events::EventKind;
use crate::backends::routing::{Request, Want};
use crate::base::TaskId;
use crate::db::Task;

/// How long one background probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Another backend for `task`, which just failed (or is stuck behind an open breaker) on
/// its current one; `None` when no other can serve it.
async fn alternative(inner: &Inner, task: &Task) -> anyhow::Result<Option<String>> {
    if task.remote_id.is_some() {
        return Ok(None);
    }
    let parent_backend = match task.parent_id {
        Some(parent) => inner.db.task(parent).await?.map(|p| p.backend),
        None => None,
    };
    let mut tried = task.tried_backends.clone();
    tried.push(task.backend.clone());
    let req = Request {
        want: Some(Want::of(&task.kind)),
        model: task.model.as_deref(),
        spec: Some(&task.prompt),
        parent_backend: parent_backend.as_deref(),
        exclude: &tried,
    };
    match inner.route(&req).await {
        Ok(route) if inner.backends.health().available(&route.backend) => Ok(Some(route.backend)),
        Ok(_) | Err(SubmitError::Route(_)) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// Moves a task that just failed with a retryable error to another backend, at once.
/// Returns whether it moved; if not, the caller retries on the same backend.
pub(super) async fn after_failure(inner: &Inner, task: &Task, reason: &str) -> anyhow::Result<bool> {
    let Some(to) = alternative(inner, task).await? else { return Ok(false) };
    if !inner.db.fail_over(task.id, &task.backend, &to).await? {
        return Ok(false);
    }
    info!(from = %task.backend, to = %to, "failing over to another backend");
    metrics::counter!("easel_failovers_total", "from" => task.backend.clone(), "to" => to.clone())
        .increment(1);
    inner.emit(
        task.id,
        EventKind::Retrying {
            attempt: task.attempts,
            after: Duration::ZERO,
            reason: format!("{reason} Trying backend `{to}` instead."),
        },
    );
    inner.wake();
    Ok(true)
}

/// Moves the movable queue of `backend`, whose breaker is open, to backends that can serve it.
/// What cannot move waits for the breaker's probe.
pub(super) async fn drain(inner: &Inner, backend: &str) -> anyhow::Result<Vec<TaskId>> {
    let mut moved = Vec::new();
    for task in inner.db.movable_queued(backend).await? {
        if let Some(to) = alternative(inner, &task).await?
            && inner.db.fail_over(task.id, backend, &to).await?
        {
            info!(task_id = task.id, from = %backend, to = %to, "moved a queued task off a backend whose breaker is open");
            moved.push(task.id);
        }
    }
    if !moved.is_empty() {
        inner.wake();
    }
    Ok(moved)
}

/// Probes every backend now and then every `health.check_interval_secs`, until the engine
/// stops. A failed probe keeps routing away from that backend until one succeeds.
pub(super) async fn probe_backends(inner: Arc<Inner>, mut stopping: watch::Receiver<bool>) {
    let every = inner.backends.health().check_interval();
    loop {
        for name in inner.backends.names() {
            let Some(backend) = inner.backends.get(name) else { continue };
            let result = match tokio::time::timeout(PROBE_TIMEOUT, backend.health()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
            };
            // A failed probe's text often names the URL it fetched, secrets and all.
            let result = result.map_err(|e| crate::base::redact_urls(&e));
            let was_up = inner.backends.health().available(name);
            if let Err(e) = &result {
                warn!(backend = %name, error = %e, "backend health check failed");
            } else if !was_up {
                info!(backend = %name, "backend health check passes again");
            }
            inner.backends.health().record_probe(name, result);
        }
        // A backend that came back may have tasks waiting for it.
        inner.wake();
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.changed() => return,
        }
    }
}
