//! `easel db copy`: every row of a SQLite database into an empty PostgreSQL one, ids kept
//! (so buttons on old Discord messages still find their tasks). The tables and columns are
//! read from the destination's catalog, not listed here, so a table a later migration adds
//! is copied without touching this file; both databases are migrated to the latest version
//! first, so their tables match. `tasks` goes first (other tables point at it, and a task's
//! parent always has a smaller id), then the rest; `health_probe` is not data.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, PgPool, Row, SqlitePool};

use super::{Db, Pool};

/// Rows copied per table, by table name.
pub type CopyReport = BTreeMap<String, u64>;

/// One column's value, typed as PostgreSQL declares it.
enum Value {
    Int(Option<i64>),
    Flag(Option<bool>),
    Text(Option<String>),
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Flag,
    Text,
}

/// Rows read per statement from the source.
const PAGE: i64 = 500;

impl Db {
    /// Copies everything in `self` (SQLite) into `to` (PostgreSQL, empty).
    pub async fn copy_into(&self, to: &Db) -> anyhow::Result<CopyReport> {
        let (Pool::Sqlite(from), Pool::Postgres(dest)) = (&self.pool, &to.pool) else {
            anyhow::bail!(
                "easel db copy copies a SQLite database (--from sqlite://…) into PostgreSQL (--to postgres://…)"
            );
        };
        let tables = tables_of(dest).await?;
        for (table, _) in &tables {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(dest)
                .await?;
            anyhow::ensure!(
                n == 0,
                "the destination is not empty (table {table} has {n} rows): copy into a new, empty database"
            );
        }
        let mut report = CopyReport::new();
        let mut tx = dest.begin().await?;
        for (table, columns) in &tables {
            let copied = copy_table(from, &mut tx, table, columns)
                .await
                .with_context(|| format!("copying {table}"))?;
            report.insert(table.clone(), copied);
        }
        // Identity columns carry on after the copied ids.
        for (table, columns) in &tables {
            if columns.iter().any(|(c, _)| c == "id") {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
                )))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// The destination's tables to copy, `tasks` first, each with its columns and their kinds.
async fn tables_of(dest: &PgPool) -> anyhow::Result<Vec<(String, Vec<(String, Kind)>)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name NOT IN ('_sqlx_migrations', 'health_probe')
         ORDER BY table_name = 'tasks' DESC, table_name, ordinal_position",
    )
    .fetch_all(dest)
    .await?;
    let mut tables: Vec<(String, Vec<(String, Kind)>)> = Vec::new();
    for (table, column, ty) in rows {
        let kind = match ty.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Flag,
            "text" | "character varying" => Kind::Text,
            other => {
                anyhow::bail!("column {table}.{column} is of type {other}, which easel db copy cannot copy")
            }
        };
        match tables.last_mut() {
            Some((t, cols)) if *t == table => cols.push((column, kind)),
            _ => tables.push((table, vec![(column, kind)])),
        }
    }
    Ok(tables)
}

async fn copy_table(
    from: &SqlitePool,
    tx: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(String, Kind)],
) -> anyhow::Result<u64> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let list = names.join(", ");
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
    // Tables with an `id` are read a page at a time in id order; the others are small
    // (per-member settings and switches) or, like `task_images`, ordered by their key.
    let keyed = names.contains(&"id");
    let mut copied = 0u64;
    let mut after = i64::MIN;
    loop {
        let rows: Vec<SqliteRow> = if keyed {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {list} FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"
            )))
            .bind(after)
            .bind(PAGE)
            .fetch_all(from)
            .await?
        } else {
            sqlx::query(AssertSqlSafe(format!("SELECT {list} FROM {table}"))).fetch_all(from).await?
        };
        for row in &rows {
            let mut q = sqlx::query(AssertSqlSafe(insert.clone()));
            for (name, kind) in columns {
                q = match read(row, name, *kind)? {
                    Value::Int(v) => q.bind(v),
                    Value::Flag(v) => q.bind(v),
                    Value::Text(v) => q.bind(v),
                };
            }
            q.execute(&mut *tx).await?;
            copied += 1;
        }
        match (keyed, rows.last()) {
            (true, Some(last)) if rows.len() as i64 == PAGE => after = last.try_get("id")?,
            _ => break,
        }
    }
    Ok(copied)
}

fn read(row: &SqliteRow, col: &str, kind: Kind) -> anyhow::Result<Value> {
    Ok(match kind {
        Kind::Int => Value::Int(row.try_get(col)?),
        Kind::Flag => Value::Flag(row.try_get(col)?),
        Kind::Text => Value::Text(row.try_get(col)?),
    })
}
