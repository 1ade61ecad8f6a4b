//! The `openai` backend adapter driven through the `Backend` trait over real HTTP against a
//! fake OpenAI-compatible service: what each operation sends, what comes back, and how every
//! kind of failure is classified — with the API key kept out of every error.

use crate::support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use easel::backends::openai::OpenAiBackend;
use easel::backends::{
    Backend, BackendError, Job, JobOutput, Operation, OutputImage, ParentRef, ProgressSink, ProgressUpdate,
    SourceImage,
};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Aspect, Param, PromptSpec};
use serde_json::{Value, json};
use support::fake_openai::{FakeOpenAi, Fault, Knobs, png};

const KEY: &str = "sk-test-Zq81mDk2Lw0pVb7yXn4c";
/// Generous: only a hung adapter comes near it.
const WAIT: Duration = Duration::from_secs(30);

pub(super) async fn fake() -> FakeOpenAi {
    FakeOpenAi::start(Knobs { api_key: Some(KEY.into()), ..Knobs::default() }).await
}

pub(super) fn config(fake: &FakeOpenAi, tweak: impl FnOnce(&mut BackendConfig)) -> BackendConfig {
    let mut cfg = BackendConfig::new("fake-openai", "openai");
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(KEY);
    cfg.timeout_secs = 20;
    tweak(&mut cfg);
    cfg
}

fn model(name: &str) -> impl FnOnce(&mut BackendConfig) {
    let name = name.to_string();
    move |c| c.model = Some(name)
}

pub(super) fn backend(cfg: &BackendConfig) -> OpenAiBackend {
    OpenAiBackend::from_config(cfg).expect("a valid backend config")
}

fn spec(text: &str) -> PromptSpec {
    PromptSpec { text: text.into(), ..PromptSpec::default() }
}

fn job(op: Operation, spec: PromptSpec) -> Job {
    Job { task_id: 7, op, spec, seed: 1000, resume: None }
}

pub(super) fn imagine(text: &str) -> Job {
    job(Operation::Imagine, spec(text))
}

fn source(w: u32, h: u32, number: u32) -> SourceImage {
    SourceImage { bytes: png(w, h, number), mime: "image/png", width: w, height: h }
}

pub(super) struct Ran {
    pub result: Result<JobOutput, BackendError>,
    percents: Vec<u8>,
}

pub(super) async fn run(backend: &OpenAiBackend, job: Job) -> Ran {
    let (sink, mut updates) = ProgressSink::new();
    let result =
        tokio::time::timeout(WAIT, backend.run(job, sink)).await.expect("the adapter answers in time");
    let mut percents = Vec::new();
    while let Ok(update) = updates.try_recv() {
        if let ProgressUpdate::Percent { percent, .. } = update {
            percents.push(percent);
        }
    }
    Ran { result, percents }
}

async fn output(backend: &OpenAiBackend, job: Job) -> (JobOutput, Vec<u8>) {
    let ran = run(backend, job).await;
    (ran.result.unwrap_or_else(|e| panic!("the job failed: {e:?}")), ran.percents)
}

/// The job's error, checked for what every error must satisfy.
async fn failure(backend: &OpenAiBackend, job: Job) -> BackendError {
    let err = run(backend, job).await.result.expect_err("the job must fail");
    assert!(!err.detail.contains(KEY) && !err.user_message.contains(KEY), "the API key leaked: {err:?}");
    assert!(!err.user_message.trim().is_empty(), "no user message: {err:?}");
    err
}

fn dims(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("a decodable image");
    (img.width(), img.height())
}

fn assert_four_distinct(images: &[OutputImage], size: (u32, u32)) {
    assert_eq!(images.len(), 4);
    let unique: BTreeSet<&[u8]> = images.iter().map(|i| &i.bytes[..]).collect();
    assert_eq!(unique.len(), 4, "the four images must differ");
    for image in images {
        assert_eq!(dims(&image.bytes), size);
    }
}

