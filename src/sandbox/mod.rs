//! A Discord-compatible server on 127.0.0.1 that the real serenity/poise client talks to, so
//! Easel can be tested end to end (and demoed) with no Discord account and no network.
//!
//! [`Sandbox::start`] serves the REST routes serenity uses under `/api/v10`, the gateway
//! WebSocket at `/gateway`, attachment downloads at `/attachments/…`, a control API under
//! `/control` (see [`control`]), and at `/` a page that shows the channel the way Discord would,
//! so Easel can be used from a browser (see `web`). One guild, one text channel, one bot (and
//! each user's DM with it, [`Sandbox::slash_dm`]); tests add users, dispatch slash commands and
//! button clicks, and read back messages, interactions and every limit the bot broke
//! ([`Violation`]). Like Discord's client, it will not dispatch a command a member could not
//! see (`default_member_permissions`, DM contexts). Waiting is done on a change counter
//! ([`Sandbox::wait_for`]), never by sleeping. What the server must send to satisfy serenity
//! 0.12.5 is documented in `shared/research/discord-offline.md`; the limits are DESIGN.md §7 (see
//! [`limits`]). Discord's rate limits are on by default ([`RateLimits`]): a bot that ignores
//! `X-RateLimit-*` gets real 429s, counted in [`Stats::rate_limited_real`].
//!
//! ```ignore
//! let sandbox = Sandbox::start(SandboxOptions::default()).await?;
//! // point the bot at sandbox.api_base() with HttpBuilder::proxy + ratelimiter_disabled(true)
//! sandbox.wait_ready(Duration::from_secs(10)).await?;
//! let alice = sandbox.add_user("alice");
//! let id = sandbox.slash(alice, "imagine", vec![CommandOption::string("prompt", "a cat")]).await?;
//! let msg = sandbox
//!     .wait_for(Duration::from_secs(10), |v| v.original_message(id).filter(|m| !m.loading).cloned())
//!     .await?;
//! assert_eq!(msg.labels(), ["U1", "U2"]);
//! assert!(sandbox.violations().is_empty());
//! ```

mod clock;
pub mod control;
mod drive;
mod error;
mod events;
mod gateway;
mod guard;
mod interactions;
pub mod limits;
mod messages;
mod model;
mod payload;
mod ratelimit;
mod render;
mod rest;
mod state;
#[cfg(test)]
mod tests;
mod web;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;

pub use model::{
    ActionRow, Attachment, Button, CallbackRecord, CommandOption, Emoji, InteractionEvent, InteractionKind,
    InteractionRecord, Message, OptionValue, RouteKind, Stats, Violation, ViolationKind,
};
pub use ratelimit::RateLimits;
pub use state::SandboxView;

use state::{Config, Inner, Outbound};

#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// The address to listen on: loopback by default, since the sandbox has no login; an
    /// unspecified address (`0.0.0.0`, `::`) serves other machines too, e.g. from a container.
    pub listen: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// The bot token (without `Bot `) the sandbox accepts.
    pub bot_token: String,
    pub bot_name: String,
    pub guild_name: String,
    pub channel_name: String,
    /// Sent in HELLO; serenity heartbeats at this interval.
    pub heartbeat_interval: Duration,
    /// Discord's rate limits (default: on, with Discord's numbers).
    pub rate_limits: RateLimits,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            bot_token: "sandbox-bot-token".into(),
            bot_name: "Easel".into(),
            guild_name: "Easel Sandbox".into(),
            channel_name: "general".into(),
            heartbeat_interval: Duration::from_millis(41_250),
            rate_limits: RateLimits::default(),
        }
    }
}

/// Where this machine reaches `addr`: an unspecified address means loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

