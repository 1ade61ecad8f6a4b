//! The `comfyui` backend adapter driven through the `Backend` trait over real HTTP and a real
//! WebSocket against a fake ComfyUI: what each operation posts and uploads, progress and
//! previews from the socket and the fall back to `/history` without one, re-attaching after a
//! restart, cancelling one prompt and never the server's other work, template checks at
//! start, and how failures are classified — with the proxy key kept out of every error.

use crate::support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use easel::backends::comfyui::ComfyUiBackend;
use easel::backends::{
    Backend, BackendError, Job, JobOutput, Operation, ParentRef, ProgressSink, ProgressUpdate, SourceImage,
};
use easel::base::{FailureCode, Strength};
use easel::config::{BackendConfig, Secret};
use easel::prompt::{Aspect, Param, PromptSpec};
use serde_json::{Value, json};
use support::fake_comfyui::{FakeComfyUi, Fault, Knobs, WsMode, batch_png, preview_png};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[path = "comfyui_edits.rs"]
mod edits;
#[path = "comfyui_refs.rs"]
mod refs;

/// Generous: only a hung adapter comes near it.
const WAIT: Duration = Duration::from_secs(10);
const MODEL: &str = "sd_xl_base_1.0.safetensors";
const KEY: &str = "proxy-key-7f3a9c2e51";

/// `workflows = { imagine = "…", … }` of a comfyui entry.
type Workflows = std::collections::BTreeMap<&'static str, String>;

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeComfyUi {
    let mut knobs = Knobs::default();
    tweak(&mut knobs);
    FakeComfyUi::start(knobs).await
}

fn config(fake: &FakeComfyUi, tweak: impl FnOnce(&mut BackendConfig)) -> BackendConfig {
    let mut cfg = BackendConfig::new("comfy", "comfyui");
    cfg.base_url = fake.base_url.clone();
    cfg.model = Some(MODEL.into());
    cfg.set("image_size", 512);
    cfg.set("poll_ms", 20);
    cfg.timeout_secs = 20;
    tweak(&mut cfg);
    cfg
}

fn backend(cfg: &BackendConfig) -> Arc<ComfyUiBackend> {
    Arc::new(ComfyUiBackend::from_config(cfg).expect("a valid backend config"))
}

fn upscale_workflow() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/comfyui/upscale.json").display().to_string()
}

fn spec(text: &str) -> PromptSpec {
    PromptSpec { text: text.into(), ..PromptSpec::default() }
}

fn job(op: Operation, spec: PromptSpec, seed: u32) -> Job {
    Job { task_id: 7, op, spec, seed, resume: None }
}

fn imagine(seed: u32) -> Job {
    job(Operation::Imagine, spec("a lighthouse at dusk"), seed)
}

#[derive(Debug)]
enum Update {
    Accepted(String),
    Percent(u8, Option<Bytes>),
}

/// A job in flight, its progress drained (and acknowledged) as the engine would.
struct Running {
    task: JoinHandle<Result<JobOutput, BackendError>>,
    ids: mpsc::UnboundedReceiver<String>,
    log: JoinHandle<Vec<Update>>,
}

fn start(backend: &Arc<ComfyUiBackend>, job: Job) -> Running {
    let (sink, mut rx) = ProgressSink::new();
    let (ids_tx, ids) = mpsc::unbounded_channel();
    let log = tokio::spawn(async move {
        let mut log = Vec::new();
        while let Some(update) = rx.recv().await {
            match update {
                ProgressUpdate::Accepted { remote_id, ack } => {
                    let _ = ids_tx.send(remote_id.clone());
                    let _ = ack.send(());
                    log.push(Update::Accepted(remote_id));
                }
                ProgressUpdate::Percent { percent, preview } => log.push(Update::Percent(percent, preview)),
            }
        }
        log
    });
    let backend = backend.clone();
    let task = tokio::spawn(async move { backend.run(job, sink).await });
    Running { task, ids, log }
}

impl Running {
    async fn accepted(&mut self) -> String {
        tokio::time::timeout(WAIT, self.ids.recv()).await.expect("the prompt is accepted").expect("an id")
    }

