//! `/blend`: two to five uploaded images mixed into a new grid. The images are fetched from
//! Discord's CDN (with the downloader's host, size and format checks) after the deferral,
//! because downloads can take longer than Discord's 3 s to acknowledge.

use poise::serenity_prelude as serenity;

use super::{fetch_attachment, refuse_after_defer};
use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, reply_ephemeral};
use crate::prompt::Aspect;

/// The shapes /blend offers, as Midjourney does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum Dimensions {
    #[name = "Portrait (2:3)"]
    Portrait,
    #[name = "Square (1:1)"]
    Square,
    #[name = "Landscape (3:2)"]
    Landscape,
}

impl Dimensions {
    pub fn aspect(self) -> Aspect {
        match self {
            Dimensions::Portrait => Aspect { w: 2, h: 3 },
            Dimensions::Square => Aspect { w: 1, h: 1 },
            Dimensions::Landscape => Aspect { w: 3, h: 2 },
        }
    }
}

/// Blend two to five images into new ones
#[poise::command(slash_command)]
#[allow(clippy::too_many_arguments)] // poise maps each argument to one command option
pub async fn blend(
    ctx: SlashContext<'_>,
    #[description = "First image"] image1: serenity::Attachment,
    #[description = "Second image"] image2: serenity::Attachment,
    #[description = "Third image"] image3: Option<serenity::Attachment>,
    #[description = "Fourth image"] image4: Option<serenity::Attachment>,
    #[description = "Fifth image"] image5: Option<serenity::Attachment>,
    #[description = "Shape of the result (default: square)"] dimensions: Option<Dimensions>,
) -> Result<(), BotError> {
    let data = ctx.data();
    let shape = dimensions.unwrap_or(Dimensions::Square).aspect();
    let mut ticket = match data.app.check_blend(&requester(ctx, true), shape).await {
        Ok(ticket) => ticket,
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    if let Err(e) = poise::Context::Application(ctx).defer().await {
        data.app.abandon(ticket).await;
        return Err(e.into());
    }
    let mut inputs = Vec::new();
    let images = [Some(image1), Some(image2), image3, image4, image5];
    for (i, attachment) in images.into_iter().flatten().enumerate() {
        match fetch_attachment(data, &attachment).await {
            Ok(image) => inputs.push(image.bytes),
            Err(e) => {
                data.app.abandon(ticket).await;
                return refuse_after_defer(ctx, &format!("Image {}: {e}", i + 1)).await;
            }
        }
    }
    ticket.attach(inputs);
    match data.app.queue(ticket).await {
        Ok(tasks) => Ok(data.sink.deliver_now(tasks[0].id).await?),
        Err(e) => refuse_after_defer(ctx, &BotError::from(e).for_member()).await,
    }
}
