//! What the ℹ️ panel tells a member about a result.

use super::*;
use crate::base::{ImageRole, MessageRef, TaskState};
use crate::db::StoredImage;
use crate::discord::render::tests::task;

fn image(index: u8, seed: Option<u32>) -> StoredImage {
    StoredImage {
        role: ImageRole::Image,
        index,
        path: format!("/tmp/{index}.png"),
        mime: "image/png".into(),
        width: 64,
        height: 64,
        bytes: 10,
        seed,
    }
}

fn info(t: Task) -> JobInfo {
    JobInfo { task: t, images: Vec::new(), parent: None, may_delete: false }
}

#[test]
fn the_panel_shows_prompt_parameters_seeds_backend_and_times() {
    let mut t = task(TaskKind::Imagine, TaskState::Succeeded);
    t.prompt.params.seed = Some(7);
    t.seed = 7;
    t.model = Some("fast".into());
    t.created_at = 1_700_000_000_123;
    t.finished_at = Some(1_700_000_042_999);
    let mut i = info(t);
    i.images = vec![image(0, Some(7)), image(1, Some(8)), image(2, None), image(3, Some(10))];
    let view = info_panel(&i);
    assert_eq!(
        view.content,
        "**Task 12** · imagine\n\
         Prompt:\n```\na lighthouse at dusk --ar 3:2 --seed 7\n```\n\
         Parameters: `--ar 3:2 --seed 7`\n\
         Seed: `7`\n\
         Image seeds: #1 `7` · #2 `8` · #4 `10`\n\
         Model: `fast` on backend `demo`\n\
         Queued: <t:1700000000:f> · Generated: <t:1700000042:f>"
    );
    assert!(view.rows.is_empty(), "no 🗑️ for someone who may not delete");
}

#[test]
fn a_child_links_to_its_parents_message_and_the_owner_may_delete() {
    let mut t = task(TaskKind::Upscale { index: 1 }, TaskState::Succeeded);
    t.parent_id = Some(5);
    let mut parent = task(TaskKind::Imagine, TaskState::Succeeded);
    parent.id = 5;
    parent.guild_id = Some("100".into());
    parent.channel_id = Some("200".into());
    parent.message = MessageRef { message_id: Some("300".into()), ..MessageRef::default() };
    let mut i = info(t);
    i.parent = Some(parent);
    i.may_delete = true;
    let view = info_panel(&i);
    assert!(view.content.starts_with("**Task 12** · upscale of image #2\n"), "{}", view.content);
    assert!(
        view.content.contains("Made from: task `5` — [jump to it](https://discord.com/channels/100/200/300)"),
        "{}",
        view.content
    );
    assert!(view.content.contains("Model: backend `demo`"), "{}", view.content);
    assert_eq!(view.rows.len(), 1);
    assert_eq!(view.rows[0][0].custom_id, "e1:t:12:0");
    assert_eq!(view.rows[0][0].style, ButtonStyle::Danger);

    // A parent in a DM links through @me; a deleted one is named, without a link.
    i.parent.as_mut().unwrap().guild_id = None;
    assert!(info_panel(&i).content.contains("https://discord.com/channels/@me/200/300"));
    i.parent = None;
    assert!(info_panel(&i).content.contains("Made from: task `5` (deleted)"));
}

#[test]
fn a_prompt_cannot_break_out_of_its_code_block_and_a_huge_one_still_fits() {
    let mut t = task(TaskKind::Imagine, TaskState::Succeeded);
    t.prompt.text = "a ```fence``` <@1> **bold**".into();
    let view = info_panel(&info(t.clone()));
    assert_eq!(view.content.matches("```").count(), 2, "{}", view.content);
    assert!(view.content.contains("<@1> **bold**"), "inside the block the prompt is as typed");

    t.prompt.text = "word ".repeat(2000);
    let view = info_panel(&info(t));
    assert!(view.content.len() <= 2000, "{}", view.content.len());
    assert_eq!(view.content.matches("```").count(), 2);
    assert!(view.content.contains("Queued: <t:0:f>"), "the details after the prompt survive");
}

#[test]
fn a_blend_has_no_prompt_but_its_parameters() {
    let mut t = task(TaskKind::Blend, TaskState::Succeeded);
    t.prompt.text.clear();
    let view = info_panel(&info(t));
    assert!(
        view.content.contains("Prompt: (none — made from images)\nParameters: `--ar 3:2`"),
        "{}",
        view.content
    );
}
