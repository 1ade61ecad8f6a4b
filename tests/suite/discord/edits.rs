//! The buttons after U end to end on the demo backend: Midjourney's rows, Zoom Out, Make
//! Square, Pan, Custom Zoom's form (a zoom out of range refused privately), Vary (Region)'s
//! menu and form, and Upscale (Subtle / Creative). The pixels are checked: the source stays
//! exactly where the mask keeps it and new paint fills only what it repaints.

use crate::support;

use easel::base::{ImageRole, TaskId};
use easel::sandbox::Message;
use support::flows::{ephemeral_with, face_id, nth_final};
use support::world::{Backend, WAIT, World};

fn faces(m: &Message) -> Vec<Vec<String>> {
    m.components
        .iter()
        .map(|row| {
            row.buttons
                .iter()
                .map(|b| {
                    b.label.clone().or_else(|| b.emoji.as_ref().map(|e| e.name.clone())).unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// The task a result message shows, from its first button's custom_id (`e1:<op>:<task>:<i>`).
fn task_of(m: &Message) -> TaskId {
    let first = m.buttons().next().and_then(|b| b.custom_id.clone()).expect("a button");
    first.split(':').nth(2).unwrap().parse().unwrap()
}

async fn image_of(w: &World, task: TaskId, index: usize) -> image::RgbImage {
    let app = w.app().expect("running in process");
    let images = app.db.images(task, ImageRole::Image).await.unwrap();
    let bytes = std::fs::read(&images[index].path).unwrap();
    easel::imaging::decode(&bytes).unwrap()
}

/// The source stays exactly where the edit's mask keeps it; the mask's area is repainted.
async fn assert_edit_pixels(w: &World, source: TaskId, edit: TaskId) {
    let app = w.app().unwrap();
    let plan = app.db.task(edit).await.unwrap().unwrap().edit.expect("the edit is stored with its task");
    let src = image_of(w, source, 0).await;
    let expected = plan.init_image(&src);
    let mask = plan.mask();
    for k in 0..4 {
        let out = image_of(w, edit, k).await;
        assert_eq!(out.dimensions(), plan.size(), "the result is the canvas");
        let (mut kept, mut changed, mut repaint) = (0u64, 0u64, 0u64);
        for (x, y, p) in out.enumerate_pixels() {
            if mask.get_pixel(x, y)[0] < 128 {
                assert_eq!(p, expected.get_pixel(x, y), "kept pixel ({x},{y}) of candidate {k}");
                kept += 1;
            } else {
                repaint += 1;
                changed += u64::from(p != expected.get_pixel(x, y));
            }
        }
        assert!(kept > 0 && repaint > 0);
        assert!(changed * 2 > repaint, "new paint in the repainted area: {changed} of {repaint}");
    }
}

async fn upscaled(w: &World, user: u64, prompt: &str) -> Message {
    let grid = w.final_original(w.imagine(user, prompt).await).await;
    w.sandbox.click(user, grid.id, &face_id(&grid, "U1")).await.unwrap();
    nth_final(w, &format!("- Image #1 <@{user}>"), 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_u_zoom_square_and_pan_make_grids_that_keep_the_source() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let up = upscaled(&w, alice, "a lighthouse --ar 3:2").await;
    assert_eq!(
        faces(&up),
        [
            vec!["Upscale (Subtle)", "Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)", "Vary (Region)"],
            vec!["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "Make Square"],
            vec!["⬅️", "➡️", "⬆️", "⬇️"],
            vec!["❤️", "ℹ️"],
        ]
    );
    let source = task_of(&up);
    let (sw, sh) = image_of(&w, source, 0).await.dimensions();

    w.sandbox.click(alice, up.id, &face_id(&up, "Zoom Out 2x")).await.unwrap();
    let zoom = nth_final(&w, "- Zoom Out by", 1).await;
    assert_eq!(faces(&zoom)[0], ["U1", "U2", "U3", "U4", "🔄"], "a grid with U/V/🔄");
    let plan = w.app().unwrap().db.task(task_of(&zoom)).await.unwrap().unwrap().edit.unwrap();
    let c = plan.canvas;
    let round8 = |v: u32| ((v as f64 / 8.0).round() as u32) * 8;
    assert_eq!((c.width, c.height), (round8(sw * 2), round8(sh * 2)), "twice the source");
    assert!(c.x > 0 && c.y > 0 && c.x + c.source_width <= c.width, "centred: {c:?}");
    assert_edit_pixels(&w, source, task_of(&zoom)).await;

    w.sandbox.click(alice, up.id, &face_id(&up, "Make Square")).await.unwrap();
    let square = nth_final(&w, "- Make Square by", 1).await;
    let sq = image_of(&w, task_of(&square), 0).await;
    assert_eq!(sq.width(), sq.height());
    assert_edit_pixels(&w, source, task_of(&square)).await;

    w.sandbox.click(alice, up.id, &face_id(&up, "➡️")).await.unwrap();
    let pan = nth_final(&w, "- Pan by", 1).await;
    let panned = image_of(&w, task_of(&pan), 0).await;
    assert!(panned.width() > sw * 14 / 10, "grown to the right: {:?}", panned.dimensions());
    assert_edit_pixels(&w, source, task_of(&pan)).await;

    // The result's U works and pans can be chained.
    w.sandbox.click(alice, pan.id, &face_id(&pan, "U2")).await.unwrap();
    let again = nth_final(&w, &format!("- Image #2 <@{alice}>"), 1).await;
    assert_eq!(image_of(&w, task_of(&again), 0).await.dimensions().0, panned.width() * 2);
    w.sandbox.click(alice, again.id, &face_id(&again, "⬆️")).await.unwrap();
    let pan2 = nth_final(&w, "- Pan by", 2).await;
    assert_edit_pixels(&w, task_of(&again), task_of(&pan2)).await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_zoom_refuses_a_zoom_out_of_range_privately_then_zooms() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let up = upscaled(&w, alice, "a harbour").await;
    let press = w.sandbox.click(alice, up.id, &face_id(&up, "Custom Zoom")).await.unwrap();
    let form =
        w.sandbox.wait_for(WAIT, |v| v.interaction(press).and_then(|i| i.modal.clone())).await.unwrap();
    assert_eq!(form["components"][0]["components"][0]["value"], "a harbour");
    w.sandbox.submit_modal(alice, press, &[("prompt", "a harbour at night"), ("zoom", "3")]).await.unwrap();
    let refusal = ephemeral_with(&w, alice, "from 1.0 to 2.0").await;
    assert!(refusal.content.contains("`3`"), "{}", refusal.content);
    w.sandbox.submit_modal(alice, press, &[("prompt", "a harbour at night"), ("zoom", "1.5")]).await.unwrap();
    let zoom = nth_final(&w, "- Zoom Out by", 1).await;
    assert!(zoom.content.starts_with("**a harbour at night**"), "{}", zoom.content);
    let (sw, _) = image_of(&w, task_of(&up), 0).await.dimensions();
    let out = image_of(&w, task_of(&zoom), 0).await;
    assert_eq!(out.width(), ((sw as f32 * 1.5 / 8.0).round() as u32) * 8);
    assert_edit_pixels(&w, task_of(&up), task_of(&zoom)).await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vary_region_repaints_only_the_picked_region_and_upscales_double() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let up = upscaled(&w, alice, "a meadow").await;
    let source = task_of(&up);
    let src = image_of(&w, source, 0).await;

    w.sandbox.click(alice, up.id, &face_id(&up, "Vary (Region)")).await.unwrap();
    let menu = ephemeral_with(&w, alice, "Pick the region").await;
    let menu_id = menu.components[0].others[0]["custom_id"].as_str().unwrap().to_string();
    let pick = w.sandbox.select(alice, menu.id, &menu_id, &["right-half"]).await.unwrap();
    w.sandbox.wait_for(WAIT, |v| v.interaction(pick).and_then(|i| i.modal.clone())).await.unwrap();
    w.sandbox.submit_modal(alice, pick, &[("prompt", "a meadow with a red barn")]).await.unwrap();
    let region = nth_final(&w, "- Vary (Region) by", 1).await;
    let out = image_of(&w, task_of(&region), 0).await;
    assert_eq!(out.dimensions(), src.dimensions(), "the image keeps its size");
    let half = src.width() / 2;
    for (x, y, p) in out.enumerate_pixels() {
        if x < half {
            assert_eq!(p, src.get_pixel(x, y), "left half kept at ({x},{y})");
        }
    }
    assert_edit_pixels(&w, source, task_of(&region)).await;

    for (face, n) in [("Upscale (Subtle)", 2), ("Upscale (Creative)", 3)] {
        w.sandbox.click(alice, up.id, &face_id(&up, face)).await.unwrap();
        let big = nth_final(&w, &format!("- Image #1 <@{alice}>"), n).await;
        let img = image_of(&w, task_of(&big), 0).await;
        assert_eq!(img.dimensions(), (src.width() * 2, src.height() * 2), "{face}");
    }
    w.assert_no_violations();
}