    async fn finish(self) -> (Result<JobOutput, BackendError>, Vec<Update>) {
        let result =
            tokio::time::timeout(WAIT, self.task).await.expect("the adapter answers").expect("no panic");
        (result, self.log.await.unwrap())
    }
}

async fn run(backend: &Arc<ComfyUiBackend>, job: Job) -> (Result<JobOutput, BackendError>, Vec<Update>) {
    start(backend, job).finish().await
}

async fn output(backend: &Arc<ComfyUiBackend>, job: Job) -> (JobOutput, Vec<Update>) {
    let (result, log) = run(backend, job).await;
    (result.unwrap_or_else(|e| panic!("the job failed: {e:?}")), log)
}

async fn failure(backend: &Arc<ComfyUiBackend>, job: Job) -> BackendError {
    let err = run(backend, job).await.0.expect_err("the job must fail");
    assert!(!err.detail.contains(KEY) && !err.user_message.contains(KEY), "the key leaked: {err:?}");
    err
}

fn previews(log: &[Update]) -> Vec<Bytes> {
    log.iter()
        .filter_map(|u| if let Update::Percent(_, Some(p)) = u { Some(p.clone()) } else { None })
        .collect()
}

fn source(bytes: &[u8]) -> SourceImage {
    let img = image::load_from_memory(bytes).expect("an image");
    SourceImage {
        bytes: Bytes::copy_from_slice(bytes),
        mime: "image/png",
        width: img.width(),
        height: img.height(),
    }
}

fn dims(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("a decodable image");
    (img.width(), img.height())
}

/// The node of `class` in a posted prompt.
fn node(posted: &Value, class: &str) -> Value {
    let nodes = posted["prompt"].as_object().expect("a workflow");
    nodes.values().find(|n| n["class_type"] == class).cloned().unwrap_or_else(|| panic!("no {class} node"))
}

// --- imagine ---

#[tokio::test]
async fn imagine_fills_the_template_and_makes_four_images_in_one_prompt() {
    let fake = fake(|k| k.api_key = Some(KEY.into())).await;
    let b = backend(&config(&fake, |c| c.api_key = Secret::new(KEY)));
    let mut s = spec(r#"a "quoted" lighthouse {at} dusk, \n {{seed}}"#);
    s.params.aspect = Some(Aspect { w: 16, h: 9 });
    s.params.no = vec!["blurry".into(), "text".into()];

    let (out, log) = output(&b, job(Operation::Imagine, s.clone(), 1000)).await;

    assert_eq!(out.images.len(), 4);
    for (i, image) in out.images.iter().enumerate() {
        assert_eq!(image.bytes, batch_png(512, 288, 1000, i), "image {i} of the batch");
        assert_eq!(image.seed, None, "ComfyUI gives the images of a batch no seeds of their own");
    }
    let prompts = fake.prompts();
    assert_eq!(prompts.len(), 1, "one prompt makes the grid");
    let posted = &prompts[0];
    let texts: Vec<Value> = posted["prompt"]
        .as_object()
        .unwrap()
        .values()
        .filter(|n| n["class_type"] == "CLIPTextEncode")
        .map(|n| n["inputs"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!(s.text), json!("blurry, text")], "quotes and braces stay inside the string");
    assert_eq!(
        node(posted, "EmptyLatentImage")["inputs"],
        json!({"width": 512, "height": 288, "batch_size": 4})
    );
    assert_eq!(node(posted, "KSampler")["inputs"]["seed"], json!(1000));
    assert_eq!(node(posted, "CheckpointLoaderSimple")["inputs"]["ckpt_name"], MODEL);
    assert_eq!(
        fake.ws_clients(),
        [posted["client_id"].as_str().unwrap().to_string()],
        "the socket is the prompt's"
    );
    let accepted: Vec<&String> =
        log.iter().filter_map(|u| if let Update::Accepted(id) = u { Some(id) } else { None }).collect();
    let state = out.remote_state.unwrap();
    assert_eq!(
        (state["prompt_id"].as_str(), state["seed"].as_u64()),
        (Some(accepted[0].as_str()), Some(1000))
    );
    assert_eq!(state["images"].as_array().map(Vec::len), Some(4));
    let bearer = format!("Bearer {KEY}");
    assert!(
        fake.requests().iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())),
        "HTTP and /ws carry the key"
    );
}

