//! Load driver: N concurrent `/imagine` from M members through the sandbox, against the real
//! `easel` binary (release build) with a fast backend (the built-in demo with no pauses and
//! small images). Reports how fast interactions are acknowledged, how long until every grid
//! is delivered, Discord 429s, and the bot's resident memory idle and at peak.
//!
//! `cargo bench --bench load -- [--commands 100] [--users 10] [--image-size 256]`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use easel::sandbox::{CommandOption, Sandbox, SandboxOptions};

struct Args {
    commands: usize,
    users: usize,
    image_size: u32,
}

fn args() -> Args {
    let mut a = Args { commands: 100, users: 10, image_size: 256 };
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        argv.iter().position(|x| x == name).and_then(|i| argv.get(i + 1)).and_then(|v| v.parse().ok())
    };
    if let Some(v) = value("--commands") {
        a.commands = v;
    }
    if let Some(v) = value("--users") {
        a.users = v;
    }
    if let Some(v) = value("--image-size") {
        a.image_size = v as u32;
    }
    a
}

/// Resident memory of a process in KiB: (current, peak) from /proc.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = args();
    // `cargo bench` passes --bench; a plain `cargo test --benches` run must not start a load.
    if std::env::args().any(|x| x == "--list") {
        return Ok(());
    }
    let sandbox = std::sync::Arc::new(Sandbox::start(SandboxOptions::default()).await?);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("easel.toml");
    std::fs::write(
        &config,
        format!(
            "[discord]\ntoken = \"{}\"\napi_base = \"{}\"\nguild_ids = [{}]\n\n[database]\nurl = \"sqlite://{}/easel.db\"\n\n\
             [storage]\ndir = \"{}/images\"\n\n[limits]\nper_user_running = 3\nper_user_queued = {}\n\n\
             [[backends]]\nname = \"demo\"\nkind = \"demo\"\nimage_size = {}\nstep_ms = 0\nconcurrency = 4\n",
            sandbox.bot_token(),
            sandbox.api_base(),
            sandbox.guild_id(),
            dir.path().display(),
            dir.path().display(),
            a.commands,
            a.image_size,
        ),
    )?;
    let mut bot = Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = bot.id();
    sandbox.wait_ready(Duration::from_secs(60)).await?;
    // Let start-up allocations settle before calling it idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_rss, _) = rss_kib(pid);

    let users: Vec<u64> = (0..a.users).map(|i| sandbox.add_user(&format!("member{i}"))).collect();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(idle_rss));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid).0, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let mut sends = Vec::new();
    for i in 0..a.commands {
        let sb = sandbox.clone();
        let user = users[i % users.len()];
        sends.push(tokio::spawn(async move {
            sb.slash(
                user,
                "imagine",
                vec![CommandOption::string("prompt", format!("load test scene {i} --ar 3:2"))],
            )
            .await
        }));
    }
    let mut ids = Vec::new();
    for s in sends {
        ids.push(s.await??);
    }
    let dispatched = started.elapsed();
    sandbox
        .wait_for(Duration::from_secs(600), |v| {
            ids.iter()
                .all(|id| {
                    v.original_message(*id)
                        .is_some_and(|m| m.buttons().next().is_some() && !m.attachments.is_empty())
                })
                .then_some(())
        })
        .await?;
    let all_done = started.elapsed();
    sampler.abort();
    let (_, hwm) = rss_kib(pid);
    let peak_rss = peak.load(std::sync::atomic::Ordering::Relaxed).max(hwm);
    let stats = sandbox.stats();
    let mut lat = stats.callback_latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let violations = sandbox.violations();
    let _ = bot.kill();
    let _ = bot.wait();

    println!(
        "load: {} /imagine from {} members, demo backend {}px tiles, release build",
        a.commands, a.users, a.image_size
    );
    println!(
        "  initial response (dispatch → defer): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  all commands dispatched in {:.2} s; all {} grids delivered after {:.2} s",
        dispatched.as_secs_f64(),
        a.commands,
        all_done.as_secs_f64()
    );
    println!(
        "  Discord requests: {}; 429s earned: {} (answered in all: {}); message edits: {}",
        stats.requests.values().sum::<u64>(),
        stats.rate_limited_real,
        stats.rate_limited_total,
        stats.message_edits
    );
    println!("  bot RSS: idle {:.1} MiB, peak {:.1} MiB", idle_rss as f64 / 1024.0, peak_rss as f64 / 1024.0);
    println!("  sandbox violations: {}", violations.len());
    for v in violations.iter().take(5) {
        println!("    {v:?}");
    }
    Ok(())
}
