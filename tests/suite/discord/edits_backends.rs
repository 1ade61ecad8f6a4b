//! The buttons after U on AUTOMATIC1111 and an OpenAI-compatible service, through the sandbox
//! and their fakes: what each fake receives (the canvas twice the source with the source
//! centred, a mask the canvas's size covering exactly the new area) and a grid whose U works.

use crate::support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use easel::config::BackendConfig;
use easel::sandbox::Message;
use support::fake_a1111::{self, FakeA1111};
use support::flows::{face_id, nth_final};
use support::world::{Backend, World};

/// imagine → U1 → `face`: the edit's grid, and its U1 working.
async fn edit_then_u(w: &World, face: &str, title: &str) -> Message {
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a quiet harbour").await).await;
    w.sandbox.click(alice, grid.id, &face_id(&grid, "U1")).await.unwrap();
    let up = nth_final(w, &format!("- Image #1 <@{alice}>"), 1).await;
    w.sandbox.click(alice, up.id, &face_id(&up, face)).await.unwrap();
    let edit = nth_final(w, title, 1).await;
    assert_eq!(edit.buttons().filter(|b| b.label.as_deref().is_some_and(|l| l.starts_with('U'))).count(), 4);
    w.sandbox.click(alice, edit.id, &face_id(&edit, "U3")).await.unwrap();
    nth_final(w, &format!("- Image #3 <@{alice}>"), 1).await;
    w.assert_no_violations();
    up
}

fn decode(b64: &str) -> image::DynamicImage {
    image::load_from_memory(&STANDARD.decode(b64).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic1111_zooms_out_by_inpainting_the_padded_canvas() {
    let fake = FakeA1111::start(fake_a1111::Knobs::default()).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("gpu", "a1111");
        b.base_url = fake.base_url.clone();
        b.set("image_size", 256);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    let up = edit_then_u(&w, "Zoom Out 2x", "- Zoom Out by").await;
    assert_eq!(up.components.len(), 4, "the three rows after U and ❤️ ℹ️: {:?}", up.labels());

    let calls = fake.requests_to("/sdapi/v1/img2img");
    let body = calls
        .iter()
        .filter_map(|r| r.json.clone())
        .find(|j| j.get("mask").is_some())
        .expect("an inpaint call");
    let (w2, h2) = (body["width"].as_u64().unwrap() as u32, body["height"].as_u64().unwrap() as u32);
    let init = decode(body["init_images"][0].as_str().unwrap()).to_rgb8();
    let mask = decode(body["mask"].as_str().unwrap()).to_luma8();
    assert_eq!(init.dimensions(), (w2, h2), "the padded canvas is width × height");
    assert_eq!(mask.dimensions(), (w2, h2), "the mask is the image's size");
    assert_eq!(body["batch_size"], 4);
    assert_eq!(body["inpainting_fill"], 1);
    assert!(body["mask_blur"].as_u64().is_some() && body["denoising_strength"].as_f64().is_some());
    // The upscaled source is 2 × 256 on its long side; zooming it out 2x asks for a canvas
    // twice that, capped at the backend's largest side (512), so the source is a centred half.
    let white: u64 = mask.pixels().filter(|p| p[0] > 127).count() as u64;
    let total = u64::from(w2) * u64::from(h2);
    assert_eq!(white, total - total / 4, "the mask covers exactly the new border");
    assert_eq!(mask.get_pixel(w2 / 2, h2 / 2)[0], 0, "the centre is kept");
    assert_eq!(mask.get_pixel(0, 0)[0], 255);
    assert_eq!(mask.get_pixel(w2 / 4 - 1, h2 / 2)[0], 255);
    assert_eq!(mask.get_pixel(w2 / 4, h2 / 2)[0], 0, "the source starts a quarter in: centred");

    // Upscale (Subtle) is the extras upscaler at 2×; (Creative) img2img at twice the size.
    let alice_up = up;
    let owner: u64 = alice_up.content.rsplit("<@").next().unwrap().trim_end_matches('>').parse().unwrap();
    w.sandbox.click(owner, alice_up.id, &face_id(&alice_up, "Upscale (Subtle)")).await.unwrap();
    nth_final(&w, "- Image #1", 2).await;
    let extras = fake.requests_to("/sdapi/v1/extra-single-image");
    assert!(
        extras.iter().any(|r| r.json.as_ref().is_some_and(|j| j["upscaling_resize"] == 2.0)),
        "{extras:?}"
    );
    w.sandbox.click(owner, alice_up.id, &face_id(&alice_up, "Upscale (Creative)")).await.unwrap();
    nth_final(&w, "- Image #1", 3).await;
    let creative = fake.requests_to("/sdapi/v1/img2img");
    let body = creative.last().and_then(|r| r.json.clone()).unwrap();
    let init = decode(body["init_images"][0].as_str().unwrap());
    assert_eq!(body["width"].as_u64().unwrap() as u32, init.width() * 2);
    assert!((body["denoising_strength"].as_f64().unwrap() - 0.35).abs() < 0.01);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_zooms_out_through_images_edits_with_a_transparent_mask() {
    let mut w = World::new(Backend::OpenAi, |_| {}).await;
    w.start_in_process().await;
    edit_then_u(&w, "Zoom Out 2x", "- Zoom Out by").await;
    let edits: Vec<_> = w
        .fake
        .api_requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/images/edits") && r.files.iter().any(|f| f.field == "mask"))
        .collect();
    assert!(!edits.is_empty(), "the zoom went to /images/edits with a mask");
    for call in edits {
        let image = call.files.iter().find(|f| f.field == "image").unwrap();
        let mask = call.files.iter().find(|f| f.field == "mask").unwrap();
        let (image, mask) = (
            image::load_from_memory(&image.bytes).unwrap(),
            image::load_from_memory(&mask.bytes).unwrap().to_rgba8(),
        );
        assert_eq!((image.width(), image.height()), mask.dimensions(), "same size");
        assert_eq!(call.field("size"), Some(format!("{}x{}", image.width(), image.height()).as_str()));
        let clear =
            mask.pixels().filter(|p| p[3] == 0).count() as f64 / (mask.width() * mask.height()) as f64;
        assert!((clear - 0.75).abs() < 0.02, "alpha 0 over the new border only: {clear}");
        let (cx, cy) = (mask.width() / 2, mask.height() / 2);
        assert_eq!(mask.get_pixel(cx, cy)[3], 255, "the centred source is kept");
        assert_eq!(mask.get_pixel(0, 0)[3], 0);
        assert!(call.field("prompt").is_some_and(|p| p.contains("harbour")));
    }
}
