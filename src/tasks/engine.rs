//! The engine owns every task from submission to its final state: it claims queued tasks
//! fairly, runs each on its backend within that backend's concurrency, retries what can be
//! retried, recovers what a restart interrupted, and tells the world through [`TaskEvent`]s.
//! Creating tasks within each member's limits is in `submit`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, broadcast, oneshot, watch};
use tracing::{Instrument, error, info, warn};

use super::events::{EventKind, TaskEvent};
use super::lines::Lines;
use super::{failover, runner};
use crate::backends::Registry;
use crate::backends::routing::{self, Route, RouteError};
use crate::base::Clock;
use crate::base::{FailureCode, TaskId, TaskState, now_ms};
use crate::config::LimitsConfig;
use crate::db::{Db, Task};
use crate::imaging;
use crate::storage::Storage;

/// What [`Engine::submit_all`] checks a member's new tasks against.
pub use crate::db::SubmitLimits;

/// The longest the scheduler sleeps without a wake-up; a safety net, not the mechanism.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// Why a task could not be submitted, in words for the member who asked.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("There is no backend called `{0}`. Ask an admin which backends this server has.")]
    UnknownBackend(String),
    #[error("Backend `{backend}` cannot {operation}. Try another backend.")]
    Unsupported { backend: String, operation: &'static str },
    #[error("That task is not finished yet (or did not succeed), so its images can't be used.")]
    ParentNotReady,
    #[error("Image #{0} does not exist on that task.")]
    NoSuchImage(u8),
    /// Retention removed the parent's images; the text says why and what to do instead.
    #[error("{0}")]
    ImagesRemoved(String),
    #[error("Image {index}: {source}")]
    BadInput { index: usize, source: imaging::ImageError },
    #[error(
        "You already have {queued} tasks waiting; each member may have {cap} waiting and {running} \
         running at a time. Let some finish, or cancel one with /cancel."
    )]
    QueueFull { queued: u32, running: u32, cap: u32 },
    #[error("{}", super::submit::daily_limit_text(*.used, *.limit, *.asked, *.resets_at))]
    DailyLimit { used: u32, limit: u32, asked: u32, resets_at: i64 },
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// Why a /cancel did nothing, in words for the member.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("There is no task {0}.")]
    NotFound(TaskId),
    #[error("Task {task} belongs to <@{owner}>; only they (or an admin) can cancel it.")]
    NotYours { task: TaskId, owner: String },
    #[error("Task {task} has already finished, so there is nothing to cancel.")]
    Finished { task: TaskId },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// A waiting task's place in line (1 = next) and when it should be done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueuePlace {
    pub place: usize,
    pub eta: Option<Duration>,
}

pub(super) struct Inner {
    pub db: Db,
    pub storage: Storage,
    pub backends: Registry,
    pub limits: LimitsConfig,
    pub grid_quality: u8,
    pub events: broadcast::Sender<TaskEvent>,
    wake: Notify,
    active: Mutex<HashMap<String, usize>>,
    /// How to stop each running task's backend call, for /cancel.
    aborts: Mutex<HashMap<TaskId, oneshot::Sender<()>>>,
    stopping: watch::Sender<bool>,
    /// An admin paused Easel: nothing new starts; running tasks finish.
    paused: AtomicBool,
    /// Stamps each task's `created_at`, which daily quotas count by.
    pub clock: Clock,
    /// Each backend's waiting line, read again only when the queue moves.
    lines: Lines,
}

impl Inner {
    /// Picks a backend for a task from what each can do, its health and its load now.
    pub async fn route(&self, req: &routing::Request<'_>) -> Result<Route, SubmitError> {
        let load = self.db.load_by_backend().await?;
        Ok(routing::choose(&self.backends.candidates(&load), req)?)
    }

    /// Has the scheduler look at the queue again now (which may have moved).
    pub fn wake(&self) {
        self.lines.changed();
        self.wake.notify_one();
    }

    pub fn emit(&self, task_id: TaskId, kind: EventKind) {
        // Progress leaves every line as it was; anything else may move one.
        if !matches!(kind, EventKind::Progress { .. }) {
            self.lines.changed();
        }
        // No receiver is fine: nobody is watching (the CLI before it subscribes, for one).
        let _ = self.events.send(TaskEvent { task_id, kind });
    }
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What [`Engine::recover`] did with the tasks a restart interrupted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub requeued: Vec<TaskId>,
    pub reattached: Vec<TaskId>,
    pub failed: Vec<TaskId>,
}

