//! /imagine → U → V through the sandbox for the `comfyui` backend: the real bot, the real
//! engine, and a fake ComfyUI over HTTP and its WebSocket, with the built-in imagine and
//! variation workflows and the example upscale workflow from `deploy/comfyui/`; and the
//! buttons after U on the built-in edit and upscale_creative workflows; and a reference image
//! attached to /imagine reaching an `imagine_reference` workflow.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use easel::config::BackendConfig;
use easel::sandbox::CommandOption;
use support::fake_comfyui::{self, FakeComfyUi};
use support::flows::{face_id, imagine_upscale_vary, nth_final, png};
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

/// U → Zoom Out 2x → a grid whose U works, and U → Upscale (Creative), on the built-in edit
/// and upscale_creative workflows: the canvas the fake receives is twice the U image, the
/// image in its centre, transparent exactly over the new border.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comfyui_zooms_out_and_upscales_creatively_after_u() {
    let fake = FakeComfyUi::start(fake_comfyui::Knobs::default()).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("comfy", "comfyui");
        b.base_url = fake.base_url.clone();
        b.model = Some("sd_xl_base_1.0.safetensors".into());
        b.set("image_size", 256);
        b.set("poll_ms", 20);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a quiet harbour").await).await;
    w.sandbox.click(alice, grid.id, &face_id(&grid, "U1")).await.unwrap();
    let up = nth_final(&w, &format!("- Image #1 <@{alice}>"), 1).await;

    w.sandbox.click(alice, up.id, &face_id(&up, "Zoom Out 2x")).await.unwrap();
    let zoomed = nth_final(&w, "- Zoom Out by", 1).await;
    assert_eq!(
        zoomed.buttons().filter(|b| b.label.as_deref().is_some_and(|l| l.starts_with('U'))).count(),
        4
    );
    let edit = fake
        .prompts()
        .into_iter()
        .find(|p| p["prompt"].as_object().unwrap().values().any(|n| n["class_type"] == "SetLatentNoiseMask"))
        .expect("the zoom ran the edit workflow");
    let nodes = edit["prompt"].as_object().unwrap();
    let load = nodes.values().find(|n| n["class_type"] == "LoadImage").unwrap();
    let canvas = image::load_from_memory(&fake.input(load["inputs"]["image"].as_str().unwrap()).unwrap())
        .unwrap()
        .to_rgba8();
    // U serves the 256² image at full size (no upscale workflow); 2× is within 2 × image_size.
    assert_eq!(canvas.dimensions(), (512, 512), "twice the U image");
    assert_eq!(
        canvas.pixels().filter(|p| p[3] == 0).count(),
        512 * 512 - 256 * 256,
        "only the border repaints"
    );
    assert_eq!((canvas.get_pixel(127, 256)[3], canvas.get_pixel(128, 256)[3]), (0, 255), "centred");
    assert_eq!((canvas.get_pixel(383, 383)[3], canvas.get_pixel(384, 384)[3]), (255, 0));
    w.sandbox.click(alice, zoomed.id, &face_id(&zoomed, "U3")).await.unwrap();
    nth_final(&w, &format!("- Image #3 <@{alice}>"), 1).await;

    w.sandbox.click(alice, up.id, &face_id(&up, "Upscale (Creative)")).await.unwrap();
    nth_final(&w, &format!("- Image #1 <@{alice}>"), 2).await;
    let creative = fake.prompts().last().cloned().unwrap();
    let ksampler = creative["prompt"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["class_type"] == "KSampler")
        .cloned()
        .unwrap();
    assert_eq!(ksampler["inputs"]["denoise"], serde_json::json!(0.35), "Upscale (Creative) re-draws");
    assert_eq!(fake.global_interrupts(), 0);
    w.assert_no_violations();
}

/// /imagine with `image` and `style` attached, on a comfyui backend with an
/// `imagine_reference` workflow: the first reference (the image prompt) is uploaded into
/// `{{reference_image}}`, and the style reference it has no room for is named as ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comfyui_takes_the_first_reference_image_and_names_the_rest_ignored() {
    let fake = FakeComfyUi::start(fake_comfyui::Knobs::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut graph: serde_json::Value =
        serde_json::from_str(include_str!("../../../src/backends/comfyui/default_imagine.json")).unwrap();
    graph["20"] = serde_json::json!({"class_type": "LoadImage", "inputs": {"image": "{{reference_image}}"}});
    let workflow = dir.path().join("reference.json");
    std::fs::write(&workflow, graph.to_string()).unwrap();
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("comfy", "comfyui");
        b.base_url = fake.base_url.clone();
        b.model = Some("sd_xl_base_1.0.safetensors".into());
        b.set("image_size", 256);
        b.set("poll_ms", 20);
        b.set("workflows", BTreeMap::from([("imagine_reference", workflow.display().to_string())]));
        c.backends = vec![b];
    })
    .await;
    let alice = w.sandbox.add_user("alice");
    let start = w.sandbox.upload("start.png", "image/png", png(3));
    let look = w.sandbox.upload("look.png", "image/png", png(90));
    let host = start.url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    w.config.backends[0].image_hosts = vec![host];
    w.start_in_process().await;

    let slash = w
        .sandbox
        .slash(
            alice,
            "imagine",
            vec![
                CommandOption::string("prompt", "a lighthouse"),
                CommandOption::attachment("image", &start),
                CommandOption::attachment("style", &look),
            ],
        )
        .await
        .unwrap();
    let grid = w.final_original(slash).await;

    assert!(grid.content.contains("ignores --sref"), "one slot, the style is left: {}", grid.content);
    assert!(!grid.content.contains("image prompt"), "{}", grid.content);
    let posted = fake.prompts().remove(0);
    let name = posted["prompt"]["20"]["inputs"]["image"].as_str().unwrap().to_string();
    assert_eq!(fake.input(&name).unwrap(), png(3).to_vec(), "the image prompt, byte for byte");
    w.assert_no_violations();
}
