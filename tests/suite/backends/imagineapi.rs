//! The `imagineapi` adapter driven through the `Backend` trait over real HTTP against a fake
//! ImagineAPI: what it submits, how an item is followed (and re-attached after a restart),
//! what comes back, and how every failure is classified — with the token never in an error.

use crate::support;

use std::time::Duration;

use easel::backends::imagineapi::ImagineApiBackend;
use easel::backends::{Backend, BackendError, Job, JobOutput, Operation, ProgressSink, ProgressUpdate};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Param, PromptLimits, PromptSpec, parse};
use serde_json::json;
use support::fake_imagineapi::{COLOURS, FakeImagineApi, Knobs, Step};

const KEY: &str = "u667iLDO2Xfu0-qpv_nu82EeeDtYGlsf";
const WAIT: Duration = Duration::from_secs(8);

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeImagineApi {
    let mut knobs = Knobs { token: KEY.into(), ..Knobs::default() };
    tweak(&mut knobs);
    FakeImagineApi::start(knobs).await
}

fn config(fake: &FakeImagineApi) -> BackendConfig {
    let mut cfg = BackendConfig::new("imagine", "imagineapi");
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(KEY);
    cfg.timeout_secs = 5;
    cfg.set("poll_ms", 10);
    cfg
}

fn backend(fake: &FakeImagineApi) -> ImagineApiBackend {
    ImagineApiBackend::from_config(&config(fake)).expect("valid config")
}

fn spec(text: &str) -> PromptSpec {
    parse(text, &PromptLimits::default()).expect("prompt").remove(0)
}

fn imagine(text: &str) -> Job {
    Job { task_id: 7, op: Operation::Imagine, spec: spec(text), seed: 1000, resume: None }
}

struct Ran {
    result: Result<JobOutput, BackendError>,
    accepted: Vec<String>,
    percents: Vec<u8>,
    accepted_first: bool,
}

