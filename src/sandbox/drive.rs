//! Playing the users' side: adding members, uploading files, and dispatching slash commands and
//! button clicks to the connected bot. Shared by the Rust API ([`super::Sandbox`]) and the HTTP
//! control API, so both refuse the same impossible actions (a click on a button that is not
//! there, or disabled, or on a message the user cannot see).

use anyhow::{Context, anyhow, bail, ensure};
use bytes::Bytes;
use serde_json::Value;

use super::events::{self, Place, SlashPayload};
use super::limits::CALLBACK_DEADLINE;
use super::model::{
    Attachment, CommandOption, InteractionKind, InteractionRecord, OptionValue, RouteKind, ViolationKind,
};
use super::state::{Inner, Interaction, User, World};

impl Inner {
    pub(crate) fn add_user(&self, name: &str, bot: bool) -> u64 {
        self.add_member(name, bot, Vec::new(), false)
    }

    pub(crate) fn add_member(&self, name: &str, bot: bool, roles: Vec<u64>, admin: bool) -> u64 {
        self.add_member_with(name, bot, roles, admin, None)
    }

    /// A member whose guild permissions are exactly `permissions` (when given).
    pub(crate) fn add_member_with(
        &self,
        name: &str,
        bot: bool,
        roles: Vec<u64>,
        admin: bool,
        permissions: Option<u64>,
    ) -> u64 {
        let id = self.clock.snowflake();
        let joined_at = self.now();
        let user = User { id, name: name.to_owned(), bot, joined_at, roles, admin, permissions };
        self.write(|w| w.users.insert(id, user));
        id
    }

    /// A guild text channel, or the DM channel `channel_id` is.
    fn place_of(&self, w: &World, channel_id: u64) -> Place {
        match w.is_guild_channel(self.config.channel_id, channel_id) {
            true => Place::Guild { channel_id },
            false => Place::Dm { channel_id },
        }
    }

    /// Another text channel in the guild; a connected bot hears CHANNEL_CREATE, as Discord
    /// sends it to bots with the GUILDS intent.
    pub(crate) fn add_channel(&self, name: &str) -> u64 {
        let id = self.clock.snowflake();
        self.write(|w| {
            w.channels.push((id, name.to_owned()));
            let data = events::channel(self, w, id);
            w.dispatch("CHANNEL_CREATE", data);
        });
        id
    }

    pub(crate) fn upload(&self, filename: &str, content_type: &str, bytes: Bytes) -> Attachment {
        let ct = (!content_type.is_empty()).then(|| content_type.to_owned());
        self.write(|w| self.store_blob(w, filename, ct, bytes, None))
    }

    fn new_interaction(
        &self,
        w: &mut World,
        user_id: u64,
        kind: InteractionKind,
        place: Place,
    ) -> (u64, String) {
        let (Place::Guild { channel_id } | Place::Dm { channel_id }) = place;
        let id = self.clock.snowflake();
        let token = format!("aW50ZXJhY3Rpb24.{id:x}.{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let record = InteractionRecord {
            id,
            token: token.clone(),
            user_id,
            channel_id,
            kind,
            dispatched_at: self.now(),
            callback: None,
            original_message_id: None,
            followup_ids: Vec::new(),
            events: Vec::new(),
            modal: None,
            choices: None,
        };
        w.interactions.insert(id, Interaction { record, expired_unanswered: false });
        w.tokens.insert(token.clone(), id);
        w.stats.interactions_dispatched += 1;
        (id, token)
    }

    pub(crate) fn slash(&self, user: u64, command: &str, options: Vec<CommandOption>) -> anyhow::Result<u64> {
        self.slash_in(user, self.config.channel_id, command, options)
    }

