//! `easel db copy`: a SQLite database with a bit of everything (tasks with a parent and
//! images, settings, options, a quota override, a ban, the pause switch, the audit) copied
//! by the real binary into an empty PostgreSQL database, then read back through Easel's own
//! API there. Skips (with a message) where PostgreSQL is unavailable; fails under CI=true.

use std::process::Command;
use std::time::Duration;

use easel::base::{ImageRole, MessageRef, Strength, TaskKind, TaskState, now_ms};
use easel::db::{AuditEntry, Db, NewTask, Outcome, QuotaOverride, StoredImage, SubmitLimits, UserSettings};
use easel::prompt::PromptSpec;

use crate::support::postgres::fresh_url;

fn task(user: &str, text: &str, kind: TaskKind, parent: Option<i64>) -> NewTask {
    NewTask {
        kind,
        parent_id: parent,
        user_id: user.into(),
        guild_id: Some("g".into()),
        channel_id: None,
        prompt: PromptSpec { text: text.into(), ..PromptSpec::default() },
        backend: "demo".into(),
        model: Some("demo".into()),
        seed: 11,
        message: MessageRef {
            interaction_token: Some("tok".into()),
            token_expires_at: Some(5),
            message_id: None,
            original: true,
        },
        inputs: Vec::new(),
        running_cap: Some(2),
        edit: None,
    }
}

fn image(role: ImageRole, index: u8) -> StoredImage {
    StoredImage {
        role,
        index,
        path: format!("/data/images/1/{}-{index}.png", role.as_str()),
        mime: "image/png".into(),
        width: 64,
        height: 32,
        bytes: 999,
        seed: None,
    }
}

fn copy(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["db", "copy", "--from", from, "--to", to])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_copy_moves_everything_from_sqlite_into_an_empty_postgres_keeping_ids() {
    let Some(pg_url) = fresh_url().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("easel.db").display());
    let limits = SubmitLimits { waiting_cap: 100, daily_limit: None, day_start_ms: 0 };
    let deadline = Duration::from_secs(900);
    let (grid_id, upscale_id) = {
        let src = Db::open(&sqlite_url).await.unwrap();
        let batch = vec![(task("alice", "a fox", TaskKind::Imagine, None), vec![image(ImageRole::Input, 0)])];
        let grid = src.insert_tasks(&batch, &limits, 3, deadline, now_ms()).await.unwrap().unwrap().remove(0);
        src.release(grid.id).await.unwrap();
        src.claim_next("demo", 3).await.unwrap().unwrap();
        let outcome = Outcome {
            images: vec![image(ImageRole::Grid, 0)],
            notes: vec!["n".into()],
            ..Outcome::default()
        };
        assert!(src.succeed(grid.id, &outcome).await.unwrap());
        assert!(src.mark_delivered(grid.id).await.unwrap());
        let up = vec![(task("bob", "a fox", TaskKind::Upscale { index: 1 }, Some(grid.id)), Vec::new())];
        let up = src.insert_tasks(&up, &limits, 3, deadline, now_ms()).await.unwrap().unwrap().remove(0);
        let settings = UserSettings {
            private: true,
            remix: true,
            stylize: Some(250),
            strength: Strength::Subtle,
            suffix: "--ar 3:2".into(),
            ..UserSettings::default()
        };
        src.save_settings("alice", &settings).await.unwrap();
        assert!(src.set_option("alice", "neon", "neon lights", 10).await.unwrap());
        src.set_quota_override(
            "bob",
            QuotaOverride { daily_limit: Some(0), running_cap: Some(4) },
            "admin",
            1,
        )
        .await
        .unwrap();
        assert!(src.ban("mallory", "admin", Some("spam"), 2).await.unwrap());
        src.set_paused(true, "admin", 3).await.unwrap();
        for verdict in ["accepted", "refused"] {
            let e = AuditEntry {
                at: 4,
                user_id: "alice".into(),
                guild_id: Some("g".into()),
                channel_id: None,
                command: "imagine".into(),
                prompt: "a fox".into(),
                verdict: verdict.into(),
                reason: (verdict == "refused").then(|| "banned-word:gore".into()),
            };
            src.record_audit(&e).await.unwrap();
        }
        src.close().await;
        (grid.id, up.id)
    };

    let out = copy(&sqlite_url, &pg_url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("tasks: 2 rows") && stdout.contains("prompt_audit: 2 rows"), "{stdout}");

    let pg = Db::open(&pg_url).await.unwrap();
    let grid = pg.task(grid_id).await.unwrap().expect("the grid keeps its id");
    assert_eq!(
        (grid.state, grid.prompt.text.as_str(), grid.notes.clone()),
        (TaskState::Succeeded, "a fox", vec!["n".to_string()])
    );
    assert!(grid.message.original);
    assert_eq!(pg.undelivered_final_count().await.unwrap(), 0, "delivered stays delivered");
    assert_eq!(pg.images(grid_id, ImageRole::Grid).await.unwrap(), vec![image(ImageRole::Grid, 0)]);
    assert_eq!(pg.images(grid_id, ImageRole::Input).await.unwrap(), vec![image(ImageRole::Input, 0)]);
    let up = pg.task(upscale_id).await.unwrap().unwrap();
    assert_eq!(
        (up.parent_id, up.state, up.kind),
        (Some(grid_id), TaskState::Queued, TaskKind::Upscale { index: 1 })
    );
    let s = pg.settings("alice").await.unwrap();
    assert!(s.private && s.remix && s.stylize == Some(250) && s.strength == Strength::Subtle, "{s:?}");
    assert_eq!(pg.options("alice").await.unwrap(), [("neon".to_string(), "neon lights".to_string())]);
    assert_eq!(
        pg.quota_override("bob").await.unwrap(),
        Some(QuotaOverride { daily_limit: Some(0), running_cap: Some(4) })
    );
    assert_eq!(pg.ban_of("mallory").await.unwrap().unwrap().reason.as_deref(), Some("spam"));
    assert!(pg.is_paused().await.unwrap());
    let audit = pg.audit_recent(10).await.unwrap();
    assert_eq!(audit.iter().map(|e| e.verdict.as_str()).collect::<Vec<_>>(), ["refused", "accepted"]);

    // New rows carry on after the copied ids.
    let next = vec![(task("carol", "new", TaskKind::Imagine, None), Vec::new())];
    let next = pg.insert_tasks(&next, &limits, 3, deadline, now_ms()).await.unwrap().unwrap().remove(0);
    assert!(next.id > upscale_id, "{} after {upscale_id}", next.id);

    // A second copy would mix two installs: refused, naming why.
    let again = copy(&sqlite_url, &pg_url);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(stderr.contains("the destination is not empty"), "{stderr}");
}

#[test]
fn db_copy_refuses_urls_the_wrong_way_round() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("easel.db").display());
    let out = copy("postgres://u@localhost/x", &sqlite_url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--from must be a SQLite database"), "{stderr}");
    let out = copy(&sqlite_url, "mysql://u@h/x");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("names no database Easel can use"), "{stderr}");
}
