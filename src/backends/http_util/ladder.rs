//! How an HTTP failure at an image service becomes a [`BackendError`]: one ladder from status
//! to failure code, retryability and message, worded per service by its [`Service`]. Each
//! adapter's `errors.rs` handles what only its service says (documented error codes, a
//! refusal by content policy, a checkpoint the server lacks) and hands the rest to
//! [`Failure::classify`].

use std::fmt::Display;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{Reply, excerpt, retry_after, sentence_start, truncate};
use crate::backends::BackendError;
use crate::base::FailureCode;

/// How much of a response body goes into `detail`.
const EXCERPT_CHARS: usize = 500;
/// How much of a service's own words a member is shown.
pub const REASON_CHARS: usize = 300;

/// How messages name one service and what its admin can fix. In the phrases, `{backend}`
/// stands for the backend's name; each phrase follows the service's name.
#[derive(Debug)]
pub struct Service {
    /// "the Midjourney proxy", "ImagineAPI".
    pub name: &'static str,
    /// The `kind` of its backends, for the log.
    pub kind: &'static str,
    /// After a refused key: "rejected Easel's credentials; an admin needs to check the API
    /// key for backend `{backend}`."
    pub credentials: &'static str,
    /// After a 404, when that means a wrong `base_url`: "has no such endpoint; an admin needs
    /// to check the base_url of backend `{backend}` (it ends in `/v1`)." `None`: a 404 is a
    /// refusal like any other 4xx.
    pub not_found: Option<&'static str>,
    /// A server the admin runs (A1111, ComfyUI): a gateway error means it is down or
    /// restarting, and the cause of its failures is in its console.
    pub local: bool,
    /// An answer over the response cap, completing "… sent a response Easel could not use: …".
    pub too_large: &'static str,
}

impl Service {
    fn say(&self, phrase: &str, backend: &str) -> String {
        format!("{} {}", sentence_start(self.name), phrase.replace("{backend}", backend))
    }

    /// An answer Easel cannot use; `reason` completes "… sent a response Easel could not use: …".
    pub fn bad_response(&self, reason: impl Display, detail: impl Into<String>) -> BackendError {
        super::bad_response(self.name, reason, detail)
    }

    /// A JSON answer (`expecting` completes "… sent a response Easel could not use: …") that
    /// could not be read as one: classified by what the body actually is.
    pub fn unusable_json(&self, what: &str, body: &[u8], expecting: impl Display) -> BackendError {
        super::unusable_json(self.name, what, body, expecting)
    }

    /// Parses a JSON answer, or says precisely why it could not be used (cut off, a web page,
    /// the wrong shape: `expecting`).
    pub fn parse_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        body: &[u8],
        expecting: impl Display,
    ) -> Result<T, BackendError> {
        super::parse_json(self.name, what, body, expecting)
    }

    /// A request that got no HTTP answer at all.
    pub fn transport(&self, err: &reqwest::Error, what: &str, timeout: Duration) -> BackendError {
        super::transport_error(self.name, err, what, timeout)
    }

    /// An operation backend `backend` does not offer; `what` completes "Backend `x` …".
    pub fn unsupported(&self, backend: &str, what: &str) -> BackendError {
        BackendError::fatal(
            FailureCode::Unsupported,
            format!("Backend `{backend}` {what}."),
            format!("backend `{backend}` ({}): {what}", self.kind),
        )
    }
}

/// A non-success answer, ready to classify.
pub struct Failure<'a> {
    pub service: &'a Service,
    pub backend: &'a str,
    pub status: StatusCode,
    pub code: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// Method, URL, status and a body excerpt, for the log.
    pub detail: String,
}

impl<'a> Failure<'a> {
    pub fn new(service: &'a Service, backend: &'a str, reply: &'a Reply) -> Failure<'a> {
        let code = reply.status.as_u16();
        Failure {
            service,
            backend,
            status: reply.status,
            code,
            headers: &reply.headers,
            body: &reply.body,
            detail: format!("{} → HTTP {code}: {}", reply.what, excerpt(&reply.body, EXCERPT_CHARS)),
        }
    }

    /// The delay the service asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(self.headers, SystemTime::now())
    }

    /// `HTTP 400 Bad Request`.
    pub fn status_text(&self) -> String {
        format!("HTTP {} {}", self.code, self.status.canonical_reason().unwrap_or("")).trim().to_string()
    }

    /// A final failure with this code; the member reads `user`.
    pub fn fatal(&self, code: FailureCode, user: impl Into<String>) -> BackendError {
        BackendError::fatal(code, user, self.detail.clone())
    }

    /// A refusal only the admin can fix, or the member by changing the request.
    pub fn rejected(&self, user: impl Into<String>) -> BackendError {
        self.fatal(FailureCode::BackendRejected, user)
    }

