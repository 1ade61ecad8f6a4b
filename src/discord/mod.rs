//! Easel on Discord: the poise framework, its commands and the button handler, wired to the
//! engine. Commands only validate, submit and reply; message delivery (`sink`) shows every
//! task's progress and result; buttons carry just a task id and an action, so they work
//! across restarts.

pub mod commands;
pub mod components;
mod error;
pub mod panels;
pub mod remix;
pub mod render;
pub mod rest;
pub mod settings;
pub mod sink;

use std::sync::Arc;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use tracing::{info, warn};

pub use error::BotError;

use crate::app::{App, Requester};
use crate::base::{MessageRef, now_ms};
use crate::db::Task;
use rest::DiscordRest;
use sink::{Sink, TOKEN_LIFETIME};

/// What every command and handler can reach.
pub struct Data {
    pub app: Arc<App>,
    pub sink: Sink,
}

pub type Context<'a> = poise::Context<'a, Data, BotError>;
/// Slash commands get this one: it exposes the interaction (and its token).
pub type SlashContext<'a> = poise::ApplicationContext<'a, Data, BotError>;

impl Data {
    /// Posts a new follow-up message for `task` on the interaction `token` and points the task
    /// at it; message delivery keeps it up to date from then on.
    pub async fn follow_up(&self, token: &str, task: &Task) -> Result<(), BotError> {
        let expires = now_ms() + TOKEN_LIFETIME.as_millis() as i64;
        let cx = render::RenderContext::default();
        let view = render::render(task, &cx);
        let sent = self.sink.rest().create_followup(token, &sink::outgoing(task, &view, None)).await?;
        let message = MessageRef {
            interaction_token: Some(token.to_string()),
            token_expires_at: Some(expires),
            message_id: Some(sent.id),
            original: false,
        };
        self.app.db.set_message(task.id, &message).await?;
        self.sink.touch(task.id, None);
        Ok(())
    }
}

/// Who is asking (with their roles and admin rights, for quotas and the gate), and where the
/// answer goes: the interaction's own response (`original`) or, later, a follow-up.
pub fn requester(ctx: SlashContext<'_>, original: bool) -> Requester {
    let interaction = ctx.interaction;
    let member = interaction.member.as_deref();
    Requester {
        user_id: interaction.user.id.to_string(),
        guild_id: interaction.guild_id.map(|g| g.to_string()),
        channel_id: Some(interaction.channel_id.to_string()),
        message: MessageRef {
            interaction_token: Some(interaction.token.clone()),
            token_expires_at: Some(now_ms() + TOKEN_LIFETIME.as_millis() as i64),
            message_id: None,
            original,
        },
        roles: member.map(|m| m.roles.iter().map(|r| r.get()).collect()).unwrap_or_default(),
        admin: is_admin(member),
        private_results: false,
    }
}

/// Who pressed a button, and where; the new task's message is created later as a follow-up.
pub fn presser(ci: &serenity::ComponentInteraction) -> Requester {
    let member = ci.member.as_ref();
    Requester {
        user_id: ci.user.id.to_string(),
        guild_id: ci.guild_id.map(|g| g.to_string()),
        channel_id: Some(ci.channel_id.to_string()),
        message: MessageRef::default(),
        roles: member.map(|m| m.roles.iter().map(|r| r.get()).collect()).unwrap_or_default(),
        admin: is_admin(member),
        private_results: false,
    }
}

/// Who submitted a form (remix), and where.
pub fn modal_presser(mi: &serenity::ModalInteraction) -> Requester {
    let member = mi.member.as_ref();
    Requester {
        user_id: mi.user.id.to_string(),
        guild_id: mi.guild_id.map(|g| g.to_string()),
        channel_id: Some(mi.channel_id.to_string()),
        message: MessageRef::default(),
        roles: member.map(|m| m.roles.iter().map(|r| r.get()).collect()).unwrap_or_default(),
        admin: is_admin(member),
        private_results: false,
    }
}

/// Lets a command that starts no work through the gate (where, who), or answers why not.
/// `Ok(true)` = go on.
pub async fn admit_use(ctx: SlashContext<'_>) -> Result<bool, BotError> {
    match ctx.data().app.admit(&requester(ctx, false), crate::admin::Ask::Use).await {
        Ok(_) => Ok(true),
        Err(refusal) => {
            reply_ephemeral(ctx, &BotError::from(refusal).for_member()).await?;
            Ok(false)
        }
    }
}

