//! HTTP plumbing every backend adapter shares: the JSON client ([`JsonClient`]), the ladder
//! from an HTTP status to a classified failure ([`Failure`], worded per [`Service`]), the
//! webhook [`Mailbox`], reading a body with a size cap, the delay a service asks for
//! (`Retry-After`), scrubbing secrets out of errors, one-line excerpts of bodies and error
//! chains for the log, and (in `unusable`) naming precisely what is wrong with an answer
//! Easel cannot use.

mod client;
mod ladder;
mod mailbox;
mod unusable;

pub use client::{Auth, JsonClient, Probe, Reply};
pub use ladder::{Failure, REASON_CHARS, Service, ended_with, one_line};
pub use mailbox::{Letter, Mailbox, Route, Subscription};
pub use unusable::{
    BodyKind, check_image, image_error, image_too_large, not_an_image, parse_json, unusable_json,
};

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::Response;
use reqwest::header::HeaderMap;

use super::BackendError;

/// Removes every occurrence of each secret from what the error says, and every run of at
/// least [`FRAGMENT`] characters of one: relays echo keys cut, re-prefixed or half-masked
/// (`…4f9d2c1b0a3e7f65`), and a long piece of a key is as good as the key to a guesser.
pub fn redact<S: AsRef<str>>(mut err: BackendError, secrets: &[S]) -> BackendError {
    for secret in secrets.iter().map(|s| s.as_ref().trim()).filter(|s| !s.is_empty()) {
        err.detail = scrub(&err.detail, secret);
        err.user_message = scrub(&err.user_message, secret);
    }
    err
}

/// The shortest piece of a secret that [`redact`] removes on its own.
pub const FRAGMENT: usize = 12;

fn scrub(text: &str, secret: &str) -> String {
    let text = text.replace(secret, "[redacted]");
    // Keys and tokens are ASCII; matching bytes of an ASCII secret are whole characters.
    if secret.len() <= FRAGMENT || !secret.is_ascii() {
        return text;
    }
    let (t, s) = (text.as_bytes(), secret.as_bytes());
    let mut out = String::with_capacity(text.len());
    let (mut i, mut kept) = (0, 0);
    while i < t.len() {
        let longest =
            (0..s.len()).map(|j| t[i..].iter().zip(&s[j..]).take_while(|(a, b)| a == b).count()).max();
        match longest {
            Some(n) if n >= FRAGMENT => {
                out.push_str(&text[kept..i]);
                out.push_str("[redacted]");
                i += n;
                kept = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[kept..]);
    out
}

/// The delay the service asked for: `retry-after-ms` (OpenAI's), then `retry-after` in
/// seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Ok(after) = Duration::try_from_secs_f64(ms / 1000.0)
    {
        return Some(after);
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP date in any of the three forms RFC 9110 §5.6.7 says recipients must accept:
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and C's asctime (`Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// The start of a body as one line of text, for logs.
pub fn excerpt(body: &[u8], max_chars: usize) -> String {
    if body.is_empty() {
        return "(empty body)".into();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(max_chars * 4)]);
    truncate(&text.split_whitespace().collect::<Vec<_>>().join(" "), max_chars)
}

pub fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out += &format!(": {text}");
        }
        source = cause.source();
    }
    out
}