fn body(request: &support::fake_openai::Recorded) -> &Value {
    request.json.as_ref().expect("a JSON body")
}

// --- imagine ---

#[tokio::test]
async fn imagine_asks_for_four_images_in_one_request_at_the_size_nearest_the_aspect() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    let mut s = spec("a lighthouse at dusk");
    s.params.aspect = Some(Aspect { w: 16, h: 9 });

    let (out, percents) = output(&b, job(Operation::Imagine, s)).await;

    assert_four_distinct(&out.images, (1536, 1024));
    assert!(out.images.iter().all(|i| i.seed.is_none()));
    assert_eq!(percents, [0]);
    let requests = fake.api_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/images/generations");
    assert_eq!(requests[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    let sent = body(&requests[0]);
    assert_eq!(sent["model"], "gpt-image-1");
    assert_eq!(sent["prompt"], "a lighthouse at dusk");
    assert_eq!(sent["n"], 4);
    assert_eq!(sent["size"], "1536x1024");
    // gpt-image models reject these fields; the fake refuses them as OpenAI does.
    for absent in ["response_format", "seed", "negative_prompt"] {
        assert!(sent.get(absent).is_none(), "{absent} must not be sent: {sent}");
    }
    assert_eq!(out.remote_state, Some(json!({"size": "1536x1024"})));
}

#[tokio::test]
async fn max_n_1_makes_four_parallel_requests_with_distinct_seeds() {
    let fake = fake().await;
    fake.set(|k| k.max_n = 1);
    let b = backend(&config(&fake, |c| {
        c.model = Some("flux-dev".into());
        c.set("max_n", 1);
        c.set("send_seed", true);
    }));

    let (out, percents) = output(&b, imagine("a fox")).await;

    assert_four_distinct(&out.images, (1024, 1024));
    let seeds: Vec<Option<u32>> = out.images.iter().map(|i| i.seed).collect();
    assert_eq!(seeds, [Some(1000), Some(1001), Some(1002), Some(1003)]);
    assert_eq!(percents, [0, 25, 50, 75]);
    let requests = fake.api_requests();
    assert_eq!(requests.len(), 4);
    let sent: BTreeSet<u64> = requests.iter().map(|r| body(r)["seed"].as_u64().expect("a seed")).collect();
    assert_eq!(sent, BTreeSet::from([1000, 1001, 1002, 1003]));
    assert!(requests.iter().all(|r| body(r)["n"] == 1));
}

#[tokio::test]
async fn a_provider_capped_at_n_1_rejects_a_batch_unless_max_n_says_so() {
    let fake = fake().await;
    fake.set(|k| k.max_n = 1);
    let b = backend(&config(&fake, model("flux-dev")));
    let err = failure(&b, imagine("a fox")).await;
    assert_eq!(err.code, FailureCode::BackendRejected);
    assert!(err.user_message.contains("n must be at most 1"), "{}", err.user_message);
}

#[tokio::test]
async fn a_provider_that_says_n_1_gets_single_calls_at_once_and_from_then_on() {
    let fake = fake().await;
    fake.set(|k| k.one_image_message = Some("You must provide n=1 for this model.".into()));
    let b = backend(&config(&fake, model("flux-dev")));

    let (out, _) = output(&b, imagine("a fox")).await;
    assert_four_distinct(&out.images, (1024, 1024));
    let ns: Vec<u64> = fake.api_requests().iter().map(|r| body(r)["n"].as_u64().expect("n")).collect();
    assert_eq!(ns, [4, 1, 1, 1, 1], "the refused batch, then four single calls");

    let (out, _) = output(&b, imagine("a hare")).await;
    assert_four_distinct(&out.images, (1024, 1024));
    let ns: Vec<u64> =
        fake.api_requests().iter().skip(5).map(|r| body(r)["n"].as_u64().expect("n")).collect();
    assert_eq!(ns, [1, 1, 1, 1], "remembered: no batch is tried again");
}

#[tokio::test]
async fn a_provider_that_refuses_json_gets_the_same_fields_form_encoded_and_from_then_on() {
    let fake = fake().await;
    fake.set(|k| k.form_only = true);
    let b = backend(&config(&fake, |c| {
        c.model = Some("flux-dev".into());
        c.set("send_seed", true);
    }));

    let (out, _) = output(&b, imagine("a fox in the snow")).await;
    assert_four_distinct(&out.images, (1024, 1024));
    let requests = fake.api_requests();
    let forms: Vec<bool> = requests.iter().map(|r| r.form_encoded).collect();
    assert_eq!(forms, [false, true], "the refused JSON call, then the same call form-encoded");
    let (json, form) = (body(&requests[0]), body(&requests[1]));
    assert_eq!(json, form, "the same fields either way");
    assert_eq!(form["prompt"], "a fox in the snow");
    assert_eq!(form["n"], 4);
    assert_eq!(form["seed"], 1000);

    output(&b, imagine("a hare")).await;
    let forms: Vec<bool> = fake.api_requests().iter().skip(2).map(|r| r.form_encoded).collect();
    assert_eq!(forms, [true], "remembered: JSON is not tried again");
}

#[tokio::test]
async fn a_400_about_something_else_is_not_retried_form_encoded() {
    let fake = fake().await;
    let b = backend(&config(&fake, model("flux-dev")));
    fake.set(|k| k.max_n = 1);
    failure(&b, imagine("a fox")).await;
    assert!(fake.api_requests().iter().all(|r| !r.form_encoded));
}

#[tokio::test]
async fn dall_e_3_defaults_to_single_image_calls_in_base64_with_its_own_sizes() {
    let fake = fake().await;
    let b = backend(&config(&fake, model("dall-e-3")));
    let mut s = spec("a tall tower");
    s.params.aspect = Some(Aspect { w: 9, h: 16 });

    let (out, _) = output(&b, job(Operation::Imagine, s)).await;

    assert_four_distinct(&out.images, (1024, 1792));
    let requests = fake.api_requests();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert_eq!(body(r)["n"], 1);
        assert_eq!(body(r)["response_format"], "b64_json");
        assert_eq!(body(r)["size"], "1024x1792");
    }
    let state = out.remote_state.expect("remote state");
    assert_eq!(state["revised_prompts"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn url_answers_are_downloaded_from_the_services_file_host() {
    let fake = fake().await;
    let b = backend(&config(&fake, |c| {
        c.model = Some("dall-e-2".into());
        c.set("response_format", "url");
    }));

    let (out, _) = output(&b, imagine("a boat")).await;

    assert_four_distinct(&out.images, (1024, 1024));
    assert_eq!(body(&fake.api_requests()[0])["response_format"], "url");
    let downloads: Vec<_> = fake.requests().into_iter().filter(|r| r.path.starts_with("/files/")).collect();
    assert_eq!(downloads.len(), 4);
    assert!(downloads.iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_reaches_the_same_paths() {
    let fake = fake().await;
    let b = backend(&config(&fake, |c| c.base_url = format!("{}/", c.base_url)));
    let (out, _) = output(&b, imagine("a cat")).await;
    assert_eq!(out.images.len(), 4);
    assert_eq!(fake.api_requests()[0].path, "/v1/images/generations");
}

#[tokio::test]
async fn seed_and_negative_prompt_are_sent_only_when_configured() {
    let fake = fake().await;
    let mut s = spec("a portrait");
    s.params.no = vec!["blur".into(), "text".into()];
    s.params.seed = Some(1000);
    let plain = backend(&config(&fake, model("flux-dev")));
    assert_eq!(plain.capabilities().params, [Param::Aspect]);
    assert_eq!(plain.capabilities().ignored_params(&s), [Param::Seed, Param::No]);
    output(&plain, job(Operation::Imagine, s.clone())).await;

    let extras = backend(&config(&fake, |c| {
        c.model = Some("flux-dev".into());
        c.set("send_seed", true);
        c.set("send_negative_prompt", true);
    }));
    assert_eq!(extras.capabilities().params, [Param::Aspect, Param::Seed, Param::No]);
    assert!(extras.capabilities().ignored_params(&s).is_empty());
    output(&extras, job(Operation::Imagine, s)).await;

    let requests = fake.api_requests();
    assert_eq!(requests.len(), 2);
    let (first, second) = (body(&requests[0]), body(&requests[1]));
    assert!(first.get("seed").is_none() && first.get("negative_prompt").is_none(), "{first}");
    assert_eq!(second["seed"], 1000);
    assert_eq!(second["negative_prompt"], "blur, text");
    assert_eq!(second["prompt"], "a portrait");
}

// --- variation, blend, describe, upscale ---

#[tokio::test]
async fn an_edits_variation_sends_the_chosen_image_with_the_prompt() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    let chosen = source(64, 96, 500);
    let op = |strength| Operation::Variation {
        index: 2,
        strength,
        source: chosen.clone(),
        parent: ParentRef::default(),
    };

    let (out, _) = output(&b, job(op(Strength::Subtle), spec("a red kite"))).await;
    output(&b, job(op(Strength::Strong), spec("a red kite"))).await;

    // The source is 2:3, so the nearest size is portrait.
    assert_four_distinct(&out.images, (1024, 1536));
    let requests = fake.api_requests();
    let r = &requests[0];
    assert_eq!(r.path, "/v1/images/edits");
    assert_eq!(r.files.len(), 1);
    assert_eq!(r.files[0].field, "image");
    assert_eq!(r.files[0].content_type.as_deref(), Some("image/png"));
    assert!(r.files[0].file_name.as_deref().is_some_and(|n| n.ends_with(".png")));
    assert_eq!(r.files[0].bytes, chosen.bytes);
    assert_eq!(r.field("model"), Some("gpt-image-1"));
    assert_eq!(r.field("n"), Some("4"));
    assert_eq!(r.field("size"), Some("1024x1536"));
    assert_eq!(r.field("response_format"), None);
    let (subtle, strong) =
        (r.field("prompt").unwrap_or_default(), requests[1].field("prompt").unwrap_or_default());
    assert!(subtle.contains("a red kite") && strong.contains("a red kite"));
    assert_ne!(subtle, strong, "strength must change what is asked");
}

#[tokio::test]
async fn dall_e_2_variations_use_the_variations_endpoint() {
    let fake = fake().await;
    let b = backend(&config(&fake, model("dall-e-2")));
    let chosen = source(64, 64, 9);
    let op = Operation::Variation {
        index: 0,
        strength: Strength::Strong,
        source: chosen.clone(),
        parent: ParentRef::default(),
    };

    let (out, _) = output(&b, job(op, spec("a kite"))).await;

    assert_four_distinct(&out.images, (1024, 1024));
    let r = &fake.api_requests()[0];
    assert_eq!(r.path, "/v1/images/variations");
    assert_eq!(r.files.len(), 1);
    assert_eq!(r.files[0].bytes, chosen.bytes);
    assert_eq!(r.field("prompt"), None);
    assert_eq!(r.field("response_format"), Some("b64_json"));
    assert_eq!(r.field("n"), Some("4"));
}

#[tokio::test]
async fn without_a_variation_endpoint_variations_are_unsupported() {
    let fake = fake().await;
    let b = backend(&config(&fake, model("flux-dev")));
    assert!(!b.capabilities().variation);
    let op = Operation::Variation {
        index: 0,
        strength: Strength::Subtle,
        source: source(8, 8, 1),
        parent: ParentRef::default(),
    };
    let err = failure(&b, job(op, spec("x"))).await;
    assert_eq!(err.code, FailureCode::Unsupported);
    assert!(!err.retryable);
    assert!(fake.api_requests().is_empty());
}

#[tokio::test]
async fn blend_sends_every_image_as_an_image_array_part() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    let images = vec![source(32, 32, 1), source(48, 32, 2), source(32, 48, 3)];
    let mut s = spec("as a stained glass window");
    s.params.aspect = Some(Aspect { w: 3, h: 2 });

    let (out, _) = output(&b, job(Operation::Blend { images: images.clone() }, s)).await;

    assert_four_distinct(&out.images, (1536, 1024));
    let r = &fake.api_requests()[0];
    assert_eq!(r.path, "/v1/images/edits");
    assert_eq!(r.files.len(), 3);
    assert!(r.files.iter().all(|f| f.field == "image[]"));
    let sent: Vec<_> = r.files.iter().map(|f| f.bytes.clone()).collect();
    let given: Vec<_> = images.iter().map(|i| i.bytes.clone()).collect();
    assert_eq!(sent, given);
    let prompt = r.field("prompt").unwrap_or_default();
    assert!(prompt.contains("Blend these 3 images") && prompt.contains("stained glass"), "{prompt}");
}

#[tokio::test]
async fn blend_is_unsupported_where_not_configured() {
    let fake = fake().await;
    let b = backend(&config(&fake, model("dall-e-3")));
    assert!(!b.capabilities().blend);
    let err =
        failure(&b, job(Operation::Blend { images: vec![source(8, 8, 1), source(8, 8, 2)] }, spec(""))).await;
    assert_eq!(err.code, FailureCode::Unsupported);
    assert!(fake.api_requests().is_empty());
}

#[tokio::test]
async fn describe_asks_the_vision_model_and_returns_four_prompts() {
    let fake = fake().await;
    let b = backend(&config(&fake, |c| c.set("describe_model", "gpt-4o-mini")));
    assert!(b.capabilities().describe);
    let image = source(40, 30, 77);

    let (out, _) = output(&b, job(Operation::Describe { image: image.clone() }, spec(""))).await;

    assert_eq!(out.prompts.len(), 4);
    assert_eq!(out.prompts[0], "a red fox in fresh snow, soft morning light, photograph");
    assert!(out.images.is_empty());
    let r = &fake.api_requests()[0];
    assert_eq!(r.path, "/v1/chat/completions");
    let sent = body(r);
    assert_eq!(sent["model"], "gpt-4o-mini");
    let content = &sent["messages"][0]["content"];
    assert_eq!(content[0]["type"], "text");
    assert!(content[0]["text"].as_str().unwrap_or_default().contains("JSON array"));
    assert_eq!(content[1]["type"], "image_url");
    let url = content[1]["image_url"]["url"].as_str().unwrap_or_default();
    let b64 = url.strip_prefix("data:image/png;base64,").expect("a PNG data URL");
    assert_eq!(STANDARD.decode(b64).expect("base64"), image.bytes);
}

#[tokio::test]
async fn describe_reads_fenced_and_numbered_answers() {
    let fake = fake().await;
    let b = backend(&config(&fake, |c| c.set("describe_model", "gpt-4o-mini")));
    let describe = || job(Operation::Describe { image: source(8, 8, 1) }, spec(""));

    fake.set(|k| k.describe_reply = "```json\n[\"one\", \"two\", \"three\", \"four\"]\n```".into());
    assert_eq!(output(&b, describe()).await.0.prompts, ["one", "two", "three", "four"]);

    fake.set(|k| k.describe_reply = "Sure:\n1. one\n2. two\n3. three\n4. four".into());
    assert_eq!(output(&b, describe()).await.0.prompts, ["one", "two", "three", "four"]);

    fake.set(|k| k.describe_reply = "I can't see anything useful here.".into());
    assert_eq!(failure(&b, describe()).await.code, FailureCode::BackendBadResponse);
}

#[tokio::test]
async fn describe_needs_a_describe_model() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    assert!(!b.capabilities().describe);
    let err = failure(&b, job(Operation::Describe { image: source(8, 8, 1) }, spec(""))).await;
    assert_eq!(err.code, FailureCode::Unsupported);
    assert!(fake.api_requests().is_empty());
}

#[tokio::test]
async fn upscale_is_left_to_the_engine() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    assert!(!b.capabilities().upscale);
    let op = Operation::Upscale { index: 1, source: source(8, 8, 1), parent: ParentRef::default() };
    let err = failure(&b, job(op, spec("x"))).await;
    assert_eq!(err.code, FailureCode::Unsupported);
    assert!(!err.retryable);
    assert!(fake.api_requests().is_empty());
}

#[tokio::test]
async fn capabilities_follow_the_config() {
    let fake = fake().await;
    let gpt = backend(&config(&fake, |_| {})).capabilities();
    assert!(gpt.imagine && gpt.variation && gpt.blend);
    assert!(
        !gpt.upscale
            && !gpt.describe
            && !gpt.previews
            && !gpt.native_grid
            && !gpt.resumable
            && !gpt.rerun_is_free
    );
    assert_eq!(gpt.max_aspect, 1.5);
    // gpt-image models take reference images as the images of an edit, up to 16.
    assert_eq!(
        gpt.params,
        [Param::Aspect, Param::ImagePrompt, Param::StyleRef, Param::CharacterRef, Param::OmniRef]
    );
    assert_eq!(gpt.max_reference_images, 16);
    let no_refs = backend(&config(&fake, |c| c.set("reference_images", false))).capabilities();
    assert_eq!((no_refs.params, no_refs.max_reference_images), (vec![Param::Aspect], 0));
    let d3 = backend(&config(&fake, model("dall-e-3"))).capabilities();
    assert_eq!((d3.params.len(), d3.max_reference_images), (1, 0), "dall-e-3 has no edits");

    assert_eq!(backend(&config(&fake, model("dall-e-3"))).capabilities().max_aspect, 1.75);
    let wide = backend(&config(&fake, |c| c.set("sizes", ["1024x1024", "2048x512"])));
    assert_eq!(wide.capabilities().max_aspect, 4.0);
    let none = backend(&config(&fake, |c| c.set("variation", "none")));
    assert!(!none.capabilities().variation);
}

// --- errors ---

#[tokio::test]
async fn a_wrong_key_is_rejected_credentials_and_is_never_echoed() {
    let fake = FakeOpenAi::start(Knobs {
        api_key: Some("sk-the-right-one".into()),
        echo_key_in_errors: true,
        ..Knobs::default()
    })
    .await;
    let b = backend(&config(&fake, |_| {}));
    let err = failure(&b, imagine("x")).await;
    assert_eq!(err.code, FailureCode::CredentialsRejected);
    assert!(!err.retryable);
    assert!(err.user_message.contains("API key for backend `fake-openai`"), "{}", err.user_message);
    // The fake did echo the key; the adapter scrubbed it.
    assert!(err.detail.contains("[redacted]"), "{}", err.detail);
}

#[tokio::test]
async fn forbidden_is_rejected_credentials() {
    let fake = fake().await;
    fake.set(|k| {
        k.fault = Some(Fault::openai(
            403,
            "Your organization must be verified to use the model `gpt-image-1`.",
            "invalid_request_error",
            None,
        ))
    });
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!(err.code, FailureCode::CredentialsRejected);
    assert!(!err.retryable);
}

#[tokio::test]
async fn without_a_key_no_authorization_is_sent() {
    let fake = fake().await;
    let err = failure(&backend(&config(&fake, |c| c.api_key = Secret::default())), imagine("x")).await;
    assert_eq!(err.code, FailureCode::CredentialsRejected);
    assert_eq!(fake.api_requests()[0].authorization, None);
}

fn rate_limited() -> Fault {
    Fault::openai(
        429,
        "Rate limit reached for gpt-image-1 on images per minute: Limit 5, Used 5.",
        "requests",
        Some("rate_limit_exceeded"),
    )
}

#[tokio::test]
async fn rate_limits_are_retryable_after_retry_after_seconds() {
    let fake = fake().await;
    fake.set(|k| k.fault = Some(rate_limited().with_header("retry-after", "7")));
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!(err.code, FailureCode::RateLimited);
    assert!(err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn retry_after_ms_wins_over_retry_after() {
    let fake = fake().await;
    fake.set(|k| {
        k.fault = Some(rate_limited().with_header("retry-after-ms", "1500").with_header("retry-after", "2"))
    });
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!(err.code, FailureCode::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn an_exhausted_quota_is_not_worth_retrying() {
    let fake = fake().await;
    fake.set(|k| {
        k.fault = Some(Fault::openai(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            Some("insufficient_quota"),
        ))
    });
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!(err.code, FailureCode::RateLimited);
    assert!(!err.retryable);
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    fake.set(|k| {
        k.fault = Some(Fault::openai(
            500,
            "The server had an error while processing your request.",
            "server_error",
            None,
        ))
    });
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendError, true));

    fake.set(|k| {
        k.fault = Some(
            Fault::raw(503, "<html><body><h1>503 Service Unavailable</h1></body></html>")
                .with_header("retry-after", "3"),
        )
    });
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendError, true));
    assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
    assert!(err.detail.contains("503 Service Unavailable"), "{}", err.detail);
}

#[tokio::test]
async fn a_slow_service_times_out() {
    let fake = fake().await;
    fake.set(|k| k.delay = Duration::from_secs(5));
    let b = backend(&config(&fake, |c| c.timeout_secs = 1));
    let started = Instant::now();
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendTimeout, true));
    assert!(started.elapsed() < Duration::from_secs(4), "the timeout was not applied");
}

