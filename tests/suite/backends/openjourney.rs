//! The `openjourney` adapter driven through the `Backend` trait over real HTTP against a fake
//! Open Journey API: the batch it submits, following (polls, webhooks, re-attaching), the
//! rate-limit headers obeyed before a 429, and every documented error code — with the key
//! never in an error.

use crate::support;

use std::time::Duration;

use easel::backends::http_util::Mailbox;
use easel::backends::openjourney::OpenJourneyBackend;
use easel::backends::{Backend, BackendError, Job, JobOutput, Operation, ProgressSink, ProgressUpdate};
use easel::base::FailureCode;
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Param, PromptLimits, PromptSpec, parse};
use support::fake_openjourney::{COLOURS, FakeOpenJourney, Knobs};

const KEY: &str = "oj_live_7Hq2kVn93LsPx0aZrT5m";
const WAIT: Duration = Duration::from_secs(8);

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeOpenJourney {
    let mut knobs = Knobs { key: KEY.into(), ..Knobs::default() };
    tweak(&mut knobs);
    FakeOpenJourney::start(knobs).await
}

fn config(fake: &FakeOpenJourney) -> BackendConfig {
    let mut cfg = BackendConfig::new("oj", "openjourney");
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(KEY);
    cfg.timeout_secs = 5;
    cfg.set("poll_ms", 10);
    cfg
}

fn backend(cfg: &BackendConfig) -> OpenJourneyBackend {
    OpenJourneyBackend::from_config(cfg, &Mailbox::new()).expect("valid config")
}

fn spec(text: &str) -> PromptSpec {
    parse(text, &PromptLimits::default()).expect("prompt").remove(0)
}

fn imagine(text: &str) -> Job {
    Job { task_id: 3, op: Operation::Imagine, spec: spec(text), seed: 1, resume: None }
}

struct Ran {
    result: Result<JobOutput, BackendError>,
    accepted: Vec<String>,
    percents: Vec<u8>,
    accepted_first: bool,
}

async fn run(backend: &OpenJourneyBackend, job: Job) -> Ran {
    let (sink, mut updates) = ProgressSink::new();
    let watcher = tokio::spawn(async move {
        let (mut accepted, mut percents, mut accepted_first) = (Vec::new(), Vec::new(), false);
        while let Some(update) = updates.recv().await {
            match update {
                ProgressUpdate::Accepted { remote_id, ack } => {
                    accepted_first = percents.is_empty();
                    accepted.push(remote_id);
                    let _ = ack.send(());
                }
                ProgressUpdate::Percent { percent, .. } => percents.push(percent),
            }
        }
        (accepted, percents, accepted_first)
    });
    let result = tokio::time::timeout(WAIT, backend.run(job, sink)).await.expect("the adapter hung");
    let (accepted, percents, accepted_first) = watcher.await.unwrap();
    Ran { result, accepted, percents, accepted_first }
}

fn colour_of(bytes: &[u8]) -> [u8; 3] {
    image::load_from_memory(bytes).expect("an image").to_rgb8().get_pixel(0, 0).0
}

fn assert_no_key(e: &BackendError) {
    assert!(!e.detail.contains(KEY) && !e.user_message.contains(KEY), "key leaked: {e:?}");
}

