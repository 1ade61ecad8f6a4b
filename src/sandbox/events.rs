//! The gateway's event payloads: READY, GUILD_CREATE and INTERACTION_CREATE (slash commands
//! with resolved attachments, and button clicks carrying the full message).
//!
//! Like [`super::render`], each carries what serenity 0.12.5 requires: `Role.colors`,
//! `attachment_size_limit`, `entitlements`, `data.type = 1`; a missing one makes serenity drop the
//! whole event with a WARN, which `tests.rs` guards against.

use serde_json::{Map, Value, json};

use super::model::{CommandOption, Message, OptionValue};
use super::render::{ALL_PERMISSIONS, attachment, member, message, user};
use super::state::{Inner, World};

fn role_everyone(inner: &Inner) -> Value {
    json!({
        "id": inner.config.everyone_role_id.to_string(),
        "name": "@everyone",
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "managed": false,
        "mentionable": false,
        "permissions": "1071698660929",
        "position": 0,
        "icon": null,
        "unicode_emoji": null,
        "flags": 0,
    })
}

/// The guild text channel `id` (the first one, or one a test added), as Discord's channel
/// object.
pub(crate) fn channel(inner: &Inner, world: &World, id: u64) -> Value {
    let c = &inner.config;
    let (name, position) = match world.channels.iter().position(|(ch, _)| *ch == id) {
        Some(i) => (world.channels[i].1.clone(), i + 1),
        None => (c.channel_name.clone(), 0),
    };
    json!({
        "id": id.to_string(),
        "type": 0,
        "guild_id": c.guild_id.to_string(),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": null,
        "topic": null,
        "nsfw": false,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "flags": 0,
    })
}

pub(crate) fn ready(inner: &Inner, world: &World, session_id: &str) -> Value {
    let c = &inner.config;
    json!({
        "v": 10,
        "user": user(world, c.bot_user_id),
        "guilds": [{"id": c.guild_id.to_string(), "unavailable": true}],
        "session_id": session_id,
        "resume_gateway_url": format!("{}/gateway", c.base_url.replacen("http", "ws", 1)),
        "shard": [0, 1],
        "application": {"id": c.application_id.to_string(), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "user_settings": {},
    })
}

pub(crate) fn guild_create(inner: &Inner, world: &World) -> Value {
    let c = &inner.config;
    let members: Vec<Value> = world.users.keys().map(|id| member(inner, world, *id)).collect();
    json!({
        "id": c.guild_id.to_string(),
        "name": c.guild_name,
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": world.users.keys().find(|id| **id != c.bot_user_id).unwrap_or(&c.bot_user_id).to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role_everyone(inner)],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "joined_at": inner.clock.timestamp(Default::default()),
        "large": false,
        "unavailable": false,
        "member_count": members.len(),
        "voice_states": [],
        "members": members,
        "channels": std::iter::once(c.channel_id)
            .chain(world.channels.iter().map(|(id, _)| *id))
            .map(|id| channel(inner, world, id))
            .collect::<Vec<_>>(),
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    })
}

fn option_json(o: &CommandOption) -> Value {
    let value = match &o.value {
        OptionValue::String(s) => json!(s),
        OptionValue::Integer(i) => json!(i),
        OptionValue::Number(n) => json!(n),
        OptionValue::Boolean(b) => json!(b),
        OptionValue::User(id) | OptionValue::Attachment(id) => json!(id.to_string()),
        OptionValue::Subcommand(nested) | OptionValue::Group(nested) => {
            let options: Vec<Value> = nested.iter().map(option_json).collect();
            return json!({"name": o.name, "type": o.value.kind(), "options": options});
        }
    };
    json!({"name": o.name, "type": o.value.kind(), "value": value})
}

/// Where an interaction happens: the guild's text channel, or a user's DM with the bot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Guild { channel_id: u64 },
    Dm { channel_id: u64 },
}

/// What Discord reports as the app's permissions in a DM with its bot user: ATTACH_FILES,
/// EMBED_LINKS, MENTION_EVERYONE and USE_EXTERNAL_EMOJIS.
const DM_APP_PERMISSIONS: u64 = (1 << 14) | (1 << 15) | (1 << 17) | (1 << 18);

/// A DM channel (type 1) between the bot and `user`.
pub(crate) fn dm_channel(world: &World, channel_id: u64, user_id: u64) -> Value {
    json!({
        "id": channel_id.to_string(),
        "type": 1,
        "last_message_id": null,
        "recipients": [user(world, user_id)],
        "flags": 0,
    })
}

