//! The real bot (poise/serenity and Easel's engine, in this process) through gateway faults
//! the sandbox acts out as Discord would: op 7 RECONNECT, op 9 INVALID_SESSION and a dropped
//! socket, each in the middle of a task and again between tasks. The running task must still
//! end on its message, commands sent while a resumable session is down must be replayed and
//! answered, the bot must keep answering new commands and buttons, and nothing may break
//! Discord's rules.

use crate::support;

use easel::sandbox::Stats;
use support::flows::click_id;
use support::world::{Backend, WAIT, World};

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// op 7: the bot should reconnect and RESUME.
    Reconnect,
    /// op 9 (not resumable): the bot must IDENTIFY again.
    InvalidSession,
    /// The TCP connection ends without a close frame; the session stays resumable.
    Drop,
}

impl Fault {
    fn inject(self, w: &World) {
        let sent = match self {
            Fault::Reconnect => w.sandbox.gateway_reconnect(),
            Fault::InvalidSession => w.sandbox.gateway_invalid_session(),
            Fault::Drop => w.sandbox.gateway_drop(),
        };
        assert!(sent, "{self:?}: no bot was connected");
    }

    fn resumable(self) -> bool {
        !matches!(self, Fault::InvalidSession)
    }

    /// Whether the bot is back from this fault, judged from the stats before it.
    fn recovered(self, before: &Stats, now: &Stats) -> bool {
        if self.resumable() { now.resumes > before.resumes } else { now.identifies > before.identifies }
    }
}

async fn wait_back(w: &World, fault: Fault, before: &Stats) {
    w.sandbox
        .wait_for(WAIT, |v| (v.bot_connected() && fault.recovered(before, v.stats())).then_some(()))
        .await
        .unwrap_or_else(|e| panic!("the bot did not come back after {fault:?}: {e:#}"));
}

/// A grid message: the image and its nine buttons.
fn assert_grid(m: &easel::sandbox::Message, prompt: &str, user: u64) {
    assert_eq!(m.content, format!("**{prompt}** - <@{user}>"));
    assert_eq!(m.attachments.len(), 1, "the grid is on the message");
    assert_eq!(m.buttons().count(), 10, "U1–U4, 🔄, V1–V4, ℹ️");
}

async fn survives(fault: Fault) {
    // Four progress steps of 400 ms: long enough for the fault to land mid-task.
    let mut w = World::new(Backend::Demo { step_ms: 400 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    // In the middle of a task.
    let during = w.imagine(alice, "a lighthouse in a storm").await;
    w.sandbox
        .wait_for(WAIT, |v| v.original_message(during).filter(|m| m.content.ends_with("%)")).map(|_| ()))
        .await
        .expect("the task shows progress");
    let before = w.sandbox.stats();
    fault.inject(&w);
    // A command sent while a resumable session is down waits for RESUME, as on Discord.
    let in_gap = if fault.resumable() { Some(w.imagine(alice, "a harbour at dawn").await) } else { None };
    wait_back(&w, fault, &before).await;
    let grid = w.final_original(during).await;
    assert_grid(&grid, "a lighthouse in a storm", alice);
    if let Some(id) = in_gap {
        assert_grid(&w.final_original(id).await, "a harbour at dawn", alice);
    }

    // Between tasks.
    let before = w.sandbox.stats();
    fault.inject(&w);
    wait_back(&w, fault, &before).await;
    let after = w.final_original(w.imagine(alice, "a castle in fog").await).await;
    assert_grid(&after, "a castle in fog", alice);

    // Buttons on a message from before both faults still work.
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U3")).await.unwrap();
    let up = w.final_message_with("- Image #3").await;
    assert!(up.content.starts_with("**a lighthouse in a storm**"), "{}", up.content);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_7_reconnect_mid_task_and_between_tasks() {
    survives(Fault::Reconnect).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_9_invalid_session_mid_task_and_between_tasks() {
    survives(Fault::InvalidSession).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_mid_task_and_between_tasks() {
    survives(Fault::Drop).await;
}
