//! A fake of ohmygpt's Midjourney Open API over real HTTP on 127.0.0.1, behaving as the
//! research note describes: POSTs under `/api/v1/ai/draw/mj/` with a Bearer key, JSON or
//! form bodies (arrays in a form as JSON text), `model=midjourney` required, answers in the
//! `{statusCode, message, errorType, data}` envelope, integer task ids, tasks moving
//! NOT_START → SUBMITTED → IN_PROGRESS "10%", "37%", "80%" (with preview images) → SUCCESS
//! "100%" with a 2×2 grid and `actions` of customIds (or FAILURE with a `failReason`),
//! `/action` by customId, the bare task POSTed to each task's `webhook` on every change, a
//! 402 `insufficient_balance_error`, NestJS's 404 for unknown routes, and injectable faults
//! (an HTML 502 from a CDN front). Images live on a second port, another origin like
//! Discord's CDN. Every request is recorded.
//!
//! Tasks move one step per `/query` by default; with `advance_on_query` off only
//! [`FakeOhMyGpt::tick`] moves them (delivering their webhooks before it returns).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[path = "fake_ohmygpt/tasks.rs"]
mod tasks;

use tasks::{FakeTask, STEPS};

#[derive(Debug, Clone)]
pub struct Knobs {
    /// The Bearer key it requires; `None` accepts any.
    pub api_key: Option<String>,
    /// Error envelopes come with HTTP 200, as the Go and C# clients expect.
    pub errors_as_http_200: bool,
    /// Refuse JSON bodies as a form-only server would (its parser sees no fields).
    pub form_only: bool,
    pub advance_on_query: bool,
    /// Tasks end in FAILURE with this `failReason`.
    pub fail_reason: Option<String>,
    /// Create calls get 402 `insufficient_balance_error`.
    pub out_of_balance: bool,
    /// Finished tasks also carry an `imageS3Url` (served from `/fake-s3/`).
    pub s3_copies: bool,
    /// Answer API calls under this path prefix with this status, content type and body.
    pub fault: Option<(String, u16, &'static str, String)>,
    /// With a fault: clear it after this many faulty answers.
    pub fault_calls: Option<u32>,
    pub describe_text: String,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            api_key: None,
            errors_as_http_200: false,
            form_only: false,
            advance_on_query: true,
            fail_reason: None,
            out_of_balance: false,
            s3_copies: false,
            fault: None,
            fault_calls: None,
            describe_text: "1️⃣ a red fox in fresh snow, soft morning light --ar 4:3\n\n\
                            2️⃣ watercolour fox asleep, muted palette --ar 4:3\n\n\
                            3️⃣ a fox crossing a frozen river, cinematic --ar 4:3\n\n\
                            4️⃣ minimal flat fox illustration --ar 4:3"
                .into(),
        }
    }
}

/// The HTML page a Cloudflare front answers when the origin is down.
pub const CDN_502: &str = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\
                           <body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: Option<String>,
    pub auth: Option<String>,
    /// `"json"` or `"form"` (`"get"` for image downloads).
    pub format: &'static str,
    /// The fields, whichever the format; a form's `base64Array` parsed from its JSON text.
    pub body: Value,
}

const FIRST_ID: u64 = 3432;

struct Shared {
    cdn_origin: String,
    knobs: Mutex<Knobs>,
    tasks: Mutex<BTreeMap<u64, FakeTask>>,
    requests: Mutex<Vec<Recorded>>,
    /// `(status, progress, HTTP answer)` of each webhook delivery.
    delivered: Mutex<Vec<(String, String, u16)>>,
    counter: watch::Sender<usize>,
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeOhMyGpt {
    /// The server root, for `base_url`.
    pub base_url: String,
    shared: Arc<Shared>,
    servers: Vec<JoinHandle<()>>,
}

impl Drop for FakeOhMyGpt {
    fn drop(&mut self) {
        self.servers.iter().for_each(JoinHandle::abort);
    }
}

impl FakeOhMyGpt {
    /// The fake CDN's `host:port`: on loopback, so a backend fetches from it only when the
    /// config lists it in `image_hosts`, as an admin lists a CDN on a private network.
    pub fn cdn_host(&self) -> String {
        self.shared.cdn_origin.trim_start_matches("http://").to_string()
    }

