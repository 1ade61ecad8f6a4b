//! What only the Open Journey API says when something fails: its documented error codes
//! (`invalid_api_key`, `rate_limit_exceeded`, `invalid_prompt`, `insufficient_credits`,
//! `server_error`) decide first; without one, the common ladder in [`http_util`] classifies the
//! HTTP status. Messages for what only an admin can fix name the backend; the adapter scrubs
//! the API key from all.

use std::time::{Duration, SystemTime};

use crate::backends::BackendError;
use crate::backends::http_util::{Failure, REASON_CHARS, Reply, Service, one_line, truncate};
use crate::base::FailureCode;

use super::client::rate_limit_wait;
use super::wire::{ApiError, ErrorBody};

pub(super) static SERVICE: Service = Service {
    name: "the Open Journey API",
    kind: "openjourney",
    credentials: "rejected Easel's API key; an admin needs to check the api_key of backend `{backend}`.",
    not_found: Some(
        "has no such endpoint or batch; an admin needs to check the base_url of backend `{backend}` (it \
         ends in `/v1`).",
    ),
    local: false,
    too_large: "an answer far larger than a batch",
};

/// Classifies a non-success HTTP answer.
pub(super) fn from_status(backend: &str, reply: &Reply) -> BackendError {
    let f = Failure::new(&SERVICE, backend, reply);
    // `Retry-After`, else what the rate-limit headers ask for.
    let wait = || f.retry_after().or_else(|| rate_limit_wait(&reply.headers, SystemTime::now()));
    let said = serde_json::from_slice::<ErrorBody>(&reply.body).ok().map(|b| b.error);
    if let Some(error) = said.as_ref().filter(|e| e.code.is_some()) {
        return from_code(backend, error, f.detail.clone(), wait());
    }
    match f.code {
        429 => from_code(backend, &named("rate_limit_exceeded"), f.detail.clone(), wait()),
        402 => from_code(backend, &named("insufficient_credits"), f.detail.clone(), None),
        _ => f.classify(None),
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
