//! How a failure at the Openjourney REST API becomes a [`BackendError`]. The reference
//! documents no error bodies, so the HTTP status decides the class and the body's reason (see
//! [`super::wire::error_message`]) is only shown: a refused key or an empty account is for the
//! admin, a refused prompt for the member, rate limits and outages are retried. A job that
//! ended `failed` is classified by its reason. The API key is scrubbed from every message.

use crate::backends::http_util;
pub(super) use crate::backends::http_util::{excerpt, redact};
use crate::backends::http_util::{retry_after, truncate};
use std::fmt::Display;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::wire::{Job, Status, error_message};
use crate::backends::BackendError;
use crate::base::FailureCode;

const EXCERPT_CHARS: usize = 400;
const REASON_CHARS: usize = 300;
/// How member-facing messages name this service.
pub(super) const SERVICE: &str = "the Openjourney REST API";

/// Words in a reason that mean the service's safety filter stopped the prompt or image.
const BLOCK_PHRASES: &[&str] =
    &["nsfw", "safety", "moderat", "blocked", "banned", "inappropriate", "sensitive", "not allowed"];

/// Classifies a non-success HTTP answer.
pub(super) fn from_status(
    backend: &str,
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> BackendError {
    let code = status.as_u16();
    let detail = format!("{what} → HTTP {code}: {}", excerpt(body, EXCERPT_CHARS));
    let said = error_message(body).map(|s| truncate(&s, REASON_CHARS));
    let wait = || retry_after(headers, SystemTime::now());
    match code {
        401 | 403 => BackendError::fatal(
            FailureCode::CredentialsRejected,
            format!(
                "The Openjourney REST API rejected Easel's API key; an admin needs to check the api_key \
                 of backend `{backend}`."
            ),
            detail,
        ),
        402 => BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "The Openjourney account behind backend `{backend}` has no credits left; an admin needs \
                 to top it up."
            ),
            detail,
        ),
        404 => BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "The Openjourney REST API has no such endpoint; an admin needs to check the base_url \
                 (it ends in `/v1`) and model of backend `{backend}`."
            ),
            detail,
        ),
        408 => BackendError::retryable(
            FailureCode::BackendTimeout,
            "The Openjourney REST API timed out.",
            detail,
        )
        .with_retry_after(wait()),
        429 => BackendError::retryable(
            FailureCode::RateLimited,
            "The Openjourney REST API is rate limiting Easel; the request will be tried again shortly.",
            detail,
        )
        .with_retry_after(wait()),
        400..=499 => {
            let reason = said.unwrap_or_else(|| {
                format!("HTTP {code} {}", status.canonical_reason().unwrap_or("")).trim().to_string()
            });
            if is_blocked(&reason) {
                BackendError::fatal(
                    FailureCode::ContentBlocked,
                    format!("Openjourney refused this prompt: {reason}"),
                    detail,
                )
            } else {
                BackendError::fatal(
                    FailureCode::BackendRejected,
                    format!("Openjourney refused the request: {reason}"),
                    detail,
                )
            }
        }
        500..=599 => BackendError::retryable(
            FailureCode::BackendError,
            format!("The Openjourney REST API had a temporary problem (HTTP {code})."),
            detail,
        )
        .with_retry_after(wait()),
        _ => bad_response(format!("it answered with HTTP {code}"), detail),
    }
}

/// A job that ended `failed` or `cancelled`. Not retryable: a retry re-attaches to the same
/// job (its id is stored), which has ended for good.
pub(super) fn job_failed(id: &str, job: &Job) -> BackendError {
    let reason = job.error_text();
    let detail = format!(
        "job {id} ended `{}`: {}",
        job.status.as_deref().unwrap_or(""),
        reason.as_deref().unwrap_or("no error given")
    );
    if job.status() == Some(Status::Cancelled) {
        return BackendError::fatal(
            FailureCode::BackendRejected,
            "The job was cancelled at Openjourney. Please try again.",
            detail,
        );
    }
    let shown =
        reason.as_deref().map_or_else(|| "no reason given".to_string(), |r| truncate(r, REASON_CHARS));
    if reason.as_deref().is_some_and(is_blocked) {
        BackendError::fatal(
            FailureCode::ContentBlocked,
            format!("Openjourney refused this prompt: {shown}"),
            detail,
        )
    } else {
        BackendError::fatal(
            FailureCode::BackendRejected,
            format!("Openjourney could not finish this image: {shown}"),
            detail,
        )
    }
}

fn is_blocked(reason: &str) -> bool {
    let lower = reason.to_lowercase();
    BLOCK_PHRASES.iter().any(|p| lower.contains(p))
}

/// The service no longer knows a job it accepted.
pub(super) fn lost(id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        "Openjourney lost track of this job. Please try again.",
        format!("GET job/{id} keeps answering 404"),
    )
}

/// Classifies a request that got no HTTP answer at all.
pub(super) fn from_transport(err: &reqwest::Error, what: &str, timeout: Duration) -> BackendError {
    http_util::transport_error(SERVICE, err, what, timeout)
}

/// An answer Easel cannot use; `reason` completes "… sent a response Easel could not use: …".
pub(super) fn bad_response(reason: impl Display, detail: impl Into<String>) -> BackendError {
    http_util::bad_response(SERVICE, reason, detail)
}

pub(super) fn unsupported(backend: &str, what: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::Unsupported,
        format!("Backend `{backend}` {what}."),
        format!("backend `{backend}` (opj): {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        let c = |code: u16| {
            let e = from_status("b", "POST x", StatusCode::from_u16(code).unwrap(), &h, b"");
            (e.code, e.retryable)
        };
        assert_eq!(c(401), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(403), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(402), (FailureCode::BackendRejected, false));
        assert_eq!(c(429), (FailureCode::RateLimited, true));
        assert_eq!(c(408), (FailureCode::BackendTimeout, true));
        assert_eq!(c(502), (FailureCode::BackendError, true));
        assert_eq!(c(422), (FailureCode::BackendRejected, false));
        assert_eq!(c(302), (FailureCode::BackendBadResponse, false));
        let e = from_status("b", "POST x", StatusCode::BAD_REQUEST, &h, br#"{"error": "NSFW prompt"}"#);
        assert_eq!(
            (e.code, e.user_message.as_str()),
            (FailureCode::ContentBlocked, "Openjourney refused this prompt: NSFW prompt")
        );
    }

    #[test]
    fn failed_jobs_are_classified_by_their_reason() {
        let job = |v: serde_json::Value| serde_json::from_value::<Job>(v).unwrap();
        let e = job_failed("j", &job(json!({"status": "failed", "error": "Out of memory"})));
        assert_eq!(e.code, FailureCode::BackendRejected);
        assert!(e.user_message.ends_with("Out of memory"), "{}", e.user_message);
        let e = job_failed("j", &job(json!({"status": "failed", "error": "Safety filter triggered"})));
        assert_eq!(e.code, FailureCode::ContentBlocked);
        let e = job_failed("j", &job(json!({"status": "cancelled"})));
        assert!(e.user_message.contains("cancelled") && !e.retryable, "{e:?}");
    }
}