#[tokio::test]
async fn progress_and_previews_come_over_the_websocket() {
    let fake = fake(|_| {}).await;
    // Rare polls: everything here must come over the socket, however slow the machine.
    let b = backend(&config(&fake, |c| c.set("poll_ms", 5000)));
    let (_, log) = output(&b, imagine(5)).await;

    let accepted_at = log.iter().position(|u| matches!(u, Update::Accepted(_))).unwrap();
    let first_step = log.iter().position(|u| matches!(u, Update::Percent(p, _) if *p > 0)).unwrap();
    assert!(accepted_at < first_step, "the prompt id is stored before progress: {log:?}");
    let percents: Vec<u8> =
        log.iter().filter_map(|u| if let Update::Percent(p, None) = u { Some(*p) } else { None }).collect();
    assert_eq!(percents, [0, 25, 50, 75, 99], "sampler steps of 4; 100 is for the result");
    let expected: Vec<Bytes> = (1..=4).map(|step| Bytes::from(preview_png(step))).collect();
    assert_eq!(previews(&log), expected, "each step's binary preview frame");
}

#[tokio::test]
async fn without_a_websocket_the_result_comes_from_polling_history() {
    let fake = fake(|k| k.ws = WsMode::Refuse).await;
    let b = backend(&config(&fake, |_| {}));
    let (out, log) = output(&b, imagine(9)).await;
    assert_eq!(out.images[3].bytes, batch_png(512, 512, 9, 3));
    assert!(previews(&log).is_empty());
    let history = fake.requests().into_iter().filter(|r| r.path.starts_with("/history/")).count();
    assert!(history >= 1, "the result is read from the history");
}

#[tokio::test]
async fn a_websocket_closed_mid_job_falls_back_to_polling() {
    let fake = fake(|k| k.ws = WsMode::CloseMidJob).await;
    let b = backend(&config(&fake, |_| {}));
    let (out, log) = output(&b, imagine(11)).await;
    assert_eq!(out.images.len(), 4);
    assert_eq!(previews(&log).len(), 1, "only the step before the socket closed");
}

// --- variation and upscale ---

#[tokio::test]
async fn variation_uploads_the_chosen_image_and_runs_img2img() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let (grid, _) = output(&b, imagine(1000)).await;
    let chosen = source(&grid.images[1].bytes);
    let parent = ParentRef { remote_id: None, remote_state: grid.remote_state.clone(), seed: Some(1000) };
    let op = Operation::Variation { index: 1, strength: Strength::Strong, source: chosen.clone(), parent };

    let (out, _) = output(&b, job(op, spec("a lighthouse at dusk"), 2000)).await;

    let uploads = fake.requests_to("/upload/image");
    let (file, kind, sub) = uploads[0].upload.clone().expect("a multipart upload");
    assert!(file.starts_with("easel-7-") && file.ends_with(".png"), "{file}");
    assert_eq!((kind.as_str(), sub.as_str()), ("input", "easel"));
    let posted = &fake.prompts()[1];
    assert_eq!(node(posted, "LoadImage")["inputs"]["image"], format!("easel/{file}"));
    assert_eq!(node(posted, "KSampler")["inputs"]["denoise"], json!(0.6));
    assert_eq!(node(posted, "KSampler")["inputs"]["seed"], json!(2000));
    assert_eq!(node(posted, "RepeatLatentBatch")["inputs"]["amount"], json!(4));
    assert_eq!(out.images.len(), 4);
    for image in &out.images {
        assert_eq!(dims(&image.bytes), (512, 512));
        assert_ne!(image.bytes, chosen.bytes);
    }
    assert_ne!(out.images[0].bytes, out.images[1].bytes);
}

#[tokio::test]
async fn upscale_runs_the_configured_workflow_on_the_uploaded_image() {
    let fake = fake(|_| {}).await;
    let b =
        backend(&config(&fake, |c| c.set("workflows", Workflows::from([("upscale", upscale_workflow())]))));
    assert!(b.capabilities().upscale);
    let input = source(&batch_png(96, 64, 3, 0));
    let op = Operation::Upscale { index: 2, source: input, parent: ParentRef::default() };

    let (out, _) = output(&b, job(op, spec("x"), 1)).await;

    assert_eq!(out.images.len(), 1);
    assert_eq!(dims(&out.images[0].bytes), (192, 128), "the example's 4x model, then halved");
    let file = fake.requests_to("/upload/image")[0].upload.clone().unwrap().0;
    assert_eq!(node(&fake.prompts()[0], "LoadImage")["inputs"]["image"], format!("easel/{file}"));
}

