//! `/show task:`: one of the member's results posted again in this channel, with working
//! buttons (a moderator may show anyone's from this server). The new message becomes the
//! result's message: presses count there from now on, across restarts, and presses on the
//! old message are refused privately with a pointer to the newest one.

use poise::serenity_prelude as serenity;

use super::refuse_after_defer;
use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, reply_ephemeral};

/// How many of a member's results autocomplete offers (Discord shows at most 25).
const CHOICES: u32 = 25;

/// Post one of your results again here, with working buttons
#[poise::command(slash_command)]
pub async fn show(
    ctx: SlashContext<'_>,
    #[description = "The task's number (start typing to pick one of your recent results)"]
    #[autocomplete = "your_results"]
    #[min = 1]
    task: i64,
) -> Result<(), BotError> {
    let data = ctx.data();
    let who = requester(ctx, true);
    // Refusals are private and come before anything public.
    if let Err(e) = data.app.showable(&who, task).await {
        return reply_ephemeral(ctx, &BotError::from(e).for_member()).await;
    }
    poise::Context::Application(ctx).defer().await?;
    if let Err(e) = data.app.shown_at(&who, task, &who.message).await {
        // Deleted between the check and now.
        return refuse_after_defer(ctx, &BotError::from(e).for_member()).await;
    }
    data.sink.deliver_now(task).await?;
    Ok(())
}

/// The member's recent results, newest first, as `12 · a cat on a roof`.
async fn your_results(ctx: SlashContext<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let user = ctx.interaction.user.id.to_string();
    let tasks = ctx.data().app.db.recent_results_of(&user, CHOICES).await.unwrap_or_default();
    let choices = tasks
        .iter()
        .filter(|t| partial.trim().is_empty() || t.id.to_string().starts_with(partial.trim()))
        .map(|t| {
            let text = if t.prompt.text.trim().is_empty() {
                format!("/{}", kind_word(t))
            } else {
                t.prompt.text.clone()
            };
            let text: String = text.chars().take(80).collect();
            serenity::AutocompleteChoice::new(format!("{} · {}", t.id, text.trim()), t.id)
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

fn kind_word(t: &crate::db::Task) -> &'static str {
    match t.kind {
        crate::base::TaskKind::Describe => "describe",
        _ => "blend",
    }
}
