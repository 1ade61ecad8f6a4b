//! `/show task:` posts a result again in the channel it is run in, and that message becomes
//! the result's: its buttons work (across a restart too), the old message's are refused. A
//! member may show only their own results (autocomplete offers those); a moderator any of
//! the server's.

use crate::support;

use easel::sandbox::{CommandOption, Message};
use support::flows::{ephemeral_with, face_id, task_id};
use support::world::{Backend, WAIT, World, is_final};

const MANAGE_MESSAGES: u64 = 1 << 13;

/// Runs `/show task:` as `user` in `channel` and waits for the reposted result.
async fn show(w: &World, user: u64, channel: u64, task: i64) -> Message {
    let slash =
        w.sandbox.slash_in(user, channel, "show", vec![CommandOption::integer("task", task)]).await.unwrap();
    w.final_original(slash).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_in_another_channel_moves_the_buttons_there() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a castle on a hill").await).await;
    let task = task_id(&grid);

    // Autocomplete offers her recent results.
    let choices =
        w.sandbox.autocomplete(alice, "show", vec![CommandOption::string("task", "")], "task").await.unwrap();
    assert_eq!(choices, [(format!("{task} · a castle on a hill"), serde_json::json!(task))]);

    let art = w.sandbox.add_channel("art");
    let again = show(&w, alice, art, task).await;
    assert_eq!(again.channel_id, art);
    assert_eq!(again.content, grid.content);
    assert_eq!(again.custom_ids(), grid.custom_ids());
    assert_eq!(again.attachments.len(), 1, "the grid is shown again");

    // U1 on the reposted message works, and its upscale is posted there.
    w.sandbox.click(alice, again.id, &face_id(&again, "U1")).await.unwrap();
    let up = w.final_message_with("- Image #1").await;
    assert_eq!(up.channel_id, art);
    // The old message's buttons no longer count.
    w.sandbox.click(alice, grid.id, &face_id(&grid, "U2")).await.unwrap();
    ephemeral_with(&w, alice, "doesn't belong to the message it was pressed on").await;
    assert!(w.sandbox.messages().iter().all(|m| !m.content.contains("- Image #2")));
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_show_someone_elses_result_but_a_moderator_can() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let mod_ = w.sandbox.add_user_with_permissions("mod", MANAGE_MESSAGES | (1 << 10) | (1 << 11));
    let grid = w.final_original(w.imagine(alice, "a red barn").await).await;
    let task = task_id(&grid);

    let choices =
        w.sandbox.autocomplete(bob, "show", vec![CommandOption::string("task", "")], "task").await.unwrap();
    assert!(choices.is_empty(), "bob has no results of his own: {choices:?}");
    let slash = w.sandbox.slash(bob, "show", vec![CommandOption::integer("task", task)]).await.unwrap();
    let refused =
        ephemeral_with(&w, bob, &format!("You can show only your own results, and task {task}")).await;
    assert!(!refused.content.contains(&alice.to_string()), "it does not say whose it is");
    assert_eq!(
        w.sandbox.interaction(slash).unwrap().callback_type(),
        Some(4),
        "refused before anything public"
    );

    let again = show(&w, mod_, w.sandbox.channel_id(), task).await;
    assert_eq!(again.content, grid.content, "still alice's result, mentioning her");
    w.sandbox.click(alice, again.id, &face_id(&again, "U3")).await.unwrap();
    w.final_message_with("- Image #3").await;

    // Nothing unfinished or unknown is shown.
    w.sandbox.slash(alice, "show", vec![CommandOption::integer("task", 9999)]).await.unwrap();
    ephemeral_with(&w, alice, "You can show only your own results, and task 9999").await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_shown_after_a_restart_keeps_working_buttons() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a lighthouse in a storm").await).await;
    let task = task_id(&grid);
    w.kill();

    w.start_process(2).await;
    let art = w.sandbox.add_channel("art");
    let again = show(&w, alice, art, task).await;
    assert!(is_final(&again) && again.channel_id == art);
    w.sandbox.click(alice, again.id, &face_id(&again, "U4")).await.unwrap();
    let up = w
        .sandbox
        .wait_for(WAIT, |v| {
            v.messages().iter().find(|m| m.content.contains("- Image #4") && is_final(m)).cloned()
        })
        .await
        .unwrap();
    assert_eq!(up.channel_id, art);
    w.assert_no_violations();
}
