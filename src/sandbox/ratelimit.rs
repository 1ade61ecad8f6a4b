//! Discord's rate limits, enforced on by default so that a load test's 429 count means what it
//! would mean on Discord (`shared/reference/discord-docs/rate-limits.mdx`).
//!
//! Per-route buckets are keyed the way Discord keys them: a route group plus the top-level
//! resource in the path. Interaction webhooks (`/webhooks/{app}/{token}…`, every method
//! together) get one bucket per token, 5 requests per 2 s; `POST /channels/{id}/messages` and
//! `PATCH /channels/{id}/messages/{mid}` get one bucket each per channel, 5 per 5 s (the numbers
//! Discord is observed to send). Interaction callbacks are not limited: there is only one per
//! interaction. On top of that, requests made with the bot token share a global 50 per second,
//! from which interaction endpoints (callbacks and webhook routes) are exempt, as Discord
//! documents.
//!
//! A bucket is a fixed window that opens with the first request after the previous window
//! closed, and refills completely when it closes. That is Discord's model: it reports a moment
//! (`X-RateLimit-Reset`) at which `X-RateLimit-Remaining` jumps back to the limit, not a rate at
//! which tokens trickle back, so a client that waits out `Reset-After` on an empty bucket must
//! never see a 429, and one that ignores the headers must. A sliding window would make
//! `Reset-After` a lie (only one slot comes back then). Windows run on the sandbox clock, so
//! `advance_clock` refills buckets just as it crosses interaction deadlines.
//!
//! A refused request does not use a slot of the bucket that refused it; a request refused by its
//! route bucket still counts toward the global limit, since it reached Discord. Times in headers
//! are rounded up to the millisecond, so a client sleeping exactly `Reset-After` arrives after
//! the reset rather than a fraction of a millisecond before it.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::model::RouteKind;

/// How hard the sandbox limits the bot. The default is Discord's numbers; a browser demo may
/// turn it off, and a test that bursts on purpose may raise one number. A limit of 0 disables
/// that one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    pub enabled: bool,
    /// Requests per 2 s per interaction token on `/webhooks/{app}/{token}…`, all methods together.
    pub webhook_per_2s: u32,
    /// Requests per 5 s per channel, for creating messages and (separately) for editing them.
    pub channel_per_5s: u32,
    /// Requests per second made with the bot token, interaction endpoints excepted.
    pub global_per_s: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { enabled: true, webhook_per_2s: 5, channel_per_5s: 5, global_per_s: 50 }
    }
}

impl RateLimits {
    /// No rate limiting at all (injected 429s still work).
    pub fn off() -> Self {
        RateLimits { enabled: false, ..RateLimits::default() }
    }
}

/// A kind of limit; together with a top-level resource it names one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Group {
    Webhook,
    CreateMessage,
    EditMessage,
    Global,
}

impl Group {
    fn window(self) -> Duration {
        match self {
            Group::Webhook => Duration::from_secs(2),
            Group::CreateMessage | Group::EditMessage => Duration::from_secs(5),
            Group::Global => Duration::from_secs(1),
        }
    }

    fn limit(self, limits: &RateLimits) -> u32 {
        match self {
            Group::Webhook => limits.webhook_per_2s,
            Group::CreateMessage | Group::EditMessage => limits.channel_per_5s,
            Group::Global => limits.global_per_s,
        }
    }

    /// `X-RateLimit-Bucket`: like Discord's, it names the limit without the top-level resource
    /// (every token's webhook bucket has the same hash), so clients key buckets by hash + resource.
    fn hash(self) -> String {
        let name = match self {
            Group::Webhook => "webhook:interaction",
            Group::CreateMessage => "POST channels/messages",
            Group::EditMessage => "PATCH channels/messages/{id}",
            Group::Global => "global",
        };
        opaque_hash(name)
    }
}

/// A stable, opaque 32-hex-digit name (FNV-1a, twice with different seeds), shaped like Discord's.
fn opaque_hash(name: &str) -> String {
    let fnv =
        |seed: u64| name.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4))
}