impl Engine {
    pub fn new(
        db: Db,
        storage: Storage,
        backends: Registry,
        limits: LimitsConfig,
        grid_quality: u8,
        clock: Clock,
    ) -> Engine {
        let (events, _) = broadcast::channel(1024);
        // Memory is the process's, so the budget for decoding is too (see imaging::DecodeBudget).
        imaging::DecodeBudget::install(limits.decode_budget_mib << 20);
        Engine {
            inner: Arc::new(Inner {
                db,
                storage,
                backends,
                limits,
                grid_quality,
                events,
                wake: Notify::new(),
                active: Mutex::new(HashMap::new()),
                aborts: Mutex::new(HashMap::new()),
                stopping: watch::channel(false).0,
                paused: AtomicBool::new(false),
                clock,
                lines: Lines::default(),
            }),
        }
    }

    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    pub fn backends(&self) -> &Registry {
        &self.inner.backends
    }

    pub async fn route(&self, req: &routing::Request<'_>) -> Result<Route, SubmitError> {
        self.inner.route(req).await
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TaskEvent> {
        self.inner.events.subscribe()
    }

    /// Holds the queue (`true`): no waiting task starts until resumed; running ones finish.
    pub fn set_paused(&self, paused: bool) {
        self.inner.paused.store(paused, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    /// Cancels `id` for member `by` (or an admin): a waiting task leaves the queue; a running
    /// one has its backend call stopped and, where the protocol allows, its job cancelled at
    /// the service; either way it ends `canceled` and its result, if one still comes, is
    /// discarded.
    pub async fn cancel(&self, id: TaskId, by: &str, admin: bool) -> Result<TaskState, CancelError> {
        let inner = &self.inner;
        let task = inner.db.task(id).await?.ok_or(CancelError::NotFound(id))?;
        if task.user_id != by && !admin {
            return Err(CancelError::NotYours { task: id, owner: task.user_id });
        }
        let Some(was) = inner.db.cancel(id).await? else {
            return Err(CancelError::Finished { task: id });
        };
        info!(task_id = id, by, ?was, "task canceled");
        if let Some(abort) = inner.aborts.lock().expect("abort map poisoned").remove(&id) {
            let _ = abort.send(());
        }
        inner.emit(id, EventKind::Canceled);
        inner.wake();
        Ok(was)
    }

    /// Where a waiting task stands in its backend's line, with an estimate of when it will be
    /// done from how long that backend's recent tasks took.
    pub async fn queue_place(&self, task: &Task) -> anyhow::Result<Option<QueuePlace>> {
        if task.state != TaskState::Queued {
            return Ok(None);
        }
        let inner = &self.inner;
        let Some((place, mean)) = inner.lines.place(&inner.db, &task.backend, task.id).await? else {
            return Ok(None);
        };
        let slots = inner.backends.concurrency(&task.backend);
        let rounds = place.div_ceil(slots) as f64;
        Ok(Some(QueuePlace { place, eta: mean.map(|m| Duration::from_secs_f64(m.max(0.0) * rounds)) }))
    }

    /// Settles the tasks a previous run left active: re-attach where the backend can be asked
    /// about its job again, run again where that is free, and fail the rest with a clear
    /// message. Call once at start, before [`Engine::spawn`].
    pub async fn recover(&self) -> anyhow::Result<Recovery> {
        let inner = &self.inner;
        let mut report = Recovery::default();
        let held = inner.db.release_all_held().await?;
        if held > 0 {
            info!(held, "released tasks a crash left between queueing and scheduling");
        }
        let active = [TaskState::Submitted, TaskState::Running];
        for task in inner.db.in_states(&active).await? {
            let caps = inner.backends.get(&task.backend).map(|b| b.capabilities());
            let (requeue, bucket) = match &caps {
                Some(c) if task.remote_id.is_some() && c.resumable => (true, &mut report.reattached),
                Some(c) if c.rerun_is_free => (true, &mut report.requeued),
                _ => (false, &mut report.failed),
            };
            let moved = if requeue {
                inner.db.requeue(task.id, now_ms()).await?
            } else {
                let message = if caps.is_none() {
                    format!(
                        "Easel restarted and backend `{}` is no longer configured, so this task was stopped.",
                        task.backend
                    )
                } else {
                    "Easel restarted while this was being made, and the image service can't be asked \
                     for it again. Please run it again."
                        .to_string()
                };
                let done = inner.db.fail(task.id, &active, FailureCode::Interrupted, &message).await?;
                if done {
                    inner.emit(task.id, EventKind::Failed { code: FailureCode::Interrupted, message });
                }
                done
            };
            if moved {
                bucket.push(task.id);
            }
        }
        if report != Recovery::default() {
            info!(?report, "recovered tasks interrupted by a restart");
        }
        Ok(report)
    }

    /// Starts the scheduler. It runs until [`Engine::shutdown`].
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(failover::probe_backends(self.inner.clone(), self.inner.stopping.subscribe()));
        tokio::spawn(async move { engine.schedule().await })
    }

    async fn schedule(self) {
        let inner = &self.inner;
        let mut stopping = inner.stopping.subscribe();
        loop {
            if *stopping.borrow() {
                return;
            }
            if self.is_paused() {
                // Held: wait for /easel resume (which wakes us) or shutdown.
                tokio::select! {
                    _ = inner.wake.notified() => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
            let mut wake_at: Option<i64> = None;
            for name in inner.backends.names().map(str::to_string).collect::<Vec<_>>() {
                if inner.backends.health().is_open(&name) {
                    if let Err(e) = failover::drain(inner, &name).await {
                        error!(backend = %name, error = %format!("{e:#}"), "moving tasks off a failing backend failed");
                    }
                    if let Some(at) = inner.backends.health().reopens_at(&name) {
                        let ms = now_ms()
                            + at.saturating_duration_since(tokio::time::Instant::now()).as_millis() as i64;
                        wake_at = Some(wake_at.map_or(ms, |w| w.min(ms)));
                    }
                    continue;
                }
                if let Err(e) = self.fill_slots(&name).await {
                    error!(backend = %name, error = %format!("{e:#}"), "claiming tasks failed");
                }
                match inner.db.next_retry_at(&name, now_ms()).await {
                    Ok(Some(at)) => wake_at = Some(wake_at.map_or(at, |w| w.min(at))),
                    Ok(None) => {}
                    Err(e) => error!(backend = %name, error = %format!("{e:#}"), "reading the queue failed"),
                }
            }
            let sleep = wake_at
                .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
                .unwrap_or(IDLE_RECHECK)
                .min(IDLE_RECHECK);
            tokio::select! {
                _ = inner.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = stopping.changed() => {}
            }
        }
    }

    async fn fill_slots(&self, backend: &str) -> anyhow::Result<()> {
        let inner = &self.inner;
        let limit = inner.backends.concurrency(backend);
        loop {
            let busy = *inner.active.lock().expect("active map poisoned").get(backend).unwrap_or(&0);
            if busy >= limit {
                return Ok(());
            }
            // An open circuit breaker holds work back; a half-open one lets one task through.
            if !inner.backends.health().try_start(backend) {
                return Ok(());
            }
            let Some(task) = inner.db.claim_next(backend, inner.limits.per_user_running).await? else {
                inner.backends.health().cancel_start(backend);
                return Ok(());
            };
            *inner.active.lock().expect("active map poisoned").entry(backend.to_string()).or_default() += 1;
            // Announced here, in the order of the claims, not from the task's own runner, whose
            // first steps may overtake another's.
            inner.emit(task.id, EventKind::Started);
            let (abort, aborted) = oneshot::channel();
            inner.aborts.lock().expect("abort map poisoned").insert(task.id, abort);
            let engine = self.clone();
            // Every log line of this task's life carries who and where, via this span.
            let span = tracing::info_span!("task", task_id = task.id, user_id = %task.user_id, backend = %task.backend);
            tokio::spawn(
                async move {
                    let id = task.id;
                    let backend = task.backend.clone();
                    // A panic inside a task must not take the slot or the scheduler with it.
                    let run =
                        tokio::spawn(runner::run(engine.inner.clone(), task, aborted).in_current_span());
                    if let Err(e) = run.await {
                        error!(task_id = id, error = %e, "task runner panicked");
                        let msg = format!(
                            "Something went wrong inside Easel (task {id}); an admin can find it in the log."
                        );
                        let active = [TaskState::Submitted, TaskState::Running];
                        if let Ok(true) = engine.inner.db.fail(id, &active, FailureCode::Internal, &msg).await
                        {
                            engine
                                .inner
                                .emit(id, EventKind::Failed { code: FailureCode::Internal, message: msg });
                        }
                    }
                    engine.inner.aborts.lock().expect("abort map poisoned").remove(&id);
                    if let Some(n) =
                        engine.inner.active.lock().expect("active map poisoned").get_mut(&backend)
                    {
                        *n = n.saturating_sub(1);
                    }
                    engine.inner.wake();
                }
                .instrument(span),
            );
        }
    }

    /// Stops taking new work and waits up to `grace` for running tasks; what is still running
    /// then stays in the database and is recovered on the next start.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.inner.stopping.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let busy: usize = self.inner.active.lock().expect("active map poisoned").values().sum();
            if busy == 0 {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(
                    running = busy,
                    "shutting down with tasks still running; they resume on the next start"
                );
                return;
            }
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Waits until `task` reaches a final state (or `timeout` passes) and returns it.
    pub async fn wait_final(&self, task: TaskId, timeout: Duration) -> anyhow::Result<Task> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let current = self.inner.db.task(task).await?.context("no such task")?;
            if current.state.is_final() {
                return Ok(current);
            }
            loop {
                match tokio::time::timeout_at(deadline, events.recv()).await {
                    Err(_) => anyhow::bail!("task {task} did not finish within {timeout:?}"),
                    Ok(Ok(ev)) if ev.task_id == task && ev.kind.is_final() => break,
                    Ok(Ok(_)) => continue,
                    // Missed events: re-read the row.
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => break,
                    Ok(Err(broadcast::error::RecvError::Closed)) => anyhow::bail!("the engine stopped"),
                }
            }
        }
    }
}
