//! The `mj-proxy` backend adapter driven through the `Backend` trait over real HTTP against a
//! fake midjourney-proxy: what each operation submits, how a task is followed (polls, hooks,
//! previews, re-attaching after a restart), what comes back, and how every failure is
//! classified — with the API secret kept out of every error.

use crate::support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use easel::backends::http_util::Mailbox;
use easel::backends::mj_proxy::MjProxyBackend;
use easel::backends::{
    Backend, BackendError, Job, JobOutput, Operation, ParentRef, ProgressSink, ProgressUpdate, SourceImage,
};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Aspect, Param, PromptSpec, Speed};
use serde_json::{Value, json};
use support::fake_mj_proxy::{COLOURS, FakeMjProxy, Fault, HookMode, Knobs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const KEY: &str = "mjsecret-Zq81mDk2Lw0pVb7yXn4c";
/// Generous: only a hung adapter comes near it.
pub(crate) const WAIT: Duration = Duration::from_secs(8);

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeMjProxy {
    let mut knobs = Knobs { api_secret: Some(KEY.into()), ..Knobs::default() };
    tweak(&mut knobs);
    FakeMjProxy::start(knobs).await
}

fn config(fake: &FakeMjProxy) -> BackendConfig {
    let mut cfg = BackendConfig::new("mj", "mj-proxy");
    cfg.image_hosts = vec![fake.cdn_host()];
    cfg.base_url = fake.base_url.clone();
    cfg.api_key = Secret::new(KEY);
    cfg.timeout_secs = 5;
    cfg.set("poll_ms", 10);
    cfg
}

fn backend(cfg: &BackendConfig) -> MjProxyBackend {
    MjProxyBackend::from_config(cfg, &Mailbox::new()).expect("a valid backend config")
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

pub(crate) fn png_source(w: u32, h: u32) -> SourceImage {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([9, 99, 199]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode");
    SourceImage { bytes: Bytes::from(out.into_inner()), mime: "image/png", width: w, height: h }
}

/// What one run reported and returned (the ohmygpt tests use it too).
pub(crate) struct Ran {
    pub result: Result<JobOutput, BackendError>,
    pub accepted: Vec<String>,
    /// Percentages, with whether a preview came along.
    pub percents: Vec<(u8, bool)>,
    pub previews: Vec<Bytes>,
    /// `accepted` came before any percentage.
    pub accepted_first: bool,
}

impl Ran {
    pub fn output(self) -> JobOutput {
        self.result.expect("the job succeeds")
    }
    pub fn error(self) -> BackendError {
        self.result.expect_err("the job fails")
    }
}

pub(crate) async fn run(backend: &dyn Backend, job: Job) -> Ran {
    run_watched(backend, job, watch::channel(Vec::new()).0).await
}

/// [`run`], publishing the percentages to `live` as they come.
pub(crate) async fn run_watched(backend: &dyn Backend, job: Job, live: watch::Sender<Vec<u8>>) -> Ran {
    let (sink, mut updates) = ProgressSink::new();
    // `accepted` waits for its acknowledgement, as the engine gives it after storing the id.
    let collector = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(update) = updates.recv().await {
            match update {
                ProgressUpdate::Accepted { remote_id, ack } => {
                    events.push(Err(remote_id));
                    let _ = ack.send(());
                }
                ProgressUpdate::Percent { percent, preview } => {
                    live.send_modify(|seen| seen.push(percent));
                    events.push(Ok((percent, preview)));
                }
            }
        }
        events
    });
    let result =
        tokio::time::timeout(WAIT, backend.run(job, sink)).await.expect("the adapter answers in time");
    let events = collector.await.expect("collector");
    let accepted_first = events.first().is_none_or(|e| e.is_err());
    let mut ran =
        Ran { result, accepted: Vec::new(), percents: Vec::new(), previews: Vec::new(), accepted_first };
    for event in events {
        match event {
            Err(id) => ran.accepted.push(id),
            Ok((percent, preview)) => {
                ran.percents.push((percent, preview.is_some()));
                ran.previews.extend(preview);
            }
        }
    }
    ran
}

pub(crate) fn dims(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("an image");
    (img.width(), img.height())
}

pub(crate) fn pixel(bytes: &[u8], x: u32, y: u32) -> [u8; 3] {
    image::load_from_memory(bytes).expect("an image").to_rgb8().get_pixel(x, y).0
}

fn custom_ids(state: &Value) -> Vec<String> {
    state["buttons"]
        .as_array()
        .map(|bs| bs.iter().filter_map(|b| b["customId"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn parent_of(id: &str, output: &JobOutput) -> ParentRef {
    ParentRef { remote_id: Some(id.into()), remote_state: output.remote_state.clone(), seed: None }
}

/// An imagine run to completion: its task id and output, for U and V tests.
async fn grid_task(fake: &FakeMjProxy, b: &MjProxyBackend) -> (String, JobOutput) {
    let ran = run(b, imagine("a red fox")).await;
    let id = ran.accepted.first().cloned().expect("accepted");
    let out = ran.output();
    fake.wait_for(|r| !r.is_empty()).await;
    (id, out)
}

fn assert_no_key(e: &BackendError) {
    assert!(!e.user_message.contains(KEY) && !e.detail.contains(KEY), "key leaked: {e:?}");
}

#[tokio::test]
async fn with_speed_paths_a_speed_flag_submits_to_its_mount() {
    let fake = fake(|k| k.speed_paths = true).await;
    let mut cfg = config(&fake);
    cfg.set("speed_paths", true);
    let b = backend(&cfg);
    let mut fast = spec("a red fox");
    fast.params.speed = Some(Speed::Relax);
    let ran = run(&b, job(Operation::Imagine, fast.clone())).await;
    let id = ran.accepted.first().cloned().expect("accepted");
    let out = ran.output();
    let op = Operation::Upscale { index: 0, source: png_source(8, 8), parent: parent_of(&id, &out) };
    run(&b, job(op, fast)).await.output();
    run(&b, imagine("a grey wolf")).await.output();

    let submits: Vec<String> =
        fake.requests().into_iter().filter(|r| r.path.contains("/submit/")).map(|r| r.path).collect();
    assert_eq!(submits, ["/mj-relax/mj/submit/imagine", "/mj-relax/mj/submit/action", "/mj/submit/imagine"]);
    assert!(fake.requests_to("/mj/task/").len() >= 3, "tasks are fetched at the base mount");
}

#[tokio::test]
async fn speed_paths_needs_a_base_url_ending_in_mj() {
    let fake = fake(|_| {}).await;
    let mut cfg = config(&fake);
    cfg.base_url = fake.base_url.trim_end_matches("/mj").to_string();
    cfg.set("speed_paths", true);
    let e = MjProxyBackend::from_config(&cfg, &Mailbox::new()).expect_err("refused").to_string();
    assert!(e.contains("speed_paths") && e.contains("/mj"), "{e}");
}

#[tokio::test]
async fn imagine_end_to_end() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let mut s = spec("a red fox");
    s.params.aspect = Some(Aspect { w: 3, h: 2 });
    s.params.no = vec!["trees".into()];
    s.image_urls = vec!["https://cdn.example/ref.png".into()];
    let ran = run(&b, job(Operation::Imagine, s)).await;

    let submits = fake.requests_to("/mj/submit/");
    assert_eq!(submits.len(), 1);
    assert_eq!(submits[0].path, "/mj/submit/imagine");
    let body = submits[0].json.clone().expect("a JSON body");
    assert_eq!(body["prompt"], "https://cdn.example/ref.png a red fox --ar 3:2 --no trees");
    assert_eq!(body["state"], "easel-7");
    assert!(body.get("notifyHook").is_none() && body.get("base64Array").is_none(), "{body}");
    assert!(fake.requests_to("/mj/").iter().all(|r| r.secret.as_deref() == Some(KEY)));

    assert!(ran.accepted_first, "the id is stored before anything else is reported");
    assert_eq!(ran.accepted, ["1712000000001"]);
    let percents: Vec<u8> = ran.percents.iter().map(|p| p.0).collect();
    assert_eq!(percents, [0, 10, 37, 80]);
    assert!(!ran.previews.is_empty(), "an in-progress preview is shown");
    assert_eq!(dims(&ran.previews[0]), (32, 32));

    let out = ran.output();
    assert_eq!(out.images.len(), 1, "one native grid");
    let grid = &out.images[0].bytes;
    assert_eq!(dims(grid), (128, 128));
    assert_eq!(pixel(grid, 100, 100), COLOURS[3]);
    let state = out.remote_state.expect("remote state");
    assert_eq!(state["task_id"], "1712000000001");
    assert_eq!(state["action"], "IMAGINE");
    let ids = custom_ids(&state);
    for i in 1..=4 {
        assert!(ids.iter().any(|id| id.starts_with(&format!("MJ::JOB::upsample::{i}::"))), "{ids:?}");
    }
    // The CDN is another origin: the secret stays with the proxy.
    let cdn = fake.requests_to("/fake-cdn/");
    assert!(!cdn.is_empty() && cdn.iter().all(|r| r.secret.is_none()), "{cdn:?}");
}

#[tokio::test]
async fn same_origin_images_carry_the_secret_and_capabilities_are_complete() {
    let fake = fake(|k| k.same_origin_images = true).await;
    let b = backend(&config(&fake));
    run(&b, imagine("cat")).await.output();
    assert!(fake.requests_to("/fake-cdn/").iter().all(|r| r.secret.as_deref() == Some(KEY)));
    let caps = b.capabilities();
    assert!(caps.imagine && caps.upscale && caps.variation && caps.blend && caps.describe);
    assert!(caps.previews && caps.native_grid && caps.resumable && !caps.rerun_is_free);
    assert_eq!(caps.params, Param::ALL.to_vec());
    assert_eq!(b.name(), "mj");
}

#[tokio::test]
async fn a_redirect_to_another_origin_drops_the_secret() {
    let fake = fake(|k| {
        k.same_origin_images = true;
        k.redirect_images = true;
    })
    .await;
    let b = backend(&config(&fake));
    assert_eq!(run(&b, imagine("cat")).await.output().images.len(), 1);
    let images = fake.requests_to("/fake-cdn/");
    let (cdn, own): (Vec<_>, Vec<_>) = images.iter().partition(|r| r.on_cdn);
    assert!(!own.is_empty() && own.iter().all(|r| r.secret.as_deref() == Some(KEY)), "{own:?}");
    assert!(!cdn.is_empty() && cdn.iter().all(|r| r.secret.is_none()), "{cdn:?}");
}

#[tokio::test]
async fn resume_follows_the_task_without_submitting() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let id = fake.add_finished("IMAGINE", "a fox");
    let mut j = imagine("a fox");
    j.resume = Some(id.clone());
    let ran = run(&b, j).await;
    assert!(ran.accepted.is_empty(), "nothing new was accepted");
    assert_eq!(ran.output().images.len(), 1);
    assert!(fake.requests_to("/mj/submit/").is_empty());
    assert_eq!(fake.requests_to("/mj/task/")[0].path, format!("/mj/task/{id}/fetch"));
}

#[tokio::test]
async fn a_task_the_proxy_lost_fails_clearly() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let mut j = imagine("a fox");
    j.resume = Some("999".into());
    let e = run(&b, j).await.error();
    assert_eq!(e.code, FailureCode::BackendRejected);
    assert!(!e.retryable && e.user_message.contains("lost track"), "{e:?}");
}

#[tokio::test]
async fn upscale_presses_the_parent_button() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let (id, out) = grid_task(&fake, &b).await;
    let op = Operation::Upscale { index: 1, source: png_source(8, 8), parent: parent_of(&id, &out) };
    let ran = run(&b, job(op, spec("a red fox"))).await;
    let up = ran.output();
    assert_eq!(dims(&up.images[0].bytes), (64, 64));
    assert_eq!(pixel(&up.images[0].bytes, 5, 5), COLOURS[1], "U2 is the second image");
    let body = fake.requests_to("/mj/submit/action")[0].json.clone().expect("body");
    assert_eq!(body["taskId"], id);
    assert!(body["customId"].as_str().is_some_and(|c| c.starts_with("MJ::JOB::upsample::2::")), "{body}");
    assert!(fake.requests_to("/mj/submit/change").is_empty());
    let state = up.remote_state.expect("state");
    assert!(custom_ids(&state).iter().any(|c| c.starts_with("MJ::JOB::low_variation::")));
}

#[tokio::test]
async fn upscale_falls_back_to_change_without_the_action_endpoint() {
    let fake = fake(|k| k.action_endpoint = false).await;
    let b = backend(&config(&fake));
    let (id, out) = grid_task(&fake, &b).await;
    for round in 0..2 {
        let op = Operation::Upscale { index: 2, source: png_source(8, 8), parent: parent_of(&id, &out) };
        let ran = run(&b, job(op, spec("a red fox"))).await;
        assert_eq!(pixel(&ran.output().images[0].bytes, 1, 1), COLOURS[2], "round {round}");
    }
    // The 404 is remembered: only the first U tried `/submit/action`.
    assert_eq!(fake.requests_to("/mj/submit/action").len(), 1);
    let change = fake.requests_to("/mj/submit/change");
    assert_eq!(change.len(), 2);
    let body = change[0].json.clone().expect("body");
    assert_eq!(
        (body["taskId"].as_str(), body["action"].as_str(), body["index"].as_u64()),
        (Some(id.as_str()), Some("UPSCALE"), Some(3))
    );
}

#[tokio::test]
async fn a_repeated_upscale_follows_the_existing_task() {
    // novicezk without buttons: U goes straight to `/submit/change`; the second U3 is code 21.
    let fake = fake(|k| k.buttons = false).await;
    let b = backend(&config(&fake));
    let (id, out) = grid_task(&fake, &b).await;
    let op = || Operation::Upscale { index: 2, source: png_source(8, 8), parent: parent_of(&id, &out) };
    let first = run(&b, job(op(), spec("x"))).await;
    let first_id = first.accepted.clone();
    first.output();
    let again = run(&b, job(op(), spec("x"))).await;
    assert_eq!(again.accepted, first_id, "the existing upscale's id is stored");
    assert_eq!(pixel(&again.output().images[0].bytes, 1, 1), COLOURS[2]);
    assert!(fake.requests_to("/mj/submit/action").is_empty(), "no buttons, no action");
}

#[tokio::test]
async fn variations_pick_the_button_for_their_strength() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let (id, grid) = grid_task(&fake, &b).await;
    let vary = |strength, parent: ParentRef| Operation::Variation {
        index: 3,
        strength,
        source: png_source(8, 8),
        parent,
    };
    // On a grid, both strengths are Midjourney's V4.
    for strength in [Strength::Strong, Strength::Subtle] {
        let out = run(&b, job(vary(strength, parent_of(&id, &grid)), spec("x"))).await.output();
        assert_eq!(dims(&out.images[0].bytes), (128, 128), "a variation is a grid");
    }
    // On an upscale, Vary (Subtle) and Vary (Strong).
    let op = Operation::Upscale { index: 0, source: png_source(8, 8), parent: parent_of(&id, &grid) };
    let up = run(&b, job(op, spec("x"))).await;
    let up_id = up.accepted[0].clone();
    let up = up.output();
    run(&b, job(vary(Strength::Subtle, parent_of(&up_id, &up)), spec("x"))).await.output();
    run(&b, job(vary(Strength::Strong, parent_of(&up_id, &up)), spec("x"))).await.output();
    let pressed: Vec<String> = fake
        .requests_to("/mj/submit/action")
        .iter()
        .filter_map(|r| r.json.as_ref()?["customId"].as_str().map(String::from))
        .collect();
    let kinds: Vec<&str> = pressed.iter().map(|c| c.split("::").nth(2).unwrap_or("")).collect();
    assert_eq!(kinds, ["variation", "variation", "upsample", "low_variation", "high_variation"]);
    assert!(pressed[0].starts_with("MJ::JOB::variation::4::"), "{pressed:?}");
}

