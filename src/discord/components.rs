//! Button custom_ids. A button carries only a version, an action, a task id and an image
//! index — everything else is read from SQLite when it is pressed — so buttons keep working
//! across restarts and ids stay far under Discord's 100-character limit.

use std::fmt;

use poise::serenity_prelude as serenity;
use tracing::warn;

use super::error::BotError;
use super::render::{self, RenderContext};
use super::rest::{Attachments, Outgoing};
use super::{Data, sink};
use crate::admin::Ask;
use crate::app::Requester;
use crate::backends::routing::{Request, Want};
use crate::base::ImageRole;
use crate::base::{MessageRef, Strength, TaskId, TaskKind, TaskState};
use crate::db::{NewTask, SubmitLimits, Task};

/// The custom_id format version; bump it when the format changes so old buttons are
/// recognised as old instead of misread.
const VERSION: &str = "e1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// U1–U4: image `index` (0-based) of the task at full size.
    Upscale { task: TaskId, index: u8 },
    /// V1–V4, Vary (Strong), Vary (Subtle).
    Vary { task: TaskId, index: u8, strength: Strength },
    /// 🔄: the same prompt again with a new seed; on /blend and /describe, the same input
    /// images again.
    Reroll { task: TaskId },
    /// 1–4 under a /describe result: an /imagine of prompt `index` (0-based).
    Prompt { task: TaskId, index: u8 },
    /// Cancel, under a waiting or running task.
    Cancel { task: TaskId },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomIdError {
    #[error("this button comes from another bot or an older version of Easel")]
    Foreign,
    #[error("this button's data is damaged")]
    Garbled,
}

impl ButtonAction {
    pub fn task(&self) -> TaskId {
        match self {
            ButtonAction::Upscale { task, .. }
            | ButtonAction::Vary { task, .. }
            | ButtonAction::Reroll { task }
            | ButtonAction::Prompt { task, .. }
            | ButtonAction::Cancel { task } => *task,
        }
    }

    pub fn parse(custom_id: &str) -> Result<ButtonAction, CustomIdError> {
        let mut parts = custom_id.split(':');
        if parts.next() != Some(VERSION) {
            return Err(CustomIdError::Foreign);
        }
        let (Some(action), Some(task), Some(index), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CustomIdError::Garbled);
        };
        let task: TaskId = task.parse().ok().filter(|t| *t > 0).ok_or(CustomIdError::Garbled)?;
        let index: u8 = index.parse().ok().filter(|i| *i < 4).ok_or(CustomIdError::Garbled)?;
        // Canonical form only: "e1:u:007:0" or "e1:u:7:+0" are not ours.
        if custom_id != ButtonAction::encode_parts(action, task, index) {
            return Err(CustomIdError::Garbled);
        }
        match action {
            "u" => Ok(ButtonAction::Upscale { task, index }),
            "vx" => Ok(ButtonAction::Vary { task, index, strength: Strength::Strong }),
            "vs" => Ok(ButtonAction::Vary { task, index, strength: Strength::Subtle }),
            "r" if index == 0 => Ok(ButtonAction::Reroll { task }),
            "d" => Ok(ButtonAction::Prompt { task, index }),
            "c" if index == 0 => Ok(ButtonAction::Cancel { task }),
            _ => Err(CustomIdError::Garbled),
        }
    }

    fn encode_parts(action: &str, task: TaskId, index: u8) -> String {
        format!("{VERSION}:{action}:{task}:{index}")
    }
}

impl fmt::Display for ButtonAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match *self {
            ButtonAction::Upscale { task, index } => ButtonAction::encode_parts("u", task, index),
            ButtonAction::Vary { task, index, strength: Strength::Strong } => {
                ButtonAction::encode_parts("vx", task, index)
            }
            ButtonAction::Vary { task, index, strength: Strength::Subtle } => {
                ButtonAction::encode_parts("vs", task, index)
            }
            ButtonAction::Reroll { task } => ButtonAction::encode_parts("r", task, 0),
            ButtonAction::Prompt { task, index } => ButtonAction::encode_parts("d", task, index),
            ButtonAction::Cancel { task } => ButtonAction::encode_parts("c", task, 0),
        };
        f.write_str(&s)
    }
}

