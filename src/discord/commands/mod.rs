//! The slash commands, one file each; this list is what gets registered with Discord.

pub mod imagine;

use super::{BotError, Data};

pub fn all() -> Vec<poise::Command<Data, BotError>> {
    vec![imagine::imagine()]
}
