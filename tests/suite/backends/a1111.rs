//! The `a1111` backend adapter driven through the `Backend` trait over real HTTP against a
//! fake A1111 / Forge server: what each operation sends and gets back, progress and live
//! previews while the server works, jobs reaching the server one at a time, and how every
//! kind of failure is classified — with the password kept out of every error.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use easel::backends::a1111::A1111Backend;
use easel::backends::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, ParentRef, ProgressSink, ProgressUpdate,
    SourceImage,
};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Aspect, Param, PromptSpec};
use serde_json::{Value, json};
use support::fake_a1111::{FakeA1111, Fault, Knobs, png, preview_png};
use tokio::sync::mpsc::UnboundedReceiver;

const USER: &str = "painter";
const PASSWORD: &str = "Vx9-quartz-Lumen-42";
/// Generous: only a hung adapter comes near it.
const WAIT: Duration = Duration::from_secs(10);
/// Frequent enough that a fake job of a few milliseconds is seen while it runs.
const POLL: Duration = Duration::from_millis(5);
const TXT2IMG: &str = "/sdapi/v1/txt2img";
const IMG2IMG: &str = "/sdapi/v1/img2img";

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeA1111 {
    let mut knobs = Knobs { auth: Some((USER.into(), PASSWORD.into())), ..Knobs::default() };
    tweak(&mut knobs);
    FakeA1111::start(knobs).await
}

fn config(fake: &FakeA1111, tweak: impl FnOnce(&mut BackendConfig)) -> BackendConfig {
    let mut cfg = BackendConfig::new("studio", "a1111");
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(format!("{USER}:{PASSWORD}"));
    cfg.timeout_secs = 20;
    // Small images keep the suite fast; the arithmetic is the same at 1024.
    cfg.set("image_size", 512);
    tweak(&mut cfg);
    cfg
}

fn backend(cfg: &BackendConfig) -> A1111Backend {
    A1111Backend::from_config(cfg).expect("a valid backend config").with_poll_interval(POLL)
}

fn spec(text: &str) -> PromptSpec {
    PromptSpec { text: text.into(), ..PromptSpec::default() }
}

fn job(op: Operation, spec: PromptSpec, seed: u32) -> Job {
    Job { task_id: 7, op, spec, seed, resume: None }
}

fn imagine(text: &str) -> Job {
    job(Operation::Imagine, spec(text), 1000)
}

fn wide(text: &str) -> PromptSpec {
    let mut s = spec(text);
    s.params.aspect = Some(Aspect { w: 16, h: 9 });
    s
}

async fn run(backend: &A1111Backend, job: Job) -> Result<JobOutput, BackendError> {
    tokio::time::timeout(WAIT, backend.run(job, ProgressSink::discard())).await.expect("the adapter answers")
}

async fn output(backend: &A1111Backend, job: Job) -> JobOutput {
    run(backend, job).await.unwrap_or_else(|e| panic!("the job failed: {e:?}"))
}

/// The job's error, checked for what every error must satisfy.
async fn failure(backend: &A1111Backend, job: Job) -> BackendError {
    let err = run(backend, job).await.expect_err("the job must fail");
    assert_no_password(&err);
    assert!(!err.user_message.trim().is_empty(), "no user message: {err:?}");
    err
}

fn assert_no_password(err: &BackendError) {
    let basic = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for text in [&err.detail, &err.user_message] {
        assert!(!text.contains(PASSWORD) && !text.contains(&basic), "the password leaked: {err:?}");
    }
}

fn dims(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("a decodable image");
    (img.width(), img.height())
}

fn body(fake: &FakeA1111, path: &str, nth: usize) -> Value {
    let requests = fake.requests_to(path);
    requests.get(nth).and_then(|r| r.json.clone()).unwrap_or_else(|| panic!("no request {nth} to {path}"))
}

fn source(out: &JobOutput, index: usize) -> SourceImage {
    let bytes = out.images[index].bytes.clone();
    let (width, height) = dims(&bytes);
    SourceImage { bytes, mime: "image/png", width, height }
}

