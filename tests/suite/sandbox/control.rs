//! The `/control` HTTP API, used the way a browser page or a load driver will: ids come back as
//! strings (they do not fit a JavaScript number), actions are the Rust API's, and `/control/wait`
//! long-polls on the change counter.

// Each test binary uses a different part of the helpers.
use crate::support::raw_bot;

use easel::sandbox::{Sandbox, SandboxOptions};
use raw_bot::{Api, RawBot, tiny_png};
use serde_json::{Value, json};

async fn control(
    http: &reqwest::Client,
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/control{path}", sandbox.api_base());
    let mut req = http.request(reqwest::Method::from_bytes(method.as_bytes()).expect("method"), url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("control answers");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_control_api_drives_and_reports() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.expect("start");
    let http = reqwest::Client::new();
    let (status, state) = control(&http, &sandbox, "GET", "/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(state["application_id"], sandbox.application_id().to_string(), "ids are strings");
    assert_eq!(state["bot_connected"], false);

    let mut bot = RawBot::identify(&sandbox).await.expect("identify");
    let api = Api::new(&sandbox);
    let app = sandbox.application_id();
    let cmds = json!([{"name": "imagine", "description": "d", "options": [
        {"type": 3, "name": "prompt", "description": "p", "required": true},
        {"type": 4, "name": "count", "description": "c"},
        {"type": 11, "name": "image", "description": "i"}]}]);
    api.call("PUT", &format!("/applications/{app}/commands"), Some(cmds)).await;

    let (_, user) = control(&http, &sandbox, "POST", "/users", Some(json!({"name": "alice"}))).await;
    let alice = user["id"].as_str().expect("id string").to_owned();
    let url = format!("{}/control/upload?filename=ref.png&content_type=image/png", sandbox.api_base());
    let upload: Value =
        http.post(url).body(tiny_png()).send().await.expect("upload").json().await.expect("json");
    assert_eq!(upload["filename"], "ref.png");

    let version =
        control(&http, &sandbox, "GET", "/state", None).await.1["version"].as_u64().expect("version");
    let options = json!([{"name": "prompt", "value": "a cat"}, {"name": "count", "value": 2}, {"name": "image", "value": upload["id"]}]);
    let (status, slash) = control(
        &http,
        &sandbox,
        "POST",
        "/slash",
        Some(json!({"user": alice, "command": "imagine", "options": options})),
    )
    .await;
    assert_eq!(status, 200, "{slash}");
    let (_, waited) =
        control(&http, &sandbox, "GET", &format!("/wait?after={version}&timeout_ms=5000"), None).await;
    assert!(waited["version"].as_u64() > Some(version));
    let d = bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
    assert_eq!(d["data"]["options"][1]["value"], 2);
    assert_eq!(
        d["data"]["resolved"]["attachments"][upload["id"].as_str().expect("id")]["filename"],
        "ref.png"
    );
    let (status, bad) =
        control(&http, &sandbox, "POST", "/slash", Some(json!({"user": alice, "command": "nope"}))).await;
    assert_eq!(status, 409, "{bad}");

    // Answer with a button, click it through the control API.
    let (id, token) = (slash["interaction_id"].as_str().expect("id"), d["token"].as_str().expect("token"));
    let body = json!({"type": 4, "data": {"content": "hi", "components": [{"type": 1, "components": [
        {"type": 2, "style": 1, "custom_id": "go", "label": "Go"}]}]}});
    assert_eq!(
        api.call("POST", &format!("/interactions/{id}/{token}/callback"), Some(body)).await.status,
        204
    );
    let (_, messages) = control(&http, &sandbox, "GET", "/messages", None).await;
    let mid = messages[0]["id"].as_str().expect("message id").to_owned();
    let (status, click) = control(
        &http,
        &sandbox,
        "POST",
        "/click",
        Some(json!({"user": alice, "message_id": mid, "custom_id": "go"})),
    )
    .await;
    assert_eq!(status, 200, "{click}");
    assert_eq!(bot.expect_dispatch("INTERACTION_CREATE").await.expect("click")["data"]["custom_id"], "go");
    let (status, _) = control(
        &http,
        &sandbox,
        "POST",
        "/click",
        Some(json!({"user": alice, "message_id": mid, "custom_id": "gone"})),
    )
    .await;
    assert_eq!(status, 409);
    let (_, record) = control(&http, &sandbox, "GET", &format!("/interactions/{id}"), None).await;
    assert_eq!(record["callback"]["kind"], 4);

    // The clock, rate limits and gateway faults.
    control(&http, &sandbox, "POST", "/clock", Some(json!({"advance_ms": 4000}))).await;
    let (_, violations) = control(&http, &sandbox, "GET", "/violations", None).await;
    assert_eq!(violations[0]["kind"], "late_callback", "the unanswered click: {violations}");
    let limit = json!({"route": "get_current_user", "count": 1, "retry_after_ms": 500});
    control(&http, &sandbox, "POST", "/rate_limit", Some(limit)).await;
    assert_eq!(api.call("GET", "/users/@me", None).await.status, 429);
    let (_, stats) = control(&http, &sandbox, "GET", "/stats", None).await;
    assert_eq!(stats["rate_limited"]["get_current_user"], 1);
    let (_, sent) = control(&http, &sandbox, "POST", "/gateway/reconnect", None).await;
    assert_eq!(sent["sent"], true);
    assert_eq!(bot.next_json().await.expect("op 7")["op"], 7);
}
