//! The /settings panel: an ephemeral message of select menus and buttons, each change saved
//! at once and the panel redrawn in place. Its custom_ids are `e1s:<field>`; the member's
//! current choices are read from the database on every press, so the panel can't go stale.

use poise::serenity_prelude as serenity;
use tracing::warn;

use super::{BotError, Data};
use crate::base::Strength;
use crate::prefs::{ASPECTS, STYLIZE_PRESETS, UserSettings, parse_aspect};

/// Prefix of the panel's custom_ids.
pub const PREFIX: &str = "e1s:";
/// The "nothing chosen" value of a select.
const NONE: &str = "none";

/// The panel's text: what is set now.
pub fn summary(s: &UserSettings) -> String {
    let aspect = s.aspect.map(|a| format!("{}:{}", a.w, a.h)).unwrap_or_else(|| "as the prompt says".into());
    let model = s.model.clone().unwrap_or_else(|| "automatic (least busy)".into());
    let stylize = match s.stylize {
        Some(v) => {
            let name = STYLIZE_PRESETS.iter().find(|(_, p)| *p == v).map_or("custom", |(n, _)| n);
            format!("{name} (--s {v})")
        }
        None => "the backend's default".into(),
    };
    let strength = match s.strength {
        Strength::Strong => "strong",
        Strength::Subtle => "subtle",
    };
    let on = |b: bool| if b { "on" } else { "off" };
    format!(
        "**Your settings**\nAspect ratio: {aspect}\nModel: {model}\nStylize: {stylize}\n\
         V buttons: {strength} variations\nRemix (edit the prompt before V): {}\n\
         Private mode (/imagine results by DM): {}",
        on(s.remix),
        on(s.private)
    )
}

/// The panel's menus and buttons, showing the current choices.
pub fn components(s: &UserSettings, models: &[String]) -> Vec<serenity::CreateActionRow> {
    let option = |label: &str, value: &str, chosen: bool| {
        serenity::CreateSelectMenuOption::new(label, value).default_selection(chosen)
    };
    let select = |id: &str, placeholder: &str, options: Vec<serenity::CreateSelectMenuOption>| {
        serenity::CreateActionRow::SelectMenu(
            serenity::CreateSelectMenu::new(
                format!("{PREFIX}{id}"),
                serenity::CreateSelectMenuKind::String { options },
            )
            .placeholder(placeholder),
        )
    };
    let aspect_now = s.aspect.map(|a| format!("{}:{}", a.w, a.h));
    let mut aspects = vec![option("As the prompt says", NONE, aspect_now.is_none())];
    aspects.extend(ASPECTS.iter().map(|a| option(a, a, aspect_now.as_deref() == Some(*a))));
    let mut model_options = vec![option("Automatic (least busy)", NONE, s.model.is_none())];
    model_options.extend(models.iter().take(24).map(|m| option(m, m, s.model.as_deref() == Some(m))));
    let mut stylize = vec![option("Backend default", NONE, s.stylize.is_none())];
    stylize.extend(STYLIZE_PRESETS.iter().map(|(name, v)| {
        option(&format!("Stylize {name} (--s {v})"), &v.to_string(), s.stylize == Some(*v))
    }));
    let toggle = |id: &str, label: String, on: bool| {
        serenity::CreateButton::new(format!("{PREFIX}{id}")).label(label).style(if on {
            serenity::ButtonStyle::Success
        } else {
            serenity::ButtonStyle::Secondary
        })
    };
    let strength = match s.strength {
        Strength::Strong => "V: Strong",
        Strength::Subtle => "V: Subtle",
    };
    vec![
        select("ar", "Default aspect ratio", aspects),
        select("model", "Default model", model_options),
        select("stylize", "Default stylize", stylize),
        serenity::CreateActionRow::Buttons(vec![
            toggle("strength", strength.into(), s.strength == Strength::Subtle),
            toggle("remix", format!("Remix: {}", if s.remix { "On" } else { "Off" }), s.remix),
            toggle("private", format!("Private: {}", if s.private { "On" } else { "Off" }), s.private),
            serenity::CreateButton::new(format!("{PREFIX}reset"))
                .label("Reset")
                .style(serenity::ButtonStyle::Danger),
        ]),
    ]
}

/// A change on the panel: save it, redraw the panel in place.
pub async fn handle(ctx: &serenity::Context, data: &Data, ci: &serenity::ComponentInteraction) {
    // The panel is always the member's own ephemeral message: a settings id pressed on any
    // other message (a forged press on someone's grid) would otherwise redraw that message.
    let own_panel = ci.message.flags.is_some_and(|f| f.contains(serenity::MessageFlags::EPHEMERAL));
    let outcome = match own_panel {
        true => change(data, ci).await,
        false => Err(BotError::user("This isn't your settings panel: run /settings to open your own.")),
    };
    let response = match outcome {
        Ok(s) => serenity::CreateInteractionResponse::UpdateMessage(
            serenity::CreateInteractionResponseMessage::new()
                .content(summary(&s))
                .components(components(&s, &data.app.model_choices(""))),
        ),
        Err(e) => serenity::CreateInteractionResponse::Message(
            serenity::CreateInteractionResponseMessage::new().content(e.for_member()).ephemeral(true),
        ),
    };
    if let Err(e) = ci.create_response(&ctx.http, response).await {
        warn!(error = %e, custom_id = %ci.data.custom_id, "could not answer a settings change");
    }
}

async fn change(data: &Data, ci: &serenity::ComponentInteraction) -> Result<UserSettings, BotError> {
    let user = ci.user.id.to_string();
    let prefs = &data.app.prefs;
    let mut s = prefs.settings(&user).await?;
    let chosen = match &ci.data.kind {
        serenity::ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
        _ => None,
    };
    let picked = chosen.as_deref().filter(|v| *v != NONE);
    match ci.data.custom_id.strip_prefix(PREFIX).unwrap_or_default() {
        "ar" => s.aspect = picked.and_then(parse_aspect),
        "model" => {
            if let Some(m) = picked
                && !data.app.model_choices("").iter().any(|c| c == m)
            {
                return Err(BotError::user(format!("There is no model called `{m}` any more.")));
            }
            s.model = picked.map(str::to_string);
        }
        "stylize" => s.stylize = picked.and_then(|v| v.parse().ok()),
        "strength" => {
            s.strength = match s.strength {
                Strength::Strong => Strength::Subtle,
                Strength::Subtle => Strength::Strong,
            }
        }
        "remix" => s.remix = !s.remix,
        "private" => s.private = !s.private,
        "reset" => s = UserSettings { suffix: s.suffix, ..UserSettings::default() },
        other => {
            return Err(BotError::user(format!("This panel has no setting `{other}`: run /settings again.")));
        }
    }
    prefs.save(&user, &s).await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_is_set() {
        let s = UserSettings {
            aspect: parse_aspect("16:9"),
            stylize: Some(250),
            strength: Strength::Subtle,
            remix: true,
            ..UserSettings::default()
        };
        assert_eq!(
            summary(&s),
            "**Your settings**\nAspect ratio: 16:9\nModel: automatic (least busy)\nStylize: high (--s 250)\n\
             V buttons: subtle variations\nRemix (edit the prompt before V): on\n\
             Private mode (/imagine results by DM): off"
        );
    }
}
