//! How an answer from ohmygpt becomes a [`BackendError`]. Success needs both a 2xx answer
//! and `statusCode == 200` in the body; the docs never say which HTTP status goes with an
//! error body, so the body's code decides when there is one and the HTTP status otherwise.
//! Its `message` is shown in plain words; what only an admin can fix (the key, the balance,
//! `base_url`) names the backend. A web page where JSON belongs (a Cloudflare front's 5xx
//! or challenge page) is retried, never taken for the service's own answer. What is not
//! ohmygpt's own (keys, rate limits, outages) goes down the shared ladder
//! ([`Failure::classify`]). The key is scrubbed from every message by the caller.

use reqwest::StatusCode;

use super::wire::{Envelope, Task};
use crate::backends::BackendError;
use crate::backends::http_util::{BodyKind, Failure, REASON_CHARS, Reply, Service, truncate};
// Midjourney's failures and refusal words, which ohmygpt passes through.
use crate::backends::mj_proxy::{failed_job, is_blocked};
use crate::base::FailureCode;

pub(super) static SERVICE: Service = Service {
    name: "OhMyGPT",
    kind: "ohmygpt",
    credentials: "rejected Easel's API key; an admin needs to check the api_key of backend `{backend}` (it \
                  needs the midJourney permission).",
    not_found: Some(
        "has no such endpoint; an admin needs to check the base_url of backend `{backend}` (the server \
         root, such as https://api.ohmygpt.com).",
    ),
    local: false,
    too_large: "an answer far larger than a task",
};

/// Reads one answer: the envelope when it says success, else the classified failure.
pub(super) fn read_reply(backend: &str, reply: &Reply) -> Result<Envelope, BackendError> {
    let status = reply.status;
    match Envelope::parse(&reply.body) {
        Some(env) if status.is_success() && env.is_success() => Ok(env),
        Some(env) => {
            // The body's code when it names a failure; an HTTP failure under a "200" body
            // (a front that rewrote the status) is judged by the HTTP status.
            let code = env.code().filter(|c| *c != 200).unwrap_or(status.as_u16());
            Err(classify(backend, reply, code, Some(&env)))
        }
        None if status.is_success() => Err(SERVICE.unusable_json(
            &reply.what,
            &reply.body,
            "an answer without ohmygpt's `{statusCode, message, data}`",
        )),
        None => match status.as_u16() {
            408 | 429 | 500..=599 => Err(classify(backend, reply, status.as_u16(), None)),
            // A web page with a 4xx is a CDN's challenge or block page, not the service's
            // verdict on the key or the request.
            _ if BodyKind::of(&reply.body) == BodyKind::WebPage => {
                Err(SERVICE.unusable_json(&reply.what, &reply.body, "a web page"))
            }
            code => Err(classify(backend, reply, code, None)),
        },
    }
}

/// A failure by its code (the body's, else the HTTP status).
fn classify(backend: &str, reply: &Reply, code: u16, env: Option<&Envelope>) -> BackendError {
    let mut failure = Failure::new(&SERVICE, backend, reply);
    failure.code = code;
    failure.status = StatusCode::from_u16(code).unwrap_or(reply.status);
    let message = env.and_then(Envelope::message);
    let error_type = env.and_then(Envelope::error_type).unwrap_or_default();
    if code == 402 || error_type == "insufficient_balance_error" {
        // Retrying cannot refill the account; the admin has to.
        return failure.fatal(
            FailureCode::RateLimited,
            format!(
                "The OhMyGPT account behind backend `{backend}` has too little balance for this; an admin \
                 needs to top it up."
            ),
        );
    }
    // NestJS answers an unknown route with "Cannot POST /…": that is a wrong address, which
    // the ladder words; any other reason is the service's verdict on the request.
    let said = message.filter(|m| !m.starts_with("Cannot ")).map(|m| truncate(&m, REASON_CHARS));
    match (code, said) {
        (400..=499, Some(reason)) if !matches!(code, 401 | 403 | 408 | 429) => {
            if is_blocked(&reason) {
                failure.fatal(
                    FailureCode::ContentBlocked,
                    format!("OhMyGPT refused this request under its content rules: {reason}"),
                )
            } else {
                failure.rejected(format!("OhMyGPT refused the request: {reason}"))
            }
        }
        (404, None) => failure.classify(None),
        (400..=499, None) if !matches!(code, 401 | 403 | 408 | 429) => {
            failure.rejected(format!("OhMyGPT refused the request (HTTP {code})."))
        }
        _ => failure.classify(None),
    }
}

/// A task that ended in failure, judged by its `failReason` as Midjourney's own failures are.
pub(super) fn task_failed(id: &str, task: &Task) -> BackendError {
    failed_job(id, task.fail_reason().as_deref())
}