fn child_of(out: &JobOutput) -> ParentRef {
    ParentRef { remote_id: None, remote_state: out.remote_state.clone(), seed: Some(1000) }
}

/// Waits for a progress report that `wanted` accepts, returning every report seen.
async fn watch_for(
    rx: &mut UnboundedReceiver<ProgressUpdate>,
    seen: &mut Vec<(u8, Option<Bytes>)>,
    wanted: impl Fn(u8, Option<&Bytes>) -> bool,
) {
    let wait = async {
        while let Some(update) = rx.recv().await {
            if let ProgressUpdate::Percent { percent, preview } = update {
                let found = wanted(percent, preview.as_ref());
                seen.push((percent, preview));
                if found {
                    return;
                }
            }
        }
        panic!("the progress channel closed first");
    };
    tokio::time::timeout(WAIT, wait).await.expect("the awaited progress report never came");
}

// --- imagine ---

#[tokio::test]
async fn imagine_makes_one_batch_of_four_with_their_seeds_and_skips_the_servers_grid() {
    let fake = fake(|_| {}).await;
    let model = "sd_xl_base_1.0.safetensors [31e35c80fc]";
    let b = backend(&config(&fake, |c| c.model = Some(model.into())));
    let mut s = wide("a lighthouse at dusk");
    s.params.no = vec!["blurry".into(), "text".into()];

    let out = output(&b, job(Operation::Imagine, s, 1000)).await;

    // 16:9 at 512 on the long side: 512×288. The fake's grid (1024×576) is not among them.
    assert_eq!(out.images.len(), 4);
    for (i, image) in out.images.iter().enumerate() {
        assert_eq!(image.bytes, png(512, 288, 1000 + i as u32), "image {i} is the one of seed {}", 1000 + i);
        assert_eq!(image.seed, Some(1000 + i as u32));
    }
    assert_eq!(
        out.remote_state,
        Some(
            json!({"made_by": "txt2img", "width": 512, "height": 288, "all_seeds": [1000, 1001, 1002, 1003]})
        )
    );
    let sent = body(&fake, TXT2IMG, 0);
    assert_eq!(sent["prompt"], "a lighthouse at dusk");
    assert_eq!(sent["negative_prompt"], "blurry, text");
    assert_eq!(
        (sent["seed"].as_i64(), sent["batch_size"].as_i64(), sent["n_iter"].as_i64()),
        (Some(1000), Some(4), Some(1))
    );
    assert_eq!((sent["width"].as_i64(), sent["height"].as_i64()), (Some(512), Some(288)));
    assert_eq!(sent["override_settings"], json!({"sd_model_checkpoint": model}));
    assert_eq!((sent["send_images"].as_bool(), sent["save_images"].as_bool()), (Some(true), Some(false)));
    assert!(sent["force_task_id"].as_str().is_some_and(|t| t.starts_with("easel-7-")), "{sent}");
    for absent in ["subseed", "subseed_strength", "tiling", "steps", "cfg_scale", "sampler_name"] {
        assert!(sent.get(absent).is_none(), "{absent} must not be sent: {sent}");
    }
    let basic = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    assert_eq!(fake.requests_to(TXT2IMG)[0].authorization.as_deref(), Some(basic.as_str()));
}

#[tokio::test]
async fn imagine_sends_the_configured_sampling_options_and_tiling_and_reads_a_batch_without_a_grid() {
    let fake = fake(|k| k.return_grid = false).await;
    let b = backend(&config(&fake, |c| {
        c.set("steps", 28);
        c.set("cfg_scale", 5.5);
        c.set("sampler", "DPM++ 2M");
        c.set("image_size", 1024);
    }));
    let mut s = spec("seamless moss texture");
    s.params.tile = true;
    s.params.aspect = Some(Aspect { w: 2, h: 3 });

    let out = output(&b, job(Operation::Imagine, s, 77)).await;

    assert_eq!(
        out.images.iter().map(|i| i.seed).collect::<Vec<_>>(),
        [Some(77), Some(78), Some(79), Some(80)]
    );
    assert_eq!(dims(&out.images[0].bytes), (680, 1024));
    let sent = body(&fake, TXT2IMG, 0);
    assert_eq!((sent["steps"].as_i64(), sent["cfg_scale"].as_f64()), (Some(28), Some(5.5)));
    assert_eq!(sent["sampler_name"], "DPM++ 2M");
    assert_eq!(sent["tiling"], true);
    assert!(sent.get("negative_prompt").is_none() && sent.get("override_settings").is_none(), "{sent}");
}

