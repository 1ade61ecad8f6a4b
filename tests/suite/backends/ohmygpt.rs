//! The `ohmygpt` backend adapter driven through the `Backend` trait over real HTTP against a
//! fake of ohmygpt's Midjourney Open API: what each operation sends (JSON or form), how a
//! task is followed (polls, webhook wake-ups, re-attaching after a restart), what comes
//! back, and how every failure is classified — with the key kept out of every error.

use super::mj_proxy::{WAIT, dims, pixel, png_source, run, run_watched, serve};
use crate::support;

use easel::backends::http_util::Mailbox;
use easel::backends::ohmygpt::OhMyGptBackend;
use easel::backends::{Backend, BackendError, Job, JobOutput, Operation, ParentRef};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Aspect, Param, PromptSpec, Speed};
use serde_json::{Value, json};
use support::fake_mj_proxy::COLOURS;
use support::fake_ohmygpt::{CDN_502, FakeOhMyGpt, Knobs};
use tokio::sync::watch;

const KEY: &str = "sk-omg-7Hq2Lw0pVb7yXn4cZq81mDk2";

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeOhMyGpt {
    let mut knobs = Knobs { api_key: Some(KEY.into()), ..Knobs::default() };
    tweak(&mut knobs);
    FakeOhMyGpt::start(knobs).await
}

fn config(fake: &FakeOhMyGpt) -> BackendConfig {
    let mut cfg = BackendConfig::new("omg", "ohmygpt");
    cfg.image_hosts = vec![fake.cdn_host()];
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(KEY);
    cfg.timeout_secs = 5;
    cfg.set("poll_ms", 10);
    cfg
}

fn backend(cfg: &BackendConfig) -> OhMyGptBackend {
    OhMyGptBackend::from_config(cfg, &Mailbox::new()).expect("a valid backend config")
}

fn spec(text: &str) -> PromptSpec {
    PromptSpec { text: text.into(), ..PromptSpec::default() }
}

fn job(op: Operation, spec: PromptSpec) -> Job {
    Job { task_id: 7, op, spec, seed: 1000, resume: None }
}

fn imagine(text: &str) -> Job {
    job(Operation::Imagine, spec(text))
}

fn parent_of(id: &str, output: &JobOutput) -> ParentRef {
    ParentRef { remote_id: Some(id.into()), remote_state: output.remote_state.clone(), seed: None }
}

fn custom_ids(state: &Value) -> Vec<String> {
    let actions = state["actions"].as_array().cloned().unwrap_or_default();
    actions.iter().filter_map(|a| a["customId"].as_str().map(String::from)).collect()
}

fn assert_no_key(e: &BackendError) {
    assert!(!e.user_message.contains(KEY) && !e.detail.contains(KEY), "key leaked: {e:?}");
}

/// An imagine run to completion: its task id and output, for U and V tests.
async fn grid_task(b: &OhMyGptBackend) -> (String, JobOutput) {
    let ran = run(b, imagine("a red fox")).await;
    let id = ran.accepted.first().cloned().expect("accepted");
    (id, ran.output())
}

#[tokio::test]
async fn imagine_end_to_end_in_json() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let mut s = spec("a red fox");
    s.params.aspect = Some(Aspect { w: 3, h: 2 });
    s.params.no = vec!["trees".into()];
    s.image_urls = vec!["https://cdn.example/ref.png".into()];
    let ran = run(&b, job(Operation::Imagine, s)).await;

    let sent = fake.requests_to("imagine");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].format, "json");
    assert_eq!(
        sent[0].body,
        json!({"model": "midjourney", "prompt": "https://cdn.example/ref.png a red fox --ar 3:2 --no trees", "type": "FAST"}),
        "the prompt verbatim, no webhook without notify_hook"
    );
    let bearer = format!("Bearer {KEY}");
    assert!(fake.requests_to("").iter().all(|r| r.auth.as_deref() == Some(bearer.as_str())));
    let query = &fake.requests_to("query")[0].body;
    assert_eq!((&query["taskId"], &query["model"]), (&json!("3432"), &json!("midjourney")));

    assert!(ran.accepted_first, "the id is stored before anything else is reported");
    assert_eq!(ran.accepted, ["3432"]);
    assert_eq!(ran.percents.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 10, 37, 80]);
    assert_eq!(dims(&ran.previews[0]), (32, 32), "the in-progress image is the preview");

    let out = ran.output();
    assert_eq!(out.images.len(), 1, "one native grid, which the engine crops");
    assert_eq!(dims(&out.images[0].bytes), (128, 128));
    assert_eq!(pixel(&out.images[0].bytes, 100, 100), COLOURS[3]);
    let state = out.remote_state.expect("remote state");
    assert_eq!((&state["task_id"], &state["action"]), (&json!("3432"), &json!("IMAGINE")));
    assert_eq!(custom_ids(&state).len(), 9, "U1–U4, 🔄, V1–V4 kept for the buttons");

    let caps = b.capabilities();
    assert!(caps.imagine && caps.upscale && caps.variation && caps.blend && caps.describe);
    assert!(caps.native_grid && caps.resumable && caps.parent_bound && !caps.rerun_is_free);
    assert_eq!(caps.params, Param::ALL.to_vec());
}

