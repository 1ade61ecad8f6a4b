//! A result afterwards: ℹ️ tells its details privately (prompt, parameters, seeds, backend,
//! parent link, times); 🗑️ in that panel deletes it — for its owner or a member with Manage
//! Messages, not for anyone else — taking its message and image files with it, and every
//! later press naming it is told it was deleted.

use crate::support;

use easel::base::ImageRole;
use support::flows::{ephemeral_with, face_id, task_id};
use support::world::{Backend, WAIT, World};

/// Discord's Manage Messages permission bit.
const MANAGE_MESSAGES: u64 = 1 << 13;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_shows_the_prompt_seeds_backend_and_a_link_to_the_parent() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    let app = w.start_in_process().await;
    let (alice, bob) = (w.sandbox.add_user("alice"), w.sandbox.add_user("bob"));
    let grid = w.final_original(w.imagine(alice, "a lighthouse at dusk --ar 3:2 --seed 7").await).await;
    let grid_task = task_id(&grid);

    // Bob may read it too: only he sees the answer, and it offers him no 🗑️.
    w.sandbox.click(bob, grid.id, &face_id(&grid, "ℹ️")).await.unwrap();
    let panel = ephemeral_with(&w, bob, &format!("**Task {grid_task}** · imagine")).await;
    assert!(panel.is_ephemeral() && !panel.visible_to(alice));
    assert!(
        panel.content.contains("Prompt:\n```\na lighthouse at dusk --ar 3:2 --seed 7\n```"),
        "{}",
        panel.content
    );
    assert!(panel.content.contains("Parameters: `--ar 3:2 --seed 7`\nSeed: `7`"), "{}", panel.content);
    let seeds = app.db.images(grid_task, ImageRole::Image).await.unwrap();
    assert_eq!(seeds.len(), 4);
    let listed: Vec<String> =
        seeds.iter().map(|i| format!("#{} `{}`", i.index + 1, i.seed.expect("demo gives seeds"))).collect();
    assert!(panel.content.contains(&format!("Image seeds: {}", listed.join(" · "))), "{}", panel.content);
    assert!(panel.content.contains("Model: backend `demo`"), "{}", panel.content);
    assert!(panel.content.contains("Queued: <t:") && panel.content.contains("· Generated: <t:"));
    assert!(panel.buttons().next().is_none(), "no 🗑️ for bob");

    // The upscale's panel links to the grid's message.
    w.sandbox.click(alice, grid.id, &face_id(&grid, "U2")).await.unwrap();
    let up = w.final_message_with("- Image #2").await;
    w.sandbox.click(alice, up.id, &face_id(&up, "ℹ️")).await.unwrap();
    let panel = ephemeral_with(&w, alice, "upscale of image #2").await;
    let link = format!(
        "Made from: task `{grid_task}` — [jump to it](https://discord.com/channels/{}/{}/{})",
        w.sandbox.guild_id(),
        w.sandbox.channel_id(),
        grid.id
    );
    assert!(panel.content.contains(&link), "{}\nwanted {link}", panel.content);
    assert!(panel.buttons().any(|b| b.label.as_deref() == Some("Delete")), "the owner may delete");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_deletes_a_result_and_later_presses_are_told_so() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    let app = w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a windmill in the rain").await).await;
    let task = task_id(&grid);
    let mut files: Vec<String> = Vec::new();
    for role in [ImageRole::Grid, ImageRole::Image] {
        files.extend(app.db.images(task, role).await.unwrap().into_iter().map(|i| i.path));
    }
    assert_eq!(files.len(), 5, "the grid and its four images");
    assert!(files.iter().all(|f| std::path::Path::new(f).exists()));

    w.sandbox.click(alice, grid.id, &face_id(&grid, "ℹ️")).await.unwrap();
    let panel = ephemeral_with(&w, alice, &format!("**Task {task}**")).await;
    // A second panel, opened before the deletion, to press again afterwards.
    w.sandbox.click(alice, grid.id, &face_id(&grid, "ℹ️")).await.unwrap();
    let stale = w
        .sandbox
        .wait_for(WAIT, |v| {
            v.messages()
                .iter()
                .find(|m| {
                    m.is_ephemeral() && m.id != panel.id && m.content.starts_with(&format!("**Task {task}**"))
                })
                .cloned()
        })
        .await
        .unwrap();
    w.sandbox.click(alice, panel.id, &face_id(&panel, "Delete")).await.unwrap();
    ephemeral_with(&w, alice, &format!("Deleted task {task}")).await;
    w.sandbox
        .wait_for(WAIT, |v| v.message(grid.id).is_none().then_some(()))
        .await
        .expect("the result's message is taken down");
    let row = app.db.task(task).await.unwrap().unwrap();
    assert!(row.deleted_at.is_some(), "the task is marked deleted");
    assert!(app.db.images(task, ImageRole::Image).await.unwrap().is_empty(), "its images are marked too");
    assert!(files.iter().all(|f| !std::path::Path::new(f).exists()), "the files are gone from disk");

    // The stale panel's 🗑️, and a press naming the task from anywhere, hear it was deleted.
    w.sandbox.click(alice, stale.id, &face_id(&stale, "Delete")).await.unwrap();
    let other = w.final_original(w.imagine(alice, "a harbour").await).await;
    w.sandbox.forged_click(alice, other.id, &format!("e1:u:{task}:0")).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| {
            let told = v
                .messages()
                .iter()
                .filter(|m| m.visible_to(alice) && m.content.contains("That result was deleted"))
                .count();
            (told == 2).then_some(())
        })
        .await
        .expect("both presses are told the result was deleted");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_member_cannot_delete_but_a_moderator_can() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    let app = w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let mod_ = w.sandbox.add_user_with_permissions("mod", MANAGE_MESSAGES | (1 << 10) | (1 << 11));
    let grid = w.final_original(w.imagine(alice, "a fox in the snow").await).await;
    let task = task_id(&grid);

    // Bob's panel has no 🗑️; a tampered client sends it anyway and is refused.
    w.sandbox.click(bob, grid.id, &face_id(&grid, "ℹ️")).await.unwrap();
    let bobs = ephemeral_with(&w, bob, &format!("**Task {task}**")).await;
    assert!(bobs.buttons().next().is_none());
    w.sandbox.forged_click(bob, bobs.id, &format!("e1:t:{task}:0")).await.unwrap();
    ephemeral_with(&w, bob, "Only the member who made this result, or someone with Manage Messages").await;
    assert!(app.db.task(task).await.unwrap().unwrap().deleted_at.is_none());
    assert!(w.sandbox.message(grid.id).is_some());

    // The moderator's panel offers it, and it works.
    w.sandbox.click(mod_, grid.id, &face_id(&grid, "ℹ️")).await.unwrap();
    let mods = ephemeral_with(&w, mod_, &format!("**Task {task}**")).await;
    w.sandbox.click(mod_, mods.id, &face_id(&mods, "Delete")).await.unwrap();
    ephemeral_with(&w, mod_, &format!("Deleted task {task}")).await;
    w.sandbox.wait_for(WAIT, |v| v.message(grid.id).is_none().then_some(())).await.unwrap();
    assert!(app.db.task(task).await.unwrap().unwrap().deleted_at.is_some());
    w.assert_no_violations();
}