/// A button press: check it, queue the child task (owned by whoever pressed), acknowledge,
/// turn a used U button green, and post the child's message. Every refusal is private.
pub async fn handle(ctx: &serenity::Context, data: &Data, ci: &serenity::ComponentInteraction) {
    let outcome = match ButtonAction::parse(&ci.data.custom_id) {
        Ok(action) => press(ctx, data, ci, action).await,
        Err(e) => Err(BotError::user(format!(
            "This button can't be used: {e}. Run the command again for fresh buttons."
        ))),
    };
    if let Err(e) = outcome {
        let text = e.for_member();
        let reply = serenity::CreateInteractionResponse::Message(
            serenity::CreateInteractionResponseMessage::new().content(text).ephemeral(true),
        );
        if let Err(e) = ci.create_response(&ctx.http, reply).await {
            warn!(error = %e, custom_id = %ci.data.custom_id, "could not answer a button press");
        }
    }
}

async fn press(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
    action: ButtonAction,
) -> Result<(), BotError> {
    let mut who = super::presser(ci);
    if who.guild_id.is_none() {
        // A button under private-mode results in the member's DMs: the task began in a server.
        let task = data.app.db.task(action.task()).await?;
        who.private_results = task.is_some_and(|t| t.guild_id.is_some() && t.user_id == who.user_id);
    }
    if let ButtonAction::Cancel { task } = action {
        data.app.admit(&who, Ask::Use).await?;
        data.app.engine.cancel(task, &who.user_id, who.admin).await?;
        // The message turns to "Canceled" through the task's own update.
        ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await?;
        return Ok(());
    }
    let store = &data.app.db;
    let parent = store.task(action.task()).await?.ok_or_else(|| {
        BotError::user("The images behind this button are no longer in Easel's records, so it can't be used.")
    })?;
    // The gate before the checks on the parent, so a barred member hears why. A describe
    // result's 1–4 is an /imagine of that prompt, gated (and audited) as one below.
    let admission = match action {
        ButtonAction::Prompt { .. } => None,
        _ => Some(data.app.admit(&who, Ask::create("button", &parent.prompt.canonical(), 1)).await?),
    };
    if parent.state != TaskState::Succeeded {
        return Err(BotError::user("That task did not finish, so its buttons can't be used."));
    }
    let presser = who.user_id.clone();
    if data.app.config.discord.buttons_owner_only && presser != parent.user_id {
        return Err(BotError::user(format!(
            "Only <@{}> can use the buttons on these images.",
            parent.user_id
        )));
    }
    let (kind, inputs) = match action {
        ButtonAction::Prompt { index, .. } => {
            return imagine_described(ctx, data, ci, &parent, index, who).await;
        }
        ButtonAction::Upscale { index, .. } => (TaskKind::Upscale { index }, Vec::new()),
        ButtonAction::Vary { index, strength, .. } => {
            let settings = data.app.db.settings(&presser).await?;
            // V1–V4 under a grid follow the presser's chosen strength; Vary (Strong) and
            // (Subtle) under an upscale say their own.
            let strength = if parent.kind.makes_grid() { settings.strength } else { strength };
            if settings.remix {
                return super::remix::open(ctx, ci, &parent, index, strength).await;
            }
            (TaskKind::Variation { index, strength }, Vec::new())
        }
        // 🔄 under /blend or /describe has no prompt to roll again: it runs the same
        // operation on the same input images, which the store kept with the parent.
        ButtonAction::Reroll { .. } if matches!(parent.kind, TaskKind::Blend | TaskKind::Describe) => {
            (parent.kind, input_images(data, parent.id).await?)
        }
        ButtonAction::Reroll { .. } => (TaskKind::Reroll, Vec::new()),
        // Answered above, before the checks that only results need.
        ButtonAction::Cancel { .. } => return Ok(()),
    };
    let quota = admission.map(|a| a.quota);
    let running_cap = quota.map(|q| q.running_cap);
    let limits = data.app.submit_limits(quota.and_then(|q| q.daily_limit));
    let task =
        queue_child(data, &who, &parent, kind, inputs, parent.prompt.clone(), running_cap, limits).await?;
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await?;
    if let TaskKind::Upscale { .. } = kind {
        // Recolour the grid's buttons, keeping its image: the pressed U turns green.
        let used = store.upscaled_indexes(parent.id).await?;
        let caps = data.app.engine.backends().get(&parent.backend).map(|b| b.capabilities());
        let view =
            render::render(&parent, &RenderContext { caps, used_upscales: used, ..RenderContext::default() });
        let mut msg: Outgoing = sink::outgoing(&parent, &view, None);
        msg.attachments = Attachments::Keep;
        if let Err(e) = data.sink.rest().edit_original(&ci.token, &msg).await {
            warn!(task_id = parent.id, error = %e, "could not mark the upscale button as used");
        }
    }
    data.follow_up(&ci.token, &task).await
}