#[tokio::test]
async fn form_bodies_and_the_normal_pool_are_a_config_switch() {
    let fake = fake(|k| k.form_only = true).await;
    let mut cfg = config(&fake);
    let e = run(&backend(&cfg), imagine("a fox")).await.error();
    assert_eq!(e.user_message, "OhMyGPT refused the request: model must be midjourney");

    cfg.set("body_format", "form");
    cfg.set("mode", "normal");
    let b = backend(&cfg);
    assert_eq!(run(&b, imagine("a fox")).await.output().images.len(), 1);
    let sent = fake.requests_to("imagine").pop().expect("sent");
    assert_eq!(sent.format, "form");
    assert_eq!((sent.body["prompt"].as_str(), sent.body["type"].as_str()), (Some("a fox"), Some("NORMAL")));
    // Arrays travel as JSON text inside the form.
    let op = Operation::Blend { images: vec![png_source(8, 8), png_source(16, 16)] };
    run(&b, job(op, spec(""))).await.output();
    let blend = fake.requests_to("blend").pop().expect("sent");
    assert_eq!((blend.format, blend.body["base64Array"].as_array().map(Vec::len)), ("form", Some(2)));
}

#[tokio::test]
async fn the_prompt_speed_picks_the_pool() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake).with("mode", "normal"));
    let pools = [(None, "NORMAL"), (Some(Speed::Fast), "FAST"), (Some(Speed::Turbo), "FAST")];
    for (speed, pool) in pools {
        let mut s = spec("a fox");
        s.params.speed = speed;
        run(&b, job(Operation::Imagine, s)).await.output();
        assert_eq!(fake.requests_to("imagine").pop().expect("sent").body["type"], pool, "{speed:?}");
    }
    let b = backend(&config(&fake));
    let mut s = spec("a fox");
    s.params.speed = Some(Speed::Relax);
    run(&b, job(Operation::Imagine, s)).await.output();
    let sent = fake.requests_to("imagine").pop().expect("sent").body;
    assert_eq!(sent["type"], "NORMAL", "--relax is ohmygpt's NORMAL pool");
    assert_eq!(sent["prompt"], "a fox --relax", "the flag stays in the prompt, verbatim");
}

#[tokio::test]
async fn resume_follows_the_task_without_submitting_and_a_lost_one_fails_clearly() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let id = fake.add_finished("a fox");
    let mut j = imagine("a fox");
    j.resume = Some(id.to_string());
    let ran = run(&b, j).await;
    assert!(ran.accepted.is_empty(), "nothing new was accepted");
    assert_eq!(ran.output().images.len(), 1);
    assert!(fake.requests_to("imagine").is_empty());

    let mut j = imagine("a fox");
    j.resume = Some("999".into());
    let e = run(&b, j).await.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(e.user_message.contains("lost track"), "{e:?}");
}

