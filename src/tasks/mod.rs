//! Tasks: what a member asked for, where it is in its life, and how it ended. This module
//! holds the types and the legal state transitions; `store` persists them, `engine` runs them.

pub mod engine;
pub mod events;
mod failover;
pub mod queries;
mod runner;
pub mod store;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::prompt::PromptSpec;

pub type TaskId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    Subtle,
    Strong,
}

/// What a task does. Indexes are 0-based here; members see them 1-based (U1–U4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum TaskKind {
    Imagine,
    Upscale { index: u8 },
    Variation { index: u8, strength: Strength },
    Reroll,
    Blend,
    Describe,
}

impl TaskKind {
    /// Kinds that end in a 2×2 grid of four images.
    pub fn makes_grid(&self) -> bool {
        matches!(self, TaskKind::Imagine | TaskKind::Variation { .. } | TaskKind::Reroll | TaskKind::Blend)
    }

    /// Kinds that act on one image of a parent task.
    pub fn source_index(&self) -> Option<u8> {
        match self {
            TaskKind::Upscale { index } | TaskKind::Variation { index, .. } => Some(*index),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Queued,
    Submitted,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Queued,
        TaskState::Submitted,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Canceled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Submitted => "submitted",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Failed | TaskState::Canceled)
    }

    /// The transitions the engine may make. Every store update is guarded by the `from`
    /// state, so an illegal or repeated transition changes nothing.
    pub fn can_become(&self, to: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, to),
            (Queued, Submitted | Canceled | Failed)
                | (Submitted, Running | Queued | Succeeded | Failed | Canceled)
                | (Running, Queued | Succeeded | Failed | Canceled)
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown task state `{s}`"))
    }
}

/// Why a task failed, as a stable code stored with the task and shown to members under the
/// message (`-# backend-timeout · task 12`). README's "What survives a crash" lists them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The service accepted the connection but did not answer within `timeout_secs`.
    BackendTimeout,
    /// The service could not be reached, or the connection broke off.
    BackendUnavailable,
    /// The service refused this request (a 4xx other than credentials and content).
    BackendRejected,
    /// The service failed on its side (5xx, or its own job failure).
    BackendError,
    /// Well-formed data of the wrong shape: the service speaks another dialect.
    BackendBadResponse,
    /// The answer was cut off or is not valid JSON.
    BackendMalformed,
    /// A web page, plain text or some other content where JSON or an image was expected.
    WrongContentType,
    /// An image whose data stops early or is damaged.
    ImageTruncated,
    /// An image over Easel's byte cap or its 8192×8192 pixel limit.
    ImageTooLarge,
    /// The service rejected Easel's API key: a message for the admin.
    CredentialsRejected,
    /// The provider's content policy refused the prompt or image.
    ContentBlocked,
    /// The service kept rate limiting (or the account is out of quota).
    RateLimited,
    /// The chosen backend cannot do this operation.
    Unsupported,
    /// An input image (an upload or a parent's image) could not be used.
    BadImage,
    /// Easel restarted mid-task and the service cannot be asked for the job again.
    Interrupted,
    /// The task's overall deadline (`limits.task_deadline_secs`) passed.
    DeadlineExceeded,
    /// A bug or resource problem inside Easel; the log has the details.
    Internal,
}

impl FailureCode {
    pub const ALL: [FailureCode; 17] = [
        FailureCode::BackendTimeout,
        FailureCode::BackendUnavailable,
        FailureCode::BackendRejected,
        FailureCode::BackendError,
        FailureCode::BackendBadResponse,
        FailureCode::BackendMalformed,
        FailureCode::WrongContentType,
        FailureCode::ImageTruncated,
        FailureCode::ImageTooLarge,
        FailureCode::CredentialsRejected,
        FailureCode::ContentBlocked,
        FailureCode::RateLimited,
        FailureCode::Unsupported,
        FailureCode::BadImage,
        FailureCode::Interrupted,
        FailureCode::DeadlineExceeded,
        FailureCode::Internal,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FailureCode::BackendTimeout => "backend-timeout",
            FailureCode::BackendUnavailable => "backend-unavailable",
            FailureCode::BackendRejected => "backend-rejected",
            FailureCode::BackendError => "backend-error",
            FailureCode::BackendBadResponse => "backend-bad-response",
            FailureCode::BackendMalformed => "backend-malformed",
            FailureCode::WrongContentType => "wrong-content-type",
            FailureCode::ImageTruncated => "image-truncated",
            FailureCode::ImageTooLarge => "image-too-large",
            FailureCode::CredentialsRejected => "credentials-rejected",
            FailureCode::ContentBlocked => "content-blocked",
            FailureCode::RateLimited => "rate-limited",
            FailureCode::Unsupported => "unsupported",
            FailureCode::BadImage => "bad-image",
            FailureCode::Interrupted => "interrupted",
            FailureCode::DeadlineExceeded => "deadline-exceeded",
            FailureCode::Internal => "internal",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FailureCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown failure code `{s}`"))
    }
}

/// Where a task's Discord message lives; empty for tasks from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageRef {
    pub interaction_token: Option<String>,
    /// Unix milliseconds after which the interaction token no longer works.
    pub token_expires_at: Option<i64>,
    /// The message's id once known (a follow-up's, or a channel message's).
    pub message_id: Option<String>,
    /// The message is the interaction's original response (`@original`).
    pub original: bool,
}

/// A request to create a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub kind: TaskKind,
    pub parent_id: Option<TaskId>,
    pub user_id: String,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub prompt: PromptSpec,
    pub backend: String,
    /// The model the member asked for (a backend name or alias, normalised), if any: a
    /// failover stays within backends that answer to it.
    pub model: Option<String>,
    /// The member's `--seed`, or one Easel picked.
    pub seed: u32,
    pub message: MessageRef,
    /// Input images (blend, describe): encoded files, stored with the task on submit.
    pub inputs: Vec<bytes::Bytes>,
    /// How many tasks the member may have running at once (their quota); `None` =
    /// `limits.per_user_running`.
    pub running_cap: Option<u32>,
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub kind: TaskKind,
    pub state: TaskState,
    pub parent_id: Option<TaskId>,
    pub user_id: String,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub prompt: PromptSpec,
    pub backend: String,
    pub model: Option<String>,
    /// Backends that failed this task before the current one took it over.
    pub tried_backends: Vec<String>,
    pub remote_id: Option<String>,
    pub remote_state: Option<serde_json::Value>,
    pub progress: u8,
    pub seed: u32,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub deadline_at: i64,
    pub failure: Option<(FailureCode, String)>,
    pub output_prompts: Vec<String>,
    pub notes: Vec<String>,
    pub input_count: u8,
    pub message: MessageRef,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Milliseconds since the Unix epoch: the one clock format stored in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

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
