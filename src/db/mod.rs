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
//! - `favorites`: members' ❤️ and the showcase channel's one post per image;
//! - `admin`: the pause switch, bans, quota overrides and the prompt audit;
//! - `prefs`: each member's settings and named options;
//! - `retention`: what may be removed (never what unfinished work needs), removing it, and
//!   the database's backup and vacuum;
//! - `dialect`: the statements whose syntax differs between SQL dialects (the claim, JSON
//!   updates, upserts, how a submit locks out a concurrent one), one place each.
//!
//! Statements that every dialect reads the same way (`$1` placeholders, no dialect
//! functions, `TRUE`/`FALSE` for flags, `CAST(… AS BIGINT)` where a sum or mean would
//! otherwise come back as PostgreSQL's NUMERIC) are written once, in the table files, and run
//! on whichever pool `database.url` chose through [`on_pool!`]: SQLite (`sqlite://`, the
//! default, one process) or PostgreSQL (`postgres://`). Each dialect has its own
//! `migrations/` folder, kept table for table the same.

mod admin;
mod copy;
mod dialect;
mod favorites;
mod lifecycle;
mod prefs;
mod queue;
mod results;
mod retention;
mod row;
mod submit;
mod tasks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use admin::{AuditEntry, Ban, QuotaOverride};
pub use copy::CopyReport;
pub use favorites::{Favorite, Toggled};
pub use prefs::{UserSettings, parse_aspect};
pub use queue::BackendQueue;
pub use retention::{ImagesRemoved, Removable, Removed, RemovedFor};
pub use submit::{MemberLoad, OverLimit, SubmitLimits};
pub use tasks::{NewTask, Outcome, StoredImage, Task};

use crate::base::now_ms;
use dialect::Sql;

/// Runs `$body` with `$pool` bound to the concrete pool (`&SqlitePool` or `&PgPool`): the
/// body is compiled once per driver, so each gets its own native types, and statements
/// written once run on both.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The connection pool of the database `database.url` names.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database a URL names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// `sqlite:` or `postgres://`/`postgresql://`; anything else is not a database Easel
    /// can use, with a message naming what to write instead.
    pub fn of_url(url: &str) -> anyhow::Result<Engine> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        match scheme.as_str() {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => anyhow::bail!(
                "database.url `{}` names no database Easel can use: write `sqlite://path/to/easel.db` \
                 or `postgres://user:password@host/dbname`",
                crate::base::redact_url(url)
            ),
        }
    }
}

/// The database: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    sql: &'static Sql,
}

impl Db {
    /// Opens the database at `url` (a SQLite file, created if needed, or a PostgreSQL
    /// database, which must exist) and applies the migrations.
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        match Engine::of_url(url)? {
            Engine::Sqlite => Self::open_sqlite(url).await,
            Engine::Postgres => Self::open_postgres(url).await,
        }
    }

    async fn open_sqlite(url: &str) -> anyhow::Result<Db> {
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
        Ok(Db { pool: Pool::Sqlite(pool), sql: &dialect::SQLITE })
    }

    async fn open_postgres(url: &str) -> anyhow::Result<Db> {
        let shown = crate::base::redact_url(url);
        let opts = PgConnectOptions::from_str(url)
            .with_context(|| format!("database.url `{shown}` is not a PostgreSQL URL"))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot connect to the PostgreSQL database {shown}"))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await.context("applying database migrations")?;
        Ok(Db { pool: Pool::Postgres(pool), sql: &dialect::POSTGRES })
    }

    /// Which database this is.
    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }

    /// Proves the database accepts writes (for `/healthz`).
    pub async fn probe_write(&self) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query(self.sql.probe_write).bind(now_ms()).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The database file on disk (SQLite).
    pub fn file(&self) -> Option<std::path::PathBuf> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool.connect_options().get_filename().to_path_buf()),
            Pool::Postgres(_) => None,
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
