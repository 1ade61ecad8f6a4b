//! `/prefer suffix` and `/prefer option set|list|delete`: text added to every prompt, and
//! named shortcuts that `--name` in a prompt expands to (Midjourney's custom options).

use crate::discord::{BotError, SlashContext, reply_ephemeral};
use crate::prefs::{self, MAX_SUFFIX, PreferError};

/// Your prompt preferences: a suffix for every prompt, and named options
#[poise::command(slash_command, subcommands("suffix", "option"), subcommand_required)]
pub async fn prefer(_ctx: SlashContext<'_>) -> Result<(), BotError> {
    Ok(())
}

/// Text added to the end of every prompt you send (leave it out to clear it)
#[poise::command(slash_command)]
pub async fn suffix(
    ctx: SlashContext<'_>,
    #[description = "e.g. --ar 3:2 --s 250, or words"]
    #[max_length = 300]
    text: Option<String>,
) -> Result<(), BotError> {
    let user = ctx.interaction.user.id.to_string();
    let text = text.unwrap_or_default().trim().to_string();
    if text.chars().count() > MAX_SUFFIX {
        return Err(BotError::user(PreferError::SuffixTooLong(text.chars().count()).to_string()));
    }
    let app = &ctx.data().app;
    // A suffix that would break every prompt is refused now, not on the next /imagine.
    if !text.is_empty()
        && let Err(e) = crate::prompt::parse(&format!("x {text}"), &app.prompt_limits())
    {
        return Err(BotError::user(format!("That suffix doesn't work as part of a prompt: {e}")));
    }
    let mut settings = app.prefs.settings(&user).await?;
    settings.suffix = text.clone();
    app.prefs.save(&user, &settings).await?;
    let reply = if text.is_empty() {
        "Suffix cleared.".to_string()
    } else {
        format!("Every prompt you send now ends with `{text}`.")
    };
    reply_ephemeral(ctx, &reply).await
}

/// Named options: `--name` in a prompt expands to what you stored
#[poise::command(slash_command, subcommands("set", "list", "delete"), subcommand_required)]
pub async fn option(_ctx: SlashContext<'_>) -> Result<(), BotError> {
    Ok(())
}

/// Store an option: `--name` in your prompts becomes this text
#[poise::command(slash_command)]
pub async fn set(
    ctx: SlashContext<'_>,
    #[description = "The option's name, used as --name"]
    #[max_length = 20]
    name: String,
    #[description = "What --name stands for, e.g. 35mm film, grain --s 250"]
    #[max_length = 500]
    value: String,
) -> Result<(), BotError> {
    let user = ctx.interaction.user.id.to_string();
    let name = prefs::check_option(&name, &value).map_err(|e| BotError::user(e.to_string()))?;
    ctx.data()
        .app
        .prefs
        .set_option(&user, &name, value.trim())
        .await?
        .map_err(|e| BotError::user(e.to_string()))?;
    reply_ephemeral(ctx, &format!("`--{name}` now stands for `{}`.", value.trim())).await
}

/// Your options
#[poise::command(slash_command)]
pub async fn list(ctx: SlashContext<'_>) -> Result<(), BotError> {
    let user = ctx.interaction.user.id.to_string();
    let app = &ctx.data().app;
    let options = app.prefs.options(&user).await?;
    let suffix = app.prefs.settings(&user).await?.suffix;
    let mut text = if options.is_empty() {
        "You have no options yet: add one with `/prefer option set`.".to_string()
    } else {
        let lines: Vec<String> = options.iter().map(|(n, v)| format!("`--{n}` → `{v}`")).collect();
        format!("**Your options**\n{}", lines.join("\n"))
    };
    if !suffix.is_empty() {
        text += &format!("\n**Suffix** `{suffix}`");
    }
    reply_ephemeral(ctx, &text).await
}

/// Delete an option
#[poise::command(slash_command)]
pub async fn delete(
    ctx: SlashContext<'_>,
    #[description = "The option's name"]
    #[max_length = 20]
    name: String,
) -> Result<(), BotError> {
    let user = ctx.interaction.user.id.to_string();
    let name = name.trim().trim_start_matches('-').to_ascii_lowercase();
    let reply = if ctx.data().app.prefs.delete_option(&user, &name).await? {
        format!("`--{name}` deleted.")
    } else {
        format!("You have no option called `--{name}`.")
    };
    reply_ephemeral(ctx, &reply).await
}