#[tokio::test]
async fn a_parent_from_elsewhere_or_an_upscale_without_buttons_is_unsupported() {
    let fake = fake(|k| k.buttons = false).await;
    let b = backend(&config(&fake));
    let op = Operation::Upscale { index: 0, source: png_source(8, 8), parent: ParentRef::default() };
    assert_eq!(run(&b, job(op, spec("x"))).await.error().code, FailureCode::Unsupported);
    let state = json!({"task_id": "1", "action": "UPSCALE", "buttons": []});
    let parent = ParentRef { remote_id: Some("1".into()), remote_state: Some(state), seed: None };
    let op = Operation::Variation { index: 0, strength: Strength::Subtle, source: png_source(8, 8), parent };
    let e = run(&b, job(op, spec("x"))).await.error();
    assert_eq!(e.code, FailureCode::Unsupported);
    assert!(fake.requests_to("/mj/submit/").is_empty());
}

#[tokio::test]
async fn blend_sends_data_urls_and_the_nearest_dimensions() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let cases = [
        (Some((2, 3)), "PORTRAIT", (96, 144)),
        (None, "SQUARE", (128, 128)),
        (Some((16, 9)), "LANDSCAPE", (144, 96)),
    ];
    for (ar, want, size) in cases {
        let mut s = spec("");
        s.params.aspect = ar.map(|(w, h)| Aspect { w, h });
        let op = Operation::Blend { images: vec![png_source(8, 8), png_source(16, 16)] };
        let out = run(&b, job(op, s)).await.output();
        assert_eq!(dims(&out.images[0].bytes), size);
        let body = fake.requests_to("/mj/submit/blend").last().and_then(|r| r.json.clone()).expect("body");
        assert_eq!(body["dimensions"], want);
        let images = body["base64Array"].as_array().cloned().unwrap_or_default();
        assert_eq!(images.len(), 2);
        let first = images[0].as_str().unwrap_or("");
        let payload = first.strip_prefix("data:image/png;base64,").expect("a PNG data URL");
        assert_eq!(STANDARD.decode(payload).expect("base64"), png_source(8, 8).bytes.to_vec());
    }
    let op = Operation::Blend { images: vec![png_source(8, 8)] };
    assert_eq!(run(&b, job(op, spec(""))).await.error().code, FailureCode::BackendRejected);
    assert_eq!(fake.requests_to("/mj/submit/blend").len(), 3, "one image is refused before submitting");
}

