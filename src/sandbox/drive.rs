//! Playing the users' side: adding members, uploading files, and dispatching slash commands and
//! button clicks to the connected bot. Shared by the Rust API ([`super::Sandbox`]) and the HTTP
//! control API, so both refuse the same impossible actions (a click on a button that is not
//! there, or disabled, or on a message the user cannot see).

use anyhow::{Context, anyhow, bail, ensure};
use bytes::Bytes;
use serde_json::Value;

use super::events::{self, SlashPayload};
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
        let id = self.clock.snowflake();
        let joined_at = self.now();
        self.write(|w| w.users.insert(id, User { id, name: name.to_owned(), bot, joined_at, roles, admin }));
        id
    }

    pub(crate) fn upload(&self, filename: &str, content_type: &str, bytes: Bytes) -> Attachment {
        let ct = (!content_type.is_empty()).then(|| content_type.to_owned());
        self.write(|w| self.store_blob(w, filename, ct, bytes, None))
    }

    fn new_interaction(&self, w: &mut World, user_id: u64, kind: InteractionKind) -> (u64, String) {
        let id = self.clock.snowflake();
        let token = format!("aW50ZXJhY3Rpb24.{id:x}.{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let record = InteractionRecord {
            id,
            token: token.clone(),
            user_id,
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
        self.write(|w| {
            // While the bot is briefly disconnected the dispatch waits in the session log for RESUME.
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let cmd = w
                .commands()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(command))
                .cloned()
                .with_context(|| format!("the bot has not registered a command named {command:?}"))?;
            check_options(w, &cmd, &options)?;
            let kind = InteractionKind::Command { name: command.to_owned(), options: options.clone() };
            let (id, token) = self.new_interaction(w, user, kind);
            let payload = SlashPayload { id, token: &token, user, command: &cmd, options: &options };
            let data = events::slash_interaction(self, w, &payload);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
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
            let (id, token) = self.new_interaction(w, user, kind);
            let payload = SlashPayload { id, token: &token, user, command: &cmd, options: &options };
            let data = events::autocomplete_interaction(self, w, &payload, focused);
            w.dispatch("INTERACTION_CREATE", data);
            Ok(id)
        })
    }

    pub(crate) fn click(&self, user: u64, message_id: u64, custom_id: &str) -> anyhow::Result<u64> {
        self.write(|w| {
            // While the bot is briefly disconnected the dispatch waits in the session log for RESUME.
            ensure!(w.session.is_some(), "no bot has a gateway session (none has IDENTIFYed)");
            ensure!(w.users.contains_key(&user), "user {user} is not a member (use add_user)");
            let msg = w.message(message_id).cloned().with_context(|| format!("no message {message_id}"))?;
            ensure!(msg.visible_to(user), "message {message_id} is ephemeral for another user");
            let button = msg.button_by_id(custom_id).ok_or_else(|| {
                anyhow!(
                    "message {message_id} has no button with custom_id {custom_id:?} (it has {:?})",
                    msg.custom_ids()
                )
            })?;
            ensure!(!button.disabled, "button {custom_id:?} on message {message_id} is disabled");
            let kind = InteractionKind::Component { custom_id: custom_id.to_owned(), message_id };
            let (id, token) = self.new_interaction(w, user, kind);
            let data = events::component_interaction(self, w, (id, &token, user), custom_id, &msg);
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
            let kind = InteractionKind::Component { custom_id: custom_id.to_owned(), message_id };
            let (id, token) = self.new_interaction(w, user, kind);
            let mut data = events::component_interaction(self, w, (id, &token, user), custom_id, &msg);
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
            let kind = InteractionKind::Modal { custom_id: custom_id.clone(), message_id };
            let (id, token) = self.new_interaction(w, user, kind);
            let rows: Vec<Value> = fields
                .iter()
                .map(|(f, v)| serde_json::json!({"type": 1, "components": [{"type": 4, "custom_id": f, "value": v}]}))
                .collect();
            let data = events::modal_interaction(self, w, (id, &token, user), &custom_id, rows, msg.as_ref());
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