/// Fields shared by every INTERACTION_CREATE the sandbox sends. In a guild the member is
/// `member` (with permissions); in a DM there is no guild and the invoker is `user`.
fn interaction_base(
    inner: &Inner,
    world: &World,
    (id, token, kind, user_id): (u64, &str, u8, u64),
    place: Place,
) -> Map<String, Value> {
    let c = &inner.config;
    if let Place::Dm { channel_id } = place {
        let v = json!({
            "id": id.to_string(),
            "application_id": c.application_id.to_string(),
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": channel_id.to_string(),
            "channel": dm_channel(world, channel_id, user_id),
            "user": user(world, user_id),
            "locale": "en-US",
            "app_permissions": DM_APP_PERMISSIONS.to_string(),
            "entitlements": [],
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,
            "attachment_size_limit": super::limits::MAX_FILE_BYTES,
        });
        return match v {
            Value::Object(o) => o,
            _ => Map::new(),
        };
    }
    let user = user_id;
    let (Place::Guild { channel_id } | Place::Dm { channel_id }) = place;
    let v = json!({
        "id": id.to_string(),
        "application_id": c.application_id.to_string(),
        "type": kind,
        "token": token,
        "version": 1,
        "guild_id": c.guild_id.to_string(),
        "guild": {"id": c.guild_id.to_string(), "locale": "en-US", "features": []},
        "channel_id": channel_id.to_string(),
        "channel": channel(inner, world, channel_id),
        "member": member(inner, world, user),
        "locale": "en-US",
        "guild_locale": "en-US",
        "app_permissions": ALL_PERMISSIONS,
        "entitlements": [],
        "authorizing_integration_owners": {"0": c.guild_id.to_string()},
        "context": 0,
        "attachment_size_limit": super::limits::MAX_FILE_BYTES,
    });
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

pub(crate) struct SlashPayload<'a> {
    pub id: u64,
    pub token: &'a str,
    pub user: u64,
    pub command: &'a Value,
    pub options: &'a [CommandOption],
    pub place: Place,
}

/// Every option value, subcommands' included.
fn leaf_options(options: &[CommandOption]) -> Vec<&CommandOption> {
    options
        .iter()
        .flat_map(|o| match &o.value {
            OptionValue::Subcommand(inner) | OptionValue::Group(inner) => leaf_options(inner),
            _ => vec![o],
        })
        .collect()
}

pub(crate) fn slash_interaction(inner: &Inner, world: &World, p: &SlashPayload<'_>) -> Value {
    let mut o = interaction_base(inner, world, (p.id, p.token, 2, p.user), p.place);
    let mut data = Map::new();
    data.insert("id".into(), p.command.get("id").cloned().unwrap_or(Value::Null));
    data.insert("name".into(), p.command.get("name").cloned().unwrap_or(Value::Null));
    data.insert("type".into(), json!(1));
    data.insert("options".into(), p.options.iter().map(option_json).collect());
    if let Some(g) = p.command.get("guild_id") {
        data.insert("guild_id".into(), g.clone());
    }
    let mut resolved = Map::new();
    let leaves = leaf_options(p.options);
    let attachments: Map<String, Value> = leaves
        .iter()
        .filter_map(|o| match o.value {
            OptionValue::Attachment(id) => Some(id),
            _ => None,
        })
        .filter_map(|id| world.blobs.get(&id).map(|b| (id.to_string(), attachment(&b.meta))))
        .collect();
    if !attachments.is_empty() {
        resolved.insert("attachments".into(), Value::Object(attachments));
    }
    let users: Map<String, Value> = leaves
        .iter()
        .filter_map(|o| match o.value {
            OptionValue::User(id) => Some((id.to_string(), user(world, id))),
            _ => None,
        })
        .collect();
    if !users.is_empty() {
        resolved.insert("users".into(), Value::Object(users));
    }
    if !resolved.is_empty() {
        data.insert("resolved".into(), Value::Object(resolved));
    }
    o.insert("data".into(), Value::Object(data));
    Value::Object(o)
}

/// Type 4: like a command, with the option being typed marked `focused` (its value is the
/// partial text, always a string while typing).
pub(crate) fn autocomplete_interaction(
    inner: &Inner,
    world: &World,
    p: &SlashPayload<'_>,
    focused: &str,
) -> Value {
    let mut v = slash_interaction(inner, world, p);
    v["type"] = json!(4);
    if let Some(options) = v["data"]["options"].as_array_mut() {
        for o in options.iter_mut().filter(|o| o["name"] == focused) {
            o["focused"] = json!(true);
        }
    }
    v
}

/// Type 5: a submitted form; `message` is the one whose button opened it, if any.
pub(crate) fn modal_interaction(
    inner: &Inner,
    world: &World,
    (id, token, user): (u64, &str, u64),
    custom_id: &str,
    rows: Vec<Value>,
    msg: Option<&Message>,
    place: Place,
) -> Value {
    let mut o = interaction_base(inner, world, (id, token, 5, user), place);
    o.insert("data".into(), json!({"custom_id": custom_id, "components": rows}));
    if let Some(msg) = msg {
        o.insert("message".into(), message(inner, world, msg));
    }
    Value::Object(o)
}

pub(crate) fn component_interaction(
    inner: &Inner,
    world: &World,
    (id, token, user): (u64, &str, u64),
    custom_id: &str,
    msg: &Message,
    place: Place,
) -> Value {
    let mut o = interaction_base(inner, world, (id, token, 3, user), place);
    o.insert("data".into(), json!({"custom_id": custom_id, "component_type": 2}));
    o.insert("message".into(), message(inner, world, msg));
    Value::Object(o)
}
