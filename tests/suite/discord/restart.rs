//! The real `easel` binary, killed with SIGKILL in the middle of a task and started again on
//! the same database: the message still ends with the result, and buttons from before the
//! restart still work. Stopped with SIGTERM instead, it lets the running task finish and shows
//! its result before it exits, and leaves the queued ones for the next start.

use crate::support;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_task_finish_and_keeps_the_queue_for_the_next_start() {
    let mut w = World::new(Backend::Demo { step_ms: 700 }, |c| c.backends[0].concurrency = Some(1)).await;
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");
    let running = w.imagine(alice, "a mill by the river").await;
    w.sandbox
        .wait_for(WAIT, |v| v.original_message(running).filter(|m| m.content.ends_with("%)")).map(|_| ()))
        .await
        .expect("the first task is mid-way");
    let waiting = w.imagine(alice, "a bridge in snow").await;
    w.sandbox
        .wait_for(WAIT, |v| {
            v.original_message(waiting).filter(|m| m.content.contains("(Waiting to")).map(|_| ())
        })
        .await
        .expect("the second task waits behind it");
    assert!(w.terminate(), "easel exits cleanly on SIGTERM");
    let done =
        w.sandbox.message(w.sandbox.interaction(running).unwrap().original_message_id.unwrap()).unwrap();
    assert!(
        is_final(&done) && done.attachments.len() == 1,
        "the running task's result was shown before exit: {}",
        done.content
    );
    let queued =
        w.sandbox.message(w.sandbox.interaction(waiting).unwrap().original_message_id.unwrap()).unwrap();
    assert!(!is_final(&queued), "the queued task was not started during the grace period");

    w.start_process(2).await;
    let later = w.final_original(waiting).await;
    assert_eq!(later.attachments.len(), 1, "the queued task ran after the restart");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zoom_interrupted_by_kill_9_ends_in_its_result_after_a_restart() {
    let mut w = World::new(Backend::Demo { step_ms: 700 }, |_| {}).await;
    w.start_process(1).await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a lighthouse").await).await;
    let u1 = grid.buttons().find(|b| b.label.as_deref() == Some("U1")).unwrap().custom_id.clone().unwrap();
    w.sandbox.click(alice, grid.id, &u1).await.unwrap();
    let up = w.final_message_with("- Image #1").await;
    let zoom =
        up.buttons().find(|b| b.label.as_deref() == Some("Zoom Out 2x")).unwrap().custom_id.clone().unwrap();
    w.sandbox.click(alice, up.id, &zoom).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| {
            v.messages()
                .iter()
                .find(|m| m.content.contains("- Zoom Out by") && m.content.ends_with("%)"))
                .map(|_| ())
        })
        .await
        .expect("the zoom is mid-way");
    w.kill();

    w.start_process(2).await;
    let done = w
        .sandbox
        .wait_for(WAIT, |v| {
            v.messages().iter().find(|m| m.content.contains("- Zoom Out by") && is_final(m)).cloned()
        })
        .await
        .expect("the zoom ends in its result");
    assert_eq!(done.attachments.len(), 1, "the grid arrived");
    assert_eq!(done.buttons().filter(|b| b.label.as_deref().is_some_and(|l| l.starts_with('U'))).count(), 4);
    w.assert_no_violations();
}
