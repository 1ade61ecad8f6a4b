//! The shared words at the bottom of Easel: task ids, kinds and states, failure codes, image
//! roles, where a message lives, the clock, a per-member memo, and how a URL is shown without
//! its secrets. Everything above may use these; this module imports nothing of Easel.

pub mod clock;
pub mod codes;
pub mod memo;
pub mod redact;
pub mod task;

pub use clock::{Clock, DAY_MS, day_start, now_ms};
pub use codes::FailureCode;
pub use memo::Memo;
pub use redact::{redact_url, redact_urls};
pub use task::{
    Direction, EditAction, ImageRole, MessageRef, Strength, TaskId, TaskKind, TaskState, UpscaleMode,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_have_no_way_out() {
        for from in [TaskState::Succeeded, TaskState::Failed, TaskState::Canceled] {
            for to in TaskState::ALL {
                assert!(!from.can_become(to), "{from} -> {to} must be illegal");
            }
        }
    }

    #[test]
    fn a_queued_task_cannot_jump_to_success() {
        assert!(!TaskState::Queued.can_become(TaskState::Succeeded));
        assert!(!TaskState::Queued.can_become(TaskState::Running));
        assert!(TaskState::Queued.can_become(TaskState::Submitted));
    }

    #[test]
    fn states_and_codes_round_trip_through_text() {
        for st in TaskState::ALL {
            assert_eq!(st.as_str().parse::<TaskState>().unwrap(), st);
        }
        for code in FailureCode::ALL {
            assert_eq!(code.as_str().parse::<FailureCode>().unwrap(), code);
        }
        assert!("exploded".parse::<TaskState>().is_err());
    }

    #[test]
    fn every_code_is_explained_in_the_readme() {
        let readme = include_str!("../../README.md");
        for code in FailureCode::ALL {
            assert!(readme.contains(&format!("| `{code}` |")), "README's failure table lacks `{code}`");
        }
    }

    #[test]
    fn task_kinds_serialise_with_their_index() {
        let k = TaskKind::Variation { index: 2, strength: Strength::Strong };
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, r#"{"op":"variation","index":2,"strength":"strong"}"#);
        assert_eq!(serde_json::from_str::<TaskKind>(&json).unwrap(), k);
    }
}
