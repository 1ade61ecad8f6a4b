//! A fake midjourney-proxy over real HTTP on 127.0.0.1, for driving the `mj-proxy` adapter
//! end to end. It keeps a state machine per task (NOT_START → SUBMITTED → IN_PROGRESS 10%,
//! 37%, 80% with previews → SUCCESS or FAILURE), answers submits with the proxies' codes,
//! gives finished tasks trueai's buttons, implements `/submit/action` (trueai) and
//! `/submit/change` (novicezk, with its "already exists" answer for a repeated U), serves
//! generated PNGs from `/fake-cdn/` on a second port (another origin, like Discord's CDN),
//! POSTs notifyHook deliveries on each transition, and records every request.
//!
//! Tasks move one step per `GET /task/{id}/fetch` by default; with `advance_on_fetch` off
//! they move only when the test calls [`FakeMjProxy::tick`], which also delivers the hooks
//! before it returns — so tests wait on events, never on the clock.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Knobs {
    /// The `mj-api-secret` it requires; `None` turns auth off (novicezk's default).
    pub api_secret: Option<String>,
    /// Repeat the presented secret in 401 bodies, as careless proxies do.
    pub echo_secret_in_401: bool,
    /// `false` plays novicezk's open source: `/submit/action` is a Spring 404.
    pub action_endpoint: bool,
    /// Finished tasks carry trueai's `buttons`.
    pub buttons: bool,
    /// Each fetch moves the task one step; off, only [`FakeMjProxy::tick`] does.
    pub advance_on_fetch: bool,
    /// How tasks end: `None` succeeds, `Some(reason)` fails with that `failReason`.
    pub fail_reason: Option<String>,
    /// V and 🔄 through `/submit/action` open a remix dialog: code 21 and status MODAL.
    pub remix: bool,
    pub hooks: HookMode,
    /// Answer every submit with this code, description and properties (no task is made).
    pub submit_code: Option<(i64, String, Value)>,
    /// Accept submits with code 22 and this many tasks ahead.
    pub queue_ahead: Option<u32>,
    /// Prompts containing one of these get code 24.
    pub banned_words: Vec<String>,
    pub fault: Option<Fault>,
    /// With a fault: clear it after this many faulty answers.
    pub fault_calls: Option<u32>,
    /// Wait this long before answering an API call.
    pub delay: Duration,
    /// Link images on the API's own origin instead of the CDN port.
    pub same_origin_images: bool,
    /// Images asked for on the API's origin redirect to the CDN port.
    pub redirect_images: bool,
    pub describe_text: String,
    /// trueai's speed mounts: `/mj-fast/mj`, `/mj-relax/mj` and `/mj-turbo/mj` serve submits
    /// too (off: they are Spring 404s, as on novicezk's build).
    pub speed_paths: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            api_secret: None,
            echo_secret_in_401: false,
            action_endpoint: true,
            buttons: true,
            advance_on_fetch: true,
            fail_reason: None,
            remix: false,
            hooks: HookMode::Normal,
            submit_code: None,
            queue_ahead: None,
            banned_words: Vec::new(),
            fault: None,
            fault_calls: None,
            delay: Duration::ZERO,
            same_origin_images: false,
            redirect_images: false,
            describe_text: "1️⃣ a red fox in fresh snow, soft morning light --ar 4:3\n\n\
                            2️⃣ watercolour fox asleep, muted palette --ar 4:3\n\n\
                            3️⃣ a fox crossing a frozen river, cinematic --ar 4:3\n\n\
                            4️⃣ minimal flat fox illustration --ar 4:3"
                .into(),
            speed_paths: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookMode {
    Normal,
    /// Every delivery twice.
    Duplicate,
    /// Each delivery is held back and sent after the next one.
    Reorder,
    /// Nothing is delivered.
    Drop,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Only paths starting with this (e.g. `/mj/task/`); all API paths when empty.
    pub on: String,
}

