//! Retention on a real SQLite file and a real image folder: it removes the images of old
//! finished tasks but never what unfinished work needs (a queued task's inputs, the parent
//! of a waiting U or V, a result not yet shown on Discord), keeps a file another task still
//! points at, removes the oldest first under a size cap, and prunes old tasks and audit rows.

use std::time::Duration;

use easel::base::{DAY_MS, ImageRole, MessageRef, TaskId, TaskKind, TaskState, now_ms};
use easel::config::RetentionConfig;
use easel::db::{AuditEntry, Db, NewTask, Outcome, StoredImage, SubmitLimits};
use easel::prompt::PromptSpec;
use easel::storage::Storage;
use easel::tasks::retention::sweep;

use crate::support::raw_db;

const ROOMY: SubmitLimits = SubmitLimits { waiting_cap: 1000, daily_limit: None, day_start_ms: 0 };

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    db: Db,
    storage: Storage,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("easel.db").display());
    let db = Db::open(&url).await.unwrap();
    let storage = Storage::new(dir.path().join("images")).unwrap();
    Fixture { _dir: dir, url, db, storage }
}

fn new_task(kind: TaskKind, parent: Option<TaskId>) -> NewTask {
    NewTask {
        kind,
        parent_id: parent,
        user_id: "u1".into(),
        guild_id: Some("g".into()),
        channel_id: Some("c".into()),
        prompt: PromptSpec { text: "a harbour".into(), ..PromptSpec::default() },
        backend: "demo".into(),
        model: None,
        seed: 7,
        message: MessageRef { interaction_token: Some("tok".into()), ..MessageRef::default() },
        inputs: Vec::new(),
        running_cap: None,
        edit: None,
    }
}

impl Fixture {
    /// A queued task with `inputs` stored input images (real files).
    async fn queued(&self, kind: TaskKind, parent: Option<TaskId>, inputs: u8) -> TaskId {
        let mut rows = Vec::new();
        for i in 0..inputs {
            let path = self.storage.write_incoming(i, "png", &[i; 500]).await.unwrap();
            rows.push(image(ImageRole::Input, i, path.display().to_string(), 500));
        }
        let batch = [(new_task(kind, parent), rows)];
        let id = self.db.insert_tasks(&batch, &ROOMY, 1000, Duration::from_secs(900), now_ms()).await;
        let id = id.unwrap().unwrap()[0].id;
        self.db.release(id).await.unwrap();
        id
    }

    /// A finished task with a grid and image 0 (`bytes` each, real files), shown on Discord,
    /// that finished `days_ago` days ago.
    async fn finished(&self, kind: TaskKind, parent: Option<TaskId>, bytes: usize, days_ago: i64) -> TaskId {
        let id = self.queued(kind, parent, 0).await;
        let mut images = Vec::new();
        for (role, index) in [(ImageRole::Grid, 0), (ImageRole::Image, 0)] {
            let path = self.storage.write(id, role, index, "png", &vec![1; bytes]).await.unwrap();
            images.push(image(role, index, path.display().to_string(), bytes as u64));
        }
        self.succeed(id, images, days_ago).await;
        assert!(self.db.mark_delivered(id).await.unwrap());
        id
    }

    async fn succeed(&self, id: TaskId, images: Vec<StoredImage>, days_ago: i64) {
        assert!(self.db.transition(id, &[TaskState::Queued], TaskState::Submitted).await.unwrap());
        assert!(self.db.succeed(id, &Outcome { images, ..Outcome::default() }).await.unwrap());
        self.age(id, days_ago).await;
    }

    /// Puts the task's end `days` in the past: no API finishes a task in the past.
    async fn age(&self, id: TaskId, days: i64) {
        let mut raw = raw_db::connect(&self.url).await;
        sqlx::query("UPDATE tasks SET finished_at = finished_at - ? WHERE id = ?")
            .bind(days * DAY_MS)
            .bind(id)
            .execute(&mut raw)
            .await
            .unwrap();
    }

    async fn paths(&self, id: TaskId) -> Vec<String> {
        let mut out = Vec::new();
        for role in [ImageRole::Grid, ImageRole::Image, ImageRole::Input] {
            out.extend(self.db.images(id, role).await.unwrap().into_iter().map(|i| i.path));
        }
        out
    }

