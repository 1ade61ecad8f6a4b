//! A PostgreSQL server for the tests that run on both databases, and a fresh database per
//! test on it. The server is `EASEL_TEST_POSTGRES_URL` when that is set (any database on
//! it that the user may `CREATE DATABASE` from); otherwise one throwaway server per test
//! binary: `initdb` into a temp dir and `pg_ctl start` listening on a Unix socket in that
//! dir only, so parallel test runs never share a port. initdb refuses to run as root, so as
//! root the server runs as the `postgres` user (`runuser`).
//!
//! The server lives as long as the test binary: a small shell script starts it, says
//! `ready`, then waits on its stdin, which this process holds open; when the binary exits,
//! stdin closes and the script stops the server and deletes the dir.
//!
//! Where no server can be had, [`fresh_url`] prints why and returns `None` (the test
//! skips), except under `CI=true`, where it panics: CI must run both databases.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;

/// Which database a parameterised test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Sqlite,
    Postgres,
}

/// A running server: the URL of its maintenance database, and (for a throwaway server) the
/// process and pipe that keep it alive.
struct Server {
    admin_url: String,
    _keep: Option<Mutex<(Child, ChildStdin)>>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// A URL of a new, empty database for one test on `which`: a SQLite file in `dir`, or a
/// new PostgreSQL database. `None` (with a printed reason) when PostgreSQL is unavailable
/// and the test should skip; under `CI=true` that panics instead.
pub async fn url_for(which: Which, dir: &Path) -> Option<String> {
    match which {
        Which::Sqlite => Some(format!("sqlite://{}", dir.join("easel.db").display())),
        Which::Postgres => fresh_url().await,
    }
}

/// A new, empty PostgreSQL database; see [`url_for`].
pub async fn fresh_url() -> Option<String> {
    let server = match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL is required under CI=true but unavailable: {why}");
            }
            eprintln!("SKIPPED on PostgreSQL: {why} (set EASEL_TEST_POSTGRES_URL, or install `postgresql`)");
            return None;
        }
    };
    let name = format!("easel_t{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&server.admin_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL server: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    Some(with_database(&server.admin_url, &name))
}

/// `url` with its database name replaced by `db` (query parameters kept).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn start() -> Result<Server, String> {
    if let Ok(url) = std::env::var("EASEL_TEST_POSTGRES_URL") {
        return Ok(Server { admin_url: url, _keep: None });
    }
    let bin = bin_dir().ok_or("no PostgreSQL server binaries (initdb, pg_ctl) found")?;
    let dir =
        tempfile::Builder::new().prefix("easel-pg-").tempdir().map_err(|e| format!("temp dir: {e}"))?.keep();
    let script = format!(
        r#"set -e
B='{bin}'; D='{dir}'
"$B/initdb" -D "$D/data" -U easel -A trust --no-sync -E UTF8 --no-locale >"$D/initdb.log" 2>&1 \
  || {{ echo "initdb failed: $(tail -n 3 "$D/initdb.log")"; exit 1; }}
"$B/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 60 -o "-k $D -c listen_addresses='' -p 5432 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null \
  || {{ echo "the server did not start: $(tail -n 3 "$D/server.log")"; exit 1; }}
echo ready
read _ || true
"$B/pg_ctl" -D "$D/data" -m immediate stop >/dev/null 2>&1 || true
rm -rf "$D"
"#,
        bin = bin.display(),
        dir = dir.display(),
    );
    let mut cmd = if is_root() {
        // initdb refuses root: the cluster belongs to `postgres`, and so does the dir.
        let chown = Command::new("chown").arg("postgres:").arg(&dir).status();
        if !chown.is_ok_and(|s| s.success()) {
            return Err("running as root and cannot hand the temp dir to the `postgres` user".into());
        }
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting PostgreSQL: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .map_err(|e| format!("waiting for PostgreSQL: {e}"))?;
    if line.trim() != "ready" {
        let _ = child.wait();
        return Err(format!("PostgreSQL did not start: {}", line.trim()));
    }
    let stdin = child.stdin.take().expect("piped stdin");
    let admin_url = format!("postgres://easel@localhost/postgres?host={}&port=5432", dir.display());
    Ok(Server { admin_url, _keep: Some(Mutex::new((child, stdin))) })
}

/// The server binaries: `EASEL_TEST_PG_BIN`, else Debian's newest `/usr/lib/postgresql/N/bin`,
/// else wherever `initdb` is on the `PATH`.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("EASEL_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(PathBuf::from).find(|d| d.join("initdb").exists())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs each named `async fn(Which)` as two tests, `sqlite::name` and `postgres::name`, so
/// a filter picks one database (`engine::store::postgres::`).
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::postgres::Which::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::postgres::Which::Postgres).await
                }
            )*
        }
    };
}
pub(crate) use on_both_databases;

#[test]
fn a_database_name_replaces_the_one_in_the_url() {
    assert_eq!(with_database("postgres://u:p@h:5/postgres", "x"), "postgres://u:p@h:5/x");
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    assert_eq!(
        with_database("postgres://u@localhost/postgres?host=/tmp/a&port=5432", "x"),
        "postgres://u@localhost/x?host=/tmp/a&port=5432"
    );
}
