//! The operator endpoints: `/healthz` tells what is down, `/metrics` speaks Prometheus.

use std::time::Duration;

use crate::support;

use support::fake_openai::Fault;
use support::world::{Backend, World};

const WAIT: Duration = Duration::from_secs(10);

async fn get(w: &World, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", w.http.expect("http.listen is set"));
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// `/healthz` once the background probe has said what `cloud` is (`done` accepts it).
async fn healthz_once(w: &World, done: impl Fn(&str) -> bool) -> (u16, serde_json::Value) {
    let polled = tokio::time::timeout(WAIT, async {
        loop {
            let (status, body) = get(w, "/healthz").await;
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            if json["backends"]["cloud"].as_str().is_some_and(&done) {
                return (status, json);
            }
            // Nothing announces a probe to an outside caller: ask again shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    polled.await.expect("the background probe never reported")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_discord_the_database_and_each_backend() {
    let mut w = World::new(Backend::OpenAi, |c| {
        c.http.listen = "127.0.0.1:0".into();
        c.health.check_interval_secs = 1;
    })
    .await;
    w.start_in_process().await;
    let (status, json) = healthz_once(&w, |v| v == "ok").await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["gateway"], "connected");
    assert_eq!(json["database"], "writable");

    // A wrong key shows up on the backend at the next probe, without making the bot itself
    // unhealthy.
    w.fake.set(|k| k.api_key = Some("sk-another".into()));
    let (status, json) = healthz_once(&w, |v| v != "ok").await;
    let body = json.to_string();
    assert_eq!(status, 200);
    assert!(json["backends"]["cloud"].as_str().unwrap().contains("credentials rejected"), "{body}");
    assert!(!body.contains(support::world::API_KEY));

    // Discord gone (what the shard-stage event handler records): unhealthy.
    w.fake.set(|k| k.api_key = Some(support::world::API_KEY.into()));
    w.health().unwrap().set_gateway(false);
    let (status, body) = get(&w, "/healthz").await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_healthz_requests_makes_no_backend_calls() {
    let mut w = World::new(Backend::OpenAi, |c| {
        c.http.listen = "127.0.0.1:0".into();
        c.health.check_interval_secs = 3600;
    })
    .await;
    w.start_in_process().await;
    healthz_once(&w, |v| v == "ok").await;
    let probes = || w.fake.requests().iter().filter(|r| r.path == "/v1/models").count();
    let before = probes();
    let burst = (0..200).map(|_| get(&w, "/healthz"));
    for (status, body) in futures::future::join_all(burst).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(probes(), before, "200 unauthenticated requests must not reach the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_tasks_errors_and_latencies() {
    let mut w = World::new(Backend::OpenAi, |c| c.http.listen = "127.0.0.1:0".into()).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    w.final_original(w.imagine(alice, "a lighthouse").await).await;
    w.fake.set(|k| {
        k.fault = Some(Fault::openai(
            400,
            "rejected by the safety system",
            "invalid_request_error",
            Some("moderation_blocked"),
        ))
    });
    w.final_original(w.imagine(alice, "something else").await).await;

    let (status, text) = get(&w, "/metrics").await;
    assert_eq!(status, 200);
    for needle in [
        "easel_tasks{state=\"succeeded\"} 1",
        "easel_tasks{state=\"failed\"} 1",
        "easel_queue_depth 0",
        "easel_backend_errors_total{backend=\"cloud\",code=\"content-blocked\"}",
        "easel_tasks_finished_total{backend=\"cloud\",state=\"succeeded\"}",
        "easel_task_seconds_bucket{backend=\"cloud\"",
        "easel_initial_response_seconds_count",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}
