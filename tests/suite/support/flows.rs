//! End-to-end flows every backend kind runs through the sandbox, so each kind's test says
//! only how its world is built and what its fake server must have seen.

use bytes::Bytes;
use easel::sandbox::{CommandOption, Message};

use super::world::{WAIT, World, is_final};

pub fn click_id(m: &Message, label: &str) -> String {
    m.buttons()
        .find(|b| b.label.as_deref() == Some(label))
        .and_then(|b| b.custom_id.clone())
        .unwrap_or_else(|| panic!("no `{label}` button"))
}

/// The `n`th (1-based) final message whose content contains `needle`.
pub async fn nth_final(w: &World, needle: &str, n: usize) -> Message {
    w.sandbox
        .wait_for(WAIT, |v| {
            v.messages().iter().filter(|m| m.content.contains(needle) && is_final(m)).nth(n - 1).cloned()
        })
        .await
        .unwrap_or_else(|_| panic!("no final message #{n} with {needle:?}:\n{}", w.sandbox.summary()))
}

pub fn png(seed: u8) -> Bytes {
    let img = image::RgbImage::from_fn(96, 64, |x, y| image::Rgb([x as u8 ^ seed, y as u8 * 3, seed]));
    easel::imaging::encode_png(&img).unwrap().into()
}

/// /describe of an upload: four numbered prompts with `1 2 3 4` and 🔄.
pub async fn describe_upload(w: &World, user: u64) -> Message {
    let img = w.sandbox.upload("cat.png", "image/png", png(7));
    let slash =
        w.sandbox.slash(user, "describe", vec![CommandOption::attachment("image", &img)]).await.unwrap();
    let described = w.final_original(slash).await;
    assert!(described.content.starts_with(&format!("**/describe** - <@{user}>")), "{}", described.content);
    assert!(described.content.contains("1️⃣"), "{}", described.content);
    assert_eq!(
        described.labels(),
        ["1", "2", "3", "4", "Imagine all"],
        "one button per prompt and one for all (🔄 and ℹ️ have no label)"
    );
    described
}

/// Imagine, then U2 on the grid, then Vary (Subtle) on the upscale: each step a finished
/// message with the right image and buttons.
pub async fn imagine_upscale_vary(w: &World) {
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a red fox in the snow --ar 3:2").await).await;
    assert_eq!(grid.content, format!("**a red fox in the snow --ar 3:2** - <@{alice}>"));
    assert_eq!(grid.buttons().count(), 10, "U1–U4, 🔄, V1–V4, ℹ️");
    assert_eq!(grid.attachments.len(), 1);

    w.sandbox.click(alice, grid.id, &click_id(&grid, "U2")).await.unwrap();
    let up = w.final_message_with("- Image #2").await;
    assert_eq!(up.attachments.len(), 1);
    // Midjourney's buttons after U, as many as the backend serves: the variations always.
    let labels = up.labels();
    assert!(labels.windows(2).any(|w| w == ["Vary (Subtle)", "Vary (Strong)"]), "{labels:?}");
    let known = [
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Vary (Subtle)",
        "Vary (Strong)",
        "Vary (Region)",
        "Zoom Out 2x",
        "Zoom Out 1.5x",
        "Custom Zoom",
        "Make Square",
    ];
    assert!(labels.iter().all(|l| known.contains(l)), "{labels:?}");

    w.sandbox.click(alice, up.id, &click_id(&up, "Vary (Subtle)")).await.unwrap();
    let vary = w.final_message_with("- Variations (Subtle) by").await;
    assert_eq!(vary.buttons().count(), 10);
    w.assert_no_violations();
}

/// Waits for a private answer to `user` containing `needle`.
pub async fn ephemeral_with(w: &World, user: u64, needle: &str) -> Message {
    w.sandbox
        .wait_for(super::world::WAIT, |v| {
            v.messages()
                .iter()
                .find(|m| m.is_ephemeral() && m.visible_to(user) && m.content.contains(needle))
                .cloned()
        })
        .await
        .unwrap_or_else(|_| panic!("no private answer containing {needle:?}:\n{}", w.sandbox.summary()))
}

/// The custom_id of the button labelled, or showing the emoji, `face`.
pub fn face_id(m: &Message, face: &str) -> String {
    m.buttons()
        .find(|b| b.label.as_deref() == Some(face) || b.emoji.as_ref().is_some_and(|e| e.name == face))
        .and_then(|b| b.custom_id.clone())
        .unwrap_or_else(|| panic!("no `{face}` button on {:?}", m.custom_ids()))
}

/// The task id a result's ℹ️ button names.
pub fn task_id(m: &Message) -> i64 {
    face_id(m, "ℹ️").split(':').nth(2).unwrap().parse().unwrap()
}
