//! The `easel` command line: parses arguments and hands over to `easel::cli`.

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
        /// Port on 127.0.0.1 for the page and the sandbox.
        #[arg(long, default_value_t = easel::cli::SANDBOX_PORT)]
        port: u16,
    },
    /// Check a config file and print a summary with secrets redacted.
    CheckConfig,
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
            Command::Sandbox { port } => easel::cli::sandbox(cli.config.as_deref(), port).await,
            Command::CheckConfig => easel::cli::check_config(cli.config.as_deref()),
            Command::Imagine { prompt, backend, out } => {
                easel::cli::imagine(cli.config.as_deref(), &prompt, backend.as_deref(), &out).await
            }
        }
    })
}
