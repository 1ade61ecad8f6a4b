//! All of Easel's SQL, behind one handle, [`Db`], whose methods each do one thing a caller
//! needs; no connection pool and no SQL text leaves this module. One file per table group:
//!
//! - `tasks`: the task row and its images as Rust types, reading them, and where a task's
//!   Discord message lives;
//! - `submit`: creating tasks, with the member's caps and daily quota checked in the same
//!   transaction as the insert;
//! - `lifecycle`: claiming and every later state change, each a guarded `UPDATE`;
//! - `queue`: the queue as members, routing and operators see it;
//! - `results`: finished results afterwards (shown again, deleted);
//! - `admin`: the pause switch, bans, quota overrides and the prompt audit;
//! - `prefs`: each member's settings and named options;
//! - `dialect`: the statements whose syntax differs between SQL dialects (the claim, JSON
//!   updates, upserts, how a submit locks out a concurrent one), one place each.
//!
//! Statements that every dialect reads the same way (`$1` placeholders, no dialect
//! functions) are written once, in the table files. SQLite is the only dialect today;
//! PostgreSQL (for several processes) adds its arm to `dialect` and its own `migrations/`
//! folder without touching a caller.

mod admin;
mod dialect;
mod lifecycle;
mod prefs;
mod queue;
mod results;
mod submit;
mod tasks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use admin::{AuditEntry, Ban, QuotaOverride};
pub use prefs::{UserSettings, parse_aspect};
pub use queue::BackendQueue;
pub use submit::{MemberLoad, OverLimit, SubmitLimits};
pub use tasks::{NewTask, Outcome, StoredImage, Task};

use crate::base::now_ms;
use dialect::Sql;

/// The database: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
    sql: &'static Sql,
}

impl Db {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("database.url `{url}` is not a SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = Path::new(opts.get_filename()).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.context("applying database migrations")?;
        Ok(Db { pool, sql: &dialect::SQLITE })
    }

    /// Proves the database accepts writes (for `/healthz`).
    pub async fn probe_write(&self) -> anyhow::Result<()> {
        sqlx::query(self.sql.probe_write).bind(now_ms()).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
