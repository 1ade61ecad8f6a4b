//! The prompt audit tells what actually came of each request, and a row stays small whatever
//! the member's /prefer options blow a prompt up to.

use easel::admin::AUDIT_PROMPT_CHARS;
use easel::app::{App, Child, Refused};
use easel::base::TaskState;

use super::admin::{WAIT, config, member};

#[tokio::test]
async fn a_prompt_blown_up_by_prefer_options_is_audited_as_refused_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(config(&dir, |_| {})).await.unwrap();
    let alice = member("alice", &[]);
    app.prefs.set_option("alice", "x", &"paint ".repeat(83)).await.unwrap().unwrap();
    // 1,500 uses of a 500-character option: a 6,000-character prompt that expands to 750 KB.
    let raw = "--x ".repeat(1_500);
    for _ in 0..3 {
        let refused = app.check_imagine(raw.trim(), None, &alice).await.unwrap_err();
        assert!(refused.to_string().contains("the limit is 6000"), "{refused}");
    }
    let rows = app.db.audit_recent(10).await.unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!((row.verdict.as_str(), row.reason.as_deref()), ("refused", Some("prompt-too-long")));
        assert!(row.prompt.len() < AUDIT_PROMPT_CHARS + 40, "a row of {} bytes", row.prompt.len());
        assert!(row.prompt.ends_with(" bytes)"), "{}", &row.prompt[row.prompt.len() - 40..]);
    }
}

#[tokio::test]
async fn presses_refused_by_the_owner_only_rule_are_audited_as_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(config(&dir, |c| c.discord.buttons_owner_only = true)).await.unwrap();
    let _engine = app.start();
    let (alice, bob) = (member("alice", &[]), member("bob", &[]));
    let ticket = app.check_imagine("a lighthouse", None, &alice).await.unwrap();
    let grid = app.queue(ticket).await.unwrap().remove(0);
    assert_eq!(app.engine.wait_final(grid.id, WAIT).await.unwrap().state, TaskState::Succeeded);

    let refused = app.check_press(&bob, grid.id, Child::Upscale { index: 0 }).await.unwrap_err();
    assert!(matches!(refused, Refused::NotOwner { .. }), "{refused:?}");
    let rows = app.db.audit_recent(10).await.unwrap();
    let seen: Vec<_> = rows
        .iter()
        .rev()
        .map(|r| (r.user_id.as_str(), r.command.as_str(), r.verdict.as_str(), r.reason.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [("alice", "imagine", "accepted", None), ("bob", "button", "refused", Some("not-owner"))]
    );
}

/// The slow-link race: four /describe pass the gate while their images are still downloading
/// (no task exists yet, so the gate's early count sees none), then all four try to queue.
/// The daily quota is counted again as the tasks are created, so exactly one gets through
/// and the others hear the quota, whatever the gate said before the download.
#[tokio::test]
async fn describes_admitted_during_a_slow_download_still_fit_the_daily_quota() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(config(&dir, |c| c.limits.per_user_daily = 1)).await.unwrap();
    let alice = member("alice", &[]);
    let mut tickets = Vec::new();
    for _ in 0..4 {
        tickets.push(app.check_describe(&alice).await.expect("the gate admits: nothing is stored yet"));
    }
    let image = crate::support::fake_openai::png(64, 64, 1);
    let mut queued = 0;
    for mut ticket in tickets {
        ticket.attach(vec![image.clone()]);
        match app.queue(ticket).await {
            Ok(tasks) => queued += tasks.len(),
            Err(refused) => {
                assert!(refused.to_string().contains("1 of your 1 images for today"), "{refused}")
            }
        }
    }
    assert_eq!(queued, 1, "one describe fits a daily limit of one");
    assert_eq!(app.db.unfinished_of("alice").await.unwrap().len(), 1);
}