/// Whether a member may use admin powers here: Manage Server (Administrator implies it).
pub fn is_admin(member: Option<&serenity::Member>) -> bool {
    member.and_then(|m| m.permissions).is_some_and(|p| p.manage_guild() || p.administrator())
}

pub async fn reply_ephemeral(ctx: SlashContext<'_>, text: &str) -> Result<(), BotError> {
    poise::Context::Application(ctx)
        .send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

async fn on_error(error: poise::FrameworkError<'_, Data, BotError>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let text = error.for_member();
            if let Err(e) = ctx.send(poise::CreateReply::default().content(text).ephemeral(true)).await {
                warn!(error = %e, "could not tell the member about an error");
            }
        }
        // A failed check (/easel by a non-admin) explains itself privately.
        poise::FrameworkError::CommandCheckFailed { error: Some(error), ctx, .. } => {
            let text = error.for_member();
            if let Err(e) = ctx.send(poise::CreateReply::default().content(text).ephemeral(true)).await {
                warn!(error = %e, "could not tell the member why a command was refused");
            }
        }
        poise::FrameworkError::ArgumentParse { error, ctx, .. } => {
            let text = format!("That command's options could not be read: {error}");
            let _ = ctx.send(poise::CreateReply::default().content(text).ephemeral(true)).await;
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                warn!(error = %e, "error while handling an error");
            }
        }
    }
}

async fn on_event(
    fw: poise::FrameworkContext<'_, Data, BotError>,
    event: &serenity::FullEvent,
) -> Result<(), BotError> {
    let health = &fw.user_data.app.health;
    match event {
        serenity::FullEvent::InteractionCreate { interaction: serenity::Interaction::Component(ci) } => {
            if ci.data.custom_id.starts_with(settings::PREFIX) {
                settings::handle(fw.serenity_context, fw.user_data, ci).await;
            } else {
                components::handle(fw.serenity_context, fw.user_data, ci).await;
            }
        }
        serenity::FullEvent::InteractionCreate { interaction: serenity::Interaction::Modal(mi) } => {
            remix::submit(fw.serenity_context, fw.user_data, mi).await;
        }
        serenity::FullEvent::Ready { .. } | serenity::FullEvent::Resume { .. } => health.set_gateway(true),
        serenity::FullEvent::ShardStageUpdate { event } => {
            health.set_gateway(event.new == serenity::ConnectionStage::Connected);
        }
        _ => {}
    }
    Ok(())
}

/// Connects to Discord (or the sandbox named by `discord.api_base`) and serves until the
/// connection ends.
pub async fn run(app: Arc<App>) -> anyhow::Result<()> {
    let cfg = app.config.discord.clone();
    let token = cfg.token.expose().to_string();
    let mut builder = serenity::HttpBuilder::new(&token);
    if !cfg.api_base.is_empty() {
        // serenity's rate limiter ignores the proxy, so it must be off (Easel's own delivery
        // client paces itself); `new_with_http` below keeps the proxy.
        builder = builder.proxy(cfg.api_base.clone()).ratelimiter_disabled(true);
    }
    let http = builder.build();
    let setup_app = app.clone();
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |e| Box::pin(on_error(e)),
            event_handler: |fw, event| Box::pin(on_event(fw, event)),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                setup_app.health.set_gateway(true);
                let commands = &framework.options().commands;
                if cfg.guild_ids.is_empty() {
                    poise::builtins::register_globally(ctx, commands).await?;
                } else {
                    for guild in &cfg.guild_ids {
                        poise::builtins::register_in_guild(ctx, commands, serenity::GuildId::new(*guild))
                            .await?;
                    }
                }
                let rest = DiscordRest::new(&cfg.api_base, &token, ready.application.id.get())?;
                let sink = Sink::start(setup_app.engine.clone(), setup_app.db.clone(), Arc::new(rest));
                info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to Discord");
                Ok(Data { app: setup_app, sink })
            })
        })
        .build();
    let mut client = serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::GUILDS)
        .framework(framework)
        .await
        .context("building the Discord client")?;
    client.start().await.context("the Discord connection ended")
}
