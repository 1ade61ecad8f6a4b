//! Discord's rate limits in the sandbox, driven with plain HTTP requests from a hand-driven bot:
//! 5 requests per 2 s per interaction token, 5 per 5 s per channel for creating and for editing
//! messages, 50 per second globally for bot-token requests (interaction routes exempt). Each
//! answer must carry truthful `X-RateLimit-*` headers, each excess a Discord-shaped 429 that is
//! counted as a real rate limit but not as a violation. Windows are crossed with
//! `advance_clock`, never by sleeping; the bursts are a handful of local requests, far shorter
//! than the windows they fill. Also: the off switch, and injected failures (`fail_next`).

// Each test binary uses a different part of the helpers.
use crate::support::raw_bot;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use easel::sandbox::{CommandOption, RateLimits, RouteKind, Sandbox, SandboxOptions};
use raw_bot::{Answer, Api, RawBot};
use serde_json::{Value, json};

struct Setup {
    sandbox: Sandbox,
    bot: RawBot,
    api: Api,
    alice: u64,
}

async fn setup_with(rate_limits: RateLimits) -> Setup {
    let sandbox =
        Sandbox::start(SandboxOptions { rate_limits, ..SandboxOptions::default() }).await.expect("start");
    let bot = RawBot::identify(&sandbox).await.expect("identify");
    let api = Api::new(&sandbox);
    let app = sandbox.application_id();
    let commands = json!([{"name": "imagine", "description": "Generate", "type": 1, "options": [
        {"type": 3, "name": "prompt", "description": "What to draw", "required": true}]}]);
    let r = api.call("PUT", &format!("/applications/{app}/commands"), Some(commands)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let alice = sandbox.add_user("alice");
    Setup { sandbox, bot, api, alice }
}

async fn setup() -> Setup {
    setup_with(RateLimits::default()).await
}

impl Setup {
    /// A slash command answered with type 5; returns the interaction id and token.
    async fn deferred(&mut self) -> (u64, String) {
        let id = self
            .sandbox
            .slash(self.alice, "imagine", vec![CommandOption::string("prompt", "a cat")])
            .await
            .expect("slash");
        let d = self.bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
        let token = d["token"].as_str().expect("token").to_owned();
        let r = self.callback(id, &token).await;
        assert_eq!(r.status, 204, "{r:?}");
        (id, token)
    }

    async fn callback(&self, id: u64, token: &str) -> Answer {
        let body = json!({"type": 5, "data": {"flags": 0}});
        self.api.call("POST", &format!("/interactions/{id}/{token}/callback"), Some(body)).await
    }

    fn webhook(&self, token: &str) -> String {
        format!("/webhooks/{}/{token}", self.sandbox.application_id())
    }

    async fn edit_original(&self, token: &str) -> Answer {
        let path = format!("{}/messages/@original", self.webhook(token));
        self.api.call("PATCH", &path, Some(json!({"content": "50%"}))).await
    }

    async fn post_message(&self, channel: u64) -> Answer {
        self.api.call("POST", &format!("/channels/{channel}/messages"), Some(json!({"content": "hi"}))).await
    }
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header: {a:?}"))
}

/// A header of seconds with millisecond decimals ("1.337"), as exact milliseconds.
fn millis(a: &Answer, name: &str) -> u64 {
    let secs: f64 = header(a, name).parse().unwrap_or_else(|_| panic!("{name} is not a number: {a:?}"));
    (secs * 1000.0).round() as u64
}

fn remaining(a: &Answer) -> u32 {
    header(a, "x-ratelimit-remaining").parse().expect("remaining is an integer")
}

fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// A Discord 429: body, `Retry-After` as the whole seconds of `retry_after` rounded up, scope.
fn assert_429(a: &Answer, global: bool, max_wait: Duration) -> Duration {
    assert_eq!(a.status, 429, "{a:?}");
    assert_eq!(a.body["message"], "You are being rate limited.");
    assert_eq!((a.body["global"].as_bool(), a.body["code"].as_u64()), (Some(global), Some(0)), "{a:?}");
    let retry_after = a.body["retry_after"].as_f64().expect("retry_after is a number");
    assert!(retry_after > 0.0 && retry_after <= max_wait.as_secs_f64(), "retry_after {retry_after}");
    assert_eq!(header(a, "retry-after"), (retry_after.ceil() as u64).to_string());
    assert_eq!(header(a, "x-ratelimit-scope"), if global { "global" } else { "user" });
    assert_eq!(a.headers.get("x-ratelimit-global").is_some(), global, "{a:?}");
    Duration::from_secs_f64(retry_after)
}

#[tokio::test]
async fn the_sixth_webhook_request_within_2_s_is_refused_until_the_bucket_resets() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    let original = format!("{}/messages/@original", s.webhook(&token));
    // Every method on the token's routes shares the one bucket.
    let mut answers = vec![
        s.edit_original(&token).await,
        s.api.call("GET", &original, None).await,
        s.api.call("POST", &s.webhook(&token), Some(json!({"content": "followup"}))).await,
        s.edit_original(&token).await,
        s.api.call("GET", &original, None).await,
    ];
    let before = unix_ms_now();
    for (n, a) in answers.iter().enumerate() {
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(header(a, "x-ratelimit-limit"), "5");
        assert_eq!(remaining(a), 4 - n as u32, "remaining counts down");
        assert!(a.headers.get("x-ratelimit-scope").is_none(), "scope is only sent on 429s");
    }
    // One window: the same reset moment and bucket on every answer, Reset-After counting down to it.
    let first = &answers[0];
    assert!(millis(first, "x-ratelimit-reset-after") <= 2000);
    for a in &answers[1..] {
        assert_eq!(header(a, "x-ratelimit-reset"), header(first, "x-ratelimit-reset"));
        assert_eq!(header(a, "x-ratelimit-bucket"), header(first, "x-ratelimit-bucket"));
    }
    for pair in answers.windows(2) {
        assert!(millis(&pair[1], "x-ratelimit-reset-after") <= millis(&pair[0], "x-ratelimit-reset-after"));
    }
    let reset_ms = millis(first, "x-ratelimit-reset");
    let until_reset = reset_ms as i64 - before as i64;
    assert!((0..=2100).contains(&until_reset), "X-RateLimit-Reset is epoch seconds: {until_reset} ms away");

    let refused = s.edit_original(&token).await;
    let retry_after = assert_429(&refused, false, Duration::from_secs(2));
    assert_eq!(remaining(&refused), 0);
    assert_eq!(header(&refused, "x-ratelimit-bucket"), header(first, "x-ratelimit-bucket"));
    assert_eq!(
        millis(&refused, "x-ratelimit-reset-after"),
        (retry_after.as_secs_f64() * 1000.0).round() as u64
    );
    let stats = s.sandbox.stats();
    assert_eq!((stats.rate_limited_total, stats.rate_limited_real, stats.rate_limited_global), (1, 1, 0));
    assert_eq!(stats.rate_limited[&RouteKind::EditOriginal], 1);
    assert_eq!(stats.requests_to(RouteKind::EditOriginal), 3, "the refused request is counted too");
    assert!(s.sandbox.violations().is_empty(), "Discord does not hold a 429 against the bot");

    s.sandbox.advance_clock(Duration::from_secs(2));
    answers.push(s.edit_original(&token).await);
    let fresh = answers.last().expect("answer");
    assert_eq!(fresh.status, 200, "{fresh:?}");
    assert_eq!((remaining(fresh), header(fresh, "x-ratelimit-reset-after")), (4, "2.000"), "a new window");
}