pub enum ReadError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads a body of at most `cap` bytes; with `truncate`, a longer body is cut rather than
/// refused.
pub async fn read_capped(mut response: Response, cap: usize, truncate: bool) -> Result<Bytes, ReadError> {
    if !truncate && response.content_length().is_some_and(|len| len > cap as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > cap {
            if truncate {
                body.extend_from_slice(&chunk[..cap - body.len()]);
                break;
            }
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// `service` ("the Midjourney proxy", "ImagineAPI") at the start of a sentence.
fn sentence_start(service: &str) -> String {
    let mut chars = service.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// An answer Easel cannot use; `reason` completes "<service> sent a response Easel could not use: …".
pub fn bad_response(
    service: &str,
    reason: impl std::fmt::Display,
    detail: impl Into<String>,
) -> BackendError {
    BackendError::fatal(
        crate::base::FailureCode::BackendBadResponse,
        format!("{} sent a response Easel could not use: {reason}.", sentence_start(service)),
        detail,
    )
}

/// Classifies a request to `service` that got no HTTP answer at all.
pub fn transport_error(service: &str, err: &reqwest::Error, what: &str, timeout: Duration) -> BackendError {
    use crate::base::FailureCode;
    let detail = format!("{what}: {}", error_chain(err));
    let subject = sentence_start(service);
    if err.is_timeout() {
        BackendError::retryable(
            FailureCode::BackendTimeout,
            format!("{subject} did not answer within {} s.", timeout.as_secs()),
            detail,
        )
    } else if err.is_connect() {
        BackendError::retryable(
            FailureCode::BackendUnavailable,
            format!("{subject} could not be reached."),
            detail,
        )
    } else if err.is_builder() {
        BackendError::fatal(
            FailureCode::Internal,
            format!("Easel could not build the request to {service}."),
            detail,
        )
    } else {
        BackendError::retryable(
            FailureCode::BackendUnavailable,
            format!("The connection to {service} broke off."),
            detail,
        )
    }
}

/// A failed download of an image the service linked to (often on a CDN, not the service).
pub fn image_host_error(
    service: &str,
    what: &str,
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> BackendError {
    let code = status.as_u16();
    let detail = format!("{what} → HTTP {code}: {}", excerpt(body, 400));
    match code {
        408 | 429 | 500..=599 => BackendError::retryable(
            crate::base::FailureCode::BackendUnavailable,
            format!("The server holding the image had a temporary problem (HTTP {code})."),
            detail,
        )
        .with_retry_after(retry_after(headers, SystemTime::now())),
        _ => bad_response(service, format!("an image link that does not work (HTTP {code})"), detail),
    }
}

/// Reads the answer to an image download: a failed status, a body over `cap` bytes, bytes
/// that are not a PNG, JPEG, WebP or GIF, or a broken or oversized header each become the
/// matching error.
pub async fn read_image(
    service: &str,
    response: Response,
    what: &str,
    cap: usize,
    timeout: Duration,
) -> Result<Bytes, BackendError> {
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        let body = read_capped(response, 16 << 10, true).await.unwrap_or_default();
        return Err(image_host_error(service, what, status, &headers, &body));
    }
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match read_capped(response, cap, false).await {
        Ok(bytes) => bytes,
        Err(ReadError::Transport(e)) => return Err(transport_error(service, &e, what, timeout)),
        Err(ReadError::TooLarge) => return Err(image_too_large(service, what, None, cap)),
    };
    check_image(service, what, &bytes, cap, declared.as_deref())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::FailureCode;
    use reqwest::header::HeaderValue;
    use std::time::UNIX_EPOCH;

    #[test]
    fn long_pieces_of_a_secret_are_scrubbed_too() {
        let key = "sk-proj-4f9d2c1b0a3e7f6512ab";
        let said = format!("key {key}, or …{} or {}… or sk-p***12ab", &key[9..], &key[..16]);
        let e =
            redact(BackendError::fatal(crate::base::FailureCode::BackendError, said.clone(), said), &[key]);
        assert_eq!(e.detail, "key [redacted], or …[redacted] or [redacted]… or sk-p***12ab");
        assert_eq!(e.user_message, e.detail);
        // Short secrets (an A1111 password) are only removed whole; ordinary text survives.
        let e = redact(
            BackendError::fatal(crate::base::FailureCode::BackendError, "", "hunter2 hunt"),
            &["hunter2"],
        );
        assert_eq!(e.detail, "[redacted] hunt");
    }

    #[test]
    fn messages_name_the_service_at_the_start_of_a_sentence() {
        let e = bad_response("the Midjourney proxy", "a grid of 3 images", "detail");
        assert_eq!(
            e.user_message,
            "The Midjourney proxy sent a response Easel could not use: a grid of 3 images."
        );
        assert_eq!(e.code, crate::base::FailureCode::BackendBadResponse);
        assert!(!e.retryable);
        let e = bad_response("ImagineAPI", "nothing", "d");
        assert!(e.user_message.starts_with("ImagineAPI sent"), "{}", e.user_message);
    }

    #[test]
    fn a_broken_image_host_is_retryable_only_for_temporary_statuses() {
        let headers = HeaderMap::new();
        let e = image_host_error("ImagineAPI", "GET x", reqwest::StatusCode::BAD_GATEWAY, &headers, b"oops");
        assert!(e.retryable && e.user_message.contains("HTTP 502"), "{e:?}");
        let e = image_host_error("ImagineAPI", "GET x", reqwest::StatusCode::NOT_FOUND, &headers, b"");
        assert!(!e.retryable && e.user_message.contains("does not work (HTTP 404)"), "{e:?}");
    }

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
    fn retry_after_reads_all_three_date_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        for form in [
            "Sun, 06 Nov 1994 08:50:07 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:50:07 GMT", // RFC 850
            "Sun Nov  6 08:50:07 1994",       // asctime
        ] {
            let h = headers(&[("retry-after", form)]);
            assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)), "{form}");
        }
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

    #[tokio::test]
    async fn a_transport_error_does_not_log_the_credentials_in_its_url() {
        // Port 1 on loopback refuses at once; reqwest's error then names the whole URL.
        let url = "http://admin:hunter2@127.0.0.1:1/sdapi/v1/options?key=abc123";
        let err = reqwest::Client::new().get(url).send().await.expect_err("nothing listens on port 1");
        let e = transport_error("the image server", &err, &format!("GET {url}"), Duration::from_secs(5));
        for text in [&e.detail, &e.user_message] {
            assert!(!text.contains("hunter2") && !text.contains("abc123"), "{text}");
        }
        assert!(e.detail.contains("http://***@127.0.0.1:1/sdapi/v1/options?key=***"), "{}", e.detail);
    }
}
