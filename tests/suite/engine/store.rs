//! The task tables on a real SQLite file and a real PostgreSQL database (each test runs on
//! both: `engine::store::sqlite::…` and `engine::store::postgres::…`): migrations, guarded
//! transitions, fair claiming, retries and atomic completion.

use std::time::Duration;

use easel::base::ImageRole;
use easel::base::{FailureCode, MessageRef, TaskKind, TaskState, day_start, now_ms};
use easel::db::{Db, NewTask, Outcome, OverLimit, StoredImage, SubmitLimits, Task};
use easel::prompt::PromptSpec;

use crate::support::postgres::{Which, on_both_databases, url_for};
use crate::support::raw_db;

const DEADLINE: Duration = Duration::from_secs(900);
/// Room for every test's tasks: these tests are about the lifecycle, not the limits.
const ROOMY: SubmitLimits = SubmitLimits { waiting_cap: 1000, daily_limit: None, day_start_ms: 0 };

fn url_in(dir: &tempfile::TempDir, file: &str) -> String {
    format!("sqlite://{}", dir.path().join(file).display())
}

/// A fresh database on `which` (`None`: PostgreSQL is unavailable and the test skips), its
/// URL, and the temp dir that holds a SQLite file.
async fn open(which: Which) -> Option<(tempfile::TempDir, String, Db)> {
    let dir = tempfile::tempdir().unwrap();
    let url = url_for(which, &dir.path().join("sub")).await?;
    let store = Db::open(&url).await.unwrap();
    Some((dir, url, store))
}

on_both_databases!(
    an_image_of_a_task_that_does_not_exist_is_refused,
    a_task_round_trips_through_the_database,
    a_task_is_claimed_once_and_finished_once,
    progress_moves_submitted_to_running_and_never_backwards,
    a_failure_keeps_its_code_and_message,
    a_requeued_task_waits_for_its_retry_time,
    the_running_cap_holds_per_user,
    claiming_is_fair_across_users,
    data_survives_reopening_the_database,
    a_task_is_not_claimable_until_released_and_a_crash_cannot_strand_it,
    a_members_task_never_starts_before_an_older_one_still_being_created,
    a_request_over_a_limit_creates_nothing_and_names_the_numbers,
    concurrent_claims_never_pass_a_members_running_cap,
    concurrent_submits_never_pass_a_members_caps,
);

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
        edit: None,
    }
}

/// Inserts a task held, as `Engine::submit_all` does before it announces it.
async fn insert_held(store: &Db, new: &NewTask, inputs: &[StoredImage]) -> Task {
    let batch = [(new.clone(), inputs.to_vec())];
    store.insert_tasks(&batch, &ROOMY, 3, DEADLINE, now_ms()).await.unwrap().unwrap().remove(0)
}

/// Inserts and releases a task, as `Engine::submit_all` does.
async fn insert(store: &Db, new: &NewTask, inputs: &[StoredImage]) -> Task {
    let task = insert_held(store, new, inputs).await;
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
    let dir = tempfile::tempdir().unwrap();
    let store = Db::open(&url_in(&dir, "sub/easel.db")).await.unwrap();
    assert!(dir.path().join("sub/easel.db").exists());
    // WAL is a setting of the file, so a connection of our own sees it.
    let mut raw = raw_db::connect(&url_in(&dir, "sub/easel.db")).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut raw).await.unwrap();
    assert_eq!(mode, "wal");
    // Foreign keys are a setting of each connection: Easel's own must refuse an orphan.
    let orphan = store.put_image(999, &image(ImageRole::Image, 0)).await;
    assert!(orphan.is_err(), "an image of a task that does not exist is refused");
}

async fn an_image_of_a_task_that_does_not_exist_is_refused(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let orphan = store.put_image(999, &image(ImageRole::Image, 0)).await;
    assert!(orphan.is_err(), "an image of a task that does not exist is refused");
}

