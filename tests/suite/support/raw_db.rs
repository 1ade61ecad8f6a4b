//! A connection of its own to a test's SQLite file, for the few tests that must look at the
//! file's settings or put a row into a state no API makes (a deadline already passed).
//! Easel's own SQL stays in `easel::db`; this is the test reaching behind it on purpose.

use sqlx::Connection;

pub async fn connect(url: &str) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(url).await.expect("a second connection to the test database")
}