#[tokio::test]
async fn imagine_reports_rising_progress_and_live_previews_while_the_server_works() {
    let fake = fake(|k| {
        k.hold = true;
        k.ticks = 3;
    })
    .await;
    let b = Arc::new(backend(&config(&fake, |_| {})));
    let (sink, mut rx) = ProgressSink::new();
    let running = tokio::spawn({
        let b = b.clone();
        async move { b.run(imagine("a fox in the snow"), sink).await }
    });

    // Walk the server through its steps; each step's preview must reach the sink while the
    // call is still in flight.
    let mut seen = Vec::new();
    for step in 1..=3 {
        fake.release(1);
        let expected = Bytes::from(preview_png(step));
        watch_for(&mut rx, &mut seen, |_, preview| preview == Some(&expected)).await;
        assert!(!running.is_finished(), "the preview of step {step} came while the call ran");
    }
    fake.release(1);
    let out = tokio::time::timeout(WAIT, running).await.expect("the job ends").expect("no panic");
    assert_eq!(out.expect("the job succeeds").images.len(), 4);

    let percents: Vec<u8> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(percents[0], 0, "a job starts at 0 %");
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "progress never falls: {percents:?}");
    assert!(percents.iter().all(|p| *p < 100), "100 % is the engine's to say: {percents:?}");
    let distinct: BTreeSet<u8> = percents.iter().copied().filter(|p| *p > 0).collect();
    assert!(distinct.len() >= 3, "progress rises step by step: {percents:?}");
    let previews = seen.iter().filter_map(|(_, p)| p.as_ref()).collect::<Vec<_>>();
    assert_eq!(previews.len(), 3, "each new preview once");
    assert!(fake.requests().iter().any(|r| r.path == "/sdapi/v1/progress"));
}

#[tokio::test]
async fn two_jobs_reach_the_server_one_at_a_time_and_only_the_running_one_reports_progress() {
    let fake = fake(|k| {
        k.hold = true;
        k.ticks = 1;
    })
    .await;
    let b = Arc::new(backend(&config(&fake, |_| {})));
    let start = |seed: u32| {
        let (sink, rx) = ProgressSink::new();
        let b = b.clone();
        let handle =
            tokio::spawn(async move { b.run(job(Operation::Imagine, spec("a bird"), seed), sink).await });
        (handle, rx)
    };
    let (a, mut a_rx) = start(1000);
    let (b2, mut b_rx) = start(2000);

    fake.wait_until(WAIT, |f| f.active().0 == 1).await;
    let first_seed = body(&fake, TXT2IMG, 0)["seed"].as_i64();
    let (first_rx, second_rx) =
        if first_seed == Some(1000) { (&mut a_rx, &mut b_rx) } else { (&mut b_rx, &mut a_rx) };
    let mut seen = Vec::new();
    watch_for(first_rx, &mut seen, |p, _| p > 0).await;
    // The other job's request has not been sent, and it has reported nothing of the first.
    assert_eq!(fake.requests_to(TXT2IMG).len(), 1);
    let mut waiting = Vec::new();
    while let Ok(ProgressUpdate::Percent { percent, .. }) = second_rx.try_recv() {
        waiting.push(percent);
    }
    assert_eq!(waiting, [0], "a job waiting its turn shows no progress");

    fake.release(2);
    fake.wait_until(WAIT, |f| f.requests_to(TXT2IMG).len() == 2 && f.active().0 == 1).await;
    fake.release(2);
    let a =
        tokio::time::timeout(WAIT, a).await.expect("job a ends").expect("no panic").expect("job a succeeds");
    let b2 =
        tokio::time::timeout(WAIT, b2).await.expect("job b ends").expect("no panic").expect("job b succeeds");
    assert_eq!(fake.active(), (0, 1), "the server never ran two jobs at once");
    assert_eq!(a.images[0].seed, Some(1000));
    assert_eq!(b2.images[0].seed, Some(2000));
}

