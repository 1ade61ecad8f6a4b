//! A fake Openjourney REST API over real HTTP on 127.0.0.1, speaking the protocol as Easel
//! reads it (the reference shows requests only; see `src/backends/opj/wire.rs`): every
//! `POST /v1/<model>`, `/v1/utils/upscale` and `/v1/utils/prompt-extract` answers a new job
//! `{"id", "status": "starting"}`, and `GET /v1/job/{id}` walks it through a script of states
//! (by default starting → processing 40 → processing "80%" → succeeded) to its `output`: a
//! PNG link under `/cdn/`, or the caption for prompt-extract. Bodies are checked against the
//! reference's fields per model (a field the model does not take, or a canvas it does not
//! offer, is a 400), Bearer auth, `GET /v1/internal/ping`, injectable faults, and a record of
//! every request. Jobs move one step per GET, so tests wait on polls, never the clock.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The colour of the n-th image job (counted from 0, modulo 4).
pub const COLOURS: [[u8; 3]; 4] = [[210, 40, 40], [40, 210, 40], [40, 40, 210], [210, 210, 40]];
/// Side of a generated image, and of an upscaled one.
pub const IMAGE_SIZE: u32 = 64;
pub const UPSCALED_SIZE: u32 = 128;
/// What prompt-extract answers by default: an interrogator caption.
pub const CAPTION: &str =
    "a red fox sitting in the snow, Aaron Douglas, trending on artstation, a digital painting, digital art";

/// The reference's text-to-image endpoints (seed 001), as this fake reads them.
const MODELS: &str = "flux/1.1/pro-ultra flux/1.1/pro flux/pro flux/fill-pro flux/depth-pro flux/canny-pro \
    flux/dev flux/dev-lora flux/fill-dev flux/depth-dev flux/canny-dev flux/redux-dev flux/schnell \
    flux/redux-schnell flux/schnell-lora flux/cinema flux/ghibsky flux/hyper flux/formfinder flux/black-light \
    re-craft/generative re-craft/svg sdxl/generative sdxl/pony sdxl/emoji sd/3.5/large-turbo sd/3.5/large \
    sd/3.5/medium sd/3/generative sd/1/generative";

/// The fields `model` documents, `prompt` aside.
fn fields_of(model: &str) -> Vec<&'static str> {
    match model {
        "flux/schnell" | "sdxl/emoji" => vec![],
        "flux/1.1/pro-ultra" => vec!["canvas", "raw", "seed"],
        "re-craft/generative" | "re-craft/svg" => vec!["model", "canvas", "style"],
        "sdxl/generative" | "sd/1/generative" => {
            vec!["model", "canvas", "negative_prompt", "guidance", "seed"]
        }
        "sdxl/pony" => vec!["model", "canvas", "scheduler", "negative_prompt", "seed"],
        _ => vec!["canvas", "seed"],
    }
}

fn canvases_of(model: &str) -> &'static [&'static str] {
    match model {
        "flux/1.1/pro-ultra" | "flux/1.1/pro" => &["Square", "Portrait", "Landscape", "Wide Landscape"],
        _ => &["Square", "Portrait", "Landscape"],
    }
}

