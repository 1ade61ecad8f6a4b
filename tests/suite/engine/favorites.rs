//! Favourites and the showcase claim on a real SQLite file and a real PostgreSQL database:
//! a heart toggles, the list pages newest first and leaves deleted results out, a favourite
//! keeps its images through retention, and a burst of claims on one image's showcase post
//! lets exactly one through (until a failed post releases it).

use std::time::Duration;

use easel::base::{MessageRef, TaskKind, TaskState, now_ms};
use easel::db::{Db, NewTask, Outcome, SubmitLimits};
use easel::prompt::PromptSpec;

use crate::support::postgres::{Which, on_both_databases, url_for};

const ROOMY: SubmitLimits = SubmitLimits { waiting_cap: 1000, daily_limit: None, day_start_ms: 0 };

on_both_databases!(
    a_heart_toggles_and_the_list_pages_newest_first,
    a_burst_of_hearts_claims_the_showcase_post_once,
    a_favourite_is_pinned_against_retention,
);

async fn open(which: Which) -> Option<(tempfile::TempDir, Db)> {
    let dir = tempfile::tempdir().unwrap();
    let url = url_for(which, &dir.path().join("fav")).await?;
    let db = Db::open(&url).await.unwrap();
    Some((dir, db))
}

/// A succeeded U1 of a fresh task, as `user` made it.
async fn upscale(db: &Db, user: &str, text: &str) -> i64 {
    let new = NewTask {
        kind: TaskKind::Upscale { index: 0 },
        parent_id: None,
        user_id: user.into(),
        guild_id: Some("g".into()),
        channel_id: Some("c".into()),
        prompt: PromptSpec { text: text.into(), ..PromptSpec::default() },
        backend: "demo".into(),
        model: None,
        seed: 7,
        message: MessageRef { message_id: Some("m".into()), ..MessageRef::default() },
        inputs: Vec::new(),
        running_cap: None,
        edit: None,
    };
    let made = db.insert_tasks(&[(new, Vec::new())], &ROOMY, 1000, Duration::from_secs(900), now_ms()).await;
    let id = made.unwrap().unwrap()[0].id;
    db.release(id).await.unwrap();
    assert!(db.transition(id, &[TaskState::Queued], TaskState::Submitted).await.unwrap());
    assert!(db.succeed(id, &Outcome::default()).await.unwrap());
    id
}

async fn a_heart_toggles_and_the_list_pages_newest_first(which: Which) {
    let Some((_dir, db)) = open(which).await else { return };
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = upscale(&db, "maker", &format!("image {i}")).await;
        let t = db.toggle_favorite("fan", id).await.unwrap();
        assert!(t.added);
        assert_eq!(t.count, i + 1);
        ids.push(id);
    }
    // Pressed again: out.
    let t = db.toggle_favorite("fan", ids[1]).await.unwrap();
    assert_eq!((t.added, t.count), (false, 4));
    // Someone else's hearts are their own.
    assert_eq!(db.toggle_favorite("other", ids[0]).await.unwrap().count, 1);

    let (page, total) = db.favorites_of("fan", 0, 2).await.unwrap();
    assert_eq!(total, 4);
    let shown: Vec<i64> = page.iter().map(|f| f.task.id).collect();
    assert_eq!(shown, [ids[4], ids[3]], "newest heart first");
    let (page, _) = db.favorites_of("fan", 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|f| f.task.id).collect::<Vec<_>>(), [ids[2], ids[0]]);

    // A deleted result leaves the list and the count.
    db.mark_deleted(ids[4], "maker").await.unwrap().expect("it was live");
    let (page, total) = db.favorites_of("fan", 0, 10).await.unwrap();
    assert_eq!(total, 3);
    assert!(page.iter().all(|f| f.task.id != ids[4]));
}

async fn a_burst_of_hearts_claims_the_showcase_post_once(which: Which) {
    let Some((_dir, db)) = open(which).await else { return };
    let id = upscale(&db, "maker", "a lighthouse").await;
    let claims = (0..20).map(|i| {
        let db = db.clone();
        tokio::spawn(async move { db.claim_showcase(id, "999", &format!("fan{i}")).await.unwrap() })
    });
    let won = futures::future::join_all(claims).await.into_iter().filter(|c| *c.as_ref().unwrap()).count();
    assert_eq!(won, 1, "exactly one heart posts");
    assert_eq!(db.showcase_post(id).await.unwrap(), None, "not sent yet");

    // The post failed: released, and the next heart may try again.
    db.release_showcase(id).await.unwrap();
    assert!(db.claim_showcase(id, "999", "fan").await.unwrap());
    db.showcase_posted(id, "4242").await.unwrap();
    assert_eq!(db.showcase_post(id).await.unwrap(), Some(("999".into(), "4242".into())));
    // Once sent, a release (a late failure report) does not undo it.
    db.release_showcase(id).await.unwrap();
    assert!(!db.claim_showcase(id, "999", "fan").await.unwrap());
}

async fn a_favourite_is_pinned_against_retention(which: Which) {
    let Some((_dir, db)) = open(which).await else { return };
    let kept = upscale(&db, "maker", "kept").await;
    let other = upscale(&db, "maker", "other").await;
    assert!(db.mark_delivered(kept).await.unwrap() && db.mark_delivered(other).await.unwrap());
    assert!(!db.pinned_tasks().await.unwrap().contains(&kept));
    db.toggle_favorite("fan", kept).await.unwrap();
    let pinned = db.pinned_tasks().await.unwrap();
    assert!(pinned.contains(&kept), "a favourite is pinned: {pinned:?}");
    assert!(!pinned.contains(&other));
    // Taken out of the favourites, it may go again.
    db.toggle_favorite("fan", kept).await.unwrap();
    assert!(!db.pinned_tasks().await.unwrap().contains(&kept));
}
