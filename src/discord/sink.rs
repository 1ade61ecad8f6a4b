//! Message delivery: turns engine events into Discord message edits. Edits to one message are
//! throttled (one per `THROTTLE`) and coalesced — the edit always shows the task's latest
//! state, read from the database when it is sent — so a fast backend never earns a 429. A
//! final state is always delivered: through the interaction token while it lives, and as a
//! new channel message mentioning the member once it has expired.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

use super::BotError;
use super::render::{self, Attach, MessageView, RenderContext};
use super::rest::{Attachments, DiscordRest, FilePart, Outgoing, RestError};
use crate::base::ImageRole;
use crate::base::{MessageRef, TaskId, now_ms};
use crate::db::{Db, Task};
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

    pub fn rest(&self) -> &DiscordRest {
        &self.inner.rest
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

    async fn deliver(&self, t: &Task) -> Result<Delivery, RestError> {
        let m = &t.message;
        if m.interaction_token.is_none() && m.message_id.is_none() {
            return Ok(Delivery::Skipped); // not a Discord task (the CLI)
        }
        let preview =
            self.inner.entries.lock().expect("sink map poisoned").get(&t.id).and_then(|e| e.preview.clone());
        let cx = self.render_context(t, preview.is_some()).await;
        let view = render::render(t, &cx);
        let file = self.file_for(t, &view, preview).await;
        let msg = outgoing(t, &view, file);
        let rest = &self.inner.rest;
        let token_alive = m.token_expires_at.is_some_and(|exp| now_ms() < exp - TOKEN_MARGIN_MS);
        let result = match (&m.interaction_token, token_alive) {
            (Some(token), true) if m.original => rest.edit_original(token, &msg).await,
            (Some(token), true) => match &m.message_id {
                Some(id) => rest.edit_followup(token, id, &msg).await,
                None => return Ok(Delivery::Pending), // its follow-up is still being created
            },
            _ => return self.via_channel(t, msg).await,
        };
        match result {
            Ok(_) => Ok(Delivery::Sent),
            Err(e) if e.token_expired() => self.via_channel(t, msg).await,
            Err(e) => Err(e),
        }
    }

    /// Private mode: the task's message lives in the member's DMs, as a plain channel message
    /// that every later update edits. Posted here, at once, showing the task's current state.
    pub async fn post_to_channel(&self, task: TaskId, channel: &str) -> Result<(), BotError> {
        let store = &self.inner.db;
        let t = store.task(task).await?.ok_or_else(|| anyhow::anyhow!("task {task} vanished"))?;
        let cx = self.render_context(&t, false).await;
        let view = render::render(&t, &cx);
        let file = self.file_for(&t, &view, None).await;
        let sent = self.inner.rest.create_channel_message(channel, &outgoing(&t, &view, file)).await?;
        let message = MessageRef { message_id: Some(sent.id), ..MessageRef::default() };
        store.set_message(task, &message).await?;
        // The task may have moved on while the message was being posted.
        self.touch(task, None);
        Ok(())
    }

    /// After the interaction token is gone only a new channel message can show the result;
    /// progress is not worth a new message, so only final states go this way.
    async fn via_channel(&self, t: &Task, msg: Outgoing) -> Result<Delivery, RestError> {
        let Some(channel) = t.channel_id.as_deref() else { return Ok(Delivery::Skipped) };
        let store = &self.inner.db;
        if let (None, Some(id)) = (&t.message.interaction_token, &t.message.message_id) {
            // Already moved to a channel message: keep editing that one.
            self.inner.rest.edit_channel_message(channel, id, &msg).await?;
            return Ok(Delivery::Sent);
        }
        if !t.state.is_final() {
            return Ok(Delivery::Pending);
        }
        debug!(task_id = t.id, "interaction token expired; posting the result to the channel");
        let sent = self.inner.rest.create_channel_message(channel, &msg).await?;
        let moved = MessageRef {
            interaction_token: None,
            token_expires_at: None,
            message_id: Some(sent.id),
            original: false,
        };
        if let Err(e) = store.set_message(t.id, &moved).await {
            warn!(task_id = t.id, error = %format!("{e:#}"), "recording the channel message failed");
        }
        Ok(Delivery::Sent)
    }

    async fn render_context(&self, t: &Task, has_preview: bool) -> RenderContext {
        let engine = &self.inner.engine;
        let used_upscales = if t.kind.makes_grid() && t.state.is_final() {
            self.inner.db.upscaled_indexes(t.id).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let queue = match engine.queue_place(t).await {
            Ok(place) => place,
            Err(e) => {
                warn!(task_id = t.id, error = %format!("{e:#}"), "could not work out the queue position");
                None
            }
        };
        RenderContext {
            caps: engine.backends().get(&t.backend).map(|b| b.capabilities()),
            used_upscales,
            has_preview,
            queue,
        }
    }

    async fn file_for(&self, t: &Task, view: &MessageView, preview: Option<Bytes>) -> Option<FilePart> {
        let store = &self.inner.db;
        let (role, name) = match view.attach {
            Attach::None => return None,
            Attach::Preview => {
                return preview.map(|bytes| FilePart {
                    name: "preview.jpg".into(),
                    mime: "image/jpeg",
                    bytes,
                });
            }
            Attach::Grid => (ImageRole::Grid, format!("easel_{}_grid", t.id)),
            Attach::Image => (ImageRole::Image, format!("easel_{}", t.id)),
            Attach::Input => (ImageRole::Input, format!("easel_{}_described", t.id)),
        };
        let img = store.images(t.id, role).await.ok()?.into_iter().next()?;
        let bytes = match self.inner.engine.storage().read(&img.path).await {
            Ok(b) => b,
            Err(e) => {
                warn!(task_id = t.id, error = %format!("{e:#}"), "reading the result image failed");
                return None;
            }
        };
        if bytes.len() > crate::imaging::DISCORD_FILE_LIMIT {
            // Only the described image can be this big (a link); its prompts matter more.
            return None;
        }
        let ext = Path::new(&img.path).extension().and_then(|e| e.to_str()).unwrap_or("png");
        let mime = crate::imaging::sniff(&bytes).map(|f| f.mime()).unwrap_or("application/octet-stream");
        Some(FilePart { name: format!("{name}.{ext}"), mime, bytes })
    }
}

enum Delivery {
    Sent,
    /// Nothing can be shown yet (no message to edit yet, or progress after the token expired).
    Pending,
    /// There is no Discord message for this task.
    Skipped,
}

/// The wire form of a rendered view.
pub fn outgoing(t: &Task, view: &MessageView, file: Option<FilePart>) -> Outgoing {
    let rows: Vec<serde_json::Value> = view
        .rows
        .iter()
        .map(|row| {
            let buttons: Vec<serde_json::Value> = row
                .iter()
                .map(|b| {
                    let mut v =
                        serde_json::json!({"type": 2, "style": b.style as u8, "custom_id": b.custom_id});
                    if let Some(label) = &b.label {
                        v["label"] = label.clone().into();
                    }
                    if let Some(emoji) = &b.emoji {
                        v["emoji"] = serde_json::json!({"name": emoji});
                    }
                    v
                })
                .collect();
            serde_json::json!({"type": 1, "components": buttons})
        })
        .collect();
    Outgoing {
        content: view.content.clone(),
        components: serde_json::Value::Array(rows),
        mention: Some(t.user_id.clone()),
        attachments: Attachments::Replace(file),
        ephemeral: false,
    }
}
