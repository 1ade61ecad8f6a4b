//! The custom_id codec. A button carries only a version, an action, a task id and an image
//! index — everything else is read from SQLite when it is pressed — so buttons keep working
//! across restarts and ids stay far under Discord's 100-character limit. A remix form's id is
//! [`REMIX_PREFIX`] and the id of the button it came from. Pure: the renderer writes these ids
//! and the handlers read them, and neither depends on the other.

use std::fmt;

use crate::app::Child;
use crate::base::{Direction, EditAction, Strength, TaskId, UpscaleMode};
use crate::imaging::region::Region;

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
    /// ℹ️ under a result: the job's details, privately.
    Info { task: TaskId },
    /// "Imagine all" under a /describe result: an /imagine of each of its prompts at once.
    ImagineAll { task: TaskId },
    /// 🗑️ in a result's info panel: delete the result (its owner, or Manage Messages).
    Delete { task: TaskId },
    /// ❤️ under a single image: in or out of the presser's favourites.
    Favorite { task: TaskId },
    /// Zoom Out, Custom Zoom, Make Square, ⬅️ ➡️ ⬆️ ⬇️ and Vary (Region) under a U result.
    Edit { task: TaskId, index: u8, action: EditAction },
    /// Upscale (Subtle) and Upscale (Creative) under a U result.
    Upscale2x { task: TaskId, index: u8, mode: UpscaleMode },
}

/// The short codes of the edits after U, in both directions.
const EDIT_CODES: [(&str, EditAction); 9] = [
    ("z2", EditAction::ZoomOut2x),
    ("z15", EditAction::ZoomOut1_5x),
    ("zc", EditAction::CustomZoom),
    ("sq", EditAction::MakeSquare),
    ("pl", EditAction::Pan { direction: Direction::Left }),
    ("pr", EditAction::Pan { direction: Direction::Right }),
    ("pu", EditAction::Pan { direction: Direction::Up }),
    ("pd", EditAction::Pan { direction: Direction::Down }),
    ("vr", EditAction::Region),
];

fn edit_code(action: EditAction) -> &'static str {
    EDIT_CODES.iter().find(|(_, a)| *a == action).map_or("vr", |(c, _)| c)
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
            | ButtonAction::Cancel { task }
            | ButtonAction::Info { task }
            | ButtonAction::ImagineAll { task }
            | ButtonAction::Delete { task }
            | ButtonAction::Favorite { task }
            | ButtonAction::Edit { task, .. }
            | ButtonAction::Upscale2x { task, .. } => *task,
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
            // Added after "e1" shipped: new letters, so every older id still reads the same.
            "i" if index == 0 => Ok(ButtonAction::Info { task }),
            "a" if index == 0 => Ok(ButtonAction::ImagineAll { task }),
            "t" if index == 0 => Ok(ButtonAction::Delete { task }),
            "h" if index == 0 => Ok(ButtonAction::Favorite { task }),
            "us" => Ok(ButtonAction::Upscale2x { task, index, mode: UpscaleMode::Subtle }),
            "uc" => Ok(ButtonAction::Upscale2x { task, index, mode: UpscaleMode::Creative }),
            code => match EDIT_CODES.iter().find(|(c, _)| *c == code) {
                Some((_, action)) => Ok(ButtonAction::Edit { task, index, action: *action }),
                None => Err(CustomIdError::Garbled),
            },
        }
    }

    fn encode_parts(action: &str, task: TaskId, index: u8) -> String {
        format!("{VERSION}:{action}:{task}:{index}")
    }

    /// What the press asks of its task, for the submit path; `None` for Cancel, Info and
    /// Delete, which make nothing new.
    pub fn child(self) -> Option<Child> {
        match self {
            ButtonAction::Upscale { index, .. } => Some(Child::Upscale { index }),
            ButtonAction::Vary { index, strength, .. } => Some(Child::Vary { index, strength }),
            ButtonAction::Reroll { .. } => Some(Child::Reroll),
            ButtonAction::Prompt { index, .. } => Some(Child::Prompt { index }),
            ButtonAction::ImagineAll { .. } => Some(Child::AllPrompts),
            ButtonAction::Edit { index, action, .. } => Some(Child::Edit { index, action }),
            ButtonAction::Upscale2x { index, mode, .. } => Some(Child::Upscale2x { index, mode }),
            ButtonAction::Cancel { .. }
            | ButtonAction::Info { .. }
            | ButtonAction::Delete { .. }
            | ButtonAction::Favorite { .. } => None,
        }
    }
}

