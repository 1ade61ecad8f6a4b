//! Pure rendering: a task (and what the backend can do) → the Discord message that shows it.
//! No I/O here, so every state a member can see is unit-tested.

use crate::backends::Capabilities;
use crate::base::{Direction, EditAction, Strength, TaskId, TaskKind, TaskState, UpscaleMode};
use crate::db::Task;
use crate::discord::custom_id::ButtonAction;
use crate::tasks::engine::QueuePlace;

/// Discord's limit on message content.
const MAX_CONTENT: usize = 2000;
/// Room kept for the status, mention and notes around the prompt.
const MAX_PROMPT_SHOWN: usize = 1500;
/// Each of /describe's four prompts, so all four fit in one message.
const MAX_DESCRIBED_SHOWN: usize = 440;
/// How /describe numbers its prompts; the buttons below carry the same digits.
const NUMBERS: [&str; 4] = ["1️⃣", "2️⃣", "3️⃣", "4️⃣"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    Primary = 1,
    Secondary = 2,
    Success = 3,
    Danger = 4,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: Option<String>,
    pub emoji: Option<String>,
    pub style: ButtonStyle,
    pub custom_id: String,
}

/// Which file goes with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    None,
    /// The latest progress preview, when the backend sent one.
    Preview,
    /// The 2×2 grid.
    Grid,
    /// The single image of an upscale.
    Image,
    /// The image a /describe read (shown beside its prompts).
    Input,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub content: String,
    pub rows: Vec<Vec<Button>>,
    pub attach: Attach,
}

/// Everything besides the task row that decides what the message shows.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    /// What the task's backend can do; `None` when it is no longer configured.
    pub caps: Option<Capabilities>,
    /// Indexes (0-based) already upscaled from this grid: their U buttons turn green.
    pub used_upscales: Vec<u8>,
    /// A progress preview is available to attach.
    pub has_preview: bool,
    /// Where a waiting task stands in line.
    pub queue: Option<QueuePlace>,
    /// The width and height of a single-image result (Make Square is offered only when they
    /// differ).
    pub image_size: Option<(u32, u32)>,
}

/// The message for `task` in its current state.
pub fn render(task: &Task, cx: &RenderContext) -> MessageView {
    let head = header(task);
    let (status, attach) = match task.state {
        TaskState::Queued if task.attempts > 0 => (" (Waiting to retry)".to_string(), Attach::None),
        TaskState::Queued => (waiting(cx.queue), Attach::None),
        TaskState::Submitted | TaskState::Running => {
            (format!(" ({}%)", task.progress), if cx.has_preview { Attach::Preview } else { Attach::None })
        }
        TaskState::Succeeded => (
            String::new(),
            match task.kind {
                TaskKind::Describe => Attach::Input,
                k if k.makes_grid() => Attach::Grid,
                _ => Attach::Image,
            },
        ),
        TaskState::Failed => (" (Failed)".to_string(), Attach::None),
        TaskState::Canceled => (" (Canceled)".to_string(), Attach::None),
    };
    let mut content = format!("{head}{status}");
    match task.state {
        TaskState::Failed => {
            let (code, message) =
                task.failure.clone().unwrap_or((crate::base::FailureCode::Internal, String::new()));
            content += &format!("\n> {}\n-# {code} · task {}", escape_links(&one_line(&message)), task.id);
        }
        TaskState::Succeeded => {
            for (i, prompt) in task.output_prompts.iter().take(4).enumerate() {
                let shown = clip(escape_markdown(one_line(prompt)), MAX_DESCRIBED_SHOWN);
                content += &format!("\n{} {shown}", NUMBERS[i]);
            }
            for note in &task.notes {
                content += &format!("\n-# {}", escape_links(&one_line(note)));
            }
        }
        _ => {}
    }
    let rows = match task.state {
        TaskState::Succeeded => with_info(buttons(task, cx), task),
        TaskState::Queued | TaskState::Submitted | TaskState::Running => vec![vec![Button {
            label: Some("Cancel".into()),
            emoji: None,
            style: ButtonStyle::Danger,
            custom_id: ButtonAction::Cancel { task: task.id }.to_string(),
        }]],
        TaskState::Failed | TaskState::Canceled => Vec::new(),
    };
    MessageView { content: clip(content, MAX_CONTENT), rows, attach }
}

/// `(Waiting to start: #3 in queue, ~40 s)`, as much of it as is known.
fn waiting(place: Option<QueuePlace>) -> String {
    match place {
        None => " (Waiting to start)".into(),
        Some(QueuePlace { place, eta: None }) => format!(" (Waiting to start: #{place} in queue)"),
        Some(QueuePlace { place, eta: Some(eta) }) => {
            format!(" (Waiting to start: #{place} in queue, ~{})", rough_duration(eta))
        }
    }
}