// --- variation ---

#[tokio::test]
async fn subseed_variations_use_the_images_own_seed_and_the_strength() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let parent = output(&b, job(Operation::Imagine, wide("a castle"), 1000)).await;

    for (n, (strength, weight)) in
        [(Strength::Subtle, 0.15), (Strength::Strong, 0.35)].into_iter().enumerate()
    {
        let op = Operation::Variation {
            index: 2,
            strength,
            source: source(&parent, 2),
            parent: child_of(&parent),
        };
        let out = output(&b, job(op, wide("a castle"), 5000)).await;

        let sent = body(&fake, TXT2IMG, 1 + n);
        assert_eq!((sent["seed"].as_i64(), sent["subseed"].as_i64()), (Some(1002), Some(5000)));
        assert_eq!(sent["subseed_strength"].as_f64(), Some(weight));
        assert_eq!(
            (sent["width"].as_i64(), sent["height"].as_i64(), sent["batch_size"].as_i64()),
            (Some(512), Some(288), Some(4))
        );
        assert_eq!(sent["prompt"], "a castle");
        assert_eq!(out.images.len(), 4);
        let distinct: BTreeSet<&[u8]> = out.images.iter().map(|i| &i.bytes[..]).collect();
        assert_eq!(distinct.len(), 4);
        assert!(out.images.iter().all(|i| i.seed.is_none()), "no single seed reproduces a variation");
        assert_eq!(
            out.remote_state,
            Some(
                json!({"made_by": "subseed", "width": 512, "height": 288, "all_seeds": [1002, 1002, 1002, 1002],
                        "all_subseeds": [5000, 5001, 5002, 5003], "subseed_strength": weight})
            )
        );
    }
    assert!(fake.requests_to(IMG2IMG).is_empty());
}

#[tokio::test]
async fn without_the_parents_state_the_seed_is_the_parent_seed_plus_the_index() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let image = SourceImage { bytes: png(768, 510, 1).into(), mime: "image/png", width: 768, height: 510 };
    let parent = ParentRef { remote_id: None, remote_state: None, seed: Some(42) };
    let op = Operation::Variation { index: 3, strength: Strength::Subtle, source: image, parent };

    output(&b, job(op, spec("a bridge"), 9)).await;

    let sent = body(&fake, TXT2IMG, 0);
    assert_eq!((sent["seed"].as_i64(), sent["subseed"].as_i64()), (Some(45), Some(9)));
    // The stored image's size, rounded to multiples of 8.
    assert_eq!((sent["width"].as_i64(), sent["height"].as_i64()), (Some(768), Some(512)));
}

#[tokio::test]
async fn a_variation_of_a_variation_goes_through_img2img() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let parent = output(&b, job(Operation::Imagine, spec("a ship"), 1000)).await;
    let op = Operation::Variation {
        index: 0,
        strength: Strength::Subtle,
        source: source(&parent, 0),
        parent: child_of(&parent),
    };
    let varied = output(&b, job(op, spec("a ship"), 5000)).await;

    let op = Operation::Variation {
        index: 1,
        strength: Strength::Subtle,
        source: source(&varied, 1),
        parent: child_of(&varied),
    };
    output(&b, job(op, spec("a ship"), 6000)).await;

    assert_eq!(fake.requests_to(TXT2IMG).len(), 2);
    let sent = body(&fake, IMG2IMG, 0);
    assert_eq!(sent["init_images"], json!([STANDARD.encode(&varied.images[1].bytes)]));
}