/// Prefix of a remix form's custom_id.
pub const REMIX_PREFIX: &str = "e1m:";

/// The custom_id of the remix form a V or Vary press opens.
pub fn remix_form(task: TaskId, index: u8, strength: Strength) -> String {
    format!("{REMIX_PREFIX}{}", ButtonAction::Vary { task, index, strength })
}

/// The variation a remix form stands for: its task, image index and strength.
pub fn parse_remix_form(custom_id: &str) -> Option<(TaskId, u8, Strength)> {
    match ButtonAction::parse(custom_id.strip_prefix(REMIX_PREFIX)?) {
        Ok(ButtonAction::Vary { task, index, strength }) => Some((task, index, strength)),
        _ => None,
    }
}

/// Prefix of Custom Zoom's form (prompt and zoom) and of Vary (Region)'s region menu; each is
/// followed by the id of the button it came from.
pub const EDIT_FORM_PREFIX: &str = "e1f:";
/// Prefix of Vary (Region)'s prompt form: `e1g:<region key>:` and the button's id.
pub const REGION_FORM_PREFIX: &str = "e1g:";

/// The custom_id of the form (or menu) an edit button opens.
pub fn edit_form(task: TaskId, index: u8, action: EditAction) -> String {
    format!("{EDIT_FORM_PREFIX}{}", ButtonAction::Edit { task, index, action })
}

/// The edit a form (or menu) stands for.
pub fn parse_edit_form(custom_id: &str) -> Option<(TaskId, u8, EditAction)> {
    match ButtonAction::parse(custom_id.strip_prefix(EDIT_FORM_PREFIX)?) {
        Ok(ButtonAction::Edit { task, index, action }) => Some((task, index, action)),
        _ => None,
    }
}

/// The custom_id of Vary (Region)'s prompt form once `region` is picked.
pub fn region_form(task: TaskId, index: u8, region: Region) -> String {
    let button = ButtonAction::Edit { task, index, action: EditAction::Region };
    format!("{REGION_FORM_PREFIX}{}:{button}", region.key())
}