/// A friendly estimate: 5-second steps under a minute, then minutes, then hours.
pub fn rough_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{} s", ((secs / 5.0).ceil() as u64).max(1) * 5)
    } else if secs < 3600.0 {
        format!("{} min", (secs / 60.0).round() as u64)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

fn header(task: &Task) -> String {
    let canonical = task.prompt.canonical();
    let who = format!("<@{}>", task.user_id);
    // /blend and /describe have no prompt text, only (for /blend) an aspect ratio; the images
    // made from a blend inherit that empty prompt, so they are titled by the command.
    let prompt = if task.kind == TaskKind::Describe {
        return format!("**/describe** - {who}");
    } else if task.prompt.text.trim().is_empty() {
        clip(escape_markdown(format!("/blend {canonical}").trim_end()), MAX_PROMPT_SHOWN)
    } else {
        clip(escape_markdown(&canonical), MAX_PROMPT_SHOWN)
    };
    match task.kind {
        TaskKind::Upscale { index } | TaskKind::Upscale2x { index, .. } => {
            format!("**{prompt}** - Image #{} {who}", index + 1)
        }
        TaskKind::Edit { action, .. } => format!("**{prompt}** - {} by {who}", action.title()),
        TaskKind::Variation { strength, .. } => {
            let s = match strength {
                Strength::Strong => "Strong",
                Strength::Subtle => "Subtle",
            };
            format!("**{prompt}** - Variations ({s}) by {who}")
        }
        _ => format!("**{prompt}** - {who}"),
    }
}

/// The address of the message that shows `t`, where it is known.
pub fn message_link(t: &Task) -> Option<String> {
    let (channel, message) = (t.channel_id.as_ref()?, t.message.message_id.as_ref()?);
    let guild = t.guild_id.as_deref().unwrap_or("@me");
    Some(format!("https://discord.com/channels/{guild}/{channel}/{message}"))
}

/// Discord's limit on buttons in one action row (and on rows in one message).
const ROW_WIDTH: usize = 5;

/// ℹ️ goes under every result, and ❤️ before it under a single image: together at the end of
/// the last row while it has room for both (beside V1–V4, the Vary buttons), otherwise on a
/// row of their own.
fn with_info(mut rows: Vec<Vec<Button>>, task: &Task) -> Vec<Vec<Button>> {
    let icon = |emoji: &str, action: ButtonAction| Button {
        label: None,
        emoji: Some(emoji.into()),
        style: ButtonStyle::Secondary,
        custom_id: action.to_string(),
    };
    let mut extras = Vec::new();
    if crate::app::favorites::is_single_image(task) {
        extras.push(icon("❤️", ButtonAction::Favorite { task: task.id }));
    }
    extras.push(icon("ℹ️", ButtonAction::Info { task: task.id }));
    match rows.last_mut() {
        Some(last) if last.len() + extras.len() <= ROW_WIDTH => last.extend(extras),
        _ => rows.push(extras),
    }
    debug_assert!(rows.len() <= ROW_WIDTH && rows.iter().all(|r| r.len() <= ROW_WIDTH));
    rows
}

fn buttons(task: &Task, cx: &RenderContext) -> Vec<Vec<Button>> {
    let Some(caps) = &cx.caps else { return Vec::new() };
    let id = task.id;
    // 🔄 needs a prompt to roll again, or (on /blend and /describe) the same operation.
    let can_reroll = match task.kind {
        TaskKind::Blend => caps.blend,
        TaskKind::Describe => caps.describe,
        _ => caps.imagine && !task.prompt.text.trim().is_empty(),
    };
    let reroll = || Button {
        label: None,
        emoji: Some("🔄".into()),
        style: ButtonStyle::Primary,
        custom_id: ButtonAction::Reroll { task: id }.to_string(),
    };
    let button = |label: &str, style, action: ButtonAction| Button {
        label: Some(label.to_string()),
        emoji: None,
        style,
        custom_id: action.to_string(),
    };
    if task.kind.makes_grid() {
        let mut first: Vec<Button> = (0..4u8)
            .map(|i| {
                let style =
                    if cx.used_upscales.contains(&i) { ButtonStyle::Success } else { ButtonStyle::Secondary };
                button(&format!("U{}", i + 1), style, ButtonAction::Upscale { task: id, index: i })
            })
            .collect();
        if can_reroll {
            first.push(reroll());
        }
        let mut rows = vec![first];
        if caps.variation {
            rows.push(
                (0..4u8)
                    .map(|i| {
                        let action = ButtonAction::Vary { task: id, index: i, strength: Strength::Strong };
                        button(&format!("V{}", i + 1), ButtonStyle::Secondary, action)
                    })
                    .collect(),
            );
        }
        rows
    } else if matches!(task.kind, TaskKind::Upscale { .. } | TaskKind::Upscale2x { .. }) {
        after_upscale(id, caps, cx.image_size)
    } else if task.kind == TaskKind::Describe {
        let mut row: Vec<Button> = Vec::new();
        // Each digit starts an /imagine on this backend, so it needs one that can draw.
        if caps.imagine {
            row.extend((0..task.output_prompts.len().min(4) as u8).map(|i| {
                button(
                    &format!("{}", i + 1),
                    ButtonStyle::Secondary,
                    ButtonAction::Prompt { task: id, index: i },
                )
            }));
        }
        if can_reroll {
            row.push(reroll());
        }
        let mut rows = if row.is_empty() { Vec::new() } else { vec![row] };
        // 1–4 and 🔄 fill the first row; "Imagine all" starts the next (ℹ️ joins it).
        if caps.imagine && task.output_prompts.len() > 1 {
            rows.push(vec![button(
                "Imagine all",
                ButtonStyle::Primary,
                ButtonAction::ImagineAll { task: id },
            )]);
        }
        rows
    } else {
        Vec::new()
    }
}

/// Midjourney's rows under a U result, each button only where the backend can serve it:
/// upscales and variations, then zooms and Make Square (non-square images only), then pans.
fn after_upscale(id: TaskId, caps: &Capabilities, size: Option<(u32, u32)>) -> Vec<Vec<Button>> {
    let button = |label: Option<&str>, emoji: Option<&str>, action: ButtonAction| Button {
        label: label.map(str::to_string),
        emoji: emoji.map(str::to_string),
        style: ButtonStyle::Secondary,
        custom_id: action.to_string(),
    };
    let edit =
        |label: &str, action| button(Some(label), None, ButtonAction::Edit { task: id, index: 0, action });
    let mut first = Vec::new();
    for (mode, label) in
        [(UpscaleMode::Subtle, "Upscale (Subtle)"), (UpscaleMode::Creative, "Upscale (Creative)")]
    {
        if caps.upscales_2x(mode) {
            first.push(button(Some(label), None, ButtonAction::Upscale2x { task: id, index: 0, mode }));
        }
    }
    if caps.variation {
        for (strength, label) in [(Strength::Subtle, "Vary (Subtle)"), (Strength::Strong, "Vary (Strong)")] {
            first.push(button(Some(label), None, ButtonAction::Vary { task: id, index: 0, strength }));
        }
    }
    if caps.inpaint {
        first.push(edit("Vary (Region)", EditAction::Region));
    }
    let mut rows = vec![first, Vec::new(), Vec::new()];
    if caps.outpaint {
        rows[1] = vec![
            edit("Zoom Out 2x", EditAction::ZoomOut2x),
            edit("Zoom Out 1.5x", EditAction::ZoomOut1_5x),
            edit("Custom Zoom", EditAction::CustomZoom),
        ];
        if size.is_some_and(|(w, h)| w != h) {
            rows[1].push(edit("Make Square", EditAction::MakeSquare));
        }
        rows[2] = [
            ("⬅️", Direction::Left),
            ("➡️", Direction::Right),
            ("⬆️", Direction::Up),
            ("⬇️", Direction::Down),
        ]
        .into_iter()
        .map(|(emoji, direction)| {
            button(
                None,
                Some(emoji),
                ButtonAction::Edit { task: id, index: 0, action: EditAction::Pan { direction } },
            )
        })
        .collect();
    }
    rows.retain(|r| !r.is_empty());
    rows
}

/// Backslash-escapes Discord markdown so a prompt shows as typed inside `**…**`.
pub fn escape_markdown(text: impl AsRef<str>) -> String {
    // `<` too, so `<@123>` in a prompt shows as text instead of a mention; `[` and `]` so a
    // masked link `[free nitro](https://evil.example)` shows as typed, not as a live link.
    escape(text.as_ref(), &['*', '_', '~', '`', '|', '\\', '<', '[', ']'])
}

/// Backslash-escapes only what makes a masked link (`[text](url)`), for text that mixes
/// Easel's own formatting (`` `backend` ``) with words a backend or member chose: failure
/// messages and notes.
pub fn escape_links(text: &str) -> String {
    escape(text, &['[', ']'])
}

fn escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shortens to at most `max` bytes on a character boundary, marking the cut with `…`.
fn clip(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
#[path = "render_tests.rs"]
pub(crate) mod tests;
