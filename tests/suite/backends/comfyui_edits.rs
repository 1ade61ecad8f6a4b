//! The edits after U and Upscale (Subtle / Creative) on the `comfyui` backend, against the fake
//! ComfyUI: what is uploaded (the source on a canvas of the plan's size, transparent exactly
//! where the workflow repaints, or a separate mask the image's size), what the workflow is
//! filled with, what comes back, and what is offered when a workflow is off.

use super::*;

use easel::base::{EditAction, UpscaleMode};
use easel::imaging::EditPlan;
use easel::imaging::region::Region;
use image::{Rgb, RgbImage, RgbaImage};

/// A source whose every pixel differs from its neighbours, so its place on a canvas shows.
fn pattern(w: u32, h: u32) -> SourceImage {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 2) as u8, (y * 2) as u8, 77]));
    source(&easel::imaging::encode_png(&img).unwrap())
}

fn rgb(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().to_rgb8()
}

/// The colour the fake paints image `index` of a batch from `seed` with.
fn paint(seed: u32, index: usize) -> Rgb<u8> {
    *rgb(&batch_png(1, 1, u64::from(seed), index)).get_pixel(0, 0)
}

/// The uploaded file a node of `class` loads, decoded with its alpha.
fn loaded(fake: &FakeComfyUi, posted: &Value, class: &str) -> RgbaImage {
    let name = node(posted, class)["inputs"]["image"].as_str().unwrap().to_string();
    let bytes = fake.input(&name).unwrap_or_else(|| panic!("{name} was not uploaded"));
    image::load_from_memory(&bytes).unwrap().to_rgba8()
}

fn edit(plan: EditPlan, action: EditAction, src: &SourceImage) -> Operation {
    Operation::Edit { index: 0, action, plan, source: src.clone(), parent: ParentRef::default() }
}

fn upscale_2x(mode: UpscaleMode, src: &SourceImage) -> Operation {
    Operation::Upscale2x { index: 1, mode, source: src.clone(), parent: ParentRef::default() }
}

#[tokio::test]
async fn zoom_out_uploads_the_canvas_twice_the_size_with_the_source_centred_and_transparent_around() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let caps = b.capabilities();
    assert!(caps.outpaint && caps.inpaint && caps.upscale_subtle && caps.upscale_creative);
    assert_eq!(caps.max_side, 1024, "twice image_size, as a1111");
    let src = pattern(128, 96);
    let plan = EditPlan::zoom(128, 96, 2.0, None, caps.max_side);

    let (out, _) = output(&b, job(edit(plan, EditAction::ZoomOut2x, &src), spec("a harbour"), 31)).await;

    assert_eq!(fake.requests_to("/upload/image").len(), 1, "the built-in workflow reads the mask from alpha");
    let posted = &fake.prompts()[0];
    let canvas = loaded(&fake, posted, "LoadImage");
    assert_eq!(canvas.dimensions(), (256, 192), "2× the source");
    let clear = canvas.pixels().filter(|p| p[3] == 0).count();
    assert_eq!(clear, 256 * 192 - 128 * 96, "transparent exactly over the new area");
    let original = rgb(&src.bytes);
    for (x, y) in [(0, 0), (127, 95), (64, 48), (5, 90)] {
        let p = canvas.get_pixel(64 + x, 48 + y);
        assert_eq!(
            (p[0], p[1], p[2], p[3]),
            (original.get_pixel(x, y)[0], original.get_pixel(x, y)[1], 77, 255)
        );
    }
    assert_eq!(canvas.get_pixel(63, 100)[3], 0, "the source starts a quarter in: centred");
    assert_eq!(canvas.get_pixel(192, 100)[3], 0);
    assert_eq!(node(posted, "SetLatentNoiseMask")["inputs"]["mask"], json!(["4", 1]), "LoadImage's MASK");
    assert_eq!(node(posted, "KSampler")["inputs"]["denoise"], json!(1.0));
    assert_eq!(node(posted, "KSampler")["inputs"]["seed"], json!(31));
    assert_eq!(node(posted, "RepeatLatentBatch")["inputs"]["amount"], json!(4));

    assert_eq!(out.images.len(), 4);
    for (i, image) in out.images.iter().enumerate() {
        let img = rgb(&image.bytes);
        assert_eq!(img.dimensions(), (256, 192));
        assert_eq!(img.get_pixel(0, 0), &paint(31, i), "image {i}: the border is painted");
        assert_eq!(img.get_pixel(64 + 10, 48 + 20), original.get_pixel(10, 20), "image {i}: the source kept");
    }
}