#[tokio::test]
async fn describe_returns_four_prompts() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    let out = run(&b, job(Operation::Describe { image: png_source(8, 8) }, spec(""))).await.output();
    assert_eq!(
        out.prompts,
        [
            "a red fox in fresh snow, soft morning light --ar 4:3",
            "watercolour fox asleep, muted palette --ar 4:3",
            "a fox crossing a frozen river, cinematic --ar 4:3",
            "minimal flat fox illustration --ar 4:3"
        ]
    );
    assert!(out.images.is_empty());
    let body = fake.requests_to("/mj/submit/describe")[0].json.clone().expect("body");
    assert!(body["base64"].as_str().is_some_and(|b| b.starts_with("data:image/png;base64,")));
}

/// Serves a webhook mailbox on its own port; returns its public base URL.
async fn serve_hooks(hooks: &Mailbox) -> String {
    serve(hooks.router()).await
}

/// Serves `router` on its own port; returns its base URL.
pub(crate) async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind hooks");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// An imagine in flight whose task only moves on `tick`, with polls a minute apart:
/// anything that happens within the test's time comes through the hooks.
struct Hooked {
    fake: FakeMjProxy,
    public: String,
    running: JoinHandle<Ran>,
    live: watch::Receiver<Vec<u8>>,
}