/// The per-route bucket a request falls in: its group and top-level resource.
pub(crate) fn bucket_of(route: RouteKind, path: &str) -> Option<(Group, String)> {
    let seg: Vec<&str> = path.strip_prefix("/api/v10/")?.trim_end_matches('/').split('/').collect();
    let (group, major) = match route {
        RouteKind::CreateFollowup
        | RouteKind::GetOriginal
        | RouteKind::EditOriginal
        | RouteKind::DeleteOriginal
        | RouteKind::GetFollowup
        | RouteKind::EditFollowup
        | RouteKind::DeleteFollowup => (Group::Webhook, format!("{}/{}", seg.get(1)?, seg.get(2)?)),
        RouteKind::CreateMessage => (Group::CreateMessage, (*seg.get(1)?).to_owned()),
        RouteKind::EditMessage => (Group::EditMessage, (*seg.get(1)?).to_owned()),
        _ => return None,
    };
    Some((group, major))
}

/// Interaction endpoints: authorised by the interaction token, exempt from the global limit.
pub(crate) fn is_interaction_route(route: RouteKind) -> bool {
    matches!(
        route,
        RouteKind::InteractionCallback
            | RouteKind::CreateFollowup
            | RouteKind::GetOriginal
            | RouteKind::EditOriginal
            | RouteKind::DeleteOriginal
            | RouteKind::GetFollowup
            | RouteKind::EditFollowup
            | RouteKind::DeleteFollowup
    )
}

struct Window {
    opened: Duration,
    used: u32,
}

/// What a bucket looks like after a request, for the `X-RateLimit-*` headers.
#[derive(Clone, Debug)]
pub(crate) struct BucketState {
    /// `X-RateLimit-Bucket`.
    hash: String,
    limit: u32,
    remaining: u32,
    /// When the bucket refills, on the sandbox clock.
    resets_at: Duration,
    reset_after: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    User,
    Global,
}

pub(crate) enum Verdict {
    /// Go ahead; set these headers on the answer (`None`: the route has no bucket).
    Pass(Option<BucketState>),
    Limited {
        scope: Scope,
        retry_after: Duration,
        route: Option<BucketState>,
    },
}

/// Every open window, keyed by group and top-level resource.
#[derive(Default)]
pub(crate) struct Buckets {
    windows: HashMap<(Group, String), Window>,
    last_prune: Duration,
}

impl Buckets {
    /// Decides one request at `now`, using up a slot of each bucket it passes.
    pub(crate) fn admit(
        &mut self,
        limits: &RateLimits,
        now: Duration,
        route: Option<(Group, String)>,
        global: bool,
    ) -> Verdict {
        if !limits.enabled {
            return Verdict::Pass(None);
        }
        self.prune(now);
        let route = route.filter(|(g, _)| g.limit(limits) > 0);
        if global && Group::Global.limit(limits) > 0 {
            let key = (Group::Global, String::new());
            let state = self.state(limits, &key, now);
            if state.remaining == 0 {
                let route = route.map(|k| self.state(limits, &k, now));
                return Verdict::Limited { scope: Scope::Global, retry_after: state.reset_after, route };
            }
            self.take(&key, now);
        }
        let Some(key) = route else { return Verdict::Pass(None) };
        let state = self.state(limits, &key, now);
        if state.remaining == 0 {
            return Verdict::Limited {
                scope: Scope::User,
                retry_after: state.reset_after,
                route: Some(state),
            };
        }
        self.take(&key, now);
        Verdict::Pass(Some(self.state(limits, &key, now)))
    }

    /// The bucket as it stands (a closed or never opened window counts as a fresh one).
    fn state(&self, limits: &RateLimits, key: &(Group, String), now: Duration) -> BucketState {
        let group = key.0;
        let (opened, used) = match self.windows.get(key) {
            Some(w) if now < w.opened + group.window() => (w.opened, w.used),
            _ => (now, 0),
        };
        let resets_at = opened + group.window();
        let limit = group.limit(limits);
        BucketState {
            hash: group.hash(),
            limit,
            remaining: limit.saturating_sub(used),
            resets_at,
            reset_after: resets_at.saturating_sub(now),
        }
    }

