//! The operator endpoints: `/healthz` tells what is down, `/metrics` speaks Prometheus.

use crate::support;

use support::fake_openai::Fault;
use support::world::{Backend, World};

async fn get(w: &World, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", w.http.expect("http.listen is set"));
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_discord_the_database_and_each_backend() {
    let mut w = World::new(Backend::OpenAi, |c| c.http.listen = "127.0.0.1:0".into()).await;
    w.start_in_process().await;
    let (status, body) = get(&w, "/healthz").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json["gateway"], "connected");
    assert_eq!(json["database"], "writable");
    assert_eq!(json["backends"]["cloud"], "ok");

    // A wrong key shows up on the backend, without making the bot itself unhealthy.
    w.fake.set(|k| k.api_key = Some("sk-another".into()));
    let (status, body) = get(&w, "/healthz").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
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
