//! Tasks: what a member asked for, where it is in its life, and how it ended. This module
//! holds the types and the legal state transitions; `store` persists them, `engine` runs them.

pub mod engine;
pub mod events;
mod failover;
pub mod queries;
mod runner;
pub mod store;

use crate::base::{FailureCode, MessageRef, TaskId, TaskKind, TaskState};
use crate::prompt::PromptSpec;

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