impl Fault {
    pub fn new(status: u16, body: &str) -> Fault {
        Fault { status, headers: Vec::new(), body: body.into(), on: String::new() }
    }
    pub fn header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn on(mut self, prefix: &str) -> Fault {
        self.on = prefix.into();
        self
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub secret: Option<String>,
    /// `true` when it came to the CDN port rather than the API's.
    pub on_cdn: bool,
    pub json: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Delivered {
    pub status: String,
    pub progress: String,
    pub answer: u16,
}

#[derive(Debug, Clone)]
struct FakeTask {
    action: &'static str,
    prompt: String,
    /// 0 NOT_START, 1 SUBMITTED, 2–4 IN_PROGRESS, 5 final.
    step: usize,
    modal: bool,
    notify_hook: Option<String>,
    parent: Option<(String, u8)>,
    fail_reason: Option<String>,
}

const STEPS: usize = 5;

struct Shared {
    api_origin: String,
    cdn_origin: String,
    knobs: Mutex<Knobs>,
    tasks: Mutex<HashMap<String, FakeTask>>,
    /// Held deliveries of `HookMode::Reorder`, per task.
    held: Mutex<HashMap<String, (String, Value)>>,
    requests: Mutex<Vec<Recorded>>,
    delivered: Mutex<Vec<Delivered>>,
    counter: watch::Sender<usize>,
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeMjProxy {
    /// What goes in `base_url`: `http://127.0.0.1:PORT/mj`.
    pub base_url: String,
    shared: Arc<Shared>,
    servers: Vec<JoinHandle<()>>,
}

impl Drop for FakeMjProxy {
    fn drop(&mut self) {
        self.servers.iter().for_each(JoinHandle::abort);
    }
}

impl FakeMjProxy {
    /// The fake CDN's `host:port`: on loopback, so a backend fetches from it only when the
    /// config lists it in `image_hosts`, as an admin lists a CDN on a private network.
    pub fn cdn_host(&self) -> String {
        self.shared.cdn_origin.trim_start_matches("http://").to_string()
    }

    pub async fn start(knobs: Knobs) -> FakeMjProxy {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake");
        let cdn = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake CDN");
        let origin = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            api_origin: origin(&api),
            cdn_origin: origin(&cdn),
            knobs: Mutex::new(knobs),
            tasks: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
            counter: watch::channel(0).0,
            http: reqwest::Client::new(),
        });
        let app = Router::new()
            .route("/mj/submit/{kind}", post(submit))
            .route("/mj-fast/mj/submit/{kind}", post(submit))
            .route("/mj-relax/mj/submit/{kind}", post(submit))
            .route("/mj-turbo/mj/submit/{kind}", post(submit))
            .route("/mj/task/{id}/fetch", get(fetch))
            .route("/fake-cdn/{name}", get(cdn_file))
            .with_state(shared.clone());
        let servers = [api, cdn]
            .into_iter()
            .map(|listener| {
                let app = app.clone();
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                })
            })
            .collect();
        FakeMjProxy { base_url: format!("{}/mj", shared.api_origin), shared, servers }
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.shared.knobs));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Requests to one path prefix, e.g. `/mj/submit/` or `/fake-cdn/`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path.starts_with(prefix)).collect()
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        lock(&self.shared.delivered).clone()
    }

    /// Waits (up to 5 s) until the recorded requests satisfy `ready`.
    pub async fn wait_for(&self, ready: impl Fn(&[Recorded]) -> bool) {
        let mut rx = self.shared.counter.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            while !ready(&self.requests()) {
                let _ = rx.changed().await;
            }
        });
        waited.await.expect("the fake saw the expected requests in time");
    }

    /// Adds a task that has already finished, as if submitted before a restart.
    pub fn add_finished(&self, action: &'static str, prompt: &str) -> String {
        let id = new_task(&self.shared, action, prompt, None, None);
        if let Some(t) = lock(&self.shared.tasks).get_mut(&id) {
            t.step = STEPS;
        }
        id
    }

    /// Moves every unfinished task one step and delivers its hooks before returning.
    pub async fn tick(&self) {
        let ids: Vec<String> = lock(&self.shared.tasks).keys().cloned().collect();
        for id in ids {
            advance(&self.shared, &id).await;
        }
    }

    /// Delivers the task's hook as it was at `step` (0 NOT_START … 5 final), late.
    pub async fn redeliver(&self, id: &str, step: usize) {
        let url = lock(&self.shared.tasks).get(id).and_then(|t| t.notify_hook.clone());
        if let (Some(url), Some(body)) = (url, snapshot_at(&self.shared, id, Some(step))) {
            post_hook(&self.shared, &url, &body).await;
        }
    }
}

