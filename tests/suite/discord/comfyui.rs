//! /imagine → U → V through the sandbox for the `comfyui` backend: the real bot, the real
//! engine, and a fake ComfyUI over HTTP and its WebSocket, with the built-in imagine and
//! variation workflows and the example upscale workflow from `deploy/comfyui/`.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use easel::config::BackendConfig;
use support::fake_comfyui::{self, FakeComfyUi};
use support::flows::imagine_upscale_vary;
use support::world::{Backend, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comfyui_serves_imagine_upscale_and_variations() {
    let fake = FakeComfyUi::start(fake_comfyui::Knobs::default()).await;
    let upscale = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/comfyui/upscale.json");
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("comfy", "comfyui");
        b.base_url = fake.base_url.clone();
        b.model = Some("sd_xl_base_1.0.safetensors".into());
        b.set("image_size", 512);
        b.set("poll_ms", 20);
        b.set("workflows", BTreeMap::from([("upscale", upscale.display().to_string())]));
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    imagine_upscale_vary(&w).await;
    let classes: Vec<Vec<String>> = fake
        .prompts()
        .iter()
        .map(|p| {
            let nodes = p["prompt"].as_object().expect("a workflow");
            nodes.values().filter_map(|n| n["class_type"].as_str().map(String::from)).collect()
        })
        .collect();
    assert_eq!(classes.len(), 3, "imagine, U2 and Vary each one prompt: {classes:?}");
    assert!(classes[0].contains(&"EmptyLatentImage".to_string()), "{classes:?}");
    assert!(
        classes[1].contains(&"ImageUpscaleWithModel".to_string()),
        "U uses the upscale workflow: {classes:?}"
    );
    assert!(classes[2].contains(&"VAEEncode".to_string()), "V is img2img of the upscaled image: {classes:?}");
    assert_eq!(fake.requests_to("/upload/image").len(), 2, "U and V upload their input");
    assert_eq!(fake.global_interrupts(), 0);
}
