//! `/queue`: the server's queue at a glance — per backend, what runs, what waits, and how
//! long a new task would take — privately, so asking never adds noise to the channel.

use crate::discord::{BotError, SlashContext, admit_use, panels, reply_ephemeral};

/// How busy the image backends are right now
#[poise::command(slash_command)]
pub async fn queue(ctx: SlashContext<'_>) -> Result<(), BotError> {
    if !admit_use(ctx).await? {
        return Ok(());
    }
    let app = &ctx.data().app;
    let rows = app.queue_rows().await?;
    reply_ephemeral(ctx, &panels::queue(&rows, &app.backend_views())).await
}
