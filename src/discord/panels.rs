//! The text of the informational replies — /info, /queue and /easel status — as pure
//! functions of what the app reports (`app::views`), so their wording is unit-tested without
//! Discord.

use std::fmt::Write as _;

use super::render::{escape_markdown, rough_duration};
use crate::app::views::{InfoView, StatusView};
use crate::backends::health::HealthView;
use crate::base::TaskState;
use crate::db::{AuditEntry, BackendQueue, Task};

/// Discord's limit on a message's text.
const MAX_MESSAGE: usize = 2000;
/// Characters of one prompt an audit line shows.
const AUDIT_PROMPT_CHARS: usize = 150;

/// A task's one-line summary, linking to its message when we know where it is.
fn task_line(t: &Task) -> String {
    let state = match t.state {
        TaskState::Queued => "waiting".to_string(),
        TaskState::Submitted | TaskState::Running => format!("running, {}%", t.progress),
        other => other.as_str().to_string(),
    };
    let text =
        if t.prompt.text.trim().is_empty() { "(no prompt)".to_string() } else { t.prompt.text.clone() };
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    let link = super::render::message_link(t).map(|url| format!(" · [message]({url})")).unwrap_or_default();
    format!("`{}` {} — {} on `{}`{link}", t.id, escape_markdown(one_line(&shown)), state, t.backend)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn backend_line(b: &HealthView) -> String {
    let status = if b.breaker == "open" {
        "⛔ paused after repeated failures".to_string()
    } else if b.probe.as_ref().is_some_and(|p| !p.ok) {
        "⚠️ not answering its health check".to_string()
    } else if b.breaker == "half-open" {
        "🟡 recovering".to_string()
    } else {
        "🟢 up".to_string()
    };
    format!("`{}` {status}", b.name)
}

pub fn info(v: &InfoView) -> String {
    let mut out = format!("**Your Easel** · <@{}>\n", v.user_id);
    if v.tasks.is_empty() {
        out += "Nothing waiting or running.\n";
    } else {
        for t in v.tasks.iter().take(15) {
            let _ = writeln!(out, "• {}", task_line(t));
        }
        if v.tasks.len() > 15 {
            let _ = writeln!(out, "• …and {} more", v.tasks.len() - 15);
        }
    }
    let quota = match v.daily_limit {
        Some(limit) => format!("{} of {limit} today (resets at 00:00 UTC)", v.today),
        None => format!("{} today", v.today),
    };
    let _ = writeln!(
        out,
        "**Usage** {quota} · up to {} running and {} waiting at a time",
        v.running_cap, v.queued_cap
    );
    if !v.backends.is_empty() {
        let lines: Vec<String> = v.backends.iter().map(backend_line).collect();
        let _ = write!(out, "**Backends** {}", lines.join(" · "));
    }
    out
}

/// /queue: every backend's waiting and running counts, with an estimate of the wait.
pub fn queue(rows: &[(BackendQueue, Option<std::time::Duration>)], backends: &[HealthView]) -> String {
    let mut out = String::from("**Queue**\n");
    let (mut waiting, mut running) = (0, 0);
    for b in backends {
        let (row, wait) = rows
            .iter()
            .find(|(r, _)| r.backend == b.name)
            .map(|(r, w)| (r.clone(), *w))
            .unwrap_or((BackendQueue { backend: b.name.clone(), queued: 0, running: 0 }, None));
        waiting += row.queued;
        running += row.running;
        let wait = wait.map(|w| format!(", a new task waits ~{}", rough_duration(w))).unwrap_or_default();
        let _ = writeln!(out, "{} — {} running, {} waiting{wait}", backend_line(b), row.running, row.queued);
    }
    let _ = write!(out, "In all: {running} running, {waiting} waiting.");
    out
}

/// /easel status: the pause switch, the queue, the backends and how many members are barred.
pub fn status(v: &StatusView) -> String {
    let mut out = String::from("**Easel status**\n");
    out += if v.paused {
        "⏸️ **Paused**: new tasks are refused, waiting ones wait; `/easel resume` to go on.\n"
    } else {
        "▶️ Taking new tasks.\n"
    };
    let count = |st: TaskState| v.counts.iter().find(|(s, _)| *s == st).map_or(0, |(_, n)| *n);
    let running = count(TaskState::Submitted) + count(TaskState::Running);
    let _ = writeln!(
        out,
        "**Tasks** {} waiting · {running} running · {} done · {} failed · {} canceled",
        count(TaskState::Queued),
        count(TaskState::Succeeded),
        count(TaskState::Failed),
        count(TaskState::Canceled)
    );
    for b in &v.backends {
        let (queued, running) =
            v.queues.iter().find(|(r, _)| r.backend == b.name).map_or((0, 0), |(r, _)| (r.queued, r.running));
        let _ = writeln!(out, "{} — {running} running, {queued} waiting", backend_line(b));
    }
    let _ = write!(out, "**Barred members** {}", v.bans);
    out
}

/// `/easel audit`: prompts and refusals, newest first, as many whole lines as fit in one
/// message; `member` is the member asked about, if any.
pub fn audit(rows: &[AuditEntry], member: Option<&str>) -> String {
    let mut out = match member {
        Some(m) => format!("**Recent prompts** of <@{m}>, newest first\n"),
        None => "**Recent prompts**, newest first\n".to_string(),
    };
    if rows.is_empty() {
        out += "Nothing recorded yet.";
        return out;
    }
    for (shown, row) in rows.iter().enumerate() {
        let line = audit_line(row);
        // Room for the note about the rest, which is at most this long.
        let note = "…and 1000 older not shown";
        if out.len() + line.len() + 1 + note.len() > MAX_MESSAGE {
            let _ = write!(out, "…and {} older not shown", rows.len() - shown);
            return out;
        }
        out += &line;
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn audit_line(r: &AuditEntry) -> String {
    let verdict = match (r.verdict.as_str(), &r.reason) {
        ("refused", Some(why)) => format!("⛔ refused ({})", escape_markdown(why)),
        ("refused", None) => "⛔ refused".to_string(),
        _ => "✅".to_string(),
    };
    let prompt = one_line(&r.prompt);
    let mut clipped: String = prompt.chars().take(AUDIT_PROMPT_CHARS).collect();
    if clipped.len() < prompt.len() {
        clipped.push('…');
    }
    let prompt = if clipped.is_empty() { String::new() } else { format!(" {}", escape_markdown(clipped)) };
    format!("<t:{}:R> <@{}> /{} {verdict}{prompt}", r.at.div_euclid(1000), r.user_id, r.command)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::backends::health::Probe;

    fn view(name: &str, breaker: &'static str, probe_ok: Option<bool>) -> HealthView {
        HealthView {
            name: name.into(),
            probe: probe_ok.map(|ok| Probe { ok, error: None, at: std::time::SystemTime::UNIX_EPOCH }),
            breaker,
            available: breaker == "closed",
        }
    }

    #[test]
    fn info_lists_usage_limits_and_backend_status() {
        let v = InfoView {
            user_id: "42".into(),
            today: 7,
            daily_limit: Some(25),
            running_cap: 3,
            queued_cap: 10,
            backends: vec![view("gpu", "closed", Some(true)), view("cloud", "open", Some(true))],
            ..InfoView::default()
        };
        let text = info(&v);
        assert!(text.contains("Nothing waiting or running."), "{text}");
        assert!(
            text.contains("**Usage** 7 of 25 today (resets at 00:00 UTC) · up to 3 running and 10 waiting")
        );
        assert!(text.contains("`gpu` 🟢 up · `cloud` ⛔ paused after repeated failures"), "{text}");
    }

    #[test]
    fn status_shows_the_switch_the_counts_the_backends_and_bans() {
        let v = StatusView {
            paused: true,
            counts: vec![(TaskState::Queued, 2), (TaskState::Running, 1), (TaskState::Succeeded, 7)],
            queues: vec![(BackendQueue { backend: "gpu".into(), queued: 2, running: 1 }, None)],
            backends: vec![view("gpu", "closed", Some(true))],
            bans: 3,
        };
        let text = status(&v);
        assert!(text.contains("⏸️ **Paused**"), "{text}");
        assert!(text.contains("**Tasks** 2 waiting · 1 running · 7 done · 0 failed · 0 canceled"), "{text}");
        assert!(text.contains("`gpu` 🟢 up — 1 running, 2 waiting"), "{text}");
        assert!(text.ends_with("**Barred members** 3"), "{text}");
        assert!(status(&StatusView::default()).contains("▶️ Taking new tasks."));
    }

    #[test]
    fn queue_totals_every_backend_even_idle_ones() {
        let rows = vec![(
            BackendQueue { backend: "gpu".into(), queued: 4, running: 1 },
            Some(Duration::from_secs(42)),
        )];
        let text = queue(&rows, &[view("gpu", "closed", None), view("demo", "closed", Some(false))]);
        assert_eq!(
            text,
            "**Queue**\n`gpu` 🟢 up — 1 running, 4 waiting, a new task waits ~45 s\n\
             `demo` ⚠️ not answering its health check — 0 running, 0 waiting\nIn all: 1 running, 4 waiting."
        );
    }

    fn entry(n: i64, verdict: &str, prompt: &str) -> AuditEntry {
        AuditEntry {
            at: n * 1000,
            user_id: "42".into(),
            guild_id: Some("1".into()),
            channel_id: Some("2".into()),
            command: "imagine".into(),
            prompt: prompt.into(),
            verdict: verdict.into(),
            reason: (verdict == "refused").then(|| "banned-word:gore".to_string()),
        }
    }

    #[test]
    fn the_audit_escapes_prompts_and_fits_one_message() {
        let rows = [entry(2, "refused", "a *bold* <@1> gore"), entry(1, "accepted", "a cat")];
        let text = audit(&rows, Some("42"));
        assert_eq!(
            text,
            "**Recent prompts** of <@42>, newest first\n\
             <t:2:R> <@42> /imagine ⛔ refused (banned-word:gore) a \\*bold\\* \\<@1> gore\n\
             <t:1:R> <@42> /imagine ✅ a cat"
        );
        let many: Vec<AuditEntry> =
            (0..100).map(|n| entry(n, "accepted", &"long prompt ".repeat(40))).collect();
        let text = audit(&many, None);
        assert!(text.len() <= MAX_MESSAGE, "{}", text.len());
        assert!(text.ends_with("older not shown"), "{text}");
        assert_eq!(audit(&[], None), "**Recent prompts**, newest first\nNothing recorded yet.");
    }
}
