//! A fake OpenAI-compatible service over real HTTP on 127.0.0.1, for driving the `openai`
//! adapter end to end. It checks what the real API checks (bearer key, JSON or multipart
//! bodies, `n`, sizes, `response_format` and unknown fields per model family, part types),
//! answers in the real shapes with real PNGs of the requested size, serves URL answers from
//! its own `/files/…`, and records every request. Knobs inject the faults providers show.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// What the service does besides answering normally.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// The key it accepts; `None` accepts any request.
    pub api_key: Option<String>,
    /// Repeat the presented key in full in 401 messages, as careless relays do.
    pub echo_key_in_errors: bool,
    /// The largest `n` the provider takes (OpenAI: 10; many relays: 1).
    pub max_n: u8,
    /// Refuse any `n` above 1 with this 400 message, as DALL·E 3 and some relays word it.
    pub one_image_message: Option<String>,
    /// Wait this long before handling an API call.
    pub delay: Duration,
    /// `/images/generations` refuses JSON bodies with a 415 and reads form-encoded ones, as a
    /// provider that documents the endpoint form-encoded may.
    pub form_only: bool,
    /// Work calls (not `/v1/models`) wait for one [`FakeOpenAi::release`] each, so a test
    /// decides when the service answers instead of racing a delay.
    pub hold: bool,
    /// Applied to every API call (not to `/files`) until cleared.
    pub fault: Option<Fault>,
    /// With a `Fault::Status`: clear the fault after this many calls, so a flaky service
    /// recovers (e.g. `Some(2)`: two 503s, then answers).
    pub fault_calls: Option<u32>,
    /// The chat model's answer to /describe.
    pub describe_reply: String,
    /// Where image URLs point (`http://localhost:PORT` to play a CDN on another origin);
    /// the fake's own origin when `None`.
    pub url_origin: Option<String>,
    /// Faults spare `GET /v1/models`: the health probe passes while generation fails, as when
    /// a provider's image cluster is down but its API front is up.
    pub faults_spare_models: bool,
    /// Without a standing `fault`: every `every`-th work call (not `/v1/models`) gets the next
    /// fault of `faults` in turn, for soak runs with a steady trickle of mixed faults.
    pub fault_cycle: Option<FaultCycle>,
}

#[derive(Debug, Clone)]
pub struct FaultCycle {
    pub every: u64,
    pub faults: Vec<Fault>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            api_key: None,
            echo_key_in_errors: false,
            max_n: 10,
            one_image_message: None,
            delay: Duration::ZERO,
            form_only: false,
            hold: false,
            fault: None,
            fault_calls: None,
            describe_reply: json!([
                "a red fox in fresh snow, soft morning light, photograph",
                "watercolour of a fox curled up asleep, muted palette",
                "a fox crossing a frozen river, cinematic, wide shot",
                "minimal flat illustration of a fox, orange and white"
            ])
            .to_string(),
            url_origin: None,
            faults_spare_models: false,
            fault_cycle: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, headers and raw body.
    Status { status: u16, headers: Vec<(String, String)>, body: String },
    /// A 200 whose body is cut off mid-JSON.
    MalformedJson,
    /// One image fewer than asked for.
    MissingImage,
    /// `b64_json` that is not base64.
    BadBase64,
    /// Well-formed base64 (or a working URL) of an HTML page instead of an image.
    NotAnImage,
    /// A 200 carrying an error body, as some relays answer.
    ErrorWithOk { message: String, code: String },
    /// Read the request, then never answer: the connection stays open until the client
    /// gives up (a hung worker behind a load balancer).
    Hang,
    /// A 200 `text/html` page where JSON belongs (a CDN's challenge page, a login wall).
    HtmlPage,
    /// Real PNGs cut off halfway through their pixel data.
    TruncatedImage,
    /// Links to images whose declared size (64 MiB) is over every cap.
    OversizedImage,
    /// A valid-looking PNG header claiming 9000×9000 pixels.
    HugeDimensions,
}

impl Fault {
    /// An error in OpenAI's shape.
    pub fn openai(status: u16, message: &str, kind: &str, code: Option<&str>) -> Fault {
        let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
        Fault::Status { status, headers: Vec::new(), body: body.to_string() }
    }

