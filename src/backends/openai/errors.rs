//! How a failure at an OpenAI-compatible service becomes a [`BackendError`]: the HTTP status
//! and error body decide the [`FailureCode`], whether the engine may retry and when, and what
//! the member reads; the log gets an excerpt of the body. The API key is scrubbed from all of
//! it, since some relays echo the key they were sent.

use crate::backends::http_util;
pub(super) use crate::backends::http_util::{excerpt, redact};
use crate::backends::http_util::{retry_after, truncate};
use std::fmt::Display;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::wire::ErrorBody;
use crate::backends::BackendError;
use crate::base::FailureCode;

/// How much of a response body goes into `detail`.
const EXCERPT_CHARS: usize = 500;
/// How much of the provider's message a member is shown.
const REASON_CHARS: usize = 300;

const BLOCK_CODES: &[&str] = &["content_policy_violation", "moderation_blocked", "content_filter"];
/// Phrases providers use for a refusal when they set no code, or a code of their own.
const BLOCK_PHRASES: &[&str] = &["safety", "content policy", "content_policy", "content filter"];
/// How member-facing messages name this service.
pub(super) const SERVICE: &str = "the image service";

/// Classifies a non-success HTTP answer. `what` names the request (method and URL).
pub(super) fn from_status(
    backend: &str,
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> BackendError {
    let parsed = ErrorBody::parse(body);
    let detail = format!("{what} → HTTP {}: {}", status.as_u16(), excerpt(body, EXCERPT_CHARS));
    let message = parsed.as_ref().and_then(ErrorBody::message);
    let codes = parsed.as_ref().map(ErrorBody::codes).unwrap_or_default();
    let code = status.as_u16();
    match code {
        401 | 403 => BackendError::fatal(
            FailureCode::CredentialsRejected,
            format!(
                "The image service rejected Easel's credentials; an admin needs to check the API key for backend \
                 `{backend}`."
            ),
            detail,
        ),
        // Retrying cannot refill an exhausted account; the admin has to.
        429 if codes.iter().any(|c| c == "insufficient_quota") => BackendError::fatal(
            FailureCode::RateLimited,
            format!(
                "The image service says the account behind backend `{backend}` is out of quota; an admin needs to \
                 check its billing."
            ),
            detail,
        ),
        429 => BackendError::retryable(
            FailureCode::RateLimited,
            "The image service is rate limiting Easel; the request will be tried again shortly.",
            detail,
        )
        .with_retry_after(retry_after(headers, SystemTime::now())),
        408 => BackendError::retryable(FailureCode::BackendTimeout, "The image service timed out.", detail),
        // OpenAI answers 409 to a request that collided with another; it is worth repeating.
        409 => BackendError::retryable(
            FailureCode::BackendError,
            "The image service was busy with a conflicting request.",
            detail,
        ),
        400..=499 if is_blocked(&codes, message.as_deref()) => {
            let reason =
                message.map(|m| truncate(&m, REASON_CHARS)).unwrap_or_else(|| "no reason given".into());
            BackendError::fatal(
                FailureCode::ContentBlocked,
                format!("The image service refused this request under its content policy: {reason}"),
                detail,
            )
        }
        400..=499 => {
            let mut reason = message.map(|m| truncate(&m, REASON_CHARS)).unwrap_or_else(|| {
                format!("HTTP {code} {}", status.canonical_reason().unwrap_or("")).trim().into()
            });
            if let Some(param) =
                parsed.as_ref().and_then(ErrorBody::param).filter(|p| !reason.contains(p.as_str()))
            {
                reason += &format!(" (parameter `{param}`)");
            }
            BackendError::fatal(
                FailureCode::BackendRejected,
                format!("The image service rejected the request: {reason}"),
                detail,
            )
        }
        500..=599 => BackendError::retryable(
            FailureCode::BackendError,
            format!("The image service had a temporary problem (HTTP {code})."),
            detail,
        )
        .with_retry_after(retry_after(headers, SystemTime::now())),
        _ => bad_response(format!("it answered with HTTP {code}"), detail),
    }
}

fn is_blocked(codes: &[String], message: Option<&str>) -> bool {
    codes.iter().any(|c| BLOCK_CODES.contains(&c.as_str()))
        || message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            BLOCK_PHRASES.iter().any(|p| m.contains(p))
        })
}

/// Classifies a request that got no HTTP answer at all.
pub(super) fn from_transport(err: &reqwest::Error, what: &str, timeout: Duration) -> BackendError {
    http_util::transport_error(SERVICE, err, what, timeout)
}

/// A JSON answer that could not be read as `expecting`: cut off, a web page, or the wrong shape.
pub(super) fn unusable_json(what: &str, body: &[u8], expecting: impl Display) -> BackendError {
    http_util::unusable_json(SERVICE, what, body, expecting)
}

/// An answer Easel cannot use; `reason` completes "… sent a response Easel could not use: …".
pub(super) fn bad_response(reason: impl Display, detail: impl Into<String>) -> BackendError {
    http_util::bad_response(SERVICE, reason, detail)
}

pub(super) fn unsupported(backend: &str, what: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::Unsupported,
        format!("Backend `{backend}` {what}."),
        format!("backend `{backend}` (openai): {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::http_util::parse_http_date;
    use reqwest::header::HeaderValue;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_prefers_milliseconds_then_seconds_then_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let h = headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&headers(&[("retry-after", "9")]), now), Some(Duration::from_secs(9)));
        let date = headers(&[("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT")]);
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(30)));
        let past = headers(&[("retry-after", "Sat, 05 Nov 1994 08:50:07 GMT")]);
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after-ms", "1e300")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn http_dates_parse_across_leap_years() {
        let t = parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_709_208_000);
        assert!(parse_http_date("Thu, 29 Feb 2024 12:00:00 UTC").is_none());
        assert!(parse_http_date("Thu, 29 Feb 2024 25:00:00 GMT").is_none());
    }

    #[test]
    fn refusals_are_recognised_by_code_or_by_message() {
        let status = StatusCode::BAD_REQUEST;
        let e = from_status(
            "b",
            "POST x",
            status,
            &HeaderMap::new(),
            br#"{"error":{"message":"Your request was rejected by the safety system.","type":"image_generation_user_error","param":null,"code":null}}"#,
        );
        assert_eq!(e.code, FailureCode::ContentBlocked);
        assert!(e.user_message.contains("rejected by the safety system"), "{}", e.user_message);
        let e = from_status(
            "b",
            "POST x",
            status,
            &HeaderMap::new(),
            br#"{"error":{"message":"x","code":"moderation_blocked"}}"#,
        );
        assert_eq!(e.code, FailureCode::ContentBlocked);
        let e = from_status(
            "b",
            "POST x",
            status,
            &HeaderMap::new(),
            br#"{"error":{"message":"Invalid value: '7x7'.","param":"size"}}"#,
        );
        assert_eq!(e.code, FailureCode::BackendRejected);
        assert!(e.user_message.ends_with("Invalid value: '7x7'. (parameter `size`)"), "{}", e.user_message);
    }

    #[test]
    fn redaction_scrubs_both_texts() {
        let e = BackendError::fatal(FailureCode::BackendRejected, "key sk-abc was bad", "sent sk-abc");
        let e = redact(e, &["sk-abc"]);
        assert!(!e.user_message.contains("sk-abc") && !e.detail.contains("sk-abc"));
    }

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(excerpt(b"a\n  b", 10), "a b");
        assert_eq!(excerpt("ééééé".as_bytes(), 3), "ééé…");
        assert_eq!(excerpt(b"", 3), "(empty body)");
    }
}