#[derive(Debug, Clone)]
pub enum Step {
    Starting,
    Processing(Value),
    Succeeded,
    /// Succeeded without an `output`.
    SucceededEmpty,
    Failed(String),
    Cancelled,
    /// A job object without `status`.
    NoStatus,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Knobs {
    pub key: String,
    /// Repeat the presented key in 401 bodies, as careless servers do.
    pub echo_key: bool,
    pub script: Vec<Step>,
    /// The word a finished job's `status` says.
    pub done_word: &'static str,
    /// Answer every POST with this.
    pub post_fault: Option<Fault>,
    /// Answer only the N-th POST (from 1) with this.
    pub fail_post: Option<(u32, Fault)>,
    /// Answer the first N GETs of each job with this status and `Retry-After: 0`.
    pub get_fault: Option<(u16, u32)>,
    /// POSTs answer a body that is not JSON.
    pub garbage_post: bool,
    /// GETs of a job answer cut-off JSON.
    pub malformed_get: bool,
    pub ping_status: u16,
    /// prompt-extract's `output`.
    pub caption: Value,
    /// Finished image jobs carry their link elsewhere than in `output`: `"output[]"`,
    /// `"result.url"`, `"result"`, `"url"`, `"image_url"` or `"images"`.
    pub link_in: Option<&'static str>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            key: "key".into(),
            echo_key: false,
            script: vec![
                Step::Starting,
                Step::Processing(json!(40)),
                Step::Processing(json!("80%")),
                Step::Succeeded,
            ],
            done_word: "succeeded",
            post_fault: None,
            fail_post: None,
            get_fault: None,
            garbage_post: false,
            malformed_get: false,
            ping_status: 200,
            caption: json!(CAPTION),
            link_in: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub auth: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Image { colour: [u8; 3] },
    Upscale,
    Extract,
}

struct FakeJob {
    kind: Kind,
    gets: u32,
}

struct Inner {
    knobs: Knobs,
    base: String,
    jobs: HashMap<String, FakeJob>,
    requests: Vec<Recorded>,
    posts: u32,
    images: usize,
    next: u32,
}

#[derive(Clone)]
pub struct FakeOpj {
    /// `…/v1`, as `base_url` is configured.
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    server: Arc<JoinHandle<()>>,
}

impl Drop for FakeOpj {
    fn drop(&mut self) {
        if Arc::strong_count(&self.server) == 1 {
            self.server.abort();
        }
    }
}

type Shared = Arc<Mutex<Inner>>;

impl FakeOpj {
    pub async fn start(knobs: Knobs) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let root = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            knobs,
            base: root.clone(),
            jobs: HashMap::new(),
            requests: Vec::new(),
            posts: 0,
            images: 0,
            next: 0,
        }));
        let app = Router::new()
            .route("/v1/job/{id}", get(fetch))
            .route("/v1/internal/ping", get(ping))
            .route("/v1/{*path}", post(create))
            .route("/cdn/{name}", get(cdn))
            .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"error": "Not found"}))) })
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        FakeOpj { base_url: format!("{root}/v1"), inner, server: Arc::new(server) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn posts(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == Method::POST).collect()
    }

    /// Creates an image job as if an earlier Easel had submitted it; its image has
    /// `COLOURS[colour]`.
    pub fn seed_job(&self, id: &str, colour: usize) {
        let kind = Kind::Image { colour: COLOURS[colour % 4] };
        self.lock().jobs.insert(id.into(), FakeJob { kind, gets: 0 });
    }

    pub fn gets_of(&self, id: &str) -> u32 {
        self.lock().jobs.get(id).map_or(0, |j| j.gets)
    }

    /// Changes the knobs of a running fake (to let a fault pass, say).
    pub fn tweak(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.lock().knobs);
    }
}

/// A solid PNG of `size`.
pub fn png(colour: [u8; 3], size: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(size, size, image::Rgb(colour));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn record(inner: &mut Inner, method: Method, uri: &Uri, headers: &HeaderMap, body: Value) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    inner.requests.push(Recorded { method, path: uri.path().to_string(), auth, body });
}

/// `None` when the Bearer key is right, else a 401.
fn check_auth(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let presented = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if presented == format!("Bearer {}", inner.knobs.key) {
        return None;
    }
    let message =
        if inner.knobs.echo_key { format!("Invalid API key: {presented}") } else { "Invalid API key".into() };
    Some(error(StatusCode::UNAUTHORIZED, &message))
}

fn fault(f: &Fault) -> Response {
    let mut response = (StatusCode::from_u16(f.status).unwrap(), Json(f.body.clone())).into_response();
    if let Some(secs) = f.retry_after {
        response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
    }
    response
}

/// Why `body` is not a valid request to `model`, if it is not.
fn invalid_generate(model: &str, body: &Value) -> Option<String> {
    let Some(object) = body.as_object() else { return Some("the body is not a JSON object".into()) };
    if object.get("prompt").and_then(Value::as_str).is_none_or(|p| p.trim().is_empty()) {
        return Some("prompt is required".into());
    }
    let fields = fields_of(model);
    if let Some(extra) = object.keys().find(|k| *k != "prompt" && !fields.contains(&k.as_str())) {
        return Some(format!("{extra} is not a field of {model}"));
    }
    if fields.contains(&"canvas") {
        match object.get("canvas").and_then(Value::as_str) {
            None => return Some("canvas is required".into()),
            Some(c) if !canvases_of(model).contains(&c) => return Some(format!("canvas {c} is not offered")),
            Some(_) => {}
        }
    }
    None
}

