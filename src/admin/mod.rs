//! Who may use Easel, where, and how much: the one gate every new task passes ([`Gate`]),
//! quotas by role (`quota`), the banned-word filter (`moderation`) and the admin tables
//! (`store`: pause, bans, quota overrides, the prompt audit). The gate checks, in order: direct
//! messages and the guild and channel allow-lists, bans, the pause switch, banned words, the
//! daily quota — and an audit row is written for every prompt that asked for new work.

mod gate;
pub mod moderation;
pub mod quota;

pub use gate::{AUDIT_PROMPT_CHARS, Gate};

use crate::base::MessageRef;
use crate::db::AuditEntry;
use quota::Quota;

/// Who asked, and where the answer goes.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    pub user_id: String,
    /// `None` in a direct message with the bot.
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub message: MessageRef,
    /// The member's role ids in that guild (for quotas by role).
    pub roles: Vec<u64>,
    /// The member may use admin powers there (Manage Server or Administrator).
    pub admin: bool,
    /// The member may manage others' messages there (Manage Messages, or admin powers): they
    /// may show and delete anyone's results.
    pub moderator: bool,
    /// A press on the member's own private-mode results in their DMs: the work began in a
    /// server that admitted it, so the no-DMs rule does not apply.
    pub private_results: bool,
    /// A button press (or the form it opened): the id of the message it was pressed on,
    /// which must be the message of the task it names. `None` for commands.
    pub pressed_on: Option<String>,
}

/// What a member asks the gate for.
#[derive(Debug, Clone, Copy)]
pub enum Ask<'a> {
    /// A command that starts no work (/info, /queue, /cancel, the Cancel button): only where
    /// and who are checked, and nothing is audited.
    Use,
    /// New tasks: `tasks` of them (a permutation makes several), from `command` (`imagine`,
    /// `blend`, `describe`, `button`), with the member's prompt ("" when there is none).
    Create { command: &'a str, prompt: &'a str, tasks: u32 },
}

impl<'a> Ask<'a> {
    pub fn create(command: &'a str, prompt: &'a str, tasks: u32) -> Ask<'a> {
        Ask::Create { command, prompt, tasks }
    }
}

/// The gate let the member through, under this quota. A request for new work carries its
/// audit row, written by [`Gate::record`] once the member has been answered.
#[derive(Debug)]
pub struct Admission {
    pub quota: Quota,
    audit: Option<AuditEntry>,
}

/// What came of an admitted request, for its audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its tasks were queued.
    Accepted,
    /// A check after the gate turned it down, for this reason (a short stable code).
    Refused(String),
    /// Easel gave up after answering (an attachment could not be fetched, Discord did not
    /// take the acknowledgement): nothing was queued.
    Abandoned,
}

/// Why the gate refused, in words for the member (shown privately).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "Easel doesn't take commands in direct messages on this bot. Use it in a server channel \
         where the bot is."
    )]
    DirectMessages,
    #[error("Easel isn't enabled in this server. An admin can add it to `discord.allowed_guilds`.")]
    Guild,
    #[error("Easel can't be used in this channel. Try {}.", channel_list(.allowed))]
    Channel { allowed: Vec<u64> },
    #[error("An admin has barred you from using Easel. Ask a server admin if you think this is a mistake.")]
    Banned,
    #[error(
        "Easel is paused by an admin: it isn't taking new images right now. Tasks already running \
         will finish; please try again later."
    )]
    Paused,
    #[error(
        "Your prompt was not accepted: `{word}` is not allowed on this server. Take it out or \
         reword it, and try again."
    )]
    BannedWord { word: String },
    #[error(
        "{} Your quota resets at 00:00 UTC (<t:{}:R>).",
        over_limit_text(*.used, *.limit, *.asked),
        .resets_at / 1000
    )]
    DailyLimit { used: u32, limit: u32, asked: u32, resets_at: i64 },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Refusal {
    /// A short, stable reason for the audit and logs (`banned-word:gore`).
    pub fn code(&self) -> String {
        match self {
            Refusal::DirectMessages => "dms-off".into(),
            Refusal::Guild => "guild-not-allowed".into(),
            Refusal::Channel { .. } => "channel-not-allowed".into(),
            Refusal::Banned => "banned-member".into(),
            Refusal::Paused => "paused".into(),
            Refusal::BannedWord { word } => format!("banned-word:{word}"),
            Refusal::DailyLimit { used, limit, .. } => format!("daily-limit:{used}/{limit}"),
            Refusal::Internal(_) => "internal".into(),
        }
    }
}

fn channel_list(allowed: &[u64]) -> String {
    let mut shown: Vec<String> = allowed.iter().take(5).map(|c| format!("<#{c}>")).collect();
    if allowed.len() > 5 {
        shown.push(format!("or one of {} others", allowed.len() - 5));
    }
    shown.join(", ")
}

fn over_limit_text(used: u32, limit: u32, asked: u32) -> String {
    if asked <= 1 || used >= limit {
        format!("You have used {used} of your {limit} images for today.")
    } else {
        format!(
            "This asks for {asked} images, and you have used {used} of your {limit} for today, so only \
             {} more fit. Ask for fewer (a shorter {{a, b}} list).",
            limit - used
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_numbers_and_the_word() {
        let r = Refusal::DailyLimit { used: 3, limit: 3, asked: 1, resets_at: 86_400_000 };
        assert_eq!(
            r.to_string(),
            "You have used 3 of your 3 images for today. Your quota resets at 00:00 UTC (<t:86400:R>)."
        );
        assert_eq!(r.code(), "daily-limit:3/3");
        let r = Refusal::DailyLimit { used: 1, limit: 3, asked: 4, resets_at: 0 };
        assert!(r.to_string().contains("This asks for 4 images"), "{r}");
        assert!(r.to_string().contains("only 2 more fit"), "{r}");
        let r = Refusal::BannedWord { word: "Gore".into() };
        assert!(r.to_string().contains("`Gore` is not allowed"), "{r}");
        assert_eq!(r.code(), "banned-word:Gore");
        let r = Refusal::Channel { allowed: vec![1, 2] };
        assert_eq!(r.to_string(), "Easel can't be used in this channel. Try <#1>, <#2>.");
    }
}
