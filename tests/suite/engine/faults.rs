//! The engine against a misbehaving OpenAI-compatible service over real HTTP: retries that
//! honour Retry-After, failures that are final, a hung connection, a deadline that bounds it,
//! answers cut off or of the wrong type, images cut off or too large (each with its own code),
//! upscales that need no call, and a restart that must not submit a paid job twice.

use crate::support;

use std::time::Duration;

use easel::app::{App, Requester};
use easel::base::ImageRole;
use easel::base::{FailureCode, TaskKind, TaskState};
use easel::config::{BackendConfig, Config, Secret};
use easel::db::{NewTask, Task};
use easel::tasks::events::EventKind;
use support::fake_openai::{FakeOpenAi, Fault, Knobs};

const KEY: &str = "sk-engine-test-9f8e7d6c5b4a";
const WAIT: Duration = Duration::from_secs(60);

fn config(dir: &tempfile::TempDir, fake: &FakeOpenAi) -> Config {
    let mut backend = BackendConfig::new("cloud", "openai");
    backend.base_url = fake.base_url.clone();
    backend.api_key = Secret::new(KEY);
    backend.model = Some("gpt-image-1".into());
    backend.timeout_secs = 20;
    backend.unset("image_size");
    backend.unset("step_ms");
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("easel.db").display());
    config.storage.dir = dir.path().join("images");
    config.backends = vec![backend];
    config.limits.max_attempts = 3;
    config
}

async fn setup() -> (tempfile::TempDir, FakeOpenAi, App) {
    setup_with(|_| {}).await
}

async fn setup_with(tweak: impl FnOnce(&mut Config)) -> (tempfile::TempDir, FakeOpenAi, App) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOpenAi::start(Knobs { api_key: Some(KEY.into()), ..Knobs::default() }).await;
    let mut config = config(&dir, &fake);
    tweak(&mut config);
    let app = App::build(config).await.unwrap();
    app.start();
    (dir, fake, app)
}

async fn imagine(app: &App, prompt: &str) -> Task {
    let who = Requester { user_id: "u1".into(), ..Requester::default() };
    let task = app.imagine(prompt, None, &who).await.unwrap().remove(0);
    app.engine.wait_final(task.id, WAIT).await.unwrap()
}

