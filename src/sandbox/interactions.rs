//! The interaction endpoints: `POST /interactions/{id}/{token}/callback` and the webhook routes
//! (`/webhooks/{app}/{token}` followups, `messages/@original` and `messages/{id}`).
//!
//! This is where the interaction deadlines live: one callback per interaction, within 3 s of the
//! dispatch (after that Discord forgets the interaction: 10062), and webhook calls only while the
//! token is valid (15 min: 50027). The first followup after a type 5 fills the loading message
//! instead of posting a new one, as Discord still does for backwards compatibility.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::limits::{CALLBACK_DEADLINE, TOKEN_LIFETIME};
use super::messages::{self, EPHEMERAL, Origin};
use super::model::{CallbackRecord, InteractionEvent, InteractionKind, ViolationKind};
use super::payload::{Draft, read_body};
use super::state::{Inner, Interaction, World};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) async fn callback(
    State(inner): State<Arc<Inner>>,
    Path((id, token)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let body = read_body(req).await?;
    let kind = body
        .json
        .get("type")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::bad_form(&["type"], "This field is required"))?;
    let data = body.json.get("data").cloned().unwrap_or(Value::Null);
    let files = body.files;
    inner.write(|w| {
        let unknown = || {
            ApiError::unknown_interaction(
                ViolationKind::UnknownInteraction,
                format!("no interaction {id} with that token"),
            )
        };
        let iid = id.parse::<u64>().map_err(|_| unknown())?;
        let now = inner.now();
        let i = w.interactions.get_mut(&iid).filter(|i| i.record.token == token).ok_or_else(unknown)?;
        if i.record.callback.is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                40060,
                "Interaction has already been acknowledged.",
                ViolationKind::AlreadyAcknowledged,
                format!("second callback (type {kind}) for interaction {iid}"),
            )
            .for_interaction(iid));
        }
        let latency = now.saturating_sub(i.record.dispatched_at);
        if latency > CALLBACK_DEADLINE || i.expired_unanswered {
            // Swept already means the lateness itself is on record; this is the bot acting on it.
            let kind = if i.expired_unanswered {
                ViolationKind::UnknownInteraction
            } else {
                ViolationKind::LateCallback
            };
            i.expired_unanswered = true;
            return Err(ApiError::unknown_interaction(
                kind,
                format!("callback {:.0} ms after dispatch (limit 3000 ms)", ms(latency)),
            )
            .for_interaction(iid));
        }
        let allowed: &[u64] = match i.record.kind {
            InteractionKind::Component { .. } => &[4, 5, 6, 7, 9],
            InteractionKind::Command { .. } => &[4, 5, 9],
            InteractionKind::Autocomplete { .. } => &[8],
            InteractionKind::Modal { message_id: Some(_), .. } => &[4, 5, 6, 7],
            InteractionKind::Modal { message_id: None, .. } => &[4, 5],
        };
        if !allowed.contains(&kind) {
            let choices = allowed.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            let mut e = ApiError::form(
                ViolationKind::InvalidCallbackType,
                &["type".to_owned()],
                "BASE_TYPE_CHOICES",
                &format!("Value must be one of {{{choices}}}."),
            );
            e.detail = format!(
                "callback type {kind} for a {} interaction",
                match i.record.kind {
                    InteractionKind::Component { .. } => "component",
                    InteractionKind::Command { .. } => "command",
                    InteractionKind::Autocomplete { .. } => "autocomplete",
                    InteractionKind::Modal { .. } => "modal submit",
                }
            );
            return Err(e.for_interaction(iid));
        }
        let ephemeral = data.get("flags").and_then(Value::as_u64).is_some_and(|f| f & EPHEMERAL != 0);
        let user = i.record.user_id;
        let channel_id = Some(i.record.channel_id);
        let origin =
            || Origin { interaction_id: Some(iid), ephemeral_for: ephemeral.then_some(user), channel_id };
        let component_message = match i.record.kind {
            InteractionKind::Component { message_id, .. } => Some(message_id),
            InteractionKind::Modal { message_id, .. } => message_id,
            InteractionKind::Command { .. } | InteractionKind::Autocomplete { .. } => None,
        };
        let mut modal = None;
        let mut choices = None;
        let original = match kind {
            4 => Some(
                messages::create(
                    &inner,
                    w,
                    Draft::parse(&data, files).map_err(|e| e.for_interaction(iid))?,
                    origin(),
                )
                .map_err(|e| e.for_interaction(iid))?,
            ),
            5 => Some(messages::create_loading(&inner, w, origin())),
            6 => component_message,
            7 => {
                let target = component_message.ok_or_else(|| ApiError::unknown_message("none"))?;
                let draft = Draft::parse(&data, files).map_err(|e| e.for_interaction(iid))?;
                messages::edit(&inner, w, target, draft).map_err(|e| e.for_interaction(iid))?;
                Some(target)
            }
            8 => {
                choices = Some(data.get("choices").cloned().unwrap_or(Value::Null));
                None
            }
            _ => {
                modal = Some(data.clone());
                None
            }
        };
        w.stats.callback_latencies_ms.push(ms(latency));
        let i = w.interactions.get_mut(&iid).ok_or_else(unknown)?;
        i.record.callback = Some(CallbackRecord { kind: kind as u8, at: now, latency, ephemeral });
        i.record.original_message_id = original;
        i.record.modal = modal;
        i.record.choices = choices;
        i.record.events.push(InteractionEvent::Callback { kind: kind as u8 });
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// The interaction behind a webhook call, if the call is allowed now.
fn webhook_interaction(inner: &Inner, world: &World, app: &str, token: &str) -> ApiResult<u64> {
    if app.parse::<u64>().ok() != Some(inner.config.application_id) {
        return Err(ApiError::unknown_webhook(format!("webhook id {app} is not the application id")));
    }
    let id = *world.tokens.get(token).ok_or_else(|| {
        ApiError::invalid_token(ViolationKind::InvalidToken, "no interaction has this token")
    })?;
    let i: &Interaction = world.interactions.get(&id).ok_or_else(|| {
        ApiError::invalid_token(ViolationKind::InvalidToken, "no interaction has this token")
    })?;
    let age = inner.now().saturating_sub(i.record.dispatched_at);
    if age > TOKEN_LIFETIME {
        return Err(ApiError::invalid_token(
            ViolationKind::TokenExpired,
            format!("token used {:.1} min after dispatch (valid 15 min)", age.as_secs_f64() / 60.0),
        )
        .for_interaction(id));
    }
    if i.record.callback.is_none() {
        let why = if i.expired_unanswered { "never acknowledged within 3 s" } else { "not acknowledged yet" };
        return Err(ApiError::unknown_webhook(format!("webhook call for interaction {id}: {why}"))
            .with_kind(ViolationKind::NotAcknowledged)
            .for_interaction(id));
    }
    Ok(id)
}

