//! Button presses under a task's message: read the custom_id, have the app check the press,
//! acknowledge it, then queue the child task and let the sink post its message. The press is
//! acknowledged before anything is queued, so a failed acknowledgement never leaves a task
//! running that nobody sees. Every refusal is private.

use poise::serenity_prelude::{self as serenity, Builder as _};
use tracing::warn;

use super::custom_id::ButtonAction;
use super::error::BotError;
use super::{Data, edit_forms, remix, who};
use crate::app::{Pressed, Ticket};
use crate::base::TaskKind;

/// A button press; a refusal (or a failure) is answered privately.
pub async fn handle(ctx: &serenity::Context, data: &Data, ci: &serenity::ComponentInteraction) {
    let outcome = match ButtonAction::parse(&ci.data.custom_id) {
        Ok(action) => press(ctx, data, ci, action).await,
        Err(e) => Err(Answer::Before(BotError::user(format!(
            "This button can't be used: {e}. Run the command again for fresh buttons."
        )))),
    };
    if let Err(answer) = outcome {
        answer.send(ctx, ci.id, &ci.token).await;
    }
}

/// A refusal, and whether the press had been acknowledged already (then only a follow-up can
/// carry it).
pub(super) enum Answer {
    Before(BotError),
    After(BotError),
}

impl Answer {
    /// Tells the member privately: as the interaction's response, or — once it has been
    /// acknowledged — as a follow-up.
    pub(super) async fn send(self, ctx: &serenity::Context, id: serenity::InteractionId, token: &str) {
        let sent = match self {
            Answer::Before(e) => {
                serenity::CreateInteractionResponse::Message(
                    serenity::CreateInteractionResponseMessage::new().content(e.for_member()).ephemeral(true),
                )
                .execute(ctx, (id, token))
                .await
            }
            Answer::After(e) => serenity::CreateInteractionResponseFollowup::new()
                .content(e.for_member())
                .ephemeral(true)
                .execute(ctx, (None, token))
                .await
                .map(drop),
        };
        if let Err(e) = sent {
            warn!(error = %e, "could not answer a button press or form");
        }
    }
}

async fn press(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
    action: ButtonAction,
) -> Result<(), Answer> {
    let who = who::presser(ci);
    match action {
        ButtonAction::Info { task } => return info(ctx, data, ci, &who, task).await,
        ButtonAction::Delete { task } => return delete(ctx, data, ci, &who, task).await,
        ButtonAction::Favorite { task } => return favorite(ctx, data, ci, &who, task).await,
        _ => {}
    }
    let Some(child) = action.child() else {
        // Cancel: the message turns to "Canceled" through the task's own update.
        data.app.cancel_press(&who, action.task()).await.map_err(|e| Answer::Before(e.into()))?;
        return acknowledge(ctx, ci).await;
    };
    let ticket = match data.app.check_press(&who, action.task(), child).await {
        Ok(Pressed::Queue(ticket)) => *ticket,
        Ok(Pressed::Remix(form)) => return remix::open(ctx, ci, &form).await.map_err(Answer::Before),
        Ok(Pressed::EditForm(form)) => {
            return edit_forms::open_zoom(ctx, ci, &form).await.map_err(Answer::Before);
        }
        Ok(Pressed::RegionMenu(form)) => {
            return edit_forms::open_region_menu(ctx, ci, &form).await.map_err(Answer::Before);
        }
        Err(e) => return Err(Answer::Before(e.into())),
    };
    if let Err(e) = acknowledge(ctx, ci).await {
        data.app.abandon(ticket).await;
        return Err(e);
    }
    queue_and_follow(data, &ci.token, ticket).await
}

/// ℹ️: the result's details, privately, with 🗑️ for those who may delete it.
async fn info(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
    who: &crate::app::Requester,
    task: crate::base::TaskId,
) -> Result<(), Answer> {
    let found = data.app.job_info(who, task).await.map_err(|e| Answer::Before(e.into()))?;
    let view = super::info_panel::info_panel(&found);
    let reply = serenity::CreateInteractionResponseMessage::new()
        .content(view.content)
        .components(action_rows(&view.rows))
        .ephemeral(true);
    let sent = ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Message(reply)).await;
    sent.map_err(|e| Answer::Before(e.into()))
}

