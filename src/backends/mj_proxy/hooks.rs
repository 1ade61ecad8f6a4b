//! The notifyHook receiver: midjourney-proxy POSTs the whole Task JSON to a per-task URL on
//! every status or progress change, which lets Easel show progress the moment it happens
//! instead of at the next poll. Deliveries carry no signature, may be lost (the proxy never
//! retries), duplicated or reordered, so the URL carries a secret path segment, each update
//! is applied only if it is newer than what was seen (status first, then progress), and the
//! adapter keeps polling underneath as the fallback.
//!
//! [`MjHooks`] is shared by every `mj-proxy` backend of the process: Easel's HTTP server
//! mounts [`MjHooks::router`] once (`MjHooks::global()` unless a backend was built with its
//! own), and each running job subscribes to its task id while it waits.

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

use super::wire::Task;

/// Cheap to clone; clones share the secret and the subscriptions.
#[derive(Clone)]
pub struct MjHooks {
    inner: Arc<Inner>,
}

struct Inner {
    secret: String,
    /// Latest update per in-flight task, keyed by [`key`].
    tasks: Mutex<HashMap<String, watch::Sender<Option<Task>>>>,
}

impl std::fmt::Debug for MjHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MjHooks").field("secret", &"***").finish_non_exhaustive()
    }
}

impl Default for MjHooks {
    fn default() -> Self {
        Self::new()
    }
}

impl MjHooks {
    /// A receiver with a fresh random secret. Hooks of tasks submitted before a restart then
    /// fail with 401 at the proxy, and those tasks finish through polling.
    pub fn new() -> Self {
        Self::with_secret(random_secret())
    }

    pub fn with_secret(secret: impl Into<String>) -> Self {
        MjHooks { inner: Arc::new(Inner { secret: secret.into(), tasks: Mutex::new(HashMap::new()) }) }
    }

    /// The process-wide receiver that [`super::MjProxyBackend::from_config`] uses.
    pub fn global() -> &'static MjHooks {
        static GLOBAL: OnceLock<MjHooks> = OnceLock::new();
        GLOBAL.get_or_init(MjHooks::new)
    }

    /// `POST /hooks/mj/{secret}?backend=<name>` with a Task JSON body: 401 for a wrong
    /// secret, 400 for a body that is not a Task, 200 otherwise (also for tasks nobody is
    /// waiting on, since the proxy only logs what it gets back).
    pub fn router(&self) -> Router {
        Router::new().route("/hooks/mj/{secret}", post(receive)).with_state(self.clone())
    }

    /// The `notifyHook` to send for tasks of `backend`, given Easel's public base URL.
    pub(super) fn hook_url(&self, public_base: &str, backend: &str) -> String {
        format!(
            "{}/hooks/mj/{}?backend={backend}",
            public_base.trim().trim_end_matches('/'),
            self.inner.secret
        )
    }

    pub(super) fn secret(&self) -> &str {
        &self.inner.secret
    }

    /// Starts collecting updates of one task until the subscription is dropped.
    pub(super) fn subscribe(&self, backend: &str, task_id: &str) -> Subscription {
        let key = key(backend, task_id);
        let rx = self.lock().entry(key.clone()).or_insert_with(|| watch::channel(None).0).subscribe();
        Subscription { rx, hooks: self.clone(), key }
    }

    /// Applies one delivery; `false` when it was stale, a duplicate or for no waiting task.
    fn deliver(&self, backend: &str, task: Task) -> bool {
        let Some(id) = task.id.clone() else { return false };
        let tasks = self.lock();
        let Some(tx) = tasks.get(&key(backend, &id)) else { return false };
        tx.send_if_modified(|seen| {
            let newer = seen.as_ref().is_none_or(|s| task.order_key() > s.order_key());
            if newer {
                *seen = Some(task);
            }
            newer
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<Option<Task>>>> {
        self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(backend: &str, task_id: &str) -> String {
    format!("{backend}\u{0}{task_id}")
}

/// One job's view of its task's deliveries.
pub(super) struct Subscription {
    rx: watch::Receiver<Option<Task>>,
    hooks: MjHooks,
    key: String,
}

impl Subscription {
    /// Waits for the next newer delivery; never returns while none comes.
    pub async fn next(&mut self) -> Task {
        loop {
            if self.rx.changed().await.is_err() {
                // The sender lives in the map for as long as this subscription: unreachable,
                // but waiting forever is the right answer (polling carries on).
                std::future::pending::<()>().await;
            }
            if let Some(task) = self.rx.borrow_and_update().clone() {
                return task;
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut tasks = self.hooks.lock();
        // This subscription's receiver is still alive here, so "only us" is a count of one.
        if tasks.get(&self.key).is_some_and(|tx| tx.receiver_count() <= 1) {
            tasks.remove(&self.key);
        }
    }
}

#[derive(Deserialize)]
struct HookQuery {
    #[serde(default)]
    backend: String,
}

async fn receive(
    State(hooks): State<MjHooks>,
    Path(secret): Path<String>,
    Query(query): Query<HookQuery>,
    body: Bytes,
) -> StatusCode {
    if !same(secret.as_bytes(), hooks.secret().as_bytes()) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(task) = serde_json::from_slice::<Task>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if !hooks.deliver(&query.backend, task) {
        tracing::debug!(backend = %query.backend, "mj-proxy hook ignored: stale, duplicate or not awaited");
    }
    StatusCode::OK
}

/// Compares without stopping at the first difference, so timing does not reveal the secret.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 hex characters from std's `RandomState`, whose SipHash keys come from the operating
/// system's random source: unguessable without adding a dependency for it.
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
    use serde_json::json;

    fn task(status: &str, progress: &str) -> Task {
        serde_json::from_value(json!({"id": "42", "status": status, "progress": progress})).unwrap()
    }

    #[tokio::test]
    async fn only_newer_updates_reach_the_subscriber() {
        let hooks = MjHooks::with_secret("s");
        assert!(!hooks.deliver("b", task("IN_PROGRESS", "10%")), "nobody waits yet");
        let mut sub = hooks.subscribe("b", "42");
        assert!(hooks.deliver("b", task("IN_PROGRESS", "37%")));
        assert!(!hooks.deliver("b", task("IN_PROGRESS", "37%")), "duplicate");
        assert!(!hooks.deliver("b", task("SUBMITTED", "0%")), "older status");
        assert!(!hooks.deliver("other", task("IN_PROGRESS", "90%")), "another backend's task");
        assert_eq!(sub.next().await.percent(), Some(37));
        assert!(hooks.deliver("b", task("SUCCESS", "100%")));
        assert_eq!(sub.next().await.status.as_deref(), Some("SUCCESS"));
        drop(sub);
        assert!(hooks.lock().is_empty(), "the entry goes with its last subscriber");
    }

    #[test]
    fn secrets_are_random_and_urls_well_formed() {
        let (a, b) = (MjHooks::new(), MjHooks::new());
        assert_eq!(a.secret().len(), 32);
        assert_ne!(a.secret(), b.secret());
        let s = MjHooks::with_secret("abc");
        assert_eq!(
            s.hook_url("https://easel.example/", "mj"),
            "https://easel.example/hooks/mj/abc?backend=mj"
        );
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