    async fn removed(&self, id: TaskId) -> bool {
        self.db.task(id).await.unwrap().unwrap().images_removed.is_some()
    }
}

fn image(role: ImageRole, index: u8, path: String, bytes: u64) -> StoredImage {
    StoredImage { role, index, path, mime: "image/png".into(), width: 8, height: 8, bytes, seed: None }
}

fn policy(tweak: impl FnOnce(&mut RetentionConfig)) -> RetentionConfig {
    let mut p = RetentionConfig::default();
    tweak(&mut p);
    p
}

fn exists(path: &str) -> bool {
    std::path::Path::new(path).exists()
}

#[tokio::test]
async fn old_images_go_but_never_what_an_unfinished_task_needs() {
    let f = fixture().await;
    // Old and done with: its images go.
    let done = f.finished(TaskKind::Imagine, None, 1000, 40).await;
    // Old, but a U1 of it waits in the queue: the image U1 works from must stay.
    let waited_on = f.finished(TaskKind::Imagine, None, 1000, 40).await;
    let upscale = f.queued(TaskKind::Upscale { index: 0 }, Some(waited_on), 0).await;
    // Old, and a V1 of it is running.
    let running_on = f.finished(TaskKind::Imagine, None, 1000, 41).await;
    let vary = f
        .queued(
            TaskKind::Variation { index: 0, strength: easel::base::Strength::Strong },
            Some(running_on),
            0,
        )
        .await;
    assert!(f.db.transition(vary, &[TaskState::Queued], TaskState::Submitted).await.unwrap());
    assert!(f.db.transition(vary, &[TaskState::Submitted], TaskState::Running).await.unwrap());
    // A queued blend with its own uploads.
    let blend = f.queued(TaskKind::Blend, None, 2).await;
    // Old and finished, but its result has not reached Discord yet.
    let undelivered = f.queued(TaskKind::Imagine, None, 0).await;
    let path = f.storage.write(undelivered, ImageRole::Grid, 0, "png", &[2; 1000]).await.unwrap();
    f.succeed(undelivered, vec![image(ImageRole::Grid, 0, path.display().to_string(), 1000)], 50).await;
    // Recent: kept. Its U1 was served from the old task's own file, so that file is shared.
    let recent = f.finished(TaskKind::Imagine, None, 1000, 1).await;
    let shared = f.db.images(done, ImageRole::Image).await.unwrap().remove(0);
    let child = f.queued(TaskKind::Upscale { index: 0 }, Some(done), 0).await;
    f.succeed(child, vec![StoredImage { index: 0, ..shared.clone() }], 2).await;
    assert!(f.db.mark_delivered(child).await.unwrap());

    let pinned = f.db.pinned_tasks().await.unwrap();
    for id in [waited_on, upscale, running_on, vary, blend, undelivered] {
        assert!(pinned.contains(&id), "task {id} must be pinned: {pinned:?}");
    }
    let kept: Vec<Vec<String>> = {
        let mut v = Vec::new();
        for id in [waited_on, running_on, blend, undelivered, recent] {
            v.push(f.paths(id).await);
        }
        v
    };
    let done_paths = f.paths(done).await;

    let swept = sweep(&f.db, &f.storage, &policy(|p| p.image_days = 30), now_ms()).await.unwrap();

    assert_eq!(swept.images_by_age, vec![done], "only the old task nobody needs");
    assert!(f.removed(done).await && f.paths(done).await.is_empty());
    let grid = done_paths.iter().find(|p| p.contains("grid")).unwrap();
    assert!(!exists(grid), "the old grid file is deleted");
    assert!(exists(&shared.path), "the file the recent upscale still shows stays");
    assert_eq!(f.db.images(child, ImageRole::Image).await.unwrap()[0].path, shared.path);
    assert_eq!((swept.files, swept.bytes), (1, 1000));
    for (id, paths) in [waited_on, running_on, blend, undelivered, recent].into_iter().zip(&kept) {
        assert!(!f.removed(id).await, "task {id} keeps its images");
        assert_eq!(&f.paths(id).await, paths);
        assert!(!paths.is_empty() && paths.iter().all(|p| exists(p)), "task {id}: {paths:?}");
    }

    // Once the U1 finishes (and is shown), nothing holds the old parent any more.
    f.succeed(upscale, Vec::new(), 0).await;
    assert!(f.db.mark_delivered(upscale).await.unwrap());
    let again = sweep(&f.db, &f.storage, &policy(|p| p.image_days = 30), now_ms()).await.unwrap();
    assert_eq!(again.images_by_age, vec![waited_on]);
    assert!(kept[0].iter().all(|p| !exists(p)));
}