/// 🗑️ in the info panel: the result is marked deleted and its files removed, the panel says
/// so, then its message is taken down.
async fn delete(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
    who: &crate::app::Requester,
    task: crate::base::TaskId,
) -> Result<(), Answer> {
    let gone = data.app.delete_result(who, task).await.map_err(|e| Answer::Before(e.into()))?;
    let done = serenity::CreateInteractionResponseMessage::new()
        .content(format!("🗑️ Deleted task {task}: its message and images are gone."))
        .components(Vec::new());
    if let Err(e) =
        ci.create_response(&ctx.http, serenity::CreateInteractionResponse::UpdateMessage(done)).await
    {
        warn!(task_id = task, error = %e, "could not confirm a deletion");
    }
    if let Err(e) = data.sink.take_down(&gone).await {
        warn!(task_id = task, error = %e, "could not take a deleted result's message down");
    }
    Ok(())
}

/// ❤️: in or out of the presser's favourites, answered privately; the first heart in a server
/// may cross-post the image to the showcase channel (after the answer: a slow post must not
/// cost the press its 3 s).
async fn favorite(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
    who: &crate::app::Requester,
    task: crate::base::TaskId,
) -> Result<(), Answer> {
    let hearted = data.app.toggle_favorite(who, task).await.map_err(|e| Answer::Before(e.into()))?;
    let reply = serenity::CreateInteractionResponseMessage::new()
        .content(super::favorites_view::hearted_text(&hearted))
        .ephemeral(true);
    if let Err(e) = ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Message(reply)).await {
        warn!(task_id = task, error = %e, "could not answer a ❤️ press");
    }
    let Some(channel) = hearted.showcase else { return Ok(()) };
    let posted = match data.sink.post_showcase(&hearted.task, &channel, &who.user_id).await {
        Ok(id) => Some(id),
        Err(e) => {
            warn!(task_id = task, channel, error = %e, "could not post to the showcase channel");
            None
        }
    };
    if let Err(e) = data.app.showcase_sent(task, posted.as_deref()).await {
        warn!(task_id = task, error = %format!("{e:#}"), "could not record the showcase post");
    }
    Ok(())
}

/// A rendered view's buttons as serenity builds them.
fn action_rows(rows: &[Vec<super::render::Button>]) -> Vec<serenity::CreateActionRow> {
    rows.iter()
        .map(|row| {
            serenity::CreateActionRow::Buttons(
                row.iter()
                    .map(|b| {
                        let mut button = serenity::CreateButton::new(&b.custom_id).style(match b.style {
                            super::render::ButtonStyle::Primary => serenity::ButtonStyle::Primary,
                            super::render::ButtonStyle::Secondary => serenity::ButtonStyle::Secondary,
                            super::render::ButtonStyle::Success => serenity::ButtonStyle::Success,
                            super::render::ButtonStyle::Danger => serenity::ButtonStyle::Danger,
                        });
                        if let Some(label) = &b.label {
                            button = button.label(label);
                        }
                        if let Some(emoji) = &b.emoji {
                            button = button.emoji(serenity::ReactionType::Unicode(emoji.clone()));
                        }
                        button
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Acknowledges a press (or a form) without a message of its own: what it makes is posted
/// as follow-ups.
async fn acknowledge(ctx: &serenity::Context, ci: &serenity::ComponentInteraction) -> Result<(), Answer> {
    let ack = ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await;
    ack.map_err(|e| Answer::Before(e.into()))
}

/// After the acknowledgement: queue what the ticket holds, turn a used U green on the grid the
/// press came from, and post each new task's message as a follow-up on `token`.
pub(super) async fn queue_and_follow(data: &Data, token: &str, ticket: Ticket) -> Result<(), Answer> {
    let tasks = data.app.queue(ticket).await.map_err(|e| Answer::After(e.into()))?;
    for task in &tasks {
        if let (TaskKind::Upscale { .. }, Some(parent)) = (task.kind, task.parent_id) {
            match data.app.db.task(parent).await {
                Ok(Some(grid)) => data.sink.recolour_upscales(token, &grid).await,
                Ok(None) => {}
                Err(e) => warn!(task_id = parent, error = %format!("{e:#}"), "could not read the grid"),
            }
        }
        data.sink.follow_up(token, task).await.map_err(Answer::After)?;
    }
    Ok(())
}
