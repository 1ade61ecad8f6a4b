//! Soak run: many `/imagine` through the sandbox against the real `easel` binary (release
//! build) and a fake OpenAI-compatible service that fails every tenth call — in turn a 503
//! with Retry-After, a hang past `timeout_secs`, and JSON cut off midway — while the bot is
//! killed with SIGKILL twice and started again on the same database. Then it checks:
//!
//! - **0 lost**: every command has exactly one task, in a final state, and the member's
//!   message shows that state (the grid, or `(Failed)` with the task's code);
//! - **0 stuck**: no task is left queued, submitted or running;
//! - **0 submitted twice**: each task reached the service at most once per attempt (exactly
//!   once for tasks that succeeded), and no task that was at the service when the bot was
//!   killed was ever sent again after the restart (read from the database right after each
//!   kill, compared with what the fake received by then and at the end);
//! - no breach of Discord's rules, and the 429s the bot earned.
//!
//! `cargo bench --bench soak -- [--tasks 500] [--users 25] [--window 40] [--fault-every 10] [--wait-secs 900]`

#[allow(dead_code)]
#[path = "../tests/suite/support/fake_openai.rs"]
mod fake_openai;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use easel::base::{FailureCode, TaskState};
use easel::db::Db;
use easel::sandbox::{CommandOption, Message, Sandbox, SandboxOptions, SandboxView};
use fake_openai::{FakeOpenAi, Fault, FaultCycle, Knobs};

const KEY: &str = "sk-soak-3d1f0c9e8b7a6d5c4b3a";

struct Args {
    tasks: usize,
    users: usize,
    window: usize,
    fault_every: u64,
    /// How long any one wait may take before the run is declared stuck.
    wait: Duration,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: usize| {
        argv.iter()
            .position(|x| x == name)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Args {
        tasks: value("--tasks", 500),
        users: value("--users", 25),
        window: value("--window", 40),
        fault_every: value("--fault-every", 10) as u64,
        wait: Duration::from_secs(value("--wait-secs", 900) as u64),
    }
}

/// The member's prompt for command `i`: unique, so the fake's requests name their task.
fn prompt(i: usize) -> String {
    format!("soak {i:04} a quiet harbour at dusk")
}

/// As the test world judges it: no spinner, no progress, and a result or a failure shown.
fn is_final(m: &Message) -> bool {
    let progress = m.content.contains("%)") || m.content.contains("(Waiting to");
    !m.loading
        && !progress
        && (m.buttons().next().is_some() || !m.attachments.is_empty() || m.content.contains("(Failed)"))
}

/// The final message showing command `i`: its original response, or (after the 15-minute
/// token) a channel message with the same prompt.
fn shown<'a>(v: &'a SandboxView, i: usize, interaction: u64) -> Option<&'a Message> {
    let head = format!("**{}**", prompt(i));
    v.original_message(interaction)
        .filter(|m| is_final(m))
        .or_else(|| v.messages().iter().find(|m| m.content.starts_with(&head) && is_final(m)))
}

/// Marks the commands whose message has reached a final state (it stays final) and returns
/// how many are still open; checks only the open ones, since this runs on every change.
fn track(v: &SandboxView, ids: &[u64], done: &mut Vec<bool>) -> usize {
    done.resize(ids.len(), false);
    for (n, id) in ids.iter().enumerate() {
        if !done[n] && shown(v, n, *id).is_some() {
            done[n] = true;
        }
    }
    done.iter().filter(|d| !**d).count()
}

struct Bot {
    child: Child,
    starts: u32,
}

