//! A connection of its own to a test's database (SQLite file or PostgreSQL), for the few
//! tests that must look at the file's settings or put a row into a state no API makes (a
//! deadline already passed). Easel's own SQL stays in `easel::db`; this is the test
//! reaching behind it on purpose.

use sqlx::Connection;

pub async fn connect(url: &str) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(url).await.expect("a second connection to the test database")
}

/// Runs one statement (no parameters) on the database at `url`, whichever kind it is.
pub async fn execute(url: &str, sql: &'static str) {
    if url.starts_with("sqlite:") {
        sqlx::query(sql).execute(&mut connect(url).await).await.expect("raw statement");
    } else {
        let mut pg =
            sqlx::PgConnection::connect(url).await.expect("a second connection to the test database");
        sqlx::query(sql).execute(&mut pg).await.expect("raw statement");
    }
}
