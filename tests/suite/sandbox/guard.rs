//! The sandbox listens on 127.0.0.1, so the attacks on it come through the operator's browser:
//! a rebound DNS name (foreign `Host`) and cross-site requests to the control API. Both are
//! refused with 403 before anything changes; the sandbox's own clients still get through.

use std::time::Duration;

use easel::sandbox::{Sandbox, SandboxOptions};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::raw_bot::{RawBot, tiny_png};

async fn version(http: &reqwest::Client, sandbox: &Sandbox) -> u64 {
    let state: Value = http
        .get(format!("{}/control/state", sandbox.api_base()))
        .send()
        .await
        .expect("state answers")
        .json()
        .await
        .expect("json");
    state["version"].as_u64().expect("version")
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.expect("start");
    let http = reqwest::Client::new();
    let port = sandbox.addr().port();
    for path in ["/", "/control/state", "/api/v10/users/@me"] {
        let url = format!("{}{path}", sandbox.api_base());
        let r = http.get(&url).header("host", format!("evil.example:{port}")).send().await.expect("answers");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = r.json().await.expect("json error");
        let why = body["error"].as_str().unwrap_or_default();
        assert!(why.contains(&format!("Host 127.0.0.1:{port}")), "{path}: {why}");
    }
    let r = http
        .get(format!("{}/control/state", sandbox.api_base()))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::OK, "localhost is the same machine");
}

#[tokio::test]
async fn a_cross_site_post_to_the_control_api_is_refused() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.expect("start");
    let _bot = RawBot::identify(&sandbox).await.expect("identify");
    let http = reqwest::Client::new();
    let base = sandbox.api_base();
    let before = version(&http, &sandbox).await;

    let upload = format!("{base}/control/upload?filename=x.png&content_type=image/png");
    let drop = format!("{base}/control/gateway/drop");
    for url in [&upload, &drop] {
        // What a form on another site sends: a simple POST with the site's Origin.
        let r = http.post(url).header("origin", "http://evil.example").body(tiny_png()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{url}");
        let why =
            r.json::<Value>().await.expect("json error")["error"].as_str().unwrap_or_default().to_owned();
        assert!(why.contains("cross-site") && why.contains("evil.example"), "{why}");
        let r = http.post(url).header("sec-fetch-site", "cross-site").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{url} (fetch metadata only)");
    }
    assert_eq!(version(&http, &sandbox).await, before, "nothing changed");
    let connected = sandbox.wait_for(Duration::from_secs(5), |v| Some(v.bot_connected())).await.unwrap();
    assert!(connected, "the gateway was not dropped");

    // A WebSocket opened by another site's script is a change too.
    let r = http
        .get(format!("{base}/gateway"))
        .header("origin", "http://evil.example")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The sandbox's own page (same origin) and non-browser clients (no Origin) still work.
    let origin = format!("http://127.0.0.1:{}", sandbox.addr().port());
    let r = http
        .post(&upload)
        .header("origin", &origin)
        .header("sec-fetch-site", "same-origin")
        .body(tiny_png())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http.post(&drop).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["sent"], true);
}
