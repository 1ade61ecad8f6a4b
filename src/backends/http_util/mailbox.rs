//! The webhook mailbox: where services that announce job updates by POSTing to Easel
//! (midjourney-proxy's notifyHook, Open Journey's webhooks) deliver them. One mailbox serves
//! every backend of a [`Registry`](crate::backends::Registry), which owns it and whose router
//! the operator HTTP server mounts; each protocol asks it for a [`Route`] under its own path,
//! `POST /hooks/<path>/<secret>?backend=<name>`. A service whose deliveries do not name the
//! job in a way Easel knows before submitting (ohmygpt's) gets a URL per Easel task
//! ([`Route::url_for_task`]), whose `&task=<id>` then names the job instead.
//!
//! Deliveries carry no signature, may be lost, duplicated or reordered, so the URL carries a
//! random secret (compared in constant time), a delivery only reaches a job that subscribed
//! to its id, a stale one never replaces a newer one ([`Letter::supersedes`]), and the
//! adapters keep polling underneath as the fallback. A fresh secret per process means hooks
//! of jobs submitted before a restart are refused (401) and those jobs finish by polling.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

/// One delivery as a protocol reads it.
pub trait Letter: DeserializeOwned + Clone + Send + Sync + 'static {
    /// The service's id of the job the delivery is about.
    fn job_id(&self) -> Option<String>;

    /// Whether this delivery replaces `seen`, the latest one kept for the same job.
    fn supersedes(&self, _seen: &Self) -> bool {
        true
    }
}

/// Cheap to clone; clones share the secret and every route.
#[derive(Clone)]
pub struct Mailbox {
    inner: Arc<Inner>,
}

struct Inner {
    secret: Arc<str>,
    routes: Mutex<HashMap<&'static str, Mounted>>,
}

/// Hands a body to a route for a backend (and the Easel task the URL names, if any): `None`
/// for a body that is not the route's letter, else whether it was kept.
type Deliver = Box<dyn Fn(&str, Option<&str>, &[u8]) -> Option<bool> + Send + Sync>;

/// A route as the handler sees it (its letter type erased) and as [`Mailbox::route`] hands
/// it out again.
struct Mounted {
    route: Box<dyn Any + Send + Sync>,
    deliver: Deliver,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").field("secret", &"***").finish_non_exhaustive()
    }
}

impl Default for Mailbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Mailbox {
    /// A mailbox with a fresh random secret.
    pub fn new() -> Self {
        Self::with_secret(random_secret())
    }

    pub fn with_secret(secret: impl Into<String>) -> Self {
        let secret: String = secret.into();
        Mailbox { inner: Arc::new(Inner { secret: secret.into(), routes: Mutex::new(HashMap::new()) }) }
    }

    /// The route for deliveries at `/hooks/<path>/…`, shared by every backend that asks for it.
    ///
    /// # Panics
    /// When `path` was taken by a route of another letter type: two protocols claiming one
    /// path is a programming error.
    pub fn route<L: Letter>(&self, path: &'static str) -> Route<L> {
        let mut routes = self.inner.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mounted) = routes.get(path) {
            return mounted
                .route
                .downcast_ref::<Route<L>>()
                .unwrap_or_else(|| panic!("webhook path `{path}` is taken by another protocol"))
                .clone();
        }
        let route = Route::<L> {
            path,
            secret: self.inner.secret.clone(),
            waiting: Arc::new(Mutex::new(HashMap::new())),
        };
        let handle = route.clone();
        let deliver = Box::new(move |backend: &str, task: Option<&str>, body: &[u8]| {
            let letter = serde_json::from_slice::<L>(body).ok()?;
            Some(match task {
                Some(task) => handle.deliver_to(backend, task, letter),
                None => handle.deliver(backend, letter),
            })
        });
        routes.insert(path, Mounted { route: Box::new(route.clone()), deliver });
        route
    }

    /// `POST /hooks/{path}/{secret}?backend=<name>`: 404 for a path no protocol asked for, 401
    /// for a wrong secret, 400 for a body that is not the route's letter, 200 otherwise (also
    /// for jobs nobody waits on: services only log what they get back). Routes asked for after
    /// this router was made are served too.
    pub fn router(&self) -> Router {
        Router::new().route("/hooks/{path}/{secret}", post(receive)).with_state(self.clone())
    }
}

#[derive(Deserialize)]
struct HookQuery {
    #[serde(default)]
    backend: String,
    /// The Easel task of a [`Route::url_for_task`] URL.
    #[serde(default)]
    task: Option<String>,
}

async fn receive(
    State(mailbox): State<Mailbox>,
    Path((path, secret)): Path<(String, String)>,
    Query(query): Query<HookQuery>,
    body: Bytes,
) -> StatusCode {
    let routes = mailbox.inner.routes.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mounted) = routes.get(path.as_str()) else { return StatusCode::NOT_FOUND };
    if !bool::from(secret.as_bytes().ct_eq(mailbox.inner.secret.as_bytes())) {
        return StatusCode::UNAUTHORIZED;
    }
    match (mounted.deliver)(&query.backend, query.task.as_deref(), &body) {
        None => StatusCode::BAD_REQUEST,
        Some(kept) => {
            if !kept {
                tracing::debug!(%path, backend = %query.backend, "webhook ignored: stale, duplicate or not awaited");
            }
            StatusCode::OK
        }
    }
}

