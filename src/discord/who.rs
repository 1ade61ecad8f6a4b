//! Who is asking: an interaction's member as the app's [`Requester`] — their id, roles and
//! admin rights (for quotas and the gate), and where the answer goes.

use poise::serenity_prelude as serenity;

use super::SlashContext;
use super::sink::TOKEN_LIFETIME;
use crate::app::Requester;
use crate::base::{MessageRef, now_ms};

/// A slash command's member; the answer is the interaction's own response (`original`) or,
/// later, a follow-up.
pub fn requester(ctx: SlashContext<'_>, original: bool) -> Requester {
    let i = ctx.interaction;
    let message = MessageRef {
        interaction_token: Some(i.token.clone()),
        token_expires_at: Some(now_ms() + TOKEN_LIFETIME.as_millis() as i64),
        message_id: None,
        original,
    };
    Requester { message, ..member(&i.user, i.guild_id, i.channel_id, i.member.as_deref()) }
}

/// Who pressed a button, and where; the new task's message is created later as a follow-up.
pub fn presser(ci: &serenity::ComponentInteraction) -> Requester {
    let pressed_on = Some(ci.message.id.to_string());
    Requester { pressed_on, ..member(&ci.user, ci.guild_id, ci.channel_id, ci.member.as_ref()) }
}

/// Who submitted a form (remix), and where.
pub fn modal_presser(mi: &serenity::ModalInteraction) -> Requester {
    // The form was opened by a press on a task's message; Discord names that message here.
    let pressed_on = Some(mi.message.as_ref().map(|m| m.id.to_string()).unwrap_or_default());
    Requester { pressed_on, ..member(&mi.user, mi.guild_id, mi.channel_id, mi.member.as_ref()) }
}

fn member(
    user: &serenity::User,
    guild: Option<serenity::GuildId>,
    channel: serenity::ChannelId,
    member: Option<&serenity::Member>,
) -> Requester {
    Requester {
        user_id: user.id.to_string(),
        guild_id: guild.map(|g| g.to_string()),
        channel_id: Some(channel.to_string()),
        message: MessageRef::default(),
        roles: member.map(|m| m.roles.iter().map(|r| r.get()).collect()).unwrap_or_default(),
        admin: is_admin(member),
        moderator: is_moderator(member),
        private_results: false,
        pressed_on: None,
    }
}

/// Whether a member may use admin powers here: Manage Server (Administrator implies it).
pub fn is_admin(member: Option<&serenity::Member>) -> bool {
    member.and_then(|m| m.permissions).is_some_and(|p| p.manage_guild() || p.administrator())
}

/// Whether a member may manage others' results here: Manage Messages, or admin powers.
pub fn is_moderator(member: Option<&serenity::Member>) -> bool {
    is_admin(member) || member.and_then(|m| m.permissions).is_some_and(|p| p.manage_messages())
}
