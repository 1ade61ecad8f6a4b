//! What only a midjourney-proxy server says when something fails, beside the HTTP status
//! (the common ladder in [`http_util`] classifies that): the submit result's `code`, which
//! arrives with HTTP 200 (queue full, banned prompt, validation), and a task that ended in
//! `FAILURE`, `MODAL` or `CANCEL`. The adapter scrubs the API secret and the hook secret from
//! every message, since proxies echo what they were sent.

use crate::backends::BackendError;
use crate::backends::http_util::{Failure, REASON_CHARS, Reply, Service, ended_with, one_line, truncate};
use crate::base::FailureCode;

use super::wire::{SubmitResult, Task};

pub(super) static SERVICE: Service = Service {
    name: "the Midjourney proxy",
    kind: "mj-proxy",
    credentials: "rejected Easel's credentials; an admin needs to check the API secret for backend `{backend}`.",
    not_found: Some(
        "has no such endpoint; an admin needs to check the base_url of backend `{backend}` (it usually ends \
         in `/mj`).",
    ),
    local: false,
    too_large: "an answer far larger than a task",
};

/// Words in a `failReason` that mean Midjourney's moderation stopped the job. The proxies
/// pass Midjourney's English through, but write their own refusals in Chinese ("敏感词":
/// sensitive word, "违禁": prohibited).
const BLOCK_PHRASES: &[&str] =
    &["banned", "blocked", "moderat", "image filter", "community standards", "sensitive", "敏感", "违禁"];

/// Classifies a non-success HTTP answer that carries no usable submit code.
pub(super) fn from_status(backend: &str, reply: &Reply) -> BackendError {
    Failure::new(&SERVICE, backend, reply).classify(None)
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
        other => Err(SERVICE.bad_response(format!("the unknown submit code {other}"), detail)),
    }
}

/// A task that ended in `FAILURE`.
pub(super) fn task_failed(id: &str, task: &Task) -> BackendError {
    failed_job(id, task.fail_reason.as_deref())
}

/// A Midjourney job that failed with `reason` (midjourney-proxy's `FAILURE`, ohmygpt's too):
/// moderation when the reason says so, a refusal otherwise. Never retryable: a retry
/// re-attaches to the same failed job rather than submitting anew.
pub(crate) fn failed_job(id: &str, reason: Option<&str>) -> BackendError {
    let reason = reason.map(one_line).filter(|r| !r.is_empty());
    let detail = format!("task {id} FAILURE: {}", reason.as_deref().unwrap_or("no failReason"));
    ended_with(
        reason.as_deref(),
        BLOCK_PHRASES,
        "Midjourney",
        "Midjourney could not finish this task",
        detail,
    )
}

/// Whether the service's words say Midjourney's moderation refused the job.
pub(crate) fn is_blocked(reason: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::http_util::{redact, retry_after};
    use std::time::{Duration, SystemTime};

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
        let mut h = reqwest::header::HeaderMap::new();
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
