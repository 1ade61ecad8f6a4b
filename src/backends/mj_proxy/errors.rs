//! How a failure at a midjourney-proxy server becomes a [`BackendError`]. Three sources:
//! the HTTP status (auth, rate limits, outages), the submit result's `code` (which arrives
//! with HTTP 200: queue full, banned prompt, validation), and a task that ended in
//! `FAILURE`, `MODAL` or `CANCEL`. The API secret and the hook secret are scrubbed from
//! every message, since proxies echo what they were sent.

use crate::backends::http_util;
pub(super) use crate::backends::http_util::{excerpt, redact};
use std::time::SystemTime;

use crate::backends::http_util::{retry_after, truncate};
use std::fmt::Display;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::wire::{SubmitResult, Task};
use crate::backends::BackendError;
use crate::base::FailureCode;

/// How much of a response body goes into `detail`.
const EXCERPT_CHARS: usize = 400;
/// How much of the proxy's own words a member is shown.
const REASON_CHARS: usize = 300;
/// How member-facing messages name this service.
pub(super) const SERVICE: &str = "the Midjourney proxy";

/// Words in a `failReason` that mean Midjourney's moderation stopped the job. The proxies
/// pass Midjourney's English through, but write their own refusals in Chinese ("敏感词":
/// sensitive word, "违禁": prohibited).
const BLOCK_PHRASES: &[&str] =
    &["banned", "blocked", "moderat", "image filter", "community standards", "sensitive", "敏感", "违禁"];

/// Classifies a non-success HTTP answer that carries no usable submit code.
pub(super) fn from_status(
    backend: &str,
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> BackendError {
    let code = status.as_u16();
    let detail = format!("{what} → HTTP {code}: {}", excerpt(body, EXCERPT_CHARS));
    match code {
        401 | 403 => BackendError::fatal(
            FailureCode::CredentialsRejected,
            format!(
                "The Midjourney proxy rejected Easel's credentials; an admin needs to check the API \
                 secret for backend `{backend}`."
            ),
            detail,
        ),
        429 => BackendError::retryable(
            FailureCode::RateLimited,
            "The Midjourney proxy is rate limiting Easel; the request will be tried again shortly.",
            detail,
        )
        .with_retry_after(retry_after(headers, SystemTime::now())),
        408 => {
            BackendError::retryable(FailureCode::BackendTimeout, "The Midjourney proxy timed out.", detail)
        }
        404 => BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "The Midjourney proxy has no such endpoint; an admin needs to check the base_url of backend \
                 `{backend}` (it usually ends in `/mj`)."
            ),
            detail,
        ),
        400..=499 => {
            let reason = format!("HTTP {code} {}", status.canonical_reason().unwrap_or(""));
            BackendError::fatal(
                FailureCode::BackendRejected,
                format!("The Midjourney proxy rejected the request ({}).", reason.trim()),
                detail,
            )
        }
        500..=599 => BackendError::retryable(
            FailureCode::BackendError,
            format!("The Midjourney proxy had a temporary problem (HTTP {code})."),
            detail,
        )
        .with_retry_after(retry_after(headers, SystemTime::now())),
        _ => bad_response(format!("it answered with HTTP {code}"), detail),
    }
}

/// Reads a submit result's `code`: `Ok` for the codes under which a task exists (1
/// submitted, 21 already exists, 22 queued), the classified refusal otherwise.
pub(super) fn check_code(what: &str, result: &SubmitResult) -> Result<(), BackendError> {
    let description = result.description.as_deref().map(|d| truncate(one_line(d).as_str(), REASON_CHARS));
    let said = description.clone().unwrap_or_else(|| "no reason given".into());
    let detail = format!("{what} → code {}: {said}", result.code);
    match result.code {
        1 | 21 | 22 => Ok(()),
        23 => Err(BackendError::retryable(
            FailureCode::RateLimited,
            "The Midjourney proxy's queue is full; the request will be tried again shortly.",
            detail,
        )),
        24 => {
            let word = result.property_str("bannedWord").map(|w| one_line(&w)).filter(|w| !w.is_empty());
            let message = match word {
                Some(word) => {
                    format!("The service refused the word `{}` in your prompt.", word.replace('`', "'"))
                }
                None => "The service refused a word in your prompt.".to_string(),
            };
            Err(BackendError::fatal(FailureCode::ContentBlocked, message, detail))
        }
        3 | 4 => Err(BackendError::fatal(
            FailureCode::BackendRejected,
            format!("The Midjourney proxy rejected the request: {said}"),
            detail,
        )),
        9 => Err(BackendError::retryable(
            FailureCode::BackendError,
            format!("The Midjourney proxy had a problem: {said}"),
            detail,
        )),
        other => Err(bad_response(format!("the unknown submit code {other}"), detail)),
    }
}

