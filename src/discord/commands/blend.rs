//! `/blend`: two to five uploaded images mixed into a new grid. The images are fetched from
//! Discord's CDN (with the downloader's host, size and format checks) after the deferral,
//! because downloads can take longer than Discord's 3 s to acknowledge.

use poise::serenity_prelude as serenity;

use super::{fetch_attachment, refuse_after_defer};
use crate::admin::Ask;
use crate::backends::routing::{RouteError, Want};
use crate::base::TaskKind;
use crate::db::NewTask;
use crate::discord::{BotError, SlashContext, reply_ephemeral, requester};
use crate::prompt::{Aspect, PromptSpec};
use crate::tasks::engine::SubmitError;

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
    let who = requester(ctx, true);
    // The gate (and an audit row with an empty prompt) before anything else.
    let admission = match data.app.admit(&who, Ask::create("blend", "", 1)).await {
        Ok(admission) => admission,
        Err(refusal) => return reply_ephemeral(ctx, &BotError::from(refusal).for_member()).await,
    };
    let prompt = blend_prompt(dimensions);
    let route = match data.app.route(Want::Blend, None, Some(&prompt)).await {
        Ok(route) => route,
        Err(SubmitError::Route(RouteError::Unsupported { .. })) => {
            return reply_ephemeral(
                ctx,
                "No backend here can blend images. Ask an admin to add one that can (for example \
             OpenAI's gpt-image models), or use /imagine.",
            )
            .await;
        }
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    poise::Context::Application(ctx).defer().await?;
    let mut inputs = Vec::new();
    let images = [Some(image1), Some(image2), image3, image4, image5];
    for (i, attachment) in images.into_iter().flatten().enumerate() {
        match fetch_attachment(data, &attachment).await {
            Ok(image) => inputs.push(image.bytes),
            Err(e) => return refuse_after_defer(ctx, &format!("Image {}: {e}", i + 1)).await,
        }
    }
    let limits = data.app.submit_limits(admission.quota.daily_limit);
    let submitted = data
        .app
        .engine
        .submit_all(
            vec![NewTask {
                kind: TaskKind::Blend,
                parent_id: None,
                user_id: who.user_id,
                guild_id: who.guild_id,
                channel_id: who.channel_id,
                prompt,
                backend: route.backend,
                model: route.model,
                seed: fastrand::u32(..),
                message: who.message,
                running_cap: Some(admission.quota.running_cap),
                inputs,
            }],
            limits,
        )
        .await;
    match submitted {
        Ok(tasks) => Ok(data.sink.deliver_now(tasks[0].id).await?),
        Err(e) => refuse_after_defer(ctx, &BotError::from(e).for_member()).await,
    }
}

/// A blend has no prompt text; its only parameter is the shape of the result.
fn blend_prompt(dimensions: Option<Dimensions>) -> PromptSpec {
    let mut prompt = PromptSpec::default();
    prompt.params.aspect = Some(dimensions.unwrap_or(Dimensions::Square).aspect());
    prompt
}
