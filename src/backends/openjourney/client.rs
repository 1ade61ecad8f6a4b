//! The rate-limit gate in front of the shared JSON client: when an answer says
//! `X-RateLimit-Remaining: 0`, every request waits until `X-RateLimit-Reset` (Unix seconds; a
//! small number is read as seconds from now) instead of running into a 429.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::Serialize;
use tokio::time::Instant;

use crate::backends::BackendError;
use crate::backends::http_util::{JsonClient, Reply};

/// Longest pause the rate-limit headers can impose (the documented window is a minute).
const MAX_PAUSE: Duration = Duration::from_secs(120);

pub(super) struct Api {
    pub client: JsonClient,
    /// No request leaves before this instant.
    paused_until: Mutex<Option<Instant>>,
}

impl Api {
    pub fn new(client: JsonClient) -> Api {
        Api { client, paused_until: Mutex::new(None) }
    }

    pub async fn post(&self, segments: &[&str], body: &impl Serialize) -> Result<Reply, BackendError> {
        self.gate().await;
        let reply = self.client.post(self.client.url(segments), body).await?;
        self.note_limits(&reply.headers);
        Ok(reply)
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Reply, BackendError> {
        self.gate().await;
        let reply = self.client.get(self.client.url(segments)).await?;
        self.note_limits(&reply.headers);
        Ok(reply)
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

    fn note_limits(&self, headers: &HeaderMap) {
        let Some(wait) = rate_limit_wait(headers, SystemTime::now()) else { return };
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }
}

/// The pause `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` asks for, if any.
pub(super) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
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
