//! `/settings`: the member's own defaults, as a private panel of menus and buttons (see
//! `discord::settings`, which saves each change and redraws the panel).

use crate::discord::{BotError, SlashContext, settings};

/// Your defaults: aspect ratio, model, stylize, variation strength, remix, private mode
#[poise::command(slash_command)]
pub async fn settings(ctx: SlashContext<'_>) -> Result<(), BotError> {
    let app = &ctx.data().app;
    let current = app.prefs.settings(&ctx.interaction.user.id.to_string()).await?;
    let reply = poise::CreateReply::default()
        .content(settings::summary(&current))
        .components(settings::components(&current, &app.model_choices("")))
        .ephemeral(true);
    poise::Context::Application(ctx).send(reply).await?;
    Ok(())
}