    pub fn raw(status: u16, body: &str) -> Fault {
        Fault::Status { status, headers: Vec::new(), body: body.to_string() }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        if let Fault::Status { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }
}

/// One multipart file part as received.
#[derive(Debug, Clone)]
pub struct FilePart {
    pub field: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// One request as received.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// The body of JSON endpoints (of `/images/generations`, also when form-encoded).
    pub json: Option<Value>,
    /// `/images/generations`: whether the body came form-encoded.
    pub form_encoded: bool,
    /// The text fields of multipart endpoints.
    pub fields: Vec<(String, String)>,
    pub files: Vec<FilePart>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Shared {
    origin: String,
    knobs: Mutex<Knobs>,
    requests: Mutex<Vec<Recorded>>,
    files: Mutex<HashMap<String, Bytes>>,
    /// Numbers every image made, so no two are alike.
    images_made: AtomicU32,
    /// Work calls so far, for `fault_cycle`.
    work_calls: AtomicU64,
    /// Permits for held work calls.
    released: tokio::sync::Semaphore,
    /// Work calls now waiting for a permit, and a signal each time one arrives.
    held: std::sync::atomic::AtomicUsize,
    arrived: tokio::sync::Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeOpenAi {
    /// What goes in `base_url`: `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    pub origin: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOpenAi {
    pub async fn start(knobs: Knobs) -> FakeOpenAi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake");
        let origin = format!("http://{}", listener.local_addr().expect("fake address"));
        let shared = Arc::new(Shared {
            origin: origin.clone(),
            knobs: Mutex::new(knobs),
            requests: Mutex::new(Vec::new()),
            files: Mutex::new(HashMap::new()),
            images_made: AtomicU32::new(0),
            work_calls: AtomicU64::new(0),
            released: tokio::sync::Semaphore::new(0),
            held: std::sync::atomic::AtomicUsize::new(0),
            arrived: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .route("/v1/images/generations", post(generations))
            .route("/v1/images/edits", post(edits))
            .route("/v1/images/variations", post(variations))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .route("/files/{name}", get(file))
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOpenAi { base_url: format!("{origin}/v1"), origin, shared, server }
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.shared.knobs));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Lets `calls` held work calls answer (see [`Knobs::hold`]).
    pub fn release(&self, calls: usize) {
        self.shared.released.add_permits(calls);
    }

    /// Waits until `calls` work calls are waiting for [`FakeOpenAi::release`].
    pub async fn wait_for_held(&self, calls: usize, limit: Duration) {
        let held = async {
            loop {
                let arrived = self.shared.arrived.notified();
                if self.shared.held.load(Ordering::SeqCst) >= calls {
                    return;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(limit, held).await.expect("the held work calls never arrived");
    }

    /// Requests to API endpoints (everything but `/files`).
    /// Calls that ask for work: every `/v1/…` call except `GET /v1/models`, which is Easel's
    /// background health probe and may come at any time.
    pub fn api_requests(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path.starts_with("/v1/") && r.path != "/v1/models").collect()
    }
}

// --- handlers ---

type St = State<Arc<Shared>>;

async fn generations(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let form_encoded = content_type.starts_with("application/x-www-form-urlencoded");
    let json = match form_encoded {
        true => Some(form_fields(&body)),
        false => serde_json::from_slice::<Value>(&body).ok(),
    };
    let rec =
        Recorded { json: json.clone(), form_encoded, ..record("POST", "/v1/images/generations", &headers) };
    let fault = match admit(&s, rec).await {
        Ok(fault) => fault,
        Err(early) => return early,
    };
    if lock(&s.knobs).form_only && !form_encoded {
        let body = json!({ "error": { "message": format!(
            "Unsupported Content-Type `{content_type}`: send application/x-www-form-urlencoded"
        ), "type": "invalid_request_error" } });
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(body)).into_response();
    }
    let Some(Value::Object(body)) = json else {
        return invalid("We could not parse the JSON body of your request.", None);
    };
    let params: Vec<(String, Value)> = body.into_iter().collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let model = get("model").and_then(|v| v.as_str().map(String::from)).unwrap_or_else(|| "dall-e-2".into());
    let known = ["model", "prompt", "n", "size", "response_format", "quality", "style", "user", "background"];
    if let Some(e) = check_unknown(&model, params.iter().map(|(k, _)| k.as_str()), &known) {
        return e;
    }
    if !get("prompt").and_then(|p| p.as_str().map(|s| !s.trim().is_empty())).unwrap_or(false) {
        return invalid("Missing required parameter: 'prompt'.", Some("prompt"));
    }
    let n = match get("n") {
        None => 1,
        Some(v) => match v.as_u64() {
            Some(n) => n,
            None => return invalid("Invalid type for 'n': expected an integer.", Some("n")),
        },
    };
    let size = get("size").and_then(|v| v.as_str().map(String::from));
    let format = get("response_format").and_then(|v| v.as_str().map(String::from));
    answer_images(&s, fault, &model, n, size.as_deref(), format.as_deref())
}

/// A form-encoded body as a JSON object, numbers as numbers (the form carries only text).
fn form_fields(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let url = reqwest::Url::parse(&format!("http://form/?{text}")).expect("a form body");
    let fields = url
        .query_pairs()
        .map(|(k, v)| {
            let value = v.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(v.as_ref()));
            (k.into_owned(), value)
        })
        .collect();
    Value::Object(fields)
}

async fn edits(State(s): St, req: Request) -> Response {
    multipart_images(s, req, "/v1/images/edits").await
}

async fn variations(State(s): St, req: Request) -> Response {
    multipart_images(s, req, "/v1/images/variations").await
}

async fn multipart_images(s: Arc<Shared>, req: Request, path: &str) -> Response {
    let headers = req.headers().clone();
    let parsed = match Multipart::from_request(req, &()).await {
        Ok(mut form) => read_form(&mut form).await,
        Err(e) => Err(e.body_text()),
    };
    let (fields, files) = parsed.clone().unwrap_or_default();
    let rec = Recorded { fields: fields.clone(), files: files.clone(), ..record("POST", path, &headers) };
    let fault = match admit(&s, rec).await {
        Ok(fault) => fault,
        Err(early) => return early,
    };
    if let Err(e) = parsed {
        return invalid(&format!("Invalid multipart body: {e}"), None);
    }
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let model = get("model").unwrap_or_else(|| "dall-e-2".into());
    let edits = path.ends_with("/edits");
    let mut known = vec!["model", "n", "size", "response_format", "user"];
    if edits {
        known.extend(["prompt", "quality", "background", "input_fidelity", "output_format"]);
    }
    if let Some(e) = check_unknown(&model, fields.iter().map(|(k, _)| k.as_str()), &known) {
        return e;
    }
    if edits && get("prompt").is_none_or(|p| p.trim().is_empty()) {
        return invalid("Missing required parameter: 'prompt'.", Some("prompt"));
    }
    if !edits && family(&model) == Family::GptImage {
        return invalid(
            "Invalid model. The model argument should be left blank or set to dall-e-2.",
            Some("model"),
        );
    }
    let images: Vec<&FilePart> =
        files.iter().filter(|f| f.field == "image" || f.field == "image[]").collect();
    if images.is_empty() {
        return invalid("Missing required parameter: 'image'.", Some("image"));
    }
    let limit = if edits && family(&model) == Family::GptImage { 16 } else { 1 };
    if images.len() > limit {
        return invalid(
            &format!("Too many images: at most {limit} may be given for {model}."),
            Some("image"),
        );
    }
    for (i, part) in images.iter().enumerate() {
        let ct = part.content_type.as_deref().unwrap_or("application/octet-stream");
        if !matches!(ct, "image/png" | "image/jpeg" | "image/webp") {
            return invalid(
                &format!(
                    "Invalid file 'image': unsupported mimetype ('{ct}'). Supported file formats are 'image/jpeg', \
                     'image/png', and 'image/webp'."
                ),
                Some("image"),
            );
        }
        if image::guess_format(&part.bytes).is_err() {
            return invalid(&format!("Invalid image file or mode for image {}.", i + 1), Some("image"));
        }
    }
    // A mask must be a PNG with transparency, the image's size (OpenAI's rules).
    if let Some(mask) = files.iter().find(|f| f.field == "mask") {
        let (Ok(m), Ok(i)) =
            (image::load_from_memory(&mask.bytes), image::load_from_memory(&images[0].bytes))
        else {
            return invalid("Invalid mask image.", Some("mask"));
        };
        if image::guess_format(&mask.bytes).ok() != Some(image::ImageFormat::Png) || !m.color().has_alpha() {
            return invalid("Invalid mask image: it must be a PNG with an alpha channel.", Some("mask"));
        }
        if (m.width(), m.height()) != (i.width(), i.height()) {
            return invalid(
                "Invalid mask image: the mask and the image must be the same size.",
                Some("mask"),
            );
        }
    }
    let n = match get("n").map(|v| v.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(_)) => return invalid("Invalid type for 'n': expected an integer.", Some("n")),
    };
    answer_images(&s, fault, &model, n, get("size").as_deref(), get("response_format").as_deref())
}

async fn read_form(form: &mut Multipart) -> Result<(Vec<(String, String)>, Vec<FilePart>), String> {
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    while let Some(field) = form.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(String::from);
        let content_type = field.content_type().map(String::from);
        let bytes = field.bytes().await.map_err(|e| e.body_text())?;
        if file_name.is_some() {
            files.push(FilePart { field: name, file_name, content_type, bytes });
        } else {
            fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok((fields, files))
}

/// `GET /v1/models`: what Easel's health probe calls; the key is checked like everywhere else.
async fn models(State(s): St, headers: HeaderMap) -> Response {
    let rec = record("GET", "/v1/models", &headers);
    // A counted fault (`fault_calls`) is meant for the calls a test makes; Easel's background
    // health probe must not use it up.
    let spared = {
        let k = lock(&s.knobs);
        k.faults_spare_models || k.fault_calls.is_some()
    };
    if spared {
        lock(&s.requests).push(rec);
    } else if let Err(early) = admit(&s, rec).await {
        return early;
    }
    let data: Vec<Value> = ["gpt-image-1", "dall-e-3", "dall-e-2"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn chat(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let json = serde_json::from_slice::<Value>(&body).ok();
    let rec = Recorded { json: json.clone(), ..record("POST", "/v1/chat/completions", &headers) };
    if let Err(early) = admit(&s, rec).await {
        return early;
    }
    let Some(body) = json else {
        return invalid("We could not parse the JSON body of your request.", None);
    };
    let Some(model) = body["model"].as_str() else {
        return invalid("you must provide a model parameter", Some("model"));
    };
    let Some(parts) = body["messages"][0]["content"].as_array() else {
        return invalid("Missing required parameter: 'messages[0].content'.", Some("messages"));
    };
    for part in parts {
        if part["type"] == "image_url" {
            let url = part["image_url"]["url"].as_str().unwrap_or_default();
            let decoded = url
                .strip_prefix("data:")
                .and_then(|rest| rest.split_once(";base64,"))
                .and_then(|(_, b64)| STANDARD.decode(b64).ok());
            if decoded.is_none_or(|bytes| image::guess_format(&bytes).is_err()) {
                return invalid("You uploaded an unsupported image.", Some("messages"));
            }
        }
    }
    let reply = lock(&s.knobs).describe_reply.clone();
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply, "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}
    }))
    .into_response()
}

async fn file(State(s): St, headers: HeaderMap, Path(name): Path<String>) -> Response {
    lock(&s.requests).push(record("GET", &format!("/files/{name}"), &headers));
    if name.starts_with("huge-") {
        // Declares far more than any cap and sends only the start: a client that trusts the
        // length refuses at once, one that reads on waits for bytes that never come.
        let start =
            futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(PNG_SIGNATURE)) });
        let body = axum::body::Body::from_stream(start.chain(futures::stream::pending()));
        return ([(header::CONTENT_TYPE, "image/png"), (header::CONTENT_LENGTH, "67108864")], body)
            .into_response();
    }
    match lock(&s.files).get(&name) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes.clone()).into_response(),
        None => error(404, "File not found.", "invalid_request_error", None, None),
    }
}