#[tokio::test]
async fn an_unreachable_service_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let mut cfg = BackendConfig::new("gone", "openai");
    cfg.base_url = format!("http://{addr}/v1");
    cfg.api_key = Secret::new(KEY);
    let err = failure(&backend(&cfg), imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendUnavailable, true));
}

#[tokio::test]
async fn content_policy_refusals_are_blocked_with_the_providers_reason() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    let refusals = [
        Fault::openai(
            400,
            "Your request was rejected as a result of our safety system. Your prompt may contain text that is not \
             allowed by our safety system.",
            "invalid_request_error",
            Some("content_policy_violation"),
        ),
        Fault::openai(
            400,
            "Request blocked by moderation.",
            "image_generation_user_error",
            Some("moderation_blocked"),
        ),
        Fault::openai(
            400,
            "Your request was rejected by the safety system.",
            "image_generation_user_error",
            None,
        ),
    ];
    for refusal in refusals {
        let Fault::Status { body, .. } = &refusal else { unreachable!() };
        let message =
            serde_json::from_str::<Value>(body).expect("json")["error"]["message"].as_str().map(String::from);
        fake.set(|k| k.fault = Some(refusal.clone()));
        let err = failure(&b, imagine("x")).await;
        assert_eq!((err.code, err.retryable), (FailureCode::ContentBlocked, false));
        let message = message.unwrap_or_default();
        assert!(err.user_message.contains(&message), "{} lacks {message}", err.user_message);
    }
}

