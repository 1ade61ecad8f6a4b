//! A fake AUTOMATIC1111 / Forge server over real HTTP on 127.0.0.1, for driving the `a1111`
//! adapter end to end. Like the real one it runs one job at a time behind a global queue
//! lock; txt2img and img2img take a number of sampling ticks while `/progress` reports rising
//! progress and a live preview; `info` is a JSON document inside a string; a batch of more
//! than one image gets the server's grid at `images[0]` with `index_of_first_image` = 1. It
//! checks what the real server checks (Basic auth from `--api-auth`, pydantic types, sampler,
//! checkpoint, upscaler and interrogate model names, decodable input images), answers errors
//! in the real shapes, and records every request. Knobs inject the faults real servers show.

use std::io::Cursor;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// How the server is set up, and what it does besides answering normally.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// `--api-auth user:password`; `None` leaves the API open.
    pub auth: Option<(String, String)>,
    /// `false`: the server was started without `--api`, so every `/sdapi` path is a 404.
    pub api: bool,
    /// Sampling steps of one generation, `tick` apart.
    pub ticks: u32,
    pub tick: Duration,
    /// Generations wait for one [`FakeA1111::release`] instead of each tick, and for one more
    /// before answering, so a test can walk a job step by step.
    pub hold: bool,
    /// A1111's `return_grid`: a batch's grid comes first in `images`.
    pub return_grid: bool,
    /// Applied to txt2img, img2img, extras and interrogate until cleared.
    pub fault: Option<Fault>,
    pub clip_caption: String,
    pub deepdanbooru_tags: String,
    pub samplers: Vec<String>,
    pub checkpoints: Vec<String>,
    pub upscalers: Vec<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            auth: None,
            api: true,
            ticks: 4,
            tick: Duration::from_millis(5),
            hold: false,
            return_grid: true,
            fault: None,
            clip_caption: "a red fox sitting in the snow, Aaron Douglas, trending on artstation, \
                           a digital painting, digital art"
                .into(),
            deepdanbooru_tags: "animal, fox, no humans, outdoors, snow, winter".into(),
            samplers: ["Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras"].map(String::from).to_vec(),
            checkpoints: [
                "sd_xl_base_1.0.safetensors [31e35c80fc]",
                "dreamshaper_8.safetensors [879db523c3]",
            ]
            .map(String::from)
            .to_vec(),
            upscalers: ["None", "Lanczos", "Nearest", "ESRGAN_4x", "R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B"]
                .map(String::from)
                .to_vec(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// `torch.OutOfMemoryError` from the sampler, as A1111's handler reports it (500).
    OutOfMemory,
    /// Any status with a raw body.
    Status { status: u16, body: String },
    /// Waits this long before doing anything.
    Slow(Duration),
    /// A 200 whose JSON is cut off.
    MalformedJson,
    /// Images that are not base64.
    BadBase64,
    /// Valid base64 of an HTML page.
    NotAnImage,
}

/// One request as received.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub json: Option<Value>,
}

/// The server's one current job, as `/progress` reports it.
#[derive(Debug, Clone, Default)]
struct Job {
    job_count: i64,
    step: u32,
    steps: u32,
    preview: Option<String>,
}

struct Shared {
    knobs: Mutex<Knobs>,
    requests: Mutex<Vec<Recorded>>,
    /// The real server's `queue_lock`.
    queue: tokio::sync::Mutex<()>,
    job: Mutex<Job>,
    released: Semaphore,
    /// Bumped on every change worth waiting for.
    changed: watch::Sender<u64>,
    active: AtomicUsize,
    max_active: AtomicUsize,
    images_made: AtomicU32,
}

