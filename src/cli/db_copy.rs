//! `easel db copy --from sqlite://… --to postgres://…`: moves an install's data into
//! PostgreSQL, printing what it copied; errors name the URL (password redacted) and what to do.

use std::process::ExitCode;

use crate::base::redact_url;
use crate::db::{Db, Engine};

pub async fn db_copy(from: &str, to: &str) -> ExitCode {
    match run(from, to).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(from: &str, to: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        Engine::of_url(from)? == Engine::Sqlite,
        "--from must be a SQLite database (sqlite://path/to/easel.db), not `{}`",
        redact_url(from)
    );
    anyhow::ensure!(
        Engine::of_url(to)? == Engine::Postgres,
        "--to must be a PostgreSQL database (postgres://user:password@host/dbname), not `{}`",
        redact_url(to)
    );
    if let Some(path) = from.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p)) {
        anyhow::ensure!(
            std::path::Path::new(path).exists(),
            "--from: there is no SQLite database at {path} (it would be created empty)"
        );
    }
    let source = Db::open(from).await?;
    let dest = Db::open(to).await?;
    let report = source.copy_into(&dest).await?;
    for (table, rows) in &report {
        println!("{table}: {rows} rows");
    }
    println!("copied {} into {}", redact_url(from), redact_url(to));
    source.close().await;
    dest.close().await;
    Ok(())
}
