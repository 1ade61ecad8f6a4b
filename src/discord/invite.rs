//! The link that adds Easel to a server, with the scopes and permissions it needs; logged at
//! start while the bot is in no server yet, so a first run says what to do next.

/// What Easel does in a channel, as Discord permission bits:
///
/// | bit | permission | why |
/// |---|---|---|
/// | 1 << 10 = 1024 | View Channels | see the channels it answers in |
/// | 1 << 11 = 2048 | Send Messages | results posted to the channel once an interaction expires |
/// | 1 << 14 = 16384 | Embed Links | links in answers (/info, /queue) unfold |
/// | 1 << 15 = 32768 | Attach Files | the grid and the upscaled images |
/// | 1 << 16 = 65536 | Read Message History | edit and reply to its own earlier messages |
/// | 1 << 18 = 262144 | Use External Emojis | the buttons' and panels' emoji |
/// | 1 << 38 = 274877906944 | Send Messages in Threads | `allowed_channels` may be threads |
///
/// Sum: 274878286848. Nothing more: Easel moderates nothing and manages nothing.
pub const PERMISSIONS: u64 =
    (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 38);

/// `bot` puts the bot user in the server; `applications.commands` lets it register its slash
/// commands there.
const SCOPES: &str = "bot+applications.commands";

/// The URL a server admin opens to add the bot with application id `application_id`.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope={SCOPES}&permissions={PERMISSIONS}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use poise::serenity_prelude::Permissions;

    #[test]
    fn the_invite_asks_for_what_easel_uses_and_nothing_more() {
        assert_eq!(
            invite_url(1234),
            "https://discord.com/oauth2/authorize?client_id=1234&scope=bot+applications.commands\
             &permissions=274878286848"
        );
        let named = Permissions::VIEW_CHANNEL
            | Permissions::SEND_MESSAGES
            | Permissions::EMBED_LINKS
            | Permissions::ATTACH_FILES
            | Permissions::READ_MESSAGE_HISTORY
            | Permissions::USE_EXTERNAL_EMOJIS
            | Permissions::SEND_MESSAGES_IN_THREADS;
        assert_eq!(PERMISSIONS, named.bits(), "the comment's table and serenity's names agree");
    }
}