impl Hooked {
    async fn start(mode: HookMode) -> Hooked {
        let fake = fake(|k| {
            k.advance_on_fetch = false;
            k.hooks = mode;
        })
        .await;
        let hooks = Mailbox::with_secret("hook-secret-1");
        let public = serve_hooks(&hooks).await;
        let mut cfg = config(&fake);
        cfg.set("poll_ms", 60_000);
        cfg.set("notify_hook", public.clone());
        let b = MjProxyBackend::from_config(&cfg, &hooks).expect("config");
        let (tx, live) = watch::channel(Vec::new());
        let running = tokio::spawn(async move { run_watched(&b, imagine("a fox"), tx).await });
        let mut hooked = Hooked { fake, public, running, live };
        // The first poll (NOT_START, 0%) comes right after the submit and the subscription.
        hooked.reported(0).await;
        hooked
    }

    /// Moves the task one step; with `shown`, waits until the adapter has shown it, so the
    /// next step's delivery cannot overwrite it unseen.
    async fn step(&mut self, shown: Option<u8>) {
        self.fake.tick().await;
        if let Some(percent) = shown {
            self.reported(percent).await;
        }
    }

    /// Waits until the adapter has reported `percent`.
    async fn reported(&mut self, percent: u8) {
        let seen = tokio::time::timeout(WAIT, self.live.wait_for(|p| p.contains(&percent))).await;
        assert!(seen.is_ok_and(|r| r.is_ok()), "{percent}% was reported");
    }