fn new_task(
    s: &Shared,
    action: &'static str,
    prompt: &str,
    hook: Option<String>,
    parent: Option<(String, u8)>,
) -> String {
    let mut tasks = lock(&s.tasks);
    let id = format!("17120000000{:02}", tasks.len() + 1);
    let fail_reason = lock(&s.knobs).fail_reason.clone();
    let task = FakeTask {
        action,
        prompt: prompt.into(),
        step: 0,
        modal: false,
        notify_hook: hook,
        parent,
        fail_reason,
    };
    tasks.insert(id.clone(), task);
    id
}

/// One step forward, and the notifyHook deliveries that go with it.
async fn advance(s: &Shared, id: &str) {
    let hook = {
        let mut tasks = lock(&s.tasks);
        let Some(t) = tasks.get_mut(id).filter(|t| t.step < STEPS && !t.modal) else { return };
        t.step += 1;
        t.notify_hook.clone()
    };
    let (Some(url), Some(body)) = (hook, snapshot(s, id)) else { return };
    let mode = lock(&s.knobs).hooks;
    let sends = match mode {
        HookMode::Normal => vec![body],
        HookMode::Duplicate => vec![body.clone(), body],
        HookMode::Drop => Vec::new(),
        HookMode::Reorder => {
            let earlier = lock(&s.held).remove(id).map(|(_, b)| b);
            match earlier {
                // The newer one first, then the one held back.
                Some(earlier) => vec![body, earlier],
                None if body["status"] == "SUCCESS" || body["status"] == "FAILURE" => vec![body],
                None => {
                    lock(&s.held).insert(id.to_string(), (url.clone(), body));
                    Vec::new()
                }
            }
        }
    };
    for body in sends {
        post_hook(s, &url, &body).await;
    }
}

async fn post_hook(s: &Shared, url: &str, body: &Value) {
    let answer = match s.http.post(url).json(body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    };
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let d = Delivered { status: text(&body["status"]), progress: text(&body["progress"]), answer };
    lock(&s.delivered).push(d);
}

fn snapshot(s: &Shared, id: &str) -> Option<Value> {
    snapshot_at(s, id, None)
}

/// The task as it is, or as it was at `step`.
fn snapshot_at(s: &Shared, id: &str, step: Option<usize>) -> Option<Value> {
    let mut t = lock(&s.tasks).get(id)?.clone();
    t.step = step.unwrap_or(t.step);
    let knobs = lock(&s.knobs).clone();
    let images = if knobs.same_origin_images { &s.api_origin } else { &s.cdn_origin };
    let (status, progress) = match t.step {
        _ if t.modal => ("MODAL", "0%"),
        0 => ("NOT_START", "0%"),
        1 => ("SUBMITTED", "0%"),
        2 => ("IN_PROGRESS", "10%"),
        3 => ("IN_PROGRESS", "37%"),
        4 => ("IN_PROGRESS", "80%"),
        _ if t.fail_reason.is_some() => ("FAILURE", ""),
        _ => ("SUCCESS", "100%"),
    };
    let image_url = match status {
        "IN_PROGRESS" => json!(format!("{images}/fake-cdn/{id}-{}.png", progress.trim_end_matches('%'))),
        "SUCCESS" if t.action != "DESCRIBE" => json!(format!("{images}/fake-cdn/{id}.png")),
        _ => Value::Null,
    };
    let buttons = if status == "SUCCESS" && knobs.buttons { buttons(id, t.action) } else { json!([]) };
    let mut properties = json!({"discordInstanceId": "1001", "notifyHook": t.notify_hook});
    if status == "SUCCESS" && t.action == "DESCRIBE" {
        properties["finalPrompt"] = json!(knobs.describe_text);
    }
    Some(json!({
        "id": id, "action": t.action, "status": status, "progress": progress, "imageUrl": image_url,
        "failReason": if status == "FAILURE" { json!(t.fail_reason) } else { Value::Null },
        "prompt": t.prompt, "promptEn": t.prompt,
        "description": format!("/{} {}", t.action.to_lowercase(), t.prompt),
        "state": "", "submitTime": 1_712_000_000_000_u64, "buttons": buttons, "properties": properties,
    }))
}

