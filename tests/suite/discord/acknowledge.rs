//! A press never runs unseen: its acknowledgement goes to Discord before anything is queued,
//! so when Discord does not take it (too late, or an error), nothing is queued and nothing is
//! spent — the member saw nothing, and nothing happens.

use std::time::Duration;

use crate::support;

use easel::sandbox::RouteKind;
use support::flows::click_id;
use support::world::{Backend, WAIT, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_whose_acknowledgement_fails_queues_nothing() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    let app = w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a lighthouse at dusk").await).await;
    let user = alice.to_string();
    let before = app.db.tasks_counted(&user, 0, i64::MAX).await.unwrap();

    // Discord refuses the next acknowledgement (as it does one that comes too late).
    w.sandbox.fail_next(RouteKind::InteractionCallback, 1, 400).unwrap();
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U1")).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| (v.stats().injected_failures_total == 1).then_some(()))
        .await
        .expect("the press was acknowledged, and Discord refused it");
    // The press is written off in the audit once the acknowledgement has failed.
    let abandoned = async {
        // The audit has no event to wait on: look again every few milliseconds, up to the timeout.
        let mut again = tokio::time::interval(Duration::from_millis(10));
        loop {
            again.tick().await;
            let rows = app.db.audit_recent(10).await.unwrap();
            if rows.iter().any(|r| r.command == "button" && r.reason.as_deref() == Some("abandoned")) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), abandoned)
        .await
        .expect("the press is audited as abandoned");
    assert_eq!(app.db.tasks_counted(&user, 0, i64::MAX).await.unwrap(), before, "nothing was queued");
    assert!(app.db.unfinished_of(&user).await.unwrap().is_empty());

    // The same press, acknowledged this time, works.
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U1")).await.unwrap();
    w.final_message_with(&format!("- Image #1 <@{alice}>")).await;
}
