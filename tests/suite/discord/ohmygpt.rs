//! The `ohmygpt` backend through the sandbox: the real bot, the real engine and a fake of
//! ohmygpt's Midjourney Open API over HTTP. /imagine → U2 → Vary (Subtle) press the actions
//! ohmygpt listed; /blend and /describe are its own; and the real `easel` binary killed with
//! SIGKILL mid-task re-attaches to the same ohmygpt task instead of paying for a second.

use crate::support;

use easel::config::{BackendConfig, Secret};
use easel::sandbox::CommandOption;
use support::fake_ohmygpt::{FakeOhMyGpt, Knobs};
use support::flows::{describe_upload, imagine_upscale_vary, png};
use support::world::{Backend, World, is_final};

const KEY: &str = "sk-omg-e2e-5c0ffee9a1b2";

async fn fake(tweak: impl FnOnce(&mut Knobs)) -> FakeOhMyGpt {
    let mut knobs = Knobs { api_key: Some(KEY.into()), ..Knobs::default() };
    tweak(&mut knobs);
    FakeOhMyGpt::start(knobs).await
}

/// A world whose one backend is the fake, polled every 20 ms.
async fn world(fake: &FakeOhMyGpt) -> World {
    World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("omg", "ohmygpt");
        b.image_hosts = vec![fake.cdn_host()];
        b.base_url = fake.base_url.clone();
        b.api_key = Secret::new(KEY);
        b.set("poll_ms", 20);
        c.backends = vec![b];
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ohmygpt_serves_imagine_upscale_and_variations_through_its_actions() {
    let fake = fake(|_| {}).await;
    let mut w = world(&fake).await;
    w.start_in_process().await;
    imagine_upscale_vary(&w).await;
    let imagine = fake.requests_to("imagine");
    assert_eq!(imagine.len(), 1);
    assert_eq!(imagine[0].body["prompt"], "a red fox in the snow --ar 3:2", "the member's prompt verbatim");
    let pressed: Vec<String> = fake
        .requests_to("action")
        .iter()
        .filter_map(|r| {
            r.body["customId"].as_str().map(|c| c.split("::").take(4).collect::<Vec<_>>().join("::"))
        })
        .collect();
    assert_eq!(pressed, ["MJ::JOB::upsample::2", "MJ::JOB::low_variation::1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ohmygpt_blends_and_describes_natively() {
    let fake = fake(|_| {}).await;
    let mut w = world(&fake).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let (a, b) =
        (w.sandbox.upload("a.png", "image/png", png(1)), w.sandbox.upload("b.png", "image/png", png(200)));
    let options = vec![
        CommandOption::attachment("image1", &a),
        CommandOption::attachment("image2", &b),
        CommandOption::integer("dimensions", 0),
    ];
    let grid = w.final_original(w.sandbox.slash(alice, "blend", options).await.unwrap()).await;
    assert!(grid.content.starts_with("**/blend"), "{}", grid.content);
    assert_eq!((grid.attachments.len(), grid.buttons().count()), (1, 10));
    let (gw, gh) = (grid.attachments[0].width.unwrap(), grid.attachments[0].height.unwrap());
    assert!(gh > gw, "a portrait grid, cropped from ohmygpt's: {gw}x{gh}");
    assert_eq!(fake.requests_to("blend")[0].body["dimensions"], "PORTRAIT");

    let described = describe_upload(&w, alice).await;
    assert!(described.content.contains("a red fox in fresh snow"), "{}", described.content);
    assert_eq!(fake.requests_to("describe").len(), 1);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_task_re_attaches_to_the_same_ohmygpt_task() {
    // Tasks stand still until the test moves them.
    let fake = fake(|k| k.advance_on_query = false).await;
    let mut w = world(&fake).await;
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");
    let id = w.imagine(alice, "a castle in fog").await;
    // A query comes only after the task id was stored.
    fake.wait_for(|r| r.iter().any(|r| r.path.ends_with("/query"))).await;
    w.kill();
    let message = w.sandbox.interaction(id).unwrap().original_message_id.unwrap();
    assert!(!is_final(&w.sandbox.message(message).unwrap()));

    for _ in 0..5 {
        fake.tick().await;
    }
    w.start_process(2).await;
    let done = w.final_original(id).await;
    assert_eq!(done.content, format!("**a castle in fog** - <@{alice}>"));
    assert_eq!(done.attachments.len(), 1, "the grid arrived on the same message");
    assert_eq!(fake.requests_to("imagine").len(), 1, "never submitted twice");
    let queried: Vec<String> = fake
        .requests_to("query")
        .iter()
        .filter_map(|r| r.body["taskId"].as_str().map(String::from))
        .collect();
    assert!(queried.len() >= 2 && queried.iter().all(|t| t == "3432"), "{queried:?}");
    w.assert_no_violations();
}
