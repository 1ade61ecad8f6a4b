//! The submit path for what is pressed under a result: U, V, 🔄 and Vary make a child task of
//! the task they sit under (owned by whoever pressed); 1–4 under a /describe result is an
//! /imagine of that prompt; with remix on, V and Vary open a form first, and the form comes
//! back as a remix. Cancel stops a task. The owner-only rule is written once, here.

use bytes::Bytes;

use super::edits::EditForm;
use super::submit::Planned;
use super::{App, Refused, Requester, Ticket};
use crate::admin::{Ask, Outcome};
use crate::base::{EditAction, ImageRole, Strength, TaskId, TaskKind, TaskState, UpscaleMode};
use crate::db::Task;
use crate::tasks::retention::images_removed_text;

/// What a button under a result asks of the task it sits under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// U1–U4: image `index` (0-based) at full size.
    Upscale { index: u8 },
    /// V1–V4, Vary (Strong), Vary (Subtle).
    Vary { index: u8, strength: Strength },
    /// 🔄: the same prompt with a new seed; under /blend and /describe, the same images.
    Reroll,
    /// 1–4 under a /describe result: an /imagine of prompt `index` (0-based).
    Prompt { index: u8 },
    /// "Imagine all" under a /describe result: an /imagine of every prompt, queued together
    /// or not at all.
    AllPrompts,
    /// Zoom Out, Custom Zoom, Make Square, Pan, Vary (Region) under a U result.
    Edit { index: u8, action: EditAction },
    /// Upscale (Subtle / Creative) under a U result.
    Upscale2x { index: u8, mode: UpscaleMode },
}

/// What a press leads to.
#[derive(Debug)]
pub enum Pressed {
    /// New work, ready to queue once the press is acknowledged.
    Queue(Box<Ticket>),
    /// Remix mode: show the member a form holding the prompt; it comes back to
    /// [`App::check_remix`].
    Remix(RemixForm),
    /// Custom Zoom: a form with the prompt and the zoom; it comes back to
    /// [`App::check_edit_form`].
    EditForm(EditForm),
    /// Vary (Region) without the editor page: a menu of regions, then a form with the prompt.
    RegionMenu(EditForm),
}

/// What a press on a result makes: a child task, or an answer of its own (the remix form, or
/// the /imagine that 1–4 under a /describe result starts).
pub(super) enum Makes {
    Task(Box<Planned>),
    Done(Pressed),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemixForm {
    pub parent: TaskId,
    pub index: u8,
    pub strength: Strength,
    pub prompt: String,
}

impl App {
    /// A press of `child` under task `parent`: the gate, then the checks on the parent (it
    /// finished; the owner-only rule), then what the press makes.
    pub async fn check_press(
        &self,
        who: &Requester,
        parent: TaskId,
        child: Child,
    ) -> Result<Pressed, Refused> {
        let found = self.db.task(parent).await?;
        let who = &in_their_dms(who, found.as_ref());
        let parent = found.ok_or(Refused::ParentGone)?;
        if parent.deleted_at.is_some() {
            return Err(Refused::Deleted);
        }
        on_its_message(who, &parent)?;
        // The gate before the checks on the parent, so a barred member hears why. A describe
        // result's 1–4 is an /imagine of that prompt, gated (and audited) as one.
        let admission = match child {
            Child::Prompt { .. } | Child::AllPrompts => None,
            _ => Some(self.gate.admit(who, Ask::create("button", &parent.prompt.canonical(), 1)).await?),
        };
        match self.press_makes(who, &parent, child).await {
            Ok(Makes::Task(planned)) => {
                let ticket = self.ticket(who, admission, vec![*planned], false).await?;
                Ok(Pressed::Queue(Box::new(ticket)))
            }
            Ok(Makes::Done(pressed)) => {
                self.record_admission(admission, Outcome::Accepted).await?;
                Ok(pressed)
            }
            Err(e) => Err(self.refuse_admitted(admission, e).await),
        }
    }

