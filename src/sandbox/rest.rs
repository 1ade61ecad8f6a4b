//! The HTTP side of the sandbox: the router (Discord REST under `/api/v10`, the gateway socket,
//! attachment downloads, `/control`, the browser page at `/`), the middleware every Discord route
//! goes through, and the small routes (gateway URL, application, current user, command
//! registration, attachments).
//!
//! The middleware is the one place that counts requests by [`RouteKind`], answers injected 429s
//! and failures, checks the bot token, applies Discord's rate limits ([`ratelimit`]), and turns
//! every refusal into a recorded violation, so handlers only have to return an [`ApiError`].
//! Before it, [`guard`] refuses foreign `Host` names and cross-site changes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::model::{InteractionEvent, RouteKind, ViolationKind};
use super::payload::{BODY_LIMIT, read_body};
use super::ratelimit::{self, Scope, Verdict};
use super::state::{Injected, Inner};
use super::{control, gateway, guard, interactions, limits, messages, render, web};

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let api = Router::new()
        .route("/gateway", get(gateway_url))
        .route("/gateway/bot", get(gateway_bot))
        .route("/oauth2/applications/@me", get(application))
        .route("/applications/@me", get(application))
        .route("/users/@me", get(current_user))
        .route("/users/@me/channels", post(open_dm))
        .route("/applications/{app}/commands", put(register_global).get(list_global))
        .route("/applications/{app}/guilds/{guild}/commands", put(register_guild).get(list_guild))
        .route("/interactions/{id}/{token}/callback", post(interactions::callback))
        .route("/webhooks/{app}/{token}", post(interactions::followup))
        .route(
            "/webhooks/{app}/{token}/messages/{message}",
            get(interactions::get_message)
                .patch(interactions::edit_message)
                .delete(interactions::delete_message),
        )
        .route("/channels/{channel}/messages", post(messages::create_route))
        .route(
            "/channels/{channel}/messages/{message}",
            get(messages::get_route).patch(messages::edit_route).delete(messages::delete_route),
        )
        .fallback(unsupported)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/api/v10", api)
        .route("/gateway", get(gateway::upgrade))
        .route("/attachments/{channel}/{id}/{filename}", get(attachment))
        .nest("/control", control::router())
        .merge(web::router())
        .layer(middleware::from_fn_with_state(inner.clone(), track))
        // Outermost: a request from another site or a rebound name reaches nothing.
        .layer(middleware::from_fn_with_state(inner.clone(), guard::check))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(inner)
}

/// Names the Discord route a request is for (`None`: not a Discord route, e.g. `/control`).
pub(crate) fn classify(method: &Method, path: &str) -> Option<RouteKind> {
    if path == "/gateway" {
        return Some(RouteKind::Gateway);
    }
    if path.starts_with("/attachments/") {
        return Some(RouteKind::Attachment);
    }
    let rest = path.strip_prefix("/api/v10/")?;
    let seg: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let m = method.clone();
    Some(match (seg.as_slice(), m) {
        (["gateway"], _) => RouteKind::GetGateway,
        (["gateway", "bot"], _) => RouteKind::GetGatewayBot,
        (["oauth2", "applications", "@me"] | ["applications", "@me"], _) => RouteKind::GetApplication,
        (["users", "@me"], _) => RouteKind::GetCurrentUser,
        (["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"], _) => {
            RouteKind::Commands
        }
        (["interactions", _, _, "callback"], _) => RouteKind::InteractionCallback,
        (["webhooks", _, _], Method::POST) => RouteKind::CreateFollowup,
        (["webhooks", _, _, "messages", "@original"], m) => match m {
            Method::GET => RouteKind::GetOriginal,
            Method::PATCH => RouteKind::EditOriginal,
            Method::DELETE => RouteKind::DeleteOriginal,
            _ => RouteKind::Unknown,
        },
        (["webhooks", _, _, "messages", _], m) => match m {
            Method::GET => RouteKind::GetFollowup,
            Method::PATCH => RouteKind::EditFollowup,
            Method::DELETE => RouteKind::DeleteFollowup,
            _ => RouteKind::Unknown,
        },
        (["channels", _, "messages"], Method::POST) => RouteKind::CreateMessage,
        (["channels", _, "messages", _], m) => match m {
            Method::GET => RouteKind::GetMessage,
            Method::PATCH => RouteKind::EditMessage,
            Method::DELETE => RouteKind::DeleteMessage,
            _ => RouteKind::Unknown,
        },
        _ => RouteKind::Unknown,
    })
}

/// Routes that Discord authenticates with the bot token (interaction endpoints use the
/// interaction token in the path instead).
fn needs_bot_token(route: RouteKind) -> bool {
    matches!(
        route,
        RouteKind::GetGateway
            | RouteKind::GetGatewayBot
            | RouteKind::GetApplication
            | RouteKind::GetCurrentUser
            | RouteKind::Commands
            | RouteKind::CreateMessage
            | RouteKind::GetMessage
            | RouteKind::EditMessage
            | RouteKind::DeleteMessage
    )
}