/// Resolves `@original` or a message id to a message this interaction's token may touch.
fn target(world: &World, iid: u64, message: &str) -> ApiResult<(u64, bool)> {
    let record = &world.interactions.get(&iid).ok_or_else(|| ApiError::unknown_message(message))?.record;
    let (id, original) = if message == "@original" {
        (record.original_message_id.ok_or_else(|| ApiError::unknown_message(message))?, true)
    } else {
        let id = message.parse::<u64>().map_err(|_| ApiError::unknown_message(message))?;
        let mine = record.original_message_id == Some(id) || record.followup_ids.contains(&id);
        if !mine {
            return Err(ApiError::unknown_message(message).for_interaction(iid));
        }
        (id, record.original_message_id == Some(id))
    };
    if world.message(id).is_none() {
        return Err(ApiError::unknown_message(id).for_interaction(iid));
    }
    Ok((id, original))
}

fn push_event(world: &mut World, iid: u64, event: InteractionEvent) {
    if let Some(i) = world.interactions.get_mut(&iid) {
        i.record.events.push(event);
    }
}

pub(crate) async fn followup(
    State(inner): State<Arc<Inner>>,
    Path((app, token)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let body = read_body(req).await?;
    let draft = Draft::parse(&body.json, body.files)?;
    inner.write(|w| {
        let iid = webhook_interaction(&inner, w, &app, &token)?;
        let record = &w
            .interactions
            .get(&iid)
            .ok_or_else(|| ApiError::unknown_webhook("interaction vanished"))?
            .record;
        let ephemeral = draft.flags.is_some_and(|f| f & EPHEMERAL != 0);
        let user = record.user_id;
        let channel_id = record.channel_id;
        let deferred = record.callback_type() == Some(5);
        let loading = record.original_message_id.filter(|id| w.message(*id).is_some_and(|m| m.loading));
        if let (true, Some(original)) = (deferred, loading) {
            // The loading message keeps the ephemerality chosen at defer time.
            messages::edit(&inner, w, original, draft).map_err(|e| e.for_interaction(iid))?;
            let eph = w.message(original).is_some_and(|m| m.is_ephemeral());
            push_event(
                w,
                iid,
                InteractionEvent::Followup { message_id: original, ephemeral: eph, filled_deferred: true },
            );
            return messages::json_of(&inner, w, original);
        }
        let origin = Origin {
            interaction_id: Some(iid),
            ephemeral_for: ephemeral.then_some(user),
            channel_id: Some(channel_id),
        };
        let id = messages::create(&inner, w, draft, origin).map_err(|e| e.for_interaction(iid))?;
        if let Some(i) = w.interactions.get_mut(&iid) {
            i.record.followup_ids.push(id);
        }
        push_event(w, iid, InteractionEvent::Followup { message_id: id, ephemeral, filled_deferred: false });
        messages::json_of(&inner, w, id)
    })
}

pub(crate) async fn get_message(
    State(inner): State<Arc<Inner>>,
    Path((app, token, message)): Path<(String, String, String)>,
) -> ApiResult {
    inner.read(|w| {
        let iid = webhook_interaction(&inner, w, &app, &token)?;
        let (id, _) = target(w, iid, &message)?;
        messages::json_of(&inner, w, id)
    })
}

pub(crate) async fn edit_message(
    State(inner): State<Arc<Inner>>,
    Path((app, token, message)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let body = read_body(req).await?;
    let draft = Draft::parse(&body.json, body.files)?;
    inner.write(|w| {
        let iid = webhook_interaction(&inner, w, &app, &token)?;
        let (id, original) = target(w, iid, &message)?;
        messages::edit(&inner, w, id, draft).map_err(|e| e.for_interaction(iid))?;
        let event = if original {
            InteractionEvent::EditOriginal { message_id: id }
        } else {
            InteractionEvent::EditFollowup { message_id: id }
        };
        push_event(w, iid, event);
        messages::json_of(&inner, w, id)
    })
}

pub(crate) async fn delete_message(
    State(inner): State<Arc<Inner>>,
    Path((app, token, message)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    inner.write(|w| {
        let iid = webhook_interaction(&inner, w, &app, &token)?;
        let (id, original) = target(w, iid, &message)?;
        messages::delete(w, id)?;
        let event = if original {
            InteractionEvent::DeleteOriginal { message_id: id }
        } else {
            InteractionEvent::DeleteFollowup { message_id: id }
        };
        push_event(w, iid, event);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

impl ApiError {
    pub(crate) fn with_kind(mut self, kind: ViolationKind) -> Self {
        self.kind = kind;
        self
    }
}
