//! The control API over HTTP JSON under `/control`: the same operations as the Rust API, for a
//! browser page and a load driver.
//!
//! Ids are snowflakes above 2^53, which JavaScript numbers cannot hold, so every integer that
//! large is sent as a string, and inputs take ids as strings or numbers. `GET /control/wait`
//! is a long poll on the state's change counter, so a page never has to poll on a timer.
//! A browser may make the POSTs only from the sandbox's own page (see `guard`).
//!
//! | Method | Path | Body / query | Answer |
//! |---|---|---|---|
//! | GET | `/control/state` | | names, ids, users, commands, messages, violations, stats, limits, version |
//! | GET | `/control/messages`, `/violations`, `/stats`, `/commands` | | the list / object |
//! | GET | `/control/interactions/{id}` | | the interaction record |
//! | GET | `/control/wait` | `?after=VERSION&timeout_ms=N` | `{version}` once it exceeds `after` |
//! | POST | `/control/users` | `{name}` | `{id}` |
//! | POST | `/control/upload` | raw bytes, `?filename=&content_type=` | the attachment |
//! | POST | `/control/slash` | `{user, command, options: [{name, value}]}` | `{interaction_id}` |
//! | POST | `/control/click` | `{user, message_id, custom_id}` | `{interaction_id}` |
//! | POST | `/control/clock` | `{advance_ms}` | `{now_ms}` |
//! | POST | `/control/rate_limit` | `{route, count, retry_after_ms}` | `{}` |
//! | POST | `/control/fail` | `{route, count, status}` | `{}` (400 for a status that is not 4xx/5xx) |
//! | POST | `/control/gateway/{reconnect,invalid_session,drop}` | | `{sent}` |

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{CommandOption, OptionValue, RouteKind};
use super::payload::id_of;
use super::state::{Inner, World};

type Shared = State<Arc<Inner>>;

pub(crate) fn router() -> Router<Arc<Inner>> {
    Router::new()
        .route("/state", get(state))
        .route("/messages", get(|State(i): Shared| async move { ok(i.read(|w| json!(w.messages))) }))
        .route(
            "/violations",
            get(|State(i): Shared| async move {
                i.sweep_deadlines();
                ok(i.read(|w| json!(w.violations)))
            }),
        )
        .route("/stats", get(|State(i): Shared| async move { ok(i.read(|w| json!(w.stats))) }))
        .route(
            "/commands",
            get(|State(i): Shared| async move { ok(i.read(|w| json!(w.commands().collect::<Vec<_>>()))) }),
        )
        .route("/interactions/{id}", get(interaction))
        .route("/wait", get(wait))
        .route("/users", post(add_user))
        .route("/upload", post(upload))
        .route("/slash", post(slash))
        .route("/click", post(click))
        .route("/clock", post(clock))
        .route("/rate_limit", post(rate_limit))
        .route("/fail", post(fail_next))
        .route("/gateway/{fault}", post(gateway_fault))
}

/// Integers JavaScript cannot represent exactly become strings.
fn js_safe(v: Value) -> Value {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    match v {
        Value::Number(n) if n.as_u64().is_some_and(|u| u > MAX_SAFE) => Value::String(n.to_string()),
        Value::Array(a) => Value::Array(a.into_iter().map(js_safe).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, js_safe(v))).collect()),
        v => v,
    }
}

fn ok(v: Value) -> Response {
    axum::Json(js_safe(v)).into_response()
}

fn fail(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, axum::Json(json!({"error": msg.to_string()}))).into_response()
}

fn snapshot(inner: &Inner, w: &World) -> Value {
    let c = &inner.config;
    json!({
        "api_base": c.base_url,
        "guild_name": c.guild_name,
        "channel_name": c.channel_name,
        "application_id": c.application_id,
        "guild_id": c.guild_id,
        "channel_id": c.channel_id,
        "bot_user_id": c.bot_user_id,
        "bot_connected": w.bot_live(),
        "users": w.users.values().map(|u| json!({"id": u.id, "name": u.name, "bot": u.bot})).collect::<Vec<_>>(),
        "commands": w.commands().collect::<Vec<_>>(),
        "messages": w.messages,
        "violations": w.violations,
        "stats": w.stats,
        "rate_limits": c.rate_limits,
        "now_ms": inner.now().as_millis() as u64,
    })
}

async fn state(State(inner): Shared) -> Response {
    inner.sweep_deadlines();
    let version = *inner.subscribe().borrow();
    let mut v = inner.read(|w| snapshot(&inner, w));
    if let Some(o) = v.as_object_mut() {
        o.insert("version".into(), json!(version));
    }
    ok(v)
}

async fn interaction(State(inner): Shared, Path(id): Path<String>) -> Response {
    let found = id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.read(|w| w.interactions.get(&id).map(|i| json!(i.record))));
    match found {
        Some(v) => ok(v),
        None => fail(StatusCode::NOT_FOUND, format!("no interaction {id}")),
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    after: Option<u64>,
    timeout_ms: Option<u64>,
}

async fn wait(State(inner): Shared, Query(q): Query<WaitQuery>) -> Response {
    let mut rx = inner.subscribe();
    let after = q.after.unwrap_or(0);
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(25_000).min(60_000));
    let _ = tokio::time::timeout(timeout, rx.wait_for(|v| *v > after)).await;
    let version = *rx.borrow();
    ok(json!({"version": version}))
}