    /// Moves the task on to its end and waits for the run.
    async fn finish(self) -> (FakeMjProxy, Ran, String) {
        for _ in 0..5 {
            self.fake.tick().await;
        }
        let ran = self.running.await.expect("the run");
        (self.fake, ran, self.public)
    }
}

/// A hooked run to the end, waiting after each step for the percentage it should show.
async fn hooked_run(mode: HookMode) -> (FakeMjProxy, Ran, String) {
    let mut h = Hooked::start(mode).await;
    // Reorder holds SUBMITTED and 37% back until the next step.
    let shown: [Option<u8>; 4] = match mode {
        HookMode::Reorder => [None, Some(10), None, Some(80)],
        _ => [None, Some(10), Some(37), Some(80)],
    };
    for percent in shown {
        h.step(percent).await;
    }
    h.finish().await
}

#[tokio::test]
async fn hook_updates_arrive_before_the_next_poll() {
    let (fake, ran, public) = hooked_run(HookMode::Normal).await;
    let body = fake.requests_to("/mj/submit/imagine")[0].json.clone().expect("body");
    assert_eq!(body["notifyHook"], format!("{public}/hooks/mj/hook-secret-1?backend=mj"));
    assert_eq!(fake.requests_to("/mj/task/").len(), 1, "only the first poll happened");
    let percents: Vec<u8> = ran.percents.iter().map(|p| p.0).collect();
    assert_eq!(percents, [0, 10, 37, 80]);
    assert!(ran.percents.iter().any(|p| p.1), "previews came with hook updates");
    assert_eq!(ran.output().images.len(), 1);
    assert!(fake.delivered().iter().all(|d| d.answer == 200));
}

