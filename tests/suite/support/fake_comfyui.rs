//! A fake ComfyUI over real HTTP and a real WebSocket on 127.0.0.1, for driving the `comfyui`
//! adapter end to end. Like the real server it validates a posted workflow before queueing it
//! (unknown node classes, missing or mistyped inputs, checkpoint and upscale model names,
//! input images that were never uploaded — answered as 400 `{error, node_errors}`), runs one
//! prompt at a time from its queue, and sends the prompt's events to the WebSocket of its
//! `client_id`: `execution_start`, `executing` per node, `progress` with a binary preview
//! frame per sampler step, `executed`, `executing {node: null}`, `execution_success` — and
//! only then writes `/history`, as the real server does. Results are real PNGs behind
//! `/view`; inputs arrive through multipart `/upload/image`; `/queue` lists and deletes;
//! `/interrupt` honours `prompt_id` like 0.3.57+ (or not, like older servers, which then
//! interrupt globally — counted, so tests can insist it never happens). Every request is
//! recorded. Knobs inject the faults real servers show.

#[path = "fake_comfyui/graph.rs"]
mod graph;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use graph::png;

#[derive(Debug, Clone)]
pub struct Knobs {
    /// `system.comfyui_version` in `/system_stats`.
    pub version: String,
    /// `POST /interrupt {"prompt_id"}` stops only that prompt (0.3.57+); `false`: any
    /// `/interrupt` stops whatever runs, as older servers do.
    pub targeted_interrupt: bool,
    /// A proxy in front that wants `Authorization: Bearer <key>` on every request.
    pub api_key: Option<String>,
    pub checkpoints: Vec<String>,
    pub upscale_models: Vec<String>,
    pub ticks: u32,
    pub tick: Duration,
    /// Each sampler step waits for one [`FakeComfyUi::release`], and so does the end.
    pub hold: bool,
    pub ws: WsMode,
    pub fault: Option<Fault>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            version: "0.3.60".into(),
            targeted_interrupt: true,
            api_key: None,
            checkpoints: vec!["sd_xl_base_1.0.safetensors".into(), "v1-5-pruned-emaonly.safetensors".into()],
            upscale_models: vec!["RealESRGAN_x4plus.pth".into()],
            ticks: 4,
            tick: Duration::from_millis(2),
            hold: false,
            ws: WsMode::Normal,
            fault: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WsMode {
    Normal,
    /// `/ws` answers 404: no socket at all.
    Refuse,
    /// Sockets are closed right after the first progress step.
    CloseMidJob,
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// `POST /prompt` answers this status and body.
    PromptStatus(u16, String),
    /// The sampler raises this (`exception_type`, `exception_message`) at its first step.
    ExecutionError(String, String),
}

#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub json: Option<Value>,
    /// `/upload/image`: (file name, `type`, `subfolder`).
    pub upload: Option<(String, String, String)>,
}

struct Item {
    number: u64,
    id: String,
    prompt: Value,
    client_id: Option<String>,
    outputs: Vec<String>,
}

impl Item {
    fn listed(&self) -> Value {
        json!([self.number, self.id, self.prompt, {"client_id": self.client_id}, self.outputs])
    }
}

#[derive(Default)]
struct Queue {
    running: Option<Item>,
    pending: VecDeque<Item>,
}

struct Shared {
    knobs: Mutex<Knobs>,
    requests: Mutex<Vec<Recorded>>,
    sockets: Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>,
    ws_clients: Mutex<Vec<String>>,
    queue: Mutex<Queue>,
    history: Mutex<HashMap<String, Value>>,
    /// (type, subfolder, filename) → bytes.
    files: Mutex<HashMap<(String, String, String), Vec<u8>>>,
    work: Notify,
    released: Semaphore,
    interrupt: AtomicBool,
    global_interrupts: AtomicUsize,
    counter: AtomicU64,
    changed: watch::Sender<u64>,
}

impl Shared {
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn send(&self, client: Option<&str>, message: Message) {
        let Some(client) = client else { return };
        if let Some(tx) = lock(&self.sockets).get(client) {
            let _ = tx.send(message);
        }
    }

    fn event(&self, client: Option<&str>, kind: &str, data: Value) {
        self.send(client, Message::Text(json!({"type": kind, "data": data}).to_string().into()));
    }