    /// What the press makes of its parent, once the gate let it through.
    async fn press_makes(&self, who: &Requester, parent: &Task, child: Child) -> Result<Makes, Refused> {
        self.parent_usable(who, parent)?;
        images_kept(parent, child)?;
        let (kind, inputs) = match child {
            Child::Upscale { index } => (TaskKind::Upscale { index }, Vec::new()),
            Child::Vary { index, strength } => {
                let settings = self.prefs.settings(&who.user_id).await?;
                // V1–V4 under a grid follow the presser's chosen strength; Vary (Strong) and
                // (Subtle) under an upscale say their own.
                let strength = if parent.kind.makes_grid() { settings.strength } else { strength };
                if settings.remix {
                    // The form is the answer to this press; the remix is gated on its own.
                    let prompt = parent.prompt.canonical();
                    return Ok(Makes::Done(Pressed::Remix(RemixForm {
                        parent: parent.id,
                        index,
                        strength,
                        prompt,
                    })));
                }
                (TaskKind::Variation { index, strength }, Vec::new())
            }
            // 🔄 under /blend or /describe has no prompt to roll again: it runs the same
            // operation on the same input images, which the store kept with the parent.
            Child::Reroll if matches!(parent.kind, TaskKind::Blend | TaskKind::Describe) => {
                (parent.kind, self.input_images(parent.id).await?)
            }
            Child::Reroll => (TaskKind::Reroll, Vec::new()),
            Child::Prompt { index } => {
                return Ok(Makes::Done(self.imagine_described(who, parent, Some(index)).await?));
            }
            Child::AllPrompts => return Ok(Makes::Done(self.imagine_described(who, parent, None).await?)),
            Child::Edit { index, action } => return self.edit_makes(parent, index, action).await,
            Child::Upscale2x { index, mode } => (TaskKind::Upscale2x { index, mode }, Vec::new()),
        };
        Ok(Makes::Task(Box::new(Planned { inputs, ..child_of(parent, kind, parent.prompt.clone()) })))
    }

    /// The remix form came back with `text`: variations of image `index` of `parent` with the
    /// edited prompt, keeping the image's shape unless the member asked for another.
    pub async fn check_remix(
        &self,
        who: &Requester,
        form: &RemixForm,
        text: &str,
    ) -> Result<Ticket, Refused> {
        let parent = self.db.task(form.parent).await?;
        let parent = parent.filter(|p| p.state == TaskState::Succeeded).ok_or(Refused::RemixUnfinished)?;
        if parent.deleted_at.is_some() {
            return Err(Refused::Deleted);
        }
        on_its_message(who, &parent)?;
        let admission = self.gate.admit(who, Ask::create("remix", text, 1)).await?;
        let planned = match self.remixed(who, &parent, form, text) {
            Ok(planned) => planned,
            Err(e) => return Err(self.refuse_admitted(Some(admission), e).await),
        };
        self.ticket(who, Some(admission), vec![planned], false).await
    }

    fn remixed(
        &self,
        who: &Requester,
        parent: &Task,
        form: &RemixForm,
        text: &str,
    ) -> Result<Planned, Refused> {
        self.owner_only(who, parent)?;
        images_kept(parent, Child::Vary { index: form.index, strength: form.strength })?;
        let mut specs = crate::prompt::parse(text, &self.prompt_limits())?;
        if specs.len() != 1 {
            return Err(Refused::RemixOfSeveral);
        }
        let mut prompt = specs.remove(0);
        if prompt.params.aspect.is_none() {
            prompt.params.aspect = parent.prompt.params.aspect;
        }
        let kind = TaskKind::Variation { index: form.index, strength: form.strength };
        Ok(child_of(parent, kind, prompt))
    }

    /// Cancel under a waiting or running task: its owner (or an admin) stops it; the message
    /// then shows `Canceled` through the task's own update.
    pub async fn cancel_press(&self, who: &Requester, task: TaskId) -> Result<TaskState, Refused> {
        let found = self.db.task(task).await?;
        let who = match who.guild_id {
            Some(_) => who.clone(),
            None => in_their_dms(who, found.as_ref()),
        };
        if let Some(found) = &found {
            on_its_message(&who, found)?;
        }
        self.gate.admit(&who, crate::admin::Ask::Use).await?;
        Ok(self.engine.cancel(task, &who.user_id, who.admin).await?)
    }

    /// What every press on a result needs from the task it sits under.
    pub(super) fn parent_usable(&self, who: &Requester, parent: &Task) -> Result<(), Refused> {
        if parent.state != TaskState::Succeeded {
            return Err(Refused::ParentUnfinished);
        }
        self.owner_only(who, parent)
    }