/// ohmygpt answers a task id with no task. Fatal: a retry would ask about the same id.
pub(super) fn lost(id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        "OhMyGPT lost track of this task. Please try again.",
        format!("query of task {id} keeps answering with no task"),
    )
}

/// An answer Easel cannot use; `reason` completes "… sent a response Easel could not use: …".
pub(super) fn bad_response(reason: impl std::fmt::Display, detail: impl Into<String>) -> BackendError {
    SERVICE.bad_response(reason, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    fn read(status: u16, body: &str) -> Result<Envelope, BackendError> {
        let mut reply = Reply::fake(status, body.as_bytes());
        reply.headers.insert("retry-after", "7".parse().unwrap());
        read_reply("omg", &reply)
    }

    fn failure(status: u16, body: &str) -> (FailureCode, bool, String) {
        let e = read(status, body).expect_err("a failure");
        (e.code, e.retryable, e.user_message)
    }

    #[test]
    fn success_needs_both_the_status_and_the_body() {
        assert!(read(200, r#"{"statusCode":200,"message":"Success","data":1}"#).is_ok());
        let (code, retry, msg) =
            failure(200, r#"{"statusCode":400,"message":"prompt is required","data":null}"#);
        assert_eq!((code, retry), (FailureCode::BackendRejected, false));
        assert_eq!(msg, "OhMyGPT refused the request: prompt is required");
        let (code, retry, _) = failure(502, r#"{"statusCode":200,"data":1}"#);
        assert_eq!((code, retry), (FailureCode::BackendError, true));
        let (code, _, _) = failure(200, r#"{"code":1,"result":"1"}"#);
        assert_eq!(code, FailureCode::BackendBadResponse, "another dialect");
    }

    #[test]
    fn balance_and_keys_are_for_the_admin() {
        let balance = r#"{"statusCode":402,"message":"User balance is insufficient, please recharge","errorType":"insufficient_balance_error","data":null}"#;
        for status in [402, 200] {
            let (code, retry, msg) = failure(status, balance);
            assert_eq!((code, retry), (FailureCode::RateLimited, false));
            assert!(msg.contains("balance") && msg.contains("backend `omg`"), "{msg}");
        }
        let (code, _, msg) = failure(401, r#"{"statusCode":401,"message":"Incorrect key","data":null}"#);
        assert_eq!(code, FailureCode::CredentialsRejected);
        assert!(msg.contains("api_key of backend `omg`"), "{msg}");
        assert_eq!(failure(403, "").0, FailureCode::CredentialsRejected);
    }

    #[test]
    fn web_pages_and_outages_are_retried() {
        let page = "<!DOCTYPE html><html><title>502 Bad Gateway</title></html>";
        let (code, retry, msg) = failure(502, page);
        assert_eq!((code, retry), (FailureCode::BackendError, true));
        assert_eq!(msg, "OhMyGPT had a temporary problem (HTTP 502).");
        let (code, retry, _) = failure(200, page);
        assert_eq!((code, retry), (FailureCode::WrongContentType, true));
        let (code, retry, _) = failure(403, "<html>Attention Required! | Cloudflare</html>");
        assert_eq!(
            (code, retry),
            (FailureCode::WrongContentType, true),
            "a challenge page is not a key verdict"
        );
        let e = read(429, "slow down").unwrap_err();
        assert_eq!(
            (e.code, e.retryable, e.retry_after),
            (FailureCode::RateLimited, true, Some(Duration::from_secs(7)))
        );
    }

    #[test]
    fn not_found_tells_a_route_from_a_task() {
        let route = r#"{"statusCode":404,"message":"Cannot POST /api/v1/x","error":"Not Found"}"#;
        assert!(failure(404, route).2.contains("check the base_url of backend `omg`"));
        let task = r#"{"statusCode":404,"message":"Task not found","data":null}"#;
        assert_eq!(failure(200, task).2, "OhMyGPT refused the request: Task not found");
        let (code, _, _) = failure(400, r#"{"statusCode":400,"message":"Prompt contains sensitive words"}"#);
        assert_eq!(code, FailureCode::ContentBlocked);
    }

    #[test]
    fn failed_tasks_say_why() {
        let failed = |reason: &str| {
            let task: Task =
                serde_json::from_value(serde_json::json!({"status":"FAILURE","failReason":reason})).unwrap();
            task_failed("1", &task)
        };
        assert_eq!(failed("Banned prompt detected").code, FailureCode::ContentBlocked);
        let e = failed("Invalid parameter\n--zoom");
        assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
        assert_eq!(e.user_message, "Midjourney could not finish this task: Invalid parameter --zoom");
    }
}
