//! How a failure at an A1111 / Forge server becomes a [`BackendError`]. The status and the
//! error body (`{"error", "detail", "body", "errors"}` from A1111's handler, FastAPI's plain
//! `{"detail"}` from Forge and for 422s) decide the [`FailureCode`] and whether the engine may
//! retry. Most failures here are the admin's to fix — a server started without `--api`, a
//! checkpoint, sampler or upscaler name the server does not have — so their messages name the
//! backend and the setting, never the password.

use crate::backends::http_util;
use crate::backends::http_util::truncate;
pub(super) use crate::backends::http_util::{excerpt, redact};
use std::fmt::Display;
use std::time::Duration;

use reqwest::StatusCode;

use super::client::{Endpoint, Names};
use super::wire::ErrorBody;
use crate::backends::BackendError;
use crate::base::FailureCode;

/// How much of a response body goes into `detail`.
const EXCERPT_CHARS: usize = 500;
/// How much of the server's message a member is shown.
const REASON_CHARS: usize = 300;
/// How member-facing messages name this service.
pub(super) const SERVICE: &str = "the image server";
/// A1111's postprocessing says this when `upscaler_1` names no installed upscaler.
pub(super) const UNKNOWN_UPSCALER: &str = "could not find upscaler named";

/// Classifies a non-success HTTP answer. `what` names the request (method and URL).
pub(super) fn from_status(
    names: &Names,
    endpoint: Endpoint,
    what: &str,
    status: StatusCode,
    body: &[u8],
) -> BackendError {
    let code = status.as_u16();
    let parsed = ErrorBody::parse(body);
    let detail = format!("{what} → HTTP {code}: {}", excerpt(body, EXCERPT_CHARS));
    let message = parsed.as_ref().and_then(ErrorBody::message).map(|m| truncate(&m, REASON_CHARS));
    let haystack = match &parsed {
        Some(p) => p.haystack(),
        None => String::from_utf8_lossy(&body[..body.len().min(4096)]).to_lowercase(),
    };
    let backend = &names.backend;
    let rejected = |user: String| BackendError::fatal(FailureCode::BackendRejected, user, detail.clone());
    match code {
        401 | 403 => BackendError::fatal(
            FailureCode::CredentialsRejected,
            format!(
                "The image server rejected Easel's credentials; an admin needs to check `api_key` (the \
                 \"user:password\" given to the server's --api-auth) for backend `{backend}`."
            ),
            detail,
        ),
        _ if haystack.contains("sampler not found") => rejected(format!(
            "The image server has no sampler `{}`; an admin needs to fix `sampler` for backend `{backend}` \
             (the server lists its samplers at /sdapi/v1/samplers).",
            names.sampler.as_deref().unwrap_or("(default)")
        )),
        // Forge raises "model 'x' not found" (500); some A1111 versions answer 404 "Model not found".
        _ if endpoint != Endpoint::Interrogate
            && (haystack.contains("model not found") || is_unknown_checkpoint(&haystack)) =>
        {
            rejected(format!(
                "The image server has no checkpoint `{}`; an admin needs to fix `model` for backend `{backend}` \
                 (the server lists its checkpoints at /sdapi/v1/sd-models).",
                names.model.as_deref().unwrap_or("(default)")
            ))
        }
        404 if endpoint == Endpoint::Interrogate && haystack.contains("model not found") => {
            rejected(format!(
                "The image server has no interrogate model `{}`; an admin needs to set `interrogate_model` for \
             backend `{backend}` to \"clip\" or \"deepdanbooru\".",
                names.interrogate_model
            ))
        }
        // FastAPI's answer for a route that does not exist: the API is not switched on.
        404 if message.as_deref().is_none_or(|m| m == "Not Found") => rejected(format!(
            "Backend `{backend}` has no API at its address: the server was probably not started with --api, \
             or `base_url` is not its root (e.g. http://127.0.0.1:7860)."
        )),
        500 if haystack.contains(UNKNOWN_UPSCALER) => rejected(format!(
            "The image server has no upscaler `{}`; an admin needs to fix `upscaler` for backend `{backend}`.",
            names.upscaler
        )),
        500 if haystack.contains("invalid encoded image") => BackendError::fatal(
            FailureCode::BadImage,
            "The image server could not read the image Easel sent it.",
            detail,
        ),
        500..=599 if haystack.contains("out of memory") => BackendError::retryable(
            FailureCode::BackendError,
            format!(
                "The image server ran out of GPU memory (out of memory){}.",
                message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
            detail,
        ),
        408 | 504 => {
            BackendError::retryable(FailureCode::BackendTimeout, "The image server timed out.", detail)
        }
        502 | 503 => BackendError::retryable(
            FailureCode::BackendUnavailable,
            format!("The image server is not available right now (HTTP {code})."),
            detail,
        ),
        500..=599 => {
            let what = match (&parsed, message) {
                (Some(p), Some(m)) => match p.error.as_deref().filter(|e| !e.is_empty()) {
                    Some(class) => format!(": {class}: {m}"),
                    None => format!(": {m}"),
                },
                _ => format!(" (HTTP {code}); its console shows the cause"),
            };
            BackendError::retryable(
                FailureCode::BackendError,
                format!("The image server failed{what}."),
                detail,
            )
        }
        400..=499 => {
            let reason = message.unwrap_or_else(|| {
                format!("HTTP {code} {}", status.canonical_reason().unwrap_or("")).trim().to_string()
            });
            rejected(format!("The image server rejected the request: {reason}"))
        }
        _ => bad_response(format!("an answer with HTTP {code}"), detail),
    }
}

/// Forge's `RuntimeError(f"model {name!r} not found")` for an unknown `sd_model_checkpoint`.
fn is_unknown_checkpoint(haystack: &str) -> bool {
    haystack.find("model '").is_some_and(|at| haystack[at..].contains("' not found"))
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
        format!("backend `{backend}` (a1111): {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            backend: "gpu".into(),
            model: Some("sdxl.safetensors".into()),
            sampler: Some("Euler Z".into()),
            upscaler: "Nope 4x".into(),
            interrogate_model: "wd14".into(),
        }
    }

    fn classify(endpoint: Endpoint, status: u16, body: &str) -> BackendError {
        let status = StatusCode::from_u16(status).unwrap();
        from_status(&names(), endpoint, "POST http://gpu/sdapi/v1/x", status, body.as_bytes())
    }

    #[test]
    fn names_the_setting_the_server_did_not_know() {
        let forge =
            r#"{"error":"RuntimeError","detail":"","body":"","errors":"model 'sdxl.safetensors' not found"}"#;
        let e = classify(Endpoint::Txt2img, 500, forge);
        assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
        assert!(e.user_message.contains("checkpoint `sdxl.safetensors`"), "{}", e.user_message);

        let e = classify(Endpoint::Txt2img, 404, r#"{"error":"HTTPException","detail":"Sampler not found"}"#);
        assert!(e.user_message.contains("sampler `Euler Z`"), "{}", e.user_message);
        let e = classify(Endpoint::Txt2img, 400, r#"{"detail":"Sampler not found"}"#);
        assert!(e.user_message.contains("sampler `Euler Z`"), "{}", e.user_message);

        let e = classify(
            Endpoint::Upscale,
            500,
            r#"{"error":"AssertionError","errors":"could not find upscaler named Nope 4x"}"#,
        );
        assert!(e.user_message.contains("upscaler `Nope 4x`"), "{}", e.user_message);

        let e =
            classify(Endpoint::Interrogate, 404, r#"{"error":"HTTPException","detail":"Model not found"}"#);
        assert!(e.user_message.contains("interrogate model `wd14`"), "{}", e.user_message);

        let e = classify(Endpoint::Txt2img, 404, r#"{"detail":"Not Found"}"#);
        assert!(e.user_message.contains("--api"), "{}", e.user_message);
    }

    #[test]
    fn server_failures_are_retryable_and_say_out_of_memory() {
        let e = classify(
            Endpoint::Txt2img,
            500,
            r#"{"error":"OutOfMemoryError","detail":"","body":"","errors":"CUDA out of memory. Tried to allocate 2.00 GiB"}"#,
        );
        assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
        assert!(e.user_message.contains("out of memory"), "{}", e.user_message);
        let e = classify(Endpoint::Txt2img, 500, "Internal Server Error");
        assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
        let e = classify(Endpoint::Txt2img, 503, "");
        assert_eq!((e.code, e.retryable), (FailureCode::BackendUnavailable, true));
        let e =
            classify(Endpoint::Upscale, 500, r#"{"error":"HTTPException","detail":"Invalid encoded image"}"#);
        assert_eq!((e.code, e.retryable), (FailureCode::BadImage, false));
    }

    #[test]
    fn redaction_scrubs_every_form() {
        let e = BackendError::fatal(FailureCode::BackendRejected, "pw hunter22", "sent me:hunter22");
        let e = redact(e, &["me:hunter22", "hunter22"]);
        assert!(!e.user_message.contains("hunter22") && !e.detail.contains("hunter22"));
    }
}
