//! `/favorites`: the member's own hearted images, privately, ten to a page with links to their
//! messages.

use crate::discord::favorites_view::favorites_text;
use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, reply_ephemeral};

/// Your favourite images (the ones you pressed ❤️ on), with links
#[poise::command(slash_command)]
pub async fn favorites(
    ctx: SlashContext<'_>,
    #[description = "Which page (10 to a page; newest first)"]
    #[min = 1]
    page: Option<u32>,
) -> Result<(), BotError> {
    let who = requester(ctx, false);
    let text = match ctx.data().app.favorites(&who, page.unwrap_or(1)).await {
        Ok(page) => favorites_text(&page),
        Err(e) => BotError::from(e).for_member(),
    };
    reply_ephemeral(ctx, &text).await
}