async fn run(backend: &ImagineApiBackend, job: Job) -> Ran {
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
async fn imagine_submits_the_canonical_prompt_and_returns_the_four_upscales() {
    let fake = fake(|_| {}).await;
    let ran =
        run(&backend(&fake), imagine("a pretty lady at the beach --ar 9:21 --chaos 40 --stylize 1000")).await;
    let out = ran.result.expect("success");
    assert_eq!(out.images.len(), 4);
    for (image, colour) in out.images.iter().zip(COLOURS) {
        assert_eq!(colour_of(&image.bytes), colour);
    }
    assert_eq!(ran.accepted.len(), 1);
    assert!(ran.accepted_first, "the id is recorded before any progress");
    assert_eq!(ran.percents, [0, 30, 70]);

    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, "/items/images/");
    assert_eq!(posts[0].auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(posts[0].body["prompt"], "a pretty lady at the beach --ar 9:21 --chaos 40 --stylize 1000");
    assert_eq!(posts[0].body["ref"], "easel-7");

    let id = &ran.accepted[0];
    let state = out.remote_state.expect("remote state");
    assert_eq!(state["id"], json!(id));
    assert_eq!(state["grid_url"], json!(format!("{}/assets/{id}-grid.png", fake.base_url)));
    assert_eq!(state["upscaled_urls"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn a_resumed_job_reattaches_without_submitting_again() {
    let fake = fake(|_| {}).await;
    fake.seed_item("before-restart", "a cat");
    let mut job = imagine("a cat");
    job.resume = Some("before-restart".into());
    let ran = run(&backend(&fake), job).await;
    assert_eq!(ran.result.expect("success").images.len(), 4);
    assert!(fake.posts().is_empty(), "no second submit");
    assert!(ran.accepted.is_empty());
    assert_eq!(fake.gets_of("before-restart"), 4);
}

#[tokio::test]
async fn an_item_with_only_the_grid_returns_the_grid() {
    let fake = fake(|k| k.script = vec![Step::CompletedGridOnly]).await;
    let out = run(&backend(&fake), imagine("a cat")).await.result.expect("success");
    assert_eq!(out.images.len(), 1);
    assert_eq!(colour_of(&out.images[0].bytes), [128, 128, 128]);
    assert!(out.remote_state.unwrap()["upscaled_urls"].is_null());
}

#[tokio::test]
async fn failed_items_are_classified_by_their_reason() {
    let blocked =
        fake(|k| k.script = vec![Step::Pending, Step::Failed("Banned prompt detected: gore".into())]).await;
    let e = run(&backend(&blocked), imagine("gore")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::ContentBlocked, false));
    assert!(e.user_message.contains("Banned prompt detected"), "{}", e.user_message);

    let invalid = fake(|k| k.script = vec![Step::Failed("Invalid parameter --zoom".into())]).await;
    let e = run(&backend(&invalid), imagine("a cat")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(e.user_message.ends_with("Invalid parameter --zoom"), "{}", e.user_message);
}

#[tokio::test]
async fn refused_credentials_are_fatal_and_never_show_the_key() {
    let fake = fake(|k| {
        k.token = "another".into();
        k.echo_token = true;
    })
    .await;
    let backend = backend(&fake);
    let e = run(&backend, imagine("a cat")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::CredentialsRejected, false));
    assert!(e.user_message.contains("`imagine`"), "{}", e.user_message);
    assert!(e.detail.contains("[redacted]"), "the echoed key was scrubbed: {}", e.detail);
    assert_no_key(&e);
    let health = backend.health().await.unwrap_err();
    assert!(health.contains("credentials"), "{health}");
    assert!(!health.contains(KEY));
}

#[tokio::test]
async fn http_failures_on_submit_are_classified() {
    let cases = [
        (429, Some(7), FailureCode::RateLimited, true),
        (503, None, FailureCode::BackendError, true),
        (500, None, FailureCode::BackendError, true),
        (400, None, FailureCode::BackendRejected, false),
        (403, None, FailureCode::CredentialsRejected, false),
    ];
    for (status, retry, code, retryable) in cases {
        let fake = fake(|k| {
            k.post_fault = Some((status, json!({"errors": [{"message": "Prompt is too long"}]}), retry))
        })
        .await;
        let e = run(&backend(&fake), imagine("a cat")).await.result.unwrap_err();
        assert_eq!((e.code, e.retryable), (code, retryable), "HTTP {status}");
        assert_eq!(e.retry_after, retry.map(Duration::from_secs), "HTTP {status}");
        assert_no_key(&e);
        if status == 400 {
            assert_eq!(e.user_message, "ImagineAPI rejected the request: Prompt is too long");
        }
    }
}

#[tokio::test]
async fn passing_poll_failures_are_absorbed() {
    let fake = fake(|k| k.get_fault = Some((502, 2))).await;
    let ran = run(&backend(&fake), imagine("a cat")).await;
    assert_eq!(ran.result.expect("success").images.len(), 4);
    assert_eq!(fake.posts().len(), 1);
}

#[tokio::test]
async fn answers_that_do_not_match_are_named_for_what_they_are() {
    // A web page where JSON belongs is named as such (and worth another try).
    let garbage = fake(|k| k.garbage_post = true).await;
    let e = run(&backend(&garbage), imagine("a cat")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::WrongContentType, true));
    assert!(e.user_message.contains("a web page (HTML)"), "{}", e.user_message);

    let empty = fake(|k| k.script = vec![Step::CompletedEmpty]).await;
    let e = run(&backend(&empty), imagine("a cat")).await.result.unwrap_err();
    assert_eq!(e.code, FailureCode::BackendBadResponse);
    assert!(e.user_message.contains("upscaled_urls"), "{}", e.user_message);
}

#[tokio::test]
async fn a_lost_item_fails_after_a_few_polls() {
    let fake = fake(|_| {}).await;
    let mut job = imagine("a cat");
    job.resume = Some("never-existed".into());
    let e = run(&backend(&fake), job).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn capabilities_and_unsupported_operations() {
    let fake = fake(|_| {}).await;
    let backend = backend(&fake);
    let caps = backend.capabilities();
    assert!(caps.imagine && caps.resumable);
    assert!(!caps.upscale && !caps.variation && !caps.blend && !caps.describe && !caps.native_grid);
    assert!(caps.params.contains(&Param::Aspect));
    let source = easel::backends::SourceImage {
        bytes: support::fake_imagineapi::png([1, 2, 3], 8).into(),
        mime: "image/png",
        width: 8,
        height: 8,
    };
    let op =
        Operation::Variation { index: 0, strength: Strength::Subtle, source, parent: Default::default() };
    let job = Job { task_id: 1, op, spec: spec("a cat"), seed: 1, resume: None };
    let e = run(&backend, job).await.result.unwrap_err();
    assert_eq!(e.code, FailureCode::Unsupported);
    assert!(fake.requests().is_empty());
    assert!(backend.health().await.is_ok());
}

#[test]
fn config_accepts_the_kind_and_its_keys() {
    let mut cfg = BackendConfig::new("i", "imagineapi");
    cfg.base_url = "https://cl.imagineapi.dev".into();
    cfg.set("poll_ms", 500);
    let all = easel::config::Config { backends: vec![cfg.clone()], ..Default::default() };
    assert!(easel::backends::check(&all).is_ok(), "`imagineapi` is a kind and `poll_ms` one of its keys");
    assert!(ImagineApiBackend::from_config(&cfg).is_ok());
    cfg.base_url = "ftp://x".into();
    assert!(ImagineApiBackend::from_config(&cfg).is_err());
}
