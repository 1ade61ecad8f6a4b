//! A fake ImagineAPI over real HTTP on 127.0.0.1, behaving as the guide shows: a Directus
//! server with `POST /items/images/` (answers the new item, `status: pending`) and
//! `GET /items/images/{id}` walking each item through a script of states (by default
//! pending → in-progress 30 → in-progress 70 → completed), Bearer auth with Directus's error
//! bodies, the grid and four upscaled PNGs under `/assets/`, injectable faults, and a record
//! of every request. Items move one step per GET, so tests wait on polls, never the clock.

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

/// The colours of the four upscaled images (grid order); the grid is grey.
pub const COLOURS: [[u8; 3]; 4] = [[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]];

#[derive(Debug, Clone)]
pub enum Step {
    Pending,
    InProgress(Value),
    Completed,
    /// Completed with the grid `url` only (no `upscaled_urls`).
    CompletedGridOnly,
    /// Completed with neither.
    CompletedEmpty,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Knobs {
    pub token: String,
    /// Echo the presented token in 401 bodies, as careless servers do.
    pub echo_token: bool,
    pub script: Vec<Step>,
    /// Answer POSTs with this status, body and optional Retry-After.
    pub post_fault: Option<(u16, Value, Option<u64>)>,
    /// Answer the first N GETs of an item with this status (then behave).
    pub get_fault: Option<(u16, u32)>,
    /// POST answers with a body that is not an item.
    pub garbage_post: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            token: "token".into(),
            echo_token: false,
            script: vec![
                Step::Pending,
                Step::InProgress(json!(30)),
                Step::InProgress(json!("70")),
                Step::Completed,
            ],
            post_fault: None,
            get_fault: None,
            garbage_post: false,
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

#[derive(Default)]
struct Item {
    prompt: String,
    reference: Value,
    gets: u32,
}

struct Inner {
    knobs: Knobs,
    items: HashMap<String, Item>,
    requests: Vec<Recorded>,
    next: u32,
    base: String,
}

#[derive(Clone)]
pub struct FakeImagineApi {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    server: Arc<JoinHandle<()>>,
}

impl Drop for FakeImagineApi {
    fn drop(&mut self) {
        if Arc::strong_count(&self.server) == 1 {
            self.server.abort();
        }
    }
}

impl FakeImagineApi {
    pub async fn start(knobs: Knobs) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            knobs,
            items: HashMap::new(),
            requests: Vec::new(),
            next: 0,
            base: base_url.clone(),
        }));
        let app = Router::new()
            .route("/items/images/", post(create))
            .route("/items/images/{id}", get(fetch))
            .route("/assets/{name}", get(asset))
            .route("/users/me", get(me))
            .fallback(|| async { (StatusCode::NOT_FOUND, Json(errors("Route not found"))) })
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        FakeImagineApi { base_url, inner, server: Arc::new(server) }
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

    /// Creates an item as if an earlier Easel had submitted it.
    pub fn seed_item(&self, id: &str, prompt: &str) {
        self.lock().items.insert(id.into(), Item { prompt: prompt.into(), ..Item::default() });
    }

    pub fn gets_of(&self, id: &str) -> u32 {
        self.lock().items.get(id).map_or(0, |i| i.gets)
    }
}

/// A solid PNG of `size`.
pub fn png(colour: [u8; 3], size: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(size, size, image::Rgb(colour));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

fn errors(message: &str) -> Value {
    json!({"errors": [{"message": message, "extensions": {"code": "ERROR"}}]})
}

fn record(inner: &mut Inner, method: Method, uri: &Uri, headers: &HeaderMap, body: Value) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    inner.requests.push(Recorded { method, path: uri.path().to_string(), auth, body });
}

/// `None` when the Bearer token is right, else Directus's 401.
fn check_auth(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let presented = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if presented == format!("Bearer {}", inner.knobs.token) {
        return None;
    }
    let message = if inner.knobs.echo_token {
        format!("Invalid user credentials: {presented}")
    } else {
        "Invalid user credentials.".into()
    };
    Some((StatusCode::UNAUTHORIZED, Json(errors(&message))).into_response())
}

