//! The task store on real SQLite files: migrations, guarded transitions, fair claiming,
//! retries and atomic completion.

use std::time::Duration;

use easel::base::ImageRole;
use easel::base::{FailureCode, MessageRef, TaskKind, TaskState, now_ms};
use easel::prompt::PromptSpec;
use easel::tasks::NewTask;
use easel::tasks::store::{Outcome, Store, StoredImage};

const DEADLINE: Duration = Duration::from_secs(900);

async fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sub/easel.db").display());
    let store = Store::open(&url).await.unwrap();
    (dir, store)
}

fn new_task(user: &str, text: &str) -> NewTask {
    NewTask {
        kind: TaskKind::Imagine,
        parent_id: None,
        user_id: user.into(),
        guild_id: Some("g".into()),
        channel_id: Some("c".into()),
        prompt: PromptSpec { text: text.into(), ..PromptSpec::default() },
        backend: "demo".into(),
        model: None,
        seed: 7,
        message: MessageRef {
            interaction_token: Some("tok".into()),
            token_expires_at: Some(1),
            message_id: None,
            original: true,
        },
        inputs: Vec::new(),
        running_cap: None,
    }
}

/// Inserts and releases a task, as `Engine::submit` does.
async fn insert(store: &Store, new: &NewTask, inputs: &[StoredImage]) -> easel::tasks::Task {
    let task = store.insert(new, inputs, DEADLINE).await.unwrap();
    store.release(task.id).await.unwrap();
    task
}

fn image(role: ImageRole, index: u8) -> StoredImage {
    StoredImage {
        role,
        index,
        path: format!("/x/{}-{index}.png", role.as_str()),
        mime: "image/png".into(),
        width: 8,
        height: 8,
        bytes: 10,
        seed: Some(3),
    }
}

#[tokio::test]
async fn opening_creates_the_file_with_wal_and_foreign_keys() {
    let (dir, store) = open().await;
    assert!(dir.path().join("sub/easel.db").exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(store.pool()).await.unwrap();
    assert_eq!(fk, 1);
    let orphan = sqlx::query("INSERT INTO task_images (task_id, role, idx, path, mime, width, height, bytes) VALUES (999, 'image', 0, 'p', 'm', 1, 1, 1)")
        .execute(store.pool())
        .await;
    assert!(orphan.is_err(), "an image of a task that does not exist is refused");
}

#[tokio::test]
async fn a_task_round_trips_through_the_database() {
    let (_dir, store) = open().await;
    let mut new = new_task("u1", "a red fox");
    new.kind = TaskKind::Variation { index: 2, strength: easel::base::Strength::Subtle };
    let task = insert(&store, &new, &[image(ImageRole::Input, 0)]).await;
    let back = store.get(task.id).await.unwrap().unwrap();
    assert_eq!(back.state, TaskState::Queued);
    assert_eq!(back.kind, new.kind);
    assert_eq!(back.prompt.text, "a red fox");
    assert_eq!(back.seed, 7);
    assert_eq!(back.input_count, 1);
    assert_eq!(back.message.interaction_token.as_deref(), Some("tok"));
    assert!(back.message.original);
    assert!(back.deadline_at >= back.created_at + 899_000);
    assert_eq!(store.images(task.id, ImageRole::Input).await.unwrap(), vec![image(ImageRole::Input, 0)]);
}

#[tokio::test]
async fn a_task_is_claimed_once_and_finished_once() {
    let (_dir, store) = open().await;
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    let claimed = store.claim_next("demo", 3).await.unwrap().unwrap();
    assert_eq!((claimed.id, claimed.state, claimed.attempts), (task.id, TaskState::Submitted, 1));
    assert!(store.claim_next("demo", 3).await.unwrap().is_none(), "nothing left to claim");
    assert!(store.claim_next("other", 3).await.unwrap().is_none());

    let outcome =
        Outcome { images: vec![image(ImageRole::Grid, 0), image(ImageRole::Image, 0)], ..Outcome::default() };
    assert!(store.succeed(task.id, &outcome).await.unwrap());
    assert!(!store.succeed(task.id, &outcome).await.unwrap(), "a second success changes nothing");
    assert!(
        !store
            .fail(task.id, &[TaskState::Submitted, TaskState::Running], FailureCode::Internal, "x")
            .await
            .unwrap()
    );
    assert!(!store.requeue(task.id, now_ms()).await.unwrap());
    let done = store.get(task.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.progress, 100);
    assert!(done.failure.is_none());
    assert_eq!(store.images(task.id, ImageRole::Grid).await.unwrap().len(), 1);
}

#[tokio::test]
async fn progress_moves_submitted_to_running_and_never_backwards() {
    let (_dir, store) = open().await;
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    assert!(!store.set_progress(task.id, 10).await.unwrap(), "a queued task takes no progress");
    store.claim_next("demo", 3).await.unwrap();
    assert!(store.set_progress(task.id, 40).await.unwrap());
    assert!(store.set_progress(task.id, 20).await.unwrap());
    let t = store.get(task.id).await.unwrap().unwrap();
    assert_eq!((t.state, t.progress), (TaskState::Running, 40));
    assert!(store.set_remote_id(task.id, "job-1").await.unwrap());
    assert_eq!(store.get(task.id).await.unwrap().unwrap().remote_id.as_deref(), Some("job-1"));
}

#[tokio::test]
async fn a_failure_keeps_its_code_and_message() {
    let (_dir, store) = open().await;
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    assert!(
        store
            .fail(task.id, &[TaskState::Queued], FailureCode::ContentBlocked, "The service refused: nudity")
            .await
            .unwrap()
    );
    let t = store.get(task.id).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Failed);
    assert_eq!(t.failure, Some((FailureCode::ContentBlocked, "The service refused: nudity".into())));
    assert!(t.finished_at.is_some());
}

