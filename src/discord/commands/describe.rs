//! `/describe`: four prompts that could have made an image, given as an upload or a link.
//! A link is fetched by the downloader's guarded client (public addresses only); the image
//! is stored with the task so 🔄 can describe it again without fetching anything.

use poise::serenity_prelude as serenity;

use super::{fetch_attachment, refuse_after_defer};
use crate::admin::Ask;
use crate::backends::routing::{RouteError, Want};
use crate::base::TaskKind;
use crate::db::NewTask;
use crate::discord::{BotError, SlashContext, reply_ephemeral, requester};
use crate::prompt::PromptSpec;
use crate::tasks::engine::SubmitError;

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
    let who = requester(ctx, true);
    // The gate (and an audit row with an empty prompt) before anything else.
    let admission = match data.app.admit(&who, Ask::create("describe", "", 1)).await {
        Ok(admission) => admission,
        Err(refusal) => return reply_ephemeral(ctx, &BotError::from(refusal).for_member()).await,
    };
    let source = match (image, link) {
        (Some(a), None) => Ok(a),
        (None, Some(l)) => Err(l),
        (None, None) => {
            return reply_ephemeral(ctx, "Give /describe an `image` to upload or a `link` to one.").await;
        }
        (Some(_), Some(_)) => {
            return reply_ephemeral(
                ctx,
                "Give /describe either an `image` or a `link`, not both: it describes one image at a time.",
            )
            .await;
        }
    };
    let prompt = PromptSpec::default();
    let route = match data.app.route(Want::Describe, None, Some(&prompt)).await {
        Ok(route) => route,
        Err(SubmitError::Route(RouteError::Unsupported { .. })) => {
            return reply_ephemeral(
                ctx,
                "No backend here can describe images. Ask an admin to add one that can (for example \
             OpenAI with a describe model).",
            )
            .await;
        }
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    poise::Context::Application(ctx).defer().await?;
    let fetched = match &source {
        Ok(attachment) => fetch_attachment(data, attachment).await,
        Err(link) => data.app.downloader.link(link).await,
    };
    let image = match fetched {
        Ok(image) => image,
        Err(e) => return refuse_after_defer(ctx, &e.to_string()).await,
    };
    let limits = data.app.submit_limits(admission.quota.daily_limit);
    let submitted = data
        .app
        .engine
        .submit_all(
            vec![NewTask {
                kind: TaskKind::Describe,
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
                inputs: vec![image.bytes],
            }],
            limits,
        )
        .await;
    match submitted {
        Ok(tasks) => Ok(data.sink.deliver_now(tasks[0].id).await?),
        Err(e) => refuse_after_defer(ctx, &BotError::from(e).for_member()).await,
    }
}
