//! Secrets never reach the log: the real `easel` binary, every crate logging at debug, runs
//! /imagine → U → V, then meets a service error that echoes its API key (whole, and cut the
//! way relays cut it) and a 401 that repeats the key it was sent. Afterwards the log file must
//! hold neither the Discord token nor the API key, nor any long piece of either.

use crate::support;

use easel::sandbox::SandboxOptions;
use support::fake_openai::Fault;
use support::flows::click_id;
use support::world::{Backend, World};

/// Shaped like real ones, and long enough that a piece of them is recognisable.
const TOKEN: &str = "MTE5ODc2NTQzMjEwOTg3NjU0.GhIjKl.q7Rw9TzXb2Lm5Np8Vc3Kd6Hf1Gs4Jy0Ua";
const KEY: &str = "sk-proj-7c2e9a41b8d35f60e1a7c94b2d8f03e6";

/// Every run of `len` characters of `secret` that occurs in `text`.
fn pieces_in(text: &str, secret: &str, len: usize) -> Vec<String> {
    (0..=secret.len() - len)
        .map(|i| &secret[i..i + len])
        .filter(|p| text.contains(p))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_the_token_nor_the_key_reaches_the_log() {
    let options = SandboxOptions { bot_token: TOKEN.into(), ..SandboxOptions::default() };
    let mut w = World::with_sandbox(options, Backend::OpenAi, |c| {
        c.backends[0].api_key = easel::config::Secret::new(KEY);
        c.limits.max_attempts = 2;
    })
    .await;
    w.fake.set(|k| k.api_key = Some(KEY.into()));
    w.log_filter = "debug".into();
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");

    // The whole happy path: a grid, an upscale, a variation.
    let grid = w.final_original(w.imagine(alice, "a red fox in the snow").await).await;
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U1")).await.unwrap();
    w.final_message_with("- Image #1").await;
    w.sandbox.click(alice, grid.id, &click_id(&grid, "V2")).await.unwrap();
    w.final_message_with("- Variations (Strong) by").await;

    // A 500 that echoes the key, whole and in pieces; the retry then works.
    let echoed = format!(
        r#"{{"error": {{"message": "upstream refused key {KEY} (…{}) for {}…", "type": "server_error"}}}}"#,
        &KEY[10..],
        &KEY[..20]
    );
    w.fake.set(|k| {
        k.fault = Some(Fault::raw(500, &echoed));
        k.fault_calls = Some(1);
    });
    let retried = w.final_original(w.imagine(alice, "a lighthouse").await).await;
    assert_eq!(retried.attachments.len(), 1, "{}", retried.content);

    // A 401 that repeats the key Easel presented.
    w.fake.set(|k| {
        k.api_key = Some("sk-proj-the-one-the-service-wants".into());
        k.echo_key_in_errors = true;
    });
    let refused = w.final_original(w.imagine(alice, "a castle").await).await;
    assert!(refused.content.contains("credentials-rejected"), "{}", refused.content);
    assert!(!refused.content.contains(&KEY[8..20]), "the member's message is clean too: {}", refused.content);
    w.assert_no_violations();
    w.kill();

    let log = std::fs::read_to_string(w.log_path(1)).expect("the bot's log");
    assert!(log.contains("DEBUG"), "debug logging was on");
    assert!(log.contains("[redacted]"), "the echoed key reached the logging path, scrubbed");
    assert!(
        log.contains("credentials rejected") || log.contains("credentials-rejected"),
        "the 401 was logged"
    );
    for (name, secret) in [("Discord token", TOKEN), ("API key", KEY)] {
        assert!(!log.contains(secret), "the {name} is in the log");
        let pieces = pieces_in(&log, secret, easel::backends::http_util::FRAGMENT);
        assert!(pieces.is_empty(), "pieces of the {name} are in the log: {pieces:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_inside_a_base_url_never_reach_the_log() {
    // Nothing listens on port 1: the start-up health probe and the task both fail to connect,
    // and reqwest's errors name the URL they were fetching.
    let mut w = World::new(Backend::OpenAi, |c| {
        c.backends[0].base_url = "http://admin:hunter2-pass@127.0.0.1:1/v1?api_key=abc123-query".into();
        c.limits.max_attempts = 1;
    })
    .await;
    w.log_filter = "debug".into();
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");
    let failed = w.final_original(w.imagine(alice, "a red fox").await).await;
    assert!(failed.content.contains("(Failed)"), "{}", failed.content);
    w.kill();

    let log = std::fs::read_to_string(w.log_path(1)).expect("the bot's log");
    assert!(log.contains("127.0.0.1:1"), "the failing address was logged");
    assert!(log.contains("***@127.0.0.1:1"), "with its user-info masked");
    for secret in ["hunter2-pass", "abc123-query"] {
        assert!(!log.contains(secret), "{secret} is in the log");
        assert!(!failed.content.contains(secret), "{secret} is in the message");
    }
}