#[tokio::test]
async fn a_client_that_waits_out_reset_after_never_sees_a_429() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    for _ in 0..12 {
        let a = s.edit_original(&token).await;
        assert_eq!(a.status, 200, "{a:?}");
        if remaining(&a) == 0 {
            s.sandbox.advance_clock(Duration::from_millis(millis(&a, "x-ratelimit-reset-after")));
        }
    }
    assert_eq!(s.sandbox.stats().rate_limited_total, 0);
}

#[tokio::test]
async fn each_interaction_token_has_its_own_bucket() {
    let mut s = setup().await;
    let (_, a) = s.deferred().await;
    let (_, b) = s.deferred().await;
    for _ in 0..5 {
        assert_eq!(s.edit_original(&a).await.status, 200);
    }
    assert_429(&s.edit_original(&a).await, false, Duration::from_secs(2));
    let mut last = None;
    for n in 0..5 {
        let r = s.edit_original(&b).await;
        assert_eq!((r.status, remaining(&r)), (200, 4 - n), "{r:?}");
        last = Some(r);
    }
    let on_a = s.edit_original(&a).await;
    assert_429(&on_a, false, Duration::from_secs(2));
    // Like Discord's, the bucket hash leaves out the top-level resource (the token).
    let on_b = last.expect("answer");
    assert_eq!(header(&on_b, "x-ratelimit-bucket"), header(&on_a, "x-ratelimit-bucket"));
    assert_eq!(s.sandbox.stats().rate_limited_real, 2);
}