    pub async fn start(knobs: Knobs) -> FakeOhMyGpt {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake");
        let cdn = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake CDN");
        let origin = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().expect("address"));
        let base_url = origin(&api);
        let shared = Arc::new(Shared {
            cdn_origin: origin(&cdn),
            knobs: Mutex::new(knobs),
            tasks: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
            counter: watch::channel(0).0,
            http: reqwest::Client::new(),
        });
        let api_app = Router::new()
            .route("/api/v1/ai/draw/mj/{endpoint}", post(endpoint))
            .fallback(not_found)
            .with_state(shared.clone());
        let cdn_app = Router::new().route("/{dir}/{name}", get(image)).with_state(shared.clone());
        let servers = [(api, api_app), (cdn, cdn_app)]
            .into_iter()
            .map(|(listener, app)| {
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                })
            })
            .collect();
        FakeOhMyGpt { base_url, shared, servers }
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.shared.knobs));
    }

    /// Image downloads from the CDN port (`/fake-cdn/…`, `/fake-s3/…`).
    pub fn downloads(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).iter().filter(|r| r.path.starts_with("/fake-")).cloned().collect()
    }

    /// Requests to one endpoint (`imagine`, `query`, …); all with `""`.
    pub fn requests_to(&self, endpoint: &str) -> Vec<Recorded> {
        let path = format!("/api/v1/ai/draw/mj/{endpoint}");
        lock(&self.shared.requests).iter().filter(|r| r.path.starts_with(&path)).cloned().collect()
    }

    /// `(status, progress, HTTP answer)` of each webhook delivery so far.
    pub fn delivered(&self) -> Vec<(String, String, u16)> {
        lock(&self.shared.delivered).clone()
    }

    /// Waits (up to 5 s) until the recorded requests satisfy `ready`.
    pub async fn wait_for(&self, ready: impl Fn(&[Recorded]) -> bool) {
        let mut rx = self.shared.counter.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while !ready(&lock(&self.shared.requests)) {
                let _ = rx.changed().await;
            }
        });
        waited.await.expect("the fake saw the expected requests in time");
    }

    /// Adds a task that has already finished, as if submitted before a restart.
    pub fn add_finished(&self, prompt: &str) -> u64 {
        let id = new_task(&self.shared, "IMAGINE", prompt, "FAST", None, 0);
        lock(&self.shared.tasks).entry(id).and_modify(|t| t.step = STEPS);
        id
    }

    /// Moves every unfinished task one step, delivering its webhook before returning.
    pub async fn tick(&self) {
        let ids: Vec<u64> = lock(&self.shared.tasks).keys().copied().collect();
        for id in ids {
            advance(&self.shared, id).await;
        }
    }
}

fn new_task(
    s: &Shared,
    action: &'static str,
    prompt: &str,
    pool: &str,
    hook: Option<String>,
    index: u8,
) -> u64 {
    let fail_reason = lock(&s.knobs).fail_reason.clone();
    let mut tasks = lock(&s.tasks);
    let id = FIRST_ID + tasks.len() as u64;
    let task = FakeTask {
        action,
        prompt: prompt.into(),
        pool: pool.into(),
        step: 0,
        webhook: hook,
        index,
        fail_reason,
    };
    tasks.insert(id, task);
    id
}

/// One step forward, and the webhook delivery that goes with it.
async fn advance(s: &Shared, id: u64) {
    let hook = {
        let mut tasks = lock(&s.tasks);
        let Some(t) = tasks.get_mut(&id).filter(|t| t.step < STEPS) else { return };
        t.step += 1;
        t.webhook.clone()
    };
    let (Some(url), Some(body)) = (hook, snapshot(s, id)) else { return };
    let answer = s.http.post(&url).json(&body).send().await.map_or(0, |r| r.status().as_u16());
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    lock(&s.delivered).push((text(&body["status"]), text(&body["progress"]), answer));
}

