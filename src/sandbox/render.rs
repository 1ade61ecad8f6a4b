//! Discord-shaped JSON for the objects the REST side sends (users, members, messages,
//! attachments, components, application info); gateway event payloads are in [`super::events`].
//!
//! Each object carries the union of what serenity 0.12.5's deserializers require (a missing field
//! makes a gateway event vanish with only a WARN) and what the OpenAPI schemas mark `required`,
//! which is why some fields look redundant (`discriminator`, `primary_guild`, `Role.colors`).

use serde_json::{Map, Value, json};

use super::model::{ActionRow, Attachment, InteractionKind, Message};
use super::state::{Inner, World};

/// The permissions Discord reports for an administrator-like member, as a decimal string.
pub(crate) const ALL_PERMISSIONS: &str = "2251799813685247";
/// What @everyone may do in the sandbox guild: no Manage Server, no Administrator.
pub(crate) const MEMBER_PERMISSIONS: &str = "1071698660929";

pub(crate) fn user(world: &World, id: u64) -> Value {
    let (name, bot) = world.user(id).map_or(("unknown", false), |u| (u.name.as_str(), u.bot));
    json!({
        "id": id.to_string(),
        "username": name,
        "global_name": if bot { Value::Null } else { json!(name) },
        "discriminator": "0",
        "avatar": null,
        "public_flags": 0,
        "flags": 0,
        "bot": bot,
        "banner": null,
        "accent_color": null,
        "avatar_decoration_data": null,
        "collectibles": null,
        "primary_guild": null,
    })
}

pub(crate) fn member(inner: &Inner, world: &World, id: u64) -> Value {
    let joined = world.user(id).map(|u| u.joined_at).unwrap_or_default();
    let roles: Vec<String> =
        world.user(id).map(|u| u.roles.iter().map(u64::to_string).collect()).unwrap_or_default();
    let permissions = world.user(id).map(|u| u.permissions()).unwrap_or(0);
    json!({
        "user": user(world, id),
        "nick": null,
        "avatar": null,
        "banner": null,
        "roles": roles,
        "joined_at": inner.clock.timestamp(joined),
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "permissions": permissions.to_string(),
        "communication_disabled_until": null,
    })
}

pub(crate) fn attachment(a: &Attachment) -> Value {
    let mut v = json!({
        "id": a.id.to_string(),
        "filename": a.filename,
        "size": a.size,
        "url": a.url,
        "proxy_url": a.url,
    });
    let o = v.as_object_mut().expect("literal object");
    if let Some(ct) = &a.content_type {
        o.insert("content_type".into(), json!(ct));
    }
    if let (Some(w), Some(h)) = (a.width, a.height) {
        o.insert("width".into(), json!(w));
        o.insert("height".into(), json!(h));
    }
    if let Some(d) = &a.description {
        o.insert("description".into(), json!(d));
    }
    v
}

/// Components as Discord returns them, with the numeric `id`s it assigns in document order.
pub(crate) fn components(rows: &[ActionRow]) -> Value {
    let mut next = 0u32;
    let mut id = || {
        next += 1;
        next
    };
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let row_id = id();
            let mut items: Vec<Value> = Vec::new();
            for b in &row.buttons {
                let mut o = Map::new();
                o.insert("type".into(), json!(2));
                o.insert("id".into(), json!(id()));
                o.insert("style".into(), json!(b.style));
                if let Some(l) = &b.label {
                    o.insert("label".into(), json!(l));
                }
                if let Some(e) = &b.emoji {
                    let mut em = Map::new();
                    em.insert("name".into(), json!(e.name));
                    if let Some(eid) = e.id {
                        em.insert("id".into(), json!(eid.to_string()));
                        em.insert("animated".into(), json!(e.animated));
                    }
                    o.insert("emoji".into(), Value::Object(em));
                }
                if let Some(c) = &b.custom_id {
                    o.insert("custom_id".into(), json!(c));
                }
                if let Some(u) = &b.url {
                    o.insert("url".into(), json!(u));
                }
                o.insert("disabled".into(), json!(b.disabled));
                items.push(Value::Object(o));
            }
            for other in &row.others {
                let mut other = other.clone();
                if let Some(o) = other.as_object_mut() {
                    o.insert("id".into(), json!(id()));
                }
                items.push(other);
            }
            json!({"type": 1, "id": row_id, "components": items})
        })
        .collect();
    Value::Array(rows)
}

pub(crate) fn message(inner: &Inner, world: &World, m: &Message) -> Value {
    let interaction = m.interaction_id.and_then(|id| world.interactions.get(&id));
    // Discord marks slash command responses as CHAT_INPUT_COMMAND (20); everything else is a
    // plain DEFAULT (0) message.
    let kind = match interaction.map(|i| &i.record.kind) {
        Some(InteractionKind::Command { .. })
            if Some(m.id) == interaction.and_then(|i| i.record.original_message_id) =>
        {
            20
        }
        _ => 0,
    };
    let mut v = json!({
        "id": m.id.to_string(),
        "channel_id": m.channel_id.to_string(),
        "author": user(world, m.author_id),
        "content": m.content,
        "timestamp": inner.clock.timestamp(m.created_at),
        "edited_timestamp": m.edited_at.map(|t| inner.clock.timestamp(t)),
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": m.attachments.iter().map(attachment).collect::<Vec<_>>(),
        "embeds": m.embeds,
        "pinned": false,
        "type": kind,
        "flags": m.flags,
        "components": components(&m.components),
    });
    let o = v.as_object_mut().expect("literal object");
    if let Some(i) = interaction {
        let app = inner.config.application_id.to_string();
        o.insert("webhook_id".into(), json!(app));
        o.insert("application_id".into(), json!(app));
        if let InteractionKind::Command { name, .. } = &i.record.kind {
            o.insert(
                "interaction".into(),
                json!({
                    "id": i.record.id.to_string(),
                    "type": 2,
                    "name": name,
                    "user": user(world, i.record.user_id),
                }),
            );
        }
    }
    v
}

pub(crate) fn application(inner: &Inner, world: &World) -> Value {
    let c = &inner.config;
    json!({
        "id": c.application_id.to_string(),
        "name": c.bot_name,
        "icon": null,
        "description": "Easel sandbox application",
        "type": null,
        "bot": user(world, c.bot_user_id),
        "bot_public": false,
        "bot_require_code_grant": false,
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "owner": user(world, c.bot_user_id),
        "team": null,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "eligible_oauth2_scopes": [],
        "rpc_origins": [],
        "tags": [],
        "integration_types_config": {"0": {}},
    })
}

/// `GET /users/@me`: the bot user with the private fields Discord adds.
pub(crate) fn current_user(inner: &Inner, world: &World) -> Value {
    let mut v = user(world, inner.config.bot_user_id);
    if let Some(o) = v.as_object_mut() {
        o.insert("mfa_enabled".into(), json!(false));
        o.insert("locale".into(), json!("en-US"));
        o.insert("verified".into(), json!(true));
        o.insert("email".into(), Value::Null);
    }
    v
}
