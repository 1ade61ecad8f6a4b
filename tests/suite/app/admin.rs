//! The gate at the app level, on real SQLite: daily quotas on an injected clock (reset at UTC
//! midnight), the most generous role, an admin's override, the running cap per role enforced by
//! the scheduler, pause and bans kept across a restart, banned words with their exceptions, the
//! audit, the guild and channel allow-lists and DMs, and the config checks behind them.

use std::time::Duration;

use easel::admin::quota::{QuotaOverride, QuotaSource};
use easel::admin::{Ask, Refusal};
use easel::app::{App, Refused, Requester};
use easel::base::TaskState;
use easel::base::{Clock, DAY_MS, day_start};
use easel::config::{BackendConfig, Config, QuotaConfig};
use easel::prompt::Aspect;
use easel::tasks::events::EventKind;

pub(super) const WAIT: Duration = Duration::from_secs(60);
/// 2030-03-17T23:00:00Z: an hour before a UTC midnight.
const LATE_EVENING: i64 = 1_900_018_800_000;

pub(super) fn config(dir: &tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("easel.db").display());
    config.storage.dir = dir.path().join("images");
    let mut demo = BackendConfig::demo("demo");
    demo.set("image_size", 64);
    demo.set("step_ms", 0);
    config.backends = vec![demo];
    tweak(&mut config);
    config
}

/// A member in guild 1, channel 2, with these roles.
pub(super) fn member(id: &str, roles: &[u64]) -> Requester {
    Requester {
        user_id: id.into(),
        guild_id: Some("1".into()),
        channel_id: Some("2".into()),
        roles: roles.to_vec(),
        ..Requester::default()
    }
}

/// What /imagine does before it defers, then queues: the gate and the prompt, then the tasks.
async fn imagine(app: &App, who: &Requester, prompt: &str) -> Result<Vec<i64>, Refused> {
    let ticket = app.check_imagine(prompt, None, who).await?;
    Ok(app.queue(ticket).await?.iter().map(|t| t.id).collect())
}