/// The task, image and region a Vary (Region) prompt form stands for.
pub fn parse_region_form(custom_id: &str) -> Option<(TaskId, u8, Region)> {
    let (key, button) = custom_id.strip_prefix(REGION_FORM_PREFIX)?.split_once(':')?;
    match (Region::parse(key), ButtonAction::parse(button)) {
        (Some(region), Ok(ButtonAction::Edit { task, index, action: EditAction::Region })) => {
            Some((task, index, region))
        }
        _ => None,
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
            ButtonAction::Info { task } => ButtonAction::encode_parts("i", task, 0),
            ButtonAction::ImagineAll { task } => ButtonAction::encode_parts("a", task, 0),
            ButtonAction::Delete { task } => ButtonAction::encode_parts("t", task, 0),
            ButtonAction::Favorite { task } => ButtonAction::encode_parts("h", task, 0),
            ButtonAction::Edit { task, index, action } => {
                ButtonAction::encode_parts(edit_code(action), task, index)
            }
            ButtonAction::Upscale2x { task, index, mode: UpscaleMode::Subtle } => {
                ButtonAction::encode_parts("us", task, index)
            }
            ButtonAction::Upscale2x { task, index, mode: UpscaleMode::Creative } => {
                ButtonAction::encode_parts("uc", task, index)
            }
        };
        f.write_str(&s)
    }
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
            ButtonAction::Info { task: 6 },
            ButtonAction::ImagineAll { task: 7 },
            ButtonAction::Delete { task: 8 },
        ];
        for a in actions {
            let id = a.to_string();
            assert!(id.len() <= 100, "{id}");
            assert_eq!(ButtonAction::parse(&id), Ok(a));
        }
        assert_eq!(ButtonAction::Upscale { task: 12, index: 1 }.to_string(), "e1:u:12:1");
        assert_eq!(ButtonAction::Prompt { task: 5, index: 1 }.to_string(), "e1:d:5:1");
        assert_eq!(ButtonAction::Info { task: 5 }.to_string(), "e1:i:5:0");
    }

    #[test]
    fn ids_from_before_the_new_actions_still_read_the_same() {
        let old = [
            ("e1:u:12:1", ButtonAction::Upscale { task: 12, index: 1 }),
            ("e1:vx:3:0", ButtonAction::Vary { task: 3, index: 0, strength: Strength::Strong }),
            ("e1:vs:3:2", ButtonAction::Vary { task: 3, index: 2, strength: Strength::Subtle }),
            ("e1:r:9:0", ButtonAction::Reroll { task: 9 }),
            ("e1:d:5:3", ButtonAction::Prompt { task: 5, index: 3 }),
            ("e1:c:4:0", ButtonAction::Cancel { task: 4 }),
        ];
        for (id, action) in old {
            assert_eq!(ButtonAction::parse(id), Ok(action), "{id}");
        }
        for id in ["e1:i:5:1", "e1:a:5:3", "e1:t:5:2"] {
            assert_eq!(ButtonAction::parse(id), Err(CustomIdError::Garbled), "{id}");
        }
    }

    #[test]
    fn a_remix_form_names_the_variation_it_came_from() {
        let id = remix_form(42, 2, Strength::Subtle);
        assert_eq!(id, "e1m:e1:vs:42:2");
        assert_eq!(parse_remix_form(&id), Some((42, 2, Strength::Subtle)));
        assert_eq!(parse_remix_form("e1m:e1:u:42:2"), None, "only a variation is remixed");
        assert_eq!(parse_remix_form("e1:vs:42:2"), None);
    }

    #[test]
    fn the_buttons_after_u_round_trip_and_old_ids_still_parse() {
        for (_, action) in EDIT_CODES {
            let a = ButtonAction::Edit { task: 31, index: 0, action };
            assert_eq!(ButtonAction::parse(&a.to_string()), Ok(a));
        }
        for mode in [UpscaleMode::Subtle, UpscaleMode::Creative] {
            let a = ButtonAction::Upscale2x { task: 8, index: 0, mode };
            assert_eq!(ButtonAction::parse(&a.to_string()), Ok(a));
        }
        assert_eq!(
            ButtonAction::Edit { task: 3, index: 0, action: EditAction::ZoomOut2x }.to_string(),
            "e1:z2:3:0"
        );
        // Ids written before the edits existed mean what they meant.
        assert_eq!(
            ButtonAction::parse("e1:vs:42:0"),
            Ok(ButtonAction::Vary { task: 42, index: 0, strength: Strength::Subtle })
        );
        assert_eq!(ButtonAction::parse("e1:u:12:1"), Ok(ButtonAction::Upscale { task: 12, index: 1 }));
    }

    #[test]
    fn edit_forms_name_their_edit_and_region() {
        let id = edit_form(42, 0, EditAction::CustomZoom);
        assert_eq!(parse_edit_form(&id), Some((42, 0, EditAction::CustomZoom)));
        let id = region_form(42, 0, Region::Cell(2, 1));
        assert!(id.len() <= 100, "{id}");
        assert_eq!(parse_region_form(&id), Some((42, 0, Region::Cell(2, 1))));
        assert_eq!(parse_region_form("e1g:nowhere:e1:vr:42:0"), None);
        assert_eq!(parse_region_form("e1g:centre:e1:z2:42:0"), None);
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
