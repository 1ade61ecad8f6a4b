//! Remix mode: with it on (/settings), V and Vary open a form holding the prompt, so the
//! member can change it before the variations are made — Midjourney's remix. The form's
//! custom_id names the variation it stands for (see `custom_id`), so nothing is held in memory
//! between the press and the submit.

use poise::serenity_prelude as serenity;

use super::components::{Answer, queue_and_follow};
use super::{BotError, Data, custom_id, who};
use crate::app::RemixForm;

/// The form's one text field.
const FIELD: &str = "prompt";
/// Discord's limit for a text input's value.
const MAX_INPUT: usize = 4000;

/// Answers a V or Vary press with the form, prefilled with the parent's prompt.
pub(super) async fn open(
    ctx: &serenity::Context,
    ci: &serenity::ComponentInteraction,
    form: &RemixForm,
) -> Result<(), BotError> {
    let prompt: String = form.prompt.chars().take(MAX_INPUT).collect();
    let input = serenity::CreateInputText::new(serenity::InputTextStyle::Paragraph, "Prompt", FIELD)
        .value(prompt)
        .max_length(MAX_INPUT as u16)
        .required(true);
    let modal =
        serenity::CreateModal::new(custom_id::remix_form(form.parent, form.index, form.strength), "Remix")
            .components(vec![serenity::CreateActionRow::InputText(input)]);
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Modal(modal)).await?;
    Ok(())
}

/// The form came back: queue the variations with the edited prompt.
pub async fn submitted(ctx: &serenity::Context, data: &Data, mi: &serenity::ModalInteraction) {
    if let Err(answer) = queue_remix(ctx, data, mi).await {
        answer.send(ctx, mi.id, &mi.token).await;
    }
}

async fn queue_remix(
    ctx: &serenity::Context,
    data: &Data,
    mi: &serenity::ModalInteraction,
) -> Result<(), Answer> {
    let Some((parent, index, strength)) = custom_id::parse_remix_form(&mi.data.custom_id) else {
        return Err(Answer::Before(BotError::user(
            "This form can't be used: run the command again for fresh buttons.",
        )));
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
    let form = RemixForm { parent, index, strength, prompt: String::new() };
    let ticket = data
        .app
        .check_remix(&who::modal_presser(mi), &form, &text)
        .await
        .map_err(|e| Answer::Before(e.into()))?;
    if let Err(e) = mi.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await {
        data.app.abandon(ticket).await;
        return Err(Answer::Before(e.into()));
    }
    queue_and_follow(data, &mi.token, ticket).await
}