/// A task that ended in `FAILURE`: moderation when the reason says so, a refusal otherwise.
/// Never retryable: a retry re-attaches to the same failed task rather than submitting anew.
pub(super) fn task_failed(id: &str, task: &Task) -> BackendError {
    let reason = task.fail_reason.as_deref().map(one_line).filter(|r| !r.is_empty());
    let detail = format!("task {id} FAILURE: {}", reason.as_deref().unwrap_or("no failReason"));
    let shown =
        reason.as_deref().map_or_else(|| "no reason given".to_string(), |r| truncate(r, REASON_CHARS));
    if reason.as_deref().is_some_and(is_blocked) {
        BackendError::fatal(
            FailureCode::ContentBlocked,
            format!("Midjourney refused this prompt: {shown}"),
            detail,
        )
    } else {
        BackendError::fatal(
            FailureCode::BackendRejected,
            format!("Midjourney could not finish this task: {shown}"),
            detail,
        )
    }
}

fn is_blocked(reason: &str) -> bool {
    let lower = reason.to_lowercase();
    BLOCK_PHRASES.iter().any(|p| lower.contains(p))
}

/// A task waiting in `MODAL`: the proxy's account has remix on, so V and 🔄 open a prompt
/// dialog that Easel cannot fill in.
pub(super) fn modal(backend: &str, id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        format!(
            "Midjourney is waiting for a remix prompt, which Easel cannot give: remix needs a prompt; \
             an admin needs to turn remix off on the proxy behind backend `{backend}`."
        ),
        format!("task {id} is in status MODAL (remix or a zoom/region dialog)"),
    )
}

pub(super) fn cancelled(id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        "The task was cancelled at the Midjourney proxy.",
        format!("task {id} is in status CANCEL"),
    )
}

/// The proxy no longer knows a task it accepted (it restarted with an in-memory store, or
/// the task expired). Fatal: a retry would ask about the same id again.
pub(super) fn lost(id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        "The Midjourney proxy lost track of this task (it may have restarted). Please try again.",
        format!("GET task/{id}/fetch keeps answering with no task"),
    )
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
        format!("backend `{backend}` (mj-proxy): {what}"),
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(json: &str) -> SubmitResult {
        SubmitResult::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn submit_codes_are_classified() {
        let code = |json: &str| check_code("POST x", &result(json)).err().map(|e| (e.code, e.retryable));
        assert_eq!(code(r#"{"code":1,"result":"1"}"#), None);
        assert_eq!(code(r#"{"code":22,"result":"1"}"#), None);
        assert_eq!(code(r#"{"code":21,"result":"1"}"#), None);
        assert_eq!(code(r#"{"code":23,"description":"队列已满"}"#), Some((FailureCode::RateLimited, true)));
        assert_eq!(code(r#"{"code":9,"description":"boom"}"#), Some((FailureCode::BackendError, true)));
        assert_eq!(code(r#"{"code":3}"#), Some((FailureCode::BackendRejected, false)));
        assert_eq!(code(r#"{"code":77}"#), Some((FailureCode::BackendBadResponse, false)));
        let e = check_code(
            "POST x",
            &result(r#"{"code":24,"description":"可能包含敏感词","properties":{"bannedWord":"gore"}}"#),
        )
        .unwrap_err();
        assert_eq!(e.code, FailureCode::ContentBlocked);
        assert_eq!(e.user_message, "The service refused the word `gore` in your prompt.");
    }

    #[test]
    fn failure_reasons_decide_between_blocked_and_rejected() {
        let failed = |reason: &str| {
            let t: Task =
                serde_json::from_value(serde_json::json!({"status":"FAILURE","failReason":reason})).unwrap();
            task_failed("1", &t)
        };
        assert_eq!(failed("Banned prompt detected").code, FailureCode::ContentBlocked);
        assert_eq!(failed("Request cancelled due to image filters").code, FailureCode::ContentBlocked);
        let e = failed("Invalid parameter\n--zoom");
        assert_eq!(e.code, FailureCode::BackendRejected);
        assert!(e.user_message.ends_with("Invalid parameter --zoom"), "{}", e.user_message);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h, SystemTime::now()), Some(Duration::from_secs(7)));
        // A date in the past means "now".
        h.insert("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
        assert_eq!(retry_after(&h, SystemTime::now()), Some(Duration::ZERO));
    }

    #[test]
    fn redaction_scrubs_every_secret() {
        let e = BackendError::fatal(FailureCode::BackendRejected, "key k1 and hook h2", "k1 h2");
        let e = redact(e, &["k1", "h2", ""]);
        assert_eq!(e.user_message, "key [redacted] and hook [redacted]");
        assert_eq!(e.detail, "[redacted] [redacted]");
    }
}