#[tokio::test]
async fn over_the_size_cap_the_oldest_images_go_first() {
    let f = fixture().await;
    // Ids do not follow age, so "oldest" cannot pass by accident as "lowest id".
    let two_days = f.finished(TaskKind::Imagine, None, 1000, 2).await;
    let five_days = f.finished(TaskKind::Imagine, None, 1000, 5).await;
    let ten_days = f.finished(TaskKind::Imagine, None, 1000, 10).await;
    let today = f.finished(TaskKind::Imagine, None, 1000, 0).await;
    // The oldest of all, but a V2 of it waits.
    let pinned = f.finished(TaskKind::Imagine, None, 1000, 20).await;
    f.queued(TaskKind::Variation { index: 0, strength: easel::base::Strength::Subtle }, Some(pinned), 0)
        .await;
    assert_eq!(f.db.stored_image_bytes().await.unwrap(), 10_000);

    // 6 500 bytes may stay: the two oldest unpinned tasks (2 000 bytes each) must go.
    let swept = sweep(&f.db, &f.storage, &policy(|p| p.image_max_gb = 6.5e-6), now_ms()).await.unwrap();

    assert_eq!(swept.images_by_size, vec![ten_days, five_days]);
    assert_eq!(swept.still_over_cap, None);
    assert_eq!(f.db.stored_image_bytes().await.unwrap(), 6_000);
    for id in [two_days, today, pinned] {
        assert!(!f.removed(id).await, "task {id} is kept");
    }
    let t = f.db.task(ten_days).await.unwrap().unwrap();
    assert_eq!(t.images_removed.map(|r| r.why), Some(easel::db::RemovedFor::Size));

    // A cap nothing unpinned can meet: everything else goes, the pinned task stays, and the
    // pass says it is still over.
    let swept = sweep(&f.db, &f.storage, &policy(|p| p.image_max_gb = 1e-6), now_ms()).await.unwrap();
    assert_eq!(swept.images_by_size, vec![two_days, today]);
    assert_eq!(swept.still_over_cap, Some(2_000));
    assert!(!f.removed(pinned).await);
}

#[tokio::test]
async fn old_finished_tasks_and_audit_rows_are_deleted_when_asked() {
    let f = fixture().await;
    let old = f.finished(TaskKind::Imagine, None, 100, 100).await;
    let old_paths = f.paths(old).await;
    // A recent U1 of the old task outlives it, without its parent.
    let child = f.finished(TaskKind::Upscale { index: 0 }, Some(old), 100, 3).await;
    // Old, but a V1 of it waits.
    let held = f.finished(TaskKind::Imagine, None, 100, 100).await;
    f.queued(TaskKind::Variation { index: 0, strength: easel::base::Strength::Strong }, Some(held), 0).await;
    let now = now_ms();
    for at in [now - 100 * DAY_MS, now - DAY_MS] {
        let entry = AuditEntry {
            at,
            user_id: "u1".into(),
            guild_id: None,
            channel_id: None,
            command: "imagine".into(),
            prompt: "a harbour".into(),
            verdict: "accepted".into(),
            reason: None,
        };
        f.db.record_audit(&entry).await.unwrap();
    }

    // The defaults keep everything.
    assert_eq!(sweep(&f.db, &f.storage, &RetentionConfig::default(), now).await.unwrap(), Default::default());

    let swept =
        sweep(&f.db, &f.storage, &policy(|p| (p.task_days, p.audit_days) = (90, 30)), now).await.unwrap();
    assert_eq!(swept.tasks_deleted, vec![old]);
    assert_eq!(swept.audit_rows, 1);
    assert!(f.db.task(old).await.unwrap().is_none());
    assert!(old_paths.iter().all(|p| !exists(p)), "its files go with it");
    assert_eq!(f.db.task(child).await.unwrap().unwrap().parent_id, None);
    assert!(f.db.task(held).await.unwrap().is_some());
    assert_eq!(f.db.audit_recent(10).await.unwrap().len(), 1);
}
