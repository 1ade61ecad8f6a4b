//! `/imagine`: the app checks the prompt and that a backend can draw it (from memory, but for
//! the member's queue count), the interaction is acknowledged at once, then the task(s) are
//! queued and the message follows each task through message delivery.

use poise::serenity_prelude as serenity;

use super::{fetch_attachment, refuse_after_defer};
use crate::app::{References, Ticket};
use crate::discord::who::requester;
use crate::discord::{BotError, SlashContext, reply_ephemeral};

/// Create images from a prompt (Midjourney syntax: --ar 3:2, --seed 42, --no text, {a, b}…)
#[poise::command(slash_command)]
pub async fn imagine(
    ctx: SlashContext<'_>,
    #[description = "What to draw, with parameters such as --ar 3:2"]
    #[max_length = 6000]
    prompt: String,
    #[description = "Which model draws it (default: the least busy one that can)"]
    #[autocomplete = "model_choices"]
    #[max_length = 64]
    model: Option<String>,
    #[description = "An image to start from (an image prompt)"] image: Option<serenity::Attachment>,
    #[description = "An image whose style to follow (a style reference)"] style: Option<serenity::Attachment>,
) -> Result<(), BotError> {
    let data = ctx.data();
    let attached = Attached { image, style };
    if let Some(wrong) = attached.not_an_image() {
        return reply_ephemeral(ctx, &wrong).await;
    }
    // A bad prompt is answered privately, before anything public happens.
    let who = requester(ctx, true);
    let mut ticket =
        match data.app.check_imagine_with(&prompt, model.as_deref(), &who, &attached.refs()).await {
            Ok(ticket) => ticket,
            Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
        };
    if ticket.private() {
        return private(ctx, ticket, attached).await;
    }
    let started = std::time::Instant::now();
    if let Err(e) = poise::Context::Application(ctx).defer().await {
        data.app.abandon(ticket).await;
        return Err(e.into());
    }
    metrics::histogram!("easel_initial_response_seconds").record(started.elapsed().as_secs_f64());
    // Attachments are fetched (and checked like /blend's) after the deferral: a download can
    // take longer than Discord's 3 s to acknowledge.
    match attached.fetch(ctx).await {
        Ok(inputs) => ticket.attach(inputs),
        Err(why) => {
            data.app.abandon(ticket).await;
            return refuse_after_defer(ctx, &why).await;
        }
    }
    let tasks = match data.app.queue(ticket).await {
        Ok(tasks) => tasks,
        // Nothing was queued: take the public "thinking…" message away and explain privately.
        Err(e) => return refuse_after_defer(ctx, &BotError::from(e).for_member()).await,
    };
    // The first prompt fills the deferred response; it must be there before any follow-up,
    // or Discord would let the first follow-up take its place.
    data.sink.deliver_now(tasks[0].id).await?;
    for task in &tasks[1..] {
        data.sink.follow_up(&ctx.interaction.token, task).await?;
    }
    Ok(())
}

/// Private mode: a private acknowledgement here, and the task's messages in the member's DMs.
async fn private(ctx: SlashContext<'_>, mut ticket: Ticket, attached: Attached) -> Result<(), BotError> {
    let data = ctx.data();
    if attached.each().next().is_some() {
        // Downloads may outlast Discord's 3 s; the private answer follows the deferral.
        ctx.defer_ephemeral().await?;
        match attached.fetch(ctx).await {
            Ok(inputs) => ticket.attach(inputs),
            Err(why) => {
                data.app.abandon(ticket).await;
                return reply_ephemeral(ctx, &why).await;
            }
        }
    }
    let dm = match data.sink.open_dm(&ctx.interaction.user.id.to_string()).await {
        Ok(dm) => dm,
        Err(e) => {
            tracing::warn!(error = %e, "could not open a DM for private mode");
            data.app.abandon(ticket).await;
            return reply_ephemeral(
                ctx,
                "Private mode is on, but I can't send you direct messages. Allow DMs from this \
                 server's members, or turn private mode off in /settings.",
            )
            .await;
        }
    };
    reply_ephemeral(ctx, "🔒 Private mode: your images will arrive in your DMs.").await?;
    ticket.deliver_to_channel(dm.clone());
    let tasks = match data.app.queue(ticket).await {
        Ok(tasks) => tasks,
        Err(e) => return reply_ephemeral(ctx, &BotError::from(e).for_member()).await,
    };
    for task in &tasks {
        data.sink.post_to_channel(task.id, &dm).await?;
    }
    Ok(())
}

/// The images attached as /imagine's `image` and `style` options.
struct Attached {
    image: Option<serenity::Attachment>,
    style: Option<serenity::Attachment>,
}

impl Attached {
    fn each(&self) -> impl Iterator<Item = (&'static str, &serenity::Attachment)> {
        [("image", &self.image), ("style", &self.style)]
            .into_iter()
            .filter_map(|(n, a)| Some((n, a.as_ref()?)))
    }

    /// A file Discord itself says is not an image is refused before anything else.
    fn not_an_image(&self) -> Option<String> {
        self.each().find_map(|(option, a)| {
            let kind = a.content_type.as_deref()?;
            (!kind.starts_with("image/")).then(|| {
                format!(
                    "The `{option}` option needs an image (PNG, JPEG, WebP or GIF); `{}` is {kind}.",
                    a.filename
                )
            })
        })
    }

    fn refs(&self) -> References {
        References {
            image: self.image.as_ref().map(|a| a.url.clone()),
            style: self.style.as_ref().map(|a| a.url.clone()),
        }
    }

    /// Downloads each attachment with /blend's checks, `image` first; the error names the option.
    async fn fetch(&self, ctx: SlashContext<'_>) -> Result<Vec<bytes::Bytes>, String> {
        let mut inputs = Vec::new();
        for (option, attachment) in self.each() {
            match fetch_attachment(ctx.data(), attachment).await {
                Ok(image) => inputs.push(image.bytes),
                Err(e) => return Err(format!("The `{option}` image: {e}")),
            }
        }
        Ok(inputs)
    }
}

/// Suggests the backends and aliases that can draw, matching what has been typed.
async fn model_choices(ctx: SlashContext<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let choices =
        ctx.data().app.model_choices(partial).into_iter().map(serenity::AutocompleteChoice::from).collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}
