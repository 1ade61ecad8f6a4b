//! The edits after U on the submit path: Zoom Out 2x / 1.5x, Make Square and Pan become a
//! child task at once with the canvas Easel computed; Custom Zoom and Vary (Region) answer with
//! a form (and, for the region, a menu first) that comes back here with the member's choices.
//! Whatever the member typed is checked before anything is queued.

use super::press::{Makes, Pressed, child_of, on_its_message};
use super::submit::Planned;
use super::{App, Refused, Requester, Ticket};
use crate::admin::Ask;
use crate::base::{EditAction, ImageRole, TaskId, TaskKind, TaskState};
use crate::db::Task;
use crate::imaging::EditPlan;
use crate::imaging::canvas::ZOOM_RANGE;
use crate::imaging::region::Region;

/// A form an edit press opens: Custom Zoom's (prompt and zoom) or Vary (Region)'s (a region
/// menu, then the prompt).
#[derive(Debug, Clone, PartialEq)]
pub struct EditForm {
    pub parent: TaskId,
    pub index: u8,
    pub action: EditAction,
    /// The parent's prompt, to start the form with.
    pub prompt: String,
}

/// What the member filled in.
#[derive(Debug, Clone, Default)]
pub struct EditAnswers<'a> {
    pub prompt: &'a str,
    /// Custom Zoom's zoom, as typed.
    pub zoom: Option<&'a str>,
    pub region: Option<Region>,
}

impl App {
    /// An edit button under a U result: a task, or the form the edit needs first.
    pub(super) async fn edit_makes(
        &self,
        parent: &Task,
        index: u8,
        action: EditAction,
    ) -> Result<Makes, Refused> {
        let form = || EditForm { parent: parent.id, index, action, prompt: parent.prompt.canonical() };
        match action {
            EditAction::CustomZoom => Ok(Makes::Done(Pressed::EditForm(form()))),
            EditAction::Region => Ok(Makes::Done(Pressed::RegionMenu(form()))),
            _ => {
                let plan = self.plan(parent, action, 1.0, None, None).await?;
                Ok(Makes::Task(Box::new(edit_of(parent, index, action, parent.prompt.clone(), plan))))
            }
        }
    }

    /// Custom Zoom's or Vary (Region)'s form came back: the edit with the member's prompt,
    /// zoom and region. A value out of range is refused, naming the range.
    pub async fn check_edit_form(
        &self,
        who: &Requester,
        parent: TaskId,
        index: u8,
        action: EditAction,
        answers: EditAnswers<'_>,
    ) -> Result<Ticket, Refused> {
        let parent = self.db.task(parent).await?.ok_or(Refused::ParentGone)?;
        on_its_message(who, &parent)?;
        if who.pressed_on.is_none() {
            // The region menu lives on a private message of its own, so the press cannot be
            // held to the task's message: it is held to the owner and the task's channel.
            let same_channel = parent.channel_id.is_none() || parent.channel_id == who.channel_id;
            if who.user_id != parent.user_id || !same_channel {
                return Err(Refused::NotOwner { owner: parent.user_id.clone() });
            }
        }
        let admission = self.gate.admit(who, Ask::create("edit", answers.prompt, 1)).await?;
        let planned = match self.edit_from_form(who, &parent, index, action, &answers).await {
            Ok(planned) => planned,
            Err(e) => return Err(self.refuse_admitted(Some(admission), e).await),
        };
        self.ticket(who, Some(admission), vec![planned], false).await
    }

    async fn edit_from_form(
        &self,
        who: &Requester,
        parent: &Task,
        index: u8,
        action: EditAction,
        answers: &EditAnswers<'_>,
    ) -> Result<Planned, Refused> {
        if parent.state != TaskState::Succeeded {
            return Err(Refused::ParentUnfinished);
        }
        self.parent_usable(who, parent)?;
        let zoom = match (action, answers.zoom) {
            (EditAction::CustomZoom, Some(typed)) => Some(parse_zoom(typed)?),
            (EditAction::CustomZoom, None) => return Err(Refused::ZoomOutOfRange(String::new())),
            _ => None,
        };
        if action == EditAction::Region && answers.region.is_none() {
            return Err(Refused::NoSuchRegion);
        }
        let mut specs = crate::prompt::parse(answers.prompt, &self.prompt_limits())?;
        if specs.len() != 1 {
            return Err(Refused::RemixOfSeveral);
        }
        let mut prompt = specs.remove(0);
        // `--ar` in a Custom Zoom's prompt reshapes the canvas; otherwise the shape is kept.
        let aspect =
            prompt.params.aspect.filter(|a| Some(*a) != parent.prompt.params.aspect).map(|a| (a.w, a.h));
        if prompt.params.aspect.is_none() {
            prompt.params.aspect = parent.prompt.params.aspect;
        }
        let plan = self.plan(parent, action, zoom.unwrap_or(1.0), aspect, answers.region).await?;
        Ok(edit_of(parent, index, action, prompt, plan))
    }

    /// The canvas and mask of `action` on the parent's image, sized for its backend.
    async fn plan(
        &self,
        parent: &Task,
        action: EditAction,
        zoom: f32,
        aspect: Option<(u32, u32)>,
        region: Option<Region>,
    ) -> Result<EditPlan, Refused> {
        let image = self
            .db
            .images(parent.id, ImageRole::Image)
            .await?
            .into_iter()
            .next()
            .ok_or(Refused::InputsGone)?;
        let (w, h) = (image.width, image.height);
        let max_side = self.engine.backends().get(&parent.backend).map_or(0, |b| b.capabilities().max_side);
        Ok(match action {
            EditAction::ZoomOut2x => EditPlan::zoom(w, h, 2.0, None, max_side),
            EditAction::ZoomOut1_5x => EditPlan::zoom(w, h, 1.5, None, max_side),
            EditAction::CustomZoom => EditPlan::zoom(w, h, zoom, aspect, max_side),
            EditAction::MakeSquare => EditPlan::square(w, h, max_side),
            EditAction::Pan { direction } => EditPlan::pan(w, h, direction, max_side),
            EditAction::Region => EditPlan::region(w, h, region.ok_or(Refused::NoSuchRegion)?),
        })
    }
}

fn edit_of(
    parent: &Task,
    index: u8,
    action: EditAction,
    prompt: crate::prompt::PromptSpec,
    plan: EditPlan,
) -> Planned {
    Planned { edit: Some(plan), ..child_of(parent, TaskKind::Edit { index, action }, prompt) }
}

/// Custom Zoom's value: a number from 1.0 to 2.0 (`--zoom` written in front is allowed).
pub fn parse_zoom(typed: &str) -> Result<f32, Refused> {
    let cleaned = typed.trim().trim_start_matches("--zoom").trim();
    match cleaned.parse::<f32>() {
        Ok(z) if (ZOOM_RANGE.0..=ZOOM_RANGE.1).contains(&z) => Ok(z),
        _ => Err(Refused::ZoomOutOfRange(typed.trim().chars().take(20).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_is_taken_from_one_to_two_and_refused_outside_naming_the_range() {
        assert_eq!(parse_zoom("1.5").unwrap(), 1.5);
        assert_eq!(parse_zoom(" --zoom 2 ").unwrap(), 2.0);
        assert_eq!(parse_zoom("1").unwrap(), 1.0);
        for bad in ["2.5", "0.9", "big", "", "NaN"] {
            let refused = parse_zoom(bad).unwrap_err();
            assert!(refused.to_string().contains("from 1.0 to 2.0"), "{bad}: {refused}");
        }
    }
}
