//! Events the engine emits as tasks move: the only way the Discord side (or the CLI) learns
//! what happened. Events carry just enough to render; the task row holds the rest.

use std::time::Duration;

use bytes::Bytes;

use crate::base::{FailureCode, TaskId};

#[derive(Debug, Clone)]
pub struct TaskEvent {
    pub task_id: TaskId,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Queued,
    /// A worker took the task and handed it to its backend.
    Started,
    /// `preview` is a JPEG the backend sent while working, when it sends them.
    Progress {
        percent: u8,
        preview: Option<Bytes>,
    },
    /// A retryable failure; the task runs again after `after`.
    Retrying {
        attempt: u32,
        after: Duration,
        reason: String,
    },
    Succeeded,
    Failed {
        code: FailureCode,
        message: String,
    },
    Canceled,
}

impl EventKind {
    pub fn is_final(&self) -> bool {
        matches!(self, EventKind::Succeeded | EventKind::Failed { .. } | EventKind::Canceled)
    }
}