/// The deliveries of one protocol, by backend and job id. Cheap to clone.
pub struct Route<L> {
    path: &'static str,
    secret: Arc<str>,
    /// Latest delivery per awaited job, keyed by [`key`].
    waiting: Arc<Mutex<HashMap<String, watch::Sender<Option<L>>>>>,
}

impl<L> Clone for Route<L> {
    fn clone(&self) -> Self {
        Route { path: self.path, secret: self.secret.clone(), waiting: self.waiting.clone() }
    }
}

impl<L: Letter> Route<L> {
    /// The URL to give the service for `backend`, given Easel's public base URL.
    pub fn url(&self, public_base: &str, backend: &str) -> String {
        format!(
            "{}/hooks/{}/{}?backend={backend}",
            public_base.trim().trim_end_matches('/'),
            self.path,
            self.secret
        )
    }

    /// The URL to give the service for Easel task `task` of `backend`: its deliveries reach
    /// the subscriber of `task`, whatever they say (or do not say) about the job.
    pub fn url_for_task(&self, public_base: &str, backend: &str, task: &str) -> String {
        format!("{}&task={task}", self.url(public_base, backend))
    }

    /// The secret in the URL, for scrubbing from messages (services echo what they were sent).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Starts collecting deliveries about one job until the subscription is dropped.
    pub fn subscribe(&self, backend: &str, job_id: &str) -> Subscription<L> {
        let key = key(backend, job_id);
        let rx = self.lock().entry(key.clone()).or_insert_with(|| watch::channel(None).0).subscribe();
        Subscription { rx, route: self.clone(), key }
    }

    /// Keeps one delivery; `false` when it was stale, a duplicate or for no waiting job.
    pub fn deliver(&self, backend: &str, letter: L) -> bool {
        let Some(id) = letter.job_id() else { return false };
        self.deliver_to(backend, &id, letter)
    }

    /// Keeps one delivery for the subscriber of `job_id`, whatever the letter names.
    pub fn deliver_to(&self, backend: &str, job_id: &str, letter: L) -> bool {
        let waiting = self.lock();
        let Some(tx) = waiting.get(&key(backend, job_id)) else { return false };
        tx.send_if_modified(|seen| {
            let newer = seen.as_ref().is_none_or(|s| letter.supersedes(s));
            if newer {
                *seen = Some(letter);
            }
            newer
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<Option<L>>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(backend: &str, job_id: &str) -> String {
    format!("{backend}\u{0}{job_id}")
}

/// One job's view of its deliveries.
pub struct Subscription<L: Letter> {
    rx: watch::Receiver<Option<L>>,
    route: Route<L>,
    key: String,
}

impl<L: Letter> Subscription<L> {
    /// Waits for the next delivery that superseded the last; never returns while none comes.
    pub async fn next(&mut self) -> L {
        loop {
            if self.rx.changed().await.is_err() {
                // The sender lives in the map as long as this subscription does: unreachable,
                // but waiting forever is the right answer (polling carries on).
                std::future::pending::<()>().await;
            }
            if let Some(letter) = self.rx.borrow_and_update().clone() {
                return letter;
            }
        }
    }
}

impl<L: Letter> Drop for Subscription<L> {
    fn drop(&mut self) {
        let mut waiting = self.route.lock();
        // This subscription's receiver is still alive here, so "only us" is a count of one.
        if waiting.get(&self.key).is_some_and(|tx| tx.receiver_count() <= 1) {
            waiting.remove(&self.key);
        }
    }
}

/// 32 hex characters from the operating system's random source.
fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        // Without an OS random source nothing else in Easel is safe either.
        panic!("no random source for the webhook secret: {e}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Deserialize, PartialEq)]
    struct Update {
        id: String,
        step: u8,
    }

    impl Letter for Update {
        fn job_id(&self) -> Option<String> {
            Some(self.id.clone())
        }
        fn supersedes(&self, seen: &Self) -> bool {
            self.step > seen.step
        }
    }

    fn update(step: u8) -> Update {
        Update { id: "42".into(), step }
    }

    #[tokio::test]
    async fn only_newer_deliveries_reach_the_subscriber() {
        let route = Mailbox::with_secret("s").route::<Update>("t");
        assert!(!route.deliver("b", update(1)), "nobody waits yet");
        let mut sub = route.subscribe("b", "42");
        assert!(route.deliver("b", update(3)));
        assert!(!route.deliver("b", update(3)), "duplicate");
        assert!(!route.deliver("b", update(2)), "older");
        assert!(!route.deliver("other", update(9)), "another backend's job");
        assert_eq!(sub.next().await, update(3));
        assert!(route.deliver("b", update(4)));
        assert_eq!(sub.next().await.step, 4);
        drop(sub);
        assert!(route.lock().is_empty(), "the entry goes with its last subscriber");
    }

    #[test]
    fn routes_are_shared_by_path_and_urls_carry_the_secret() {
        let mailbox = Mailbox::with_secret("abc");
        let a = mailbox.route::<Update>("t");
        let b = mailbox.route::<Update>("t");
        let _sub = a.subscribe("b", "42");
        assert!(b.deliver("b", update(1)), "one route behind both handles");
        assert_eq!(a.url("https://easel.example/", "mj"), "https://easel.example/hooks/t/abc?backend=mj");
        let (x, y) = (Mailbox::new(), Mailbox::new());
        let (x, y) = (x.route::<Update>("t"), y.route::<Update>("t"));
        assert_eq!(x.secret().len(), 32);
        assert_ne!(x.secret(), y.secret());
    }
}