#[tokio::test]
async fn channel_messages_are_limited_5_per_5_s_per_channel_for_create_and_edit_each() {
    let s = setup().await;
    let chan = s.sandbox.channel_id();
    let mut ids = Vec::new();
    for n in 0..5 {
        let r = s.post_message(chan).await;
        assert_eq!((r.status, header(&r, "x-ratelimit-limit"), remaining(&r)), (200, "5", 4 - n), "{r:?}");
        assert!(millis(&r, "x-ratelimit-reset-after") <= 5000);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    let refused = s.post_message(chan).await;
    assert_429(&refused, false, Duration::from_secs(5));
    assert_eq!(s.sandbox.messages().len(), 5, "the refused message was not posted");

    // Editing is its own bucket, so it is still open.
    let edit = |id: &str| format!("/channels/{chan}/messages/{id}");
    for (n, id) in ids.iter().enumerate() {
        let r = s.api.call("PATCH", &edit(id), Some(json!({"content": "edited"}))).await;
        assert_eq!((r.status, remaining(&r)), (200, 4 - n as u32), "{r:?}");
    }
    assert_429(
        &s.api.call("PATCH", &edit(&ids[0]), Some(json!({"content": "again"}))).await,
        false,
        Duration::from_secs(5),
    );
    // Another channel is another bucket (this one does not exist, which Discord says after counting).
    let other = s.post_message(chan + 1).await;
    assert_eq!((other.status, remaining(&other)), (404, 4), "{other:?}");
    // Reads and deletes are not limited here and carry no bucket.
    let read = s.api.call("GET", &edit(&ids[0]), None).await;
    assert_eq!(read.status, 200);
    assert!(read.headers.get("x-ratelimit-bucket").is_none(), "{read:?}");

    s.sandbox.advance_clock(Duration::from_secs(5));
    assert_eq!(s.post_message(chan).await.status, 200);
    let stats = s.sandbox.stats();
    assert_eq!((stats.rate_limited_real, stats.rate_limited[&RouteKind::CreateMessage]), (2, 1));
}

#[tokio::test]
async fn the_global_limit_is_50_per_second_for_bot_requests_but_not_interaction_routes() {
    let mut s = setup().await;
    let (id_late, token_late) = {
        // Dispatched now, answered while the global limit is exhausted.
        let id = s
            .sandbox
            .slash(s.alice, "imagine", vec![CommandOption::string("prompt", "x")])
            .await
            .expect("slash");
        let d = s.bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
        (id, d["token"].as_str().expect("token").to_owned())
    };
    let (_, token) = s.deferred().await;
    // A fresh global window, then 60 bot-token requests at once: well within one second locally.
    s.sandbox.advance_clock(Duration::from_secs(1));
    let answers = futures::future::join_all((0..60).map(|_| s.api.call("GET", "/users/@me", None))).await;
    let (ok, refused): (Vec<_>, Vec<_>) = answers.iter().partition(|a| a.status == 200);
    assert_eq!((ok.len(), refused.len()), (50, 10));
    for a in &refused {
        assert_429(a, true, Duration::from_secs(1));
        assert_eq!(header(a, "x-ratelimit-global"), "true");
    }
    // Interaction routes are exempt: the callback and webhook edits go through.
    assert_eq!(s.callback(id_late, &token_late).await.status, 204);
    let edit = s.edit_original(&token).await;
    assert_eq!((edit.status, remaining(&edit)), (200, 4), "{edit:?}");
    // A bot-token route with a bucket of its own: refused globally, its own bucket untouched.
    let post = s.post_message(s.sandbox.channel_id()).await;
    assert_429(&post, true, Duration::from_secs(1));
    assert_eq!(remaining(&post), 5, "the route's headers come along, its bucket unused");

    let stats = s.sandbox.stats();
    assert_eq!((stats.rate_limited_global, stats.rate_limited_real), (11, 11));
    assert!(s.sandbox.violations().is_empty(), "{:?}", s.sandbox.violations());
    s.sandbox.advance_clock(Duration::from_secs(1));
    assert_eq!(s.api.call("GET", "/users/@me", None).await.status, 200);
}

#[tokio::test]
async fn rate_limits_can_be_switched_off_or_scaled() {
    let mut off = setup_with(RateLimits::off()).await;
    assert!(!off.sandbox.rate_limits().enabled);
    let (_, token) = off.deferred().await;
    for _ in 0..12 {
        let r = off.edit_original(&token).await;
        assert_eq!(r.status, 200);
        assert!(r.headers.get("x-ratelimit-limit").is_none(), "no limit, no headers: {r:?}");
    }
    let chan = off.sandbox.channel_id();
    let burst = futures::future::join_all((0..60).map(|_| off.post_message(chan))).await;
    assert!(burst.iter().all(|a| a.status == 200));
    assert_eq!(off.sandbox.stats().rate_limited_total, 0);

    let mut tight = setup_with(RateLimits { webhook_per_2s: 2, ..RateLimits::default() }).await;
    let (_, token) = tight.deferred().await;
    let first = tight.edit_original(&token).await;
    assert_eq!((header(&first, "x-ratelimit-limit"), remaining(&first)), ("2", 1));
    assert_eq!(tight.edit_original(&token).await.status, 200);
    assert_429(&tight.edit_original(&token).await, false, Duration::from_secs(2));
}

#[tokio::test]
async fn injected_failures_are_discord_shaped_counted_and_not_violations() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    s.sandbox.fail_next(RouteKind::EditOriginal, 2, 503).expect("503 is a failure");
    for _ in 0..2 {
        let r = s.edit_original(&token).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (503, json!({"message": "503: Service Unavailable", "code": 0}))
        );
    }
    // Injected answers do not use up the real bucket: five edits still fit, the sixth does not.
    for _ in 0..5 {
        assert_eq!(s.edit_original(&token).await.status, 200);
    }
    assert_429(&s.edit_original(&token).await, false, Duration::from_secs(2));

    // Injected 429s and failures are served in the order they were asked for.
    s.sandbox.rate_limit_next(RouteKind::Any, 1, Duration::from_millis(100));
    s.sandbox.fail_next(RouteKind::Any, 1, 502).expect("502");
    assert_eq!(s.api.call("GET", "/users/@me", None).await.status, 429);
    let bad_gateway = s.api.call("GET", "/users/@me", None).await;
    assert_eq!((bad_gateway.status, &bad_gateway.body["message"]), (502, &json!("502: Bad Gateway")));
    assert_eq!(s.api.call("GET", "/users/@me", None).await.status, 200);

    assert!(s.sandbox.fail_next(RouteKind::Any, 1, 200).is_err(), "not a failure");
    assert!(s.sandbox.fail_next(RouteKind::Any, 1, 429).is_err(), "use rate_limit_next");
    let stats = s.sandbox.stats();
    assert_eq!(stats.injected_failures_total, 3);
    assert_eq!(
        (
            stats.injected_failures[&RouteKind::EditOriginal],
            stats.injected_failures[&RouteKind::GetCurrentUser]
        ),
        (2, 1)
    );
    assert_eq!((stats.rate_limited_total, stats.rate_limited_real), (2, 1));
    assert!(s.sandbox.violations().is_empty(), "{:?}", s.sandbox.violations());
}

#[tokio::test]
async fn the_control_api_injects_failures_and_shows_the_limits() {
    let s = setup().await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/control{path}", s.sandbox.api_base());
    let post = |path: &str, body: Value| http.post(control(path)).json(&body).send();
    let r =
        post("/fail", json!({"route": "create_message", "count": 1, "status": 500})).await.expect("answer");
    assert_eq!(r.status(), 200);
    let chan = s.sandbox.channel_id();
    let failed = s.post_message(chan).await;
    assert_eq!((failed.status, failed.body["code"].as_u64()), (500, Some(0)), "{failed:?}");
    assert_eq!(s.post_message(chan).await.status, 200);
    let r = post("/fail", json!({"route": "any", "count": 1, "status": 302})).await.expect("answer");
    assert_eq!(r.status(), 400);

    let state: Value = http.get(control("/state")).send().await.expect("state").json().await.expect("json");
    assert_eq!(
        state["rate_limits"],
        json!({"enabled": true, "webhook_per_2s": 5, "channel_per_5s": 5, "global_per_s": 50})
    );
    assert_eq!(state["stats"]["injected_failures"]["create_message"], 1);
    assert_eq!(state["stats"]["rate_limited_real"], 0);
}