#[tokio::test]
async fn vary_region_with_a_mask_workflow_uploads_a_mask_the_image_s_size() {
    let fake = fake(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inpaint.json");
    let mut graph: Value =
        serde_json::from_str(include_str!("../../../src/backends/comfyui/default_edit.json")).unwrap();
    graph["11"] = json!({"class_type": "LoadImageMask", "inputs": {"image": "{{mask}}", "channel": "red"}});
    graph["6"]["inputs"]["mask"] = json!(["11", 0]);
    std::fs::write(&path, graph.to_string()).unwrap();
    let b = backend(&config(&fake, |c| {
        c.set("workflows", Workflows::from([("edit", path.display().to_string())]))
    }));
    let src = pattern(128, 96);
    let plan = EditPlan::region(128, 96, Region::LeftHalf);

    let (out, _) = output(&b, job(edit(plan, EditAction::Region, &src), spec("a red boat"), 5)).await;

    assert_eq!(fake.requests_to("/upload/image").len(), 2, "the canvas and its mask");
    let posted = &fake.prompts()[0];
    let image = loaded(&fake, posted, "LoadImage");
    let mask = loaded(&fake, posted, "LoadImageMask");
    assert_eq!(image.dimensions(), (128, 96));
    assert_eq!(mask.dimensions(), image.dimensions(), "the mask is the image's size");
    let white = mask.pixels().filter(|p| p[0] == 255).count();
    assert_eq!(white, 64 * 96, "white over the left half only");
    assert!(
        mask.pixels().all(|p| (p[0] == 255) == (p[3] == 0)),
        "transparent where white: any channel reads it"
    );
    assert_eq!(mask.get_pixel(63, 50)[0], 255);
    assert_eq!(mask.get_pixel(64, 50)[0], 0);
    assert_eq!(node(posted, "KSampler")["inputs"]["denoise"], json!(0.85));
    let original = rgb(&src.bytes);
    for (i, image) in out.images.iter().enumerate() {
        let img = rgb(&image.bytes);
        assert_eq!(img.get_pixel(100, 50), original.get_pixel(100, 50), "image {i}: outside the region kept");
        assert_ne!(img.get_pixel(10, 50), original.get_pixel(10, 50), "image {i}: the region repainted");
    }
}

#[tokio::test]
async fn upscale_creative_redraws_the_image_at_twice_its_size() {
    let fake = fake(|_| {}).await;
    let b = backend(&config(&fake, |_| {}));
    let src = pattern(96, 64);

    let (out, _) = output(&b, job(upscale_2x(UpscaleMode::Creative, &src), spec("a harbour"), 77)).await;

    assert_eq!(out.images.len(), 1);
    assert_eq!(dims(&out.images[0].bytes), (192, 128));
    assert_ne!(rgb(&out.images[0].bytes).get_pixel(10, 10), rgb(&src.bytes).get_pixel(5, 5), "re-drawn");
    let posted = &fake.prompts()[0];
    assert_eq!(node(posted, "ImageScaleBy")["inputs"]["scale_by"], json!(2.0));
    assert_eq!(node(posted, "KSampler")["inputs"]["denoise"], json!(0.35));
    assert_eq!(node(posted, "KSampler")["inputs"]["seed"], json!(77));
    assert_eq!(loaded(&fake, posted, "LoadImage").dimensions(), (96, 64), "the image as it is");
}

#[tokio::test]
async fn upscale_subtle_is_the_upscale_workflow_brought_to_exactly_2x() {
    let fake = fake(|_| {}).await;
    let src = pattern(96, 64);
    // Without an upscale workflow: a Lanczos 2× on the server, no checkpoint involved.
    let plain = backend(&config(&fake, |_| {}));
    let (out, _) = output(&plain, job(upscale_2x(UpscaleMode::Subtle, &src), spec("x"), 1)).await;
    assert_eq!(dims(&out.images[0].bytes), (192, 128));
    let posted = &fake.prompts()[0];
    assert_eq!(node(posted, "ImageScaleBy")["inputs"]["upscale_method"], "lanczos");
    assert!(posted["prompt"].as_object().unwrap().values().all(|n| n["class_type"] != "KSampler"));

    // An upscale model alone makes 4×; Subtle still answers with 2×.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x4.json");
    std::fs::write(
        &path,
        json!({
            "1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
            "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "RealESRGAN_x4plus.pth"}},
            "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
            "4": {"class_type": "SaveImage", "inputs": {"filename_prefix": "easel/up", "images": ["3", 0]}}
        })
        .to_string(),
    )
    .unwrap();
    let x4 = backend(&config(&fake, |c| {
        c.set("workflows", Workflows::from([("upscale", path.display().to_string())]))
    }));
    let (out, _) = output(&x4, job(upscale_2x(UpscaleMode::Subtle, &src), spec("x"), 1)).await;
    assert!(
        fake.prompts()[1]["prompt"]
            .as_object()
            .unwrap()
            .values()
            .any(|n| n["class_type"] == "ImageUpscaleWithModel")
    );
    assert_eq!(dims(&out.images[0].bytes), (192, 128), "the model's 4× brought to 2×");
    let (out, _) = output(
        &x4,
        job(Operation::Upscale { index: 0, source: src.clone(), parent: ParentRef::default() }, spec("x"), 1),
    )
    .await;
    assert_eq!(dims(&out.images[0].bytes), (384, 256), "U keeps the workflow's own size");
}

#[tokio::test]
async fn edits_and_upscales_whose_workflow_is_off_are_not_offered() {
    let fake = fake(|_| {}).await;
    let off = Workflows::from([
        ("edit", String::new()),
        ("upscale_creative", String::new()),
        ("upscale", String::new()),
    ]);
    let b = backend(&config(&fake, |c| c.set("workflows", off)));
    let caps = b.capabilities();
    assert!(
        !caps.outpaint && !caps.inpaint && !caps.upscale_subtle && !caps.upscale_creative && !caps.upscale
    );
    assert!(caps.imagine && caps.variation);
    let src = pattern(64, 64);
    let plan = EditPlan::square(64, 64, 1024);
    assert_eq!(
        failure(&b, job(edit(plan, EditAction::MakeSquare, &src), spec("x"), 1)).await.code,
        FailureCode::Unsupported
    );
    for mode in [UpscaleMode::Subtle, UpscaleMode::Creative] {
        assert_eq!(
            failure(&b, job(upscale_2x(mode, &src), spec("x"), 1)).await.code,
            FailureCode::Unsupported
        );
    }
    assert!(fake.requests().is_empty(), "nothing reaches the server");
}

#[tokio::test]
async fn edit_and_upscale_creative_templates_are_checked_at_start() {
    let fake = fake(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let refused = |slot: &'static str, path: String| {
        let cfg = config(&fake, |c| c.set("workflows", Workflows::from([(slot, path)])));
        ComfyUiBackend::from_config(&cfg).expect_err("this template must be refused").to_string()
    };
    let no_image = file(
        "e.json",
        r#"{"1": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "b": "{{batch_size}}"}}}"#,
    );
    let e = refused("edit", no_image);
    assert!(
        e.contains("backend `comfy`")
            && e.contains("e.json")
            && e.contains("lacks `{{image}}`")
            && e.contains("edit workflow"),
        "{e}"
    );
    let mask = file(
        "c.json",
        r#"{"1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
            "2": {"class_type": "LoadImageMask", "inputs": {"image": "{{mask}}", "channel": "red"}},
            "3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}"}}}"#,
    );
    let e = refused("upscale_creative", mask);
    assert!(e.contains("`{{mask}}`, which has no value in the upscale_creative workflow"), "{e}");
}