#[tokio::test]
async fn imagine_sends_one_batch_of_four_and_returns_its_images() {
    let fake = fake(|_| {}).await;
    let ran =
        run(&backend(&config(&fake)), imagine("a golden retriever astronaut --ar 9:21 --q 2 --chaos 5"))
            .await;
    let out = ran.result.expect("success");
    assert_eq!(out.images.len(), 4);
    for (image, colour) in out.images.iter().zip(COLOURS) {
        assert_eq!(colour_of(&image.bytes), colour);
    }
    assert!(ran.accepted_first);
    assert_eq!(ran.accepted, ["batch_000001"]);
    assert_eq!(ran.percents, [0, 50]);

    let posts = fake.posts_to("/v1/generate/batch");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    let requests = posts[0].body["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 4);
    for r in requests {
        assert_eq!(r["prompt"], "a golden retriever astronaut");
        assert_eq!(r["aspect_ratio"], "9:16");
        assert_eq!(r["quality"], "hd");
        assert_eq!(r["style"], "auto");
    }
    let cdn: Vec<_> = fake.requests().into_iter().filter(|r| r.path.starts_with("/cdn/")).collect();
    assert_eq!(cdn.len(), 4);
    assert!(cdn.iter().all(|r| r.auth.is_none()), "the key never goes to the CDN");
    assert!(fake.webhooks().is_empty(), "no notify_hook, no registration");
    let state = out.remote_state.unwrap();
    assert_eq!(state["batch_id"], "batch_000001");
    assert_eq!(state["urls"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn a_resumed_job_reattaches_without_submitting_again() {
    let fake = fake(|_| {}).await;
    fake.seed_batch("batch_old");
    let mut job = imagine("a cat");
    job.resume = Some("batch_old".into());
    let ran = run(&backend(&config(&fake)), job).await;
    assert_eq!(ran.result.expect("success").images.len(), 4);
    assert!(ran.accepted.is_empty());
    assert!(fake.posts_to("/v1/generate/batch").is_empty());
}

#[tokio::test]
async fn each_documented_error_code_is_classified() {
    let cases = [
        (401, "invalid_api_key", FailureCode::CredentialsRejected, false, "api_key of backend `oj`"),
        (429, "rate_limit_exceeded", FailureCode::RateLimited, true, "rate limiting"),
        (
            400,
            "invalid_prompt",
            FailureCode::BackendRejected,
            false,
            "refused your prompt: Prompt cannot be empty",
        ),
        (402, "insufficient_credits", FailureCode::BackendRejected, false, "an admin needs to top it up"),
        (500, "server_error", FailureCode::BackendError, true, "temporary problem"),
    ];
    for (status, code, failure, retryable, says) in cases {
        let fake = fake(|k| k.post_error = Some((status, code.into()))).await;
        let e = run(&backend(&config(&fake)), imagine("a cat")).await.result.unwrap_err();
        assert_eq!((e.code, e.retryable), (failure, retryable), "{code}");
        assert!(e.user_message.contains(says), "{code}: {}", e.user_message);
        assert_no_key(&e);
    }
}

#[tokio::test]
async fn a_wrong_key_is_fatal_and_never_shown() {
    let fake = fake(|k| {
        k.key = "another".into();
        k.echo_key = true;
    })
    .await;
    let backend = backend(&config(&fake));
    let e = run(&backend, imagine("a cat")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::CredentialsRejected, false));
    assert!(e.detail.contains("[redacted]"), "{}", e.detail);
    assert_no_key(&e);
    assert!(backend.health().await.unwrap_err().contains("credentials"));
}

#[tokio::test]
async fn a_failed_batch_is_classified_by_its_error() {
    let fake = fake(|k| k.batch_error = Some("invalid_prompt".into())).await;
    let e = run(&backend(&config(&fake)), imagine("a cat")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(e.user_message.contains("content policy"), "{}", e.user_message);
}

#[tokio::test]
async fn a_batch_without_four_results_is_a_bad_response() {
    let fake = fake(|k| k.results = 3).await;
    let e = run(&backend(&config(&fake)), imagine("a cat")).await.result.unwrap_err();
    assert_eq!(e.code, FailureCode::BackendBadResponse);
    assert!(e.user_message.contains("3 image URLs instead of 4"), "{}", e.user_message);
}

#[tokio::test]
async fn an_exhausted_rate_limit_pauses_requests_until_the_reset() {
    // Two requests per window: the submit and the first poll spend it; the next poll must
    // wait for X-RateLimit-Reset instead of drawing a 429.
    let fake = fake(|k| k.rate_budget = Some(2)).await;
    let out = run(&backend(&config(&fake)), imagine("a cat")).await.result.expect("success");
    assert_eq!(out.images.len(), 4);
    let api: Vec<_> = fake.requests().into_iter().filter(|r| r.path.starts_with("/v1/")).collect();
    assert!(api.iter().all(|r| r.status != 429), "a 429 was drawn: {api:?}");
    assert!(api.len() >= 4);
    assert!(api[2].at_ms >= api[1].at_ms + 900, "the third request waited for the reset");
}

#[tokio::test]
async fn webhooks_are_registered_once_and_end_the_wait_early() {
    let fake = fake(|k| k.advance_on_get = false).await;
    let hooks = Mailbox::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let router = hooks.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let mut cfg = config(&fake);
    cfg.set("poll_ms", 60_000);
    cfg.set("notify_hook", public.clone());
    let backend = std::sync::Arc::new(OpenJourneyBackend::from_config(&cfg, &hooks).unwrap());
    let running = tokio::spawn({
        let backend = backend.clone();
        async move { run(&backend, imagine("a cat")).await }
    });
    fake.wait_gets(1).await;
    fake.complete("batch_000001").await;
    let ran = running.await.unwrap();
    assert_eq!(ran.result.expect("success").images.len(), 4);

    let hooks = fake.webhooks();
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].starts_with(&format!("{public}/hooks/openjourney/")), "{}", hooks[0]);
    let registration = &fake.posts_to("/v1/webhooks")[0];
    assert_eq!(registration.body["events"], serde_json::json!(["batch.completed"]));

    backend.register_webhook().await.unwrap();
    assert_eq!(fake.webhooks().len(), 1, "registered only once");
    server.abort();
}

#[tokio::test]
async fn capabilities_and_config() {
    let fake = fake(|_| {}).await;
    let caps = backend(&config(&fake)).capabilities();
    assert!(caps.imagine && caps.resumable && !caps.upscale && !caps.variation && !caps.native_grid);
    assert_eq!(caps.params, [Param::Aspect, Param::Quality]);
    let all = easel::config::Config { backends: vec![config(&fake)], ..Default::default() };
    assert!(easel::backends::check(&all).is_ok(), "`openjourney` is a kind and its keys are its own");
    let mut cfg = config(&fake);
    cfg.set("notify_hook", "not a url");
    assert!(OpenJourneyBackend::from_config(&cfg, &Mailbox::new()).is_err());
}
