//! `/cancel [task]`: stop one of your waiting or running tasks (an admin may stop anyone's).
//! Without a task, your newest unfinished one. Its message then shows `Canceled`.

use poise::serenity_prelude as serenity;

use crate::discord::who::is_admin;
use crate::discord::{BotError, SlashContext, admit_use, reply_ephemeral};
use crate::tasks::engine::CancelError;

/// Cancel one of your waiting or running tasks (default: your newest)
#[poise::command(slash_command)]
pub async fn cancel(
    ctx: SlashContext<'_>,
    #[description = "The task's number (start typing to pick one of yours)"]
    #[autocomplete = "your_tasks"]
    #[min = 1]
    task: Option<i64>,
) -> Result<(), BotError> {
    if !admit_use(ctx).await? {
        return Ok(());
    }
    let app = &ctx.data().app;
    let user = ctx.interaction.user.id.to_string();
    let id = match task {
        Some(id) => id,
        None => match app.db.unfinished_of(&user).await?.first() {
            Some(t) => t.id,
            None => return reply_ephemeral(ctx, "You have nothing waiting or running to cancel.").await,
        },
    };
    let admin = is_admin(ctx.interaction.member.as_deref());
    let was = match app.engine.cancel(id, &user, admin).await {
        // Whose task it is, is the owner's business: to anyone else it does not exist.
        Err(CancelError::NotYours { task, .. }) => return Err(CancelError::NotFound(task).into()),
        other => other?,
    };
    let what = if was == crate::base::TaskState::Queued { "waiting" } else { "running" };
    reply_ephemeral(ctx, &format!("Canceled task {id} (it was {what}).")).await
}

/// The member's unfinished tasks, newest first, as `12 · a cat on a roof`.
async fn your_tasks(ctx: SlashContext<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let user = ctx.interaction.user.id.to_string();
    let tasks = ctx.data().app.db.unfinished_of(&user).await.unwrap_or_default();
    let choices = tasks
        .iter()
        .filter(|t| partial.is_empty() || t.id.to_string().starts_with(partial.trim()))
        .take(25)
        .map(|t| {
            let text: String = t.prompt.text.chars().take(80).collect();
            serenity::AutocompleteChoice::new(format!("{} · {}", t.id, text.trim()), t.id)
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
