//! The circuit breaker and failover in the engine, against a failing OpenAI-compatible service
//! over real HTTP with the offline demo beside it: failures move tasks to the demo, the
//! breaker opens after `breaker_failures`, the failing service's queue moves off it, and after
//! the cool-down one probe task closes the breaker again.

use crate::support;

use std::time::Duration;

use easel::app::App;
use easel::base::{TaskKind, TaskState};
use easel::config::{BackendConfig, Config, Secret};
use easel::db::{NewTask, Task};
use easel::prompt::PromptSpec;
use support::fake_openai::{FakeOpenAi, Fault, Knobs};
use support::postgres::{Which, on_both_databases, url_for};

const KEY: &str = "sk-breaker-test-0a1b2c3d";
const WAIT: Duration = Duration::from_secs(60);

on_both_databases!(
    failures_move_work_away_and_one_probe_closes_the_breaker_after_the_cooldown,
    a_job_the_service_accepted_is_never_moved_to_another_backend,
);

/// Both backends' config on a fresh database on `which`; `None` when that is PostgreSQL and
/// no server is available (the test skips).
async fn config(which: Which, dir: &tempfile::TempDir, fake: &FakeOpenAi) -> Option<Config> {
    let mut cloud = BackendConfig::new("cloud", "openai");
    cloud.base_url = fake.base_url.clone();
    cloud.api_key = Secret::new(KEY);
    cloud.model = Some("gpt-image-1".into());
    cloud.timeout_secs = 20;
    cloud.unset("image_size");
    cloud.unset("step_ms");
    cloud.concurrency = Some(1);
    let mut local = BackendConfig::demo("local");
    local.set("image_size", 64);
    local.set("step_ms", 0);
    let mut config = Config::default();
    config.database.url = url_for(which, dir.path()).await?;
    config.storage.dir = dir.path().join("images");
    config.backends = vec![cloud, local];
    config.limits.max_attempts = 4;
    config.health.breaker_failures = 2;
    config.health.breaker_cooldown_secs = 1;
    Some(config)
}

fn on_cloud(text: &str, model: Option<&str>) -> NewTask {
    NewTask {
        kind: TaskKind::Imagine,
        parent_id: None,
        user_id: "u1".into(),
        guild_id: None,
        channel_id: None,
        prompt: PromptSpec { text: text.into(), ..PromptSpec::default() },
        backend: "cloud".into(),
        model: model.map(str::to_string),
        seed: 7,
        message: Default::default(),
        inputs: Vec::new(),
        running_cap: None,
        edit: None,
    }
}

async fn finish(app: &App, id: i64) -> Task {
    app.engine.wait_final(id, WAIT).await.unwrap()
}

async fn failures_move_work_away_and_one_probe_closes_the_breaker_after_the_cooldown(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOpenAi::start(Knobs { api_key: Some(KEY.into()), ..Knobs::default() }).await;
    fake.set(|k| k.fault = Some(Fault::raw(503, "<html>upstream overloaded</html>")));
    let Some(config) = config(which, &dir, &fake).await else { return };
    let app = App::build(config).await.unwrap();
    // Queued before the scheduler starts, so all four wait for `cloud` in order.
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(app.engine.submit(on_cloud(&format!("a lighthouse {i}"), None)).await.unwrap().id);
    }
    app.start();
    for id in &ids {
        let task = finish(&app, *id).await;
        assert_eq!(task.state, TaskState::Succeeded, "{task:?}");
        assert_eq!(task.backend, "local");
        assert_eq!(task.tried_backends, ["cloud"]);
        assert!(task.notes.iter().any(|n| n == "Served by `local` after `cloud` failed"), "{:?}", task.notes);
    }
    let generations =
        || fake.api_requests().iter().filter(|r| r.path.ends_with("/images/generations")).count();
    assert_eq!(generations(), 2, "two failures open the breaker; the other two tasks never reach cloud");
    let health = app.engine.backends().health();
    // Open, or already cooled down to half-open (a second is short): either way not closed.
    assert_ne!(health.view("cloud").unwrap().breaker, "closed");

    // The service recovers. A task that must run on cloud (its model is `cloud`) cannot move,
    // so it waits for the cool-down, goes through as the probe, and closes the breaker.
    fake.set(|k| k.fault = None);
    let pinned = app.engine.submit(on_cloud("a harbour", Some("cloud"))).await.unwrap();
    let task = finish(&app, pinned.id).await;
    assert_eq!(task.state, TaskState::Succeeded, "{task:?}");
    assert_eq!(task.backend, "cloud");
    assert_eq!(generations(), 3);
    assert_eq!(health.view("cloud").unwrap().breaker, "closed");
}

async fn a_job_the_service_accepted_is_never_moved_to_another_backend(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOpenAi::start(Knobs { api_key: Some(KEY.into()), ..Knobs::default() }).await;
    let Some(config) = config(which, &dir, &fake).await else { return };
    let app = App::build(config).await.unwrap();
    let task = app.engine.submit(on_cloud("a mill", None)).await.unwrap();
    // Claimed, and accepted by the service under a remote id, then failing (the scheduler is
    // not running, so nothing else touches it).
    let store = &app.db;
    assert_eq!(store.claim_next("cloud", 3).await.unwrap().map(|t| t.id), Some(task.id));
    assert!(store.set_remote_id(task.id, "job-123").await.unwrap());
    assert!(!store.fail_over(task.id, "cloud", "local").await.unwrap());
    let row = store.task(task.id).await.unwrap().unwrap();
    assert_eq!(row.backend, "cloud");
}