/// Queues a task made from `parent` (U, V, 🔄, a remix) for `presser`, on the parent's backend
/// while it is up and can serve (U and V on midjourney-proxy must stay there), otherwise on
/// another that works from the image, within the member's chosen model and `limits`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn queue_child(
    data: &Data,
    who: &Requester,
    parent: &Task,
    kind: TaskKind,
    inputs: Vec<bytes::Bytes>,
    prompt: crate::prompt::PromptSpec,
    running_cap: Option<u32>,
    limits: SubmitLimits,
) -> Result<Task, BotError> {
    let route = data
        .app
        .engine
        .route(&Request {
            want: Some(Want::of(&kind)),
            model: parent.model.as_deref(),
            spec: Some(&prompt),
            parent_backend: Some(&parent.backend),
            exclude: &[],
        })
        .await?;
    let mut tasks = data
        .app
        .engine
        .submit_all(
            vec![NewTask {
                kind,
                parent_id: Some(parent.id),
                user_id: who.user_id.clone(),
                guild_id: who.guild_id.clone(),
                channel_id: who.channel_id.clone(),
                prompt,
                backend: route.backend,
                model: route.model,
                seed: fastrand::u32(..),
                // The message is created by the caller, as a follow-up on its interaction.
                message: MessageRef::default(),
                inputs,
                running_cap,
            }],
            limits,
        )
        .await?;
    Ok(tasks.remove(0))
}

/// The input images stored with `task`, in order, as the files the member handed in.
async fn input_images(data: &Data, task: TaskId) -> Result<Vec<bytes::Bytes>, BotError> {
    let engine = &data.app.engine;
    let mut out = Vec::new();
    for image in data.app.db.images(task, ImageRole::Input).await? {
        out.push(engine.storage().read(&image.path).await?);
    }
    if out.is_empty() {
        return Err(BotError::user(
            "The images behind this button are no longer stored, so it can't be used.",
        ));
    }
    Ok(out)
}

/// 1–4 under a /describe result: an /imagine of that prompt, owned by whoever pressed, on the
/// describing backend when it can draw (the buttons are only shown then), else the default.
async fn imagine_described(
    ctx: &serenity::Context,
    data: &Data,
    ci: &serenity::ComponentInteraction,
    parent: &Task,
    index: u8,
    who: crate::app::Requester,
) -> Result<(), BotError> {
    let prompt = parent
        .output_prompts
        .get(index as usize)
        .ok_or_else(|| BotError::user(format!("That description has no prompt #{}.", index + 1)))?;
    let can_draw = data.app.engine.backends().get(&parent.backend).is_some_and(|b| b.capabilities().imagine);
    let backend = can_draw.then_some(parent.backend.as_str());
    // Each message is created below, as a follow-up on this interaction.
    let prepared = data.app.check_imagine(prompt, backend, &who).await?;
    let tasks = data.app.queue_imagine(prepared, &who).await?;
    ci.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge).await?;
    for task in &tasks {
        data.follow_up(&ci.token, task).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_and_fits_in_discords_limit() {
        let actions = [
            ButtonAction::Upscale { task: i64::MAX, index: 3 },
            ButtonAction::Vary { task: 1, index: 0, strength: Strength::Strong },
            ButtonAction::Vary { task: 42, index: 2, strength: Strength::Subtle },
            ButtonAction::Reroll { task: 9 },
            ButtonAction::Prompt { task: 77, index: 3 },
            ButtonAction::Cancel { task: 5 },
        ];
        for a in actions {
            let id = a.to_string();
            assert!(id.len() <= 100, "{id}");
            assert_eq!(ButtonAction::parse(&id), Ok(a));
        }
        assert_eq!(ButtonAction::Upscale { task: 12, index: 1 }.to_string(), "e1:u:12:1");
        assert_eq!(ButtonAction::Prompt { task: 5, index: 1 }.to_string(), "e1:d:5:1");
    }

    #[test]
    fn other_bots_and_other_versions_are_foreign() {
        for id in ["", "upscale:1:2", "e2:u:1:0", "MJ::JOB::upsample::1::abc"] {
            assert_eq!(ButtonAction::parse(id), Err(CustomIdError::Foreign), "{id}");
        }
    }

    #[test]
    fn damaged_ids_are_refused() {
        for id in [
            "e1",
            "e1:u",
            "e1:u:1",
            "e1:u:1:4",
            "e1:u:0:0",
            "e1:u:-1:0",
            "e1:x:1:0",
            "e1:u:1:0:extra",
            "e1:u:007:0",
            "e1:u:+7:0",
            "e1:r:5:2",
            "e1:d:5:4",
            "e1:u:99999999999999999999:0",
            "e1:vs:1:",
            "e1:u:1:0\n",
        ] {
            assert_eq!(ButtonAction::parse(id), Err(CustomIdError::Garbled), "{id:?}");
        }
    }
}