#[tokio::test]
async fn img2img_variations_send_the_chosen_image_at_the_strengths_denoising() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |c| c.set("variation_mode", "img2img")));
    let parent = output(&b, job(Operation::Imagine, wide("a harbour"), 1000)).await;

    for (n, (strength, denoise)) in
        [(Strength::Subtle, 0.35), (Strength::Strong, 0.6)].into_iter().enumerate()
    {
        let op = Operation::Variation {
            index: 1,
            strength,
            source: source(&parent, 1),
            parent: child_of(&parent),
        };
        let out = output(&b, job(op, wide("a harbour"), 5000 + n as u32)).await;

        let sent = body(&fake, IMG2IMG, n);
        assert_eq!(sent["init_images"], json!([STANDARD.encode(&parent.images[1].bytes)]));
        assert_eq!(sent["denoising_strength"].as_f64(), Some(denoise));
        assert_eq!(sent["seed"].as_i64(), Some(5000 + n as i64));
        assert_eq!(
            (sent["width"].as_i64(), sent["height"].as_i64(), sent["batch_size"].as_i64()),
            (Some(512), Some(288), Some(4))
        );
        assert!(sent.get("subseed_strength").is_none());
        assert_eq!(out.images.len(), 4);
        assert!(out.images.iter().all(|i| i.seed.is_none()));
        assert_eq!(out.remote_state.as_ref().and_then(|s| s["made_by"].as_str()), Some("img2img"));
    }
    assert_eq!(fake.requests_to(TXT2IMG).len(), 1, "only the imagine");
}

// --- upscale ---

#[tokio::test]
async fn upscale_uses_the_configured_upscaler_and_factor() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let parent = output(&b, job(Operation::Imagine, wide("a map"), 1000)).await;
    let op = Operation::Upscale { index: 1, source: source(&parent, 1), parent: child_of(&parent) };

    let out = output(&b, job(op, wide("a map"), 1)).await;

    assert_eq!(out.images.len(), 1);
    assert_eq!(dims(&out.images[0].bytes), (1024, 576));
    assert_eq!(out.images[0].seed, Some(1001));
    let sent = body(&fake, "/sdapi/v1/extra-single-image", 0);
    assert_eq!(sent["upscaler_1"], "R-ESRGAN 4x+");
    assert_eq!((sent["upscaling_resize"].as_f64(), sent["resize_mode"].as_i64()), (Some(2.0), Some(0)));
    assert_eq!(sent["image"], STANDARD.encode(&parent.images[1].bytes));

    let b = backend(&config(&fake, |c| {
        c.set("upscaler", "Lanczos");
        c.set("upscale_factor", 3.0);
    }));
    let op = Operation::Upscale { index: 0, source: source(&parent, 0), parent: child_of(&parent) };
    let out = output(&b, job(op, wide("a map"), 1)).await;
    assert_eq!(dims(&out.images[0].bytes), (1536, 864));
    assert_eq!(body(&fake, "/sdapi/v1/extra-single-image", 1)["upscaler_1"], "Lanczos");
}

#[tokio::test]
async fn an_unknown_upscaler_is_named_with_the_ones_the_server_has() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |c| c.set("upscaler", "SwinIR 4x")));
    let image = SourceImage { bytes: png(64, 64, 3).into(), mime: "image/png", width: 64, height: 64 };
    let op = Operation::Upscale { index: 0, source: image, parent: ParentRef::default() };

    let err = failure(&b, job(op, spec("x"), 1)).await;

    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(err.user_message.contains("upscaler `SwinIR 4x`"), "{}", err.user_message);
    assert!(err.user_message.contains("`R-ESRGAN 4x+`"), "the choices are listed: {}", err.user_message);
}

// --- describe ---

fn describe_job() -> Job {
    let image = SourceImage { bytes: png(64, 64, 5).into(), mime: "image/png", width: 64, height: 64 };
    job(Operation::Describe { image }, PromptSpec::default(), 1)
}

