//! The `opj` adapter driven through the `Backend` trait over real HTTP against a fake
//! Openjourney REST API: what it submits per model, how four jobs are followed (and
//! re-attached after a restart or a retry), U and /describe through the utilities, how every
//! failure is classified — with the key never in an error — and the config checks.

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use easel::backends::opj::OpjBackend;
use easel::backends::{
    Backend, BackendError, Job, JobOutput, Operation, ParentRef, ProgressSink, ProgressUpdate, SourceImage,
};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret, load_from};
use easel::prompt::{Param, PromptLimits, PromptSpec, parse};
use serde_json::json;
use support::fake_opj::{self, CAPTION, COLOURS, FakeOpj, Fault, Knobs, Step, UPSCALED_SIZE};

const KEY: &str = "opj-5f1c3e0a-7d2b-4a61-98d1-c0ffee";
const WAIT: Duration = Duration::from_secs(8);

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeOpj {
    let mut knobs = Knobs { key: KEY.into(), ..Knobs::default() };
    tweak(&mut knobs);
    FakeOpj::start(knobs).await
}

fn config(fake: &FakeOpj, model: &str) -> BackendConfig {
    let mut cfg = BackendConfig::new("opj", "opj");
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(KEY);
    cfg.model = Some(model.into());
    cfg.timeout_secs = 5;
    cfg.set("poll_ms", 10);
    cfg
}

fn backend(fake: &FakeOpj) -> OpjBackend {
    OpjBackend::from_config(&config(fake, "flux/1.1/pro")).expect("valid config")
}

fn spec(text: &str) -> PromptSpec {
    parse(text, &PromptLimits::default()).expect("prompt").remove(0)
}

fn job(op: Operation, text: &str) -> Job {
    let spec = if text.is_empty() { PromptSpec::default() } else { spec(text) };
    Job { task_id: 7, op, spec, seed: 1000, resume: None }
}

fn imagine(text: &str) -> Job {
    job(Operation::Imagine, text)
}

fn source() -> SourceImage {
    SourceImage { bytes: fake_opj::png([9, 9, 9], 8).into(), mime: "image/png", width: 8, height: 8 }
}

struct Ran {
    result: Result<JobOutput, BackendError>,
    accepted: Vec<String>,
    percents: Vec<u8>,
    accepted_first: bool,
}