    fn input(&self, name: &str) -> Option<Vec<u8>> {
        let (sub, file) = name.rsplit_once('/').unwrap_or(("", name));
        lock(&self.files).get(&("input".into(), sub.into(), file.into())).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeComfyUi {
    /// The server root, what goes in `base_url`.
    pub base_url: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeComfyUi {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl FakeComfyUi {
    pub async fn start(knobs: Knobs) -> FakeComfyUi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake");
        let base_url = format!("http://{}", listener.local_addr().expect("fake address"));
        let shared = Arc::new(Shared {
            knobs: Mutex::new(knobs),
            requests: Mutex::new(Vec::new()),
            sockets: Mutex::new(HashMap::new()),
            ws_clients: Mutex::new(Vec::new()),
            queue: Mutex::new(Queue::default()),
            history: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            work: Notify::new(),
            released: Semaphore::new(0),
            interrupt: AtomicBool::new(false),
            global_interrupts: AtomicUsize::new(0),
            counter: AtomicU64::new(0),
            changed: watch::channel(0).0,
        });
        let app = Router::new()
            .route("/prompt", post(post_prompt))
            .route("/queue", get(get_queue).post(post_queue))
            .route("/history/{id}", get(history))
            .route("/view", get(view))
            .route("/upload/image", post(upload))
            .route("/interrupt", post(interrupt))
            .route("/system_stats", get(system_stats))
            .route("/object_info/{node}", get(object_info))
            .route("/ws", get(ws))
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let runner = tokio::spawn(run_queue(shared.clone()));
        FakeComfyUi { base_url, shared, tasks: vec![server, runner] }
    }

    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.shared.knobs));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// The workflows posted to `/prompt`, in order.
    pub fn prompts(&self) -> Vec<Value> {
        self.requests_to("/prompt").into_iter().filter_map(|r| r.json).collect()
    }

    /// An uploaded input as `LoadImage` names it (`easel/…`), byte for byte.
    pub fn input(&self, name: &str) -> Option<Vec<u8>> {
        self.shared.input(name)
    }

    /// Client ids that opened `/ws`.
    pub fn ws_clients(&self) -> Vec<String> {
        lock(&self.shared.ws_clients).clone()
    }

    pub fn running(&self) -> Option<String> {
        lock(&self.shared.queue).running.as_ref().map(|i| i.id.clone())
    }

    pub fn pending(&self) -> Vec<String> {
        lock(&self.shared.queue).pending.iter().map(|i| i.id.clone()).collect()
    }

    pub fn global_interrupts(&self) -> usize {
        self.shared.global_interrupts.load(Ordering::SeqCst)
    }

    /// Forgets every queued prompt and the history, as a restarted server does.
    pub fn restart(&self) {
        *lock(&self.shared.queue) = Queue::default();
        lock(&self.shared.history).clear();
    }

    /// Lets a held prompt take its next `steps` steps.
    pub fn release(&self, steps: usize) {
        self.shared.released.add_permits(steps);
    }

    /// Waits until `done` holds, re-checking on every change; panics after `limit`.
    pub async fn wait_until(&self, limit: Duration, done: impl Fn(&FakeComfyUi) -> bool) {
        let wait = async {
            loop {
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

// --- the worker: one prompt at a time ---

async fn run_queue(s: Arc<Shared>) {
    loop {
        let notified = s.work.notified();
        let next = {
            let mut q = lock(&s.queue);
            if q.running.is_none() { q.pending.pop_front() } else { None }
        };
        let Some(item) = next else {
            notified.await;
            continue;
        };
        let (id, client, prompt) = (item.id.clone(), item.client_id.clone(), item.prompt.clone());
        let listed = item.listed();
        lock(&s.queue).running = Some(item);
        s.interrupt.store(false, Ordering::SeqCst);
        s.bump();
        let (status, messages, node_outputs) = execute(&s, &id, client.as_deref(), &prompt).await;
        lock(&s.queue).running = None;
        let entry = json!({"prompt": listed, "outputs": node_outputs, "meta": {},
            "status": {"status_str": status, "completed": status == "success", "messages": messages}});
        // Like the real server: the socket hears of the end before the history has it.
        lock(&s.history).insert(id, entry);
        broadcast_status(&s);
        s.bump();
    }
}

/// Runs one prompt; (status_str, status messages, outputs by node).
async fn execute(
    s: &Shared,
    id: &str,
    client: Option<&str>,
    prompt: &Value,
) -> (&'static str, Vec<Value>, Value) {
    let knobs = lock(&s.knobs).clone();
    let nodes = prompt.as_object().cloned().unwrap_or_default();
    let mut order: Vec<&String> = nodes.keys().collect();
    order.sort_by_key(|k| k.parse::<u64>().unwrap_or(u64::MAX));
    let start = json!({"prompt_id": id, "timestamp": 0});
    let mut messages = vec![json!(["execution_start", start])];
    s.event(client, "execution_start", start);
    let input = |name: &str| s.input(name);
    let env =
        graph::Env { checkpoints: &knobs.checkpoints, upscale_models: &knobs.upscale_models, input: &input };
    let mut done = HashMap::new();
    let mut outputs = serde_json::Map::new();
    for node_id in order {
        let class = nodes[node_id]["class_type"].as_str().unwrap_or("");
        s.event(client, "executing", json!({"node": node_id, "display_node": node_id, "prompt_id": id}));
        if class == "KSampler" {
            for step in 1..=knobs.ticks {
                if knobs.hold {
                    hold(s).await;
                } else {
                    tokio::time::sleep(knobs.tick).await;
                }
                if s.interrupt.swap(false, Ordering::SeqCst) {
                    let data =
                        json!({"prompt_id": id, "node_id": node_id, "node_type": class, "executed": []});
                    s.event(client, "execution_interrupted", data.clone());
                    messages.push(json!(["execution_interrupted", data]));
                    return ("error", messages, json!({}));
                }
                if let Some(Fault::ExecutionError(kind, message)) = &knobs.fault {
                    let data = json!({"prompt_id": id, "node_id": node_id, "node_type": class, "executed": [],
                        "exception_message": message, "exception_type": kind, "traceback": ["..."],
                        "current_inputs": {}, "current_outputs": {}});
                    s.event(client, "execution_error", data.clone());
                    messages.push(json!(["execution_error", data]));
                    return ("error", messages, json!({}));
                }
                s.event(
                    client,
                    "progress",
                    json!({"value": step, "max": knobs.ticks, "prompt_id": id, "node": node_id}),
                );
                let mut frame = vec![0, 0, 0, 1, 0, 0, 0, 2];
                frame.extend(preview_png(step));
                s.send(client, Message::Binary(frame.into()));
                if knobs.ws == WsMode::CloseMidJob
                    && let Some(client) = client
                {
                    lock(&s.sockets).remove(client);
                }
                s.bump();
            }
        }
        if graph::is_output(class) {
            let images = match graph::eval(&nodes, node_id, 0, &mut done, &env) {
                graph::Val::Images(images) => images,
                graph::Val::Failed(message) => {
                    let data = json!({"prompt_id": id, "node_id": node_id, "node_type": class, "executed": [],
                        "exception_message": message, "exception_type": "RuntimeError", "traceback": ["..."],
                        "current_inputs": {}, "current_outputs": {}});
                    s.event(client, "execution_error", data.clone());
                    messages.push(json!(["execution_error", data]));
                    return ("error", messages, json!({}));
                }
                _ => continue,
            };
            let prefix = nodes[node_id]["inputs"]["filename_prefix"].as_str().unwrap_or("ComfyUI");
            let (sub, stem) = prefix.rsplit_once('/').unwrap_or(("", prefix));
            let kind = if class == "SaveImage" { "output" } else { "temp" };
            let mut refs = Vec::new();
            for img in images {
                let n = s.counter.fetch_add(1, Ordering::SeqCst) + 1;
                let name = format!("{stem}_{n:05}_.png");
                lock(&s.files).insert((kind.into(), sub.into(), name.clone()), png(&img));
                refs.push(json!({"filename": name, "subfolder": sub, "type": kind}));
            }
            let output = json!({"images": refs});
            s.event(
                client,
                "executed",
                json!({"node": node_id, "display_node": node_id, "output": output, "prompt_id": id}),
            );
            outputs.insert(node_id.clone(), output);
        }
    }
    if knobs.hold {
        hold(s).await;
    }
    s.event(client, "executing", json!({"node": null, "prompt_id": id}));
    let success = json!({"prompt_id": id, "timestamp": 1});
    s.event(client, "execution_success", success.clone());
    messages.push(json!(["execution_success", success]));
    ("success", messages, Value::Object(outputs))
}

async fn hold(s: &Shared) {
    if let Ok(permit) = s.released.acquire().await {
        permit.forget();
    }
}

fn broadcast_status(s: &Shared) {
    let remaining = {
        let q = lock(&s.queue);
        q.pending.len() + usize::from(q.running.is_some())
    };
    let clients: Vec<String> = lock(&s.sockets).keys().cloned().collect();
    for c in clients {
        s.event(Some(&c), "status", json!({"status": {"exec_info": {"queue_remaining": remaining}}}));
    }
}

// --- handlers ---

type St = State<Arc<Shared>>;

/// Records the request; refuses it as the proxy in front would without the key.
fn admit(s: &Shared, method: &str, uri: &Uri, headers: &HeaderMap, json: Option<Value>) -> Option<Response> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    lock(&s.requests).push(Recorded {
        method: method.into(),
        path: uri.path().into(),
        query: uri.query().unwrap_or("").into(),
        authorization: authorization.clone(),
        json,
        upload: None,
    });
    s.bump();
    let key = lock(&s.knobs).api_key.clone()?;
    (authorization != Some(format!("Bearer {key}")))
        .then(|| (StatusCode::UNAUTHORIZED, "401 Unauthorized").into_response())
}

async fn post_prompt(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if let Some(early) = admit(&s, "POST", &uri, &headers, parsed.clone()) {
        return early;
    }
    let knobs = lock(&s.knobs).clone();
    if let Some(Fault::PromptStatus(status, body)) = knobs.fault {
        return (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
            .into_response();
    }
    let req = parsed.unwrap_or_default();
    let Some(prompt) = req.get("prompt").cloned() else {
        let error =
            json!({"type": "no_prompt", "message": "No prompt provided", "details": "", "extra_info": {}});
        return (StatusCode::BAD_REQUEST, Json(json!({"error": error, "node_errors": {}}))).into_response();
    };
    let input = |name: &str| s.input(name);
    let env =
        graph::Env { checkpoints: &knobs.checkpoints, upscale_models: &knobs.upscale_models, input: &input };
    let outputs = match graph::validate(&prompt, &env) {
        Ok(outputs) => outputs,
        Err(body) => return (StatusCode::BAD_REQUEST, Json(body)).into_response(),
    };
    let number = s.counter.fetch_add(1, Ordering::SeqCst);
    let id = format!("{:08x}-fake-{number:04}", fastrand::u32(..));
    let client_id = req.get("client_id").and_then(Value::as_str).map(String::from);
    lock(&s.queue).pending.push_back(Item { number, id: id.clone(), prompt, client_id, outputs });
    s.work.notify_one();
    broadcast_status(&s);
    s.bump();
    Json(json!({"prompt_id": id, "number": number, "node_errors": {}})).into_response()
}

async fn get_queue(State(s): St, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    let q = lock(&s.queue);
    let running: Vec<Value> = q.running.iter().map(Item::listed).collect();
    let pending: Vec<Value> = q.pending.iter().map(Item::listed).collect();
    Json(json!({"queue_running": running, "queue_pending": pending})).into_response()
}

async fn post_queue(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if let Some(early) = admit(&s, "POST", &uri, &headers, parsed.clone()) {
        return early;
    }
    let req = parsed.unwrap_or_default();
    let mut q = lock(&s.queue);
    if req["clear"].as_bool() == Some(true) {
        q.pending.clear();
    }
    for id in req["delete"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        q.pending.retain(|i| i.id != id);
    }
    drop(q);
    s.bump();
    StatusCode::OK.into_response()
}

async fn history(State(s): St, uri: Uri, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    match lock(&s.history).get(&id) {
        Some(entry) => Json(json!({ id: entry })).into_response(),
        None => Json(json!({})).into_response(),
    }
}

async fn view(
    State(s): St,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let kind = q.get("type").cloned().unwrap_or_else(|| "output".into());
    match lock(&s.files).get(&(kind, get("subfolder"), get("filename"))) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn upload(State(s): St, uri: Uri, headers: HeaderMap, mut form: Multipart) -> Response {
    if let Some(early) = admit(&s, "POST", &uri, &headers, None) {
        return early;
    }
    let (mut file, mut kind, mut sub) = (None, "input".to_string(), String::new());
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or("") {
            "image" => {
                let name = field.file_name().unwrap_or("").to_string();
                file = Some((name, field.bytes().await.unwrap_or_default()));
            }
            "type" => kind = field.text().await.unwrap_or_default(),
            "subfolder" => sub = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    let Some((name, bytes)) = file.filter(|(n, _)| !n.is_empty()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Some(last) = lock(&s.requests).iter_mut().rev().find(|r| r.path == "/upload/image") {
        last.upload = Some((name.clone(), kind.clone(), sub.clone()));
    }
    let mut files = lock(&s.files);
    let mut stored = name.clone();
    for n in 1.. {
        if !files.contains_key(&(kind.clone(), sub.clone(), stored.clone())) {
            break;
        }
        let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, "png"));
        stored = format!("{stem} ({n}).{ext}");
    }
    files.insert((kind.clone(), sub.clone(), stored.clone()), bytes.to_vec());
    Json(json!({"name": stored, "subfolder": sub, "type": kind})).into_response()
}

async fn interrupt(State(s): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    if let Some(early) = admit(&s, "POST", &uri, &headers, parsed.clone()) {
        return early;
    }
    let targeted = lock(&s.knobs).targeted_interrupt;
    let asked = parsed.as_ref().and_then(|b| b.get("prompt_id")).and_then(Value::as_str).map(String::from);
    let running = lock(&s.queue).running.as_ref().map(|i| i.id.clone());
    let stop = match (targeted, asked) {
        (true, Some(id)) => running.is_some_and(|r| r == id),
        _ => {
            s.global_interrupts.fetch_add(1, Ordering::SeqCst);
            running.is_some()
        }
    };
    if stop {
        s.interrupt.store(true, Ordering::SeqCst);
        // A held prompt notices at its next step.
        s.released.add_permits(1);
    }
    StatusCode::OK.into_response()
}

/// The one node description Easel asks for: which checkpoints the loader can choose from, in
/// the classic schema (`[[names…], {tooltip}]`).
async fn object_info(State(s): St, uri: Uri, headers: HeaderMap, Path(node): Path<String>) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    if node != "CheckpointLoaderSimple" {
        return (StatusCode::NOT_FOUND, Json(json!({}))).into_response();
    }
    let names = lock(&s.knobs).checkpoints.clone();
    Json(json!({ "CheckpointLoaderSimple": {
        "input": { "required": { "ckpt_name": [names, { "tooltip": "The name of the checkpoint (model) to load." }] } },
        "output": ["MODEL", "CLIP", "VAE"], "name": "CheckpointLoaderSimple", "category": "loaders"
    }}))
    .into_response()
}

async fn system_stats(State(s): St, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    let version = lock(&s.knobs).version.clone();
    Json(json!({
        "system": {"os": "posix", "ram_total": 1u64 << 34, "ram_free": 1u64 << 33, "comfyui_version": version,
                   "python_version": "3.12.3", "pytorch_version": "2.7.0", "embedded_python": false, "argv": ["main.py"]},
        "devices": [{"name": "cuda:0 fake", "type": "cuda", "index": 0, "vram_total": 1u64 << 34, "vram_free": 1u64 << 33}]
    }))
    .into_response()
}

async fn ws(
    State(s): St,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(early) = admit(&s, "GET", &uri, &headers, None) {
        return early;
    }
    if lock(&s.knobs).ws == WsMode::Refuse {
        return StatusCode::NOT_FOUND.into_response();
    }
    let client = q.get("clientId").cloned().unwrap_or_else(|| format!("{:x}", fastrand::u64(..)));
    upgrade.on_upgrade(move |socket| serve_socket(s, socket, client))
}

async fn serve_socket(s: Arc<Shared>, socket: WebSocket, client: String) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    lock(&s.sockets).insert(client.clone(), tx);
    lock(&s.ws_clients).push(client.clone());
    s.bump();
    let remaining = lock(&s.queue).pending.len();
    s.event(
        Some(&client),
        "status",
        json!({"status": {"exec_info": {"queue_remaining": remaining}}, "sid": client}),
    );
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(message) => if sink.send(message).await.is_err() { break },
                // Dropped from the map: close the socket.
                None => { let _ = sink.send(Message::Close(None)).await; break }
            },
            incoming = stream.next() => if !matches!(incoming, Some(Ok(_))) { break },
        }
    }
    drop(rx);
    let mut sockets = lock(&s.sockets);
    if sockets.get(&client).is_some_and(|tx| tx.is_closed()) {
        sockets.remove(&client);
    }
}

/// Image `index` of a txt2img batch of `w`×`h` from `seed`, byte for byte as the fake makes it.
pub fn batch_png(w: u32, h: u32, seed: u64, index: usize) -> Vec<u8> {
    graph::batch_png(w, h, seed, index)
}

/// The live preview sent after sampler step `step`.
pub fn preview_png(step: u32) -> Vec<u8> {
    png(&image::RgbImage::from_pixel(16, 16, image::Rgb([step as u8 * 40, 10, 200])))
}
