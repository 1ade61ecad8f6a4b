//! A result whose images retention removed, pressed on "Discord": U and V are answered
//! privately with why and what to do instead (no task is made, nothing fails), while 🔄,
//! which needs only the prompt, still works.

use crate::support;

use std::time::Duration;

use easel::base::{DAY_MS, now_ms};
use easel::sandbox::Message;
use easel::tasks::retention::sweep;
use support::world::{Backend, WAIT, World};

fn id(m: &Message, face: &str) -> String {
    let b = m
        .buttons()
        .find(|b| b.label.as_deref() == Some(face) || b.emoji.as_ref().is_some_and(|e| e.name == face));
    b.and_then(|b| b.custom_id.clone()).unwrap_or_else(|| panic!("no `{face}` button"))
}

/// The private answer to the press `click`.
async fn reply_to(w: &World, click: u64) -> Message {
    w.sandbox
        .wait_for(WAIT, |v| {
            v.interaction(click).and_then(|i| i.original_message_id).and_then(|m| v.message(m)).cloned()
        })
        .await
        .expect("the press is answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_u_or_v_on_a_result_whose_images_were_removed_explains_privately() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| c.retention.image_days = 30).await;
    let app = w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a quiet harbour").await).await;
    // Until its result is recorded as shown, a task's images are kept for the delivery; the
    // record follows Discord's answer, and nothing announces it, so ask the database.
    let shown = async {
        while !app.db.pinned_tasks().await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, shown).await.expect("the result is recorded as shown");
    let month_later = now_ms() + 31 * DAY_MS;
    let swept = sweep(&app.db, app.engine.storage(), &app.config.retention, month_later).await.unwrap();
    assert_eq!(swept.images_by_age, vec![1]);
    assert!(!app.engine.storage().root().join("1").exists(), "the task's image folder is gone");

    let click = w.sandbox.click(alice, grid.id, &id(&grid, "U2")).await.unwrap();
    let reply = reply_to(&w, click).await;
    assert!(reply.is_ephemeral() && reply.visible_to(alice), "{reply:?}");
    assert_eq!(
        reply.content,
        "The images of this result were removed after 31 days, so it can't be upscaled any more — run \
         /imagine again to make new ones."
    );
    let click = w.sandbox.click(alice, grid.id, &id(&grid, "V3")).await.unwrap();
    let reply = reply_to(&w, click).await;
    assert!(reply.is_ephemeral() && reply.content.contains("so it can't be varied any more"), "{reply:?}");
    assert_eq!(app.db.task(2).await.unwrap().map(|t| t.id), None, "no task was made");

    // 🔄 draws the prompt again: it needs no stored image.
    w.sandbox.click(alice, grid.id, &id(&grid, "🔄")).await.unwrap();
    let rerolled = w
        .sandbox
        .wait_for(WAIT, |v| {
            v.messages()
                .iter()
                .find(|m| {
                    m.id != grid.id
                        && m.content.starts_with("**a quiet harbour**")
                        && m.buttons().count() == 10
                })
                .cloned()
        })
        .await
        .expect("the reroll arrives");
    assert_eq!(rerolled.attachments.len(), 1);
    w.assert_no_violations();
}
