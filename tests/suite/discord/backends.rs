//! /imagine → U → V through the sandbox for the self-hosted and proxy backends: the real bot,
//! the real engine, and a fake AUTOMATIC1111 and a fake midjourney-proxy over HTTP.

use crate::support;

use easel::config::{BackendConfig, Secret};
use easel::sandbox::CommandOption;
use support::fake_a1111::{self, FakeA1111};
use support::fake_mj_proxy::{self, FakeMjProxy};
use support::flows::{describe_upload, imagine_upscale_vary, png};
use support::world::{Backend, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic1111_serves_imagine_upscale_and_variations() {
    let fake = FakeA1111::start(fake_a1111::Knobs::default()).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("gpu", "a1111");
        b.base_url = fake.base_url.clone();
        b.set("image_size", 512);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    imagine_upscale_vary(&w).await;
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().any(|p| p == "/sdapi/v1/txt2img"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p == "/sdapi/v1/extra-single-image"),
        "U uses the server's upscaler: {paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn midjourney_proxy_serves_imagine_upscale_and_variations_through_its_buttons() {
    let fake = FakeMjProxy::start(fake_mj_proxy::Knobs {
        api_secret: Some("mj-secret".into()),
        ..fake_mj_proxy::Knobs::default()
    })
    .await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("mj", "mj-proxy");
        b.image_hosts = vec![fake.cdn_host()];
        b.base_url = fake.base_url.clone();
        b.api_key = Secret::new("mj-secret");
        b.set("poll_ms", 20);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    imagine_upscale_vary(&w).await;
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().any(|p| p.ends_with("/submit/imagine")), "{paths:?}");
    assert!(
        paths.iter().filter(|p| p.ends_with("/submit/action")).count() >= 2,
        "U and V by button: {paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic1111_describes_an_upload_through_interrogate() {
    let fake = FakeA1111::start(fake_a1111::Knobs::default()).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("gpu", "a1111");
        b.base_url = fake.base_url.clone();
        b.set("image_size", 512);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let described = describe_upload(&w, alice).await;
    assert!(described.content.contains("a red fox sitting in the snow"), "{}", described.content);
    assert!(fake.requests().iter().any(|r| r.path == "/sdapi/v1/interrogate"));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn midjourney_proxy_blends_and_describes_natively() {
    let fake = FakeMjProxy::start(fake_mj_proxy::Knobs::default()).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("mj", "mj-proxy");
        b.image_hosts = vec![fake.cdn_host()];
        b.base_url = fake.base_url.clone();
        b.set("poll_ms", 20);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let (a, b) =
        (w.sandbox.upload("a.png", "image/png", png(1)), w.sandbox.upload("b.png", "image/png", png(200)));
    let slash = w
        .sandbox
        .slash(
            alice,
            "blend",
            vec![CommandOption::attachment("image1", &a), CommandOption::attachment("image2", &b)],
        )
        .await
        .unwrap();
    let grid = w.final_original(slash).await;
    assert!(grid.content.starts_with("**/blend"), "{}", grid.content);
    assert_eq!(grid.attachments.len(), 1);
    describe_upload(&w, alice).await;
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().any(|p| p.ends_with("/submit/blend")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/submit/describe")), "{paths:?}");
    w.assert_no_violations();
}