async fn run(backend: &OpjBackend, job: Job) -> Ran {
    let (sink, mut updates) = ProgressSink::new();
    let watcher = tokio::spawn(async move {
        let (mut accepted, mut percents, mut accepted_first) = (Vec::new(), Vec::new(), false);
        while let Some(update) = updates.recv().await {
            match update {
                ProgressUpdate::Accepted { remote_id, ack } => {
                    accepted_first |= accepted.is_empty() && percents.is_empty();
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

fn ids(remote_id: &str) -> Vec<String> {
    serde_json::from_str(remote_id).expect("the remote id is a JSON list of job ids")
}

fn colour_of(bytes: &[u8]) -> [u8; 3] {
    image::load_from_memory(bytes).expect("an image").to_rgb8().get_pixel(0, 0).0
}

fn assert_no_key(e: &BackendError) {
    assert!(!e.detail.contains(KEY) && !e.user_message.contains(KEY), "key leaked: {e:?}");
}

#[tokio::test]
async fn imagine_runs_four_jobs_with_consecutive_seeds_and_the_nearest_canvas() {
    let fake = fake(|_| {}).await;
    let ran = run(&backend(&fake), imagine("a red fox in the snow --ar 16:9")).await;
    let out = ran.result.expect("success");
    assert_eq!(out.images.len(), 4);
    for (i, image) in out.images.iter().enumerate() {
        assert_eq!(colour_of(&image.bytes), COLOURS[i], "image {i} is job {i}'s");
        assert_eq!(image.seed, Some(1000 + i as u32));
    }
    let posts = fake.posts();
    assert_eq!(posts.len(), 4);
    for (i, post) in posts.iter().enumerate() {
        assert_eq!(post.path, "/v1/flux/1.1/pro");
        assert_eq!(post.auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
        let expected =
            json!({"prompt": "a red fox in the snow", "canvas": "Wide Landscape", "seed": 1000 + i});
        assert_eq!(post.body, expected);
    }
    // Each accepted job is recorded before the next POST: the list grows one id at a time.
    assert_eq!(ran.accepted.iter().map(|a| ids(a).len()).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(ran.accepted_first, "the first id is recorded before any progress");
    assert_eq!(ran.percents, [0, 40, 80]);
    let all = ids(ran.accepted.last().unwrap());
    let state = out.remote_state.expect("remote state");
    assert_eq!(state["jobs"], json!(all));
    assert_eq!(state["model"], "flux/1.1/pro");
    assert_eq!(
        state["urls"][3],
        json!(format!("{}/cdn/{}.png", fake.base_url.trim_end_matches("/v1"), all[3]))
    );
    assert_eq!(state["seeds"], json!([1000, 1001, 1002, 1003]));
}

#[tokio::test]
async fn fields_are_sent_only_to_the_models_that_take_them() {
    let fake = fake(|_| {}).await;
    let mut cfg = config(&fake, "sdxl/generative");
    cfg.set("cfg_scale", 6.5);
    let sdxl = OpjBackend::from_config(&cfg).unwrap();
    run(&sdxl, imagine("a castle --ar 9:16 --no fog, people")).await.result.expect("sdxl");
    assert_eq!(
        fake.posts()[0].body,
        json!({"prompt": "a castle", "canvas": "Portrait", "seed": 1000, "negative_prompt": "fog, people",
               "guidance": 6.5})
    );
    assert!(sdxl.capabilities().params.contains(&Param::No));

    let fake = self::fake(|_| {}).await;
    let schnell = OpjBackend::from_config(&config(&fake, "flux/schnell")).unwrap();
    let out = run(&schnell, imagine("a castle --ar 16:9 --no fog")).await.result.expect("schnell");
    assert_eq!(fake.posts()[0].body, json!({"prompt": "a castle"}), "schnell takes the prompt alone");
    assert!(out.images.iter().all(|i| i.seed.is_none()));
    assert!(schnell.capabilities().params.is_empty());

    let fake = self::fake(|_| {}).await;
    let ultra = OpjBackend::from_config(&config(&fake, "flux/1.1/pro-ultra")).unwrap();
    run(&ultra, imagine("a castle --style raw")).await.result.expect("ultra");
    assert_eq!(
        fake.posts()[0].body,
        json!({"prompt": "a castle", "canvas": "Square", "seed": 1000, "raw": true})
    );
    assert!(ultra.capabilities().params.contains(&Param::StyleRaw));

    let fake = self::fake(|_| {}).await;
    let dev = OpjBackend::from_config(&config(&fake, "/v1/flux/dev")).unwrap();
    run(&dev, imagine("a castle --ar 21:9")).await.result.expect("dev");
    assert_eq!(fake.posts()[0].path, "/v1/flux/dev");
    assert_eq!(fake.posts()[0].body["canvas"], "Landscape", "flux/dev has no Wide Landscape");
}

#[tokio::test]
async fn a_restart_reattaches_to_all_four_jobs_without_posting() {
    let fake = fake(|_| {}).await;
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        fake.seed_job(id, 3 - i);
    }
    let mut job = imagine("a cat");
    job.resume = Some(r#"["a","b","c","d"]"#.into());
    let ran = run(&backend(&fake), job).await;
    let out = ran.result.expect("success");
    assert!(fake.posts().is_empty(), "no job submitted again");
    assert!(ran.accepted.is_empty());
    let colours: Vec<[u8; 3]> = out.images.iter().map(|i| colour_of(&i.bytes)).collect();
    assert_eq!(colours, [COLOURS[3], COLOURS[2], COLOURS[1], COLOURS[0]], "in recorded order");
    for id in ["a", "b", "c", "d"] {
        assert_eq!(fake.gets_of(id), 4);
    }
}

#[tokio::test]
async fn a_retry_after_a_partial_submission_posts_only_the_missing_jobs() {
    let rate_limited =
        Fault { status: 429, body: json!({"error": "Too many requests"}), retry_after: Some(3) };
    let fake = fake(|k| k.fail_post = Some((3, rate_limited))).await;
    let backend = backend(&fake);
    let first = run(&backend, imagine("a cat")).await;
    let e = first.result.unwrap_err();
    assert_eq!(
        (e.code, e.retryable, e.retry_after),
        (FailureCode::RateLimited, true, Some(Duration::from_secs(3)))
    );
    let recorded = first.accepted.last().cloned().expect("two jobs were recorded");
    assert_eq!(ids(&recorded).len(), 2);

    let mut again = imagine("a cat");
    again.resume = Some(recorded.clone());
    let second = run(&backend, again).await;
    let out = second.result.expect("success");
    let posts = fake.posts();
    assert_eq!(posts.len(), 5, "two accepted, one refused, then only the two missing");
    assert_eq!(posts[3].body["seed"], 1002);
    assert_eq!(posts[4].body["seed"], 1003);
    let all = ids(second.accepted.last().unwrap());
    assert_eq!(all[..2], ids(&recorded)[..]);
    assert_eq!(out.images.iter().map(|i| i.seed).collect::<Vec<_>>(), [1000, 1001, 1002, 1003].map(Some));
}

#[tokio::test]
async fn upscale_sends_the_chosen_images_own_link_and_the_configured_upscaler() {
    let fake = fake(|_| {}).await;
    let mut cfg = config(&fake, "flux/1.1/pro");
    cfg.set("upscaler", "Real-ESRGAN");
    let backend = OpjBackend::from_config(&cfg).unwrap();
    let grid = run(&backend, imagine("a cat")).await.result.expect("imagine");
    let state = grid.remote_state.clone();

    let parent = ParentRef { remote_id: None, remote_state: state.clone(), seed: Some(1000) };
    let ran = run(&backend, job(Operation::Upscale { index: 2, source: source(), parent }, "a cat")).await;
    let out = ran.result.expect("upscale");
    assert_eq!(out.images.len(), 1);
    let image = image::load_from_memory(&out.images[0].bytes).unwrap();
    assert_eq!(image.width(), UPSCALED_SIZE);
    let post = fake.posts().pop().unwrap();
    assert_eq!(post.path, "/v1/utils/upscale");
    assert_eq!(post.body, json!({"image": state.unwrap()["urls"][2], "model": "Real-ESRGAN"}));
    assert_eq!(ran.accepted.len(), 1);

    // A parent without links: the stored image goes inline.
    let ran = run(
        &backend,
        job(Operation::Upscale { index: 0, source: source(), parent: ParentRef::default() }, "a cat"),
    )
    .await;
    ran.result.expect("upscale from the stored image");
    let image = fake.posts().pop().unwrap().body["image"].as_str().unwrap().to_string();
    assert!(image.starts_with("data:image/png;base64,"), "{image}");
}

#[tokio::test]
async fn describe_turns_one_extracted_caption_into_four_prompts() {
    let fake = fake(|_| {}).await;
    let backend = backend(&fake);
    let ran = run(&backend, job(Operation::Describe { image: source() }, "")).await;
    let out = ran.result.expect("describe");
    assert_eq!(out.prompts.len(), 4);
    assert_eq!(out.prompts[0], CAPTION);
    assert_eq!(out.prompts[1], "a red fox sitting in the snow");
    let post = fake.posts().pop().unwrap();
    assert_eq!(post.path, "/v1/utils/prompt-extract");
    assert!(post.body["image"].as_str().unwrap().starts_with("data:image/png;base64,"));
    assert_eq!(ran.accepted.len(), 1);

    let listed = self::fake(|k| k.caption = json!(["a fox", "a fox in snow"])).await;
    let out = run(&self::backend(&listed), job(Operation::Describe { image: source() }, "")).await;
    assert_eq!(out.result.expect("describe").prompts, ["a fox", "a fox in snow"]);

    let empty = self::fake(|k| k.caption = json!(" ")).await;
    let e = run(&self::backend(&empty), job(Operation::Describe { image: source() }, ""))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.code, FailureCode::BackendBadResponse);
    assert!(e.user_message.contains("`output`"), "{}", e.user_message);
}

#[tokio::test]
async fn http_failures_on_submit_are_classified() {
    let cases = [
        (
            401,
            json!({"error": "Unauthorized"}),
            None,
            FailureCode::CredentialsRejected,
            false,
            "backend `opj`",
        ),
        (403, json!({}), None, FailureCode::CredentialsRejected, false, "api_key"),
        (
            402,
            json!({"error": "Payment required"}),
            None,
            FailureCode::BackendRejected,
            false,
            "no credits left",
        ),
        (429, json!({}), Some(7), FailureCode::RateLimited, true, "rate limiting"),
        (500, json!({}), None, FailureCode::BackendError, true, "HTTP 500"),
        (503, json!({}), Some(2), FailureCode::BackendError, true, "HTTP 503"),
        (
            400,
            json!({"error": "Prompt is too long"}),
            None,
            FailureCode::BackendRejected,
            false,
            "Openjourney refused the request: Prompt is too long",
        ),
        (
            422,
            json!({"detail": "NSFW content detected"}),
            None,
            FailureCode::ContentBlocked,
            false,
            "NSFW content detected",
        ),
    ];
    for (status, body, retry, code, retryable, says) in cases {
        let fake = fake(|k| k.post_fault = Some(Fault { status, body, retry_after: retry })).await;
        let e = run(&backend(&fake), imagine("a cat")).await.result.unwrap_err();
        assert_eq!((e.code, e.retryable), (code, retryable), "HTTP {status}");
        assert_eq!(e.retry_after, retry.map(Duration::from_secs), "HTTP {status}");
        assert!(e.user_message.contains(says), "HTTP {status}: {}", e.user_message);
        assert_eq!(fake.posts().len(), 1, "HTTP {status}: nothing more after a refusal");
        assert_no_key(&e);
    }
}

#[tokio::test]
async fn failed_jobs_are_classified_by_their_reason() {
    let cases = [
        (Step::Failed("NSFW content detected".into()), FailureCode::ContentBlocked, "NSFW content detected"),
        (Step::Failed("CUDA out of memory".into()), FailureCode::BackendRejected, "CUDA out of memory"),
        (Step::Cancelled, FailureCode::BackendRejected, "cancelled"),
    ];
    for (step, code, says) in cases {
        let fake = fake(|k| k.script = vec![Step::Starting, step.clone()]).await;
        let e = run(&backend(&fake), imagine("a cat")).await.result.unwrap_err();
        assert_eq!((e.code, e.retryable), (code, false), "{step:?}");
        assert!(e.user_message.contains(says), "{}", e.user_message);
    }
}

/// A change to the fake's knobs, as a plain function so a table can hold several.
type Tweak = fn(&mut Knobs);

#[tokio::test]
async fn answers_that_do_not_match_are_bad_responses_that_say_what_was_expected() {
    let cases: [(Tweak, &str); 4] = [
        (|k| k.garbage_post = true, r#"not a job (`{"id", "status", "output"}`)"#),
        (|k| k.malformed_get = true, "not a job"),
        (|k| k.script = vec![Step::SucceededEmpty], "without an `output` image link"),
        (|k| k.script = vec![Step::NoStatus], "without a `status`"),
    ];
    for (tweak, says) in cases {
        let fake = fake(tweak).await;
        let e = run(&backend(&fake), imagine("a cat")).await.result.unwrap_err();
        assert_eq!((e.code, e.retryable), (FailureCode::BackendBadResponse, false), "{says}");
        assert!(e.user_message.starts_with("The Openjourney REST API sent a response"), "{}", e.user_message);
        assert!(e.user_message.contains(says), "{}", e.user_message);
    }
}

#[tokio::test]
async fn a_finished_jobs_image_is_read_from_every_shape_hosts_use() {
    for shape in ["output[]", "result.url", "result", "url", "image_url", "images"] {
        let fake = fake(|k| k.link_in = Some(shape)).await;
        let out = run(&backend(&fake), imagine("a cat")).await.result.expect(shape);
        assert_eq!(out.images.len(), 4, "{shape}");
    }
    let fake = fake(|k| k.script = vec![Step::SucceededEmpty]).await;
    let e = run(&backend(&fake), imagine("a cat")).await.result.unwrap_err();
    assert!(e.user_message.contains("(it had: id, status, progress, created_at)"), "{}", e.user_message);
}

#[tokio::test]
async fn a_finished_job_may_say_completed() {
    let fake = fake(|k| k.done_word = "completed").await;
    assert_eq!(run(&backend(&fake), imagine("a cat")).await.result.expect("success").images.len(), 4);
}

#[tokio::test]
async fn refused_credentials_are_fatal_and_never_show_the_key() {
    let fake = fake(|k| {
        k.key = "another".into();
        k.echo_key = true;
    })
    .await;
    let backend = backend(&fake);
    let e = run(&backend, imagine("a cat")).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::CredentialsRejected, false));
    assert!(e.user_message.contains("`opj`"), "{}", e.user_message);
    assert!(e.detail.contains("[redacted]"), "the echoed key was scrubbed: {}", e.detail);
    assert_no_key(&e);
    let health = backend.health().await.unwrap_err();
    assert!(health.contains("credentials"), "{health}");
    assert!(!health.contains(KEY));
}

#[tokio::test]
async fn passing_poll_failures_are_absorbed() {
    let fake = fake(|k| k.get_fault = Some((502, 2))).await;
    let ran = run(&backend(&fake), imagine("a cat")).await;
    assert_eq!(ran.result.expect("success").images.len(), 4);
    assert_eq!(fake.posts().len(), 4);
}

#[tokio::test]
async fn lost_jobs_fail_after_a_few_polls() {
    let fake = fake(|_| {}).await;
    let mut job = imagine("a cat");
    job.resume = Some(r#"["w","x","y","z"]"#.into());
    let e = run(&backend(&fake), job).await.result.unwrap_err();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(e.user_message.contains("lost track"), "{}", e.user_message);
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn health_pings_the_api() {
    let fake = fake(|_| {}).await;
    let backend = backend(&fake);
    assert_eq!(backend.health().await, Ok(()));
    let ping = fake.requests().pop().unwrap();
    assert_eq!(
        (ping.path.as_str(), ping.auth.as_deref()),
        ("/v1/internal/ping", Some(format!("Bearer {KEY}").as_str()))
    );
    fake.tweak(|k| k.ping_status = 503);
    assert!(backend.health().await.unwrap_err().contains("server error"));
    fake.tweak(|k| k.ping_status = 404);
    assert!(backend.health().await.unwrap_err().contains("base_url"));
}

#[tokio::test]
async fn capabilities_and_unsupported_operations() {
    let fake = fake(|_| {}).await;
    let backend = backend(&fake);
    let caps = backend.capabilities();
    assert!(caps.imagine && caps.upscale && caps.describe && caps.resumable);
    assert!(!caps.variation && !caps.blend && !caps.native_grid && !caps.rerun_is_free);
    assert_eq!(caps.params, [Param::Aspect, Param::Seed]);
    assert!((caps.max_aspect - 16.0 / 9.0).abs() < 1e-9);
    let vary = Operation::Variation {
        index: 0,
        strength: Strength::Subtle,
        source: source(),
        parent: ParentRef::default(),
    };
    for op in [vary, Operation::Blend { images: vec![source(), source()] }] {
        let e = run(&backend, job(op, "a cat")).await.result.unwrap_err();
        assert_eq!(e.code, FailureCode::Unsupported);
    }
    assert!(fake.requests().is_empty());
    assert!(!backend.cancel("job_0001").await.unwrap(), "the API documents no cancel");
}

fn load_error(backend: &str) -> easel::config::ConfigError {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("easel.toml");
    std::fs::write(&path, format!("[[backends]]\nname = \"o\"\nkind = \"opj\"\n{backend}")).unwrap();
    load_from(Some(&path), Vec::new())
        .and_then(|c| easel::app::check_config(&c))
        .expect_err("this entry must be refused")
}

#[test]
fn config_accepts_the_kind_and_checks_base_url_model_and_guidance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("easel.toml");
    let good = "[[backends]]\nname = \"o\"\nkind = \"opj\"\nbase_url = \"https://api.opj.app/v1\"\n\
                model = \"sdxl/generative\"\ncfg_scale = 7.5\nupscaler = \"Real-ESRGAN\"\npoll_ms = 1500\n";
    std::fs::write(&path, good).unwrap();
    let config = load_from(Some(&path), Vec::new()).expect("a valid opj entry");
    easel::app::check_config(&config).expect("a valid opj entry");
    let b = &config.backends[0];
    assert_eq!((b.kind.as_str(), easel::backends::concurrency(b)), ("opj", 2));
    assert!(OpjBackend::from_config(b).is_ok());

    let url = "base_url = \"https://api.opj.app/v1\"\n";
    let cases = [
        (url.to_string(), "backends[0].model", "flux/1.1/pro-ultra"),
        (
            format!("{url}model = \"flux/2/pro\"\n"),
            "backends[0].model",
            "is not a documented Openjourney model",
        ),
        (format!("{url}model = \"re-craft/svg\"\n"), "backends[0].model", "SVG"),
        ("base_url = \"https://api.opj.app\"\nmodel = \"flux/dev\"\n".into(), "backends[0].base_url", "/v1"),
        (
            format!("{url}model = \"flux/dev\"\ncfg_scale = 7.0\n"),
            "backends[0].cfg_scale",
            "takes no guidance",
        ),
        (
            format!("{url}model = \"sd/1/generative\"\ncfg_scale = 90.0\n"),
            "backends[0].cfg_scale",
            "out of range",
        ),
        (
            format!("{url}model = \"flux/dev\"\nnotify_hook = \"https://e.x\"\n"),
            "backends[0].notify_hook",
            "not of kind `opj`",
        ),
        (format!("{url}model = \"flux/dev\"\nsteps = 30\n"), "backends[0].steps", "not of kind `opj`"),
    ];
    for (entry, key, says) in cases {
        let err = load_error(&entry);
        assert_eq!(err.key, key, "{entry}: {err}");
        assert!(err.message.contains(says), "{entry}: {}", err.message);
    }
    let mut cfg = BackendConfig::new("o", "opj");
    cfg.base_url = "ftp://api.opj.app/v1".into();
    cfg.model = Some("flux/dev".into());
    assert!(OpjBackend::from_config(&cfg).is_err());
}
