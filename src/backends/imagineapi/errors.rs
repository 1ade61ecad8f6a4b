//! How a failure at ImagineAPI becomes a [`BackendError`]: the HTTP status (credentials,
//! rate limits, outages — with Directus's own error message kept for the log), an item that
//! ended `failed` (moderation or a refusal, by its reason), and requests that got no answer.
//! The API key is scrubbed from every message.

use crate::backends::http_util;
pub(super) use crate::backends::http_util::{excerpt, redact};
use crate::backends::http_util::{retry_after, truncate};
use std::fmt::Display;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::wire::{Image, error_message};
use crate::backends::BackendError;
use crate::base::FailureCode;

const EXCERPT_CHARS: usize = 400;
const REASON_CHARS: usize = 300;
/// How member-facing messages name this service.
pub(super) const SERVICE: &str = "ImagineAPI";

/// Words in a failed item's `error` that mean Midjourney's moderation stopped it.
const BLOCK_PHRASES: &[&str] =
    &["banned", "blocked", "moderat", "image filter", "community standards", "sensitive", "nsfw"];

/// Classifies a non-success HTTP answer.
pub(super) fn from_status(
    backend: &str,
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> BackendError {
    let code = status.as_u16();
    let said = error_message(body);
    let detail = format!("{what} → HTTP {code}: {}", excerpt(body, EXCERPT_CHARS));
    match code {
        401 | 403 => BackendError::fatal(
            FailureCode::CredentialsRejected,
            format!(
                "ImagineAPI rejected Easel's credentials; an admin needs to check the API token of \
                 backend `{backend}`."
            ),
            detail,
        ),
        429 => BackendError::retryable(
            FailureCode::RateLimited,
            "ImagineAPI is rate limiting Easel; the request will be tried again shortly.",
            detail,
        )
        .with_retry_after(retry_after(headers, std::time::SystemTime::now())),
        408 => BackendError::retryable(FailureCode::BackendTimeout, "ImagineAPI timed out.", detail),
        404 => BackendError::fatal(
            FailureCode::BackendRejected,
            format!(
                "ImagineAPI has no such endpoint or image; an admin needs to check the base_url of \
                 backend `{backend}` (the server's root, without `/items`)."
            ),
            detail,
        ),
        400..=499 => {
            let reason = said.map(|s| truncate(&one_line(&s), REASON_CHARS)).unwrap_or_else(|| {
                format!("HTTP {code} {}", status.canonical_reason().unwrap_or("")).trim().to_string()
            });
            BackendError::fatal(
                FailureCode::BackendRejected,
                format!("ImagineAPI rejected the request: {reason}"),
                detail,
            )
        }
        500..=599 => BackendError::retryable(
            FailureCode::BackendError,
            format!("ImagineAPI had a temporary problem (HTTP {code})."),
            detail,
        )
        .with_retry_after(retry_after(headers, std::time::SystemTime::now())),
        _ => bad_response(format!("it answered with HTTP {code}"), detail),
    }
}

/// An item that ended `failed`: moderation when its reason says so, a refusal otherwise.
/// Not retryable: a retry would re-attach to the same failed item.
pub(super) fn image_failed(id: &str, image: &Image) -> BackendError {
    let reason = image.error_text();
    let detail = format!("image {id} failed: {}", reason.as_deref().unwrap_or("no error given"));
    let shown =
        reason.as_deref().map_or_else(|| "no reason given".to_string(), |r| truncate(r, REASON_CHARS));
    let blocked = reason.as_deref().is_some_and(|r| {
        let lower = r.to_lowercase();
        BLOCK_PHRASES.iter().any(|p| lower.contains(p))
    });
    if blocked {
        BackendError::fatal(
            FailureCode::ContentBlocked,
            format!("Midjourney refused this prompt: {shown}"),
            detail,
        )
    } else {
        BackendError::fatal(
            FailureCode::BackendRejected,
            format!("ImagineAPI could not finish this image: {shown}"),
            detail,
        )
    }
}

/// ImagineAPI no longer knows an image it accepted.
pub(super) fn lost(id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        "ImagineAPI lost track of this image. Please try again.",
        format!("GET items/images/{id} keeps answering 404 or no item"),
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
        format!("backend `{backend}` (imagineapi): {what}"),
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        let c = |code: u16| {
            let e = from_status("b", "GET x", StatusCode::from_u16(code).unwrap(), &h, b"");
            (e.code, e.retryable)
        };
        assert_eq!(c(401), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(403), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(429), (FailureCode::RateLimited, true));
        assert_eq!(c(503), (FailureCode::BackendError, true));
        assert_eq!(c(400), (FailureCode::BackendRejected, false));
        let e = from_status(
            "b",
            "POST x",
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"errors":[{"message":"Invalid parameter --zoom"}]}"#,
        );
        assert_eq!(e.user_message, "ImagineAPI rejected the request: Invalid parameter --zoom");
    }
}