#[tokio::test]
async fn u_and_v_press_the_parent_actions() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let (id, grid) = grid_task(&b).await;
    let up = |index, parent| Operation::Upscale { index, source: png_source(8, 8), parent };
    let vary =
        |strength, parent| Operation::Variation { index: 3, strength, source: png_source(8, 8), parent };

    let u2 = run(&b, job(up(1, parent_of(&id, &grid)), spec("x"))).await;
    let u2_id = u2.accepted[0].clone();
    let u2 = u2.output();
    assert_eq!(dims(&u2.images[0].bytes), (64, 64));
    assert_eq!(pixel(&u2.images[0].bytes, 5, 5), COLOURS[1], "U2 is the second image");
    let v4 = run(&b, job(vary(Strength::Strong, parent_of(&id, &grid)), spec("x"))).await.output();
    assert_eq!(dims(&v4.images[0].bytes), (128, 128), "a variation is a grid");
    for strength in [Strength::Subtle, Strength::Strong] {
        run(&b, job(vary(strength, parent_of(&u2_id, &u2)), spec("x"))).await.output();
    }
    let pressed: Vec<(String, String)> = fake
        .requests_to("action")
        .iter()
        .map(|r| {
            (r.body["taskId"].as_str().unwrap_or("").into(), r.body["customId"].as_str().unwrap_or("").into())
        })
        .collect();
    let verbs: Vec<(&str, &str)> =
        pressed.iter().map(|(t, c)| (t.as_str(), c.split("::").nth(2).unwrap_or(""))).collect();
    assert_eq!(
        verbs,
        [
            (id.as_str(), "upsample"),
            (id.as_str(), "variation"),
            (u2_id.as_str(), "low_variation"),
            (u2_id.as_str(), "high_variation")
        ]
    );
    assert!(
        pressed[0].1.starts_with("MJ::JOB::upsample::2::")
            && pressed[1].1.starts_with("MJ::JOB::variation::4::")
    );

    // A parent from elsewhere, or one stored without actions: refused before any call.
    let e = run(&b, job(up(0, ParentRef::default()), spec("x"))).await.error();
    assert_eq!(e.code, FailureCode::Unsupported);
    let bare =
        ParentRef { remote_id: Some(id.clone()), remote_state: Some(json!({"task_id": id})), seed: None };
    let e = run(&b, job(up(0, bare), spec("x"))).await.error();
    assert_eq!(e.code, FailureCode::Unsupported);
    assert!(e.user_message.contains("has no U1 for this image"), "{}", e.user_message);
    assert_eq!(fake.requests_to("action").len(), 4);
}

#[tokio::test]
async fn blend_and_describe() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    for (ar, want, size) in [(Some((2, 3)), "PORTRAIT", (96, 144)), (None, "SQUARE", (128, 128))] {
        let mut s = spec("");
        s.params.aspect = ar.map(|(w, h)| Aspect { w, h });
        let op = Operation::Blend { images: vec![png_source(8, 8), png_source(16, 16)] };
        assert_eq!(dims(&run(&b, job(op, s)).await.output().images[0].bytes), size);
        let body = fake.requests_to("blend").pop().expect("sent").body;
        assert_eq!(body["dimensions"], want);
        assert!(body["base64Array"][0].as_str().is_some_and(|u| u.starts_with("data:image/png;base64,")));
    }
    let op = Operation::Blend { images: vec![png_source(8, 8)] };
    assert_eq!(run(&b, job(op, spec(""))).await.error().code, FailureCode::BackendRejected);
    assert_eq!(fake.requests_to("blend").len(), 2, "one image is refused before any call");

    let out = run(&b, job(Operation::Describe { image: png_source(8, 8) }, spec(""))).await.output();
    assert_eq!(out.prompts.len(), 4);
    assert_eq!(out.prompts[0], "a red fox in fresh snow, soft morning light --ar 4:3");
    let body = fake.requests_to("describe")[0].body.clone();
    assert!(body["base64"].as_str().is_some_and(|u| u.starts_with("data:image/png;base64,")));
}

#[tokio::test]
async fn the_object_storage_copy_is_preferred() {
    let fake = fake(|k| k.s3_copies = true).await;
    let ran = run(&backend(&config(&fake)), imagine("a fox")).await;
    assert_eq!(dims(&ran.output().images[0].bytes), (128, 128));
    let downloads = fake.downloads();
    let last = downloads.last().expect("downloaded");
    assert_eq!(last.path, "/fake-s3/3432.png", "not the Discord link");
    assert!(downloads.iter().all(|d| d.auth.is_none()), "the key stays with the API: {downloads:?}");
}