impl Drop for Bot {
    fn drop(&mut self) {
        // Never leave the bot running behind a failed run.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    async fn start(
        sandbox: &Sandbox,
        config: &std::path::Path,
        logs: &std::path::Path,
        n: u32,
    ) -> anyhow::Result<Child> {
        let identifies = sandbox.stats().identifies;
        let log = std::fs::File::create(logs.join(format!("bot-{n}.log")))?;
        let child = Command::new(env!("CARGO_BIN_EXE_easel"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn,easel=info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()?;
        sandbox
            .wait_for(Duration::from_secs(120), |v| {
                (v.stats().identifies > identifies && v.bot_connected()).then_some(())
            })
            .await
            .context("the bot connects")?;
        sandbox.wait_ready(Duration::from_secs(60)).await?;
        Ok(child)
    }
}

/// Generation requests the fake received so far, by prompt.
fn sent_by_prompt(fake: &FakeOpenAi) -> HashMap<String, usize> {
    let mut sent = HashMap::new();
    for r in fake.api_requests().iter().filter(|r| r.path == "/v1/images/generations") {
        let p = r.json.as_ref().and_then(|j| j["prompt"].as_str()).unwrap_or_default().to_string();
        *sent.entry(p).or_default() += 1;
    }
    sent
}

/// What a kill left behind: the tasks that were at the service, and what it had received.
struct KillSnapshot {
    at_task: usize,
    in_flight: Vec<(i64, String)>,
    sent: HashMap<String, usize>,
}

async fn snapshot_after_kill(db: &str, fake: &FakeOpenAi, at_task: usize) -> anyhow::Result<KillSnapshot> {
    let store = Db::open(db).await?;
    let active = store.in_states(&[TaskState::Submitted, TaskState::Running]).await?;
    store.close().await;
    let in_flight = active.into_iter().map(|t| (t.id, t.prompt.text.clone())).collect();
    Ok(KillSnapshot { at_task, in_flight, sent: sent_by_prompt(fake) })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // `cargo test --benches` lists benches; it must not start a soak.
    if std::env::args().any(|x| x == "--list") {
        return Ok(());
    }
    let a = args();
    let sandbox = Sandbox::start(SandboxOptions::default()).await?;
    let faults = vec![
        Fault::raw(503, r#"{"error":{"message":"overloaded","type":"server_error"}}"#)
            .with_header("retry-after", "1"),
        Fault::Hang,
        Fault::MalformedJson,
    ];
    let cycle = FaultCycle { every: a.fault_every, faults };
    let fake =
        FakeOpenAi::start(Knobs { api_key: Some(KEY.into()), fault_cycle: Some(cycle), ..Knobs::default() })
            .await;
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}/easel.db", dir.path().display());
    let started = Instant::now();
    let result = match drive(&a, &sandbox, &fake, dir.path(), &db).await {
        Ok((ids, kills)) => {
            let elapsed = started.elapsed();
            check(&a, &sandbox, &fake, &db, &ids, &kills).await.map(|report| (report, elapsed))
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((report, elapsed)) => {
            println!("{report}\n  took {:.1} s", elapsed.as_secs_f64());
            Ok(())
        }
        Err(e) => {
            // Keep the bot's logs and the database for a look.
            eprintln!("bot logs and database kept in {}", dir.keep().display());
            Err(e)
        }
    }
}

/// Runs the commands, killing and restarting the bot on the way; returns the interaction
/// ids in command order and what each kill left behind.
async fn drive(
    a: &Args,
    sandbox: &Sandbox,
    fake: &FakeOpenAi,
    dir: &std::path::Path,
    db: &str,
) -> anyhow::Result<(Vec<u64>, Vec<KillSnapshot>)> {
    let config = dir.join("easel.toml");
    std::fs::write(
        &config,
        format!(
            "[discord]\ntoken = \"{}\"\napi_base = \"{}\"\nguild_ids = [{}]\n\n[database]\nurl = \"{db}\"\n\n\
             [storage]\ndir = \"{}/images\"\n\n[limits]\nmax_attempts = 4\n\n\
             [[backends]]\nname = \"cloud\"\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"{KEY}\"\n\
             model = \"soak-flux\"\nsizes = [\"256x256\"]\ntimeout_secs = 3\nconcurrency = 4\n",
            sandbox.bot_token(),
            sandbox.api_base(),
            sandbox.guild_id(),
            dir.display(),
            fake.base_url,
        ),
    )?;
    let mut bot = Bot { child: Bot::start(sandbox, &config, dir, 1).await?, starts: 1 };
    let users: Vec<u64> = (0..a.users).map(|i| sandbox.add_user(&format!("member{i}"))).collect();
    let kill_at: HashSet<usize> = [a.tasks / 3, 2 * a.tasks / 3].into();
    let mut ids: Vec<u64> = Vec::with_capacity(a.tasks);
    let mut kills = Vec::new();
    let mut done = Vec::new();

    for i in 0..a.tasks {
        if kill_at.contains(&i) {
            // Kill mid-task, not mid-command: every command so far has its task recorded and
            // shown (its message left "thinking…"). A kill between acknowledging a command and
            // recording its task is the one gap a restart cannot mend (see RELIABILITY.md).
            sandbox
                .wait_for(a.wait, |v| {
                    ids.iter().all(|id| v.original_message(*id).is_some_and(|m| !m.loading)).then_some(())
                })
                .await?;
            let _ = bot.child.kill();
            let _ = bot.child.wait();
            kills.push(snapshot_after_kill(db, fake, i).await?);
            bot.starts += 1;
            bot.child = Bot::start(sandbox, &config, dir, bot.starts).await?;
        }
        // At most `window` unfinished commands at a time, like a busy channel.
        sandbox.wait_for(a.wait, |v| (track(v, &ids, &mut done) < a.window).then_some(())).await?;
        // A command refused with a private answer never became a task: stop and say why.
        if let Some(refusal) = sandbox.messages().into_iter().find(|m| m.is_ephemeral()) {
            bail!("a command was refused: {}", refusal.content);
        }
        let user = users[i % users.len()];
        ids.push(sandbox.slash(user, "imagine", vec![CommandOption::string("prompt", prompt(i))]).await?);
    }
    sandbox
        .wait_for(a.wait, |v| (track(v, &ids, &mut done) == 0).then_some(()))
        .await
        .context("every command ends on Discord")?;
    Ok((ids, kills))
}

async fn check(
    a: &Args,
    sandbox: &Sandbox,
    fake: &FakeOpenAi,
    db: &str,
    ids: &[u64],
    kills: &[KillSnapshot],
) -> anyhow::Result<String> {
    let store = Db::open(db).await?;
    let tasks = store.in_states(&TaskState::ALL).await?;
    store.close().await;
    let sent = sent_by_prompt(fake);
    let by_prompt: HashMap<&str, Vec<&easel::db::Task>> = tasks.iter().fold(HashMap::new(), |mut m, t| {
        m.entry(t.prompt.text.as_str()).or_insert_with(Vec::new).push(t);
        m
    });
    let (mut lost, mut stuck, mut twice, mut codes) = (Vec::new(), Vec::new(), Vec::new(), HashMap::new());
    for (i, id) in ids.iter().enumerate() {
        let p = prompt(i);
        let Some([task]) = by_prompt.get(p.as_str()).map(Vec::as_slice) else {
            lost.push(format!("{p}: {} tasks", by_prompt.get(p.as_str()).map_or(0, Vec::len)));
            continue;
        };
        if !task.state.is_final() {
            stuck.push(format!("task {} ({p}) is {}", task.id, task.state));
            continue;
        }
        let message = sandbox.wait_for(Duration::from_secs(5), |v| shown(v, i, *id).cloned()).await;
        let shows = match (&message, task.state, &task.failure) {
            (Ok(m), TaskState::Succeeded, _) => m.attachments.len() == 1 && m.button("U1").is_some(),
            (Ok(m), TaskState::Failed, Some((code, _))) => {
                m.content.contains("(Failed)") && m.content.contains(code.as_str())
            }
            _ => false,
        };
        if !shows {
            lost.push(format!(
                "task {} ({p}) is {} but Discord shows {:?}",
                task.id,
                task.state,
                message.map(|m| m.content)
            ));
        }
        let key = match &task.failure {
            Some((code, _)) => code.as_str(),
            None => task.state.as_str(),
        };
        *codes.entry(key).or_insert(0usize) += 1;
        let n = sent.get(&p).copied().unwrap_or(0);
        let attempts = task.attempts as usize;
        if n > attempts || (task.state == TaskState::Succeeded && n != attempts) {
            twice.push(format!("task {} ({p}): {n} requests for {attempts} attempts", task.id));
        }
    }
    // A task at the service when the bot died is never sent again.
    for kill in kills {
        for (id, p) in &kill.in_flight {
            let (before, after) = (kill.sent.get(p).copied().unwrap_or(0), sent.get(p).copied().unwrap_or(0));
            if after != before {
                twice.push(format!(
                    "task {id} ({p}) was at the service at kill {} and was sent again ({before} → {after})",
                    kill.at_task
                ));
            }
        }
    }
    let interrupted = codes.get(FailureCode::Interrupted.as_str()).copied().unwrap_or(0);
    let in_flight: Vec<usize> = kills.iter().map(|k| k.in_flight.len()).collect();
    let stats = sandbox.stats();
    let violations = sandbox.violations();
    let generations: usize = sent.values().sum();
    let mut outcome: Vec<_> = codes.iter().collect();
    outcome.sort();
    let report = format!(
        "soak: {} /imagine from {} members, at most {} unfinished; openai-compatible fake failing every {}th call \
         (503 + Retry-After, hang past timeout_secs = 3, JSON cut off); kill -9 + restart before commands {:?}; {} build\n\
         \x20 generation requests: {generations}, of which {} answered with an injected fault\n\
         \x20 tasks in flight at the service at each kill: {in_flight:?} (ended `interrupted`: {interrupted})\n\
         \x20 outcomes: {outcome:?}\n\
         \x20 lost: {}, stuck: {}, submitted twice: {}\n\
         \x20 Discord: {} requests, {} message edits, 429s earned: {}, violations: {}",
        ids.len(),
        a.users,
        a.window,
        a.fault_every,
        kills.iter().map(|k| k.at_task).collect::<Vec<_>>(),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        fake.api_requests().len() as u64 / a.fault_every,
        lost.len(),
        stuck.len(),
        twice.len(),
        stats.requests.values().sum::<u64>(),
        stats.message_edits,
        stats.rate_limited_real,
        violations.len(),
    );
    for line in lost.iter().chain(&stuck).chain(&twice).take(20) {
        eprintln!("  {line}");
    }
    for v in violations.iter().take(5) {
        eprintln!("  {v:?}");
    }
    ensure!(tasks.len() == ids.len(), "{report}\n{} tasks for {} commands", tasks.len(), ids.len());
    if !(lost.is_empty() && stuck.is_empty() && twice.is_empty() && violations.is_empty()) {
        bail!("{report}");
    }
    Ok(report)
}
