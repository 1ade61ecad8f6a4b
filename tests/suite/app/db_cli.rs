//! `easel db backup` and `easel db vacuum` as an admin runs them, on the real binary: a backup
//! is a database Easel opens and reads its tasks from, an existing file is never overwritten,
//! and a vacuum leaves the database working.

use std::path::Path;
use std::process::{Command, Output};

use easel::db::Db;

fn easel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_easel"))
        .current_dir(dir)
        .args(args)
        .env_remove("EASEL_CONFIG")
        .env_remove("DISCORD_TOKEN")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn a_backup_restores_to_a_working_database_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let made = easel(dir.path(), &["imagine", "a lighthouse at dusk", "--out", "pictures"]);
    assert!(made.status.success(), "{}", text(&made));

    let out = easel(dir.path(), &["db", "backup", "easel-backup.db"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("easel-backup.db"), "{}", text(&out));

    // The copy, opened as Easel opens its database, has the task.
    let copy = Db::open(&format!("sqlite://{}", dir.path().join("easel-backup.db").display())).await.unwrap();
    let task = copy.task(1).await.unwrap().expect("the task is in the backup");
    assert_eq!(task.prompt.text, "a lighthouse at dusk");
    assert_eq!(task.state, easel::base::TaskState::Succeeded);
    assert_eq!(copy.images(1, easel::base::ImageRole::Image).await.unwrap().len(), 4);
    copy.close().await;

    // A second backup to the same name is refused, and the first is untouched.
    let before = std::fs::read(dir.path().join("easel-backup.db")).unwrap();
    let again = easel(dir.path(), &["db", "backup", "easel-backup.db"]);
    assert!(!again.status.success(), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("easel-backup.db already exists") && stderr.contains("new file name"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.path().join("easel-backup.db")).unwrap(), before);

    // Into a folder that is not there: said so.
    let nowhere = easel(dir.path(), &["db", "backup", "no/such/folder/b.db"]);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("does not exist"), "{}", text(&nowhere));

    let vacuumed = easel(dir.path(), &["db", "vacuum"]);
    assert!(vacuumed.status.success(), "{}", text(&vacuumed));
    assert!(String::from_utf8_lossy(&vacuumed.stdout).starts_with("vacuumed "), "{}", text(&vacuumed));
    let db = Db::open(&format!("sqlite://{}", dir.path().join("data/easel.db").display())).await.unwrap();
    assert_eq!(db.task(1).await.unwrap().unwrap().prompt.text, "a lighthouse at dusk");
}
