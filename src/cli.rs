//! What the `easel` subcommands do, apart from Discord: checking a config, and running one
//! imagine end to end so an admin can try a backend before inviting the bot.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::app::{App, ImagineError, Requester};
use crate::base::ImageRole;
use crate::base::{TaskId, TaskState};
use crate::config::{self, Config, LogFormat};
use crate::tasks::events::EventKind;

/// Installs the log subscriber: `RUST_LOG` wins, else `default_level`.
pub fn init_logging(config: &Config, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// How long running tasks get to finish when the bot is asked to stop.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// How long, after that, the results of tasks that finished get to reach Discord.
const DELIVERY_GRACE: Duration = Duration::from_secs(10);

pub async fn run(path: Option<&Path>) -> ExitCode {
    let config = match config::load(path).and_then(|c| c.check_runnable().map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, &config.log.level.clone());
    let app = match App::build(config).await {
        Ok(app) => std::sync::Arc::new(app),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Easel could not start");
            return ExitCode::FAILURE;
        }
    };
    app.start();
    if let Err(e) = crate::http::spawn(app.clone()).await {
        tracing::error!(error = %format!("{e:#}"), "cannot serve the operator endpoints");
        return ExitCode::FAILURE;
    }
    let result = tokio::select! {
        r = crate::discord::run(app.clone()) => r,
        _ = stop_signal() => {
            tracing::info!("stopping: no new tasks; running ones get {} s to finish", STOP_GRACE.as_secs());
            Ok(())
        }
    };
    app.engine.shutdown(STOP_GRACE).await;
    flush_deliveries(&app, DELIVERY_GRACE).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Easel stopped");
            ExitCode::FAILURE
        }
    }
}

/// Waits (up to `grace`) until every task that reached a final state has it shown on
/// Discord: a task that finished during the stop grace would otherwise keep showing its last
/// progress until the next start. Message delivery runs on its own tasks and marks each
/// message delivered in the database, so this only has to watch that mark.
async fn flush_deliveries(app: &App, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let pending = match app.db.undelivered_final_count().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not check for undelivered results");
                return;
            }
        };
        if pending == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                pending,
                "stopping before every result reached Discord; they are sent at the next start"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ctrl-C, or SIGTERM (what systemd and `docker stop` send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The sandbox's default port, documented in the README.
pub const SANDBOX_PORT: u16 = 8787;

/// `easel sandbox`: the sandbox and the bot in one process, no Discord account needed. The
/// config (if any) still chooses backends, database and storage; the Discord settings are
/// replaced by the sandbox's.
pub async fn sandbox(path: Option<&Path>, listen: std::net::SocketAddr) -> ExitCode {
    let mut config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, "warn,easel=info");
    let options =
        crate::sandbox::SandboxOptions { listen: listen.ip(), port: listen.port(), ..Default::default() };
    let sandbox = match crate::sandbox::Sandbox::start(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the sandbox on {listen}: {e:#} (is the port taken? try --port)");
            return ExitCode::FAILURE;
        }
    };
    config.discord.token = config::Secret::new(sandbox.bot_token());
    config.discord.api_base = sandbox.api_base();
    config.discord.guild_ids = vec![sandbox.guild_id()];
    let app = match App::build(config).await {
        Ok(app) => std::sync::Arc::new(app),
        Err(e) => {
            eprintln!("error: Easel could not start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    app.start();
    let operator = match crate::http::spawn(app.clone()).await {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: cannot serve the operator endpoints: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let backends: Vec<&str> = app.engine.backends().names().collect();
    println!(
        "Easel sandbox: open {}/ in your browser (backends: {})",
        sandbox.api_base(),
        backends.join(", ")
    );
    if !sandbox.addr().ip().is_loopback() {
        println!(
            "Listening on {}: anyone who can reach it can use it (the page has no login).",
            sandbox.addr()
        );
    }
    if let Some(addr) = operator {
        println!("Health and metrics: http://{addr}/healthz and /metrics");
    }
    println!("Ctrl-C stops it. Data is kept under {}.", app.config.storage.dir.display());
    let result = tokio::select! {
        r = crate::discord::run(app.clone()) => r,
        _ = stop_signal() => Ok(()),
    };
    app.engine.shutdown(STOP_GRACE).await;
    flush_deliveries(&app, DELIVERY_GRACE).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn check_config(path: Option<&Path>) -> ExitCode {
    let config = match config::load(path).and_then(|c| crate::app::check_config(&c).map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", crate::backends::summary(&config));
    // Building the backends reads what they load at start (comfyui's workflow templates), so
    // a broken template is caught here rather than at `run`.
    if let Err(e) = crate::backends::Registry::from_config(&config) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    match config.check_runnable() {
        Ok(()) => {
            println!("ok: this config can run the bot");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

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
    let tasks = match app.imagine(prompt, backend, &who).await {
        Ok(tasks) => tasks,
        Err(ImagineError::Submit(crate::tasks::engine::SubmitError::Internal(e))) => return Err(e),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(false);
        }
    };
    let ids: Vec<TaskId> = tasks.iter().map(|t| t.id).collect();
    for t in &tasks {
        println!("task {} on backend `{}`: {}", t.id, t.backend, t.prompt.canonical());
    }
    let mut remaining = ids.clone();
    let mut display = crate::cli_progress::ProgressDisplay::stdout(&ids);
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