    /// The common ladder. `reason` is what the service said in the body, shown for a 4xx.
    pub fn classify(&self, reason: Option<String>) -> BackendError {
        let (s, backend, code) = (self.service, self.backend, self.code);
        let name = sentence_start(s.name);
        let retry = |code: FailureCode, user: String| {
            BackendError::retryable(code, user, self.detail.clone()).with_retry_after(self.retry_after())
        };
        match code {
            401 | 403 => self.fatal(FailureCode::CredentialsRejected, s.say(s.credentials, backend)),
            429 => retry(
                FailureCode::RateLimited,
                format!("{name} is rate limiting Easel; the request will be tried again shortly."),
            ),
            408 => retry(FailureCode::BackendTimeout, format!("{name} timed out.")),
            504 if s.local => retry(FailureCode::BackendTimeout, format!("{name} timed out.")),
            502 | 503 if s.local => retry(
                FailureCode::BackendUnavailable,
                format!("{name} is not available right now (HTTP {code})."),
            ),
            404 if s.not_found.is_some() => self.rejected(s.say(s.not_found.unwrap_or_default(), backend)),
            400..=499 => {
                let reason = reason.map(|r| truncate(&r, REASON_CHARS)).unwrap_or_else(|| self.status_text());
                self.rejected(format!("{name} rejected the request: {reason}"))
            }
            500..=599 if s.local => BackendError::retryable(
                FailureCode::BackendError,
                format!("{name} failed (HTTP {code}); its console shows the cause."),
                self.detail.clone(),
            ),
            500..=599 => {
                retry(FailureCode::BackendError, format!("{name} had a temporary problem (HTTP {code})."))
            }
            _ => s.bad_response(format!("it answered with HTTP {code}"), self.detail.clone()),
        }
    }
}

/// A job the service ended as failed, by its reason: `blocked_by` (the service or model whose
/// filter refused it, "Midjourney") when the reason has one of `block_words`, else a refusal
/// worded `unfinished` ("ImagineAPI could not finish this image"). Final either way: a retry
/// would re-attach to the same ended job.
pub fn ended_with(
    reason: Option<&str>,
    block_words: &[&str],
    blocked_by: &str,
    unfinished: &str,
    detail: String,
) -> BackendError {
    let shown = reason.map_or_else(|| "no reason given".to_string(), |r| truncate(r, REASON_CHARS));
    let blocked = reason.is_some_and(|r| {
        let lower = r.to_lowercase();
        block_words.iter().any(|w| lower.contains(w))
    });
    if blocked {
        BackendError::fatal(
            FailureCode::ContentBlocked,
            format!("{blocked_by} refused this prompt: {shown}"),
            detail,
        )
    } else {
        BackendError::fatal(FailureCode::BackendRejected, format!("{unfinished}: {shown}"), detail)
    }
}

/// A service's own words on one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const HOSTED: Service = Service {
        name: "the test service",
        kind: "test",
        credentials: "rejected Easel's credentials; an admin needs to check the API key for backend `{backend}`.",
        not_found: Some("has no such endpoint; an admin needs to check the base_url of backend `{backend}`."),
        local: false,
        too_large: "an answer that was too large",
    };
    const LOCAL: Service = Service { local: true, not_found: None, ..HOSTED };

    fn classify(service: &Service, code: u16, headers: &[(&'static str, &str)]) -> BackendError {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        let reply = Reply {
            status: StatusCode::from_u16(code).unwrap(),
            headers: map,
            body: Bytes::from_static(b"{}"),
            what: "POST x".into(),
        };
        Failure::new(service, "b", &reply).classify(None)
    }

    #[test]
    fn statuses_climb_the_ladder() {
        let c = |s: &Service, code| {
            let e = classify(s, code, &[]);
            (e.code, e.retryable)
        };
        assert_eq!(c(&HOSTED, 401), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(&HOSTED, 429), (FailureCode::RateLimited, true));
        assert_eq!(c(&HOSTED, 408), (FailureCode::BackendTimeout, true));
        assert_eq!(c(&HOSTED, 404), (FailureCode::BackendRejected, false));
        assert_eq!(c(&HOSTED, 422), (FailureCode::BackendRejected, false));
        assert_eq!(c(&HOSTED, 503), (FailureCode::BackendError, true));
        assert_eq!(c(&HOSTED, 302), (FailureCode::BackendBadResponse, false));
        assert_eq!(c(&LOCAL, 503), (FailureCode::BackendUnavailable, true));
        assert_eq!(c(&LOCAL, 504), (FailureCode::BackendTimeout, true));
        assert_eq!(c(&LOCAL, 500), (FailureCode::BackendError, true));
    }

    #[test]
    fn messages_name_the_service_and_the_backend() {
        let e = classify(&HOSTED, 403, &[]);
        assert_eq!(
            e.user_message,
            "The test service rejected Easel's credentials; an admin needs to check the API key for backend `b`."
        );
        let e = classify(&HOSTED, 429, &[("retry-after", "7")]);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(
            classify(&HOSTED, 400, &[]).user_message,
            "The test service rejected the request: HTTP 400 Bad Request"
        );
        assert!(classify(&HOSTED, 404, &[]).user_message.contains("base_url of backend `b`"));
        assert_eq!(
            classify(&LOCAL, 404, &[]).user_message,
            "The test service rejected the request: HTTP 404 Not Found"
        );
    }
}
