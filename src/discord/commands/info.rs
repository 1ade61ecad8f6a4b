//! `/info`: a member's own waiting and running tasks, today's usage and limits, and how the
//! backends are doing — privately.

use crate::discord::{BotError, SlashContext, panels, reply_ephemeral};

/// Your waiting and running tasks, today's usage and the backends' status
#[poise::command(slash_command)]
pub async fn info(ctx: SlashContext<'_>) -> Result<(), BotError> {
    let view = ctx.data().app.info(&ctx.interaction.user.id.to_string()).await?;
    reply_ephemeral(ctx, &panels::info(&view)).await
}
