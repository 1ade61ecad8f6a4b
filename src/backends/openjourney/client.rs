//! The HTTP side: paths joined onto `base_url` (`…/v1`), the Bearer key, the per-request
//! timeout, bodies read under a size cap, image downloads without the key, and the rate-limit
//! gate: when an answer says `X-RateLimit-Remaining: 0`, every request waits until
//! `X-RateLimit-Reset` (Unix seconds; a small number is read as seconds from now) instead of
//! running into a 429.

use crate::backends::http_util::{self, ReadError, read_capped};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Serialize;
use tokio::time::Instant;

use super::errors::{self, bad_response};
use crate::backends::BackendError;
use crate::config::Secret;

const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Longest pause the rate-limit headers can impose (the documented window is a minute).
const MAX_PAUSE: Duration = Duration::from_secs(120);

pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub what: String,
    /// What the rate-limit headers of this answer ask for before the next request.
    pub wait: Option<Duration>,
}

pub(super) struct Api {
    http: reqwest::Client,
    base: Url,
    key: Option<HeaderValue>,
    timeout: Duration,
    /// No request leaves before this instant.
    paused_until: Mutex<Option<Instant>>,
}

impl Api {
    pub fn new(backend: &str, base: Url, key: &Secret, timeout: Duration) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("backend `{backend}`: cannot set up the HTTP client: {e}"))?;
        let key = if key.is_empty() {
            None
        } else {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose().trim())).map_err(|_| {
                    anyhow::anyhow!("backend `{backend}`: api_key has characters an HTTP header cannot carry")
                })?;
            value.set_sensitive(true);
            Some(value)
        };
        Ok(Api { http, base, key, timeout, paused_until: Mutex::new(None) })
    }

    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub async fn post(&self, segments: &[&str], body: &impl Serialize) -> Result<Reply, BackendError> {
        let url = self.url(segments);
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body), what).await
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Reply, BackendError> {
        let url = self.url(segments);
        let what = format!("GET {url}");
        self.send(self.http.get(url), what).await
    }

    /// For `/healthz`: a batch that does not exist; only refused keys and outages count.
    pub async fn probe(&self) -> Result<(), String> {
        let url = self.url(&["generate", "batch", "easel-health-probe"]);
        let request = self.authed(self.http.get(url)).timeout(self.timeout.min(Duration::from_secs(10)));
        match request.send().await {
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                Err(format!("credentials rejected ({})", r.status()))
            }
            Ok(r) if r.status().is_server_error() => Err(format!("server error ({})", r.status())),
            Ok(_) => Ok(()),
            Err(e) if e.is_timeout() => Err("no answer in time".into()),
            Err(_) => Err("cannot connect".into()),
        }
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.key {
            Some(key) => request.header(AUTHORIZATION, key.clone()),
            None => request,
        }
    }

    /// Waits out a pause the rate-limit headers asked for.
    async fn gate(&self) {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = until.filter(|u| *u > Instant::now()) {
            tracing::debug!(
                wait_ms = (until - Instant::now()).as_millis() as u64,
                "openjourney rate limit: pausing"
            );
            tokio::time::sleep_until(until).await;
        }
    }

    fn note_limits(&self, headers: &HeaderMap) -> Option<Duration> {
        let wait = rate_limit_wait(headers, SystemTime::now())?;
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        *paused = Some(paused.map_or(until, |p| p.max(until)));
        Some(wait)
    }

    async fn send(&self, request: RequestBuilder, what: String) -> Result<Reply, BackendError> {
        self.gate().await;
        let response = self
            .authed(request)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let wait = self.note_limits(&headers);
        let body = match read_capped(response, MAX_RESPONSE_BYTES, !status.is_success()).await {
            Ok(body) => body,
            Err(ReadError::Transport(e)) => return Err(errors::from_transport(&e, &what, self.timeout)),
            Err(ReadError::TooLarge) => {
                return Err(bad_response(
                    "an answer far larger than a batch",
                    format!("{what}: body over {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
        };
        Ok(Reply { status, headers, body, what, wait })
    }

    /// Downloads one result image. The key is for the API only, never for the CDN.
    pub async fn download(&self, link: &str, cap: usize) -> Result<Bytes, BackendError> {
        let url = self.base.join(link.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(url) = url else {
            return Err(bad_response("an image link that is not an http(s) URL", format!("url `{link}`")));
        };
        let what = format!("GET {url}");
        let request = self.http.get(url).timeout(self.timeout);
        let response = request.send().await.map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        http_util::read_image(errors::SERVICE, response, &what, cap, self.timeout).await
    }
}

/// The pause `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` asks for, if any.
fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if number("x-ratelimit-remaining")? > 0.0 {
        return None;
    }
    let reset = number("x-ratelimit-reset")?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    // A Unix time, or (some gateways) seconds from now.
    let secs = if reset > 1e9 { reset - now } else { reset };
    Some(Duration::try_from_secs_f64(secs.max(0.0)).ok()?.min(MAX_PAUSE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_become_a_pause() {
        let now = UNIX_EPOCH + Duration::from_secs(1_642_248_000);
        let headers = |remaining: &str, reset: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-limit", "20".parse().unwrap());
            h.insert("x-ratelimit-remaining", remaining.parse().unwrap());
            h.insert("x-ratelimit-reset", reset.parse().unwrap());
            h
        };
        assert_eq!(rate_limit_wait(&headers("15", "1642248030"), now), None);
        assert_eq!(rate_limit_wait(&headers("0", "1642248030"), now), Some(Duration::from_secs(30)));
        assert_eq!(rate_limit_wait(&headers("0", "1642247000"), now), Some(Duration::ZERO));
        assert_eq!(rate_limit_wait(&headers("0", "5"), now), Some(Duration::from_secs(5)));
        assert_eq!(rate_limit_wait(&headers("0", "1642258000"), now), Some(MAX_PAUSE));
        assert_eq!(rate_limit_wait(&HeaderMap::new(), now), None);
    }
}
