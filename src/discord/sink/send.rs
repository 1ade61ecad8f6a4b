//! Sending: every Discord message that shows a task is rendered, sent, re-coloured and
//! recorded here — edits through the interaction token while it lives, a channel message once
//! it has expired, the follow-ups that button presses and permutations create, private-mode
//! posts in a member's DMs, and the green U on a grid whose image was upscaled.

use std::path::Path;

use bytes::Bytes;
use tracing::{debug, warn};

use super::{Delivery, Sink, TOKEN_LIFETIME, TOKEN_MARGIN_MS};
use crate::base::{ImageRole, MessageRef, TaskId, now_ms};
use crate::db::Task;
use crate::discord::BotError;
use crate::discord::render::{self, Attach, MessageView, RenderContext};
use crate::discord::rest::{Attachments, FilePart, Outgoing, RestError};

impl Sink {
    /// Posts a new follow-up message for `task` on the interaction `token` (a button press's,
    /// or a permutation's second prompt on) and points the task at it; updates follow.
    pub async fn follow_up(&self, token: &str, task: &Task) -> Result<(), BotError> {
        let expires = now_ms() + TOKEN_LIFETIME.as_millis() as i64;
        let view = render::render(task, &RenderContext::default());
        let sent = self.inner.rest.create_followup(token, &outgoing(task, &view, None)).await?;
        let message = MessageRef {
            interaction_token: Some(token.to_string()),
            token_expires_at: Some(expires),
            message_id: Some(sent.id),
            original: false,
        };
        self.record(task.id, &message).await
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
        self.record(task, &MessageRef { message_id: Some(sent.id), ..MessageRef::default() }).await
    }

    /// Where the task's message now lives; the task may have moved on while it was posted,
    /// so it is brought up to date.
    async fn record(&self, task: TaskId, message: &MessageRef) -> Result<(), BotError> {
        self.inner.db.set_message(task, message).await?;
        self.touch(task, None);
        Ok(())
    }

    /// A U under `grid` was used: redraw the grid's buttons, keeping its image, so the pressed
    /// U turns green. `token` is the press's, whose original message is the grid.
    pub async fn recolour_upscales(&self, token: &str, grid: &Task) {
        let engine = &self.inner.engine;
        let db = &self.inner.db;
        let used_upscales = match db.upscaled_indexes(grid.id).await {
            Ok(used) => used,
            Err(e) => {
                warn!(task_id = grid.id, error = %format!("{e:#}"), "could not read the used upscales");
                return;
            }
        };
        let caps = engine.backends().get(&grid.backend).map(|b| b.capabilities());
        let view = render::render(grid, &RenderContext { caps, used_upscales, ..RenderContext::default() });
        let mut msg = outgoing(grid, &view, None);
        msg.attachments = Attachments::Keep;
        if let Err(e) = self.inner.rest.edit_original(token, &msg).await {
            warn!(task_id = grid.id, error = %e, "could not mark the upscale button as used");
        }
    }

    /// A deleted result's message goes: through the interaction token while it lives (the
    /// original response or a follow-up), otherwise as the bot's own channel message. Nothing
    /// for this task is sent again (delivery skips deleted tasks).
    pub async fn take_down(&self, t: &Task) -> Result<(), RestError> {
        self.inner.entries.lock().expect("sink map poisoned").remove(&t.id);
        let m = &t.message;
        let rest = &self.inner.rest;
        let token_alive = m.token_expires_at.is_some_and(|exp| now_ms() < exp - TOKEN_MARGIN_MS);
        let by_token = match (&m.interaction_token, token_alive, &m.message_id) {
            (Some(token), true, _) if m.original => Some(rest.delete_original(token).await),
            (Some(token), true, Some(id)) => Some(rest.delete_followup(token, id).await),
            _ => None,
        };
        let result = match (by_token, &t.channel_id, &m.message_id) {
            (Some(Ok(())), _, _) => Ok(()),
            (_, Some(channel), Some(id)) => rest.delete_channel_message(channel, id).await,
            (Some(Err(e)), _, _) => Err(e),
            (None, _, _) => Ok(()), // it never had a message
        };
        match result {
            Err(e) if e.target_gone() => Ok(()),
            other => other,
        }
    }

    /// The showcase channel's post of a hearted image: the image with its prompt and credit
    /// (mentioning nobody) and a link button to the result's own message. Returns the posted
    /// message's id. Not a task's message: nothing updates it later.
    pub async fn post_showcase(&self, t: &Task, channel: &str, hearted_by: &str) -> Result<String, BotError> {
        let view = MessageView {
            content: crate::discord::favorites_view::showcase_text(t, hearted_by),
            rows: Vec::new(),
            attach: Attach::Image,
        };
        let file = self.file_for(t, &view, None).await;
        let components = match render::message_link(t) {
            Some(url) => serde_json::json!([{"type": 1, "components": [
                {"type": 2, "style": 5, "label": "Original", "url": url}
            ]}]),
            None => serde_json::json!([]),
        };
        let msg = Outgoing {
            content: view.content,
            components,
            mention: None,
            attachments: Attachments::Replace(file),
            ephemeral: false,
        };
        Ok(self.inner.rest.create_channel_message(channel, &msg).await?.id)
    }

    /// Opens (or finds) the DM channel with `user`, for private mode.
    pub async fn open_dm(&self, user: &str) -> Result<String, RestError> {
        self.inner.rest.open_dm(user).await
    }

    /// Takes a deferred response's public "thinking…" away, when nothing came of the command.
    pub async fn withdraw_original(&self, token: &str) {
        if let Err(e) = self.inner.rest.delete_original(token).await {
            debug!(error = %e, "could not take back a deferred response");
        }
    }

    pub(super) async fn deliver(&self, t: &Task) -> Result<Delivery, RestError> {
        let m = &t.message;
        if m.interaction_token.is_none() && m.message_id.is_none() {
            return Ok(Delivery::Skipped); // not a Discord task (the CLI)
        }
        if t.deleted_at.is_some() {
            return Ok(Delivery::Skipped); // its message was taken down with it
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
            (Some(token), true) if m.original => {
                let sent = rest.edit_original(token, &msg).await;
                if let (Ok(sent), None) = (&sent, &m.message_id) {
                    // Presses are checked against the message that shows their task.
                    let known = MessageRef { message_id: Some(sent.id.clone()), ..m.clone() };
                    if let Err(e) = self.inner.db.set_message(t.id, &known).await {
                        warn!(task_id = t.id, error = %format!("{e:#}"), "recording the message id failed");
                    }
                }
                sent
            }
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
        let db = &self.inner.db;
        let used_upscales = if t.kind.makes_grid() && t.state.is_final() {
            db.upscaled_indexes(t.id).await.unwrap_or_default()
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
        // Make Square is offered only on a non-square U result.
        let image_size = match t.kind.makes_grid() || !t.state.is_final() {
            true => None,
            false => db
                .images(t.id, ImageRole::Image)
                .await
                .ok()
                .and_then(|i| i.first().map(|i| (i.width, i.height))),
        };
        RenderContext {
            caps: engine.backends().get(&t.backend).map(|b| b.capabilities()),
            used_upscales,
            has_preview,
            queue,
            image_size,
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

/// The wire form of a rendered view.
fn outgoing(t: &Task, view: &MessageView, file: Option<FilePart>) -> Outgoing {
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
