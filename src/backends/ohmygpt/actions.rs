//! U and V on a parent task. What Easel keeps of a finished task — its id, action and the
//! `actions` ohmygpt listed under it — lives in the task's `remote_state`; a later U or V
//! reads it back and presses the matching action by its customId. CustomIds are never built
//! here, only found: they carry Midjourney's per-message hash.
//!
//! A customId reads `MJ::JOB::<verb>::<n>::<hash>[::SOLO]` (`upsample::2` is U2,
//! `variation::3` V3, `low_variation`/`high_variation` Vary (Subtle)/(Strong) under an
//! upscale). Where a customId does not read like that, the Discord label (`U2`, `V3`,
//! `Vary (Subtle)`) finds it instead.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{Task, TaskAction};
use crate::base::Strength;

/// What Easel keeps of a finished task, as `JobOutput::remote_state`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RemoteState {
    pub task_id: String,
    pub action: Option<String>,
    pub actions: Vec<TaskAction>,
}

impl RemoteState {
    pub fn of(id: &str, task: &Task) -> RemoteState {
        RemoteState {
            task_id: task.id().unwrap_or_else(|| id.to_string()),
            action: task.action(),
            actions: task.actions(),
        }
    }

    /// Reads a parent's state back; anything unreadable counts as "no actions".
    pub fn read(value: Option<&Value>) -> RemoteState {
        value.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }

    pub fn to_value(&self) -> Option<Value> {
        serde_json::to_value(self).ok()
    }

    fn find(&self, verb: &str, index: Option<u8>, label: &str) -> Option<&str> {
        let by_id = self.actions.iter().find(|a| {
            let (v, n) = verb_and_index(&a.custom_id);
            v == verb && index.is_none_or(|i| n == Some(i))
        });
        let by_label = || self.actions.iter().find(|a| a.label.as_deref().map(str::trim) == Some(label));
        by_id.or_else(by_label).map(|a| a.custom_id.as_str())
    }
}

/// `MJ::JOB::upsample::2::hash` → `("upsample", Some(2))`.
fn verb_and_index(custom_id: &str) -> (&str, Option<u8>) {
    let mut parts = custom_id.split("::");
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("MJ"), Some("JOB"), Some(verb), index) => (verb, index.and_then(|i| i.parse().ok())),
        _ => ("", None),
    }
}

/// What the member pressed; indexes are 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Upscale(u8),
    Variation(u8, Strength),
}

impl Want {
    /// The parent's customId for this, or why there is none (completing "Backend `x` …").
    /// Under an upscale, Vary (Subtle) and Vary (Strong) are the variations; on a grid, V*n*
    /// is Midjourney's one kind of variation, used for both strengths.
    pub fn custom_id<'a>(&self, parent: &'a RemoteState) -> Result<&'a str, String> {
        let found = match *self {
            Want::Upscale(i) => parent.find("upsample", Some(i + 1), &format!("U{}", i + 1)),
            Want::Variation(i, strength) => {
                let (verb, label) = match strength {
                    Strength::Subtle => ("low_variation", "Vary (Subtle)"),
                    Strength::Strong => ("high_variation", "Vary (Strong)"),
                };
                parent
                    .find(verb, None, label)
                    .or_else(|| parent.find("variation", Some(i + 1), &format!("V{}", i + 1)))
            }
        };
        found.ok_or_else(|| {
            let what = match *self {
                Want::Upscale(i) => format!("U{}", i + 1),
                Want::Variation(i, _) => format!("V{} or Vary", i + 1),
            };
            match parent.action.as_deref() {
                Some(action) => {
                    format!("has no {what} for this image (OhMyGPT offers none on its {action} task)")
                }
                None => format!("has no {what} for this image (OhMyGPT listed no actions for it)"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(action: &str, ids: &[(&str, &str)]) -> RemoteState {
        RemoteState {
            task_id: "1".into(),
            action: Some(action.into()),
            actions: ids
                .iter()
                .map(|(id, label)| TaskAction {
                    custom_id: id.to_string(),
                    emoji: None,
                    label: Some(label.to_string()),
                })
                .collect(),
        }
    }

    fn grid() -> RemoteState {
        state(
            "IMAGINE",
            &[
                ("MJ::JOB::upsample::1::h", "U1"),
                ("MJ::JOB::upsample::2::h", "U2"),
                ("MJ::JOB::reroll::0::h::SOLO", ""),
                ("MJ::JOB::variation::1::h", "V1"),
                ("MJ::JOB::variation::2::h", "V2"),
            ],
        )
    }

    #[test]
    fn grid_actions_are_found_by_verb_and_index() {
        let g = grid();
        assert_eq!(Want::Upscale(1).custom_id(&g), Ok("MJ::JOB::upsample::2::h"));
        for strength in [Strength::Subtle, Strength::Strong] {
            assert_eq!(Want::Variation(0, strength).custom_id(&g), Ok("MJ::JOB::variation::1::h"));
        }
        let e = Want::Upscale(3).custom_id(&g).unwrap_err();
        assert_eq!(e, "has no U4 for this image (OhMyGPT offers none on its IMAGINE task)");
    }

    #[test]
    fn an_upscale_varies_through_its_own_actions() {
        let up = state(
            "UPSCALE",
            &[
                ("MJ::JOB::upsample_v6_2x_subtle::1::h::SOLO", "Upscale (Subtle)"),
                ("MJ::JOB::low_variation::1::h::SOLO", "Vary (Subtle)"),
                ("MJ::JOB::high_variation::1::h::SOLO", "Vary (Strong)"),
                ("MJ::Outpaint::50::1::h::SOLO", "Zoom Out 2x"),
            ],
        );
        assert_eq!(
            Want::Variation(0, Strength::Subtle).custom_id(&up),
            Ok("MJ::JOB::low_variation::1::h::SOLO")
        );
        assert_eq!(
            Want::Variation(0, Strength::Strong).custom_id(&up),
            Ok("MJ::JOB::high_variation::1::h::SOLO")
        );
        assert!(Want::Upscale(0).custom_id(&up).is_err(), "upsample_v6 is not a U");
    }

    #[test]
    fn labels_find_actions_whose_ids_read_differently() {
        let odd = state("IMAGINE", &[("opaque-17", "U3"), ("opaque-18", "V2")]);
        assert_eq!(Want::Upscale(2).custom_id(&odd), Ok("opaque-17"));
        assert_eq!(Want::Variation(1, Strength::Strong).custom_id(&odd), Ok("opaque-18"));
    }

    #[test]
    fn remote_state_round_trips_and_tolerates_junk() {
        let s = grid();
        assert_eq!(RemoteState::read(s.to_value().as_ref()), s);
        assert_eq!(RemoteState::read(Some(&json!("junk"))), RemoteState::default());
        let none = RemoteState::read(None);
        assert!(Want::Upscale(0).custom_id(&none).unwrap_err().contains("listed no actions"));
    }
}