fn buttons(id: &str, action: &str) -> Value {
    let hash = format!("{id}-5e1f-4a0b-9c3d");
    let b = |custom: String, label: &str, emoji: &str| button(&custom, label, emoji);
    if action == "UPSCALE" {
        return json!([
            b(format!("MJ::JOB::upsample_v6_2x_subtle::1::{hash}::SOLO"), "Upscale (Subtle)", ""),
            b(format!("MJ::JOB::low_variation::1::{hash}::SOLO"), "Vary (Subtle)", "🪄"),
            b(format!("MJ::JOB::high_variation::1::{hash}::SOLO"), "Vary (Strong)", "🪄"),
            b(format!("MJ::Outpaint::50::1::{hash}::SOLO"), "Zoom Out 2x", "🔍"),
        ]);
    }
    let mut list: Vec<Value> =
        (1..=4).map(|i| b(format!("MJ::JOB::upsample::{i}::{hash}"), &format!("U{i}"), "")).collect();
    list.push(b(format!("MJ::JOB::reroll::0::{hash}::SOLO"), "", "🔄"));
    list.extend((1..=4).map(|i| b(format!("MJ::JOB::variation::{i}::{hash}"), &format!("V{i}"), "")));
    Value::Array(list)
}

fn button(custom: &str, label: &str, emoji: &str) -> Value {
    json!({"customId": custom, "label": label, "emoji": emoji, "style": 2, "type": 2})
}

// --- handlers ---

type St = State<Arc<Shared>>;

/// Records, delays, authenticates and applies faults: `Some(response)` ends the call.
async fn preamble(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    json: Option<Value>,
) -> Option<Response> {
    let secret = headers.get("mj-api-secret").and_then(|v| v.to_str().ok()).map(String::from);
    let path = uri.path().to_string();
    lock(&s.requests).push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        secret: secret.clone(),
        on_cdn: on_cdn(s, headers),
        json,
    });
    s.counter.send_modify(|n| *n += 1);
    let knobs = lock(&s.knobs).clone();
    if !path.starts_with("/mj/") {
        return None;
    }
    tokio::time::sleep(knobs.delay).await;
    if let Some(required) = &knobs.api_secret
        && secret.as_deref() != Some(required.as_str())
    {
        let body = if knobs.echo_secret_in_401 {
            format!("bad secret {}", secret.unwrap_or_default())
        } else {
            String::new()
        };
        return Some((StatusCode::UNAUTHORIZED, body).into_response());
    }
    let fault = knobs.fault.filter(|f| path.starts_with(&f.on))?;
    let mut k = lock(&s.knobs);
    if let Some(n) = k.fault_calls.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            k.fault = None;
        }
    }
    let mut response =
        (StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), fault.body)
            .into_response();
    for (name, value) in fault.headers {
        if let (Ok(n), Ok(v)) = (name.parse::<axum::http::HeaderName>(), value.parse()) {
            response.headers_mut().insert(n, v);
        }
    }
    Some(response)
}

fn on_cdn(s: &Shared, headers: &HeaderMap) -> bool {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
    s.cdn_origin.ends_with(&format!("//{host}"))
}

fn answer(code: i64, description: &str, id: Option<&str>, properties: Value) -> Response {
    Json(result(code, description, id, properties)).into_response()
}

/// A submit result: `{code, description, result, properties}`.
fn result(code: i64, description: &str, id: Option<&str>, properties: Value) -> Value {
    json!({"code": code, "description": description, "result": id, "properties": properties})
}

