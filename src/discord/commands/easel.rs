//! `/easel …`: the server admin's controls — pause and resume, bar and readmit a member, a
//! member's quota, the status at a glance, and the recent prompts and refusals. Registered with Manage Server as the default
//! permission, so Discord shows it only to admins; and checked here too, because a server can
//! grant a command to anyone in its Integrations settings.

use poise::serenity_prelude as serenity;

use crate::admin::quota::{QuotaOverride, QuotaSource};
use crate::app::Requester;
use crate::discord::who::is_admin;
use crate::discord::{BotError, Context, SlashContext, panels, reply_ephemeral};

/// Audit rows `/easel audit` reads; more than fit in one message, so the message is full.
const AUDIT_ROWS: u32 = 30;

/// Server admin controls: pause, bans, quotas, status, audit
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    check = "admins_only",
    subcommands("pause", "resume", "ban", "unban", "quota", "status", "audit"),
    subcommand_required
)]
pub async fn easel(_ctx: SlashContext<'_>) -> Result<(), BotError> {
    Ok(())
}

/// Runs before every /easel subcommand: only members with Manage Server (or Administrator).
async fn admins_only(ctx: Context<'_>) -> Result<bool, BotError> {
    let member = match ctx {
        poise::Context::Application(a) => a.interaction.member.as_deref(),
        poise::Context::Prefix(_) => None,
    };
    if is_admin(member) {
        Ok(true)
    } else {
        Err(BotError::user("Only server admins (with Manage Server) can use /easel."))
    }
}

fn admin_id(ctx: SlashContext<'_>) -> String {
    ctx.interaction.user.id.to_string()
}

/// Stop taking new tasks; running ones finish, waiting ones wait
#[poise::command(slash_command)]
pub async fn pause(ctx: SlashContext<'_>) -> Result<(), BotError> {
    let changed = ctx.data().app.gate.set_paused(true, &admin_id(ctx)).await?;
    let text = if changed {
        "⏸️ Easel is paused. New tasks are refused with a note that it is paused; running tasks \
         finish and waiting ones wait. This lasts across restarts until `/easel resume`."
    } else {
        "Easel was already paused. `/easel resume` to go on."
    };
    reply_ephemeral(ctx, text).await
}

/// Take new tasks again and start the waiting ones
#[poise::command(slash_command)]
pub async fn resume(ctx: SlashContext<'_>) -> Result<(), BotError> {
    let changed = ctx.data().app.gate.set_paused(false, &admin_id(ctx)).await?;
    let text = if changed {
        "▶️ Easel is taking new tasks again; waiting tasks start now."
    } else {
        "Easel wasn't paused."
    };
    reply_ephemeral(ctx, text).await
}

/// Bar a member from using Easel (commands and buttons)
#[poise::command(slash_command)]
pub async fn ban(
    ctx: SlashContext<'_>,
    #[description = "The member to bar"] user: serenity::User,
    #[description = "Why (kept in Easel's records)"]
    #[max_length = 200]
    reason: Option<String>,
) -> Result<(), BotError> {
    if user.id == ctx.interaction.user.id {
        return reply_ephemeral(ctx, "You can't bar yourself.").await;
    }
    let app = &ctx.data().app;
    let changed = app.gate.ban(&user.id.to_string(), &admin_id(ctx), reason.as_deref()).await?;
    let text = if changed {
        format!(
            "<@{}> is barred from Easel: their commands and button presses are refused. Tasks they \
             already queued still run (an admin can stop them with /cancel). `/easel unban` to undo.",
            user.id
        )
    } else {
        format!("<@{}> was already barred.", user.id)
    };
    reply_ephemeral(ctx, &text).await
}

/// Let a barred member use Easel again
#[poise::command(slash_command)]
pub async fn unban(
    ctx: SlashContext<'_>,
    #[description = "The member to readmit"] user: serenity::User,
) -> Result<(), BotError> {
    let changed = ctx.data().app.gate.unban(&user.id.to_string(), &admin_id(ctx)).await?;
    let text = if changed {
        format!("<@{}> may use Easel again.", user.id)
    } else {
        format!("<@{}> wasn't barred.", user.id)
    };
    reply_ephemeral(ctx, &text).await
}

/// Set a member's own limits (leave both out to go back to their roles' limits)
#[poise::command(slash_command)]
pub async fn quota(
    ctx: SlashContext<'_>,
    #[description = "The member"] user: serenity::User,
    #[description = "Tasks per UTC day (0 = unlimited)"]
    #[min = 0]
    #[max = 100000]
    daily: Option<u32>,
    #[description = "Tasks running at once"]
    #[min = 1]
    #[max = 100]
    running: Option<u32>,
) -> Result<(), BotError> {
    let app = &ctx.data().app;
    let target = user.id.to_string();
    let o = QuotaOverride { daily_limit: daily, running_cap: running };
    app.gate.set_quota_override(&target, o, &admin_id(ctx)).await?;
    // The member's roles are not in this interaction, so say what the override sets.
    let q = app.gate.quota_for(&Requester { user_id: target, ..Requester::default() }).await?;
    let text = if q.source == QuotaSource::Override {
        let daily = match o.daily_limit {
            Some(_) => q.daily_text(),
            None => "their roles' daily limit".to_string(),
        };
        let running = match o.running_cap {
            Some(n) => format!("{n} running at once"),
            None => "their roles' running cap".to_string(),
        };
        format!("<@{}> now has {daily} and {running}.", user.id)
    } else {
        format!("<@{}> is back on their roles' limits (or the server defaults).", user.id)
    };
    reply_ephemeral(ctx, &text).await
}

/// Paused or not, the queue, the backends, barred members
#[poise::command(slash_command)]
pub async fn status(ctx: SlashContext<'_>) -> Result<(), BotError> {
    let view = ctx.data().app.status().await?;
    reply_ephemeral(ctx, &panels::status(&view)).await
}

/// Recent prompts and refusals in this server, newest first
#[poise::command(slash_command)]
pub async fn audit(
    ctx: SlashContext<'_>,
    #[description = "Only this member's prompts"] member: Option<serenity::User>,
) -> Result<(), BotError> {
    // /easel is registered for servers only, so a guild is always there.
    let Some(guild) = ctx.interaction.guild_id else {
        return reply_ephemeral(ctx, "Use /easel audit in a server.").await;
    };
    let member = member.map(|u| u.id.to_string());
    let rows = ctx.data().app.gate.recent_audit(&guild.to_string(), member.as_deref(), AUDIT_ROWS).await?;
    reply_ephemeral(ctx, &panels::audit(&rows, member.as_deref())).await
}