async fn create(
    State(inner): State<Shared>,
    Path(path): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    record(&mut inner, method, &uri, &headers, body.clone());
    if let Some(denied) = check_auth(&inner, &headers) {
        return denied;
    }
    inner.posts += 1;
    if let Some(f) = &inner.knobs.post_fault {
        return fault(f);
    }
    if let Some((nth, f)) = &inner.knobs.fail_post
        && *nth == inner.posts
    {
        return fault(f);
    }
    if inner.knobs.garbage_post {
        return (StatusCode::OK, "<html>hello</html>").into_response();
    }
    let kind = match path.as_str() {
        "utils/upscale" | "utils/prompt-extract" => {
            if body.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
                return error(StatusCode::BAD_REQUEST, "image is required");
            }
            if path == "utils/upscale" { Kind::Upscale } else { Kind::Extract }
        }
        model if MODELS.split_whitespace().any(|m| m == model) => {
            if let Some(why) = invalid_generate(model, &body) {
                return error(StatusCode::BAD_REQUEST, &why);
            }
            inner.images += 1;
            Kind::Image { colour: COLOURS[(inner.images - 1) % 4] }
        }
        _ => return error(StatusCode::NOT_FOUND, "Not found"),
    };
    inner.next += 1;
    let id = format!("job_{:04}", inner.next);
    inner.jobs.insert(id.clone(), FakeJob { kind, gets: 0 });
    (StatusCode::CREATED, Json(json!({"id": id, "status": "starting", "output": null, "error": null})))
        .into_response()
}

fn job_json(inner: &Inner, id: &str, kind: Kind, step: &Step) -> Value {
    let output = match kind {
        Kind::Image { .. } => json!(format!("{}/cdn/{id}.png", inner.base)),
        Kind::Upscale => json!(format!("{}/cdn/{id}-up.png", inner.base)),
        Kind::Extract => inner.knobs.caption.clone(),
    };
    let (status, progress, output, error) = match step {
        Step::Starting => (json!("starting"), Value::Null, Value::Null, Value::Null),
        Step::Processing(p) => (json!("processing"), p.clone(), Value::Null, Value::Null),
        Step::Succeeded => (json!(inner.knobs.done_word), json!(100), output, Value::Null),
        Step::SucceededEmpty => (json!(inner.knobs.done_word), json!(100), Value::Null, Value::Null),
        Step::Failed(reason) => (json!("failed"), Value::Null, Value::Null, json!(reason)),
        Step::Cancelled => (json!("cancelled"), Value::Null, Value::Null, Value::Null),
        Step::NoStatus => return json!({"id": id}),
    };
    let mut job = json!({"id": id, "status": status, "progress": progress, "output": output, "error": error,
           "created_at": "2024-12-14T10:30:00Z"});
    if let (Some(shape), Some(link)) = (inner.knobs.link_in, job["output"].as_str().map(String::from))
        && !matches!(kind, Kind::Extract)
    {
        job["output"] = Value::Null;
        match shape {
            "output[]" => job["output"] = json!([link]),
            "result.url" => job["result"] = json!({"url": link}),
            "images" => job["images"] = json!([{"url": link}]),
            other => job[other] = json!(link),
        }
    }
    job
}

async fn fetch(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    record(&mut inner, method, &uri, &headers, Value::Null);
    if let Some(denied) = check_auth(&inner, &headers) {
        return denied;
    }
    let fault = inner.knobs.get_fault;
    let Some(job) = inner.jobs.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "Job not found");
    };
    job.gets += 1;
    let (gets, kind) = (job.gets, job.kind);
    if let Some((status, times)) = fault
        && gets <= times
    {
        let mut response = error(StatusCode::from_u16(status).unwrap(), "boom");
        response.headers_mut().insert("retry-after", "0".parse().unwrap());
        return response;
    }
    if inner.knobs.malformed_get {
        return (StatusCode::OK, [("content-type", "application/json")], r#"{"id": "x", "stat"#)
            .into_response();
    }
    let script = &inner.knobs.script;
    let step = script[((gets - fault.map_or(0, |f| f.1)) as usize - 1).min(script.len() - 1)].clone();
    (StatusCode::OK, Json(job_json(&inner, &id, kind, &step))).into_response()
}

async fn ping(State(inner): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let mut inner = inner.lock().unwrap();
    record(&mut inner, method, &uri, &headers, Value::Null);
    if let Some(denied) = check_auth(&inner, &headers) {
        return denied;
    }
    (StatusCode::from_u16(inner.knobs.ping_status).unwrap(), Json(json!({"status": "ok"}))).into_response()
}

async fn cdn(
    State(inner): State<Shared>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    record(&mut inner, method, &uri, &headers, Value::Null);
    let id = name.trim_end_matches(".png").trim_end_matches("-up");
    let bytes = match inner.jobs.get(id).map(|j| j.kind) {
        Some(Kind::Image { colour }) => png(colour, IMAGE_SIZE),
        Some(Kind::Upscale) => png([128, 128, 128], UPSCALED_SIZE),
        _ => return error(StatusCode::NOT_FOUND, "no such file"),
    };
    ([("content-type", "image/png")], bytes).into_response()
}
