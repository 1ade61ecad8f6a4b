//! How a failure at the Open Journey API becomes a [`BackendError`]. The documented error
//! codes decide first (`invalid_api_key`, `rate_limit_exceeded`, `invalid_prompt`,
//! `insufficient_credits`, `server_error`), the HTTP status when there is no code. Messages
//! for what only an admin can fix name the backend; the API key is scrubbed from all.

use crate::backends::http_util;
pub(super) use crate::backends::http_util::{excerpt, redact};
use crate::backends::http_util::{retry_after, truncate};
use std::fmt::Display;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::wire::{ApiError, ErrorBody};
use crate::backends::BackendError;
use crate::base::FailureCode;

const EXCERPT_CHARS: usize = 400;
const REASON_CHARS: usize = 300;
/// How member-facing messages name this service.
pub(super) const SERVICE: &str = "the Open Journey API";

/// Classifies a non-success HTTP answer. `wait` is what the rate-limit headers ask for.
pub(super) fn from_status(
    backend: &str,
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    wait: Option<Duration>,
) -> BackendError {
    let code = status.as_u16();
    let detail = format!("{what} → HTTP {code}: {}", excerpt(body, EXCERPT_CHARS));
    let said = serde_json::from_slice::<ErrorBody>(body).ok().map(|b| b.error);
    if let Some(error) = said.as_ref().filter(|e| e.code.is_some()) {
        return from_code(
            backend,
            error,
            detail,
            retry_after(headers, std::time::SystemTime::now()).or(wait),
        );
    }
    match code {
        401 | 403 => from_code(backend, &named("invalid_api_key"), detail, None),
        429 => from_code(
            backend,
            &named("rate_limit_exceeded"),
            detail,
            retry_after(headers, std::time::SystemTime::now()).or(wait),
        ),
        402 => from_code(backend, &named("insufficient_credits"), detail, None),
        404 => BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "The Open Journey API has no such endpoint or batch; an admin needs to check the base_url \
                 of backend `{backend}` (it ends in `/v1`)."
            ),
            detail,
        ),
        408 => {
            BackendError::retryable(FailureCode::BackendTimeout, "The Open Journey API timed out.", detail)
        }
        400..=499 => BackendError::fatal(
            FailureCode::BackendRejected,
            format!("The Open Journey API rejected the request (HTTP {code})."),
            detail,
        ),
        500..=599 => from_code(
            backend,
            &named("server_error"),
            detail,
            retry_after(headers, std::time::SystemTime::now()),
        ),
        _ => bad_response(format!("it answered with HTTP {code}"), detail),
    }
}

fn named(code: &str) -> ApiError {
    ApiError { code: Some(code.into()), message: None }
}

/// One documented error code, as a member or an admin needs to hear it.
pub(super) fn from_code(
    backend: &str,
    error: &ApiError,
    detail: String,
    retry: Option<Duration>,
) -> BackendError {
    let message = error.message.as_deref().map(|m| truncate(&one_line(m), REASON_CHARS));
    let said = message.clone().unwrap_or_else(|| "no reason given".into());
    match error.code.as_deref().unwrap_or("") {
        "invalid_api_key" => BackendError::fatal(
            FailureCode::CredentialsRejected,
            format!(
                "The Open Journey API rejected Easel's API key; an admin needs to check the api_key of backend `{backend}`."
            ),
            detail,
        ),
        "rate_limit_exceeded" => BackendError::retryable(
            FailureCode::RateLimited,
            "The Open Journey API is rate limiting Easel; the request will be tried again shortly.",
            detail,
        )
        .with_retry_after(retry),
        "invalid_prompt" => BackendError::fatal(
            FailureCode::BackendRejected,
            format!("Open Journey refused your prompt: {said}"),
            detail,
        ),
        "insufficient_credits" => BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "The Open Journey account behind backend `{backend}` has no credits left; an admin needs to \
                 top it up or upgrade the plan."
            ),
            detail,
        ),
        "server_error" => BackendError::retryable(
            FailureCode::BackendError,
            "The Open Journey API had a temporary problem.",
            detail,
        )
        .with_retry_after(retry),
        other => BackendError::fatal(
            FailureCode::BackendRejected,
            format!("The Open Journey API refused the request ({}): {said}", other.replace('`', "'")),
            detail,
        ),
    }
}

/// Classifies a request that got no HTTP answer at all.
pub(super) fn from_transport(err: &reqwest::Error, what: &str, timeout: Duration) -> BackendError {
    http_util::transport_error(SERVICE, err, what, timeout)
}

/// Parses a JSON answer, or says precisely why it could not be used (cut off, a web page,
/// the wrong shape: `expecting`).
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
    expecting: impl Display,
) -> Result<T, BackendError> {
    http_util::parse_json(SERVICE, what, body, expecting)
}

/// An answer Easel cannot use; `reason` completes "… sent a response Easel could not use: …".
pub(super) fn bad_response(reason: impl Display, detail: impl Into<String>) -> BackendError {
    http_util::bad_response(SERVICE, reason, detail)
}

pub(super) fn unsupported(backend: &str, what: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::Unsupported,
        format!("Backend `{backend}` {what}."),
        format!("backend `{backend}` (openjourney): {what}"),
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
