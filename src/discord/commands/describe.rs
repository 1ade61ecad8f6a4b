//! `/describe`: four prompts that could have made an image, given as an upload or a link.
//! A link is fetched by the downloader's guarded client (public addresses only); the image
//! is stored with the task so 🔄 can describe it again without fetching anything.

use poise::serenity_prelude as serenity;

use super::{fetch_attachment, refuse_after_defer};
use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, reply_ephemeral};

/// Get four prompts that could have made an image
#[poise::command(slash_command)]
pub async fn describe(
    ctx: SlashContext<'_>,
    #[description = "The image to describe"] image: Option<serenity::Attachment>,
    #[description = "Or a link to it (http or https)"]
    #[max_length = 2000]
    link: Option<String>,
) -> Result<(), BotError> {
    let data = ctx.data();
    // The gate (and an audit row with an empty prompt) before anything else.
    let mut ticket = match data.app.check_describe(&requester(ctx, true)).await {
        Ok(ticket) => ticket,
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    let source = match (image, link) {
        (Some(a), None) => Ok(a),
        (None, Some(l)) => Err(l),
        (None, None) => {
            data.app.abandon(ticket).await;
            return reply_ephemeral(ctx, "Give /describe an `image` to upload or a `link` to one.").await;
        }
        (Some(_), Some(_)) => {
            data.app.abandon(ticket).await;
            return reply_ephemeral(
                ctx,
                "Give /describe either an `image` or a `link`, not both: it describes one image at a time.",
            )
            .await;
        }
    };
    if let Err(e) = poise::Context::Application(ctx).defer().await {
        data.app.abandon(ticket).await;
        return Err(e.into());
    }
    let fetched = match &source {
        Ok(attachment) => fetch_attachment(data, attachment).await,
        Err(link) => data.app.downloader.link(link).await,
    };
    match fetched {
        Ok(image) => ticket.attach(vec![image.bytes]),
        Err(e) => {
            data.app.abandon(ticket).await;
            return refuse_after_defer(ctx, &e.to_string()).await;
        }
    }
    match data.app.queue(ticket).await {
        Ok(tasks) => Ok(data.sink.deliver_now(tasks[0].id).await?),
        Err(e) => refuse_after_defer(ctx, &BotError::from(e).for_member()).await,
    }
}
