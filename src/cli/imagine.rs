//! `easel imagine`: one /imagine without Discord, through the same submit path, printing its
//! progress and writing the grid and the images.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::init_logging;
use crate::app::{App, Requester};
use crate::base::{ImageRole, TaskId, TaskState};
use crate::config::{self, Config};
use crate::tasks::events::EventKind;

pub async fn imagine(path: Option<&Path>, prompt: &str, backend: Option<&str>, out: &Path) -> ExitCode {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The command prints its own progress; the log only speaks up for problems.
    init_logging(&config, "warn");
    match run_imagine(config, prompt, backend, out).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_imagine(
    config: Config,
    prompt: &str,
    backend: Option<&str>,
    out: &Path,
) -> anyhow::Result<bool> {
    let deadline = Duration::from_secs(config.limits.task_deadline_secs + 30);
    let app = App::build(config).await?;
    let scheduler = app.start();
    let mut events = app.engine.subscribe();
    let started = Instant::now();
    let who = Requester { user_id: "cli".into(), ..Requester::default() };
    let tasks = match app.imagine(prompt, backend, &who).await.map_err(|e| e.into_internal()) {
        Ok(tasks) => tasks,
        Err(Ok(internal)) => return Err(internal),
        Err(Err(refused)) => {
            eprintln!("error: {refused}");
            return Ok(false);
        }
    };
    let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
    for t in &tasks {
        println!("task {} on backend `{}`: {}", t.id, t.backend, t.prompt.canonical());
    }
    let mut remaining = ids.clone();
    let mut display = super::progress::ProgressDisplay::stdout(&ids);
    let until = tokio::time::Instant::now() + deadline;
    while !remaining.is_empty() {
        let ev = match tokio::time::timeout_at(until, events.recv()).await {
            Ok(Ok(ev)) => ev,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) | Err(_) => {
                display.finish();
                anyhow::bail!("tasks {remaining:?} did not finish in time")
            }
        };
        if !remaining.contains(&ev.task_id) {
            continue;
        }
        match &ev.kind {
            EventKind::Progress { percent, .. } => display.progress(ev.task_id, *percent),
            EventKind::Retrying { attempt, after, reason } => display.note(&format!(
                "task {}: attempt {attempt} failed ({reason}); retrying in {:.1} s",
                ev.task_id,
                after.as_secs_f32()
            )),
            k if k.is_final() => {
                display.finished(ev.task_id);
                remaining.retain(|id| *id != ev.task_id)
            }
            _ => {}
        }
    }
    display.finish();
    let mut all_ok = true;
    tokio::fs::create_dir_all(out).await?;
    for id in ids {
        all_ok &= report(&app, id, out).await?;
    }
    println!("total {:.2} s", started.elapsed().as_secs_f32());
    app.engine.shutdown(Duration::from_secs(5)).await;
    scheduler.abort();
    Ok(all_ok)
}

/// Copies a finished task's files to `out` and prints where they went and how long it took.
async fn report(app: &App, id: TaskId, out: &Path) -> anyhow::Result<bool> {
    let store = &app.db;
    let task = store.task(id).await?.ok_or_else(|| anyhow::anyhow!("task {id} vanished"))?;
    if task.state != TaskState::Succeeded {
        let (code, message) =
            task.failure.clone().unwrap_or((crate::base::FailureCode::Internal, "no reason recorded".into()));
        println!("task {id} {}: {message} [{code}]", task.state);
        return Ok(false);
    }
    let wait = task.started_at.map_or(0, |s| s - task.created_at);
    let work = task.finished_at.zip(task.started_at).map_or(0, |(f, s)| f - s);
    println!("task {id} succeeded: waited {wait} ms, generated in {work} ms");
    for note in &task.notes {
        println!("  note: {note}");
    }
    let mut files = store.images(id, ImageRole::Grid).await?;
    files.extend(store.images(id, ImageRole::Image).await?);
    for img in files {
        let ext = Path::new(&img.path).extension().and_then(|e| e.to_str()).unwrap_or("img");
        let name = match img.role {
            ImageRole::Grid => format!("task{id}-grid.{ext}"),
            _ => format!("task{id}-{}.{ext}", img.index + 1),
        };
        let dest = out.join(name);
        tokio::fs::copy(&img.path, &dest).await?;
        println!("  {} ({}x{}, {} KiB)", dest.display(), img.width, img.height, img.bytes.div_ceil(1024));
    }
    Ok(true)
}