#[tokio::test]
async fn out_of_order_and_duplicate_hooks_are_ignored() {
    for mode in [HookMode::Reorder, HookMode::Duplicate] {
        let (fake, ran, _) = hooked_run(mode).await;
        let percents: Vec<u8> = ran.percents.iter().map(|p| p.0).collect();
        assert!(percents.windows(2).all(|w| w[0] < w[1]), "{mode:?}: {percents:?}");
        assert!(ran.result.is_ok(), "{mode:?}");
        let delivered = fake.delivered();
        assert!(delivered.len() >= 5, "{mode:?}: stale or repeated deliveries were sent: {delivered:?}");
        assert_eq!(fake.requests_to("/mj/task/").len(), 1, "{mode:?}");
    }
}

#[tokio::test]
async fn late_hooks_after_newer_ones_change_nothing() {
    let mut h = Hooked::start(HookMode::Normal).await;
    for percent in [None, Some(10), Some(37), Some(80)] {
        h.step(percent).await;
    }
    let id = h.fake.requests_to("/mj/task/")[0].path.split('/').nth(3).unwrap_or("").to_string();
    // 37% and SUBMITTED again, after 80% was shown; then the end.
    h.fake.redeliver(&id, 3).await;
    h.fake.redeliver(&id, 1).await;
    let (fake, ran, _) = h.finish().await;
    assert!(fake.delivered().iter().all(|d| d.answer == 200));
    let percents: Vec<u8> = ran.percents.iter().map(|p| p.0).collect();
    assert_eq!(percents, [0, 10, 37, 80]);
    assert!(ran.result.is_ok());
}

#[tokio::test]
async fn lost_hooks_fall_back_to_polling() {
    let fake = fake(|k| k.hooks = HookMode::Drop).await;
    let hooks = Mailbox::new();
    let mut cfg = config(&fake);
    cfg.set("notify_hook", serve_hooks(&hooks).await);
    let b = MjProxyBackend::from_config(&cfg, &hooks).expect("config");
    assert_eq!(run(&b, imagine("a fox")).await.output().images.len(), 1);
    assert!(fake.delivered().is_empty());
}

#[tokio::test]
async fn the_hook_receiver_checks_its_secret() {
    let hooks = Mailbox::with_secret("right");
    // Building an mj-proxy backend opens its route in the mailbox.
    let fake = fake(|_| {}).await;
    let _b = MjProxyBackend::from_config(&config(&fake), &hooks).expect("config");
    let base = serve_hooks(&hooks).await;
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let http = http.clone();
        async move { http.post(path).json(&body).send().await.expect("post").status().as_u16() }
    };
    let task = json!({"id": "1", "status": "SUCCESS", "progress": "100%"});
    assert_eq!(post(format!("{base}/hooks/mj/wrong?backend=mj"), task.clone()).await, 401);
    assert_eq!(post(format!("{base}/hooks/mj/right?backend=mj"), task).await, 200, "not awaited: ignored");
    assert_eq!(post(format!("{base}/hooks/mj/right"), json!("junk")).await, 400);
    assert_eq!(
        post(format!("{base}/hooks/nobody/right"), task_json()).await,
        404,
        "no protocol asked for it"
    );
}

fn task_json() -> Value {
    json!({"id": "1", "status": "SUCCESS", "progress": "100%"})
}

