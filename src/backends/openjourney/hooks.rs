//! The webhook receiver. Open Journey POSTs `{"event", "timestamp", "data"}` to the URL
//! registered through `POST /webhooks`; the guide shows no signature, so the URL carries a
//! secret path segment and a delivery is only a wake-up call: the waiting job asks
//! `GET /generate/batch/{id}` at once instead of at its next poll, and trusts only that
//! answer. Polling stays underneath as the fallback for lost deliveries.
//!
//! [`OpenJourneyHooks`] is shared by every `openjourney` backend of the process: Easel's HTTP
//! server mounts [`OpenJourneyHooks::router`] once (`OpenJourneyHooks::global()` unless a
//! backend was built with its own).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use tokio::sync::watch;

use super::wire::Event;

/// Cheap to clone; clones share the secret and the subscriptions.
#[derive(Clone)]
pub struct OpenJourneyHooks {
    inner: Arc<Inner>,
}

struct Inner {
    secret: String,
    /// Deliveries seen per awaited batch, keyed by [`key`].
    batches: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl std::fmt::Debug for OpenJourneyHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenJourneyHooks").field("secret", &"***").finish_non_exhaustive()
    }
}

impl Default for OpenJourneyHooks {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenJourneyHooks {
    /// A receiver with a fresh random secret (re-registered at the first job after a restart).
    pub fn new() -> Self {
        Self::with_secret(random_secret())
    }

    pub fn with_secret(secret: impl Into<String>) -> Self {
        OpenJourneyHooks {
            inner: Arc::new(Inner { secret: secret.into(), batches: Mutex::new(HashMap::new()) }),
        }
    }

    pub fn global() -> &'static OpenJourneyHooks {
        static GLOBAL: OnceLock<OpenJourneyHooks> = OnceLock::new();
        GLOBAL.get_or_init(OpenJourneyHooks::new)
    }

    /// `POST /hooks/openjourney/{secret}?backend=<name>`: 401 for a wrong secret, 400 for a
    /// body that is not an event, 200 otherwise (also for batches nobody waits on).
    pub fn router(&self) -> Router {
        Router::new().route("/hooks/openjourney/{secret}", post(receive)).with_state(self.clone())
    }

    /// The URL to register for `backend`, given Easel's public base URL.
    pub(super) fn hook_url(&self, public_base: &str, backend: &str) -> String {
        format!(
            "{}/hooks/openjourney/{}?backend={backend}",
            public_base.trim().trim_end_matches('/'),
            self.inner.secret
        )
    }

    pub(super) fn secret(&self) -> &str {
        &self.inner.secret
    }

    pub(super) fn subscribe(&self, backend: &str, batch_id: &str) -> Subscription {
        let key = key(backend, batch_id);
        let rx = self.lock().entry(key.clone()).or_insert_with(|| watch::channel(0).0).subscribe();
        Subscription { rx, hooks: self.clone(), key }
    }

    /// Wakes the job waiting on the event's batch; `false` when nobody waits.
    fn deliver(&self, backend: &str, event: &Event) -> bool {
        let Some(id) = event.batch_id() else { return false };
        match self.lock().get(&key(backend, id)) {
            Some(tx) => {
                tx.send_modify(|n| *n += 1);
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.inner.batches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(backend: &str, batch_id: &str) -> String {
    format!("{backend}\u{0}{batch_id}")
}

pub(super) struct Subscription {
    rx: watch::Receiver<u64>,
    hooks: OpenJourneyHooks,
    key: String,
}

impl Subscription {
    /// Waits for the next delivery; never returns while none comes.
    pub async fn next(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut batches = self.hooks.lock();
        if batches.get(&self.key).is_some_and(|tx| tx.receiver_count() <= 1) {
            batches.remove(&self.key);
        }
    }
}

#[derive(Deserialize)]
struct HookQuery {
    #[serde(default)]
    backend: String,
}

async fn receive(
    State(hooks): State<OpenJourneyHooks>,
    Path(secret): Path<String>,
    Query(query): Query<HookQuery>,
    body: Bytes,
) -> StatusCode {
    if !same(secret.as_bytes(), hooks.secret().as_bytes()) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if !hooks.deliver(&query.backend, &event) {
        tracing::debug!(backend = %query.backend, event = %event.event, "openjourney hook ignored: not awaited");
    }
    StatusCode::OK
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 hex characters from std's OS-seeded `RandomState`.
fn random_secret() -> String {
    (0..2)
        .map(|i| {
            let mut h = RandomState::new().build_hasher();
            h.write_u32(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            format!("{:016x}", h.finish())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deliveries_wake_only_their_batch() {
        let hooks = OpenJourneyHooks::with_secret("s");
        let event = |id: &str| {
            serde_json::from_value::<Event>(
                serde_json::json!({"event": "batch.completed", "data": {"batch_id": id}}),
            )
            .unwrap()
        };
        assert!(!hooks.deliver("b", &event("x")), "nobody waits yet");
        let mut sub = hooks.subscribe("b", "x");
        assert!(!hooks.deliver("other", &event("x")));
        assert!(hooks.deliver("b", &event("x")));
        sub.next().await;
        drop(sub);
        assert!(hooks.lock().is_empty());
        assert_eq!(
            hooks.hook_url("https://e.example/", "oj"),
            "https://e.example/hooks/openjourney/s?backend=oj"
        );
        assert_eq!(OpenJourneyHooks::new().secret().len(), 32);
    }
}
