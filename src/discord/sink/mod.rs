//! Message delivery: turns engine events into Discord message edits. Edits to one message are
//! throttled (one per `THROTTLE`) and coalesced — the edit always shows the task's latest
//! state, read from the database when it is sent — so a fast backend never earns a 429. A
//! final state is always delivered: through the interaction token while it lives, and as a
//! new channel message mentioning the member once it has expired. This is the only code that
//! sends a task's message (`send` renders and sends; this file decides when).

mod send;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use super::rest::{DiscordRest, RestError};
use crate::base::TaskId;
use crate::db::Db;
use crate::tasks::engine::Engine;
use crate::tasks::events::EventKind;

/// About one edit per message per 1.5 s keeps well inside Discord's per-webhook limits.
pub const THROTTLE: Duration = Duration::from_millis(1500);
/// Interaction tokens live 15 minutes; stop using one a minute early.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
const TOKEN_MARGIN_MS: i64 = 60_000;
/// Tries for a final message that fails for reasons other than rate limits.
const FINAL_TRIES: u32 = 4;

#[derive(Default)]
struct Entry {
    dirty: bool,
    working: bool,
    preview: Option<Bytes>,
    last_sent: Option<Instant>,
    failures: u32,
}

#[derive(Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    db: Db,
    rest: Arc<DiscordRest>,
    entries: Mutex<HashMap<TaskId, Entry>>,
}

impl Sink {
    /// Starts consuming the engine's events and catches up on anything a restart left
    /// undelivered.
    pub fn start(engine: Engine, db: Db, rest: Arc<DiscordRest>) -> Sink {
        let sink = Sink { inner: Arc::new(Inner { engine, db, rest, entries: Mutex::new(HashMap::new()) }) };
        let mut events = sink.inner.engine.subscribe();
        let listener = sink.clone();
        tokio::spawn(async move {
            listener.resync().await;
            loop {
                match events.recv().await {
                    Ok(ev) => {
                        let preview = match ev.kind {
                            EventKind::Progress { preview, .. } => preview,
                            _ => None,
                        };
                        listener.touch(ev.task_id, preview);
                    }
                    Err(RecvError::Lagged(missed)) => {
                        warn!(missed, "message delivery fell behind; re-reading task states");
                        listener.resync().await;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        sink
    }

    /// Marks every task whose message may be out of date.
    pub async fn resync(&self) {
        match self.inner.db.undelivered().await {
            Ok(tasks) => {
                for t in tasks {
                    self.touch(t.id, None);
                }
            }
            Err(e) => warn!(error = %format!("{e:#}"), "could not list undelivered tasks"),
        }
    }

    /// The task changed: its message will be brought up to date (soon, not necessarily now).
    pub fn touch(&self, task: TaskId, preview: Option<Bytes>) {
        let start = {
            let mut entries = self.inner.entries.lock().expect("sink map poisoned");
            let entry = entries.entry(task).or_default();
            entry.dirty = true;
            if preview.is_some() {
                entry.preview = preview;
            }
            !std::mem::replace(&mut entry.working, true)
        };
        if start {
            let sink = self.clone();
            tokio::spawn(async move { sink.work(task).await });
        }
    }

    /// Renders and sends the task's message now, bypassing the throttle: used for the first
    /// "waiting" render that must land before anything else is posted for the interaction.
    pub async fn deliver_now(&self, task: TaskId) -> Result<(), RestError> {
        let Ok(Some(t)) = self.inner.db.task(task).await else { return Ok(()) };
        self.deliver(&t).await.map(|_| ())
    }

    /// One worker per task with pending changes; it exits when nothing is left to send.
    async fn work(self, task: TaskId) {
        loop {
            let wait_until = {
                let mut entries = self.inner.entries.lock().expect("sink map poisoned");
                let Some(entry) = entries.get_mut(&task) else { return };
                if !entry.dirty {
                    entry.working = false;
                    return;
                }
                entry.dirty = false;
                entry.last_sent.map(|t| t + THROTTLE)
            };
            if let Some(at) = wait_until {
                tokio::time::sleep_until(at).await;
            }
            let finished = self.send_latest(task).await;
            let mut entries = self.inner.entries.lock().expect("sink map poisoned");
            if finished {
                entries.remove(&task);
                return;
            }
            if let Some(entry) = entries.get_mut(&task) {
                entry.last_sent = Some(Instant::now());
            }
        }
    }

    /// Sends the task's current state; true when there is nothing more to show for it.
    async fn send_latest(&self, task: TaskId) -> bool {
        let store = &self.inner.db;
        let t = match store.task(task).await {
            Ok(Some(t)) => t,
            Ok(None) => return true,
            Err(e) => {
                warn!(task_id = task, error = %format!("{e:#}"), "reading a task for its message failed");
                return false;
            }
        };
        let span = tracing::info_span!("task", task_id = t.id, user_id = %t.user_id, backend = %t.backend);
        match self.deliver(&t).instrument(span).await {
            Ok(Delivery::Sent | Delivery::Skipped) if t.state.is_final() => {
                let _ = store.mark_delivered(t.id).await;
                true
            }
            Ok(_) => false,
            Err(e) if e.target_gone() => {
                info!(task_id = t.id, error = %e, "the task's message or channel is gone; not showing it");
                let _ = store.mark_delivered(t.id).await;
                true
            }
            Err(e) => {
                warn!(task_id = t.id, user_id = %t.user_id, backend = %t.backend, error = %e, "updating the task's message failed");
                let retry = {
                    let mut entries = self.inner.entries.lock().expect("sink map poisoned");
                    let entry = entries.entry(t.id).or_default();
                    entry.failures += 1;
                    t.state.is_final() && entry.failures < FINAL_TRIES
                };
                if retry {
                    // A final state must reach the member: try again after a pause.
                    tokio::time::sleep(THROTTLE * 2).await;
                    self.inner.entries.lock().expect("sink map poisoned").entry(t.id).or_default().dirty =
                        true;
                    return false;
                }
                true
            }
        }
    }
}

enum Delivery {
    Sent,
    /// Nothing can be shown yet (no message to edit yet, or progress after the token expired).
    Pending,
    /// There is no Discord message for this task.
    Skipped,
}