/// The registry owns the mailbox, and the operator HTTP server mounts its routes: no process
/// global stands between a delivery and the backend that waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_server_mounts_the_registrys_webhook_routes() {
    let fake = fake(|_| {}).await;
    let mut w = support::world::World::new(support::world::Backend::Demo { step_ms: 0 }, |c| {
        c.http.listen = "127.0.0.1:0".into();
        c.backends = vec![config(&fake).with("notify_hook", "https://easel.example")];
    })
    .await;
    w.start_in_process().await;
    let base = format!("http://{}", w.http.expect("http.listen is set"));
    let http = reqwest::Client::new();
    let status = |path: &str| {
        let request = http.post(format!("{base}{path}")).json(&task_json());
        async move { request.send().await.expect("post").status().as_u16() }
    };
    assert_eq!(status("/hooks/mj/not-the-secret?backend=mj").await, 401, "the mj route is mounted");
    assert_eq!(status("/hooks/openjourney/not-the-secret").await, 404, "no openjourney backend, no route");
}

#[tokio::test]
async fn submit_codes_are_classified() {
    let fake = fake(|k| k.banned_words = vec!["gore".into()]).await;
    let b = backend(&config(&fake));
    let e = run(&b, imagine("so much gore")).await.error();
    assert_eq!((e.code, e.retryable), (FailureCode::ContentBlocked, false));
    assert_eq!(e.user_message, "The service refused the word `gore` in your prompt.");

    let cases = [
        (23, "队列已满，请稍后尝试", FailureCode::RateLimited, true),
        (3, "关联任务不存在或已失效", FailureCode::BackendRejected, false),
        (4, "prompt参数错误", FailureCode::BackendRejected, false),
        (9, "系统异常", FailureCode::BackendError, true),
    ];
    for (code, description, want, retryable) in cases {
        fake.set(|k| k.submit_code = Some((code, description.into(), json!({}))));
        let ran = run(&b, imagine("a fox")).await;
        assert!(ran.accepted.is_empty(), "code {code}: nothing was accepted");
        let e = ran.error();
        assert_eq!((e.code, e.retryable), (want, retryable), "code {code}: {e:?}");
        if code != 23 {
            assert!(e.user_message.contains(description), "code {code}: {}", e.user_message);
        }
    }
}

#[tokio::test]
async fn a_queued_submit_is_accepted_and_followed() {
    let fake = fake(|k| k.queue_ahead = Some(3)).await;
    let b = backend(&config(&fake));
    let ran = run(&b, imagine("a fox")).await;
    assert_eq!(ran.accepted.len(), 1);
    assert_eq!(ran.percents.first().map(|p| p.0), Some(0));
    assert!(ran.result.is_ok());
}

#[tokio::test]
async fn failed_tasks_say_why() {
    let fake = fake(|k| k.fail_reason = Some("Invalid parameter: --zoom".into())).await;
    let b = backend(&config(&fake));
    let ran = run(&b, imagine("a fox")).await;
    assert_eq!(ran.accepted.len(), 1, "the id was stored before the failure");
    let e = ran.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(e.user_message.contains("Invalid parameter: --zoom"), "{}", e.user_message);

    fake.set(|k| k.fail_reason = Some("Banned prompt detected".into()));
    let e = run(&b, imagine("a fox")).await.error();
    assert_eq!(e.code, FailureCode::ContentBlocked);
    assert!(e.user_message.contains("Banned prompt detected"));
}

#[tokio::test]
async fn remix_dialogs_fail_with_advice() {
    let fake = fake(|k| k.remix = true).await;
    let b = backend(&config(&fake));
    let (id, out) = grid_task(&fake, &b).await;
    let op = Operation::Variation {
        index: 0,
        strength: Strength::Strong,
        source: png_source(8, 8),
        parent: parent_of(&id, &out),
    };
    let ran = run(&b, job(op, spec("x"))).await;
    assert_eq!(ran.accepted.len(), 1);
    let e = ran.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(
        e.user_message.contains("remix needs a prompt; an admin needs to turn remix off"),
        "{}",
        e.user_message
    );
}

#[tokio::test]
async fn wrong_credentials_are_for_the_admin() {
    let fake = fake(|k| {
        k.api_secret = Some("another".into());
        k.echo_secret_in_401 = true;
    })
    .await;
    let b = backend(&config(&fake));
    let e = run(&b, imagine("a fox")).await.error();
    assert_eq!((e.code, e.retryable), (FailureCode::CredentialsRejected, false));
    assert!(e.user_message.contains("backend `mj`"), "{}", e.user_message);
    assert_no_key(&e);
}