impl Shared {
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeA1111 {
    /// The server root, what goes in `base_url`.
    pub base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeA1111 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeA1111 {
    pub async fn start(knobs: Knobs) -> FakeA1111 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake");
        let base_url = format!("http://{}", listener.local_addr().expect("fake address"));
        let shared = Arc::new(Shared {
            knobs: Mutex::new(knobs),
            requests: Mutex::new(Vec::new()),
            queue: tokio::sync::Mutex::new(()),
            job: Mutex::new(Job::default()),
            released: Semaphore::new(0),
            changed: watch::channel(0).0,
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            images_made: AtomicU32::new(0),
        });
        let app = Router::new()
            .route("/sdapi/v1/txt2img", post(txt2img))
            .route("/sdapi/v1/img2img", post(img2img))
            .route("/sdapi/v1/extra-single-image", post(extras))
            .route("/sdapi/v1/interrogate", post(interrogate))
            .route("/sdapi/v1/progress", get(progress))
            .route("/sdapi/v1/upscalers", get(upscalers))
            .route("/sdapi/v1/sd-models", get(sd_models))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeA1111 { base_url, shared, server }
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.shared.knobs));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Requests to `path` (e.g. "/sdapi/v1/txt2img"), in arrival order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Lets a held generation take its next step (or answer, after its last).
    pub fn release(&self, steps: usize) {
        self.shared.released.add_permits(steps);
    }

    /// Jobs running at once now, and the most there ever were.
    pub fn active(&self) -> (usize, usize) {
        (self.shared.active.load(Ordering::SeqCst), self.shared.max_active.load(Ordering::SeqCst))
    }

    /// Waits until `done` holds, re-checking on every change; panics after `limit`.
    pub async fn wait_until(&self, limit: Duration, done: impl Fn(&FakeA1111) -> bool) {
        let wait = async {
            loop {
                // Subscribed before checking, so a change in between is not missed.
                let mut changes = self.shared.changed.subscribe();
                if done(self) {
                    return;
                }
                let _ = changes.changed().await;
            }
        };
        tokio::time::timeout(limit, wait).await.expect("the fake never reached the awaited state");
    }
}

// --- handlers ---

type St = State<Arc<Shared>>;

async fn not_found() -> Response {
    detail(404, "Not Found")
}

/// Records the request, then answers as the server would before running anything: no API,
/// refused credentials.
fn admit(s: &Shared, method: &str, uri: &Uri, headers: &HeaderMap, json: Option<Value>) -> Option<Response> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    let rec = Recorded {
        method: method.into(),
        path: uri.path().into(),
        authorization: authorization.clone(),
        json,
    };
    lock(&s.requests).push(rec);
    s.bump();
    let knobs = lock(&s.knobs).clone();
    if !knobs.api {
        return Some(detail(404, "Not Found"));
    }
    let (user, password) = knobs.auth?;
    let presented = authorization
        .as_deref()
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .map(|raw| String::from_utf8_lossy(&raw).into_owned());
    let www = [(header::WWW_AUTHENTICATE, "Basic")];
    match presented {
        // FastAPI's HTTPBasic, before A1111's own check.
        None => Some(
            (StatusCode::UNAUTHORIZED, www, Json(json!({"detail": "Not authenticated"}))).into_response(),
        ),
        Some(pair) if pair != format!("{user}:{password}") => Some(
            (www, a1111_error(401, "HTTPException", "Incorrect username or password", None)).into_response(),
        ),
        Some(_) => None,
    }
}

/// Applies a fault that fails the request outright; `Slow` waits and lets it go on.
async fn fault(s: &Shared) -> Option<Response> {
    let fault = lock(&s.knobs).fault.clone();
    match fault? {
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::OutOfMemory => Some(a1111_error(
            500,
            "OutOfMemoryError",
            "",
            Some(
                "CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 8.00 GiB of which \
                 1.02 GiB is free.",
            ),
        )),
        Fault::Status { status, body } => Some(
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.into())
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        ),
        _ => None,
    }
}

async fn txt2img(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    generate(s, uri, headers, body, false).await
}

async fn img2img(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    generate(s, uri, headers, body, true).await
}

