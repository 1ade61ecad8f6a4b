//! `/imagine`: the app checks the prompt and that a backend can draw it (from memory, but for
//! the member's queue count), the interaction is acknowledged at once, then the task(s) are
//! queued and the message follows each task through message delivery.

use poise::serenity_prelude as serenity;

use super::refuse_after_defer;
use crate::app::Ticket;
use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, reply_ephemeral};

/// Create images from a prompt (Midjourney syntax: --ar 3:2, --seed 42, --no text, {a, b}…)
#[poise::command(slash_command)]
pub async fn imagine(
    ctx: SlashContext<'_>,
    #[description = "What to draw, with parameters such as --ar 3:2"]
    #[max_length = 6000]
    prompt: String,
    #[description = "Which model draws it (default: the least busy one that can)"]
    #[autocomplete = "model_choices"]
    #[max_length = 64]
    model: Option<String>,
) -> Result<(), BotError> {
    let data = ctx.data();
    // A bad prompt is answered privately, before anything public happens.
    let ticket = match data.app.check_imagine(&prompt, model.as_deref(), &requester(ctx, true)).await {
        Ok(ticket) => ticket,
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    if ticket.private() {
        return private(ctx, ticket).await;
    }
    let started = std::time::Instant::now();
    if let Err(e) = poise::Context::Application(ctx).defer().await {
        data.app.abandon(ticket).await;
        return Err(e.into());
    }
    metrics::histogram!("easel_initial_response_seconds").record(started.elapsed().as_secs_f64());
    let tasks = match data.app.queue(ticket).await {
        Ok(tasks) => tasks,
        // Nothing was queued: take the public "thinking…" message away and explain privately.
        Err(e) => return refuse_after_defer(ctx, &BotError::from(e).for_member()).await,
    };
    // The first prompt fills the deferred response; it must be there before any follow-up,
    // or Discord would let the first follow-up take its place.
    data.sink.deliver_now(tasks[0].id).await?;
    for task in &tasks[1..] {
        data.sink.follow_up(&ctx.interaction.token, task).await?;
    }
    Ok(())
}

/// Private mode: a private acknowledgement here, and the task's messages in the member's DMs.
async fn private(ctx: SlashContext<'_>, mut ticket: Ticket) -> Result<(), BotError> {
    let data = ctx.data();
    let dm = match data.sink.open_dm(&ctx.interaction.user.id.to_string()).await {
        Ok(dm) => dm,
        Err(e) => {
            tracing::warn!(error = %e, "could not open a DM for private mode");
            data.app.abandon(ticket).await;
            return reply_ephemeral(
                ctx,
                "Private mode is on, but I can't send you direct messages. Allow DMs from this \
                 server's members, or turn private mode off in /settings.",
            )
            .await;
        }
    };
    reply_ephemeral(ctx, "🔒 Private mode: your images will arrive in your DMs.").await?;
    ticket.deliver_to_channel(dm.clone());
    let tasks = match data.app.queue(ticket).await {
        Ok(tasks) => tasks,
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    for task in &tasks {
        data.sink.post_to_channel(task.id, &dm).await?;
    }
    Ok(())
}

/// Suggests the backends and aliases that can draw, matching what has been typed.
async fn model_choices(ctx: SlashContext<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let choices =
        ctx.data().app.model_choices(partial).into_iter().map(serenity::AutocompleteChoice::from).collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