#[tokio::test]
async fn operations_without_a_workflow_are_not_offered() {
    let fake = fake(|_| {}).await;
    let caps = backend(&config(&fake, |_| {})).capabilities();
    assert!(caps.imagine && caps.variation && !caps.upscale && !caps.blend && !caps.describe);
    assert!(caps.resumable && caps.rerun_is_free && caps.previews && !caps.native_grid);
    assert_eq!(caps.params, [Param::Aspect, Param::Seed, Param::No]);
    let b = backend(&config(&fake, |c| c.set("workflows", Workflows::from([("variation", String::new())]))));
    assert!(!b.capabilities().variation);
    let op =
        Operation::Upscale { index: 0, source: source(&batch_png(8, 8, 1, 0)), parent: ParentRef::default() };
    assert_eq!(failure(&b, job(op, spec("x"), 1)).await.code, FailureCode::Unsupported);
    assert!(fake.requests().is_empty(), "nothing reaches the server");
}

// --- restarts ---

#[tokio::test]
async fn a_restarted_easel_reattaches_to_its_prompt_without_posting_again() {
    let fake = fake(|k| k.hold = true).await;
    let b = backend(&config(&fake, |_| {}));
    let mut first = start(&b, imagine(42));
    let id = first.accepted().await;
    fake.wait_until(WAIT, |f| f.running().as_deref() == Some(id.as_str())).await;
    first.task.abort(); // Easel dies mid-job.

    let mut resumed = imagine(42);
    resumed.resume = Some(id.clone());
    let polls = fake.requests_to(&format!("/history/{id}")).len();
    let second = start(&b, resumed);
    fake.wait_until(WAIT, |f| f.requests_to(&format!("/history/{id}")).len() > polls).await;
    fake.release(10);
    let (result, log) = second.finish().await;

    let out = result.expect("the re-attached job finishes");
    assert_eq!(out.images[0].bytes, batch_png(512, 512, 42, 0));
    assert_eq!(fake.prompts().len(), 1, "no second /prompt");
    assert!(!log.iter().any(|u| matches!(u, Update::Accepted(_))), "the stored id stays");
}

#[tokio::test]
async fn a_prompt_the_server_forgot_is_submitted_again() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let mut j = imagine(3);
    j.resume = Some("lost-in-a-restart".into());
    let (out, log) = output(&b, j).await;
    assert_eq!(out.images.len(), 4);
    assert_eq!(fake.prompts().len(), 1);
    assert!(log.iter().any(|u| matches!(u, Update::Accepted(id) if id != "lost-in-a-restart")));
}

// --- cancel ---

#[tokio::test]
async fn cancel_deletes_a_queued_prompt_and_never_interrupts_globally() {
    let fake = fake(|k| k.hold = true).await;
    let b = backend(&config(&fake, |_| {}));
    let mut running = start(&b, imagine(1));
    let running_id = running.accepted().await;
    fake.wait_until(WAIT, |f| f.running().is_some()).await;
    let mut queued = start(&b, imagine(2));
    let queued_id = queued.accepted().await;
    assert_eq!(fake.pending(), std::slice::from_ref(&queued_id));

    assert!(b.cancel(&queued_id).await.expect("cancel answers"), "a queued prompt is deleted");

    assert!(fake.pending().is_empty());
    assert_eq!(fake.running(), Some(running_id), "the other prompt runs on");
    let deletes: Vec<Value> = fake.requests_to("/queue").into_iter().filter_map(|r| r.json).collect();
    assert_eq!(deletes, [json!({"delete": [queued_id]})]);
    assert!(fake.requests_to("/interrupt").is_empty() && fake.global_interrupts() == 0);
    assert!(queued.finish().await.0.is_err(), "the deleted prompt's job ends");
    fake.release(10);
    assert!(running.finish().await.0.is_ok());
}