pub struct Sandbox {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Sandbox {
    pub async fn start(opts: SandboxOptions) -> anyhow::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind((opts.listen, opts.port))
            .await
            .with_context(|| format!("binding {}", SocketAddr::new(opts.listen, opts.port)))?;
        let addr = listener.local_addr()?;
        let clock = clock::Clock::new();
        let config = Config {
            token: opts.bot_token,
            base_url: format!("http://{}", reachable(addr)),
            listens_wide: !addr.ip().is_loopback(),
            application_id: clock.snowflake(),
            bot_user_id: clock.snowflake(),
            bot_name: opts.bot_name,
            guild_id: clock.snowflake(),
            guild_name: opts.guild_name,
            channel_id: clock.snowflake(),
            channel_name: opts.channel_name,
            everyone_role_id: 0,
            heartbeat_interval_ms: opts.heartbeat_interval.as_millis() as u64,
            rate_limits: opts.rate_limits,
        };
        let mut config = config;
        // Discord's @everyone role shares the guild's id.
        config.everyone_role_id = config.guild_id;
        let inner = Arc::new(Inner::new(config, clock));
        let bot_name = inner.config.bot_name.clone();
        let bot_id = inner.config.bot_user_id;
        inner.write(|w| {
            w.users.insert(
                bot_id,
                state::User {
                    id: bot_id,
                    name: bot_name,
                    bot: true,
                    joined_at: Duration::ZERO,
                    roles: Vec::new(),
                    admin: true,
                    permissions: None,
                },
            )
        });
        let app = rest::router(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("sandbox server stopped: {e}");
            }
        });
        Ok(Sandbox { inner, addr, server })
    }

    /// `http://127.0.0.1:PORT` (the listening address, or loopback when it listens on every
    /// interface): what Easel puts in `discord.api_base`.
    pub fn api_base(&self) -> String {
        self.inner.config.base_url.clone()
    }
    /// The address the sandbox listens on (`0.0.0.0:PORT` when told to serve every interface).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn bot_token(&self) -> &str {
        &self.inner.config.token
    }
    pub fn application_id(&self) -> u64 {
        self.inner.config.application_id
    }
    pub fn bot_user_id(&self) -> u64 {
        self.inner.config.bot_user_id
    }
    pub fn guild_id(&self) -> u64 {
        self.inner.config.guild_id
    }
    pub fn channel_id(&self) -> u64 {
        self.inner.config.channel_id
    }

    /// Adds a guild member (with @everyone's permissions) and returns their user id.
    pub fn add_user(&self, name: &str) -> u64 {
        self.inner.add_user(name, false)
    }

    /// Adds a member with these role ids.
    pub fn add_user_with_roles(&self, name: &str, roles: &[u64]) -> u64 {
        self.inner.add_member(name, false, roles.to_vec(), false)
    }

    /// Adds a member whose guild permissions are exactly `permissions` (a bit set as Discord
    /// defines it: Manage Messages is `1 << 13`), as a role with those would give them.
    pub fn add_user_with_permissions(&self, name: &str, permissions: u64) -> u64 {
        self.inner.add_member_with(name, false, Vec::new(), false, Some(permissions))
    }

    /// Adds another text channel to the guild and returns its id.
    pub fn add_channel(&self, name: &str) -> u64 {
        self.inner.add_channel(name)
    }

    /// Adds a member with every permission (Manage Server among them), as a server admin.
    pub fn add_admin(&self, name: &str) -> u64 {
        self.inner.add_member(name, false, Vec::new(), true)
    }

    /// Waits until a bot has IDENTIFYed and registered at least one command.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for(timeout, |v| (v.bot_connected() && !v.registered_commands().is_empty()).then_some(()))
            .await
            .context("waiting for the bot to connect and register its commands")
    }

    /// Global then guild commands, as the sandbox stored them (with id, version, …).
    pub fn registered_commands(&self) -> Vec<serde_json::Value> {
        self.inner.read(|w| w.commands().cloned().collect())
    }

    /// Stores a file on the sandbox host, e.g. for an attachment option of [`Sandbox::slash`].
    pub fn upload(&self, filename: &str, content_type: &str, bytes: Bytes) -> Attachment {
        self.inner.upload(filename, content_type, bytes)
    }

    /// Dispatches a slash command (INTERACTION_CREATE type 2) from `user` to the connected bot.
    /// Refuses a command the bot has not registered, options it did not declare, and a command
    /// whose `default_member_permissions` the member lacks (Discord's client would not show it).
    /// Subcommands are options made with [`CommandOption::subcommand`].
    pub async fn slash(&self, user: u64, command: &str, options: Vec<CommandOption>) -> anyhow::Result<u64> {
        self.inner.slash(user, command, options)
    }

    /// [`Sandbox::slash`] in guild text channel `channel` (the first, or one from
    /// [`Sandbox::add_channel`]).
    pub async fn slash_in(
        &self,
        user: u64,
        channel: u64,
        command: &str,
        options: Vec<CommandOption>,
    ) -> anyhow::Result<u64> {
        self.inner.slash_in(user, channel, command, options)
    }

    /// Dispatches a slash command from `user` in their DM with the bot: no guild, the user as
    /// `user` instead of `member`, a DM channel (type 1), `context` 1. Refuses a command Discord
    /// would not offer in DMs (a guild command, or `contexts` without BOT_DM).
    pub async fn slash_dm(
        &self,
        user: u64,
        command: &str,
        options: Vec<CommandOption>,
    ) -> anyhow::Result<u64> {
        self.inner.slash_dm(user, command, options)
    }

    /// `user`'s DM channel with the bot, once they have used one.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.inner.read(|w| w.dm_channels.get(&user).copied())
    }

    /// Lets `user` use `command` whatever its `default_member_permissions`, as a server admin
    /// can grant it in Server Settings → Integrations; the bot must still check for itself.
    pub fn grant_command(&self, command: &str, user: u64) {
        self.inner.grant_command(command, user)
    }

    /// Dispatches an autocomplete request (type 4) for option `focused` of `command`, whose
    /// partial text is its value in `options`, and returns the choices the bot answered with
    /// (callback type 8) as `(name, value)` pairs.
    pub async fn autocomplete(
        &self,
        user: u64,
        command: &str,
        options: Vec<CommandOption>,
        focused: &str,
    ) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
        let id = self.inner.autocomplete(user, command, options, focused)?;
        let choices = self
            .wait_for(Duration::from_secs(10), |v| v.interaction(id).and_then(|i| i.choices.clone()))
            .await?;
        let list = choices.as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .map(|c| (c["name"].as_str().unwrap_or_default().to_string(), c["value"].clone()))
            .collect())
    }

    /// Picks `values` in a select menu (type 3 interaction, component type 3); refuses values
    /// the menu does not offer.
    pub async fn select(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
        values: &[&str],
    ) -> anyhow::Result<u64> {
        self.inner.select(user, message_id, custom_id, values)
    }

    /// Submits the form (modal) the bot opened in answer to `interaction` (type 5), with
    /// `fields` as (custom_id, value); refuses unknown fields and empty required ones.
    pub async fn submit_modal(
        &self,
        user: u64,
        interaction: u64,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<u64> {
        self.inner.submit_modal(user, interaction, fields)
    }

    /// Dispatches a button click (type 3) on `message_id`; refuses if the message has no such
    /// button, the button is disabled, or the message is ephemeral for someone else (or in
    /// someone else's DM). A click on a message in a DM is a DM interaction.
    pub async fn click(&self, user: u64, message_id: u64, custom_id: &str) -> anyhow::Result<u64> {
        self.inner.click(user, message_id, custom_id, false)
    }

    /// A tampered client's click: `custom_id` need not be a button on `message_id` (for tests
    /// that Easel checks a press against the message it came from).
    pub async fn forged_click(&self, user: u64, message_id: u64, custom_id: &str) -> anyhow::Result<u64> {
        self.inner.click(user, message_id, custom_id, true)
    }

    /// Channel messages in order (ephemeral ones included; see [`Message::ephemeral_for`]).
    pub fn messages(&self) -> Vec<Message> {
        self.inner.read(|w| w.messages.clone())
    }
    pub fn message(&self, id: u64) -> Option<Message> {
        self.inner.read(|w| w.message(id).cloned())
    }
    pub fn interaction(&self, id: u64) -> Option<InteractionRecord> {
        self.inner.read(|w| w.interactions.get(&id).map(|i| i.record.clone()))
    }

    /// Waits until `pred` returns `Some`, waking on every state change (no polling). The
    /// predicate runs with the state locked: it must not call back into the sandbox.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&SandboxView) -> Option<T>,
    ) -> anyhow::Result<T> {
        let mut changes = self.inner.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            self.inner.sweep_deadlines();
            if let Some(found) = self.inner.read(|w| pred(&SandboxView { world: w })) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("the sandbox stopped while waiting"),
                Err(_) => bail!("timed out after {timeout:?}; sandbox state:\n{}", self.summary()),
            }
        }
    }

    /// A short description of the state, for failure messages.
    pub fn summary(&self) -> String {
        self.inner.read(|w| {
            let mut s = format!(
                "bot connected: {}, commands: {}, messages: {}, interactions: {}\n",
                w.bot_live(),
                w.commands().count(),
                w.messages.len(),
                w.interactions.len()
            );
            for m in w.messages.iter().rev().take(5).rev() {
                let content: String = m.content.chars().take(80).collect();
                s += &format!(
                    "  message {} {:?} buttons={:?} files={:?} loading={} edits={} interaction={:?}\n",
                    m.id,
                    content,
                    m.labels(),
                    m.attachments.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>(),
                    m.loading,
                    m.edits,
                    m.interaction_id
                );
            }
            for v in &w.violations {
                s += &format!("  violation {:?} on {:?}: {}\n", v.kind, v.route, v.detail);
            }
            s
        })
    }

    /// The bytes behind an attachment URL the sandbox handed out.
    pub fn attachment_bytes(&self, url: &str) -> Option<Bytes> {
        let path = url.split('?').next()?;
        let mut parts = path.rsplit('/');
        let filename = parts.next()?;
        let id: u64 = parts.next()?.parse().ok()?;
        self.inner.read(|w| w.blobs.get(&id).filter(|b| b.meta.filename == filename).map(|b| b.bytes.clone()))
    }

    /// Every limit breach so far, including interactions left unanswered past 3 s.
    pub fn violations(&self) -> Vec<Violation> {
        self.inner.sweep_deadlines();
        self.inner.read(|w| w.violations.clone())
    }

    /// Moves the sandbox clock forward (for the 3 s and 15 min deadlines, and rate-limit windows).
    pub fn advance_clock(&self, by: Duration) {
        self.inner.clock.advance(by);
        self.inner.sweep_deadlines();
    }

    /// Answers the next `count` requests matching `route` with 429, whatever the real buckets
    /// say (and without using them up). Counted in [`Stats::rate_limited`], not as real.
    pub fn rate_limit_next(&self, route: RouteKind, count: u32, retry_after: Duration) {
        self.inner.rate_limit_next(route, count, retry_after);
    }

    /// Answers the next `count` requests matching `route` with `status` (e.g. 500, 502, 503) and
    /// a Discord-shaped body `{"message", "code": 0}`, for resilience tests. Counted in
    /// [`Stats::injected_failures`], not a violation. Injected 429s and failures are served in
    /// the order they were asked for. Refuses a status that is not 4xx/5xx, and 429 (use
    /// [`Sandbox::rate_limit_next`]).
    pub fn fail_next(&self, route: RouteKind, count: u32, status: u16) -> anyhow::Result<()> {
        self.inner.fail_next(route, count, status)
    }

    /// The rate limits this sandbox enforces.
    pub fn rate_limits(&self) -> RateLimits {
        self.inner.config.rate_limits
    }

    pub fn stats(&self) -> Stats {
        self.inner.read(|w| w.stats.clone())
    }

    /// Sends op 7 RECONNECT; the bot should reconnect and RESUME. False if no bot is connected.
    pub fn gateway_reconnect(&self) -> bool {
        self.inner.gateway_reconnect()
    }
    /// Sends op 9 INVALID_SESSION (not resumable); the bot must IDENTIFY again.
    pub fn gateway_invalid_session(&self) -> bool {
        self.inner.gateway_invalid_session()
    }
    /// Drops the gateway TCP connection without a close frame; the session stays resumable.
    pub fn gateway_drop(&self) -> bool {
        self.inner.gateway_drop()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.abort();
        // Connections outlive the accept loop; end the bot's so it stops talking to us.
        self.inner.write(|w| {
            if let Some(conn) = w.conn.take() {
                let _ = conn.tx.send(Outbound::Drop);
            }
        });
    }
}