#[tokio::test]
async fn a_requeued_task_waits_for_its_retry_time() {
    let (_dir, store) = open().await;
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    store.claim_next("demo", 3).await.unwrap().unwrap();
    let later = now_ms() + 60_000;
    assert!(store.requeue(task.id, later).await.unwrap());
    assert!(store.claim_next("demo", 3).await.unwrap().is_none(), "not before its time");
    assert_eq!(store.next_retry_at("demo", now_ms()).await.unwrap(), Some(later));
    store.requeue(task.id, now_ms()).await.unwrap(); // no-op: it is queued, not active
    sqlx::query("UPDATE tasks SET next_attempt_at = 0").execute(store.pool()).await.unwrap();
    let again = store.claim_next("demo", 3).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
}

#[tokio::test]
async fn the_running_cap_holds_per_user() {
    let (_dir, store) = open().await;
    for i in 0..3 {
        insert(&store, &new_task("busy", &format!("p{i}")), &[]).await;
    }
    assert!(store.claim_next("demo", 2).await.unwrap().is_some());
    assert!(store.claim_next("demo", 2).await.unwrap().is_some());
    assert!(store.claim_next("demo", 2).await.unwrap().is_none(), "a third would exceed the cap of 2");
}

#[tokio::test]
async fn claiming_is_fair_across_users() {
    let (_dir, store) = open().await;
    for i in 0..6 {
        insert(&store, &new_task("alice", &format!("a{i}")), &[]).await;
    }
    insert(&store, &new_task("bob", "b0"), &[]).await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let t = store.claim_next("demo", 10).await.unwrap().unwrap();
        order.push(t.prompt.text.clone());
        // Finish it so the cap never decides the order.
        store.succeed(t.id, &Outcome::default()).await.unwrap();
    }
    assert_eq!(order, ["a0", "b0", "a1", "a2"], "bob's one task does not wait behind alice's six");
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("easel.db").display());
    let id = {
        let store = Store::open(&url).await.unwrap();
        insert(&store, &new_task("u1", "kept"), &[]).await.id
    };
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.get(id).await.unwrap().unwrap().prompt.text, "kept");
    assert_eq!(store.in_states(&[TaskState::Queued]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_task_is_not_claimable_until_released_and_a_crash_cannot_strand_it() {
    let (_dir, store) = open().await;
    let held = store.insert(&new_task("u1", "held"), &[], DEADLINE).await.unwrap();
    assert!(store.claim_next("demo", 3).await.unwrap().is_none(), "held until released");
    assert_eq!(store.next_retry_at("demo", now_ms()).await.unwrap(), None, "a held task is not a retry");
    assert_eq!(store.release_all_held().await.unwrap(), 1, "what start-up recovery does");
    assert_eq!(store.claim_next("demo", 3).await.unwrap().unwrap().id, held.id);
}
