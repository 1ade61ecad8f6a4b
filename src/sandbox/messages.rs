//! Creating and editing messages, shared by every route that does either (channel messages,
//! interaction callbacks 4 and 7, followups, `@original` edits), and the channel message routes.
//!
//! The attachment rules are Discord's API v10 ones: an omitted `attachments` key keeps every
//! existing file and appends the uploaded ones; a present `attachments` array is the complete
//! list after the request — existing files by their real id, new ones by their `files[n]`
//! placeholder — so `attachments: []` removes them all (the serenity type 7 quirk).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::limits;
use super::model::{ActionRow, Attachment, Message, ViolationKind};
use super::payload::{Draft, read_body};
use super::render;
use super::state::{Inner, World};

pub(crate) const EPHEMERAL: u64 = 1 << 6;
pub(crate) const LOADING: u64 = 1 << 7;
/// Flags a bot may set on a message besides EPHEMERAL: SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS.
const SETTABLE_FLAGS: u64 = (1 << 2) | (1 << 12);

/// How a new message relates to an interaction.
#[derive(Default)]
pub(crate) struct Origin {
    pub interaction_id: Option<u64>,
    pub ephemeral_for: Option<u64>,
    /// The channel of the interaction (a DM's, say); `None` = the guild's text channel.
    pub channel_id: Option<u64>,
}

/// The message fields after a request, checked and with new files stored.
struct Applied {
    content: String,
    components: Vec<ActionRow>,
    embeds: Vec<Value>,
    attachments: Vec<Attachment>,
}

enum Slot {
    Kept(Attachment),
    New { index: u64, filename: Option<String>, description: Option<String> },
}

fn apply(
    inner: &Inner,
    world: &mut World,
    existing: Option<&Message>,
    mut draft: Draft,
) -> ApiResult<Applied> {
    limits::check_files(&draft.files)?;
    let current: &[Attachment] = existing.map_or(&[], |m| &m.attachments);
    let slots: Vec<Slot> = match draft.attachments.take() {
        None => current
            .iter()
            .cloned()
            .map(Slot::Kept)
            .chain(draft.files.keys().map(|&index| Slot::New { index, filename: None, description: None }))
            .collect(),
        Some(refs) => refs
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                if draft.files.contains_key(&r.id) {
                    Ok(Slot::New { index: r.id, filename: r.filename, description: r.description })
                } else if let Some(a) = current.iter().find(|a| a.id == r.id) {
                    let mut a = a.clone();
                    if r.description.is_some() {
                        a.description = r.description;
                    }
                    Ok(Slot::Kept(a))
                } else {
                    let at = i.to_string();
                    Err(ApiError::bad_form(
                        &["attachments", &at, "id"],
                        &format!(
                            "Unknown attachment {} (not an existing attachment nor a files[n] index)",
                            r.id
                        ),
                    ))
                }
            })
            .collect::<ApiResult<_>>()?,
    };
    let content =
        draft.content.take().unwrap_or_else(|| existing.map(|m| m.content.clone()).unwrap_or_default());
    let components =
        draft.components.take().unwrap_or_else(|| existing.map(|m| m.components.clone()).unwrap_or_default());
    let embeds =
        draft.embeds.take().unwrap_or_else(|| existing.map(|m| m.embeds.clone()).unwrap_or_default());
    limits::check_message(&content, &components, &embeds, slots.len())?;
    let attachments = slots
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::Kept(a) => Some(a),
            Slot::New { index, filename, description } => {
                let upload = draft.files.remove(&index)?;
                let name = filename.unwrap_or(upload.filename);
                Some(inner.store_blob(world, &name, upload.content_type, upload.bytes, description))
            }
        })
        .collect();
    Ok(Applied { content, components, embeds, attachments })
}

/// Creates a message from `draft` and returns its id.
pub(crate) fn create(inner: &Inner, world: &mut World, draft: Draft, origin: Origin) -> ApiResult<u64> {
    let extra = draft.flags.unwrap_or(0) & SETTABLE_FLAGS;
    let applied = apply(inner, world, None, draft)?;
    let id = inner.clock.snowflake();
    world.messages.push(Message {
        id,
        channel_id: origin.channel_id.unwrap_or(inner.config.channel_id),
        author_id: inner.config.bot_user_id,
        content: applied.content,
        components: applied.components,
        attachments: applied.attachments,
        embeds: applied.embeds,
        flags: extra | if origin.ephemeral_for.is_some() { EPHEMERAL } else { 0 },
        ephemeral_for: origin.ephemeral_for,
        loading: false,
        edits: 0,
        interaction_id: origin.interaction_id,
        created_at: inner.now(),
        edited_at: None,
    });
    world.stats.messages_created += 1;
    Ok(id)
}

