//! The sandbox's Discord semantics, driven by hand: gateway IDENTIFY / heartbeat / RESUME
//! replay, and the message rules that trip bots up (keeping attachments on edits, the
//! `attachments: []` of type 7, the first followup after a defer filling the loading message,
//! ephemeral visibility, and `click` refusing buttons that are not there).

// Each test binary uses a different part of the helpers.
use crate::support::raw_bot;

use easel::sandbox::{CommandOption, InteractionEvent, Sandbox, SandboxOptions, ViolationKind};
use raw_bot::{Api, Frame, Part, RawBot, WAIT, identify_frame, tiny_png};
use serde_json::json;

async fn ready() -> (Sandbox, RawBot, Api, u64) {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.expect("start");
    let bot = RawBot::identify(&sandbox).await.expect("identify");
    let api = Api::new(&sandbox);
    let app = sandbox.application_id();
    let cmds = json!([{"name": "imagine", "description": "Generate", "options": [{"type": 3, "name": "prompt", "description": "p", "required": true}]}]);
    assert_eq!(api.call("PUT", &format!("/applications/{app}/commands"), Some(cmds)).await.status, 200);
    let alice = sandbox.add_user("alice");
    (sandbox, bot, api, alice)
}

async fn slash(sandbox: &Sandbox, bot: &mut RawBot, user: u64) -> (u64, String) {
    let id =
        sandbox.slash(user, "imagine", vec![CommandOption::string("prompt", "a cat")]).await.expect("slash");
    let d = bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
    (id, d["token"].as_str().expect("token").to_owned())
}

#[tokio::test]
async fn identify_checks_the_token_and_heartbeats_are_acked() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.expect("start");
    let (mut ws, _) = raw_bot::open(&sandbox).await.expect("open");
    raw_bot::send(&mut ws, identify_frame("not-the-token")).await.expect("send");
    match raw_bot::recv(&mut ws).await.expect("frame") {
        Frame::Closed(Some((code, _))) => assert_eq!(code, 4004),
        other => panic!("expected close 4004, got {other:?}"),
    }
    assert_eq!(sandbox.violations()[0].kind, ViolationKind::GatewayProtocol);

    let mut bot = RawBot::identify(&sandbox).await.expect("identify");
    assert_eq!(bot.ready["application"]["id"], sandbox.application_id().to_string());
    assert_eq!(bot.guild["channels"][0]["id"], sandbox.channel_id().to_string());
    bot.send(json!({"op": 1, "d": bot.seq})).await.expect("heartbeat");
    match bot.next_frame().await.expect("ack") {
        Frame::Json(v) => assert_eq!(v["op"], 11),
        other => panic!("{other:?}"),
    }
    assert_eq!(sandbox.stats().heartbeats, 1);
}

#[tokio::test]
async fn resume_replays_missed_dispatches_then_resumed() {
    let (sandbox, mut bot, _api, alice) = ready().await;
    let (first, _) = slash(&sandbox, &mut bot, alice).await;
    let (session, seq) = (bot.session_id.clone(), bot.seq);
    bot.close().await;
    sandbox.wait_for(WAIT, |v| (!v.bot_connected()).then_some(())).await.expect("disconnect seen");
    // A user acts while the bot is away: the dispatch waits in the session log.
    let missed =
        sandbox.slash(alice, "imagine", vec![CommandOption::string("prompt", "a dog")]).await.expect("slash");
    let (bot, replayed) = RawBot::resume(&sandbox, &session, seq).await.expect("resume");
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(
        (replayed[0]["s"].as_u64(), replayed[0]["d"]["id"].as_str()),
        (Some(seq + 1), Some(missed.to_string().as_str()))
    );
    assert_ne!(first, missed);
    // Resuming from an older sequence number replays more.
    bot.close().await;
    let (_bot, replayed) = RawBot::resume(&sandbox, &session, seq - 1).await.expect("resume");
    let events: Vec<&str> = replayed.iter().filter_map(|f| f["t"].as_str()).collect();
    assert_eq!(events, ["INTERACTION_CREATE", "INTERACTION_CREATE"], "RESUMED itself is not replayed");
    assert_eq!(sandbox.stats().resumes, 2);
    let (_bot, answer) = RawBot::resume(&sandbox, "no-such-session", 0).await.expect("resume");
    assert_eq!((answer[0]["op"].as_u64(), answer[0]["d"].as_bool()), (Some(9), Some(false)));
}