#[tokio::test]
async fn health_probes_credentials_and_outages() {
    let fake = fake(|_| {}).await;
    let mut cfg = config(&fake);
    assert_eq!(backend(&cfg).health().await, Ok(()));
    let probe = fake.requests_to("/mj/task/");
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].secret.as_deref(), Some(KEY));
    cfg.api_key = Secret::new("wrong");
    let err = backend(&cfg).health().await.expect_err("wrong secret");
    assert!(err.contains("credentials rejected"), "{err}");
    fake.set(|k| k.fault = Some(Fault::new(503, "down")));
    assert_eq!(backend(&config(&fake)).health().await, Err("server error (503 Service Unavailable)".into()));
    cfg.base_url = "http://127.0.0.1:9/mj".into();
    assert_eq!(backend(&cfg).health().await, Err("cannot connect".into()));
    assert!(fake.requests_to("/mj/submit/").is_empty());
}

#[tokio::test]
async fn rate_limits_and_outages_are_retryable() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake));
    fake.set(|k| k.fault = Some(Fault::new(429, "slow down").header("retry-after", "7")));
    let e = run(&b, imagine("a fox")).await.error();
    assert_eq!(
        (e.code, e.retryable, e.retry_after),
        (FailureCode::RateLimited, true, Some(Duration::from_secs(7)))
    );

    fake.set(|k| k.fault = Some(Fault::new(500, &format!("NullPointerException near {KEY}"))));
    let e = run(&b, imagine("a fox")).await.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
    assert_no_key(&e);
}

#[tokio::test]
async fn passing_poll_failures_are_absorbed() {
    let fake = fake(|k| {
        k.fault = Some(Fault::new(502, "bad gateway").on("/mj/task/"));
        k.fault_calls = Some(2);
    })
    .await;
    let b = backend(&config(&fake));
    assert!(run(&b, imagine("a fox")).await.result.is_ok());
}

#[tokio::test]
async fn slow_answers_time_out_retryably() {
    let fake = fake(|k| k.delay = Duration::from_millis(1500)).await;
    let mut cfg = config(&fake);
    cfg.timeout_secs = 1;
    let e = run(&backend(&cfg), imagine("a fox")).await.error();
    assert_eq!((e.code, e.retryable), (FailureCode::BackendTimeout, true));
}

#[test]
fn config_accepts_mj_proxy_keys_and_checks_them() {
    let load = |body: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("easel.toml");
        std::fs::write(&path, body).expect("write");
        easel::config::load_from(Some(&path), Vec::new())
            .and_then(|c| easel::app::check_config(&c).map(|_| c.backends))
            .map_err(|e| e.to_string())
    };
    let ok = load(
        "[[backends]]\nname = \"mj\"\nkind = \"mj-proxy\"\nbase_url = \"http://127.0.0.1:8080/mj\"\n\
         poll_ms = 2000\nnotify_hook = \"https://easel.example\"\n",
    )
    .expect("valid");
    assert_eq!(ok[0].kind, "mj-proxy");
    assert_eq!(
        (ok[0].get::<u64>("poll_ms"), ok[0].get::<String>("notify_hook").as_deref()),
        (Some(2000), Some("https://easel.example"))
    );
    assert!(MjProxyBackend::from_config(&ok[0], &Mailbox::new()).is_ok());

    let err =
        load("[[backends]]\nname = \"mj\"\nkind = \"mj-proxy\"\nbase_url = \"http://h/mj\"\npoll_ms = 5\n")
            .expect_err("poll_ms too small");
    assert!(err.contains("backends[0].poll_ms"), "{err}");
    let err = load(
        "[[backends]]\nname = \"mj\"\nkind = \"mj-proxy\"\nbase_url = \"http://h/mj\"\n\
         notify_hook = \"ftp://x\"\n",
    )
    .expect_err("bad hook URL");
    assert!(err.contains("notify_hook"), "{err}");
    let err =
        load("[[backends]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"http://h/v1\"\npoll_ms = 100\n")
            .expect_err("an mj-proxy key on openai");
    assert!(err.contains("`poll_ms` is a setting of kind `mj-proxy`"), "{err}");
    let err = load("[[backends]]\nname = \"mj\"\nkind = \"mj-proxy\"\n").expect_err("no base_url");
    assert!(err.contains("base_url"), "{err}");
}
