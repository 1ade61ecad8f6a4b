//! The fair, visible queue: round-robin across members, the per-member caps with refusals
//! that name the numbers, places in line on waiting messages, Cancel (button and /cancel) in
//! each state and for whom, and the /info and /queue panels — through the sandbox.

use crate::support;

use easel::app::{App, Requester};
use easel::config::{BackendConfig, Config};
use easel::sandbox::{CommandOption, Message};
use easel::tasks::events::EventKind;
use support::flows::ephemeral_with;
use support::world::{Backend, WAIT, World};

fn cancel_id(m: &Message) -> String {
    m.buttons()
        .find(|b| b.label.as_deref() == Some("Cancel"))
        .and_then(|b| b.custom_id.clone())
        .unwrap_or_else(|| panic!("no Cancel button on {:?}", m.content))
}

fn task_id(m: &Message) -> i64 {
    cancel_id(m).split(':').nth(2).unwrap().parse().unwrap()
}

/// Waits for the original message of `interaction` to contain `needle`.
async fn original_with(w: &World, interaction: u64, needle: &str) -> Message {
    w.sandbox
        .wait_for(WAIT, |v| v.original_message(interaction).filter(|m| m.content.contains(needle)).cloned())
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} on the message:\n{}", w.sandbox.summary()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_six_queued_does_not_delay_another_members_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("easel.db").display());
    config.storage.dir = dir.path().join("images");
    let mut demo = BackendConfig::demo("demo");
    demo.set("image_size", 64);
    demo.set("step_ms", 0);
    demo.concurrency = Some(1);
    config.backends = vec![demo];
    let app = App::build(config).await.unwrap();
    let (a, b) = (
        Requester { user_id: "a".into(), ..Default::default() },
        Requester { user_id: "b".into(), ..Default::default() },
    );
    let mut a_tasks = Vec::new();
    for i in 0..6 {
        a_tasks.push(app.imagine(&format!("a's picture {i}"), None, &a).await.unwrap()[0].id);
    }
    let b_task = app.imagine("b's only picture", None, &b).await.unwrap()[0].id;
    let mut events = app.engine.subscribe();
    app.start();
    let mut started = Vec::new();
    while started.len() < 7 {
        let ev = tokio::time::timeout(WAIT, events.recv()).await.expect("tasks start").unwrap();
        if matches!(ev.kind, EventKind::Started) {
            started.push(ev.task_id);
        }
    }
    let at = |id| started.iter().position(|t| *t == id).unwrap();
    assert!(at(b_task) < at(a_tasks[3]), "B's one task starts before A's fourth: {started:?}");
    assert_eq!(at(b_task), 1, "right after A's first: {started:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_places_in_line_cancel_and_the_panels() {
    // One slot, and a demo slow enough that the first task is still running when we look.
    let mut w = World::new(Backend::Demo { step_ms: 60_000 }, |c| {
        c.backends[0].concurrency = Some(1);
        c.limits.per_user_running = 1;
        c.limits.per_user_queued = 2;
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let carol = w.sandbox.add_admin("carol");

    let one = original_with(&w, w.imagine(alice, "one").await, "(0%)").await;
    let two = original_with(&w, w.imagine(alice, "two").await, "(Waiting to start: #1 in queue)").await;
    let three_slash = w.imagine(alice, "three").await;
    let three = original_with(&w, three_slash, "(Waiting to start: #2 in queue)").await;
    assert_eq!(one.labels(), ["Cancel"]);

    // The waiting cap: refused privately, naming the numbers, and nothing queued.
    let four = w.imagine(alice, "four").await;
    let refusal = original_with(&w, four, "You already have 2 tasks waiting").await;
    assert_eq!(refusal.ephemeral_for, Some(alice));
    assert!(
        refusal.content.contains("each member may have 2 waiting and 1 running at a time"),
        "{}",
        refusal.content
    );

    // Round-robin: Bob's first task goes ahead of Alice's second waiting one.
    let bobs = original_with(&w, w.imagine(bob, "bob's").await, "(Waiting to start: #2 in queue)").await;

    // Cancel a waiting task with its button.
    w.sandbox.click(alice, three.id, &cancel_id(&three)).await.unwrap();
    original_with(&w, three_slash, "(Canceled)").await;

    // Someone else's task: refused to a member, allowed to an admin.
    w.sandbox.click(bob, two.id, &cancel_id(&two)).await.unwrap();
    ephemeral_with(&w, bob, &format!("Task {} belongs to <@{alice}>", task_id(&two))).await;
    w.sandbox.click(carol, bobs.id, &cancel_id(&bobs)).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| v.message(bobs.id).filter(|m| m.content.ends_with("(Canceled)")).cloned())
        .await
        .unwrap();

    // /info before the running task goes away.
    w.sandbox.slash(alice, "info", vec![]).await.unwrap();
    let info = ephemeral_with(&w, alice, "**Your Easel**").await;
    assert!(
        info.content.contains(&format!("`{}` one — running, 0% on `demo`", task_id(&one))),
        "{}",
        info.content
    );
    assert!(
        info.content.contains(&format!("`{}` two — waiting on `demo`", task_id(&two))),
        "{}",
        info.content
    );
    // "three", canceled while it waited, does not count against the day.
    assert!(info.content.contains("**Usage** 2 today · up to 1 running and 2 waiting"), "{}", info.content);
    assert!(info.content.contains("`demo` 🟢 up"), "{}", info.content);
    w.sandbox.slash(bob, "queue", vec![]).await.unwrap();
    let queue = ephemeral_with(&w, bob, "**Queue**").await;
    assert!(queue.content.contains("`demo` 🟢 up — 1 running, 1 waiting"), "{}", queue.content);

    // /cancel of the running task stops it; the next one starts.
    let running = task_id(&one);
    w.sandbox.slash(alice, "cancel", vec![CommandOption::integer("task", running)]).await.unwrap();
    ephemeral_with(&w, alice, &format!("Canceled task {running} (it was running).")).await;
    w.sandbox
        .wait_for(WAIT, |v| v.message(one.id).filter(|m| m.content.ends_with("(Canceled)")).cloned())
        .await
        .unwrap();
    w.sandbox
        .wait_for(WAIT, |v| v.message(two.id).filter(|m| m.content.contains("(0%)")).cloned())
        .await
        .unwrap();

    // A finished task cannot be canceled again; /cancel alone takes the newest unfinished.
    w.sandbox.slash(alice, "cancel", vec![CommandOption::integer("task", running)]).await.unwrap();
    ephemeral_with(&w, alice, &format!("Task {running} has already finished")).await;
    w.sandbox.slash(alice, "cancel", vec![]).await.unwrap();
    ephemeral_with(&w, alice, &format!("Canceled task {} (it was running).", task_id(&two))).await;
    let app = w.app().unwrap();
    assert!(app.db.unfinished_of(&alice.to_string()).await.unwrap().is_empty());
    w.assert_no_violations();
}