async fn a_task_round_trips_through_the_database(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let mut new = new_task("u1", "a red fox");
    new.kind = TaskKind::Variation { index: 2, strength: easel::base::Strength::Subtle };
    let task = insert(&store, &new, &[image(ImageRole::Input, 0)]).await;
    let back = store.task(task.id).await.unwrap().unwrap();
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

async fn a_task_is_claimed_once_and_finished_once(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
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
    let done = store.task(task.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.progress, 100);
    assert!(done.failure.is_none());
    assert_eq!(store.images(task.id, ImageRole::Grid).await.unwrap().len(), 1);
}

async fn progress_moves_submitted_to_running_and_never_backwards(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    assert!(!store.set_progress(task.id, 10).await.unwrap(), "a queued task takes no progress");
    store.claim_next("demo", 3).await.unwrap();
    assert!(store.set_progress(task.id, 40).await.unwrap());
    assert!(store.set_progress(task.id, 20).await.unwrap());
    let t = store.task(task.id).await.unwrap().unwrap();
    assert_eq!((t.state, t.progress), (TaskState::Running, 40));
    assert!(store.set_remote_id(task.id, "job-1").await.unwrap());
    assert_eq!(store.task(task.id).await.unwrap().unwrap().remote_id.as_deref(), Some("job-1"));
}

async fn a_failure_keeps_its_code_and_message(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    assert!(
        store
            .fail(task.id, &[TaskState::Queued], FailureCode::ContentBlocked, "The service refused: nudity")
            .await
            .unwrap()
    );
    let t = store.task(task.id).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Failed);
    assert_eq!(t.failure, Some((FailureCode::ContentBlocked, "The service refused: nudity".into())));
    assert!(t.finished_at.is_some());
}

async fn a_requeued_task_waits_for_its_retry_time(which: Which) {
    let Some((_dir, url, store)) = open(which).await else { return };
    let task = insert(&store, &new_task("u1", "x"), &[]).await;
    store.claim_next("demo", 3).await.unwrap().unwrap();
    let later = now_ms() + 60_000;
    assert!(store.requeue(task.id, later).await.unwrap());
    assert!(store.claim_next("demo", 3).await.unwrap().is_none(), "not before its time");
    assert_eq!(store.next_retry_at("demo", now_ms()).await.unwrap(), Some(later));
    store.requeue(task.id, now_ms()).await.unwrap(); // no-op: it is queued, not active
    raw_db::execute(&url, "UPDATE tasks SET next_attempt_at = 0").await;
    let again = store.claim_next("demo", 3).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
}

async fn the_running_cap_holds_per_user(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    for i in 0..3 {
        insert(&store, &new_task("busy", &format!("p{i}")), &[]).await;
    }
    assert!(store.claim_next("demo", 2).await.unwrap().is_some());
    assert!(store.claim_next("demo", 2).await.unwrap().is_some());
    assert!(store.claim_next("demo", 2).await.unwrap().is_none(), "a third would exceed the cap of 2");
}

