//! What the `easel` subcommands do: `run` and `sandbox` serve Easel (through the one serving
//! sequence in `serve`), `check-config` checks a config, and `imagine` runs one imagine end to
//! end so an admin can try a backend before inviting the bot. `db` backs the database up and
//! vacuums it.

pub mod db;
mod db_copy;
pub mod healthcheck;
mod imagine;
mod progress;
pub mod serve;

use std::path::Path;
use std::process::ExitCode;

pub use db_copy::db_copy;
pub use imagine::imagine;
use serve::Server;

use crate::config::{self, Config, LogFormat};

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

pub async fn run(path: Option<&Path>) -> ExitCode {
    let config = match config::load(path).and_then(|c| c.check_runnable().map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, &config.log.level.clone());
    for warning in crate::backends::warnings(&config) {
        tracing::warn!("config: {warning}");
    }
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    match server.serve_until(stop_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Easel stopped");
            ExitCode::FAILURE
        }
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
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let backends: Vec<&str> = server.app.engine.backends().names().collect();
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
    if let Some(addr) = server.http {
        println!("Health and metrics: http://{addr}/healthz and /metrics");
    }
    println!("Ctrl-C stops it. Data is kept under {}.", server.app.config.storage.dir.display());
    match server.serve_until(stop_signal()).await {
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
    for warning in crate::backends::warnings(&config) {
        println!("warning: {warning}");
    }
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