    /// `discord.buttons_owner_only`: only the member who asked may press a task's buttons
    /// (and remix it).
    fn owner_only(&self, who: &Requester, parent: &Task) -> Result<(), Refused> {
        if self.config.discord.buttons_owner_only && who.user_id != parent.user_id {
            return Err(Refused::NotOwner { owner: parent.user_id.clone() });
        }
        Ok(())
    }

    /// 1–4 under a /describe result (`index`), or "Imagine all" (`None`): an /imagine of that
    /// prompt, or of every prompt as one request (all queued, or all refused, against the
    /// member's caps), owned by whoever pressed, on the describing backend when it can draw
    /// (the buttons are only shown then).
    async fn imagine_described(
        &self,
        who: &Requester,
        parent: &Task,
        index: Option<u8>,
    ) -> Result<Pressed, Refused> {
        let prompts: Vec<&str> = match index {
            Some(i) => vec![parent.output_prompts.get(i as usize).ok_or(Refused::NoSuchPrompt(i + 1))?],
            None => parent.output_prompts.iter().map(String::as_str).collect(),
        };
        if prompts.is_empty() {
            return Err(Refused::NoSuchPrompt(1));
        }
        let can_draw = self.engine.backends().get(&parent.backend).is_some_and(|b| b.capabilities().imagine);
        let backend = can_draw.then_some(parent.backend.as_str());
        Ok(Pressed::Queue(Box::new(self.check_imagine_all(&prompts, backend, who).await?)))
    }

    /// The input images stored with `task`, in order, as the files the member handed in.
    async fn input_images(&self, task: TaskId) -> Result<Vec<Bytes>, Refused> {
        let mut out = Vec::new();
        for image in self.db.images(task, ImageRole::Input).await? {
            out.push(self.engine.storage().read(&image.path).await?);
        }
        if out.is_empty() {
            return Err(Refused::InputsGone);
        }
        Ok(out)
    }
}

/// A press that works from `parent`'s images, once retention removed them, is answered with
/// why (🔄 of an /imagine and 1–4 under a /describe need only the prompt, so they still work).
fn images_kept(parent: &Task, child: Child) -> Result<(), Refused> {
    let Some(removed) = parent.images_removed else { return Ok(()) };
    let done = match child {
        Child::Upscale { .. } => "upscaled",
        Child::Vary { .. } => "varied",
        Child::Edit { .. } => "edited",
        Child::Upscale2x { .. } => "upscaled",
        Child::Reroll if matches!(parent.kind, TaskKind::Blend | TaskKind::Describe) => "rerolled",
        Child::Reroll | Child::Prompt { .. } | Child::AllPrompts => return Ok(()),
    };
    Err(Refused::ImagesRemoved(images_removed_text(removed, parent.finished_at, done)))
}

/// A task made from `parent`, on the parent's backend while it is up and can serve (U and V
/// on midjourney-proxy must stay there), otherwise on another that works from the image,
/// within the model the parent was asked of.
pub(super) fn child_of(parent: &Task, kind: TaskKind, prompt: crate::prompt::PromptSpec) -> Planned {
    Planned {
        parent: Some((parent.id, parent.backend.clone())),
        model: parent.model.clone(),
        ..Planned::new(kind, prompt)
    }
}

/// A button names its task, and anyone can send any name: a press counts only on the message
/// that shows the task (in the task's channel), so a forged one cannot reach another
/// channel's task or a task under someone else's message. A task whose message id is not
/// recorded yet (its first update is on its way) is held to its channel.
pub(super) fn on_its_message(who: &Requester, task: &Task) -> Result<(), Refused> {
    let Some(on) = &who.pressed_on else { return Ok(()) };
    let same_channel = task.channel_id.is_none() || task.channel_id == who.channel_id;
    let same_message = task.message.message_id.as_ref().is_none_or(|id| id == on);
    match same_channel && same_message {
        true => Ok(()),
        false => Err(Refused::NotOnItsMessage),
    }
}

/// A press in the member's DMs on their own private-mode results: the work began in a server
/// that admitted it, so the no-DMs rule does not apply.
pub(super) fn in_their_dms(who: &Requester, task: Option<&Task>) -> Requester {
    let mut who = who.clone();
    if who.guild_id.is_none() {
        who.private_results = task.is_some_and(|t| t.guild_id.is_some() && t.user_id == who.user_id);
    }
    who
}