fn refusal(e: Refused) -> Refusal {
    match e {
        Refused::Gate(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_daily_quota_resets_at_utc_midnight_on_the_apps_clock() {
    assert_eq!(day_start(LATE_EVENING) + DAY_MS - LATE_EVENING, 3_600_000, "an hour before midnight");
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(LATE_EVENING);
    let app =
        App::build_with_clock(config(&dir, |c| c.limits.per_user_daily = 2), clock.clone()).await.unwrap();
    let alice = member("alice", &[]);

    imagine(&app, &alice, "one").await.unwrap();
    // A permutation that would go past the limit is refused whole, naming how many fit.
    let r = refusal(imagine(&app, &alice, "{red, blue} bird").await.unwrap_err());
    assert!(r.to_string().contains("This asks for 2 images, and you have used 1 of your 2"), "{r}");
    imagine(&app, &alice, "two").await.unwrap();

    let midnight = day_start(LATE_EVENING) + DAY_MS;
    let r = refusal(imagine(&app, &alice, "three").await.unwrap_err());
    assert!(
        matches!(r, Refusal::DailyLimit { used: 2, limit: 2, asked: 1, resets_at } if resets_at == midnight),
        "{r:?}"
    );
    assert_eq!(
        r.to_string(),
        format!(
            "You have used 2 of your 2 images for today. Your quota resets at 00:00 UTC (<t:{}:R>).",
            midnight / 1000
        )
    );
    let info = app.info(&alice).await.unwrap();
    assert_eq!((info.today, info.daily_limit), (2, Some(2)));

    // One minute past midnight: a new day, a fresh quota.
    clock.advance(Duration::from_secs(3_660));
    imagine(&app, &alice, "three").await.unwrap();
    let info = app.info(&alice).await.unwrap();
    assert_eq!(info.today, 1, "yesterday's tasks no longer count");
    assert!(easel::discord::panels::info(&info).contains("**Usage** 1 of 2 today (resets at 00:00 UTC)"));
}

#[tokio::test]
async fn the_most_generous_role_wins_and_an_admin_override_beats_roles() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build_with_clock(
        config(&dir, |c| {
            c.limits.per_user_daily = 1;
            c.limits.per_user_running = 3;
            c.quotas = vec![
                QuotaConfig { role_id: 10, daily_limit: 3, running_cap: Some(1) },
                QuotaConfig { role_id: 20, daily_limit: 8, running_cap: Some(2) },
                QuotaConfig { role_id: 30, daily_limit: 0, running_cap: None },
            ];
        }),
        Clock::manual(LATE_EVENING),
    )
    .await
    .unwrap();
    let quota = |roles: &'static [u64]| {
        let app = &app;
        async move { app.gate.quota_for(&member("m", roles)).await.unwrap() }
    };
    let q = quota(&[10, 20]).await;
    assert_eq!((q.daily_limit, q.running_cap, q.source), (Some(8), 2, QuotaSource::Roles));
    assert_eq!(quota(&[10, 30]).await.daily_limit, None, "an unlimited role beats any number");
    assert_eq!(quota(&[30]).await.running_cap, 3, "no running_cap: the default");
    let q = quota(&[99]).await;
    assert_eq!((q.daily_limit, q.running_cap, q.source), (Some(1), 3, QuotaSource::Defaults));

    // The gate applies the role's numbers: a member with role 10 gets three a day, not one.
    let ten = member("ten", &[10]);
    for n in 0..3 {
        imagine(&app, &ten, &format!("picture {n}")).await.unwrap();
    }
    let r = refusal(imagine(&app, &ten, "one more").await.unwrap_err());
    assert!(r.to_string().contains("You have used 3 of your 3 images"), "{r}");

    // An admin's override, number by number; 0 = unlimited; nothing = back to the roles.
    let o = QuotaOverride { daily_limit: Some(5), running_cap: None };
    app.gate.set_quota_override("ten", o, "admin").await.unwrap();
    let q = app.gate.quota_for(&ten).await.unwrap();
    assert_eq!((q.daily_limit, q.running_cap, q.source), (Some(5), 1, QuotaSource::Override));
    imagine(&app, &ten, "one more").await.unwrap();
    let o = QuotaOverride { daily_limit: Some(0), running_cap: Some(4) };
    app.gate.set_quota_override("ten", o, "admin").await.unwrap();
    let q = app.gate.quota_for(&ten).await.unwrap();
    assert_eq!((q.daily_limit, q.running_cap), (None, 4));
    app.gate.set_quota_override("ten", QuotaOverride::default(), "admin").await.unwrap();
    assert_eq!(app.gate.quota_for(&ten).await.unwrap().source, QuotaSource::Roles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_holds_each_member_to_their_roles_running_cap() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(config(&dir, |c| {
        // Slow enough that nothing finishes while we look; slots for everyone.
        c.backends[0].set("step_ms", 60_000);
        c.backends[0].concurrency = Some(8);
        c.limits.per_user_running = 1;
        c.quotas = vec![QuotaConfig { role_id: 7, daily_limit: 0, running_cap: Some(2) }];
    }))
    .await
    .unwrap();
    let (vip, plain) = (member("vip", &[7]), member("plain", &[]));
    let mut vips = Vec::new();
    for n in 0..3 {
        vips.extend(imagine(&app, &vip, &format!("vip {n}")).await.unwrap());
    }
    let mut plains = Vec::new();
    for n in 0..2 {
        plains.extend(imagine(&app, &plain, &format!("plain {n}")).await.unwrap());
    }
    let mut events = app.engine.subscribe();
    app.start();
    let mut started = Vec::new();
    let mut wait_started = async |id: Option<i64>, started: &mut Vec<i64>| loop {
        let ev = tokio::time::timeout(WAIT, events.recv()).await.expect("a task starts").unwrap();
        if matches!(ev.kind, EventKind::Started) {
            started.push(ev.task_id);
            if id.is_none_or(|id| id == ev.task_id) {
                return;
            }
        }
    };
    for _ in 0..3 {
        wait_started(None, &mut started).await;
    }
    // One more member's task starting proves the scheduler has looked at the queue again.
    let other = imagine(&app, &member("other", &[]), "other").await.unwrap()[0];
    wait_started(Some(other), &mut started).await;
    started.sort_unstable();
    assert_eq!(started, [vips[0], vips[1], plains[0], other], "two for the role, one for the rest");
    let store = &app.db;
    for id in [vips[2], plains[1]] {
        assert_eq!(store.task(id).await.unwrap().unwrap().state, TaskState::Queued, "task {id} waits");
    }

    // When one of the VIP's two finishes, their third starts; the plain member still waits.
    app.engine.cancel(vips[0], "vip", false).await.unwrap();
    wait_started(Some(vips[2]), &mut started).await;
    assert_eq!(store.task(plains[1]).await.unwrap().unwrap().state, TaskState::Queued);
    app.engine.shutdown(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_the_queue_lets_running_tasks_finish_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, |c| {
        c.backends[0].set("step_ms", 100);
        c.backends[0].concurrency = Some(1);
    });
    let alice = member("alice", &[]);
    {
        let app = App::build(cfg.clone()).await.unwrap();
        let first = imagine(&app, &alice, "first").await.unwrap()[0];
        let second = imagine(&app, &alice, "second").await.unwrap()[0];
        let mut events = app.engine.subscribe();
        app.start();
        loop {
            let ev = tokio::time::timeout(WAIT, events.recv()).await.unwrap().unwrap();
            if ev.task_id == first && matches!(ev.kind, EventKind::Started) {
                break;
            }
        }
        assert!(app.gate.set_paused(true, "admin").await.unwrap());
        assert!(!app.gate.set_paused(true, "admin").await.unwrap(), "already paused");
        // New work is refused; reading is not.
        let r = refusal(imagine(&app, &alice, "third").await.unwrap_err());
        assert!(matches!(r, Refusal::Paused), "{r:?}");
        assert!(r.to_string().starts_with("Easel is paused by an admin"), "{r}");
        app.gate.admit(&alice, Ask::Use).await.unwrap();
        // The running task finishes; the waiting one waits.
        let done = app.engine.wait_final(first, WAIT).await.unwrap();
        assert_eq!(done.state, TaskState::Succeeded);
        let store = &app.db;
        assert_eq!(store.task(second).await.unwrap().unwrap().state, TaskState::Queued);
        let bob = member("bob", &[]);
        app.gate.admit(&bob, Ask::Use).await.unwrap();
        assert!(app.gate.ban("bob", "admin", Some("spam")).await.unwrap());
        assert!(!app.gate.ban("bob", "admin", None).await.unwrap(), "already barred");
        // The gate remembers members it has seen; a ban reaches it at once.
        assert!(matches!(app.gate.admit(&bob, Ask::Use).await, Err(Refusal::Banned)));
        app.engine.shutdown(Duration::from_secs(5)).await;
    }

    // A second Easel on the same database: still paused, Bob still barred.
    let app = App::build(cfg).await.unwrap();
    assert!(app.engine.is_paused());
    assert!(app.status().await.unwrap().paused);
    let bob = member("bob", &[]);
    assert!(matches!(app.gate.admit(&bob, Ask::Use).await, Err(Refusal::Banned)));
    let r = refusal(imagine(&app, &bob, "hello").await.unwrap_err());
    assert!(r.to_string().starts_with("An admin has barred you from using Easel"), "{r}");
    assert_eq!(app.db.ban_of("bob").await.unwrap().unwrap().reason.as_deref(), Some("spam"));
    assert_eq!(app.status().await.unwrap().bans, 1);
    // Resume: the waiting task runs; Bob, readmitted, may imagine again.
    let queued = app.db.unfinished_of("alice").await.unwrap();
    assert_eq!(queued.len(), 1);
    app.start();
    assert!(app.gate.set_paused(false, "admin").await.unwrap());
    assert_eq!(app.engine.wait_final(queued[0].id, WAIT).await.unwrap().state, TaskState::Succeeded);
    assert!(app.gate.unban("bob", "admin").await.unwrap());
    assert!(!app.gate.unban("bob", "admin").await.unwrap());
    imagine(&app, &bob, "hello").await.unwrap();
    app.engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn banned_words_name_the_word_exceptions_pass_and_every_prompt_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(config(&dir, |c| {
        c.moderation.banned_words = vec![r"\bgore\b".into(), "nud".into()];
        c.moderation.allowed_words = vec![r"nudibranch\w*".into()];
    }))
    .await
    .unwrap();
    let alice = member("alice", &[]);
    let r = refusal(imagine(&app, &alice, "a scene full of GORE --ar 3:2").await.unwrap_err());
    assert_eq!(
        r.to_string(),
        "Your prompt was not accepted: `GORE` is not allowed on this server. Take it out or reword it, \
         and try again."
    );
    imagine(&app, &alice, "nudibranchs on a reef, a gorge").await.unwrap();
    let r = refusal(imagine(&app, &alice, "a nudibranch and a nude").await.unwrap_err());
    assert!(r.to_string().contains("`nud` is not allowed"), "{r}");
    // /blend and /describe have no prompt; they are audited with an empty one (this one given
    // up on after the gate, so nothing was queued).
    let blend = app.check_blend(&alice, Aspect { w: 1, h: 1 }).await.unwrap();
    app.abandon(blend).await;
    // Reading commands are not prompts: no audit row.
    app.gate.admit(&alice, Ask::Use).await.unwrap();

    let rows = app.db.audit_recent(10).await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>, &str)> = rows
        .iter()
        .rev()
        .map(|r| (r.command.as_str(), r.verdict.as_str(), r.reason.as_deref(), r.prompt.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("imagine", "refused", Some("banned-word:GORE"), "a scene full of GORE --ar 3:2"),
            ("imagine", "accepted", None, "nudibranchs on a reef, a gorge"),
            ("imagine", "refused", Some("banned-word:nud"), "a nudibranch and a nude"),
            ("blend", "refused", Some("abandoned"), ""),
        ]
    );
    assert!(rows.iter().all(|r| r.user_id == "alice"
        && r.guild_id.as_deref() == Some("1")
        && r.channel_id.as_deref() == Some("2")
        && r.at > 0));
}

#[tokio::test]
async fn guild_and_channel_allow_lists_and_direct_messages() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(config(&dir, |c| {
        c.discord.allowed_guilds = vec![1];
        c.discord.allowed_channels = vec![2, 3];
    }))
    .await
    .unwrap();
    let at = |guild: Option<&str>, channel: &str| Requester {
        user_id: "alice".into(),
        guild_id: guild.map(str::to_string),
        channel_id: Some(channel.into()),
        ..Requester::default()
    };
    app.gate.admit(&at(Some("1"), "3"), Ask::Use).await.unwrap();
    assert!(matches!(app.gate.admit(&at(Some("9"), "2"), Ask::Use).await, Err(Refusal::Guild)));
    let r = app.gate.admit(&at(Some("1"), "5"), Ask::create("imagine", "a cat", 1)).await.unwrap_err();
    assert_eq!(r.to_string(), "Easel can't be used in this channel. Try <#2>, <#3>.");
    let r = app.gate.admit(&at(None, "77"), Ask::Use).await.unwrap_err();
    assert!(r.to_string().starts_with("Easel doesn't take commands in direct messages"), "{r}");
    let reasons: Vec<Option<String>> =
        app.db.audit_recent(10).await.unwrap().into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons, [Some("channel-not-allowed".to_string())], "only the prompt is audited");
    drop(app);

    // With DMs allowed, a DM passes (the guild and channel lists are about servers).
    let app = App::build(config(&dir, |c| {
        c.discord.allow_dms = true;
        c.discord.allowed_guilds = vec![1];
    }))
    .await
    .unwrap();
    app.gate.admit(&at(None, "77"), Ask::create("imagine", "a cat", 1)).await.unwrap();
}

