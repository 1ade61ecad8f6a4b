//! The sandbox's limits, each provoked on purpose with plain HTTP requests from a hand-driven
//! bot: the breach must be refused with Discord's status and error code, and recorded as a
//! violation. Deadlines are crossed with `advance_clock`, never by sleeping.

// Each test binary uses a different part of the helpers.
use crate::support::raw_bot;

use std::time::Duration;

use easel::sandbox::{CommandOption, RateLimits, RouteKind, Sandbox, SandboxOptions, ViolationKind};
use raw_bot::{Answer, Api, Part, RawBot, tiny_png};
use serde_json::{Value, json};

struct Setup {
    sandbox: Sandbox,
    bot: RawBot,
    api: Api,
    alice: u64,
}

async fn setup() -> Setup {
    setup_with(SandboxOptions::default()).await
}

async fn setup_with(opts: SandboxOptions) -> Setup {
    let sandbox = Sandbox::start(opts).await.expect("start");
    let bot = RawBot::identify(&sandbox).await.expect("identify");
    let api = Api::new(&sandbox);
    let app = sandbox.application_id();
    let commands = json!([{"name": "imagine", "description": "Generate", "type": 1, "options": [
        {"type": 3, "name": "prompt", "description": "What to draw", "required": true},
        {"type": 11, "name": "image", "description": "Reference"}]}]);
    let r = api.call("PUT", &format!("/applications/{app}/commands"), Some(commands)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let alice = sandbox.add_user("alice");
    Setup { sandbox, bot, api, alice }
}

impl Setup {
    async fn slash(&mut self) -> (u64, String) {
        let id = self
            .sandbox
            .slash(self.alice, "imagine", vec![CommandOption::string("prompt", "a cat")])
            .await
            .expect("slash");
        let d = self.bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
        assert_eq!(d["id"], id.to_string());
        (id, d["token"].as_str().expect("token").to_owned())
    }

    async fn callback(&self, id: u64, token: &str, body: Value) -> Answer {
        self.api.call("POST", &format!("/interactions/{id}/{token}/callback"), Some(body)).await
    }

    /// A slash command answered with type 5, ready for webhook edits.
    async fn deferred(&mut self) -> (u64, String) {
        let (id, token) = self.slash().await;
        let r = self.callback(id, &token, json!({"type": 5, "data": {"flags": 0, "attachments": []}})).await;
        assert_eq!(r.status, 204, "{r:?}");
        (id, token)
    }

    fn original(&self, token: &str) -> String {
        format!("/webhooks/{}/{token}/messages/@original", self.sandbox.application_id())
    }

    fn violation_kinds(&self) -> Vec<ViolationKind> {
        self.sandbox.violations().iter().map(|v| v.kind).collect()
    }
}

fn assert_error(a: &Answer, status: u16, code: u64) {
    assert_eq!((a.status, a.body["code"].as_u64()), (status, Some(code)), "{a:?}");
    assert!(a.body["message"].is_string(), "{a:?}");
}

fn buttons(n: usize, prefix: &str) -> Value {
    json!({"type": 1, "components": (0..n).map(|i| json!({"type": 2, "style": 1, "custom_id": format!("{prefix}{i}"), "label": format!("B{i}")})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn late_callback_is_refused_and_the_token_dies_with_it() {
    let mut s = setup().await;
    let (id, token) = s.slash().await;
    s.sandbox.advance_clock(Duration::from_millis(3_100));
    let r = s.callback(id, &token, json!({"type": 5})).await;
    assert_error(&r, 404, 10062);
    assert_eq!(r.body["message"], "Unknown interaction");
    let followup = s
        .api
        .call(
            "POST",
            &format!("/webhooks/{}/{token}", s.sandbox.application_id()),
            Some(json!({"content": "late"})),
        )
        .await;
    assert_error(&followup, 404, 10015);
    let kinds = s.violation_kinds();
    assert_eq!(kinds[0], ViolationKind::LateCallback, "{kinds:?}");
    assert!(kinds.contains(&ViolationKind::NotAcknowledged), "{kinds:?}");
    assert!(s.sandbox.interaction(id).expect("record").callback.is_none());
}

#[tokio::test]
async fn an_interaction_never_answered_is_a_violation_once_3_s_pass() {
    let mut s = setup().await;
    let (id, _) = s.slash().await;
    assert!(s.sandbox.violations().is_empty(), "not yet late");
    s.sandbox.advance_clock(Duration::from_secs(4));
    let v = s.sandbox.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].kind, v[0].interaction_id), (ViolationKind::LateCallback, Some(id)));
}

#[tokio::test]
async fn second_callback_is_refused_with_40060() {
    let mut s = setup().await;
    let (id, token) = s.deferred().await;
    let again = s.callback(id, &token, json!({"type": 4, "data": {"content": "hi"}})).await;
    assert_error(&again, 400, 40060);
    assert_eq!(s.violation_kinds(), [ViolationKind::AlreadyAcknowledged]);
    let record = s.sandbox.interaction(id).expect("record");
    assert_eq!(record.callback_type(), Some(5));
    assert!(record.callback.expect("callback").latency < Duration::from_secs(3));
}

#[tokio::test]
async fn the_token_expires_after_15_minutes() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    let ok = s.api.call("PATCH", &s.original(&token), Some(json!({"content": "50%"}))).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    s.sandbox.advance_clock(Duration::from_secs(14 * 60));
    assert_eq!(s.api.call("PATCH", &s.original(&token), Some(json!({"content": "90%"}))).await.status, 200);
    s.sandbox.advance_clock(Duration::from_secs(61));
    let late = s.api.call("PATCH", &s.original(&token), Some(json!({"content": "done"}))).await;
    assert_error(&late, 401, 50027);
    assert_eq!(late.body["message"], "Invalid Webhook Token");
    assert_eq!(s.violation_kinds(), [ViolationKind::TokenExpired]);
}

#[tokio::test]
async fn component_limits_are_refused_and_leave_the_message_alone() {
    // Six edits of one message in a burst on purpose: more than Discord's 5 per 2 s per token.
    let limits = RateLimits { webhook_per_2s: 10, ..RateLimits::default() };
    let mut s = setup_with(SandboxOptions { rate_limits: limits, ..SandboxOptions::default() }).await;
    let (id, token) = s.deferred().await;
    let edit = |components: Value| json!({"content": "grid", "components": components});
    let cases = [
        (
            edit(json!((0..6).map(|r| buttons(1, &format!("r{r}-"))).collect::<Vec<_>>())),
            ViolationKind::TooManyRows,
        ),
        (edit(json!([buttons(6, "b")])), ViolationKind::TooManyComponents),
        (
            edit(
                json!([{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x".repeat(101), "label": "L"}]}]),
            ),
            ViolationKind::CustomIdTooLong,
        ),
        (edit(json!([buttons(2, "same"), buttons(1, "same")])), ViolationKind::DuplicateCustomId),
        (
            edit(
                json!([{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c", "label": "l".repeat(81)}]}]),
            ),
            ViolationKind::LabelTooLong,
        ),
    ];
    for (body, kind) in cases {
        let r = s.api.call("PATCH", &s.original(&token), Some(body)).await;
        assert_error(&r, 400, 50035);
        assert!(r.body["errors"]["components"].is_object(), "Discord-shaped errors: {r:?}");
        assert_eq!(s.sandbox.violations().last().map(|v| v.kind), Some(kind));
    }
    let legal = edit(json!((0..5).map(|r| buttons(5, &format!("r{r}-"))).collect::<Vec<_>>()));
    assert_eq!(s.api.call("PATCH", &s.original(&token), Some(legal)).await.status, 200);
    let msg = s.sandbox.wait_for(raw_bot::WAIT, |v| v.original_message(id).cloned()).await.expect("original");
    assert_eq!((msg.edits, msg.buttons().count()), (1, 25), "only the legal edit landed");
    assert_eq!(s.sandbox.violations().len(), 5);
}

#[tokio::test]
async fn content_length_and_empty_messages() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    let long = s.api.call("PATCH", &s.original(&token), Some(json!({"content": "é".repeat(2001)}))).await;
    assert_error(&long, 400, 50035);
    assert_eq!(long.body["errors"]["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    assert_eq!(
        s.api.call("PATCH", &s.original(&token), Some(json!({"content": "é".repeat(2000)}))).await.status,
        200
    );
    let app = s.sandbox.application_id();
    let empty = s
        .api
        .call("POST", &format!("/webhooks/{app}/{token}"), Some(json!({"content": "", "embeds": []})))
        .await;
    assert_error(&empty, 400, 50006);
    assert_eq!(s.violation_kinds(), [ViolationKind::ContentTooLong, ViolationKind::EmptyMessage]);
}

#[tokio::test]
async fn file_count_and_size_limits() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    let png = tiny_png();
    let eleven: Vec<Part> = (0..11).map(|n| Part::png(n, &format!("f{n}.png"), &png)).collect();
    let refs: Vec<Value> = (0..11).map(|n| json!({"id": n, "filename": format!("f{n}.png")})).collect();
    let r = s.api.multipart("PATCH", &s.original(&token), json!({"attachments": refs}), eleven).await;
    assert_error(&r, 400, 50035);
    let mut big = vec![0u8; 10 * 1024 * 1024 + 1];
    big[..png.len()].copy_from_slice(&png);
    let r = s
        .api
        .multipart(
            "PATCH",
            &s.original(&token),
            json!({"attachments": [{"id": 0}]}),
            vec![Part::png(0, "big.png", &big)],
        )
        .await;
    assert_error(&r, 413, 40005);
    let ten: Vec<Part> = (0..10).map(|n| Part::png(n, &format!("f{n}.png"), &png)).collect();
    let refs: Vec<Value> = (0..10).map(|n| json!({"id": n})).collect();
    let ok = s.api.multipart("PATCH", &s.original(&token), json!({"attachments": refs}), ten).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["attachments"].as_array().map(Vec::len), Some(10));
    assert_eq!(s.violation_kinds(), [ViolationKind::TooManyFiles, ViolationKind::FileTooLarge]);
}

#[tokio::test]
async fn injected_rate_limits_answer_429_with_headers() {
    let mut s = setup().await;
    let (_, token) = s.deferred().await;
    s.sandbox.rate_limit_next(RouteKind::EditOriginal, 2, Duration::from_millis(1500));
    for _ in 0..2 {
        let r = s.api.call("PATCH", &s.original(&token), Some(json!({"content": "x"}))).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.body["message"], "You are being rate limited.");
        assert_eq!((r.body["retry_after"].as_f64(), r.body["global"].as_bool()), (Some(1.5), Some(false)));
        assert_eq!(r.headers["retry-after"], "2");
        assert_eq!(r.headers["x-ratelimit-remaining"], "0");
        assert_eq!(r.headers["x-ratelimit-reset-after"], "1.500");
        assert!(r.headers.contains_key("x-ratelimit-bucket") && r.headers.contains_key("x-ratelimit-reset"));
    }
    assert_eq!(s.api.call("PATCH", &s.original(&token), Some(json!({"content": "x"}))).await.status, 200);
    let stats = s.sandbox.stats();
    assert_eq!((stats.rate_limited_total, stats.rate_limited[&RouteKind::EditOriginal]), (2, 2));
    assert_eq!(stats.requests_to(RouteKind::EditOriginal), 3);
    assert_eq!(stats.rate_limited_real, 0, "injected, not earned");
    assert!(s.sandbox.violations().is_empty(), "injected 429s are not the bot's fault");
}

#[tokio::test]
async fn unknown_routes_channels_messages_tokens_and_bodies() {
    let s = setup().await;
    let chan = s.sandbox.channel_id();
    assert_error(&s.api.call("GET", "/channels/123/messages/456", None).await, 404, 10003);
    assert_error(
        &s.api.call("PATCH", &format!("/channels/{chan}/messages/456"), Some(json!({"content": "x"}))).await,
        404,
        10008,
    );
    let mut stranger = Api::new(&s.sandbox);
    stranger.token = "wrong".into();
    assert_error(
        &stranger.call("POST", &format!("/channels/{chan}/messages"), Some(json!({"content": "x"}))).await,
        401,
        0,
    );
    let garbled = s
        .api
        .http
        .post(format!("{}/channels/{chan}/messages", s.api.base))
        .header("Authorization", format!("Bot {}", s.api.token))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(garbled.status(), 400);
    assert_eq!(garbled.json::<Value>().await.expect("json")["code"], 50109);
    assert_error(&s.api.call("GET", "/guilds/1/roles", None).await, 404, 0);
    assert_error(&s.api.call("PUT", &format!("/channels/{chan}/messages"), Some(json!({}))).await, 405, 0);
    assert_eq!(
        s.violation_kinds(),
        [
            ViolationKind::UnknownChannel,
            ViolationKind::UnknownMessage,
            ViolationKind::Unauthorized,
            ViolationKind::InvalidJson,
            ViolationKind::UnsupportedRoute,
            ViolationKind::UnsupportedRoute,
        ]
    );
}

#[tokio::test]
async fn callback_types_must_fit_the_interaction() {
    let mut s = setup().await;
    let (id, token) = s.slash().await;
    let r = s.callback(id, &token, json!({"type": 7, "data": {"content": "x"}})).await;
    assert_error(&r, 400, 50035);
    assert_eq!(s.violation_kinds(), [ViolationKind::InvalidCallbackType]);
    // Refused callbacks do not count as the one allowed callback.
    assert_eq!(
        s.callback(id, &token, json!({"type": 4, "data": {"content": "hello", "flags": 64}})).await.status,
        204
    );
    let msg = s.sandbox.wait_for(raw_bot::WAIT, |v| v.original_message(id).cloned()).await.expect("message");
    assert_eq!((msg.content.as_str(), msg.ephemeral_for), ("hello", Some(s.alice)));
    // A modal (type 9) is a valid first answer to a command; the sandbox keeps what was opened.
    let (id, token) = s.slash().await;
    let modal = json!({"custom_id": "describe", "title": "Describe", "components": [{"type": 1, "components": [
        {"type": 4, "custom_id": "text", "label": "Text", "style": 1}]}]});
    assert_eq!(s.callback(id, &token, json!({"type": 9, "data": modal})).await.status, 204);
    let record = s.sandbox.interaction(id).expect("record");
    assert_eq!(
        (record.callback_type(), record.modal.as_ref().map(|m| &m["custom_id"])),
        (Some(9), Some(&json!("describe")))
    );
}
