//! U and V on a parent task. What Easel keeps of a finished task (its id, action and
//! Midjourney's buttons) lives in the task's `remote_state`; a later U or V reads it back to
//! press the matching button through `/submit/action`, or — at proxies without that
//! endpoint, or for a parent stored without buttons — to ask `/submit/change` by index.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{Button, ChangeAction, Task};
use crate::base::Strength;

/// What Easel keeps of a finished task, as `JobOutput::remote_state`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RemoteState {
    pub task_id: String,
    /// IMAGINE, UPSCALE, VARIATION, REROLL, BLEND, DESCRIBE (trueai also ACTION, …).
    pub action: Option<String>,
    pub buttons: Vec<Button>,
    pub image_url: Option<String>,
}

impl RemoteState {
    pub fn of(id: &str, task: &Task) -> RemoteState {
        RemoteState {
            task_id: task.id.clone().unwrap_or_else(|| id.to_string()),
            action: task.action.clone(),
            buttons: task.buttons.iter().filter(|b| !b.custom_id.trim().is_empty()).cloned().collect(),
            image_url: task.image_url().map(String::from),
        }
    }

    /// Reads a parent's state back; anything unreadable counts as "no buttons".
    pub fn read(value: Option<&Value>) -> RemoteState {
        value.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }

    pub fn to_value(&self) -> Option<Value> {
        serde_json::to_value(self).ok()
    }

    fn is_upscale(&self) -> bool {
        self.action.as_deref().is_some_and(|a| a.eq_ignore_ascii_case("UPSCALE"))
    }

    fn button(&self, prefix: &str) -> Option<&str> {
        self.buttons.iter().map(|b| b.custom_id.as_str()).find(|id| id.starts_with(prefix))
    }
}

/// What the member pressed; indexes are 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Upscale(u8),
    Variation(u8, Strength),
}

impl Want {
    /// The parent's button for this, if it has one. An upscale's "Vary (Subtle)" and "Vary
    /// (Strong)" (`low_variation`/`high_variation`) win; a grid's V buttons are Midjourney's
    /// strong variation, used for both strengths when there is nothing finer.
    pub fn button<'a>(&self, parent: &'a RemoteState) -> Option<&'a str> {
        match *self {
            Want::Upscale(i) => parent.button(&format!("MJ::JOB::upsample::{}::", i + 1)),
            Want::Variation(i, strength) => {
                let finer = match strength {
                    Strength::Subtle => "MJ::JOB::low_variation::",
                    Strength::Strong => "MJ::JOB::high_variation::",
                };
                parent.button(finer).or_else(|| parent.button(&format!("MJ::JOB::variation::{}::", i + 1)))
            }
        }
    }

    /// The `/submit/change` equivalent (1-based index), or why there is none: novicezk only
    /// acts on grids, so nothing can be done to an upscale without its buttons.
    pub fn change(&self, parent: &RemoteState) -> Result<(ChangeAction, u8), &'static str> {
        if parent.is_upscale() {
            return Err(match self {
                Want::Upscale(_) => "cannot upscale an image that is already upscaled",
                Want::Variation(..) => "cannot make variations of an upscaled image on this proxy",
            });
        }
        Ok(match *self {
            Want::Upscale(i) => (ChangeAction::Upscale, i + 1),
            Want::Variation(i, _) => (ChangeAction::Variation, i + 1),
        })
    }

    pub fn index(&self) -> u8 {
        match *self {
            Want::Upscale(i) | Want::Variation(i, _) => i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(action: &str, ids: &[&str]) -> RemoteState {
        RemoteState {
            task_id: "1".into(),
            action: Some(action.into()),
            buttons: ids.iter().map(|id| Button { custom_id: id.to_string(), ..Button::default() }).collect(),
            image_url: None,
        }
    }

    const GRID: &[&str] = &[
        "MJ::JOB::upsample::1::h",
        "MJ::JOB::upsample::2::h",
        "MJ::JOB::reroll::0::h::SOLO",
        "MJ::JOB::variation::1::h",
        "MJ::JOB::variation::2::h",
    ];

    #[test]
    fn grid_buttons_are_found_by_index() {
        let grid = state("IMAGINE", GRID);
        assert_eq!(Want::Upscale(1).button(&grid), Some("MJ::JOB::upsample::2::h"));
        assert_eq!(Want::Upscale(3).button(&grid), None);
        for strength in [Strength::Subtle, Strength::Strong] {
            assert_eq!(Want::Variation(0, strength).button(&grid), Some("MJ::JOB::variation::1::h"));
        }
        assert_eq!(Want::Variation(1, Strength::Strong).change(&grid), Ok((ChangeAction::Variation, 2)));
    }

    #[test]
    fn an_upscale_varies_through_its_own_buttons() {
        let up = state(
            "UPSCALE",
            &[
                "MJ::JOB::upsample_v6_2x_subtle::1::h::SOLO",
                "MJ::JOB::low_variation::1::h::SOLO",
                "MJ::JOB::high_variation::1::h::SOLO",
            ],
        );
        assert_eq!(
            Want::Variation(0, Strength::Subtle).button(&up),
            Some("MJ::JOB::low_variation::1::h::SOLO")
        );
        assert_eq!(
            Want::Variation(0, Strength::Strong).button(&up),
            Some("MJ::JOB::high_variation::1::h::SOLO")
        );
        assert_eq!(Want::Upscale(0).button(&up), None, "upsample_v6 is not a U button");
        assert!(Want::Variation(0, Strength::Subtle).change(&state("UPSCALE", &[])).is_err());
    }

    #[test]
    fn remote_state_round_trips_and_tolerates_junk() {
        let s = state("IMAGINE", GRID);
        assert_eq!(RemoteState::read(s.to_value().as_ref()), s);
        assert_eq!(RemoteState::read(Some(&json!("junk"))), RemoteState::default());
        assert_eq!(RemoteState::read(None).buttons.len(), 0);
    }
}
