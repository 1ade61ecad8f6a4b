//! A member's limits hold when their commands arrive all at once, through the sandbox: the
//! running and waiting caps, and the daily quota for /imagine and /describe. Exactly what
//! fits is accepted, everything else is refused privately with the member's numbers, and a
//! member's own tasks start — and stand in line — in the order they arrived. Each test runs
//! on SQLite and on PostgreSQL (`engine::limits::postgres::…`), whose submits serialise per
//! member with an advisory lock instead of SQLite's single writer.

use crate::support;
use crate::support::postgres::{Which, on_both_databases, url_for};

use easel::base::TaskState;
use easel::sandbox::{CommandOption, SandboxView};
use easel::tasks::events::EventKind;
use support::flows::png;
use support::world::{Backend, WAIT, World};

on_both_databases!(
    thirty_imagines_at_once_get_exactly_the_caps_and_start_in_the_order_they_arrived,
    eight_imagines_at_once_under_a_daily_limit_of_two_create_two,
    eight_describes_at_once_under_a_daily_limit_of_two_create_two,
);

/// Starts the world's Easel on a fresh database on `which`; `None` when that is PostgreSQL
/// and no server is available (the test skips).
async fn start_on(which: Which, w: &mut World) -> Option<std::sync::Arc<easel::app::App>> {
    w.config.database.url = url_for(which, w.dir.path()).await?;
    Some(w.start_in_process().await)
}

/// How each command of a burst ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// A public message that starts with the task's own line (`**prompt** - <@member>`).
    Accepted,
    /// A private answer, with its words.
    Refused(String),
}

/// How interaction `id` ended, once it has: a public message of its task (whose content
/// starts with `task_line`) or a private answer.
fn answer(v: &SandboxView<'_>, id: u64, task_line: &str) -> Option<Answer> {
    let mut ours = v.messages().iter().filter(|m| m.interaction_id == Some(id) && !m.loading);
    ours.find_map(|m| match m.is_ephemeral() {
        false if m.content.starts_with(task_line) => Some(Answer::Accepted),
        true => Some(Answer::Refused(m.content.clone())),
        false => None,
    })
}

/// Waits until every interaction of the burst has ended; returns how many were accepted and
/// the words of each refusal.
async fn answers(w: &World, ids: &[u64], task_line: &str) -> (usize, Vec<String>) {
    let all = w
        .sandbox
        .wait_for(WAIT, |v| ids.iter().map(|id| answer(v, *id, task_line)).collect::<Option<Vec<_>>>())
        .await
        .unwrap_or_else(|_| panic!("not every command was answered:\n{}", w.sandbox.summary()));
    let accepted = all.iter().filter(|a| **a == Answer::Accepted).count();
    let refused = all.into_iter().filter_map(|a| match a {
        Answer::Refused(words) => Some(words),
        Answer::Accepted => None,
    });
    (accepted, refused.collect())
}

async fn thirty_imagines_at_once_get_exactly_the_caps_and_start_in_the_order_they_arrived(which: Which) {
    // Slow enough that nothing finishes during the burst: only the caps decide.
    let mut w = World::new(Backend::Demo { step_ms: 60_000 }, |c| {
        c.backends[0].concurrency = Some(3);
        c.limits.per_user_running = 3;
        c.limits.per_user_queued = 10;
    })
    .await;
    let Some(app) = start_on(which, &mut w).await else { return };
    let alice = w.sandbox.add_user("alice");
    let mut events = app.engine.subscribe();

    let prompts: Vec<String> = (0..30).map(|i| format!("burst {i}")).collect();
    let ids = futures::future::join_all(prompts.iter().map(|p| w.imagine(alice, p))).await;
    let (accepted, refusals) = answers(&w, &ids, "**burst ").await;
    assert_eq!((accepted, refusals.len()), (13, 17), "3 running + 10 waiting accepted: {refusals:#?}");
    for r in &refusals {
        assert!(
            r.starts_with("You already have 10 tasks waiting; each member may have 10 waiting and 3 running"),
            "{r}"
        );
    }

    let mut accepted: Vec<i64> =
        app.db.unfinished_of(&alice.to_string()).await.unwrap().iter().map(|t| t.id).collect();
    accepted.sort_unstable();
    assert_eq!(accepted.len(), 13, "exactly what fits was created");

    // Those waiting stand in line in the order they arrived.
    for (rank, id) in accepted.iter().enumerate().skip(3) {
        let task = app.db.task(*id).await.unwrap().unwrap();
        if task.state == TaskState::Queued {
            let place = app.engine.queue_place(&task).await.unwrap().expect("a waiting task has a place");
            assert_eq!(place.place, rank - 2, "task {id} of {accepted:?}");
        }
    }

    // They start in that order too: each time the oldest running one is canceled, the next
    // one starts.
    let mut started: Vec<i64> = Vec::new();
    let mut canceled = 0;
    loop {
        while started.len() < (canceled + 3).min(accepted.len()) {
            let ev = tokio::time::timeout(WAIT, events.recv()).await.expect("the next task starts").unwrap();
            if matches!(ev.kind, EventKind::Started) {
                started.push(ev.task_id);
            }
        }
        if started.len() == accepted.len() {
            break;
        }
        let oldest = started[canceled];
        w.sandbox.slash(alice, "cancel", vec![CommandOption::integer("task", oldest)]).await.unwrap();
        canceled += 1;
    }
    assert_eq!(started, accepted, "alice's tasks start in the order they arrived");
    w.assert_no_violations();
}

async fn eight_imagines_at_once_under_a_daily_limit_of_two_create_two(which: Which) {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| c.limits.per_user_daily = 2).await;
    let Some(app) = start_on(which, &mut w).await else { return };
    let alice = w.sandbox.add_user("alice");

    let prompts: Vec<String> = (0..8).map(|i| format!("daily {i}")).collect();
    let ids = futures::future::join_all(prompts.iter().map(|p| w.imagine(alice, p))).await;
    let (accepted, refusals) = answers(&w, &ids, "**daily ").await;
    assert_eq!((accepted, refusals.len()), (2, 6), "{refusals:#?}");
    for r in &refusals {
        assert!(r.starts_with("You have used 2 of your 2 images for today. Your quota resets at"), "{r}");
    }
    assert_eq!(app.db.in_states(&TaskState::ALL).await.unwrap().len(), 2, "exactly two tasks were created");
    w.assert_no_violations();
}

async fn eight_describes_at_once_under_a_daily_limit_of_two_create_two(which: Which) {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| c.limits.per_user_daily = 2).await;
    let Some(app) = start_on(which, &mut w).await else { return };
    let alice = w.sandbox.add_user("alice");

    let describe = |i: u8| {
        let image = w.sandbox.upload(&format!("cat{i}.png"), "image/png", png(i));
        w.sandbox.slash(alice, "describe", vec![CommandOption::attachment("image", &image)])
    };
    let ids: Vec<u64> =
        futures::future::join_all((0..8).map(describe)).await.into_iter().map(Result::unwrap).collect();
    let (accepted, refusals) = answers(&w, &ids, "**/describe** - ").await;
    assert_eq!((accepted, refusals.len()), (2, 6), "{refusals:#?}");
    for r in &refusals {
        assert!(r.starts_with("You have used 2 of your 2 images for today. Your quota resets at"), "{r}");
    }
    assert_eq!(app.db.in_states(&TaskState::ALL).await.unwrap().len(), 2, "exactly two tasks were created");
    w.assert_no_violations();
}
