//! Remix mode: with it on (/settings), V and Vary open a form holding the prompt, so the
//! member can change it before the variations are made — Midjourney's remix. The form's
//! custom_id carries the button it came from (`e1m:` + the button's own id), so nothing is
//! held in memory between the press and the submit.

use poise::serenity_prelude as serenity;

use super::components::{ButtonAction, queue_child};
use super::{BotError, Data};
use crate::admin::Ask;
use crate::base::{Strength, TaskKind, TaskState};
use crate::db::Task;

/// Prefix of a remix form's custom_id.
pub const PREFIX: &str = "e1m:";
/// The form's one text field.
const FIELD: &str = "prompt";
/// Discord's limit for a text input's value.
const MAX_INPUT: usize = 4000;

/// Answers a V or Vary press with the form, prefilled with the parent's prompt.
pub(super) async fn open(
    ctx: &serenity::Context,
    ci: &serenity::ComponentInteraction,
    parent: &Task,
    index: u8,
    strength: Strength,
) -> Result<(), BotError> {
    let action = ButtonAction::Vary { task: parent.id, index, strength };
    let prompt: String = parent.prompt.canonical().chars().take(MAX_INPUT).collect();
    let input = serenity::CreateInputText::new(serenity::InputTextStyle::Paragraph, "Prompt", FIELD)
        .value(prompt)
        .max_length(MAX_INPUT as u16)
        .required(true);
    let modal = serenity::CreateModal::new(format!("{PREFIX}{action}"), "Remix")
        .components(vec![serenity::CreateActionRow::InputText(input)]);
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Modal(modal)).await?;
    Ok(())
}

/// The form came back: queue the variations with the edited prompt.
pub async fn submit(ctx: &serenity::Context, data: &Data, mi: &serenity::ModalInteraction) {
    if let Err(e) = queue_remix(ctx, data, mi).await {
        let reply = serenity::CreateInteractionResponse::Message(
            serenity::CreateInteractionResponseMessage::new().content(e.for_member()).ephemeral(true),
        );
        if let Err(e) = mi.create_response(&ctx.http, reply).await {
            tracing::warn!(error = %e, "could not answer a remix form");
        }
    }
}

async fn queue_remix(
    ctx: &serenity::Context,
    data: &Data,
    mi: &serenity::ModalInteraction,
) -> Result<(), BotError> {
    let id = mi.data.custom_id.strip_prefix(PREFIX).unwrap_or_default();
    let Ok(ButtonAction::Vary { task, index, strength }) = ButtonAction::parse(id) else {
        return Err(BotError::user("This form can't be used: run the command again for fresh buttons."));
    };
    let text = mi
        .data
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .find_map(|c| match c {
            serenity::ActionRowComponent::InputText(t) if t.custom_id == FIELD => t.value.clone(),
            _ => None,
        })
        .unwrap_or_default();
    let parent = data
        .app
        .db
        .task(task)
        .await?
        .filter(|p| p.state == TaskState::Succeeded)
        .ok_or_else(|| BotError::user("That task did not finish, so it can't be remixed."))?;
    let who = super::modal_presser(mi);
    let admission = data.app.admit(&who, Ask::create("remix", &text, 1)).await?;
    if data.app.config.discord.buttons_owner_only && who.user_id != parent.user_id {
        return Err(BotError::user(format!(
            "Only <@{}> can use the buttons on these images.",
            parent.user_id
        )));
    }
    let mut specs =
        crate::prompt::parse(&text, &data.app.prompt_limits()).map_err(|e| BotError::user(e.to_string()))?;
    if specs.len() != 1 {
        return Err(BotError::user("A remix takes one prompt: leave out `{a, b}` choices."));
    }
    let mut prompt = specs.remove(0);
    // The variations keep the image's shape unless the member asked for another.
    if prompt.params.aspect.is_none() {
        prompt.params.aspect = parent.prompt.params.aspect;
    }
    let kind = TaskKind::Variation { index, strength };
    let cap = Some(admission.quota.running_cap);
    let limits = data.app.submit_limits(admission.quota.daily_limit);
    let child = queue_child(data, &who, &parent, kind, Vec::new(), prompt, cap, limits).await?;
    mi.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await?;
    data.follow_up(&mi.token, &child).await
}