#[tokio::test]
async fn other_client_errors_are_rejected_with_the_providers_message() {
    let fake = fake().await;
    fake.set(|k| {
        k.fault = Some(Fault::openai(
            400,
            "Invalid prompt: prompt is too long.",
            "invalid_request_error",
            Some("string_above_max_length"),
        ))
    });
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(err.user_message.contains("prompt is too long"), "{}", err.user_message);
}

#[tokio::test]
async fn the_fakes_own_validation_surfaces_as_a_rejection() {
    // gpt-image models refuse `response_format`, exactly as OpenAI does.
    let fake = fake().await;
    let b = backend(&config(&fake, |c| c.set("response_format", "b64_json")));
    let err = failure(&b, imagine("x")).await;
    assert_eq!(err.code, FailureCode::BackendRejected);
    assert!(err.user_message.contains("response_format"), "{}", err.user_message);
}

#[tokio::test]
async fn fastapi_validation_errors_read_well() {
    let fake = fake().await;
    fake.set(|k| {
        k.fault = Some(Fault::raw(
            422,
            r#"{"detail":[{"loc":["body","width"],"msg":"ensure this value is less than or equal to 2048","type":"value_error.number.not_le"}]}"#,
        ))
    });
    let err = failure(&backend(&config(&fake, model("flux-dev"))), imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(
        err.user_message.contains("width: ensure this value is less than or equal to 2048"),
        "{}",
        err.user_message
    );
}

#[tokio::test]
async fn an_error_body_with_status_200_is_still_an_error() {
    let fake = fake().await;
    fake.set(|k| {
        k.fault = Some(Fault::ErrorWithOk {
            message: "no available channel for model gpt-image-1".into(),
            code: "model_not_found".into(),
        })
    });
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!(err.code, FailureCode::BackendRejected);
    assert!(err.user_message.contains("no available channel"), "{}", err.user_message);
}

async fn unusable(
    fault: Fault,
    tweak: impl FnOnce(&mut BackendConfig),
    expected: (FailureCode, bool),
) -> BackendError {
    let fake = fake().await;
    fake.set(|k| k.fault = Some(fault));
    let err = failure(&backend(&config(&fake, tweak)), imagine("x")).await;
    assert_eq!((err.code, err.retryable), expected, "{err:?}");
    err
}

async fn bad_response(fault: Fault, tweak: impl FnOnce(&mut BackendConfig)) -> BackendError {
    unusable(fault, tweak, (FailureCode::BackendBadResponse, false)).await
}

#[tokio::test]
async fn json_cut_off_midway_is_malformed_and_retryable() {
    let err = unusable(Fault::MalformedJson, |_| {}, (FailureCode::BackendMalformed, true)).await;
    assert!(err.user_message.contains("cut off or garbled"), "{}", err.user_message);
}

#[tokio::test]
async fn too_few_images_is_a_bad_response() {
    let err = bad_response(Fault::MissingImage, |_| {}).await;
    assert!(err.user_message.contains("3 image(s) instead of 4"), "{}", err.user_message);
}

#[tokio::test]
async fn undecodable_base64_is_a_bad_response() {
    bad_response(Fault::BadBase64, |_| {}).await;
}

#[tokio::test]
async fn bytes_that_are_not_an_image_are_the_wrong_content_type() {
    let wrong = (FailureCode::WrongContentType, true);
    let err = unusable(Fault::NotAnImage, |_| {}, wrong).await;
    assert!(err.user_message.contains("a web page (HTML)"), "{}", err.user_message);
    let err = unusable(
        Fault::NotAnImage,
        |c| {
            c.model = Some("dall-e-2".into());
            c.set("response_format", "url");
        },
        wrong,
    )
    .await;
    assert!(err.detail.contains("declared `image/png`"), "the link's claimed type is logged: {}", err.detail);
}

// --- reference images ---

#[tokio::test]
async fn a_reference_on_the_provider_s_own_address_is_never_fetched_with_the_key() {
    let fake = fake().await;
    let b = backend(&config(&fake, |_| {}));
    let origin = reqwest::Url::parse(&fake.base_url).unwrap().origin().ascii_serialization();
    let link = format!("{origin}/files/secret.png");
    let mut s = spec("a cat");
    s.params.style_refs.push(easel::prompt::StyleRef {
        source: easel::prompt::StyleSource::Url(link.clone()),
        weight: None,
    });
    let err = run(&b, job(Operation::Imagine, s)).await.result.expect_err("refused");
    assert_eq!(err.code, FailureCode::BadImage);
    assert!(err.user_message.contains("--sref") && err.user_message.contains(&link), "{err:?}");
    assert!(fake.requests().is_empty(), "nothing was sent: {:?}", fake.requests());
}
