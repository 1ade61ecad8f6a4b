//! The forms of the edits after U. Custom Zoom answers its press with a form holding the
//! prompt and the zoom; Vary (Region) (without the editor page) answers privately with a menu
//! of regions, and the pick opens a form holding the prompt. Every id names the task, image
//! and edit (and the region once picked), so nothing is held in memory between the steps.

use poise::serenity_prelude as serenity;

use super::components::{Answer, queue_and_follow};
use super::{BotError, Data, custom_id, who};
use crate::app::EditForm;
use crate::app::edits::EditAnswers;
use crate::base::EditAction;
use crate::imaging::region::Region;

const PROMPT: &str = "prompt";
const ZOOM: &str = "zoom";
/// Discord's limit for a text input's value.
const MAX_INPUT: usize = 4000;

pub fn is_edit_form(custom_id: &str) -> bool {
    custom_id.starts_with(custom_id::EDIT_FORM_PREFIX) || custom_id.starts_with(custom_id::REGION_FORM_PREFIX)
}

fn prompt_input(prompt: &str) -> serenity::CreateActionRow {
    let prompt: String = prompt.chars().take(MAX_INPUT).collect();
    serenity::CreateActionRow::InputText(
        serenity::CreateInputText::new(serenity::InputTextStyle::Paragraph, "Prompt", PROMPT)
            .value(prompt)
            .max_length(MAX_INPUT as u16)
            .required(true),
    )
}

/// Custom Zoom: the prompt and the zoom, 2 to start with.
pub(super) async fn open_zoom(
    ctx: &serenity::Context,
    ci: &serenity::ComponentInteraction,
    form: &EditForm,
) -> Result<(), BotError> {
    let zoom = serenity::CreateInputText::new(serenity::InputTextStyle::Short, "Zoom (1.0 to 2.0)", ZOOM)
        .value("2")
        .max_length(20)
        .required(true);
    let modal =
        serenity::CreateModal::new(custom_id::edit_form(form.parent, form.index, form.action), "Custom Zoom")
            .components(vec![prompt_input(&form.prompt), serenity::CreateActionRow::InputText(zoom)]);
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Modal(modal)).await?;
    Ok(())
}

/// Vary (Region): a private menu of the regions (halves, thirds, centre, the 3×3 cells).
pub(super) async fn open_region_menu(
    ctx: &serenity::Context,
    ci: &serenity::ComponentInteraction,
    form: &EditForm,
) -> Result<(), BotError> {
    let options = Region::all()
        .into_iter()
        .map(|r| serenity::CreateSelectMenuOption::new(r.label(), r.key()))
        .collect();
    let menu = serenity::CreateSelectMenu::new(
        custom_id::edit_form(form.parent, form.index, form.action),
        serenity::CreateSelectMenuKind::String { options },
    )
    .placeholder("Region to repaint")
    .min_values(1)
    .max_values(1);
    let message = serenity::CreateInteractionResponseMessage::new()
        .content("Pick the region to repaint; then you can edit the prompt.")
        .components(vec![serenity::CreateActionRow::SelectMenu(menu)])
        .ephemeral(true);
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Message(message)).await?;
    Ok(())
}

/// A region was picked: the prompt form for it.
pub async fn region_picked(ctx: &serenity::Context, data: &Data, ci: &serenity::ComponentInteraction) {
    if let Err(e) = open_region_form(ctx, data, ci).await {
        Answer::Before(e).send(ctx, ci.id, &ci.token).await;
    }
}

async fn open_region_form(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
) -> Result<(), BotError> {
    let stale = || BotError::user("This menu can't be used: press Vary (Region) again.");
    let Some((task, index, EditAction::Region)) = custom_id::parse_edit_form(&ci.data.custom_id) else {
        return Err(stale());
    };
    let picked = match &ci.data.kind {
        serenity::ComponentInteractionDataKind::StringSelect { values } => {
            values.first().and_then(|v| Region::parse(v))
        }
        _ => None,
    };
    let region = picked.ok_or_else(|| BotError::from(crate::app::Refused::NoSuchRegion))?;
    let prompt = match data.app.db.task(task).await {
        // The menu is private to the image's owner; a forged pick reads no one else's prompt.
        Ok(Some(t)) if t.user_id == ci.user.id.to_string() => t.prompt.canonical(),
        Ok(Some(t)) => return Err(crate::app::Refused::NotOwner { owner: t.user_id }.into()),
        Ok(None) => return Err(crate::app::Refused::ParentGone.into()),
        Err(e) => return Err(crate::app::Refused::Internal(e).into()),
    };
    let modal = serenity::CreateModal::new(custom_id::region_form(task, index, region), "Vary (Region)")
        .components(vec![prompt_input(&prompt)]);
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Modal(modal)).await?;
    Ok(())
}

/// Custom Zoom's or Vary (Region)'s form came back: queue the edit.
pub async fn submitted(ctx: &serenity::Context, data: &Data, mi: &serenity::ModalInteraction) {
    if let Err(answer) = queue_edit(ctx, data, mi).await {
        answer.send(ctx, mi.id, &mi.token).await;
    }
}

async fn queue_edit(
    ctx: &serenity::Context,
    data: &Data,
    mi: &serenity::ModalInteraction,
) -> Result<(), Answer> {
    let field = |name: &str| {
        mi.data.components.iter().flat_map(|row| row.components.iter()).find_map(|c| match c {
            serenity::ActionRowComponent::InputText(t) if t.custom_id == name => t.value.clone(),
            _ => None,
        })
    };
    let prompt = field(PROMPT).unwrap_or_default();
    let zoom = field(ZOOM);
    let mut who = who::modal_presser(mi);
    let (task, index, action, region) =
        if let Some((task, index, action)) = custom_id::parse_edit_form(&mi.data.custom_id) {
            (task, index, action, None)
        } else if let Some((task, index, region)) = custom_id::parse_region_form(&mi.data.custom_id) {
            // Opened from the private region menu, not the task's message (see check_edit_form).
            who.pressed_on = None;
            (task, index, EditAction::Region, Some(region))
        } else {
            return Err(Answer::Before(BotError::user(
                "This form can't be used: run the command again for fresh buttons.",
            )));
        };
    let answers = EditAnswers { prompt: &prompt, zoom: zoom.as_deref(), region };
    let ticket = data
        .app
        .check_edit_form(&who, task, index, action, answers)
        .await
        .map_err(|e| Answer::Before(e.into()))?;
    if let Err(e) = mi.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await {
        data.app.abandon(ticket).await;
        return Err(Answer::Before(e.into()));
    }
    queue_and_follow(data, &mi.token, ticket).await
}
