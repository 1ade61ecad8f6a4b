//! The ℹ️ panel: a result's details as one private message — the full prompt as sent (in a
//! code block, to copy), its parameters, each image's seed where the backend gave one, model
//! and backend, task id, the parent task with a link to its message, and when it was queued
//! and generated (Discord timestamps, shown in the reader's time zone) — with 🗑️ for those
//! who may delete it. Pure, so every line is unit-tested.

use std::fmt::Write as _;

use super::custom_id::ButtonAction;
use super::render::{Button, ButtonStyle, MessageView};
use crate::app::JobInfo;
use crate::base::{Strength, TaskKind};
use crate::db::Task;
use crate::prompt::PromptSpec;

/// Discord's limit on a message's text.
const MAX_MESSAGE: usize = 2000;
/// Room for the prompt's code block; everything else on the panel is short.
const MAX_PROMPT: usize = 1200;

/// The panel for `info`; [`super::render::Attach::None`] always (the result shows the image).
pub fn info_panel(info: &JobInfo) -> MessageView {
    let t = &info.task;
    let mut out = format!("**Task {}** · {}\n", t.id, kind_name(t));
    let sent = sent_prompt(&t.prompt);
    if sent.is_empty() {
        out += "Prompt: (none — made from images)\n";
    } else {
        let _ = writeln!(out, "Prompt:\n```\n{}\n```", fenced(&sent));
    }
    let params = parameters(&t.prompt);
    let _ =
        writeln!(out, "Parameters: {}", if params.is_empty() { "none".to_string() } else { code(&params) });
    let _ = writeln!(out, "Seed: {}", code(&t.seed.to_string()));
    let seeds: Vec<String> = info
        .images
        .iter()
        .filter_map(|i| i.seed.map(|s| format!("#{} {}", i.index + 1, code(&s.to_string()))))
        .collect();
    if !seeds.is_empty() {
        let _ = writeln!(out, "Image seeds: {}", seeds.join(" · "));
    }
    let model = t.model.as_deref().map(|m| format!("{} on ", code(m))).unwrap_or_default();
    let _ = writeln!(out, "Model: {model}backend {}", code(&t.backend));
    match (t.parent_id, &info.parent) {
        (Some(_), Some(parent)) => {
            let _ = writeln!(out, "Made from: task {}{}", code(&parent.id.to_string()), link(parent));
        }
        (Some(id), None) => {
            let _ = writeln!(out, "Made from: task {} (deleted)", code(&id.to_string()));
        }
        (None, _) => {}
    }
    let _ = write!(out, "Queued: {}", timestamp(t.created_at));
    if let Some(done) = t.finished_at {
        let _ = write!(out, " · Generated: {}", timestamp(done));
    }
    let rows = match info.may_delete {
        true => vec![vec![Button {
            label: Some("Delete".into()),
            emoji: Some("🗑️".into()),
            style: ButtonStyle::Danger,
            custom_id: ButtonAction::Delete { task: t.id }.to_string(),
        }]],
        false => Vec::new(),
    };
    MessageView { content: clip(out), rows, attach: super::render::Attach::None }
}

fn kind_name(t: &Task) -> String {
    match t.kind {
        TaskKind::Imagine => "imagine".into(),
        TaskKind::Reroll => "imagine (🔄)".into(),
        TaskKind::Upscale { index } => format!("upscale of image #{}", index + 1),
        TaskKind::Variation { index, strength } => {
            let s = if strength == Strength::Strong { "strong" } else { "subtle" };
            format!("variation ({s}) of image #{}", index + 1)
        }
        TaskKind::Blend => "blend".into(),
        TaskKind::Describe => "describe".into(),
        TaskKind::Edit { index, action } => {
            format!("{} of image #{}", action.title().to_lowercase(), index + 1)
        }
        TaskKind::Upscale2x { index, mode } => {
            let m = if mode == crate::base::UpscaleMode::Creative { "creative" } else { "subtle" };
            format!("upscale ({m}) of image #{}", index + 1)
        }
    }
}

/// The prompt as sent to the backend: image links, text and parameters.
fn sent_prompt(p: &PromptSpec) -> String {
    let text = p.canonical();
    if p.text.trim().is_empty() && p.image_urls.is_empty() { String::new() } else { text }
}

/// Just the parameters (`--ar 3:2 --seed 7`), as canonical form writes them.
fn parameters(p: &PromptSpec) -> String {
    PromptSpec { image_urls: Vec::new(), text: String::new(), params: p.params.clone() }
        .canonical()
        .trim()
        .to_string()
}

/// Inside a code block nothing is markdown, but three backticks would end it early: a
/// zero-width space between them keeps the text as typed to the eye.
fn fenced(text: &str) -> String {
    let safe = text.replace("```", "`\u{200b}`\u{200b}`");
    if safe.len() <= MAX_PROMPT {
        return safe;
    }
    let mut end = MAX_PROMPT - '…'.len_utf8();
    while !safe.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &safe[..end])
}

/// An inline code span; a backtick inside would end it, so those become `ˋ`.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "ˋ"))
}

/// ` — [jump to it](https://discord.com/channels/…)` when the task's message is known.
fn link(t: &Task) -> String {
    super::render::message_link(t).map(|url| format!(" — [jump to it]({url})")).unwrap_or_default()
}

/// `<t:1700000000:f>`: Discord shows it as a date and time in the reader's own time zone.
fn timestamp(ms: i64) -> String {
    format!("<t:{}:f>", ms.div_euclid(1000))
}

fn clip(s: String) -> String {
    if s.len() <= MAX_MESSAGE {
        return s;
    }
    let mut end = MAX_MESSAGE - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
#[path = "info_panel_tests.rs"]
mod tests;
