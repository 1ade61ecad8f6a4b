//! The `easel` command line: parses arguments and hands over to `easel::cli`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Easel: a self-hosted, Midjourney-style image bot for Discord.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Config file (default: $EASEL_CONFIG, else ./easel.toml if present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot on Discord (the default).
    Run,
    /// Run Easel against a local Discord-like sandbox, with a web page to use it from.
    Sandbox {
        /// Address for the page and the sandbox: an IP (with --port) or IP:PORT. 0.0.0.0 serves
        /// other machines too (e.g. from a container); the page has no login.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = listen_address)]
        listen: Listen,
        /// Port for the page and the sandbox, unless --listen names one.
        #[arg(long, default_value_t = easel::cli::SANDBOX_PORT)]
        port: u16,
    },
    /// Check a config file and print a summary with secrets redacted.
    CheckConfig,
    /// Ask a running Easel's /healthz whether it is healthy: exit 0 if so, 1 if not (for Docker's
    /// HEALTHCHECK and service monitors).
    Healthcheck {
        /// The URL to ask (default: /healthz on the config's `http.listen`).
        #[arg(long)]
        url: Option<String>,
    },
    /// Run one /imagine without Discord and write the grid and the four images.
    Imagine {
        /// The prompt, with Midjourney parameters (e.g. "a lighthouse at dusk --ar 3:2").
        prompt: String,
        /// The backend to use (default: the first configured, or the offline demo).
        #[arg(long)]
        backend: Option<String>,
        /// Where to write the images.
        #[arg(long, default_value = "easel-out")]
        out: PathBuf,
    },
    /// Database tools: back up, compact, or copy to PostgreSQL.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Subcommand)]
enum DbAction {
    /// Write a consistent copy of the SQLite database to FILE (which must not exist yet).
    Backup {
        /// The new file, e.g. backups/easel-2025-01-31.db.
        file: PathBuf,
    },
    /// Give the space of deleted rows back to the disk (after a large prune).
    Vacuum,
    /// Copy every task, image record, setting, quota, ban and audit row of a SQLite database
    /// into an empty PostgreSQL database, keeping ids. Stop Easel first.
    Copy {
        /// The SQLite database, e.g. sqlite://data/easel.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The PostgreSQL database, e.g. postgres://easel:PASSWORD@localhost/easel; it must
        /// exist and be empty (its tables are created).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `--listen`: an IP address alone, or with its port.
#[derive(Clone, Copy)]
enum Listen {
    Ip(IpAddr),
    Socket(SocketAddr),
}

fn listen_address(s: &str) -> Result<Listen, String> {
    s.parse()
        .map(Listen::Socket)
        .or_else(|_| s.parse().map(Listen::Ip))
        .map_err(|_| format!("`{s}` is not an IP address or IP:PORT (e.g. 0.0.0.0 or 0.0.0.0:8787)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => easel::cli::run(cli.config.as_deref()).await,
            Command::Sandbox { listen, port } => {
                let listen = match listen {
                    Listen::Socket(addr) => addr,
                    Listen::Ip(ip) => SocketAddr::new(ip, port),
                };
                easel::cli::sandbox(cli.config.as_deref(), listen).await
            }
            Command::Healthcheck { url } => {
                easel::cli::healthcheck::run(cli.config.as_deref(), url.as_deref()).await
            }
            Command::CheckConfig => easel::cli::check_config(cli.config.as_deref()),
            Command::Imagine { prompt, backend, out } => {
                easel::cli::imagine(cli.config.as_deref(), &prompt, backend.as_deref(), &out).await
            }
            Command::Db { action: DbAction::Backup { file } } => {
                easel::cli::db::backup(cli.config.as_deref(), &file).await
            }
            Command::Db { action: DbAction::Vacuum } => easel::cli::db::vacuum(cli.config.as_deref()).await,
            Command::Db { action: DbAction::Copy { from, to } } => easel::cli::db_copy(&from, &to).await,
        }
    })
}