fn service_unavailable() -> Fault {
    Fault::raw(503, "<html>upstream overloaded</html>").with_header("retry-after-ms", "5")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_service_is_retried_until_it_answers() {
    let (_dir, fake, app) = setup().await;
    fake.set(|k| {
        k.fault = Some(service_unavailable());
        k.fault_calls = Some(2);
    });
    let mut events = app.engine.subscribe();
    let task = imagine(&app, "a lighthouse --ar 3:2").await;
    assert_eq!(task.state, TaskState::Succeeded, "{:?}", task.failure);
    assert_eq!(task.attempts, 3);
    assert_eq!(fake.api_requests().len(), 3);
    let mut retries = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let EventKind::Retrying { attempt, after, .. } = ev.kind {
            retries.push((attempt, after));
        }
    }
    assert_eq!(
        retries,
        [(1, Duration::from_millis(5)), (2, Duration::from_millis(5))],
        "Retry-After is honoured"
    );
    let grid = app.db.images(task.id, ImageRole::Grid).await.unwrap();
    assert_eq!((grid[0].width, grid[0].height), (3072, 2048), "1536x1024 tiles for --ar 3:2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_keeps_failing_gives_up_after_max_attempts() {
    let (_dir, fake, app) = setup().await;
    fake.set(|k| k.fault = Some(service_unavailable()));
    let task = imagine(&app, "a lighthouse").await;
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.failure.as_ref().unwrap().0, FailureCode::BackendError);
    assert_eq!((task.attempts, fake.api_requests().len()), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_fail_at_once_with_a_message_for_the_admin() {
    let (_dir, fake, app) = setup().await;
    fake.set(|k| k.api_key = Some("sk-a-different-key".into()));
    let task = imagine(&app, "a lighthouse").await;
    let (code, message) = task.failure.clone().unwrap();
    assert_eq!(code, FailureCode::CredentialsRejected);
    assert!(message.contains("admin") && !message.contains(KEY), "{message}");
    assert_eq!(fake.api_requests().len(), 1, "no retry for a wrong key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_refusal_carries_the_providers_reason() {
    let (_dir, fake, app) = setup().await;
    fake.set(|k| {
        k.fault = Some(Fault::openai(
            400,
            "Your request was rejected by the safety system: violence.",
            "invalid_request_error",
            Some("moderation_blocked"),
        ))
    });
    let task = imagine(&app, "something nasty").await;
    let (code, message) = task.failure.unwrap();
    assert_eq!(code, FailureCode::ContentBlocked);
    assert!(message.contains("violence"), "{message}");
    assert_eq!(task.attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upscale_serves_the_stored_image_without_calling_the_service() {
    let (_dir, fake, app) = setup().await;
    let parent = imagine(&app, "a lighthouse").await;
    let calls = fake.api_requests().len();
    let up = app
        .engine
        .submit(NewTask {
            kind: TaskKind::Upscale { index: 3 },
            parent_id: Some(parent.id),
            user_id: "u2".into(),
            guild_id: None,
            channel_id: None,
            prompt: parent.prompt.clone(),
            backend: "cloud".into(),
            model: None,
            seed: 1,
            message: Default::default(),
            inputs: vec![],
            running_cap: None,
            edit: None,
        })
        .await
        .unwrap();
    let up = app.engine.wait_final(up.id, WAIT).await.unwrap();
    assert_eq!(up.state, TaskState::Succeeded);
    assert_eq!(fake.api_requests().len(), calls, "no request for an upscale");
    let chosen = &app.db.images(parent.id, ImageRole::Image).await.unwrap()[3];
    let served = &app.db.images(up.id, ImageRole::Image).await.unwrap()[0];
    assert_eq!(served.path, chosen.path);
}

support::postgres::on_both_databases!(a_restart_never_submits_a_paid_job_twice);

async fn a_restart_never_submits_a_paid_job_twice(which: support::postgres::Which) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeOpenAi::start(Knobs { api_key: Some(KEY.into()), ..Knobs::default() }).await;
    let mut config = config(&dir, &fake);
    let Some(url) = support::postgres::url_for(which, dir.path()).await else { return };
    config.database.url = url;
    let id = {
        let app = App::build(config.clone()).await.unwrap();
        let who = Requester { user_id: "u1".into(), ..Requester::default() };
        let task = app.imagine("a lighthouse", None, &who).await.unwrap().remove(0);
        // Claimed as if a worker had sent the request, then the process dies.
        app.db.claim_next("cloud", 3).await.unwrap().unwrap();
        task.id
    };
    let app = App::build(config).await.unwrap();
    app.start();
    let task = app.engine.wait_final(id, WAIT).await.unwrap();
    assert_eq!(task.state, TaskState::Failed);
    let (code, message) = task.failure.unwrap();
    assert_eq!(code, FailureCode::Interrupted);
    assert!(message.contains("run it again"), "{message}");
    assert!(fake.api_requests().is_empty(), "nothing was sent again");
}

/// Runs one imagine against a service that always answers with `fault`, with two attempts
/// allowed and a 1 s per-request timeout, and checks the code, what the member reads, and
/// that the task was retried exactly when the failure is worth retrying.
async fn fails_with(fault: Fault, code: FailureCode, retried: bool, says: &str) -> Task {
    let (_dir, fake, app) = setup_with(|c| {
        c.backends[0].timeout_secs = 1;
        c.limits.max_attempts = 2;
    })
    .await;
    fake.set(|k| k.fault = Some(fault.clone()));
    let task = imagine(&app, "a lighthouse").await;
    assert_eq!(task.state, TaskState::Failed);
    let (got, message) = task.failure.clone().unwrap();
    assert_eq!(got, code, "{fault:?}: {message}");
    assert!(message.contains(says), "{fault:?}: {message}");
    let attempts = if retried { 2 } else { 1 };
    assert_eq!(task.attempts, attempts, "{fault:?}");
    let generations = fake.api_requests().iter().filter(|r| r.path.ends_with("/generations")).count();
    assert_eq!(generations, attempts as usize, "one request per attempt");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_connection_times_out_per_request() {
    fails_with(Fault::Hang, FailureCode::BackendTimeout, true, "did not answer within 1 s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_connection_is_retried_and_the_task_still_succeeds() {
    let (_dir, fake, app) = setup_with(|c| c.backends[0].timeout_secs = 1).await;
    fake.set(|k| {
        k.fault = Some(Fault::Hang);
        k.fault_calls = Some(1);
    });
    let mut events = app.engine.subscribe();
    let task = imagine(&app, "a lighthouse").await;
    assert_eq!(task.state, TaskState::Succeeded, "{:?}", task.failure);
    assert_eq!((task.attempts, fake.api_requests().len()), (2, 2));
    let reason = std::iter::from_fn(|| events.try_recv().ok())
        .find_map(|ev| match ev.kind {
            EventKind::Retrying { reason, .. } => Some(reason),
            _ => None,
        })
        .expect("a retry was announced");
    assert!(reason.contains("did not answer within 1 s"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_deadline_bounds_a_request_whose_timeout_is_longer() {
    // A per-request timeout longer than the whole task may take: the deadline wins, so a
    // hung service never holds a task (or its slot) past `task_deadline_secs`.
    let (_dir, fake, app) = setup_with(|c| {
        c.backends[0].timeout_secs = 600;
        c.limits.task_deadline_secs = 2;
    })
    .await;
    fake.set(|k| k.fault = Some(Fault::Hang));
    let task = imagine(&app, "a lighthouse").await;
    let (code, message) = task.failure.unwrap();
    assert_eq!(code, FailureCode::DeadlineExceeded);
    assert!(message.contains("took too long"), "{message}");
    assert_eq!((task.attempts, fake.api_requests().len()), (1, 1), "no retry past the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_cut_off_midway_is_malformed_and_retried() {
    fails_with(Fault::MalformedJson, FailureCode::BackendMalformed, true, "cut off or garbled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_where_json_belongs_is_the_wrong_content_type() {
    fails_with(Fault::HtmlPage, FailureCode::WrongContentType, true, "a web page (HTML)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_where_an_image_belongs_is_the_wrong_content_type() {
    fails_with(Fault::NotAnImage, FailureCode::WrongContentType, true, "where Easel expected a PNG").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_cut_off_midway_is_truncated_and_retried() {
    fails_with(Fault::TruncatedImage, FailureCode::ImageTruncated, true, "cut off or damaged").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_over_the_byte_cap_is_too_large_and_final() {
    fails_with(
        Fault::OversizedImage,
        FailureCode::ImageTooLarge,
        false,
        "larger than Easel accepts (50 MiB)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_over_the_pixel_limit_is_too_large_and_final() {
    fails_with(Fault::HugeDimensions, FailureCode::ImageTooLarge, false, "9000×9000").await;
}