#[test]
fn the_config_names_bad_patterns_and_quota_entries() {
    let dir = tempfile::tempdir().unwrap();
    let load = |toml: &str| {
        let path = dir.path().join("easel.toml");
        std::fs::write(&path, toml).unwrap();
        // As `easel check-config` checks: the word filter's patterns where the filter is built.
        easel::config::load_from(Some(&path), Vec::new())
            .and_then(|c| easel::app::check_config(&c).map(|_| c))
    };
    let e = load("[moderation]\nbanned_words = ['ok', '(oops']\n").unwrap_err();
    assert_eq!(e.key, "moderation.banned_words[1]");
    assert!(e.message.contains("`(oops` is not a valid regular expression"), "{e}");
    let e = load("[moderation]\nallowed_words = ['x?']\n").unwrap_err();
    assert_eq!(e.key, "moderation.allowed_words[0]");
    assert!(e.message.contains("matches an empty prompt"), "{e}");
    let e = load("[[quotas]]\nrole_id = 5\nrunning_cap = 0\n").unwrap_err();
    assert_eq!(e.key, "quotas[0].running_cap");
    let e = load("[[quotas]]\nrole_id = 5\n[[quotas]]\nrole_id = 5\ndaily_limit = 3\n").unwrap_err();
    assert_eq!(e.key, "quotas[1].role_id");
    assert!(e.message.contains("already has a quota in quotas[0]"), "{e}");
    let e = load("[[quotas]]\nrole = 5\n").unwrap_err();
    assert!(e.to_string().contains("role_id"), "{e}");

    let c = load(
        "[discord]\nallow_dms = true\nallowed_channels = [7]\n[limits]\nper_user_daily = 20\n\
         [[quotas]]\nrole_id = 5\ndaily_limit = 50\nrunning_cap = 3\n[moderation]\nbanned_words = ['\\bgore\\b']\n",
    )
    .unwrap();
    assert!(c.discord.allow_dms);
    assert_eq!(c.limits.per_user_daily, 20);
    assert_eq!(c.quotas, [QuotaConfig { role_id: 5, daily_limit: 50, running_cap: Some(3) }]);
    assert_eq!(c.moderation.banned_words, [r"\bgore\b"]);
    // The same from the environment.
    let env = [
        ("EASEL__QUOTAS".to_string(), "[{role_id = 9, daily_limit = 4}]".to_string()),
        ("EASEL__DISCORD__ALLOWED_GUILDS".to_string(), "[1, 2]".to_string()),
        ("EASEL__MODERATION__BANNED_WORDS".to_string(), r#"["gore", "nsfw"]"#.to_string()),
    ];
    let c = easel::config::load_from(None, env).unwrap();
    assert_eq!(c.quotas, [QuotaConfig { role_id: 9, daily_limit: 4, running_cap: None }]);
    assert_eq!(c.discord.allowed_guilds, [1, 2]);
    assert_eq!(c.moderation.banned_words, ["gore", "nsfw"]);
}
