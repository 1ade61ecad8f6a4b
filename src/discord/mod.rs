//! Easel on Discord: the poise framework, its commands, the button and form handlers, wired
//! to the app. Commands and handlers only acknowledge, fetch attachments, call the app's submit
//! path and reply; message delivery (`sink`) is the only code that shows a task's message;
//! buttons carry just a task id and an action (`custom_id`), so they work across restarts.

pub mod commands;
pub mod components;
pub mod custom_id;
pub mod edit_forms;
mod error;
pub mod favorites_view;
pub mod info_panel;
pub mod invite;
pub mod panels;
pub mod remix;
pub mod render;
pub mod rest;
pub mod settings;
pub mod sink;
pub mod who;

use std::sync::Arc;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use tracing::{info, warn};

pub use error::BotError;

use crate::app::App;
use crate::http::Health;
use rest::DiscordRest;
use sink::Sink;

/// What every command and handler can reach.
pub struct Data {
    pub app: Arc<App>,
    pub sink: Sink,
    /// The gateway's connection state, for `/healthz`.
    pub health: Arc<Health>,
}

pub type Context<'a> = poise::Context<'a, Data, BotError>;
/// Slash commands get this one: it exposes the interaction (and its token).
pub type SlashContext<'a> = poise::ApplicationContext<'a, Data, BotError>;

/// Lets a command that starts no work through the gate (where, who), or answers why not.
/// `Ok(true)` = go on.
pub async fn admit_use(ctx: SlashContext<'_>) -> Result<bool, BotError> {
    match ctx.data().app.gate.admit(&who::requester(ctx, false), crate::admin::Ask::Use).await {
        Ok(_) => Ok(true),
        Err(refusal) => {
            reply_ephemeral(ctx, &BotError::from(refusal).for_member()).await?;
            Ok(false)
        }
    }
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
    let health = &fw.user_data.health;
    match event {
        serenity::FullEvent::InteractionCreate { interaction: serenity::Interaction::Component(ci) } => {
            if ci.data.custom_id.starts_with(settings::PREFIX) {
                settings::handle(fw.serenity_context, fw.user_data, ci).await;
            } else if ci.data.custom_id.starts_with(custom_id::EDIT_FORM_PREFIX) {
                edit_forms::region_picked(fw.serenity_context, fw.user_data, ci).await;
            } else {
                components::handle(fw.serenity_context, fw.user_data, ci).await;
            }
        }
        serenity::FullEvent::InteractionCreate { interaction: serenity::Interaction::Modal(mi) } => {
            if edit_forms::is_edit_form(&mi.data.custom_id) {
                edit_forms::submitted(fw.serenity_context, fw.user_data, mi).await;
            } else {
                remix::submitted(fw.serenity_context, fw.user_data, mi).await;
            }
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
/// connection ends, keeping `health` up to date.
pub async fn run(app: Arc<App>, health: Arc<Health>) -> anyhow::Result<()> {
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
                health.set_gateway(true);
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
                if ready.guilds.is_empty() {
                    let url = invite::invite_url(ready.application.id.get());
                    info!(invite = %url, "Easel is in no server yet: open this link to add it to one");
                }
                Ok(Data { app: setup_app, sink, health })
            })
        })
        .build();
    let mut client = serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::GUILDS)
        .framework(framework)
        .await
        .context("building the Discord client")?;
    client.start().await.context("the Discord connection ended")
}