#[tokio::test]
async fn describe_turns_the_clip_caption_into_four_prompts() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));

    let out = output(&b, describe_job()).await;

    assert_eq!(
        out.prompts,
        [
            "a red fox sitting in the snow, Aaron Douglas, trending on artstation, a digital painting, digital art",
            "a red fox sitting in the snow",
            "a red fox sitting in the snow, Aaron Douglas, trending on artstation",
            "a red fox sitting in the snow, a digital painting, digital art",
        ]
    );
    let sent = body(&fake, "/sdapi/v1/interrogate", 0);
    assert_eq!(sent["model"], "clip");
    assert_eq!(sent["image"], STANDARD.encode(png(64, 64, 5)));
}

#[tokio::test]
async fn describe_reads_deepdanbooru_tags_and_names_an_unknown_model() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |c| c.set("interrogate_model", "deepdanbooru")));
    let out = output(&b, describe_job()).await;
    assert_eq!(
        out.prompts,
        [
            "animal, fox, no humans, outdoors, snow, winter",
            "animal",
            "animal, fox, no humans, outdoors",
            "animal, snow, winter",
        ]
    );

    let b = backend(&config(&fake, |c| c.set("interrogate_model", "wd14-vit")));
    let err = failure(&b, describe_job()).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(err.user_message.contains("interrogate model `wd14-vit`"), "{}", err.user_message);
}

#[tokio::test]
async fn an_interrogator_that_failed_midway_is_a_retryable_error() {
    let fake = fake(|k| k.clip_caption = "<error>".into()).await;
    let b = backend(&config(&fake, |_| {}));
    let err = failure(&b, describe_job()).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendError, true));
    // With the caption made before the failure, there is still something to offer.
    fake.set(|k| k.clip_caption = "a fox, snow<error>".into());
    assert_eq!(output(&b, describe_job()).await.prompts, ["a fox, snow", "a fox"]);
}

// --- capabilities and health ---

#[tokio::test]
async fn capabilities_say_what_the_server_offers() {
    let fake = fake(|_| {}).await;
    let caps = backend(&config(&fake, |_| {})).capabilities();
    assert_eq!(
        caps,
        Capabilities {
            imagine: true,
            upscale: true,
            variation: true,
            blend: false,
            describe: true,
            previews: true,
            native_grid: false,
            resumable: false,
            rerun_is_free: true,
            parent_bound: false,
            max_aspect: 4.0,
            outpaint: true,
            inpaint: true,
            upscale_subtle: true,
            upscale_creative: true,
            max_side: 1024,
            max_reference_images: 0,
            params: vec![Param::Aspect, Param::Seed, Param::No, Param::Tile],
        }
    );
    let err =
        failure(&backend(&config(&fake, |_| {})), job(Operation::Blend { images: vec![] }, spec("x"), 1))
            .await;
    assert_eq!(err.code, FailureCode::Unsupported);
}

#[tokio::test]
async fn health_checks_the_api_and_the_credentials() {
    let fake = fake(|_| {}).await;
    assert_eq!(backend(&config(&fake, |_| {})).health().await, Ok(()));
    let wrong = backend(&config(&fake, |c| c.api_key = Secret::new("painter:not-it-at-all")));
    let said = wrong.health().await.expect_err("wrong credentials are unhealthy");
    assert!(said.contains("credentials") && !said.contains("not-it-at-all"), "{said}");
    fake.set(|k| k.api = false);
    let said = backend(&config(&fake, |_| {})).health().await.expect_err("no API is unhealthy");
    assert!(said.contains("--api"), "{said}");
}

// --- failures ---

#[tokio::test]
async fn refused_or_missing_credentials_are_for_the_admin_and_never_show_the_password() {
    let fake = fake(|_| {}).await;
    for key in ["painter:Wrong-Password-99", ""] {
        let b = backend(&config(&fake, |c| c.api_key = Secret::new(key)));
        let err = failure(&b, imagine("x")).await;
        assert_eq!((err.code, err.retryable), (FailureCode::CredentialsRejected, false), "key {key:?}");
        assert!(
            err.user_message.contains("`studio`") && err.user_message.contains("api_key"),
            "{}",
            err.user_message
        );
        assert!(!err.detail.contains("Wrong-Password-99") || key.is_empty(), "{err:?}");
    }
}

