//! The hosted Midjourney-style APIs of the seed documents through the sandbox: the real bot,
//! the real engine, and a fake ImagineAPI and a fake Open Journey over HTTP. Neither offers
//! variations, so their grids carry U1–U4 and 🔄 only, and U serves the stored image.

use crate::support;

use easel::config::{BackendConfig, Secret};
use easel::sandbox::Message;
use support::fake_imagineapi::{self, FakeImagineApi};
use support::fake_openjourney::{self, FakeOpenJourney};
use support::flows::click_id;
use support::world::{Backend, World};

/// A world whose one backend is a hosted API of `kind` at `base_url`, polled every 10 ms.
async fn hosted(kind: &str, name: &str, base_url: &str, key: &str) -> World {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new(name, kind);
        b.base_url = base_url.to_string();
        b.api_key = Secret::new(key);
        b.set("poll_ms", 10);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    w
}

/// Imagine, then U3: a grid without V buttons (the service has no variations), then the
/// third image at full size.
async fn imagine_then_upscale(w: &World) -> (Message, Message) {
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a lantern on a pier --ar 16:9").await).await;
    assert_eq!(grid.content, format!("**a lantern on a pier --ar 16:9** - <@{alice}>"));
    assert_eq!(grid.labels(), ["U1", "U2", "U3", "U4"], "no V buttons without variations");
    assert_eq!(grid.buttons().count(), 6, "U1–U4, 🔄 and ℹ️");
    assert_eq!(grid.attachments.len(), 1);
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U3")).await.unwrap();
    let up = w.final_message_with("- Image #3").await;
    assert_eq!(up.attachments.len(), 1);
    w.assert_no_violations();
    (grid, up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagineapi_serves_imagine_and_its_upscaled_images() {
    let key = "u667iLDO2Xfu0-qpv_nu82EeeDtYGlsf";
    let fake =
        FakeImagineApi::start(fake_imagineapi::Knobs { token: key.into(), ..Default::default() }).await;
    let w = hosted("imagineapi", "mj", &fake.base_url, key).await;
    imagine_then_upscale(&w).await;
    let posts = fake.requests().iter().filter(|r| r.method == "POST" && r.path == "/items/images/").count();
    assert_eq!(posts, 1, "U serves one of the four upscaled images: no second job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openjourney_serves_imagine_as_a_batch_of_four() {
    let key = "oj_live_7Hq2kVn93LsPx0aZrT5m";
    let fake =
        FakeOpenJourney::start(fake_openjourney::Knobs { key: key.into(), ..Default::default() }).await;
    let w = hosted("openjourney", "oj", &fake.base_url, key).await;
    imagine_then_upscale(&w).await;
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.iter().filter(|p| p.ends_with("/generate/batch")).count(), 1, "{paths:?}");
}