fn bot_token_ok(inner: &Inner, headers: &HeaderMap) -> bool {
    let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    given.strip_prefix("Bot ") == Some(inner.config.token.as_str())
}

async fn track(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let Some(route) = classify(req.method(), req.uri().path()) else { return next.run(req).await };
    let is_api = !matches!(route, RouteKind::Gateway | RouteKind::Attachment);
    let injected = inner.write(|w| {
        *w.stats.requests.entry(route).or_default() += 1;
        if !is_api {
            return None;
        }
        let rule = w.injected.iter_mut().find(|r| r.remaining > 0 && r.route.matches(route))?;
        rule.remaining -= 1;
        let answer = rule.answer;
        w.injected.retain(|r| r.remaining > 0);
        match answer {
            Injected::RateLimited { .. } => {
                *w.stats.rate_limited.entry(route).or_default() += 1;
                w.stats.rate_limited_total += 1;
            }
            Injected::Fail { .. } => {
                *w.stats.injected_failures.entry(route).or_default() += 1;
                w.stats.injected_failures_total += 1;
            }
        }
        Some(answer)
    });
    let zero = inner.clock.unix_ms(Duration::ZERO);
    match injected {
        Some(Injected::RateLimited { retry_after }) => {
            let b = ratelimit::injected_state(&inner.config.rate_limits, route, inner.now(), retry_after);
            return ratelimit::too_many_requests(Scope::User, retry_after, Some(&b), zero);
        }
        Some(Injected::Fail { status }) => return ratelimit::injected_failure(status),
        None => {}
    }
    if !is_api {
        return next.run(req).await;
    }
    let authorised = bot_token_ok(&inner, req.headers());
    let mut bucket = None;
    let mut response = if needs_bot_token(route) && !authorised {
        ApiError::unauthorized(format!("{} {} without a valid `Bot <token>`", req.method(), req.uri().path()))
            .into_response()
    } else {
        // Discord limits per bot, so a request it does not know the bot of is not counted.
        let global = authorised && !ratelimit::is_interaction_route(route);
        let key = ratelimit::bucket_of(route, req.uri().path());
        let verdict = inner.write(|w| {
            let verdict = w.buckets.admit(&inner.config.rate_limits, inner.now(), key, global);
            if let Verdict::Limited { scope, .. } = &verdict {
                *w.stats.rate_limited.entry(route).or_default() += 1;
                w.stats.rate_limited_total += 1;
                w.stats.rate_limited_real += 1;
                w.stats.rate_limited_global += u64::from(*scope == Scope::Global);
            }
            verdict
        });
        match verdict {
            Verdict::Limited { scope, retry_after, route: b } => {
                return ratelimit::too_many_requests(scope, retry_after, b.as_ref(), zero);
            }
            Verdict::Pass(b) => bucket = b,
        }
        next.run(req).await
    };
    if let Some(e) = response.extensions_mut().remove::<ApiError>() {
        let v = inner.violation(e.kind, e.detail, route, e.interaction_id, e.status.as_u16(), e.code);
        inner.write(|w| {
            if let Some(i) = e.interaction_id.and_then(|id| w.interactions.get_mut(&id)) {
                i.record.events.push(InteractionEvent::Rejected { route, status: v.status, code: v.code });
            }
            w.violate(v);
        });
    }
    if let Some(b) = &bucket {
        ratelimit::set_headers(response.headers_mut(), b, zero);
    }
    response
}

async fn unsupported(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        0,
        "404: Not Found",
        ViolationKind::UnsupportedRoute,
        format!("{method} {uri} is not served by the sandbox"),
    )
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        0,
        "405: Method Not Allowed",
        ViolationKind::UnsupportedRoute,
        format!("{method} is not allowed on {uri}"),
    )
}

fn gateway_ws_url(inner: &Inner) -> String {
    format!("{}/gateway", inner.config.base_url.replacen("http", "ws", 1))
}

async fn gateway_url(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(json!({"url": gateway_ws_url(&inner)})).into_response()
}

async fn gateway_bot(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(json!({
        "url": gateway_ws_url(&inner),
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1},
    }))
    .into_response()
}

async fn application(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(inner.read(|w| render::application(&inner, w))).into_response()
}

/// `POST /users/@me/channels {"recipient_id"}`: the bot's DM channel with a member, made on
/// first use (the same one a DM interaction from that member uses).
async fn open_dm(State(inner): State<Arc<Inner>>, body: axum::body::Bytes) -> ApiResult {
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_form(&["recipient_id"], "This field is required"))?;
    let user = json["recipient_id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| json["recipient_id"].as_u64())
        .ok_or_else(|| ApiError::bad_form(&["recipient_id"], "Value \"\" is not snowflake."))?;
    let known = inner.read(|w| w.users.contains_key(&user));
    if !known {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            50007,
            "Cannot send messages to this user",
            super::model::ViolationKind::UnknownChannel,
            format!("no member {user} to open a DM with"),
        ));
    }
    let next = inner.clock.snowflake();
    Ok(inner.write(|w| {
        let channel = *w.dm_channels.entry(user).or_insert(next);
        axum::Json(super::events::dm_channel(w, channel, user)).into_response()
    }))
}