#[tokio::test]
async fn cancel_interrupts_a_running_prompt_only_by_its_id() {
    let fake = fake(|k| k.hold = true).await;
    let b = backend(&config(&fake, |_| {}));
    let mut running = start(&b, imagine(1));
    let id = running.accepted().await;
    fake.wait_until(WAIT, |f| f.running().is_some()).await;

    assert!(b.cancel(&id).await.unwrap());

    let interrupts: Vec<Value> = fake.requests_to("/interrupt").into_iter().filter_map(|r| r.json).collect();
    assert_eq!(interrupts, [json!({"prompt_id": id})]);
    assert_eq!(fake.global_interrupts(), 0);
    let err = running.finish().await.0.expect_err("the interrupted job fails");
    assert!(err.user_message.contains("stopped at the ComfyUI server"), "{err:?}");
    assert!(!b.cancel("never-heard-of-it").await.unwrap());
}

#[tokio::test]
async fn cancel_on_a_server_without_targeted_interrupt_leaves_the_prompt_running() {
    let fake = fake(|k| {
        k.hold = true;
        k.version = "0.3.43".into();
        k.targeted_interrupt = false;
    })
    .await;
    let b = backend(&config(&fake, |_| {}));
    let mut running = start(&b, imagine(1));
    let id = running.accepted().await;
    fake.wait_until(WAIT, |f| f.running().is_some()).await;

    assert!(!b.cancel(&id).await.unwrap(), "no way to stop only this prompt: the engine discards the result");

    assert!(fake.requests_to("/interrupt").is_empty(), "a global interrupt could hit someone else's prompt");
    fake.release(10);
    assert!(running.finish().await.0.is_ok());
}

// --- templates ---

