//! Buttons belong to their message: a tampered client can put any task's id in a press, so a
//! press counts only on the message that shows its task, the settings panel only on the
//! member's own, and /cancel does not tell a stranger whose a task is.

use crate::support;

use easel::sandbox::{CommandOption, Message};
use support::flows::{click_id, ephemeral_with};
use support::world::{Backend, World};

fn task_of(m: &Message) -> i64 {
    click_id(m, "U1").split(':').nth(2).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_naming_a_task_under_another_message_is_refused() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    let app = w.start_in_process().await;
    let (alice, bob) = (w.sandbox.add_user("alice"), w.sandbox.add_user("bob"));
    let alices = w.final_original(w.imagine(alice, "alice's lighthouse").await).await;
    let bobs = w.final_original(w.imagine(bob, "bob's harbour").await).await;
    let before = app.db.audit_recent(100).await.unwrap().len();

    // Bob's client sends U1 of Alice's task from under his own grid.
    let forged = format!("e1:u:{}:0", task_of(&alices));
    w.sandbox.forged_click(bob, bobs.id, &forged).await.unwrap();
    ephemeral_with(&w, bob, "doesn't belong to the message it was pressed on").await;
    // The same press on her grid, where it lives, works.
    w.sandbox.forged_click(bob, alices.id, &forged).await.unwrap();
    w.final_message_with(&format!("- Image #1 <@{bob}>")).await;
    let tasks = app.db.tasks_counted(&bob.to_string(), 0, i64::MAX).await.unwrap();
    assert_eq!(tasks, 2, "bob's grid and the one upscale made where the button lives");
    assert_eq!(
        app.db.audit_recent(100).await.unwrap().len(),
        before + 1,
        "the refused press started nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_press_on_someone_elses_grid_leaves_the_grid_alone() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let (alice, bob) = (w.sandbox.add_user("alice"), w.sandbox.add_user("bob"));
    let grid = w.final_original(w.imagine(alice, "alice's lighthouse").await).await;
    w.sandbox.forged_click(bob, grid.id, "e1s:remix").await.unwrap();
    ephemeral_with(&w, bob, "isn't your settings panel").await;
    let after = w.sandbox.message(grid.id).unwrap();
    assert_eq!((after.content.as_str(), after.labels()), (grid.content.as_str(), grid.labels()));

    // Her own panel still works.
    w.sandbox.slash(alice, "settings", vec![]).await.unwrap();
    let panel = ephemeral_with(&w, alice, "**Your settings**").await;
    w.sandbox.click(alice, panel.id, "e1s:remix").await.unwrap();
    ephemeral_with(&w, alice, "Remix (edit the prompt before V): on").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_does_not_say_who_owns_a_task() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let (alice, bob) = (w.sandbox.add_user("alice"), w.sandbox.add_user("bob"));
    let grid = w.final_original(w.imagine(alice, "alice's lighthouse").await).await;
    let task = task_of(&grid);
    w.sandbox.slash(bob, "cancel", vec![CommandOption::integer("task", task)]).await.unwrap();
    let answer = ephemeral_with(&w, bob, &format!("There is no task {task}.")).await;
    assert!(!answer.content.contains(&alice.to_string()), "{}", answer.content);
}