async fn current_user(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(inner.read(|w| render::current_user(&inner, w))).into_response()
}

fn check_app(inner: &Inner, app: &str) -> ApiResult<()> {
    if app.parse::<u64>().ok() == Some(inner.config.application_id) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        10002,
        "Unknown Application",
        ViolationKind::InvalidFormBody,
        format!("application {app}"),
    ))
}

/// What Discord stores for a registered command; the id survives re-registration by name.
fn registered(inner: &Inner, previous: &[Value], cmd: &Value, guild: Option<u64>) -> Value {
    let name = cmd.get("name").cloned().unwrap_or(Value::Null);
    let id = previous
        .iter()
        .find(|p| p.get("name") == Some(&name))
        .and_then(|p| p.get("id").cloned())
        .unwrap_or_else(|| json!(inner.clock.snowflake().to_string()));
    let field = |k: &str, default: Value| cmd.get(k).filter(|v| !v.is_null()).cloned().unwrap_or(default);
    let mut out = json!({
        "id": id,
        "application_id": inner.config.application_id.to_string(),
        "version": inner.clock.snowflake().to_string(),
        "default_member_permissions": field("default_member_permissions", Value::Null),
        "type": field("type", json!(1)),
        "name": name,
        "name_localizations": field("name_localizations", Value::Null),
        "description": field("description", json!("")),
        "description_localizations": field("description_localizations", Value::Null),
        "dm_permission": field("dm_permission", json!(true)),
        "contexts": field("contexts", Value::Null),
        "integration_types": field("integration_types", json!([0])),
        "nsfw": field("nsfw", json!(false)),
    });
    if let Some(o) = out.as_object_mut() {
        if let Some(options) = cmd.get("options").filter(|v| v.is_array()) {
            o.insert("options".into(), strip_nulls(options.clone()));
        }
        if let Some(g) = guild {
            o.insert("guild_id".into(), json!(g.to_string()));
        }
    }
    out
}

/// Discord leaves unset option fields out; echoing `null`s back would break its own schema.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect(),
        ),
        v => v,
    }
}

async fn register(inner: Arc<Inner>, app: String, guild: Option<String>, req: Request) -> ApiResult {
    check_app(&inner, &app)?;
    let guild_id = match guild {
        None => None,
        Some(g) if g.parse::<u64>().ok() == Some(inner.config.guild_id) => Some(inner.config.guild_id),
        Some(g) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                10004,
                "Unknown Guild",
                ViolationKind::InvalidFormBody,
                format!("guild {g}"),
            ));
        }
    };
    let body = read_body(req).await?;
    let cmds =
        body.json.as_array().ok_or_else(|| ApiError::bad_form(&[], "Expected an array of commands"))?;
    for (i, c) in cmds.iter().enumerate() {
        limits::check_command(i, c)?;
    }
    let out = inner.write(|w| {
        let list = if guild_id.is_some() { &mut w.guild_commands } else { &mut w.global_commands };
        let out: Vec<Value> = cmds.iter().map(|c| registered(&inner, list, c, guild_id)).collect();
        *list = out.clone();
        out
    });
    Ok(axum::Json(Value::Array(out)).into_response())
}

async fn register_global(
    State(inner): State<Arc<Inner>>,
    Path(app): Path<String>,
    req: Request,
) -> ApiResult {
    register(inner, app, None, req).await
}

async fn register_guild(
    State(inner): State<Arc<Inner>>,
    Path((app, guild)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    register(inner, app, Some(guild), req).await
}

async fn list_global(State(inner): State<Arc<Inner>>, Path(app): Path<String>) -> ApiResult {
    check_app(&inner, &app)?;
    Ok(axum::Json(inner.read(|w| w.global_commands.clone())).into_response())
}

async fn list_guild(
    State(inner): State<Arc<Inner>>,
    Path((app, _guild)): Path<(String, String)>,
) -> ApiResult {
    check_app(&inner, &app)?;
    Ok(axum::Json(inner.read(|w| w.guild_commands.clone())).into_response())
}

async fn attachment(
    State(inner): State<Arc<Inner>>,
    Path((_channel, id, filename)): Path<(String, String, String)>,
) -> Response {
    let found = inner.read(|w| {
        let blob = w.blobs.get(&id.parse::<u64>().ok()?)?;
        (blob.meta.filename == filename).then(|| (blob.bytes.clone(), blob.meta.content_type.clone()))
    });
    match found {
        Some((bytes, content_type)) => {
            let ct = content_type.unwrap_or_else(|| "application/octet-stream".into());
            ([(CONTENT_TYPE, ct)], bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "This content is no longer available.").into_response(),
    }
}
