//! A fake Open Journey API over real HTTP on 127.0.0.1, behaving as its integration guide
//! shows: `POST /generate/batch` (answers `processing` with a `batch_id`),
//! `GET /generate/batch/{id}` (processing with `completed` counting up, then `completed` with
//! four `results`), `POST /webhooks` registration with `batch.completed` deliveries POSTed
//! when a batch finishes, `X-RateLimit-*` headers on every API answer with a real budget
//! (a request while `Remaining` is 0 before `Reset` gets `429 rate_limit_exceeded`), the
//! documented error body, PNGs under `/cdn/`, and a record of every request.
//!
//! Batches move one step per GET by default; with `advance_on_get` off only
//! [`FakeOpenJourney::complete`] finishes one (and delivers the webhook before returning).

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const COLOURS: [[u8; 3]; 4] = [[220, 20, 60], [20, 220, 60], [20, 60, 220], [220, 220, 20]];

#[derive(Debug, Clone)]
pub struct Knobs {
    pub key: String,
    /// Repeat the presented key in `invalid_api_key` messages.
    pub echo_key: bool,
    pub advance_on_get: bool,
    /// Answer `POST /generate/batch` with this status and error code.
    pub post_error: Option<(u16, String)>,
    /// Finished batches end `failed` with this error code instead.
    pub batch_error: Option<String>,
    /// Requests per window; `None` is unlimited (headers still sent).
    pub rate_budget: Option<u32>,
    /// Seconds from the budget running out to `X-RateLimit-Reset`.
    pub window_secs: u64,
    /// A finished batch lists this many results.
    pub results: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            key: "key".into(),
            echo_key: false,
            advance_on_get: true,
            post_error: None,
            batch_error: None,
            rate_budget: None,
            window_secs: 1,
            results: 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub auth: Option<String>,
    pub body: Value,
    /// Unix time in milliseconds.
    pub at_ms: u128,
    /// The status it was answered with.
    pub status: u16,
}

struct Batch {
    gets: u32,
    done: bool,
}

struct Inner {
    knobs: Knobs,
    base: String,
    batches: HashMap<String, Batch>,
    webhooks: Vec<String>,
    requests: Vec<Recorded>,
    remaining: u32,
    reset_ms: u128,
    next: u32,
}

#[derive(Clone)]
pub struct FakeOpenJourney {
    /// `…/v1`, as `base_url` is configured.
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    gets: watch::Receiver<u32>,
    server: Arc<JoinHandle<()>>,
}

impl Drop for FakeOpenJourney {
    fn drop(&mut self) {
        if Arc::strong_count(&self.server) == 1 {
            self.server.abort();
        }
    }
}

type Shared = (Arc<Mutex<Inner>>, Arc<watch::Sender<u32>>);

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

impl FakeOpenJourney {
    pub async fn start(knobs: Knobs) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let root = format!("http://{}", listener.local_addr().unwrap());
        let remaining = knobs.rate_budget.unwrap_or(u32::MAX);
        let inner = Arc::new(Mutex::new(Inner {
            knobs,
            base: root.clone(),
            batches: HashMap::new(),
            webhooks: Vec::new(),
            requests: Vec::new(),
            remaining,
            reset_ms: 0,
            next: 0,
        }));
        let (gets_tx, gets) = watch::channel(0);
        let gets_tx = Arc::new(gets_tx);
        let app = Router::new()
            .route("/v1/generate/batch", post(create))
            .route("/v1/generate/batch/{id}", get(fetch))
            .route("/v1/webhooks", post(register))
            .route("/cdn/{name}", get(cdn))
            .with_state((inner.clone(), gets_tx));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        FakeOpenJourney { base_url: format!("{root}/v1"), inner, gets, server: Arc::new(server) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn posts_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == Method::POST && r.path == path).collect()
    }

    pub fn webhooks(&self) -> Vec<String> {
        self.lock().webhooks.clone()
    }

    pub fn seed_batch(&self, id: &str) {
        self.lock().batches.insert(id.into(), Batch { gets: 0, done: false });
    }

    /// Waits until `n` batch GETs have been answered in all.
    pub async fn wait_gets(&self, n: u32) {
        let mut rx = self.gets.clone();
        rx.wait_for(|g| *g >= n).await.expect("fake alive");
    }

    /// Finishes a batch and delivers `batch.completed` to every registered webhook.
    pub async fn complete(&self, id: &str) {
        let (hooks, event) = {
            let mut inner = self.lock();
            inner.batches.get_mut(id).expect("known batch").done = true;
            let event = json!({"event": "batch.completed", "timestamp": "2026-01-15T10:30:05Z",
                "data": batch_json(&inner, id)});
            (inner.webhooks.clone(), event)
        };
        let client = reqwest::Client::new();
        for url in hooks {
            let status = client.post(&url).json(&event).send().await.expect("deliver").status();
            assert!(status.is_success(), "webhook answered {status}");
        }
    }
}