// --- behaviour shared by the API endpoints ---

fn record(method: &str, path: &str, headers: &HeaderMap) -> Recorded {
    Recorded {
        method: method.into(),
        path: path.into(),
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from),
        ..Recorded::default()
    }
}

/// Records the request, waits out the delay, checks the key and applies a fault that
/// replaces the answer (`Err`: answer with this). `Ok` carries the fault, if any, that shapes
/// the answer itself.
async fn admit(s: &Shared, rec: Recorded) -> Result<Option<Fault>, Response> {
    let presented = rec.authorization.clone();
    let work = rec.path != "/v1/models";
    lock(&s.requests).push(rec);
    let knobs = {
        let mut live = lock(&s.knobs);
        let mut snapshot = live.clone();
        if live.fault.is_some() {
            match live.fault_calls {
                Some(n) if n <= 1 => {
                    live.fault = None;
                    live.fault_calls = None;
                }
                Some(n) => live.fault_calls = Some(n - 1),
                None => {}
            }
        } else if let Some(cycle) = live.fault_cycle.as_ref().filter(|c| work && c.every > 0) {
            let n = s.work_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n.is_multiple_of(cycle.every) && !cycle.faults.is_empty() {
                snapshot.fault =
                    Some(cycle.faults[((n / cycle.every - 1) as usize) % cycle.faults.len()].clone());
            }
        }
        snapshot
    };
    if !knobs.delay.is_zero() {
        tokio::time::sleep(knobs.delay).await;
    }
    if knobs.hold && work {
        s.held.fetch_add(1, Ordering::SeqCst);
        s.arrived.notify_waiters();
        if let Ok(permit) = s.released.acquire().await {
            permit.forget();
        }
        s.held.fetch_sub(1, Ordering::SeqCst);
    }
    if let Some(expected) = &knobs.api_key {
        let key = presented.as_deref().and_then(|v| v.strip_prefix("Bearer "));
        match key {
            None => {
                return Err(error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header \
                     using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    None,
                    None,
                ));
            }
            Some(key) if key != expected => {
                let shown = if knobs.echo_key_in_errors { key.to_string() } else { mask(key) };
                return Err(error(
                    401,
                    &format!(
                        "Incorrect API key provided: {shown}. You can find your API key at the dashboard."
                    ),
                    "invalid_request_error",
                    None,
                    Some("invalid_api_key"),
                ));
            }
            Some(_) => {}
        }
    }
    match knobs.fault {
        Some(Fault::Status { status, headers, body }) => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, "application/json");
            for (k, v) in headers {
                response = response.header(k, v);
            }
            Err(response
                .body(body.into())
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
        }
        Some(Fault::ErrorWithOk { message, code }) => {
            let body =
                json!({"error": {"message": message, "type": "new_api_error", "param": "", "code": code}});
            Err((StatusCode::OK, Json(body)).into_response())
        }
        Some(Fault::Hang) => {
            std::future::pending::<()>().await;
            unreachable!("a pending future never completes")
        }
        Some(Fault::HtmlPage) => Err((
            [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser \
             before accessing the site.</body></html>",
        )
            .into_response()),
        other => Ok(other),
    }
}

