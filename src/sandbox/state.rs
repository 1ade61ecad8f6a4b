//! The sandbox's world (guild, users, messages, interactions, files, gateway session) behind one
//! mutex, and the change counter that lets waiters sleep until something happens.
//!
//! Every mutation goes through [`Inner::write`], which bumps a `tokio::sync::watch` counter after
//! releasing the lock; `Sandbox::wait_for` and the `/control/wait` long-poll wake on it instead of
//! polling. Critical sections are short and never await, so a std mutex is the right tool.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use axum::http::StatusCode;

use super::clock::Clock;
use super::model::{Attachment, InteractionRecord, Message, RouteKind, Stats, Violation, ViolationKind};
use super::ratelimit::{Buckets, RateLimits};

/// Fixed facts about this sandbox, decided at start.
pub(crate) struct Config {
    pub token: String,
    pub base_url: String,
    /// Listening beyond loopback (`--listen 0.0.0.0`): the page may then be opened by any of
    /// the machine's IP addresses.
    pub listens_wide: bool,
    pub application_id: u64,
    pub bot_user_id: u64,
    pub bot_name: String,
    pub guild_id: u64,
    pub guild_name: String,
    pub channel_id: u64,
    pub channel_name: String,
    pub everyone_role_id: u64,
    pub heartbeat_interval_ms: u64,
    pub rate_limits: RateLimits,
}

pub(crate) struct Inner {
    pub config: Config,
    pub clock: Clock,
    world: Mutex<World>,
    changed: watch::Sender<u64>,
}

pub(crate) struct User {
    pub id: u64,
    pub name: String,
    pub bot: bool,
    pub joined_at: Duration,
    /// Role ids the member has (the guild's roles are not modelled beyond their ids).
    pub roles: Vec<u64>,
    /// Has every permission, Manage Server included; other members have @everyone's.
    pub admin: bool,
    /// The member's computed permissions in the guild when a test gave them some (a
    /// moderator with Manage Messages, say); `None` = from `admin` as above.
    pub permissions: Option<u64>,
}

impl User {
    /// The member's permissions in the guild, as Discord computes them for an interaction.
    pub fn permissions(&self) -> u64 {
        let preset =
            if self.admin { super::render::ALL_PERMISSIONS } else { super::render::MEMBER_PERMISSIONS };
        self.permissions.unwrap_or_else(|| preset.parse().unwrap_or(0))
    }
}

pub(crate) struct Blob {
    pub bytes: Bytes,
    pub meta: Attachment,
}

/// An interaction as the server needs it; the public record lives inside.
pub(crate) struct Interaction {
    pub record: InteractionRecord,
    /// Set when the 3 s deadline passed without a callback: Discord invalidates the token then.
    pub expired_unanswered: bool,
}

/// A test's order to answer the next `remaining` requests on `route` with `answer`, whatever
/// the request and the rate limits say.
pub(crate) struct InjectedRule {
    pub route: RouteKind,
    pub remaining: u32,
    pub answer: Injected,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Injected {
    RateLimited { retry_after: Duration },
    Fail { status: StatusCode },
}

/// A frame the gateway connection task should send, or a fault to act out.
pub(crate) enum Outbound {
    Text(String),
    /// Drop the TCP connection without a close frame.
    Drop,
}

pub(crate) struct GatewayConn {
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Outbound>,
    /// IDENTIFYed or RESUMEd: dispatches flow to it.
    pub live: bool,
}

pub(crate) struct Session {
    pub id: String,
    pub seq: u64,
    /// Every dispatch of this session, for RESUME replay.
    pub log: VecDeque<(u64, String)>,
}

#[derive(Default)]
pub(crate) struct World {
    pub users: BTreeMap<u64, User>,
    pub global_commands: Vec<Value>,
    pub guild_commands: Vec<Value>,
    pub messages: Vec<Message>,
    pub interactions: HashMap<u64, Interaction>,
    pub tokens: HashMap<String, u64>,
    pub blobs: HashMap<u64, Blob>,
    pub violations: Vec<Violation>,
    /// Injected 429s and failures, first come first served.
    pub injected: Vec<InjectedRule>,
    /// Discord's rate limits: the open windows of every bucket.
    pub buckets: Buckets,
    pub stats: Stats,
    pub conn: Option<GatewayConn>,
    pub session: Option<Session>,
    /// A bot has completed IDENTIFY at least once.
    pub identified: bool,
    /// Commands the server granted to a member whatever the command's default permissions
    /// (Server Settings → Integrations), as (command name, user).
    pub command_grants: Vec<(String, u64)>,
    /// Each user's DM channel with the bot, made at their first DM.
    pub dm_channels: BTreeMap<u64, u64>,
    /// Guild text channels besides the first (`Config::channel_id`), as (id, name), in the
    /// order they were made.
    pub channels: Vec<(u64, String)>,
}

impl World {
    pub fn message(&self, id: u64) -> Option<&Message> {
        self.messages.iter().find(|m| m.id == id)
    }