async fn generate(s: Arc<Shared>, uri: Uri, headers: HeaderMap, body: Bytes, img2img: bool) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if let Some(early) = admit(&s, "POST", &uri, &headers, parsed.clone()) {
        return early;
    }
    let Some(Value::Object(req)) = parsed else {
        return validation("body", "value is not a valid dict", "type_error.dict");
    };
    // Pydantic's type checks, for the fields the fake reads.
    let bad_int = |k: &str| validation(k, "value is not a valid integer", "type_error.integer");
    let int = |k: &str, default: i64| match req.get(k) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_i64(),
    };
    let float = |k: &str, default: f64| match req.get(k) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_f64(),
    };
    let ints = ["width", "height", "batch_size", "n_iter", "seed", "subseed", "steps"];
    if let Some(k) = ints.into_iter().find(|k| int(k, 0).is_none()) {
        return bad_int(k);
    }
    if let Some(k) = ["subseed_strength", "cfg_scale"].into_iter().find(|k| float(k, 0.0).is_none()) {
        return validation(k, "value is not a valid float", "type_error.float");
    }
    let get = |k: &str, default: i64| int(k, default).unwrap_or(default);
    let (width, height, batch_size, n_iter) =
        (get("width", 512), get("height", 512), get("batch_size", 1), get("n_iter", 1));
    let (seed, subseed) = (get("seed", -1), get("subseed", -1));
    let strength = float("subseed_strength", 0.0).unwrap_or(0.0);
    if !(1..=4096).contains(&width) || !(1..=4096).contains(&height) || batch_size < 1 || n_iter < 1 {
        return validation("width", "ensure this value is within range", "value_error.number");
    }
    let knobs = lock(&s.knobs).clone();
    if let Some(sampler) = req.get("sampler_name").and_then(Value::as_str)
        && !knobs.samplers.iter().any(|n| n == sampler)
    {
        return a1111_error(404, "HTTPException", "Sampler not found", None);
    }
    if let Some(model) =
        req.get("override_settings").and_then(|o| o.get("sd_model_checkpoint")).and_then(Value::as_str)
        && !knobs.checkpoints.iter().any(|c| c == model || c.split(" [").next() == Some(model))
    {
        // Forge's wording; A1111 falls back to the loaded checkpoint.
        return a1111_error(500, "RuntimeError", "", Some(&format!("model '{model}' not found")));
    }
    let mut init_number = 0;
    if img2img {
        let Some(inits) = req.get("init_images").and_then(Value::as_array) else {
            return a1111_error(404, "HTTPException", "Init image not found", None);
        };
        let mut init_size = None;
        for init in inits {
            match init.as_str().and_then(decode_image) {
                Some(bytes) => {
                    init_number = bytes.len() as u32;
                    init_size = image::load_from_memory(&bytes).ok().map(|i| (i.width(), i.height()));
                }
                None => return a1111_error(500, "HTTPException", "Invalid encoded image", None),
            }
        }
        // Inpainting: the mask must be an image the init image's size (and the canvas's), or
        // the white part would land on the wrong pixels.
        if let Some(mask) = req.get("mask").filter(|m| !m.is_null()) {
            let size = mask.as_str().and_then(decode_image).and_then(|b| image::load_from_memory(&b).ok());
            let Some(mask) = size else {
                return a1111_error(500, "HTTPException", "Invalid encoded mask", None);
            };
            let canvas = (width as u32, height as u32);
            if Some((mask.width(), mask.height())) != init_size || init_size != Some(canvas) {
                return a1111_error(
                    500,
                    "ValueError",
                    "",
                    Some("mask, init image and canvas differ in size"),
                );
            }
        }
    }
    if let Some(early) = fault(&s).await {
        return early;
    }

    let _queue = s.queue.lock().await;
    let running = s.active.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_active.fetch_max(running, Ordering::SeqCst);
    *lock(&s.job) = Job { job_count: n_iter, step: 0, steps: knobs.ticks, preview: None };
    s.bump();
    for step in 1..=knobs.ticks {
        if knobs.hold {
            hold(&s).await;
        } else {
            tokio::time::sleep(knobs.tick).await;
        }
        let preview = STANDARD.encode(preview_png(step));
        let mut job = lock(&s.job);
        job.step = step;
        job.preview = Some(preview);
        drop(job);
        s.bump();
    }
    if knobs.hold {
        hold(&s).await;
    }
    *lock(&s.job) = Job::default();
    s.active.fetch_sub(1, Ordering::SeqCst);
    s.bump();

    let fault = lock(&s.knobs).fault.clone();
    if matches!(fault, Some(Fault::MalformedJson)) {
        return ([(header::CONTENT_TYPE, "application/json")], r#"{"images": ["iVBORw0KGgo"#).into_response();
    }
    let count = (batch_size * n_iter) as usize;
    let random = |v: i64| if v == -1 { i64::from(fastrand::u32(..)) } else { v };
    let (seed, subseed) = (random(seed), random(subseed));
    // A1111's rule: consecutive seeds, unless a subseed is mixed in, which counts up instead.
    let all_seeds: Vec<i64> =
        (0..count as i64).map(|i| if strength == 0.0 { seed + i } else { seed }).collect();
    let all_subseeds: Vec<i64> = (0..count as i64).map(|i| subseed + i).collect();
    let (w, h) = (width as u32, height as u32);
    let mut images: Vec<String> = Vec::new();
    for i in 0..count {
        let number = if strength == 0.0 {
            all_seeds[i] as u32 ^ init_number
        } else {
            (all_seeds[i] as u32).wrapping_mul(31) ^ (all_subseeds[i] as u32).wrapping_mul(7) ^ init_number
        };
        s.images_made.fetch_add(1, Ordering::SeqCst);
        images.push(match fault {
            Some(Fault::BadBase64) => "%%% not base64 %%%".into(),
            Some(Fault::NotAnImage) => STANDARD.encode("<html><body>502 Bad Gateway</body></html>"),
            _ => STANDARD.encode(png(w, h, number)),
        });
    }
    let mut first = 0;
    if knobs.return_grid && count > 1 {
        images.insert(0, STANDARD.encode(png(w * 2, h * 2, 0xDEAD)));
        first = 1;
    }
    let info = json!({
        "prompt": req.get("prompt").cloned().unwrap_or(json!("")),
        "negative_prompt": req.get("negative_prompt").cloned().unwrap_or(json!("")),
        "seed": seed, "all_seeds": all_seeds,
        "subseed": subseed, "all_subseeds": all_subseeds, "subseed_strength": strength,
        "width": width, "height": height, "batch_size": batch_size,
        "index_of_first_image": first,
        "infotexts": vec!["a prompt\nSteps: 20, Sampler: Euler"; images.len()],
        "job_timestamp": "20250101120000", "version": "v1.10.1",
    });
    Json(json!({"images": images, "parameters": Value::Object(req), "info": info.to_string()}))
        .into_response()
}

