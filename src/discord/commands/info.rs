//! `/info`: a member's own waiting and running tasks, today's usage and limits, and how the
//! backends are doing — privately.

use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, admit_use, panels, reply_ephemeral};

/// Your waiting and running tasks, today's usage and the backends' status
#[poise::command(slash_command)]
pub async fn info(ctx: SlashContext<'_>) -> Result<(), BotError> {
    if !admit_use(ctx).await? {
        return Ok(());
    }
    let view = ctx.data().app.info(&requester(ctx, false)).await?;
    reply_ephemeral(ctx, &panels::info(&view)).await
}