    /// A text channel of the guild: the first one or one added since.
    pub fn is_guild_channel(&self, first: u64, id: u64) -> bool {
        id == first || self.channels.iter().any(|(c, _)| *c == id)
    }

    pub fn message_mut(&mut self, id: u64) -> Option<&mut Message> {
        self.messages.iter_mut().find(|m| m.id == id)
    }

    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.get(&id)
    }

    pub fn violate(&mut self, v: Violation) {
        self.stats.violations += 1;
        self.violations.push(v);
    }

    /// Sends a dispatch (op 0) to the connected bot with the session's next sequence number, or
    /// keeps it in the session log for a later RESUME if no connection is live.
    pub fn dispatch(&mut self, event: &str, data: Value) -> bool {
        let Some(session) = self.session.as_mut() else { return false };
        session.seq += 1;
        let frame = serde_json::json!({"op": 0, "s": session.seq, "t": event, "d": data}).to_string();
        // RESUMED only answers one RESUME; replaying it on a later one would be wrong.
        if event != "RESUMED" {
            session.log.push_back((session.seq, frame.clone()));
        }
        // A replay buffer without bound would grow forever under a load test.
        if session.log.len() > 10_000 {
            session.log.pop_front();
        }
        self.stats.dispatches += 1;
        match &self.conn {
            Some(conn) if conn.live => conn.tx.send(Outbound::Text(frame)).is_ok(),
            _ => false,
        }
    }

    pub fn bot_live(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.live) && self.session.is_some()
    }

    pub fn commands(&self) -> impl Iterator<Item = &Value> {
        self.global_commands.iter().chain(self.guild_commands.iter())
    }
}

impl Inner {
    pub(crate) fn new(config: Config, clock: Clock) -> Inner {
        let (changed, _) = watch::channel(0);
        Inner { config, clock, world: Mutex::new(World::default()), changed }
    }

    pub(crate) fn rate_limit_next(&self, route: RouteKind, count: u32, retry_after: Duration) {
        self.inject(route, count, Injected::RateLimited { retry_after });
    }

    /// Refuses statuses that are not errors, and 429 (`rate_limit_next` answers those with the
    /// body and headers a client needs).
    pub(crate) fn fail_next(&self, route: RouteKind, count: u32, code: u16) -> anyhow::Result<()> {
        let status = StatusCode::from_u16(code)
            .ok()
            .filter(|s| (s.is_client_error() || s.is_server_error()) && *s != StatusCode::TOO_MANY_REQUESTS);
        let Some(status) = status else {
            anyhow::bail!("fail_next takes a 4xx or 5xx status other than 429, not {code}");
        };
        self.inject(route, count, Injected::Fail { status });
        Ok(())
    }

    fn inject(&self, route: RouteKind, count: u32, answer: Injected) {
        if count > 0 {
            self.write(|w| w.injected.push(InjectedRule { route, remaining: count, answer }));
        }
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock would be a sandbox bug; keep serving rather than
        // cascading it into every later request.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        f(&self.lock())
    }

    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let out = f(&mut self.lock());
        self.changed.send_modify(|v| *v += 1);
        out
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn now(&self) -> Duration {
        self.clock.now()
    }

    pub(crate) fn violation(
        &self,
        kind: ViolationKind,
        detail: impl Into<String>,
        route: RouteKind,
        interaction_id: Option<u64>,
        status: u16,
        code: u32,
    ) -> Violation {
        Violation { kind, detail: detail.into(), route, interaction_id, at: self.now(), status, code }
    }