async fn claiming_is_fair_across_users(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
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

async fn data_survives_reopening_the_database(which: Which) {
    let Some((_dir, url, store)) = open(which).await else { return };
    store.close().await;
    let id = {
        let store = Db::open(&url).await.unwrap();
        insert(&store, &new_task("u1", "kept"), &[]).await.id
    };
    let store = Db::open(&url).await.unwrap();
    assert_eq!(store.task(id).await.unwrap().unwrap().prompt.text, "kept");
    assert_eq!(store.in_states(&[TaskState::Queued]).await.unwrap().len(), 1);
}

async fn a_task_is_not_claimable_until_released_and_a_crash_cannot_strand_it(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let held = insert_held(&store, &new_task("u1", "held"), &[]).await;
    assert!(store.claim_next("demo", 3).await.unwrap().is_none(), "held until released");
    assert_eq!(store.next_retry_at("demo", now_ms()).await.unwrap(), None, "a held task is not a retry");
    assert_eq!(store.release_all_held().await.unwrap(), 1, "what start-up recovery does");
    assert_eq!(store.claim_next("demo", 3).await.unwrap().unwrap().id, held.id);
}

async fn a_members_task_never_starts_before_an_older_one_still_being_created(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let older = insert_held(&store, &new_task("u1", "sent first"), &[]).await;
    let newer = insert(&store, &new_task("u1", "sent second"), &[]).await;
    let other = insert(&store, &new_task("u2", "someone else's"), &[]).await;
    assert_eq!(store.claim_next("demo", 3).await.unwrap().unwrap().id, other.id, "others are not held up");
    assert!(store.claim_next("demo", 3).await.unwrap().is_none(), "u1's second waits for their first");
    let line: Vec<i64> = store.line("demo").await.unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(line, [older.id, newer.id], "the line already has the first in its place");
    store.release(older.id).await.unwrap();
    assert_eq!(store.claim_next("demo", 3).await.unwrap().unwrap().id, older.id);
    assert_eq!(store.claim_next("demo", 3).await.unwrap().unwrap().id, newer.id);
}

async fn a_request_over_a_limit_creates_nothing_and_names_the_numbers(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let limits = SubmitLimits { waiting_cap: 2, daily_limit: Some(4), day_start_ms: day_start(now_ms()) };
    let submit = |n: usize| {
        let batch: Vec<(NewTask, Vec<StoredImage>)> =
            (0..n).map(|i| (new_task("u1", &format!("p{i}")), Vec::new())).collect();
        let store = store.clone();
        // Running cap 1 and 2 waiting: three unfinished tasks at most.
        async move { store.insert_tasks(&batch, &limits, 1, DEADLINE, now_ms()).await.unwrap() }
    };
    assert_eq!(submit(4).await.unwrap_err(), OverLimit::Waiting { unfinished: 0 }, "refused whole");
    let three = submit(3).await.unwrap();
    assert_eq!(submit(1).await.unwrap_err(), OverLimit::Waiting { unfinished: 3 });
    assert_eq!(store.in_states(&TaskState::ALL).await.unwrap().len(), 3, "nothing of a refused request");

    // A finished task leaves the caps but still counts for the day.
    for t in &three {
        store.release(t.id).await.unwrap();
    }
    let first = store.claim_next("demo", 1).await.unwrap().unwrap();
    assert_eq!(first.id, three[0].id);
    assert!(store.succeed(first.id, &Outcome::default()).await.unwrap());
    let fourth = submit(1).await.unwrap().remove(0);
    assert_eq!(submit(1).await.unwrap_err(), OverLimit::Daily { used: 4, limit: 4 });
    // Canceled before it started, a task counts for nothing.
    store.cancel(fourth.id).await.unwrap();
    assert_eq!(submit(1).await.unwrap().len(), 1);
}

async fn concurrent_claims_never_pass_a_members_running_cap(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    for i in 0..12 {
        insert(&store, &new_task("busy", &format!("p{i}")), &[]).await;
    }
    insert(&store, &new_task("other", "o"), &[]).await;
    // Twenty claims at once, on backends' worth of connections: the member's cap of 3 must
    // hold however they interleave, and the other member still gets their one.
    let claims = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_next("demo", 3).await.unwrap() })
    });
    let claimed: Vec<Task> =
        futures::future::join_all(claims).await.into_iter().filter_map(|r| r.unwrap()).collect();
    let busy = claimed.iter().filter(|t| t.user_id == "busy").count();
    let other = claimed.iter().filter(|t| t.user_id == "other").count();
    assert_eq!((busy, other), (3, 1), "exactly the cap of busy's tasks and other's one started");
    let mut ids: Vec<i64> = claimed.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "no task was claimed twice");
}

async fn concurrent_submits_never_pass_a_members_caps(which: Which) {
    let Some((_dir, _url, store)) = open(which).await else { return };
    let limits = SubmitLimits { waiting_cap: 5, daily_limit: None, day_start_ms: 0 };
    let submits = (0..25).map(|i| {
        let store = store.clone();
        let batch = vec![(new_task("u1", &format!("p{i}")), Vec::new())];
        tokio::spawn(async move { store.insert_tasks(&batch, &limits, 2, DEADLINE, now_ms()).await.unwrap() })
    });
    let results: Vec<_> = futures::future::join_all(submits).await.into_iter().map(|r| r.unwrap()).collect();
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 7, "running cap 2 + waiting cap 5, however the submits interleave");
    assert_eq!(store.in_states(&TaskState::ALL).await.unwrap().len(), 7);
}