#[tokio::test]
async fn a_server_without_api_is_named_as_such() {
    let fake = fake(|k| k.api = false).await;
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(err.user_message.contains("not started with --api"), "{}", err.user_message);
}

#[tokio::test]
async fn unknown_checkpoints_and_samplers_are_named() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |c| c.model = Some("nonexistent_v2".into())));
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(err.user_message.contains("checkpoint `nonexistent_v2`"), "{}", err.user_message);

    let b = backend(&config(&fake, |c| c.set("sampler", "Euler Z")));
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(err.user_message.contains("sampler `Euler Z`"), "{}", err.user_message);
}

#[tokio::test]
async fn validation_errors_are_rejections_with_the_servers_detail() {
    let detail = json!({"detail": [{"loc": ["body", "width"], "msg": "ensure this value is less than or equal to 2048",
                                    "type": "value_error.number.not_le"}]});
    let fake = fake(|k| k.fault = Some(Fault::Status { status: 422, body: detail.to_string() })).await;
    let err = failure(&backend(&config(&fake, |_| {})), imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendRejected, false));
    assert!(
        err.user_message.contains("width: ensure this value is less than or equal to 2048"),
        "{}",
        err.user_message
    );
}

#[tokio::test]
async fn server_errors_are_retryable_and_out_of_memory_says_so() {
    let fake = fake(|k| k.fault = Some(Fault::OutOfMemory)).await;
    let b = backend(&config(&fake, |_| {}));
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendError, true));
    assert!(err.user_message.contains("out of memory"), "{}", err.user_message);

    // Forge answers unhandled exceptions with a bare text 500.
    fake.set(|k| k.fault = Some(Fault::Status { status: 500, body: "Internal Server Error".into() }));
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendError, true));

    // A proxy (or a careless extension) that echoes the credentials in its error.
    let echoed = json!({"error": "RuntimeError", "detail": "", "errors": format!("bad auth {USER}:{PASSWORD} / {PASSWORD}")});
    fake.set(|k| k.fault = Some(Fault::Status { status: 500, body: echoed.to_string() }));
    let err = failure(&b, imagine("x")).await;
    assert!(err.detail.contains("[redacted]"), "{err:?}");
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retryable() {
    let fake = fake(|k| k.fault = Some(Fault::Slow(Duration::from_secs(5)))).await;
    let b = backend(&config(&fake, |c| c.timeout_secs = 1));
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendTimeout, true));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed = format!("http://{}", listener.local_addr().expect("its address"));
    drop(listener);
    let b = backend(&config(&fake, |c| c.base_url = closed));
    let err = failure(&b, imagine("x")).await;
    assert_eq!((err.code, err.retryable), (FailureCode::BackendUnavailable, true));
}

#[tokio::test]
async fn unusable_answers_are_classified_by_what_is_wrong() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    for (fault, code) in [
        // Cut off mid-JSON: worth another try.
        (Fault::MalformedJson, (FailureCode::BackendMalformed, true)),
        // Well-formed JSON whose image field is not base64: another dialect, final.
        (Fault::BadBase64, (FailureCode::BackendBadResponse, false)),
        // An HTML page where an image belongs.
        (Fault::NotAnImage, (FailureCode::WrongContentType, true)),
    ] {
        fake.set(|k| k.fault = Some(fault.clone()));
        let err = failure(&b, imagine("x")).await;
        assert_eq!((err.code, err.retryable), code, "{fault:?}: {err:?}");
    }
    fake.set(|k| k.fault = Some(Fault::MalformedJson));
    let err = failure(&b, describe_job()).await;
    assert_eq!(err.code, FailureCode::BackendMalformed);
}
