//! `easel db backup FILE` and `easel db vacuum`: the database's upkeep from the command line,
//! safe while Easel runs. A backup is one consistent copy (SQLite's `VACUUM INTO` reads it in a
//! single transaction), never over an existing file; a vacuum gives the space of deleted rows
//! back to the disk (after retention pruned a lot, say).

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, Config};
use crate::db::Db;

/// `easel db backup FILE`.
pub async fn backup(config_path: Option<&Path>, file: &Path) -> ExitCode {
    let Some(config) = load(config_path) else { return ExitCode::from(2) };
    match backup_to(&config, file).await {
        Ok(bytes) => {
            println!("backed up {} to {} ({})", config.database.url, file.display(), size(bytes));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the backup and returns its size. Refuses an existing file, so a mistyped name
/// never overwrites an older backup (or the database itself).
pub async fn backup_to(config: &Config, file: &Path) -> anyhow::Result<u64> {
    if file.exists() {
        anyhow::bail!(
            "{} already exists: Easel does not overwrite it. Choose a new file name, or move the old one away first",
            file.display()
        );
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        anyhow::bail!("the folder {} does not exist: create it first", dir.display());
    }
    let db = Db::open(&config.database.url).await?;
    let done = db.backup_into(file).await;
    db.close().await;
    done.map_err(|e| e.context(format!("writing the backup to {}", file.display())))?;
    Ok(std::fs::metadata(file)?.len())
}

/// `easel db vacuum`.
pub async fn vacuum(config_path: Option<&Path>) -> ExitCode {
    let Some(config) = load(config_path) else { return ExitCode::from(2) };
    match vacuum_now(&config).await {
        Ok((before, after)) => {
            println!("vacuumed {}: {} → {}", config.database.url, size(before), size(after));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Vacuums the database; returns the file's size before and after.
pub async fn vacuum_now(config: &Config) -> anyhow::Result<(u64, u64)> {
    let db = Db::open(&config.database.url).await?;
    let file = db.file().unwrap_or_default();
    let before = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let done = db.vacuum().await;
    db.close().await;
    // A busy database (Easel writing) makes SQLite give up after the busy timeout.
    done.map_err(|e| e.context("vacuuming the database (if Easel is busy, try again when it is quieter)"))?;
    Ok((before, std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)))
}

fn load(path: Option<&Path>) -> Option<Config> {
    match config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{bytes} bytes")
    }
}