    fn take(&mut self, key: &(Group, String), now: Duration) {
        let window = key.0.window();
        let w = self.windows.entry(key.clone()).or_insert(Window { opened: now, used: 0 });
        if now >= w.opened + window {
            *w = Window { opened: now, used: 0 };
        }
        w.used += 1;
    }

    /// Every interaction token makes a bucket; forget closed ones now and then so a long load
    /// test does not keep them all.
    fn prune(&mut self, now: Duration) {
        if self.windows.len() > 1024 && now >= self.last_prune + Duration::from_secs(1) {
            self.windows.retain(|(g, _), w| now < w.opened + g.window());
            self.last_prune = now;
        }
    }
}

/// Whole milliseconds, rounded up.
fn ceil_ms(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000) as u64
}

/// Seconds with millisecond decimals, rounded up: "1.337".
fn secs(d: Duration) -> String {
    let ms = ceil_ms(d);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn set(h: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// The `X-RateLimit-*` headers of a bucket; `unix_ms_at_zero` is Unix time at sandbox time 0.
pub(crate) fn set_headers(h: &mut HeaderMap, b: &BucketState, unix_ms_at_zero: u64) {
    let reset_ms = unix_ms_at_zero + ceil_ms(b.resets_at);
    set(h, "x-ratelimit-limit", b.limit.to_string());
    set(h, "x-ratelimit-remaining", b.remaining.to_string());
    set(h, "x-ratelimit-reset", format!("{}.{:03}", reset_ms / 1000, reset_ms % 1000));
    set(h, "x-ratelimit-reset-after", secs(b.reset_after));
    set(h, "x-ratelimit-bucket", b.hash.clone());
}

/// The bucket an injected 429 pretends: the route's own (or a made-up one for a route without
/// a bucket; 5 is Discord's most common limit), empty until `retry_after` has passed.
pub(crate) fn injected_state(
    limits: &RateLimits,
    route: RouteKind,
    now: Duration,
    retry_after: Duration,
) -> BucketState {
    let group = bucket_of_kind(route);
    BucketState {
        hash: group.map_or_else(|| opaque_hash(&format!("{route:?}")), Group::hash),
        limit: group.map(|g| g.limit(limits)).filter(|&l| l > 0).unwrap_or(5),
        remaining: 0,
        resets_at: now + retry_after,
        reset_after: retry_after,
    }
}

fn bucket_of_kind(route: RouteKind) -> Option<Group> {
    match route {
        RouteKind::CreateMessage => Some(Group::CreateMessage),
        RouteKind::EditMessage => Some(Group::EditMessage),
        r if is_interaction_route(r) && r != RouteKind::InteractionCallback => Some(Group::Webhook),
        _ => None,
    }
}

/// A 429 as Discord sends it. `route` carries the per-route headers ("normal route rate-limiting
/// headers will also be sent").
pub(crate) fn too_many_requests(
    scope: Scope,
    retry_after: Duration,
    route: Option<&BucketState>,
    unix_ms_at_zero: u64,
) -> Response {
    let global = scope == Scope::Global;
    // `code` is not in Discord's documented 429 body, but the OpenAPI schema requires it and
    // serenity only reads the message of an error body that has one.
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": ceil_ms(retry_after) as f64 / 1000.0,
        "global": global,
        "code": 0,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = response.headers_mut();
    if let Some(b) = route {
        set_headers(h, b, unix_ms_at_zero);
    }
    h.insert("retry-after", HeaderValue::from(ceil_ms(retry_after).div_ceil(1000)));
    if global {
        h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    let scope = if global { "global" } else { "user" };
    h.insert("x-ratelimit-scope", HeaderValue::from_static(scope));
    response
}

/// An injected failure (`Sandbox::fail_next`): the status with a Discord-shaped body.
pub(crate) fn injected_failure(status: StatusCode) -> Response {
    let message = format!("{}: {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"));
    (status, axum::Json(json!({"message": message, "code": 0}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(g: Group, major: &str) -> Option<(Group, String)> {
        Some((g, major.to_owned()))
    }

    fn remaining(v: &Verdict) -> Option<u32> {
        match v {
            Verdict::Pass(Some(b)) => Some(b.remaining),
            _ => None,
        }
    }

    #[test]
    fn a_window_opens_on_first_use_and_refills_all_at_once() {
        let limits = RateLimits::default();
        let mut b = Buckets::default();
        let t0 = Duration::from_secs(10);
        for left in (0..5).rev() {
            let v = b.admit(&limits, t0, key(Group::Webhook, "a/t"), false);
            assert_eq!(remaining(&v), Some(left));
        }
        let later = t0 + Duration::from_millis(1500);
        match b.admit(&limits, later, key(Group::Webhook, "a/t"), false) {
            Verdict::Limited { scope: Scope::User, retry_after, .. } => {
                assert_eq!(retry_after, Duration::from_millis(500))
            }
            _ => panic!("the sixth request within 2 s is refused"),
        }
        let v = b.admit(&limits, t0 + Duration::from_secs(2), key(Group::Webhook, "a/t"), false);
        assert_eq!(remaining(&v), Some(4), "a whole new window");
    }

    #[test]
    fn global_counts_route_refusals_but_not_its_own() {
        let limits = RateLimits { global_per_s: 3, channel_per_5s: 1, ..RateLimits::default() };
        let mut b = Buckets::default();
        let now = Duration::ZERO;
        let chan = || key(Group::CreateMessage, "1");
        assert!(matches!(b.admit(&limits, now, chan(), true), Verdict::Pass(Some(_))));
        assert!(matches!(b.admit(&limits, now, chan(), true), Verdict::Limited { scope: Scope::User, .. }));
        assert!(matches!(b.admit(&limits, now, None, true), Verdict::Pass(None)));
        for _ in 0..2 {
            assert!(matches!(
                b.admit(&limits, now, None, true),
                Verdict::Limited { scope: Scope::Global, .. }
            ));
        }
        assert!(matches!(b.admit(&limits, now, None, false), Verdict::Pass(None)), "exempt");
    }

    #[test]
    fn zero_or_disabled_means_unlimited() {
        let mut b = Buckets::default();
        let zero = RateLimits { webhook_per_2s: 0, ..RateLimits::default() };
        let off = RateLimits::off();
        for _ in 0..100 {
            assert!(matches!(
                b.admit(&zero, Duration::ZERO, key(Group::Webhook, "a/t"), false),
                Verdict::Pass(None)
            ));
            assert!(matches!(
                b.admit(&off, Duration::ZERO, key(Group::CreateMessage, "1"), true),
                Verdict::Pass(None)
            ));
        }
    }

    #[test]
    fn buckets_follow_the_top_level_resource() {
        let path = "/api/v10/webhooks/12/tok/messages/@original";
        assert_eq!(bucket_of(RouteKind::EditOriginal, path), key(Group::Webhook, "12/tok"));
        assert_eq!(
            bucket_of(RouteKind::CreateMessage, "/api/v10/channels/7/messages"),
            key(Group::CreateMessage, "7")
        );
        assert_eq!(
            bucket_of(RouteKind::EditMessage, "/api/v10/channels/7/messages/9"),
            key(Group::EditMessage, "7")
        );
        assert_eq!(bucket_of(RouteKind::InteractionCallback, "/api/v10/interactions/1/t/callback"), None);
        assert_eq!(bucket_of(RouteKind::GetMessage, "/api/v10/channels/7/messages/9"), None);
        assert_eq!(Group::Webhook.hash(), Group::Webhook.hash());
        assert_ne!(Group::Webhook.hash(), Group::CreateMessage.hash());
    }

    #[test]
    fn header_times_round_up_to_the_millisecond() {
        assert_eq!(secs(Duration::from_micros(1_336_001)), "1.337");
        assert_eq!(secs(Duration::from_secs(2)), "2.000");
        assert_eq!(ceil_ms(Duration::from_nanos(1)), 1);
    }
}