pub fn png(colour: [u8; 3], size: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(size, size, image::Rgb(colour));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

fn batch_json(inner: &Inner, id: &str) -> Value {
    let batch = &inner.batches[id];
    if !batch.done {
        let completed = (batch.gets.saturating_sub(1) * 2).min(3);
        return json!({"batch_id": id, "status": "processing", "total": 4, "completed": completed, "results": []});
    }
    if let Some(code) = &inner.knobs.batch_error {
        return json!({"batch_id": id, "status": "failed", "total": 4, "completed": 0, "results": [],
            "error": {"code": code, "message": "Prompt violates the content policy", "details": {}}});
    }
    let results: Vec<Value> = (0..inner.knobs.results)
        .map(|i| json!({"id": format!("img_{id}_{i}"), "url": format!("{}/cdn/{id}-{i}.png", inner.base), "prompt": "p"}))
        .collect();
    json!({"batch_id": id, "status": "completed", "total": 4, "completed": 4, "results": results})
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "details": {}}});
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

/// Records the request, spends the budget, checks the key; `Err` is the refusal to send.
#[allow(clippy::result_large_err)]
fn admit(
    inner: &mut Inner,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Value,
) -> Result<(), Response> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let now = now_ms();
    if inner.remaining == 0 && now >= inner.reset_ms {
        inner.remaining = inner.knobs.rate_budget.unwrap_or(u32::MAX);
    }
    let outcome = if inner.remaining == 0 {
        let retry = (inner.reset_ms.saturating_sub(now)).div_ceil(1000);
        let mut r = error(429, "rate_limit_exceeded", "Too many requests");
        r.headers_mut().insert("retry-after", retry.to_string().parse().unwrap());
        Err(r)
    } else if auth.as_deref() != Some(format!("Bearer {}", inner.knobs.key).as_str()) {
        let shown = if inner.knobs.echo_key { auth.clone().unwrap_or_default() } else { String::new() };
        Err(error(401, "invalid_api_key", &format!("API key is invalid {shown}")))
    } else {
        Ok(())
    };
    if outcome.is_ok() {
        inner.remaining -= 1;
        if inner.remaining == 0 {
            inner.reset_ms = now + u128::from(inner.knobs.window_secs) * 1000;
        }
    }
    let status = outcome.as_ref().map_or_else(|r| r.status().as_u16(), |_| 200);
    inner.requests.push(Recorded { method, path: uri.path().to_string(), auth, body, at_ms: now, status });
    outcome
}

fn with_limits(inner: &Inner, mut response: Response) -> Response {
    let h = response.headers_mut();
    let limit = inner.knobs.rate_budget.unwrap_or(1000);
    h.insert("x-ratelimit-limit", limit.to_string().parse().unwrap());
    h.insert("x-ratelimit-remaining", inner.remaining.min(limit).to_string().parse().unwrap());
    let reset_secs = if inner.remaining == 0 { inner.reset_ms.div_ceil(1000) } else { now_ms() / 1000 + 60 };
    h.insert("x-ratelimit-reset", reset_secs.to_string().parse().unwrap());
    response
}

async fn create(
    State((inner, _)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if let Err(r) = admit(&mut inner, method, &uri, &headers, body.clone()) {
        return with_limits(&inner, r);
    }
    if let Some((status, code)) = inner.knobs.post_error.clone() {
        return with_limits(&inner, error(status, &code, "Prompt cannot be empty"));
    }
    let ok = body["requests"]
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|q| q["prompt"].is_string()));
    if !ok {
        return with_limits(&inner, error(400, "invalid_prompt", "Prompt cannot be empty"));
    }
    inner.next += 1;
    let id = format!("batch_{:06}", inner.next);
    inner.batches.insert(id.clone(), Batch { gets: 0, done: false });
    let answer = json!({"batch_id": id, "status": "processing", "total": 4, "completed": 0, "results": []});
    with_limits(&inner, Json(answer).into_response())
}

async fn fetch(
    State((inner, gets)): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let response = {
        let mut inner = inner.lock().unwrap();
        if let Err(r) = admit(&mut inner, method, &uri, &headers, Value::Null) {
            return with_limits(&inner, r);
        }
        let advance = inner.knobs.advance_on_get;
        match inner.batches.get_mut(&id) {
            None => with_limits(&inner, error(404, "not_found", "Batch not found")),
            Some(batch) => {
                batch.gets += 1;
                if advance && batch.gets >= 3 {
                    batch.done = true;
                }
                with_limits(&inner, Json(batch_json(&inner, &id)).into_response())
            }
        }
    };
    gets.send_modify(|g| *g += 1);
    response
}

async fn register(
    State((inner, _)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if let Err(r) = admit(&mut inner, method, &uri, &headers, body.clone()) {
        return with_limits(&inner, r);
    }
    let Some(url) = body["url"].as_str() else {
        return with_limits(&inner, error(400, "invalid_request", "url is required"));
    };
    inner.webhooks.push(url.to_string());
    let answer = json!({"id": "wh_1", "url": url, "events": body["events"]});
    with_limits(&inner, Json(answer).into_response())
}

async fn cdn(
    State((inner, _)): State<Shared>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    inner.requests.push(Recorded {
        method: Method::GET,
        path: uri.path().to_string(),
        auth,
        body: Value::Null,
        at_ms: now_ms(),
        status: 200,
    });
    let index =
        name.trim_end_matches(".png").rsplit('-').next().and_then(|i| i.parse::<usize>().ok()).unwrap_or(0);
    ([("content-type", "image/png")], png(COLOURS[index % 4], 48)).into_response()
}