/// OpenAI's masking: the first and last four characters.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    format!(
        "{}***{}",
        chars[..4].iter().collect::<String>(),
        chars[chars.len() - 4..].iter().collect::<String>()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    GptImage,
    DallE3,
    DallE2,
    Other,
}

fn family(model: &str) -> Family {
    if model.starts_with("gpt-image") {
        Family::GptImage
    } else if model.starts_with("dall-e-3") {
        Family::DallE3
    } else if model.starts_with("dall-e-2") {
        Family::DallE2
    } else {
        Family::Other
    }
}

/// OpenAI refuses fields it does not know; FLUX hosts take extras such as `seed`.
fn check_unknown<'a>(model: &str, keys: impl Iterator<Item = &'a str>, known: &[&str]) -> Option<Response> {
    if family(model) == Family::Other {
        return None;
    }
    for key in keys {
        if !known.contains(&key) {
            return Some(invalid(&format!("Unrecognized request argument supplied: {key}"), Some(key)));
        }
        if key == "response_format" && family(model) == Family::GptImage {
            return Some(invalid("Unknown parameter: 'response_format'.", Some("response_format")));
        }
    }
    None
}

fn answer_images(
    s: &Shared,
    fault: Option<Fault>,
    model: &str,
    n: u64,
    size: Option<&str>,
    format: Option<&str>,
) -> Response {
    let max_n = lock(&s.knobs).max_n as u64;
    if !(1..=10).contains(&n) {
        return invalid(&format!("{n} is not between 1 and 10 - 'n'"), Some("n"));
    }
    if family(model) == Family::DallE3 && n != 1 {
        return invalid("You must provide n=1 for this model.", Some("n"));
    }
    if let Some(message) = lock(&s.knobs).one_image_message.clone().filter(|_| n > 1) {
        return invalid(&message, Some("n"));
    }
    if n > max_n {
        return invalid(&format!("n must be at most {max_n} for this provider"), Some("n"));
    }
    let allowed: &[&str] = match family(model) {
        Family::GptImage => &["1024x1024", "1536x1024", "1024x1536", "auto"],
        Family::DallE3 => &["1024x1024", "1792x1024", "1024x1792"],
        Family::DallE2 => &["256x256", "512x512", "1024x1024"],
        Family::Other => &[],
    };
    let size = size.unwrap_or("1024x1024");
    let dims = if size == "auto" { Some((1024, 1024)) } else { parse_size(size) };
    let Some((w, h)) = dims.filter(|_| allowed.is_empty() || allowed.contains(&size)) else {
        return invalid(
            &format!("Invalid value: '{size}'. Supported values are: {}.", allowed.join(", ")),
            Some("size"),
        );
    };
    let format = match format {
        Some(f @ ("url" | "b64_json")) => f,
        Some(other) => {
            return invalid(
                &format!("Invalid value: '{other}'. Supported values are: 'url' and 'b64_json'."),
                None,
            );
        }
        // GPT image models always answer in base64; DALL·E defaults to URLs.
        None if family(model) == Family::GptImage => "b64_json",
        None => "url",
    };
    let url_origin = lock(&s.knobs).url_origin.clone().unwrap_or_else(|| s.origin.clone());
    if matches!(fault, Some(Fault::MalformedJson)) {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"created": 1700000000, "data": [{"b64_js"#,
        )
            .into_response();
    }
    let count = if matches!(fault, Some(Fault::MissingImage)) { n - 1 } else { n };
    let mut data = Vec::new();
    for _ in 0..count {
        let number = s.images_made.fetch_add(1, Ordering::SeqCst);
        let bytes = match fault {
            Some(Fault::NotAnImage) => Bytes::from_static(b"<html><body>502 Bad Gateway</body></html>"),
            Some(Fault::TruncatedImage) => {
                let whole = noisy_png(64, 64, number);
                whole.slice(..whole.len() / 2)
            }
            Some(Fault::HugeDimensions) => png_header(9000, 9000),
            _ => png(w, h, number),
        };
        let mut item = json!({});
        if matches!(fault, Some(Fault::OversizedImage)) {
            item["url"] = json!(format!("{url_origin}/files/huge-{number}.png"));
        } else if format == "url" {
            let name = format!("img-{number}.png");
            lock(&s.files).insert(name.clone(), bytes);
            item["url"] = json!(format!("{url_origin}/files/{name}"));
        } else if matches!(fault, Some(Fault::BadBase64)) {
            item["b64_json"] = json!("%%% this is not base64 %%%");
        } else {
            item["b64_json"] = json!(STANDARD.encode(&bytes));
        }
        if family(model) == Family::DallE3 {
            item["revised_prompt"] = json!(format!("A detailed rendering, image {number}"));
        }
        data.push(item);
    }
    Json(json!({"created": 1_700_000_000, "data": data})).into_response()
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A `w`×`h` PNG of noise (so it does not compress to almost nothing), seeded by `number`.
fn noisy_png(w: u32, h: u32, number: u32) -> Bytes {
    let mut rng = fastrand::Rng::with_seed(number as u64);
    let img = image::RgbImage::from_fn(w, h, |_, _| image::Rgb([rng.u8(..), rng.u8(..), rng.u8(..)]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode a PNG");
    Bytes::from(out.into_inner())
}

/// A PNG that claims to be `w`×`h` 8-bit RGB: signature, IHDR, and the start of an IDAT (a
/// decoder reads up to the first pixel data before it reports a size), then nothing more.
fn png_header(w: u32, h: u32) -> Bytes {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = PNG_SIGNATURE.to_vec();
    for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", &[0x78, 0x9c, 0x01, 0x00, 0x00][..])] {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    Bytes::from(out)
}

/// The CRC-32 PNG chunks carry (IEEE, reflected), bit by bit: a few bytes, no table needed.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
        .filter(|&(w, h)| (1..=4096).contains(&w) && (1..=4096).contains(&h))
}

/// A `w`×`h` PNG whose colour is unique to `number`.
pub fn png(w: u32, h: u32, number: u32) -> Bytes {
    // 67, 131 and 199 are odd, so each channel alone already differs for 256 numbers in a row.
    let channel = |k: u32, c: u32| number.wrapping_mul(k).wrapping_add(c) as u8;
    let colour = [channel(67, 40), channel(131, 90), channel(199, 150)];
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(colour));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).expect("encode a PNG");
    Bytes::from(out.into_inner())
}

fn invalid(message: &str, param: Option<&str>) -> Response {
    error(400, message, "invalid_request_error", param, None)
}

fn error(status: u16, message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": param, "code": code}});
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
}