async fn add_user(State(inner): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    match body.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => ok(json!({"id": inner.add_user(name, false)})),
        _ => fail(StatusCode::BAD_REQUEST, "body must be {\"name\": \"…\"}"),
    }
}

#[derive(Deserialize)]
struct UploadQuery {
    filename: String,
    content_type: Option<String>,
}

async fn upload(State(inner): Shared, Query(q): Query<UploadQuery>, body: Bytes) -> Response {
    let a = inner.upload(&q.filename, q.content_type.as_deref().unwrap_or(""), body);
    ok(json!(a))
}

fn field_id(body: &Value, key: &str) -> Result<u64, String> {
    body.get(key).and_then(id_of).ok_or_else(|| format!("missing or invalid {key:?}"))
}

/// Turns `{name, value}` into a typed option using the type the bot registered for it.
fn option_from(inner: &Inner, command: &str, o: &Value) -> Result<CommandOption, String> {
    let name = o.get("name").and_then(Value::as_str).ok_or("option without a name")?.to_owned();
    let declared = inner.read(|w| {
        w.commands().find(|c| c.get("name").and_then(Value::as_str) == Some(command)).and_then(|c| {
            c.get("options")?
                .as_array()?
                .iter()
                .find(|d| d.get("name").and_then(Value::as_str) == Some(name.as_str()))
                .cloned()
        })
    });
    let kind = declared
        .and_then(|d| d.get("type")?.as_u64())
        .ok_or_else(|| format!("command {command:?} has no option {name:?}"))?;
    let v = o.get("value").cloned().unwrap_or(Value::Null);
    let bad = || format!("option {name:?} needs a value of type {kind}");
    let value = match kind {
        3 => OptionValue::String(v.as_str().ok_or_else(bad)?.to_owned()),
        4 => OptionValue::Integer(v.as_i64().or_else(|| v.as_str()?.parse().ok()).ok_or_else(bad)?),
        5 => OptionValue::Boolean(v.as_bool().ok_or_else(bad)?),
        6 => OptionValue::User(id_of(&v).ok_or_else(bad)?),
        10 => OptionValue::Number(v.as_f64().ok_or_else(bad)?),
        11 => OptionValue::Attachment(id_of(&v).ok_or_else(bad)?),
        _ => return Err(format!("option type {kind} is not supported by the sandbox")),
    };
    Ok(CommandOption { name, value })
}

async fn slash(State(inner): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let user = match field_id(&body, "user") {
        Ok(u) => u,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let Some(command) = body.get("command").and_then(Value::as_str) else {
        return fail(StatusCode::BAD_REQUEST, "missing \"command\"");
    };
    let raw = body.get("options").and_then(Value::as_array).cloned().unwrap_or_default();
    let options: Result<Vec<_>, _> = raw.iter().map(|o| option_from(&inner, command, o)).collect();
    match options.map_err(anyhow::Error::msg).and_then(|o| inner.slash(user, command, o)) {
        Ok(id) => ok(json!({"interaction_id": id})),
        Err(e) => fail(StatusCode::CONFLICT, e),
    }
}

async fn click(State(inner): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let (user, message) = match (field_id(&body, "user"), field_id(&body, "message_id")) {
        (Ok(u), Ok(m)) => (u, m),
        (Err(e), _) | (_, Err(e)) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let Some(custom_id) = body.get("custom_id").and_then(Value::as_str) else {
        return fail(StatusCode::BAD_REQUEST, "missing \"custom_id\"");
    };
    match inner.click(user, message, custom_id, false) {
        Ok(id) => ok(json!({"interaction_id": id})),
        Err(e) => fail(StatusCode::CONFLICT, e),
    }
}

async fn clock(State(inner): Shared, axum::Json(body): axum::Json<Value>) -> Response {
    let ms = body.get("advance_ms").and_then(Value::as_u64).unwrap_or(0);
    inner.clock.advance(Duration::from_millis(ms));
    inner.sweep_deadlines();
    ok(json!({"now_ms": inner.now().as_millis() as u64}))
}

#[derive(Deserialize)]
struct RateLimitBody {
    route: RouteKind,
    count: u32,
    retry_after_ms: u64,
}

async fn rate_limit(State(inner): Shared, axum::Json(b): axum::Json<RateLimitBody>) -> Response {
    inner.rate_limit_next(b.route, b.count, Duration::from_millis(b.retry_after_ms));
    ok(json!({}))
}

#[derive(Deserialize)]
struct FailBody {
    route: RouteKind,
    count: u32,
    status: u16,
}

async fn fail_next(State(inner): Shared, axum::Json(b): axum::Json<FailBody>) -> Response {
    match inner.fail_next(b.route, b.count, b.status) {
        Ok(()) => ok(json!({})),
        Err(e) => fail(StatusCode::BAD_REQUEST, e),
    }
}

async fn gateway_fault(State(inner): Shared, Path(fault): Path<String>) -> Response {
    let sent = match fault.as_str() {
        "reconnect" => inner.gateway_reconnect(),
        "invalid_session" => inner.gateway_invalid_session(),
        "drop" => inner.gateway_drop(),
        _ => return fail(StatusCode::NOT_FOUND, format!("unknown fault {fault:?}")),
    };
    ok(json!({"sent": sent}))
}