/// The task object as it is now.
fn snapshot(s: &Shared, id: u64) -> Option<Value> {
    let t = lock(&s.tasks).get(&id)?.clone();
    let knobs = lock(&s.knobs).clone();
    Some(t.to_json(id, &knobs, &s.cdn_origin))
}

// --- handlers ---

type St = State<Arc<Shared>>;

/// An envelope: with HTTP `status`, or 200 when errors come as HTTP 200.
fn envelope(s: &Shared, code: u16, message: &str, error_type: Option<&str>, data: Value) -> Response {
    let http = if code == 200 || lock(&s.knobs).errors_as_http_200 { 200 } else { code };
    let mut body = json!({"statusCode": code, "message": message, "data": data});
    if let Some(kind) = error_type {
        body["errorType"] = json!(kind);
    }
    (StatusCode::from_u16(http).unwrap_or(StatusCode::OK), axum::Json(body)).into_response()
}

fn refuse(s: &Shared, message: &str) -> Response {
    envelope(s, 400, message, None, Value::Null)
}

/// The body's fields, whichever the format: `(format, fields)`.
fn parse_body(headers: &HeaderMap, body: &str) -> (&'static str, Value) {
    let json_body =
        headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
    if json_body {
        return ("json", serde_json::from_str(body).unwrap_or(Value::Null));
    }
    let url = reqwest::Url::parse(&format!("http://form/?{body}")).expect("a form body");
    let mut fields = serde_json::Map::new();
    for (key, value) in url.query_pairs() {
        let value = match key.as_ref() {
            "base64Array" => serde_json::from_str(&value).unwrap_or(json!(value)),
            _ => json!(value),
        };
        fields.insert(key.into_owned(), value);
    }
    ("form", Value::Object(fields))
}

async fn endpoint(
    State(s): St,
    Path(endpoint): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(String::from);
    let (format, req) = parse_body(&headers, &body);
    let path = uri.path().to_string();
    let recorded = Recorded {
        path: path.clone(),
        query: uri.query().map(String::from),
        auth: auth.clone(),
        format,
        body: req.clone(),
    };
    lock(&s.requests).push(recorded);
    s.counter.send_modify(|n| *n += 1);
    let knobs = lock(&s.knobs).clone();
    if let Some((_, status, content_type, body)) = knobs.fault.filter(|f| path.starts_with(&f.0)) {
        let mut k = lock(&s.knobs);
        if let Some(n) = k.fault_calls.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                k.fault = None;
            }
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        return (status, [("content-type", content_type)], body).into_response();
    }
    if let Some(key) = &knobs.api_key
        && auth.as_deref() != Some(format!("Bearer {key}").as_str())
    {
        return envelope(&s, 401, "Incorrect API key provided", Some("invalid_api_key_error"), Value::Null);
    }
    if knobs.form_only && format == "json" || req["model"] != "midjourney" {
        return refuse(&s, "model must be midjourney");
    }
    let pool = req["type"].as_str().unwrap_or("FAST").to_string();
    if !["FAST", "NORMAL"].contains(&pool.as_str()) {
        return refuse(&s, "type must be FAST or NORMAL");
    }
    let creates = ["imagine", "action", "blend", "describe"].contains(&endpoint.as_str());
    if creates && knobs.out_of_balance {
        let message = "User balance is insufficient, your request has been rejected, please recharge in time at https://www.ohmygpt.com/pay .";
        return envelope(&s, 402, message, Some("insufficient_balance_error"), Value::Null);
    }
    let hook = req["webhook"].as_str().map(String::from);
    let made = match endpoint.as_str() {
        "imagine" => match req["prompt"].as_str().filter(|p| !p.trim().is_empty()) {
            Some(prompt) => new_task(&s, "IMAGINE", prompt, &pool, hook, 0),
            None => return refuse(&s, "prompt should not be empty"),
        },
        "blend" => {
            let n = req["base64Array"].as_array().map_or(0, |a| a.iter().filter(|i| is_data_url(i)).count());
            if !(2..=5).contains(&n) {
                return refuse(&s, "base64Array needs 2 to 5 images");
            }
            new_task(&s, "BLEND", req["dimensions"].as_str().unwrap_or("SQUARE"), &pool, hook, 0)
        }
        "describe" if is_data_url(&req["base64"]) => new_task(&s, "DESCRIBE", "", &pool, hook, 0),
        "describe" => return refuse(&s, "base64 should be a data URL"),
        "action" => match act(&s, &req, &pool, hook) {
            Ok(id) => id,
            Err(message) => return refuse(&s, message),
        },
        "query" => {
            let id = text(&req["taskId"]).and_then(|t| t.parse().ok()).unwrap_or(0);
            if knobs.advance_on_query {
                advance(&s, id).await;
            }
            return envelope(&s, 200, "Success", None, snapshot(&s, id).unwrap_or(Value::Null));
        }
        "query-mj-tasks" => {
            let ids: Vec<u64> = lock(&s.tasks).keys().rev().take(5).copied().collect();
            let tasks: Vec<Value> = ids.into_iter().filter_map(|id| snapshot(&s, id)).collect();
            return envelope(
                &s,
                200,
                "Success",
                None,
                json!({"total": lock(&s.tasks).len(), "tasks": tasks}),
            );
        }
        _ => return not_found(uri).await,
    };
    envelope(&s, 200, "Success", None, json!(made))
}

