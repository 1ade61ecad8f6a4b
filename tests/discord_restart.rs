//! The real `easel` binary, killed with SIGKILL in the middle of a task and started again on
//! the same database: the message still ends with the result, and buttons from before the
//! restart still work.

mod support;

use support::world::{Backend, WAIT, World, is_final};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_interrupted_by_kill_9_completes_after_a_restart_and_old_buttons_work() {
    // Slow enough progress that the kill lands mid-task.
    let mut w = World::new(Backend::Demo { step_ms: 700 }, |_| {}).await;
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");
    let before = w.final_original(w.imagine(alice, "a harbour at night --seed 7").await).await;

    let id = w.imagine(alice, "a castle in fog").await;
    w.sandbox
        .wait_for(WAIT, |v| v.original_message(id).filter(|m| m.content.ends_with("(25%)")).map(|_| ()))
        .await
        .expect("the task is mid-way");
    w.kill();
    assert!(!is_final(
        &w.sandbox.message(w.sandbox.interaction(id).unwrap().original_message_id.unwrap()).unwrap()
    ));

    w.start_process(2).await;
    let done = w.final_original(id).await;
    assert_eq!(done.content, format!("**a castle in fog** - <@{alice}>"));
    assert_eq!(done.attachments.len(), 1, "the grid arrived on the same message");

    // A button on a message from before the restart.
    let u1 = before.buttons().find(|b| b.label.as_deref() == Some("U1")).unwrap().custom_id.clone().unwrap();
    w.sandbox.click(alice, before.id, &u1).await.unwrap();
    let up = w.final_message_with("- Image #1").await;
    assert!(up.content.starts_with("**a harbour at night --seed 7**"), "{}", up.content);

    let v = w.sandbox.violations();
    assert!(v.is_empty(), "{v:#?}");
    let log =
        std::fs::read_to_string(w.log_path(2)).unwrap() + &std::fs::read_to_string(w.log_path(1)).unwrap();
    assert!(!log.contains(w.sandbox.bot_token()), "the bot token never reaches the log");
}
