//! /imagine → U and /describe through the sandbox for the `opj` backend: the real bot, the
//! real engine, and a fake Openjourney REST API over HTTP. The API has no image-to-image
//! endpoint, so the grid offers U1–U4 and 🔄 but no V row, and the upscale no Vary buttons.

use crate::support;

use easel::config::{BackendConfig, Secret};
use support::fake_opj::{FakeOpj, Knobs};
use support::flows::{click_id, describe_upload};
use support::world::{Backend, World};

const KEY: &str = "opj-e2e-2f9c41";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opj_serves_imagine_upscale_and_describe_without_variations() {
    let fake = FakeOpj::start(Knobs { key: KEY.into(), ..Knobs::default() }).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("opj", "opj");
        b.base_url = fake.base_url.clone();
        b.api_key = Secret::new(KEY);
        b.model = Some("flux/1.1/pro".into());
        b.set("poll_ms", 20);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    let grid = w.final_original(w.imagine(alice, "a red fox in the snow --ar 3:2").await).await;
    assert_eq!(grid.content, format!("**a red fox in the snow --ar 3:2** - <@{alice}>"));
    assert_eq!(grid.labels(), ["U1", "U2", "U3", "U4"], "no V1–V4");
    assert_eq!(grid.buttons().count(), 6, "U1–U4, 🔄 and ℹ️");
    assert_eq!(grid.attachments.len(), 1);

    w.sandbox.click(alice, grid.id, &click_id(&grid, "U2")).await.unwrap();
    let up = w.final_message_with("- Image #2").await;
    assert_eq!(up.attachments.len(), 1);
    assert_eq!(up.buttons().count(), 2, "no Vary buttons without variations, only ❤️ and ℹ️");

    let described = describe_upload(&w, alice).await;
    assert!(described.content.contains("a red fox sitting in the snow"), "{}", described.content);

    let posts = fake.posts();
    let paths: Vec<&str> = posts.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/flux/1.1/pro",
            "/v1/flux/1.1/pro",
            "/v1/flux/1.1/pro",
            "/v1/flux/1.1/pro",
            "/v1/utils/upscale",
            "/v1/utils/prompt-extract"
        ]
    );
    assert!(posts[..4].iter().all(|p| p.body["canvas"] == "Landscape"), "--ar 3:2 is Landscape");
    let upscaled = posts[4].body["image"].as_str().unwrap();
    assert!(upscaled.ends_with("/cdn/job_0002.png"), "U2 upscales the second job's own image: {upscaled}");
    w.assert_no_violations();
}
