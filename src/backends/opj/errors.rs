//! What only the Openjourney REST API says when something fails. The reference documents no
//! error bodies, so the HTTP status decides the class (the common ladder in [`http_util`]) and
//! the body's reason (see [`super::wire::error_message`]) is only shown: a refused key or an
//! empty account is for the admin, a refused prompt for the member, rate limits and outages are
//! retried. A job that ended `failed` is classified by its reason. The adapter scrubs the API
//! key from every message.

use crate::backends::BackendError;
use crate::backends::http_util::{Failure, REASON_CHARS, Reply, Service, ended_with, truncate};
use crate::base::FailureCode;

use super::wire::{Job, Status, error_message};

pub(super) static SERVICE: Service = Service {
    name: "the Openjourney REST API",
    kind: "opj",
    credentials: "rejected Easel's API key; an admin needs to check the api_key of backend `{backend}`.",
    not_found: Some(
        "has no such endpoint; an admin needs to check the base_url (it ends in `/v1`) and model of \
         backend `{backend}`.",
    ),
    local: false,
    too_large: "an answer far larger than a job",
};

/// Words in a reason that mean the service's safety filter stopped the prompt or image.
const BLOCK_PHRASES: &[&str] =
    &["nsfw", "safety", "moderat", "blocked", "banned", "inappropriate", "sensitive", "not allowed"];

/// Classifies a non-success HTTP answer.
pub(super) fn from_status(backend: &str, reply: &Reply) -> BackendError {
    let f = Failure::new(&SERVICE, backend, reply);
    let said = error_message(&reply.body).map(|s| truncate(&s, REASON_CHARS));
    match f.code {
        402 => f.rejected(format!(
            "The Openjourney account behind backend `{backend}` has no credits left; an admin needs to \
             top it up."
        )),
        // A refusal of this request, worded as the member's prompt was refused.
        400..=499 if !matches!(f.code, 401 | 403 | 404 | 408 | 429) => {
            let reason = said.unwrap_or_else(|| f.status_text());
            if is_blocked(&reason) {
                f.fatal(FailureCode::ContentBlocked, format!("Openjourney refused this prompt: {reason}"))
            } else {
                f.rejected(format!("Openjourney refused the request: {reason}"))
            }
        }
        _ => f.classify(said),
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
    ended_with(
        reason.as_deref(),
        BLOCK_PHRASES,
        "Openjourney",
        "Openjourney could not finish this image",
        detail,
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_are_classified() {
        let c = |code: u16| {
            let e = from_status("b", &Reply::fake(code, b""));
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
        let e = from_status("b", &Reply::fake(400, br#"{"error": "NSFW prompt"}"#));
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