fn is_data_url(v: &Value) -> bool {
    v.as_str().is_some_and(|u| u.starts_with("data:image/") && u.contains(";base64,"))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(String::from).or_else(|| v.as_u64().map(|n| n.to_string()))
}

/// `/action` on a finished parent: the new task's id, or the refusal.
fn act(s: &Shared, req: &Value, pool: &str, hook: Option<String>) -> Result<u64, &'static str> {
    let parent_id = text(&req["taskId"]).and_then(|t| t.parse::<u64>().ok()).ok_or("taskId is required")?;
    let parent = lock(&s.tasks).get(&parent_id).cloned().ok_or("task not found")?;
    if parent.step < STEPS || parent.fail_reason.is_some() {
        return Err("the task has not succeeded");
    }
    let custom = req["customId"].as_str().unwrap_or("");
    let listed = snapshot(s, parent_id).and_then(|t| t["actions"].as_array().cloned()).unwrap_or_default();
    if !listed.iter().any(|a| a["customId"] == custom) {
        return Err("customId is not an action of this task");
    }
    let parts: Vec<&str> = custom.split("::").collect();
    let index = parts.get(3).and_then(|i| i.parse().ok()).unwrap_or(1);
    let (action, index) = match parts.get(2).copied().unwrap_or("") {
        "upsample" => ("UPSCALE", index),
        "variation" | "low_variation" | "high_variation" => ("VARIATION", index),
        "reroll" => ("REROLL", 0),
        _ => return Err("this action is not supported here"),
    };
    Ok(new_task(s, action, custom, pool, hook, index))
}

/// NestJS's answer to an unknown route.
async fn not_found(uri: Uri) -> Response {
    let body =
        json!({"statusCode": 404, "message": format!("Cannot POST {}", uri.path()), "error": "Not Found"});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// `/fake-cdn/<id>.png` (the grid or the upscale), `/fake-cdn/<id>-p<n>.png` (a preview)
/// and `/fake-s3/<id>.png` (the object-storage copy).
async fn image(
    State(s): St,
    Path((_dir, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(String::from);
    let recorded = Recorded { path: uri.path().into(), query: None, auth, format: "get", body: Value::Null };
    lock(&s.requests).push(recorded);
    let stem = name.trim_end_matches(".png");
    let (id, preview) = match stem.split_once("-p") {
        Some((id, _)) => (id, true),
        None => (stem, false),
    };
    let task = id.parse::<u64>().ok().and_then(|id| lock(&s.tasks).get(&id).cloned());
    let Some(task) = task else { return StatusCode::NOT_FOUND.into_response() };
    ([("content-type", "image/png")], task.image(preview)).into_response()
}
