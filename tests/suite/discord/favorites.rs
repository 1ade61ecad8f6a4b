//! ❤️ under a single image, end to end through the sandbox: a private answer, `/favorites`
//! with links, pressing again takes it out, a burst of hearts from many members cross-posts
//! the image to the showcase channel exactly once (with its prompt, credit and a link), a
//! grid has no ❤️, a heart works across a restart, and a deleted result leaves the list.

use crate::support;

use easel::sandbox::{CommandOption, Message};
use support::flows::{ephemeral_with, face_id, task_id};
use support::world::{Backend, WAIT, World};

async fn favorites(w: &World, user: u64) -> Message {
    favorites_page(w, user, Vec::new()).await
}

async fn favorites_page(w: &World, user: u64, options: Vec<CommandOption>) -> Message {
    let slash = w.sandbox.slash(user, "favorites", options).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| v.original_message(slash).filter(|m| !m.content.is_empty()).cloned())
        .await
        .expect("/favorites answers")
}

/// alice's /imagine, then U1: the upscale's message.
async fn upscaled(w: &World, alice: u64, prompt: &str) -> Message {
    let grid = w.final_original(w.imagine(alice, prompt).await).await;
    assert!(grid.buttons().all(|b| b.emoji.as_ref().is_none_or(|e| e.name != "❤️")), "no ❤️ on a grid");
    w.sandbox.click(alice, grid.id, &face_id(&grid, "U1")).await.unwrap();
    w.final_message_with("- Image #1").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_hearts_showcases_once_and_favourites_list_and_toggle() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    let showcase = w.sandbox.add_channel("showcase");
    w.config.showcase.channel_id = Some(showcase.to_string());
    let app = w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let up = upscaled(&w, alice, "a red kite over the dunes").await;
    let task = task_id(&up);
    let heart = face_id(&up, "❤️");

    // Alice and five others heart it at once.
    let fans: Vec<u64> =
        std::iter::once(alice).chain((0..5).map(|i| w.sandbox.add_user(&format!("fan{i}")))).collect();
    let presses = fans.iter().map(|fan| w.sandbox.click(*fan, up.id, &heart));
    for press in futures::future::join_all(presses).await {
        press.unwrap();
    }
    for fan in &fans {
        let answer =
            ephemeral_with(&w, *fan, &format!("Added task {task} to your favourites (1 in all)")).await;
        assert!(answer.visible_to(*fan));
    }
    let post = w
        .sandbox
        .wait_for(WAIT, |v| v.messages().iter().find(|m| m.channel_id == showcase).cloned())
        .await
        .expect("the image reaches the showcase channel");
    assert!(post.content.starts_with("**a red kite over the dunes**\nby <@"), "{}", post.content);
    assert!(post.content.contains(&format!("by <@{alice}>")), "credit to the maker: {}", post.content);
    assert_eq!(post.attachments.len(), 1, "the image itself");
    let link = post.buttons().find_map(|b| b.url.clone()).expect("a link to the original");
    assert!(link.ends_with(&format!("/{}/{}", w.sandbox.channel_id(), up.id)), "{link}");
    // Every heart was answered after its claim, so no other post can follow: exactly one,
    // however many hearts. The bot records the post's id when Discord answers the post.
    let recorded = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(post) = app.db.showcase_post(task).await.unwrap() {
                break post;
            }
            tokio::task::yield_now().await;
        }
    });
    let (channel, message) = recorded.await.expect("the post is recorded");
    assert_eq!((channel, message), (showcase.to_string(), post.id.to_string()));
    let posts = w.sandbox.messages().iter().filter(|m| m.channel_id == showcase).count();
    assert_eq!(posts, 1, "one showcase post per image:\n{}", w.sandbox.summary());

    let list = favorites(&w, alice).await;
    assert!(list.is_ephemeral());
    assert!(list.content.contains(&format!("`{task}` a red kite over the dunes")), "{}", list.content);
    assert!(list.content.contains(&format!("/{}/{})", w.sandbox.channel_id(), up.id)), "{}", list.content);

    // Pressed again: out of alice's favourites, not the others'.
    w.sandbox.click(alice, up.id, &heart).await.unwrap();
    ephemeral_with(&w, alice, &format!("Took task {task} out of your favourites (0 left)")).await;
    let list = favorites(&w, alice).await;
    assert!(list.content.contains("You have no favourites yet"), "{}", list.content);
    assert!(favorites(&w, fans[1]).await.content.contains(&format!("`{task}`")));
    // A heart again does not post again.
    w.sandbox.click(fans[2], up.id, &heart).await.unwrap();
    ephemeral_with(&w, fans[2], &format!("Took task {task} out")).await;
    w.sandbox.click(fans[2], up.id, &heart).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| {
            (v.messages().iter().filter(|m| m.content.contains(&format!("Added task {task}"))).count() == 7)
                .then_some(())
        })
        .await
        .expect("fan2's second heart is answered");
    assert_eq!(w.sandbox.messages().iter().filter(|m| m.channel_id == showcase).count(), 1);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heart_works_after_a_restart_and_a_deleted_result_leaves_the_list() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let up = upscaled(&w, alice, "a paper boat").await;
    let task = task_id(&up);

    w.kill();
    w.start_in_process().await;
    w.sandbox.click(alice, up.id, &face_id(&up, "❤️")).await.unwrap();
    ephemeral_with(&w, alice, &format!("Added task {task} to your favourites")).await;
    assert!(favorites(&w, alice).await.content.contains(&format!("`{task}` a paper boat")));
    // A page past the end shows the last one.
    let past = favorites_page(&w, alice, vec![CommandOption::integer("page", 5)]).await;
    assert!(past.content.starts_with("**Your favourites** (1 in all)\n"), "{}", past.content);
    assert!(past.content.contains(&format!("`{task}` a paper boat")), "{}", past.content);

    w.sandbox.click(alice, up.id, &face_id(&up, "ℹ️")).await.unwrap();
    let panel = ephemeral_with(&w, alice, &format!("**Task {task}**")).await;
    w.sandbox.click(alice, panel.id, &face_id(&panel, "Delete")).await.unwrap();
    ephemeral_with(&w, alice, &format!("Deleted task {task}")).await;
    assert!(favorites(&w, alice).await.content.contains("You have no favourites yet"));
    w.assert_no_violations();
}