#[tokio::test]
async fn webhooks_wake_the_job_and_only_with_their_secret() {
    let fake = fake(|k| k.advance_on_query = false).await;
    let hooks = Mailbox::with_secret("hook-secret-1");
    let public = serve(hooks.router()).await;
    let mut cfg = config(&fake);
    // Polls a minute apart: whatever happens within the test came through the webhook.
    cfg.set("poll_ms", 60_000);
    cfg.set("notify_hook", public.clone());
    let b = OhMyGptBackend::from_config(&cfg, &hooks).expect("config");
    let (tx, mut live) = watch::channel(Vec::new());
    let running = tokio::spawn(async move { run_watched(&b, imagine("a fox"), tx).await });
    fake.wait_for(|r| r.iter().any(|r| r.path.ends_with("/query"))).await;
    for percent in [None, Some(10), Some(37), Some(80), None] {
        fake.tick().await;
        if let Some(percent) = percent {
            let seen = tokio::time::timeout(WAIT, live.wait_for(|p| p.contains(&percent))).await;
            assert!(seen.is_ok_and(|r| r.is_ok()), "{percent}% was reported");
        }
    }
    let ran = running.await.expect("the run");
    assert_eq!(ran.output().images.len(), 1);
    let body = &fake.requests_to("imagine")[0].body;
    assert_eq!(body["webhook"], format!("{public}/hooks/ohmygpt/hook-secret-1?backend=omg&task=7"));
    assert!(fake.delivered().iter().all(|d| d.2 == 200), "{:?}", fake.delivered());
    let queries = fake.requests_to("query").len();
    assert!(queries <= 1 + fake.delivered().len(), "no timed polls: {queries} queries");

    let http = reqwest::Client::new();
    let post = |url: String| {
        let http = http.clone();
        async move {
            http.post(url).json(&json!({"status": "SUCCESS"})).send().await.expect("post").status().as_u16()
        }
    };
    assert_eq!(post(format!("{public}/hooks/ohmygpt/wrong?backend=omg&task=7")).await, 401);
    assert_eq!(post(format!("{public}/hooks/ohmygpt/hook-secret-1?backend=omg&task=8")).await, 200);
}

#[tokio::test]
async fn balance_keys_and_refusals_are_classified() {
    for errors_as_http_200 in [false, true] {
        let fake = fake(|k| {
            k.out_of_balance = true;
            k.errors_as_http_200 = errors_as_http_200;
        })
        .await;
        let ran = run(&backend(&config(&fake)), imagine("a fox")).await;
        assert!(ran.accepted.is_empty());
        let e = ran.error();
        assert_eq!(
            (e.code, e.retryable),
            (FailureCode::RateLimited, false),
            "HTTP 200: {errors_as_http_200}"
        );
        assert!(e.user_message.contains("balance") && e.user_message.contains("backend `omg`"), "{e:?}");

        fake.set(|k| k.out_of_balance = false);
        let mut cfg = config(&fake);
        cfg.api_key = Secret::new("sk-wrong-0000000000000");
        let e = run(&backend(&cfg), imagine("a fox")).await.error();
        assert_eq!((e.code, e.retryable), (FailureCode::CredentialsRejected, false));
        assert!(e.user_message.contains("api_key of backend `omg`"), "{}", e.user_message);
    }
    let fake = fake(|k| k.errors_as_http_200 = true).await;
    let e = run(&backend(&config(&fake)), imagine("   ")).await.error();
    assert_eq!(
        (e.code, e.user_message.as_str()),
        (FailureCode::BackendRejected, "OhMyGPT refused the request: prompt should not be empty")
    );
}

#[tokio::test]
async fn failed_tasks_say_why() {
    let fake = fake(|k| k.fail_reason = Some("Invalid parameter: --zoom".into())).await;
    let b = backend(&config(&fake));
    let ran = run(&b, imagine("a fox")).await;
    assert_eq!(ran.accepted.len(), 1, "the id was stored before the failure");
    let e = ran.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert_eq!(e.user_message, "Midjourney could not finish this task: Invalid parameter: --zoom");
    fake.set(|k| k.fail_reason = Some("Banned prompt detected".into()));
    assert_eq!(run(&b, imagine("a fox")).await.error().code, FailureCode::ContentBlocked);
}