/// The "Bot is thinking…" placeholder of a type 5 callback; exempt from the limits until filled.
pub(crate) fn create_loading(inner: &Inner, world: &mut World, origin: Origin) -> u64 {
    let id = inner.clock.snowflake();
    world.messages.push(Message {
        id,
        channel_id: origin.channel_id.unwrap_or(inner.config.channel_id),
        author_id: inner.config.bot_user_id,
        content: String::new(),
        components: Vec::new(),
        attachments: Vec::new(),
        embeds: Vec::new(),
        flags: LOADING | if origin.ephemeral_for.is_some() { EPHEMERAL } else { 0 },
        ephemeral_for: origin.ephemeral_for,
        loading: true,
        edits: 0,
        interaction_id: origin.interaction_id,
        created_at: inner.now(),
        edited_at: None,
    });
    world.stats.messages_created += 1;
    id
}

/// Applies `draft` to message `id`; a loading message stops loading.
pub(crate) fn edit(inner: &Inner, world: &mut World, id: u64, draft: Draft) -> ApiResult<()> {
    let existing = world.message(id).cloned().ok_or_else(|| ApiError::unknown_message(id))?;
    let extra = draft.flags.map(|f| f & SETTABLE_FLAGS);
    let applied = apply(inner, world, Some(&existing), draft)?;
    let now = inner.now();
    let m = world.message_mut(id).ok_or_else(|| ApiError::unknown_message(id))?;
    m.content = applied.content;
    m.components = applied.components;
    m.embeds = applied.embeds;
    m.attachments = applied.attachments;
    if let Some(extra) = extra {
        m.flags = (m.flags & !SETTABLE_FLAGS) | extra;
    }
    m.flags &= !LOADING;
    m.loading = false;
    m.edits += 1;
    m.edited_at = Some(now);
    world.stats.message_edits += 1;
    Ok(())
}

pub(crate) fn delete(world: &mut World, id: u64) -> ApiResult<()> {
    let before = world.messages.len();
    world.messages.retain(|m| m.id != id);
    if world.messages.len() == before { Err(ApiError::unknown_message(id)) } else { Ok(()) }
}

pub(crate) fn json_of(inner: &Inner, world: &World, id: u64) -> ApiResult<Response> {
    let m = world.message(id).ok_or_else(|| ApiError::unknown_message(id))?;
    Ok(axum::Json(render::message(inner, world, m)).into_response())
}

/// A text channel of the guild or a DM channel the bot has with a member; `None` = the guild's
/// first channel.
fn channel(inner: &Inner, id: &str) -> ApiResult<Option<u64>> {
    let parsed = id.parse::<u64>().ok();
    if parsed == Some(inner.config.channel_id) {
        return Ok(None);
    }
    let known = |c: &u64| {
        inner.read(|w| {
            w.dm_channels.values().any(|dm| dm == c) || w.is_guild_channel(inner.config.channel_id, *c)
        })
    };
    match parsed.filter(known) {
        Some(other) => Ok(Some(other)),
        None => Err(ApiError::unknown_channel(id)),
    }
}

/// A message the channel routes may touch: in that channel (Discord answers Unknown Message
/// for a message of another channel) and not ephemeral (ephemeral messages only exist for
/// their interaction's webhook). `channel` as [`channel`] resolved it.
fn channel_message(inner: &Inner, world: &World, channel: Option<u64>, id: &str) -> ApiResult<u64> {
    let channel = channel.unwrap_or(inner.config.channel_id);
    let found = id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.message(id))
        .filter(|m| !m.is_ephemeral() && m.channel_id == channel);
    found.map(|m| m.id).ok_or_else(|| ApiError::unknown_message(id))
}

pub(crate) async fn create_route(
    State(inner): State<Arc<Inner>>,
    Path(channel_id): Path<String>,
    req: Request,
) -> ApiResult {
    let dm = channel(&inner, &channel_id)?;
    let body = read_body(req).await?;
    let draft = Draft::parse(&body.json, body.files)?;
    inner.write(|w| {
        let id = create(&inner, w, draft, Origin { channel_id: dm, ..Origin::default() })?;
        json_of(&inner, w, id)
    })
}

pub(crate) async fn get_route(
    State(inner): State<Arc<Inner>>,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> ApiResult {
    let channel = channel(&inner, &channel_id)?;
    inner.read(|w| json_of(&inner, w, channel_message(&inner, w, channel, &message_id)?))
}

pub(crate) async fn edit_route(
    State(inner): State<Arc<Inner>>,
    Path((channel_id, message_id)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let channel = channel(&inner, &channel_id)?;
    let body = read_body(req).await?;
    let draft = Draft::parse(&body.json, body.files)?;
    inner.write(|w| {
        let id = channel_message(&inner, w, channel, &message_id)?;
        if w.message(id).map(|m| m.author_id) != Some(inner.config.bot_user_id) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                50005,
                "Cannot edit a message authored by another user",
                ViolationKind::CannotEditOthersMessage,
                format!("message {id} is not the bot's"),
            ));
        }
        edit(&inner, w, id, draft)?;
        json_of(&inner, w, id)
    })
}

pub(crate) async fn delete_route(
    State(inner): State<Arc<Inner>>,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> ApiResult {
    let channel = channel(&inner, &channel_id)?;
    inner.write(|w| {
        let id = channel_message(&inner, w, channel, &message_id)?;
        delete(w, id)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