    /// The member runs `command` in guild text channel `channel`.
    pub(crate) fn slash_in(
        &self,
        user: u64,
        channel: u64,
        command: &str,
        options: Vec<CommandOption>,
    ) -> anyhow::Result<u64> {
        self.write(|w| {
            ensure!(
                w.is_guild_channel(self.config.channel_id, channel),
                "channel {channel} is not a text channel of the guild (use add_channel)"
            );
            let place = Place::Guild { channel_id: channel };
            // While the bot is briefly disconnected the dispatch waits in the session log for RESUME.
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let cmd = w
                .commands()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(command))
                .cloned()
                .with_context(|| format!("the bot has not registered a command named {command:?}"))?;
            check_visible(w, &cmd, user)?;
            check_options(w, &cmd, &options)?;
            let kind = InteractionKind::Command { name: command.to_owned(), options: options.clone() };
            let (id, token) = self.new_interaction(w, user, kind, place);
            let payload = SlashPayload { id, token: &token, user, command: &cmd, options: &options, place };
            let data = events::slash_interaction(self, w, &payload);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    /// The user runs `command` in their DM with the bot. Discord offers only global commands
    /// there, and only those whose `contexts` include BOT_DM (1) (none given = every context)
    /// and that do not say `dm_permission: false`.
    pub(crate) fn slash_dm(
        &self,
        user: u64,
        command: &str,
        options: Vec<CommandOption>,
    ) -> anyhow::Result<u64> {
        self.write(|w| {
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let cmd = w
                .global_commands
                .iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(command))
                .cloned()
                .with_context(|| {
                    format!("the bot has no global command named {command:?}; guild commands are not offered in DMs")
                })?;
            let contexts = cmd.get("contexts").and_then(Value::as_array);
            ensure!(
                contexts.is_none_or(|c| c.iter().any(|x| x.as_u64() == Some(1))),
                "/{command} is registered with contexts {contexts:?}, without BOT_DM (1): Discord does not offer it in DMs"
            );
            ensure!(
                cmd.get("dm_permission").and_then(Value::as_bool) != Some(false),
                "/{command} is registered with dm_permission false: Discord does not offer it in DMs"
            );
            check_options(w, &cmd, &options)?;
            let next = self.clock.snowflake();
            let channel_id = *w.dm_channels.entry(user).or_insert(next);
            let place = Place::Dm { channel_id };
            let kind = InteractionKind::Command { name: command.to_owned(), options: options.clone() };
            let (id, token) = self.new_interaction(w, user, kind, place);
            let payload = SlashPayload { id, token: &token, user, command: &cmd, options: &options, place };
            let data = events::slash_interaction(self, w, &payload);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    /// The server lets `user` use `command` whatever its default permissions, as an admin can
    /// in Server Settings → Integrations.
    pub(crate) fn grant_command(&self, command: &str, user: u64) {
        self.write(|w| w.command_grants.push((command.to_owned(), user)));
    }

    /// The member types into option `focused` (its partial value is among `options`).
    pub(crate) fn autocomplete(
        &self,
        user: u64,
        command: &str,
        options: Vec<CommandOption>,
        focused: &str,
    ) -> anyhow::Result<u64> {
        self.write(|w| {
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let cmd = w
                .commands()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(command))
                .cloned()
                .with_context(|| format!("the bot has not registered a command named {command:?}"))?;
            let declared = cmd.get("options").and_then(Value::as_array).cloned().unwrap_or_default();
            let option = declared
                .iter()
                .find(|o| o.get("name").and_then(Value::as_str) == Some(focused))
                .with_context(|| format!("/{command} has no option {focused:?}"))?;
            ensure!(
                option.get("autocomplete").and_then(Value::as_bool) == Some(true),
                "option {focused:?} of /{command} was not registered with autocomplete"
            );
            ensure!(
                options.iter().any(|o| o.name == focused),
                "the focused option {focused:?} needs a value"
            );
            let kind =
                InteractionKind::Autocomplete { name: command.to_owned(), focused: focused.to_owned() };
            let (id, token) =
                self.new_interaction(w, user, kind, Place::Guild { channel_id: self.config.channel_id });
            let payload = SlashPayload {
                id,
                token: &token,
                user,
                command: &cmd,
                options: &options,
                place: Place::Guild { channel_id: self.config.channel_id },
            };
            let data = events::autocomplete_interaction(self, w, &payload, focused);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    /// A click of `custom_id` on `message_id`; `forged` skips the check that the message has
    /// that button, as a tampered client's request would.
    pub(crate) fn click(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
        forged: bool,
    ) -> anyhow::Result<u64> {
        self.write(|w| {
            // While the bot is briefly disconnected the dispatch waits in the session log for RESUME.
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let msg = w.message(message_id).cloned().with_context(|| format!("no message {message_id}"))?;
            ensure!(msg.visible_to(user), "message {message_id} is ephemeral for another user");
            if !forged {
                let button = msg.button_by_id(custom_id).ok_or_else(|| {
                    anyhow!(
                        "message {message_id} has no button with custom_id {custom_id:?} (it has {:?})",
                        msg.custom_ids()
                    )
                })?;
                ensure!(!button.disabled, "button {custom_id:?} on message {message_id} is disabled");
            }
            // A message outside the guild channel is in someone's DM with the bot.
            let place = if w.is_guild_channel(self.config.channel_id, msg.channel_id) {
                Place::Guild { channel_id: msg.channel_id }
            } else {
                ensure!(
                    w.dm_channels.get(&user) == Some(&msg.channel_id),
                    "message {message_id} is in another user's DM with the bot"
                );
                Place::Dm { channel_id: msg.channel_id }
            };
            let kind = InteractionKind::Component { custom_id: custom_id.to_owned(), message_id };
            let (id, token) = self.new_interaction(w, user, kind, place);
            let data = events::component_interaction(self, w, (id, &token, user), custom_id, &msg, place);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    /// The member picks `values` in the select menu `custom_id` on `message_id`.
    pub(crate) fn select(
        &self,
        user: u64,
        message_id: u64,
        custom_id: &str,
        values: &[&str],
    ) -> anyhow::Result<u64> {
        self.write(|w| {
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let msg = w.message(message_id).cloned().with_context(|| format!("no message {message_id}"))?;
            ensure!(msg.visible_to(user), "message {message_id} is ephemeral for another user");
            let menu = msg
                .components
                .iter()
                .flat_map(|r| r.others.iter())
                .find(|c| c["type"] == 3 && c["custom_id"] == custom_id)
                .cloned()
                .with_context(|| format!("message {message_id} has no select menu {custom_id:?}"))?;
            let offered: Vec<&str> = menu["options"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["value"].as_str())
                .collect();
            for v in values {
                ensure!(offered.contains(v), "select {custom_id:?} offers {offered:?}, not {v:?}");
            }
            let (min, max) =
                (menu["min_values"].as_u64().unwrap_or(1), menu["max_values"].as_u64().unwrap_or(1));
            ensure!(
                (min..=max).contains(&(values.len() as u64)),
                "select {custom_id:?} takes {min} to {max} values"
            );
            let place = self.place_of(w, msg.channel_id);
            let kind = InteractionKind::Component { custom_id: custom_id.to_owned(), message_id };
            let (id, token) = self.new_interaction(w, user, kind, place);
            let mut data = events::component_interaction(self, w, (id, &token, user), custom_id, &msg, place);
            data["data"] = serde_json::json!({"custom_id": custom_id, "component_type": 3, "values": values});
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    /// The member fills in and submits the form the bot opened in answer to `interaction`.
    pub(crate) fn submit_modal(
        &self,
        user: u64,
        interaction: u64,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<u64> {
        self.write(|w| {
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            let opened = w.interactions.get(&interaction).map(|i| i.record.clone()).with_context(|| format!("no interaction {interaction}"))?;
            ensure!(opened.user_id == user, "interaction {interaction} was not {user}'s");
            let modal = opened.modal.clone().with_context(|| format!("the bot opened no form for interaction {interaction}"))?;
            let inputs: Vec<Value> = modal["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                .collect();
            for (field, _) in fields {
                ensure!(inputs.iter().any(|i| i["custom_id"] == *field), "the form has no field {field:?}");
            }
            for i in &inputs {
                let required = i["required"].as_bool().unwrap_or(true);
                let id = i["custom_id"].as_str().unwrap_or_default();
                ensure!(!required || fields.iter().any(|(f, v)| *f == id && !v.is_empty()), "required field {id:?} is empty");
            }
            let custom_id = modal["custom_id"].as_str().unwrap_or_default().to_owned();
            let message_id = match opened.kind {
                InteractionKind::Component { message_id, .. } => Some(message_id),
                _ => None,
            };
            let msg = message_id.and_then(|m| w.message(m).cloned());
            let place = self.place_of(w, opened.channel_id);
            let kind = InteractionKind::Modal { custom_id: custom_id.clone(), message_id };
            let (id, token) = self.new_interaction(w, user, kind, place);
            let rows: Vec<Value> = fields
                .iter()
                .map(|(f, v)| serde_json::json!({"type": 1, "components": [{"type": 4, "custom_id": f, "value": v}]}))
                .collect();
            let data =
                events::modal_interaction(self, w, (id, &token, user), &custom_id, rows, msg.as_ref(), place);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    /// Records a violation for every interaction whose 3 s passed with no callback, once each.
    /// Called whenever violations are read or the clock moves, so a bot that never answers
    /// shows up without a background timer.
    pub(crate) fn sweep_deadlines(&self) {
        let now = self.now();
        let overdue: Vec<u64> = self.read(|w| {
            w.interactions
                .values()
                .filter(|i| i.record.callback.is_none() && !i.expired_unanswered)
                .filter(|i| now.saturating_sub(i.record.dispatched_at) > CALLBACK_DEADLINE)
                .map(|i| i.record.id)
                .collect()
        });
        if overdue.is_empty() {
            return;
        }
        self.write(|w| {
            for id in overdue {
                let Some(i) = w.interactions.get_mut(&id) else { continue };
                i.expired_unanswered = true;
                let v = self.violation(
                    ViolationKind::LateCallback,
                    format!("no callback within 3 s of dispatch for interaction {id}"),
                    RouteKind::InteractionCallback,
                    Some(id),
                    0,
                    10062,
                );
                w.violate(v);
            }
        });
    }
}

/// Discord's client offers a command registered with `default_member_permissions` only to
/// members who have all of those permissions (Administrator counts as all; `"0"` means admins
/// only), unless the server granted the command to them.
fn check_visible(w: &World, cmd: &Value, user: u64) -> anyhow::Result<()> {
    const ADMINISTRATOR: u64 = 1 << 3;
    let Some(required) = cmd.get("default_member_permissions").and_then(Value::as_str) else {
        return Ok(());
    };
    let required: u64 = required.parse().context("default_member_permissions is not a number")?;
    let name = cmd.get("name").and_then(Value::as_str).unwrap_or_default();
    if w.command_grants.iter().any(|(c, u)| c == name && *u == user) {
        return Ok(());
    }
    let has: u64 = w.user(user).map(|u| u.permissions()).unwrap_or(0);
    let shown = has & ADMINISTRATOR != 0 || (required != 0 && has & required == required);
    ensure!(
        shown,
        "/{name} is hidden from user {user}: it was registered with default_member_permissions \
         {required} and the member lacks some of them (Discord's client would not offer it)"
    );
    Ok(())
}

/// Options must exist on the registered command with the same type, and required ones must be
/// given, so a test cannot send what Discord's client never would.
fn check_options(w: &World, cmd: &Value, given: &[CommandOption]) -> anyhow::Result<()> {
    let declared = cmd.get("options").and_then(Value::as_array).cloned().unwrap_or_default();
    for o in given {
        let Some(d) =
            declared.iter().find(|d| d.get("name").and_then(Value::as_str) == Some(o.name.as_str()))
        else {
            bail!("command has no option {:?}", o.name);
        };
        let want = d.get("type").and_then(Value::as_u64).unwrap_or(0);
        ensure!(
            want == u64::from(o.value.kind()),
            "option {:?} has type {want}, not {}",
            o.name,
            o.value.kind()
        );
        match &o.value {
            OptionValue::Attachment(id) => {
                ensure!(w.blobs.contains_key(id), "attachment {id} was not uploaded")
            }
            OptionValue::User(id) => ensure!(w.users.contains_key(id), "user {id} is not a member"),
            OptionValue::Subcommand(nested) | OptionValue::Group(nested) => check_options(w, d, nested)?,
            _ => {}
        }
    }
    for d in &declared {
        let name = d.get("name").and_then(Value::as_str).unwrap_or("");
        let required = d.get("required").and_then(Value::as_bool).unwrap_or(false);
        ensure!(!required || given.iter().any(|o| o.name == name), "required option {name:?} is missing");
    }
    Ok(())
}
