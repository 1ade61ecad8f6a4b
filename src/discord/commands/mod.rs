//! The slash commands, one file each; this list is what gets registered with Discord.

pub mod blend;
pub mod cancel;
pub mod describe;
pub mod easel;
pub mod favorites;
pub mod imagine;
pub mod info;
pub mod prefer;
pub mod queue;
pub mod settings;
pub mod show;

use poise::serenity_prelude as serenity;

use super::{BotError, Data, SlashContext, reply_ephemeral};
use crate::imaging::{DownloadError, Downloaded};

pub fn all() -> Vec<poise::Command<Data, BotError>> {
    vec![
        imagine::imagine(),
        blend::blend(),
        describe::describe(),
        info::info(),
        show::show(),
        favorites::favorites(),
        queue::queue(),
        cancel::cancel(),
        settings::settings(),
        prefer::prefer(),
        easel::easel(),
    ]
}

/// An attachment option's file, fetched with Discord's declared size checked first.
pub(crate) async fn fetch_attachment(
    data: &Data,
    attachment: &serenity::Attachment,
) -> Result<Downloaded, DownloadError> {
    data.app.downloader.attachment(&attachment.url, Some(attachment.size as u64)).await
}

/// After a deferral, a member's mistake must not stay as a public "thinking…" message: take
/// it away and explain privately.
pub(crate) async fn refuse_after_defer(ctx: SlashContext<'_>, text: &str) -> Result<(), BotError> {
    ctx.data().sink.withdraw_original(&ctx.interaction.token).await;
    reply_ephemeral(ctx, text).await
}