#[tokio::test]
async fn templates_are_checked_when_the_backend_is_built() {
    let fake = fake(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let refused = |workflows: Workflows, model: Option<&str>| {
        let cfg = config(&fake, |c| {
            c.set("workflows", workflows);
            c.model = model.map(String::from);
        });
        ComfyUiBackend::from_config(&cfg).expect_err("this template must be refused").to_string()
    };
    let imagine = |path: String| Workflows::from([("imagine", path)]);

    let bad = file("bad.json", "{\"1\": ");
    let e = refused(imagine(bad.clone()), Some(MODEL));
    assert!(e.contains("backend `comfy`") && e.contains(&bad) && e.contains("Export (API)"), "{e}");
    let ui = file("ui.json", r#"{"last_node_id": 9, "nodes": [], "links": []}"#);
    assert!(refused(imagine(ui), Some(MODEL)).contains("not in the API format"));
    let steps = file("steps.json", r#"{"3": {"class_type": "KSampler", "inputs": {"steps": "{{steps}}"}}}"#);
    let e = refused(imagine(steps), Some(MODEL));
    assert!(e.contains("node 3 (KSampler)") && e.contains("`{{steps}}`, which Easel does not fill"), "{e}");
    let lacking =
        file("lacking.json", r#"{"2": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}"}}}"#);
    assert!(refused(imagine(lacking), Some(MODEL)).contains("lacks `{{seed}}`"));
    let missing = dir.path().join("nope.json").display().to_string();
    let e = refused(imagine(missing.clone()), Some(MODEL));
    assert!(e.contains(&missing) && e.contains("workflows.imagine"), "{e}");
    let e = refused(Workflows::from([("upscale", file("up.json", "[]"))]), Some(MODEL));
    assert!(e.contains("up.json") && e.contains("not a JSON object"), "{e}");
}

#[tokio::test]
async fn without_model_the_servers_first_checkpoint_is_used_asked_once() {
    let fake = fake(|k| k.checkpoints = vec!["juggernaut.safetensors".into(), "sd15.ckpt".into()]).await;
    let b = backend(&config(&fake, |c| c.model = None));
    b.health().await.expect("a server with checkpoints is healthy");
    output(&b, imagine(1)).await;
    output(&b, imagine(2)).await;
    let prompts: Vec<Value> =
        fake.requests().into_iter().filter(|r| r.path == "/prompt").filter_map(|r| r.json).collect();
    assert_eq!(prompts.len(), 2);
    for p in &prompts {
        let loader =
            p["prompt"].as_object().unwrap().values().find(|n| n["class_type"] == "CheckpointLoaderSimple");
        assert_eq!(loader.unwrap()["inputs"]["ckpt_name"], "juggernaut.safetensors");
    }
    let asked = fake.requests().iter().filter(|r| r.path == "/object_info/CheckpointLoaderSimple").count();
    assert_eq!(asked, 1, "asked once, then remembered");
}

#[tokio::test]
async fn a_server_without_checkpoints_is_unhealthy_and_its_jobs_say_why() {
    let fake = fake(|k| k.checkpoints = Vec::new()).await;
    let b = backend(&config(&fake, |c| c.model = None));
    let unhealthy = b.health().await.expect_err("no checkpoint: not healthy");
    assert!(unhealthy.contains("no checkpoint") && unhealthy.contains("models/checkpoints"), "{unhealthy}");
    let e = failure(&b, imagine(1)).await;
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(e.user_message.contains("set `model`"), "{e:?}");
    assert!(!fake.requests().iter().any(|r| r.path == "/prompt"), "nothing was queued");
}

// --- failures ---

#[tokio::test]
async fn a_refused_workflow_names_the_node_and_what_to_fix() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |c| c.model = Some("dreamshaper_8.safetensors".into())));
    let e = failure(&b, imagine(1)).await;
    assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
    assert!(
        e.user_message.contains("no checkpoint `dreamshaper_8.safetensors`")
            && e.user_message.contains("`model`"),
        "{e:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.json");
    let text = include_str!("../../../src/backends/comfyui/default_imagine.json")
        .replace("\"KSampler\"", "\"FancySampler\"");
    std::fs::write(&path, text).unwrap();
    let b = backend(&config(&fake, |c| {
        c.set("workflows", Workflows::from([("imagine", path.display().to_string())]))
    }));
    let e = failure(&b, imagine(1)).await;
    assert!(
        e.user_message.contains("FancySampler does not exist") && e.user_message.contains("custom node"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_failed_execution_is_reported_with_its_exception() {
    for ws in [WsMode::Normal, WsMode::Refuse] {
        let fake = fake(|k| {
            k.ws = ws;
            k.fault = Some(Fault::ExecutionError(
                "torch.OutOfMemoryError".into(),
                "CUDA out of memory. Tried".into(),
            ));
        })
        .await;
        let b = backend(&config(&fake, |_| {}));
        let e = failure(&b, imagine(1)).await;
        assert!(e.retryable, "out of memory may pass ({ws:?}): {e:?}");
        assert!(e.user_message.contains("(KSampler): torch.OutOfMemoryError: CUDA out of memory"), "{e:?}");
        fake.set(|k| {
            k.fault = Some(Fault::ExecutionError("RuntimeError".into(), "mat1 and mat2 shapes".into()))
        });
        let e = failure(&b, imagine(1)).await;
        assert_eq!((e.code, e.retryable), (FailureCode::BackendError, false), "{ws:?}");
    }
}

#[tokio::test]
async fn server_errors_are_retryable_and_the_key_never_leaks() {
    let fake = fake(|k| {
        k.api_key = Some(KEY.into());
        k.fault = Some(Fault::PromptStatus(500, format!("upstream said: bad key {KEY}")));
    })
    .await;
    let b = backend(&config(&fake, |c| c.api_key = Secret::new(KEY)));
    let e = failure(&b, imagine(1)).await;
    assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
    fake.set(|k| k.fault = Some(Fault::PromptStatus(503, String::new())));
    assert_eq!(failure(&b, imagine(1)).await.code, FailureCode::BackendUnavailable);
    let wrong = backend(&config(&fake, |c| c.api_key = Secret::new("wrong-key-123")));
    assert_eq!(failure(&wrong, imagine(1)).await.code, FailureCode::CredentialsRejected);
}

#[tokio::test]
async fn health_reads_system_stats() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    assert_eq!(b.health().await, Ok(()));
    assert_eq!(fake.requests_to("/system_stats").len(), 1);
    // A port nobody listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cfg = config(&fake, |c| c.base_url = format!("http://{closed}"));
    let err = ComfyUiBackend::from_config(&cfg).unwrap().health().await.expect_err("the server is gone");
    assert!(err.contains("could not be reached"), "{err}");
}