    pub(crate) fn attachment_url(&self, id: u64, filename: &str) -> String {
        let expires = self.clock.unix_ms(self.now()) / 1000 + 86_400;
        format!(
            "{}/attachments/{}/{id}/{filename}?ex={expires:x}&is={:x}&hm={:016x}",
            self.config.base_url,
            self.config.channel_id,
            expires - 86_400,
            id.rotate_left(17) ^ 0x5bd1_e995
        )
    }

    /// Stores bytes as an attachment on the sandbox host and describes it.
    pub(crate) fn store_blob(
        &self,
        world: &mut World,
        filename: &str,
        content_type: Option<String>,
        bytes: Bytes,
        description: Option<String>,
    ) -> Attachment {
        let id = self.clock.snowflake();
        let filename = sanitize_filename(filename);
        let content_type = content_type.or_else(|| guess_content_type(&filename).map(str::to_owned));
        let (width, height) = image_size(&bytes).unzip();
        world.stats.bytes_uploaded += bytes.len() as u64;
        let attachment = Attachment {
            id,
            url: self.attachment_url(id, &filename),
            filename,
            content_type,
            size: bytes.len() as u64,
            width,
            height,
            description,
        };
        world.blobs.insert(id, Blob { bytes, meta: attachment.clone() });
        attachment
    }
}

/// Read access to the sandbox state, handed to `wait_for` predicates. It borrows the locked
/// state, so a predicate must not call back into the `Sandbox`.
pub struct SandboxView<'a> {
    pub(crate) world: &'a World,
}

impl<'a> SandboxView<'a> {
    /// The bot's DM channel with `user`, once there is one.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.world.dm_channels.get(&user).copied()
    }
    /// Channel messages in order, ephemeral ones included.
    pub fn messages(&self) -> &'a [Message] {
        &self.world.messages
    }
    pub fn message(&self, id: u64) -> Option<&'a Message> {
        self.world.message(id)
    }
    pub fn last_message(&self) -> Option<&'a Message> {
        self.world.messages.last()
    }
    pub fn interaction(&self, id: u64) -> Option<&'a InteractionRecord> {
        self.world.interactions.get(&id).map(|i| &i.record)
    }
    /// The message `@original` of interaction `id` refers to.
    pub fn original_message(&self, interaction_id: u64) -> Option<&'a Message> {
        self.interaction(interaction_id)?.original_message_id.and_then(|m| self.message(m))
    }
    pub fn violations(&self) -> &'a [Violation] {
        &self.world.violations
    }
    pub fn stats(&self) -> &'a Stats {
        &self.world.stats
    }
    pub fn registered_commands(&self) -> Vec<&'a Value> {
        self.world.commands().collect()
    }
    /// A bot is connected with a live gateway session.
    pub fn bot_connected(&self) -> bool {
        self.world.bot_live()
    }
    /// Gateway sequence number of the current session (0 before IDENTIFY).
    pub fn gateway_seq(&self) -> u64 {
        self.world.session.as_ref().map_or(0, |s| s.seq)
    }
    pub fn gateway_session_id(&self) -> Option<&'a str> {
        self.world.session.as_ref().map(|s| s.id.as_str())
    }
}

/// Discord keeps ASCII letters, digits, dots, dashes and underscores and turns the rest into `_`.
pub(crate) fn sanitize_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    if cleaned.is_empty() { "unknown".to_owned() } else { cleaned }
}

/// Discord fills in `content_type` even when the upload did not say; these are the types Easel sends.
fn guess_content_type(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        _ => return None,
    })
}

/// Width and height of a PNG, GIF or JPEG, read from its header; Discord reports them for images.
pub(crate) fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if bytes.len() >= 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(&bytes[16..20]), be32(&bytes[20..24])));
    }
    if bytes.len() >= 10 && bytes.starts_with(b"GIF8") {
        let le16 = |i: usize| u32::from(u16::from_le_bytes([bytes[i], bytes[i + 1]]));
        return Some((le16(6), le16(8)));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 9 < bytes.len() {
            if bytes[i] != 0xFF {
                return None;
            }
            let marker = bytes[i + 1];
            let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
            if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
                let h = u32::from(u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]));
                let w = u32::from(u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]));
                return Some((w, h));
            }
            i += 2 + len;
        }
    }
    None
}