#[tokio::test]
async fn an_html_502_from_the_cdn_front_is_retried_not_a_crash() {
    let fake = fake(|k| k.fault = Some(("/api/".into(), 502, "text/html", format!("{CDN_502} {KEY}")))).await;
    let b = backend(&config(&fake));
    let e = run(&b, imagine("a fox")).await.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
    assert_eq!(e.user_message, "OhMyGPT had a temporary problem (HTTP 502).");
    assert_no_key(&e);

    // While following a task, passing ones are absorbed.
    fake.set(|k| {
        k.fault = Some(("/api/v1/ai/draw/mj/query".into(), 502, "text/html", CDN_502.into()));
        k.fault_calls = Some(2);
    });
    assert!(run(&b, imagine("a fox")).await.result.is_ok());
}

#[tokio::test]
async fn health_probes_the_key_and_the_service() {
    let fake = fake(|_| {}).await;
    let mut cfg = config(&fake);
    assert_eq!(backend(&cfg).health().await, Ok(()));
    let probe = fake.requests_to("query-mj-tasks");
    assert_eq!(probe[0].query.as_deref(), Some("page=1&pageSize=5"));
    cfg.api_key = Secret::new("wrong");
    let err = backend(&cfg).health().await.expect_err("wrong key");
    assert!(err.contains("rejected Easel's API key"), "{err}");
    fake.set(|k| k.fault = Some(("/api/".into(), 502, "text/html", CDN_502.into())));
    assert!(backend(&config(&fake)).health().await.expect_err("down").contains("HTTP 502"));
    cfg.base_url = "http://127.0.0.1:9".into();
    assert!(backend(&cfg).health().await.expect_err("nothing there").contains("could not be reached"));
    assert!(fake.requests_to("imagine").is_empty());
}

#[test]
fn config_accepts_ohmygpt_keys_and_checks_them() {
    let load = |body: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("easel.toml");
        std::fs::write(&path, format!("[[backends]]\nname = \"omg\"\n{body}")).expect("write");
        easel::config::load_from(Some(&path), Vec::new())
            .and_then(|c| easel::app::check_config(&c).map(|_| c.backends))
            .map_err(|e| e.to_string())
    };
    let ok = load(
        "kind = \"ohmygpt\"\nbase_url = \"https://api.ohmygpt.com\"\nmode = \"normal\"\nbody_format = \"form\"\n\
         poll_ms = 3000\nnotify_hook = \"https://easel.example\"\n",
    )
    .expect("valid");
    assert_eq!(ok[0].kind, "ohmygpt");
    assert_eq!(
        (ok[0].get::<String>("mode").as_deref(), ok[0].get::<String>("body_format").as_deref()),
        (Some("normal"), Some("form"))
    );
    assert!(OhMyGptBackend::from_config(&ok[0], &Mailbox::new()).is_ok());

    let err = load("kind = \"ohmygpt\"\nbase_url = \"https://api.ohmygpt.com\"\nmode = \"turbo\"\n")
        .expect_err("no turbo");
    assert!(err.contains("backends[0].mode") && err.contains("fast, normal"), "{err}");
    let err = load("kind = \"mj-proxy\"\nbase_url = \"http://h/mj\"\nmode = \"fast\"\n")
        .expect_err("not mj-proxy's");
    assert!(err.contains("`mode` is a setting of kind `ohmygpt`"), "{err}");
    let err = load("kind = \"ohmygpt\"\n").expect_err("no base_url");
    assert!(err.contains("base_url"), "{err}");

    let mut cfg = BackendConfig::new("omg", "ohmygpt");
    cfg.base_url = "https://api.ohmygpt.com/api/v1/ai/draw/mj".into();
    let err = OhMyGptBackend::from_config(&cfg, &Mailbox::new()).expect_err("a path in base_url").to_string();
    assert!(
        err.contains("should be the server root") && err.contains("remove `/api/v1/ai/draw/mj`"),
        "{err}"
    );
}