#[tokio::test]
async fn edits_keep_list_or_drop_attachments_like_discord() {
    let (sandbox, mut bot, api, alice) = ready().await;
    let (id, token) = slash(&sandbox, &mut bot, alice).await;
    let app = sandbox.application_id();
    let cb =
        api.call("POST", &format!("/interactions/{id}/{token}/callback"), Some(json!({"type": 5}))).await;
    assert_eq!(cb.status, 204);
    let original = format!("/webhooks/{app}/{token}/messages/@original");
    let png = tiny_png();
    let two = vec![Part::png(0, "a.png", &png), Part::png(1, "b.png", &png)];
    let r = api
        .multipart("PATCH", &original, json!({"content": "two", "attachments": [{"id": 0}, {"id": 1}]}), two)
        .await;
    let ids: Vec<String> = r.body["attachments"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    // Listing one real id keeps only that one.
    let r = api.call("PATCH", &original, Some(json!({"attachments": [{"id": ids[1]}]}))).await;
    assert_eq!(r.body["attachments"][0]["filename"], "b.png");
    assert_eq!(r.body["attachments"].as_array().map(Vec::len), Some(1));
    // No attachments key: existing files stay and new ones are appended.
    let r = api
        .multipart("PATCH", &original, json!({"content": "more"}), vec![Part::png(0, "c.png", &png)])
        .await;
    let names: Vec<&str> = r.body["attachments"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["filename"].as_str())
        .collect();
    assert_eq!(names, ["b.png", "c.png"]);
    let url = r.body["attachments"][1]["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("{}/attachments/", sandbox.api_base())), "{url}");
    assert_eq!(sandbox.attachment_bytes(url).as_deref(), Some(png.as_slice()));
    let fetched = reqwest::get(url).await.expect("download").bytes().await.expect("bytes");
    assert_eq!(fetched.as_ref(), png.as_slice());
    // An empty list removes them all.
    let r = api.call("PATCH", &original, Some(json!({"attachments": []}))).await;
    assert_eq!(r.body["attachments"], json!([]));
    assert!(sandbox.violations().is_empty(), "{:?}", sandbox.violations());
}

#[tokio::test]
async fn first_followup_after_defer_fills_the_loading_message() {
    let (sandbox, mut bot, api, alice) = ready().await;
    let (id, token) = slash(&sandbox, &mut bot, alice).await;
    let app = sandbox.application_id();
    api.call(
        "POST",
        &format!("/interactions/{id}/{token}/callback"),
        Some(json!({"type": 5, "data": {"flags": 64}})),
    )
    .await;
    let loading = sandbox.wait_for(WAIT, |v| v.original_message(id).cloned()).await.expect("loading");
    assert!(loading.loading && loading.ephemeral_for == Some(alice));
    let first = api.call("POST", &format!("/webhooks/{app}/{token}"), Some(json!({"content": "done"}))).await;
    assert_eq!(first.body["id"], loading.id.to_string(), "filled, not a new message");
    assert_eq!(first.body["flags"], 64, "keeps the ephemerality chosen at defer time");
    let second = api
        .call("POST", &format!("/webhooks/{app}/{token}"), Some(json!({"content": "extra", "flags": 64})))
        .await;
    assert_ne!(second.body["id"], first.body["id"]);
    let record = sandbox.interaction(id).expect("record");
    assert_eq!(record.followup_ids.len(), 1);
    assert!(matches!(record.events[1], InteractionEvent::Followup { filled_deferred: true, .. }));
    let bob = sandbox.add_user("bob");
    assert!(sandbox.messages().iter().all(|m| !m.visible_to(bob)), "both are alice's ephemeral messages");
}

#[tokio::test]
async fn clicks_type_7_and_refused_clicks() {
    let (sandbox, mut bot, api, alice) = ready().await;
    let (id, token) = slash(&sandbox, &mut bot, alice).await;
    let png = tiny_png();
    let payload = json!({"type": 4, "data": {"content": "grid", "attachments": [{"id": 0, "filename": "grid.png"}],
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "custom_id": "u1", "label": "U1"},
            {"type": 2, "style": 2, "custom_id": "off", "label": "Off", "disabled": true}]}]}});
    let r = api
        .multipart(
            "POST",
            &format!("/interactions/{id}/{token}/callback"),
            payload,
            vec![Part::png(0, "grid.png", &png)],
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    let msg = sandbox.wait_for(WAIT, |v| v.original_message(id).cloned()).await.expect("message");
    assert_eq!((msg.labels(), msg.attachments.len()), (vec!["U1", "Off"], 1));
    assert!(msg.button("U1").is_some_and(|b| !b.disabled));
    assert!(sandbox.click(alice, msg.id, "nope").await.is_err());
    assert!(sandbox.click(alice, msg.id, "off").await.is_err(), "disabled");
    let click = sandbox.click(alice, msg.id, "u1").await.expect("click");
    let d = bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
    assert_eq!(
        (d["type"].as_u64(), d["message"]["id"].as_str()),
        (Some(3), Some(msg.id.to_string().as_str()))
    );
    let click_token = d["token"].as_str().expect("token");
    // serenity's UpdateMessage always sends `attachments: []`, which removes the image.
    let r = api
        .call(
            "POST",
            &format!("/interactions/{click}/{click_token}/callback"),
            Some(json!({"type": 7, "data": {"content": "varied", "attachments": []}})),
        )
        .await;
    assert_eq!(r.status, 204);
    let after = sandbox.message(msg.id).expect("message");
    assert_eq!((after.content.as_str(), after.attachments.len(), after.edits), ("varied", 0, 1));
    assert_eq!(after.labels(), ["U1", "Off"]);
    assert!(sandbox.violations().is_empty());
}