async fn submit(
    State(s): St,
    Path(kind): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let json: Option<Value> = serde_json::from_str(&body).ok();
    if let Some(stop) = preamble(&s, &method, &uri, &headers, json.clone()).await {
        return stop;
    }
    let knobs = lock(&s.knobs).clone();
    let req = json.unwrap_or(Value::Null);
    let hook = req["notifyHook"].as_str().map(String::from);
    let on_mount = !uri.path().starts_with("/mj/");
    if (kind == "action" && !knobs.action_endpoint) || (on_mount && !knobs.speed_paths) {
        let page = json!({
            "timestamp": "2026-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found",
            "path": uri.path()
        });
        return (StatusCode::NOT_FOUND, Json(page)).into_response();
    }
    if let Some((code, description, properties)) = knobs.submit_code {
        return answer(code, &description, None, properties);
    }
    let made = match kind.as_str() {
        "imagine" => {
            let prompt = req["prompt"].as_str().unwrap_or("").to_string();
            if prompt.trim().is_empty() {
                return answer(4, "prompt不能为空", None, json!({}));
            }
            if let Some(word) = knobs.banned_words.iter().find(|w| prompt.contains(w.as_str())) {
                return answer(24, "可能包含敏感词", None, json!({"promptEn": prompt, "bannedWord": word}));
            }
            new_task(&s, "IMAGINE", &prompt, hook, None)
        }
        "blend" => {
            let n = req["base64Array"].as_array().map_or(0, Vec::len);
            if !(2..=5).contains(&n) {
                return answer(4, "base64List参数错误", None, json!({}));
            }
            new_task(&s, "BLEND", req["dimensions"].as_str().unwrap_or("SQUARE"), hook, None)
        }
        "describe" => {
            if !req["base64"].as_str().is_some_and(|b| b.starts_with("data:image/")) {
                return answer(4, "basisImage error", None, json!({}));
            }
            new_task(&s, "DESCRIBE", "", hook, None)
        }
        "action" | "change" => match act(&s, &kind, &req, hook, &knobs) {
            Ok(id) => id,
            Err(refusal) => return Json(refusal).into_response(),
        },
        _ => return (StatusCode::NOT_FOUND, "no such endpoint").into_response(),
    };
    if lock(&s.tasks).get(&made).is_some_and(|t| t.modal) {
        return answer(
            21,
            "Waiting for window confirm",
            Some(&made),
            json!({"finalPrompt": "", "remix": true}),
        );
    }
    match knobs.queue_ahead {
        Some(n) => {
            answer(22, &format!("排队中，前面还有{n}个任务"), Some(&made), json!({"numberOfQueues": n}))
        }
        None => answer(1, "提交成功", Some(&made), json!({"discordInstanceId": "1001"})),
    }
}