async fn hold(s: &Shared) {
    if let Ok(permit) = s.released.acquire().await {
        permit.forget();
    }
}

async fn extras(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if let Some(early) = admit(&s, "POST", &uri, &headers, parsed.clone()) {
        return early;
    }
    let req = parsed.unwrap_or_default();
    let Some(factor) = req.get("upscaling_resize").map_or(Some(2.0), Value::as_f64) else {
        return validation("upscaling_resize", "value is not a valid float", "type_error.float");
    };
    let Some(image) =
        req["image"].as_str().and_then(decode_image).and_then(|b| image::load_from_memory(&b).ok())
    else {
        return a1111_error(500, "HTTPException", "Invalid encoded image", None);
    };
    let upscaler = req["upscaler_1"].as_str().unwrap_or("None").to_string();
    if !lock(&s.knobs).upscalers.contains(&upscaler) {
        return a1111_error(
            500,
            "AssertionError",
            "",
            Some(&format!("could not find upscaler named {upscaler}")),
        );
    }
    if let Some(early) = fault(&s).await {
        return early;
    }
    let _queue = s.queue.lock().await;
    let (w, h) = ((image.width() as f64 * factor) as u32, (image.height() as f64 * factor) as u32);
    let bigger = image.resize_exact(w, h, image::imageops::FilterType::Nearest).to_rgb8();
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(bigger).write_to(&mut out, image::ImageFormat::Png).expect("encode a PNG");
    let b64 = match lock(&s.knobs).fault {
        Some(Fault::BadBase64) => "%%% not base64 %%%".to_string(),
        _ => STANDARD.encode(out.into_inner()),
    };
    Json(json!({"html_info": format!("<p>{upscaler} ×{factor}</p>"), "image": b64})).into_response()
}

