//! The words every layer uses for a task: its id, what it does, where it is in its life, and
//! where its Discord message lives. Types only, with the legal state transitions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub type TaskId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    Subtle,
    Strong,
}

/// How Upscale (Subtle / Creative) treats the image: the backend's faithful upscaler, or a
/// re-drawing at twice the size that adds detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpscaleMode {
    Subtle,
    Creative,
}

/// The four directions of Pan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

/// Which edit after U a task is: what its message is titled and which Midjourney button it
/// answers to. Its canvas and mask are stored beside it (`tasks.edit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum EditAction {
    ZoomOut2x,
    ZoomOut1_5x,
    CustomZoom,
    MakeSquare,
    Pan { direction: Direction },
    Region,
}

impl EditAction {
    /// Fills new canvas around the source (Zoom Out, Custom Zoom, Make Square, Pan), as
    /// opposed to repainting part of the image (Vary (Region)).
    pub fn outpaints(&self) -> bool {
        !matches!(self, EditAction::Region)
    }

    /// How Midjourney titles the result.
    pub fn title(&self) -> &'static str {
        match self {
            EditAction::ZoomOut2x | EditAction::ZoomOut1_5x | EditAction::CustomZoom => "Zoom Out",
            EditAction::MakeSquare => "Make Square",
            EditAction::Pan { .. } => "Pan",
            EditAction::Region => "Vary (Region)",
        }
    }
}

/// What a task does. Indexes are 0-based here; members see them 1-based (U1–U4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum TaskKind {
    Imagine,
    Upscale {
        index: u8,
    },
    Variation {
        index: u8,
        strength: Strength,
    },
    Reroll,
    Blend,
    Describe,
    /// Zoom Out, Custom Zoom, Make Square, Pan or Vary (Region) of image `index` of the parent.
    Edit {
        index: u8,
        action: EditAction,
    },
    /// Upscale (Subtle / Creative): image `index` of the parent at twice its size.
    Upscale2x {
        index: u8,
        mode: UpscaleMode,
    },
}

impl TaskKind {
    /// Kinds that end in a 2×2 grid of four images.
    pub fn makes_grid(&self) -> bool {
        matches!(
            self,
            TaskKind::Imagine
                | TaskKind::Variation { .. }
                | TaskKind::Reroll
                | TaskKind::Blend
                | TaskKind::Edit { .. }
        )
    }

    /// Kinds that act on one image of a parent task.
    pub fn source_index(&self) -> Option<u8> {
        match self {
            TaskKind::Upscale { index }
            | TaskKind::Variation { index, .. }
            | TaskKind::Edit { index, .. }
            | TaskKind::Upscale2x { index, .. } => Some(*index),
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

/// What an image file is to its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// One of the task's results (four for a grid task, one for an upscale).
    Image,
    /// The composed 2×2 grid.
    Grid,
    /// A member's upload the task works on.
    Input,
    /// The latest progress preview.
    Preview,
}

impl ImageRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            ImageRole::Image => "image",
            ImageRole::Grid => "grid",
            ImageRole::Input => "input",
            ImageRole::Preview => "preview",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "grid" => ImageRole::Grid,
            "input" => ImageRole::Input,
            "preview" => ImageRole::Preview,
            _ => ImageRole::Image,
        }
    }
}