/// `/submit/action` and `/submit/change` on a finished parent: the new task's id, or the
/// proxy's refusal (or code 21's "already exists") as a submit result.
fn act(s: &Shared, kind: &str, req: &Value, hook: Option<String>, knobs: &Knobs) -> Result<String, Value> {
    let parent_id = req["taskId"].as_str().unwrap_or("").to_string();
    let parent = lock(&s.tasks).get(&parent_id).cloned();
    let Some(parent) = parent else {
        return Err(result(3, "关联任务不存在或已失效", None, json!({})));
    };
    if parent.step < STEPS || parent.fail_reason.is_some() {
        return Err(result(4, "关联任务状态错误", None, json!({})));
    }
    let (action, index, label): (&'static str, u8, String) = if kind == "action" {
        let custom = req["customId"].as_str().unwrap_or("");
        let known = snapshot(s, &parent_id)
            .and_then(|v| v["buttons"].as_array().cloned())
            .is_some_and(|bs| bs.iter().any(|b| b["customId"] == custom));
        if !known {
            return Err(result(4, "customId不存在", None, json!({})));
        }
        let parts: Vec<&str> = custom.split("::").collect();
        let index = parts.get(3).and_then(|i| i.parse().ok()).unwrap_or(1);
        match parts.get(2).copied().unwrap_or("") {
            "upsample" => ("UPSCALE", index, custom.to_string()),
            "variation" | "low_variation" | "high_variation" => ("VARIATION", index, custom.to_string()),
            "reroll" => ("REROLL", 0, custom.to_string()),
            _ => return Err(result(4, "unsupported customId", None, json!({}))),
        }
    } else {
        let index = req["index"].as_u64().unwrap_or(0) as u8;
        let action = match req["action"].as_str() {
            Some("UPSCALE") => "UPSCALE",
            Some("VARIATION") => "VARIATION",
            Some("REROLL") => "REROLL",
            _ => return Err(result(4, "action参数错误", None, json!({}))),
        };
        if !(1..=4).contains(&index) && action != "REROLL" {
            return Err(result(4, "index参数错误", None, json!({})));
        }
        if !["IMAGINE", "VARIATION", "REROLL", "BLEND"].contains(&parent.action) {
            return Err(result(4, "关联任务不允许执行变化", None, json!({})));
        }
        if action == "UPSCALE" {
            let tasks = lock(&s.tasks);
            let existing = tasks
                .iter()
                .find(|(_, t)| t.action == "UPSCALE" && t.parent == Some((parent_id.clone(), index)));
            if let Some((id, _)) = existing {
                let (id, done) = (id.clone(), existing.is_some_and(|(_, t)| t.step >= STEPS));
                drop(tasks);
                let url = snapshot(s, &id).map(|v| v["imageUrl"].clone()).unwrap_or(Value::Null);
                let status = if done { "SUCCESS" } else { "IN_PROGRESS" };
                return Err(result(21, "任务已存在", Some(&id), json!({"status": status, "imageUrl": url})));
            }
        }
        (action, index, format!("{action} {index}"))
    };
    let id = new_task(s, action, &label, hook, Some((parent_id, index)));
    if knobs.remix
        && kind == "action"
        && action != "UPSCALE"
        && let Some(t) = lock(&s.tasks).get_mut(&id)
    {
        t.modal = true;
    }
    Ok(id)
}

async fn fetch(
    State(s): St,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(stop) = preamble(&s, &method, &uri, &headers, None).await {
        return stop;
    }
    if lock(&s.knobs).advance_on_fetch {
        advance(&s, &id).await;
    }
    match snapshot(&s, &id) {
        Some(task) => Json(task).into_response(),
        // novicezk answers an unknown id with an empty 200.
        None => StatusCode::OK.into_response(),
    }
}

async fn cdn_file(
    State(s): St,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let _ = preamble(&s, &method, &uri, &headers, None).await;
    if lock(&s.knobs).redirect_images && !on_cdn(&s, &headers) {
        let to = format!("{}{}", s.cdn_origin, uri.path());
        return (StatusCode::FOUND, [("location", to)]).into_response();
    }
    let stem = name.trim_end_matches(".png");
    let (id, preview) = match stem.split_once('-') {
        Some((id, _)) => (id, true),
        None => (stem, false),
    };
    let Some(task) = lock(&s.tasks).get(id).cloned() else { return StatusCode::NOT_FOUND.into_response() };
    let bytes = if preview {
        grid(32, 32)
    } else if task.action == "UPSCALE" {
        solid(64, 64, task.parent.map_or(0, |(_, i)| i))
    } else {
        match task.prompt.as_str() {
            "PORTRAIT" => grid(96, 144),
            "LANDSCAPE" => grid(144, 96),
            _ => grid(128, 128),
        }
    };
    ([("content-type", "image/png")], bytes).into_response()
}

/// Quadrant colours of the fake grids, so tests can tell the four images apart.
pub const COLOURS: [[u8; 3]; 4] = [[220, 40, 40], [40, 200, 60], [40, 80, 220], [230, 200, 30]];

/// A 2×2 grid PNG in [`COLOURS`] (the ohmygpt fake serves the same).
pub fn grid(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let q = usize::from(x >= w / 2) + 2 * usize::from(y >= h / 2);
        image::Rgb(COLOURS[q])
    });
    encode(&img)
}

/// An upscale of image `index` (1-based): that quadrant's colour.
pub fn solid(w: u32, h: u32, index: u8) -> Vec<u8> {
    let colour = COLOURS[usize::from(index.clamp(1, 4) - 1)];
    encode(&image::RgbImage::from_pixel(w, h, image::Rgb(colour)))
}

fn encode(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode a PNG");
    out.into_inner()
}