fn item_json(base: &str, id: &str, item: &Item, step: &Step) -> Value {
    let upscaled: Vec<String> = (0..4).map(|i| format!("{base}/assets/{id}-u{i}.png")).collect();
    let (status, progress, url, urls, error) = match step {
        Step::Pending => ("pending", Value::Null, Value::Null, Value::Null, Value::Null),
        Step::InProgress(p) => ("in-progress", p.clone(), Value::Null, Value::Null, Value::Null),
        Step::Completed => (
            "completed",
            Value::Null,
            json!(format!("{base}/assets/{id}-grid.png")),
            json!(upscaled),
            Value::Null,
        ),
        Step::CompletedGridOnly => (
            "completed",
            Value::Null,
            json!(format!("{base}/assets/{id}-grid.png")),
            Value::Null,
            Value::Null,
        ),
        Step::CompletedEmpty => ("completed", Value::Null, Value::Null, Value::Null, Value::Null),
        Step::Failed(reason) => ("failed", Value::Null, Value::Null, Value::Null, json!(reason)),
    };
    json!({"data": {
        "id": id, "prompt": item.prompt, "results": null, "user_created": "u-1",
        "date_created": "2023-09-18T22:34:10.127Z", "status": status, "progress": progress,
        "url": url, "error": error, "upscaled_urls": urls, "upscaled": [], "ref": item.reference,
    }})
}

async fn create(
    State(inner): State<Arc<Mutex<Inner>>>,
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
    if let Some((status, fault, retry)) = inner.knobs.post_fault.clone() {
        let mut response = (StatusCode::from_u16(status).unwrap(), Json(fault)).into_response();
        if let Some(secs) = retry {
            response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
        }
        return response;
    }
    if inner.knobs.garbage_post {
        return (StatusCode::OK, "<html>hello</html>").into_response();
    }
    let Some(prompt) = body.get("prompt").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
        return (StatusCode::BAD_REQUEST, Json(errors("\"prompt\" is required"))).into_response();
    };
    inner.next += 1;
    let id = format!("d85674b8-0000-4000-8000-{:012}", inner.next);
    let item =
        Item { prompt: prompt.into(), reference: body.get("ref").cloned().unwrap_or(Value::Null), gets: 0 };
    let answer = item_json(&inner.base, &id, &item, &Step::Pending);
    inner.items.insert(id, item);
    (StatusCode::OK, Json(answer)).into_response()
}

async fn fetch(
    State(inner): State<Arc<Mutex<Inner>>>,
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
    let (script, fault, base) = (inner.knobs.script.clone(), inner.knobs.get_fault, inner.base.clone());
    let Some(item) = inner.items.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, Json(errors("Item not found"))).into_response();
    };
    item.gets += 1;
    if let Some((status, times)) = fault
        && item.gets <= times
    {
        let mut response = (StatusCode::from_u16(status).unwrap(), Json(errors("boom"))).into_response();
        response.headers_mut().insert("retry-after", "0".parse().unwrap());
        return response;
    }
    let gets = item.gets - fault.map_or(0, |f| f.1);
    let step = &script[(gets as usize - 1).min(script.len() - 1)];
    (StatusCode::OK, Json(item_json(&base, &id, item, step))).into_response()
}

async fn asset(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    record(&mut inner, method, &uri, &headers, Value::Null);
    if let Some(denied) = check_auth(&inner, &headers) {
        return denied;
    }
    let colour = match name.rsplit_once('-').map(|(_, tail)| tail) {
        Some("u0.png") => COLOURS[0],
        Some("u1.png") => COLOURS[1],
        Some("u2.png") => COLOURS[2],
        Some("u3.png") => COLOURS[3],
        _ => [128, 128, 128],
    };
    ([("content-type", "image/png")], png(colour, 64)).into_response()
}

async fn me(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let inner = inner.lock().unwrap();
    check_auth(&inner, &headers).unwrap_or_else(|| Json(json!({"data": {"id": "u-1"}})).into_response())
}