async fn interrogate(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if let Some(early) = admit(&s, "POST", &uri, &headers, parsed.clone()) {
        return early;
    }
    let req = parsed.unwrap_or_default();
    if req["image"].as_str().and_then(decode_image).is_none() {
        return a1111_error(500, "HTTPException", "Invalid encoded image", None);
    }
    if let Some(early) = fault(&s).await {
        return early;
    }
    let _queue = s.queue.lock().await;
    let knobs = lock(&s.knobs).clone();
    let caption = match req["model"].as_str().unwrap_or("clip") {
        "clip" => knobs.clip_caption,
        "deepdanbooru" => knobs.deepdanbooru_tags,
        _ => return a1111_error(404, "HTTPException", "Model not found", None),
    };
    if matches!(knobs.fault, Some(Fault::MalformedJson)) {
        return ([(header::CONTENT_TYPE, "application/json")], r#"{"caption": "a fo"#).into_response();
    }
    Json(json!({ "caption": caption })).into_response()
}

#[derive(serde::Deserialize)]
struct ProgressQuery {
    #[serde(default)]
    skip_current_image: bool,
}

async fn progress(State(s): St, uri: Uri, headers: HeaderMap, Query(q): Query<ProgressQuery>) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    let job = lock(&s.job).clone();
    let progress =
        if job.job_count == 0 { 0.0 } else { 0.01 + f64::from(job.step) / f64::from(job.steps.max(1)) };
    let state = json!({
        "skipped": false, "interrupted": false, "stopping_generation": false,
        "job": if job.job_count == 0 { "" } else { "scripts_txt2img" },
        "job_count": job.job_count, "job_timestamp": "20250101120000", "job_no": 0,
        "sampling_step": job.step, "sampling_steps": job.steps,
    });
    let image = if q.skip_current_image { None } else { job.preview };
    Json(json!({
        "progress": progress.min(1.0), "eta_relative": 1.5, "state": state,
        "current_image": image, "textinfo": null,
    }))
    .into_response()
}

async fn upscalers(State(s): St, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    let names = lock(&s.knobs).upscalers.clone();
    let list: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "model_name": null, "model_path": null, "model_url": null, "scale": 4.0}))
        .collect();
    Json(list).into_response()
}

async fn sd_models(State(s): St, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    let titles = lock(&s.knobs).checkpoints.clone();
    let list: Vec<Value> = titles
        .iter()
        .map(|t| {
            let file = t.split(" [").next().unwrap_or(t);
            json!({"title": t, "model_name": file.trim_end_matches(".safetensors"), "hash": null,
                   "sha256": null, "filename": format!("/models/Stable-diffusion/{file}"), "config": null})
        })
        .collect();
    Json(list).into_response()
}

// --- shapes ---

/// A1111's exception handler: `{"error", "detail", "body", "errors"}`.
fn a1111_error(status: u16, class: &str, detail: &str, errors: Option<&str>) -> Response {
    let errors = errors.map(String::from).unwrap_or_else(|| format!("{status}: {detail}"));
    let body = json!({"error": class, "detail": detail, "body": "", "errors": errors});
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
}

/// FastAPI's own `{"detail": "…"}`.
fn detail(status: u16, text: &str) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(json!({"detail": text})))
        .into_response()
}

/// A pydantic validation failure (422).
fn validation(field: &str, msg: &str, kind: &str) -> Response {
    let body = json!({"detail": [{"loc": ["body", field], "msg": msg, "type": kind}]});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Base64 (or a data URL) of something that is an image.
fn decode_image(text: &str) -> Option<Vec<u8>> {
    let payload = text.split_once(";base64,").map_or(text, |(_, p)| p);
    let bytes = STANDARD.decode(payload.trim()).ok()?;
    image::guess_format(&bytes).ok().map(|_| bytes)
}

/// The live preview `/progress` shows after sampling step `step`.
pub fn preview_png(step: u32) -> Vec<u8> {
    png(32, 32, 1000 + step)
}

/// A `w`×`h` PNG whose colour is unique to `number`.
pub fn png(w: u32, h: u32, number: u32) -> Vec<u8> {
    // 67, 131 and 199 are odd, so each channel alone already differs for 256 numbers in a row.
    let channel = |k: u32, c: u32| number.wrapping_mul(k).wrapping_add(c) as u8;
    let colour = [channel(67, 40), channel(131, 90), channel(199, 150)];
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(colour));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode a PNG");
    out.into_inner()
}
