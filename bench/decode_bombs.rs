//! Decode bombs: peak memory while images that declare far more pixels than their bytes
//! suggest go through the real decode path at once.
//!
//! 1. Eight 35-byte GIFs with an 8000×8000 screen, submitted at the same moment as `/describe`
//!    inputs by one member, through `Engine::submit` (which decodes each upload to check it)
//!    and on through the demo backend's describe (which decodes it again, to 256 px).
//! 2. The same from eight members.
//! 3. Two tasks' worth of backend output, four 8192×8192 PNGs each, through the runner's
//!    image pipeline (`grid_from_encoded`, then `single_for_discord` for each image), charged
//!    to one member per task.
//!
//! Peak RSS is the kernel's high-water mark (`VmHWM`), reset before each phase. With
//! `--budget-mib 65536` the budget never binds, which is how it was before the budget.
//!
//! `cargo bench --bench decode_bombs -- [--budget-mib 512]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use easel::app::App;
use easel::base::TaskKind;
use easel::config::{BackendConfig, Config};
use easel::db::NewTask;
use easel::imaging;

const WAIT: Duration = Duration::from_secs(600);
const MIB: u64 = 1 << 20;

fn budget_mib() -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == "--budget-mib")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(imaging::DEFAULT_DECODE_BUDGET / MIB)
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn rss_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        let kib = status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1));
        kib.and_then(|v| v.parse().ok()).unwrap_or(0) / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0), so each phase reports its own peak.
fn reset_peak() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset the RSS high-water mark ({e}); peaks below include earlier phases");
    }
}

/// A GIF with an 8000×8000 logical screen and one 1×1 image in it.
fn gif_bomb() -> bytes::Bytes {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&8000u16.to_le_bytes());
    gif.extend_from_slice(&8000u16.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0]); // a 2-colour global palette follows
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // image at 0,0, 1×1
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0, 0x3B]); // LZW data, end of image, trailer
    gif.into()
}

fn config(dir: &tempfile::TempDir) -> Config {
    let mut demo = BackendConfig::demo("demo");
    demo.set("image_size", 64);
    demo.set("step_ms", 0);
    demo.concurrency = Some(8);
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("easel.db").display());
    config.storage.dir = dir.path().join("images");
    config.backends = vec![demo];
    config.limits.per_user_running = 8;
    config.limits.per_user_queued = 16;
    config.limits.decode_budget_mib = budget_mib();
    config
}

fn describe(user: &str, bomb: bytes::Bytes) -> NewTask {
    NewTask {
        kind: TaskKind::Describe,
        parent_id: None,
        user_id: user.into(),
        guild_id: None,
        channel_id: None,
        prompt: Default::default(),
        backend: "demo".into(),
        model: None,
        seed: 1,
        message: Default::default(),
        inputs: vec![bomb],
        running_cap: None,
        edit: None,
    }
}

/// Eight bombs submitted at once by `members` (cycled), each followed to its final state.
async fn bombs(app: &Arc<App>, members: &[&str]) -> anyhow::Result<()> {
    let bomb = gif_bomb();
    let runs = (0..8).map(|i| {
        let (app, task) = (app.clone(), describe(members[i % members.len()], bomb.clone()));
        tokio::spawn(async move {
            let task = app.engine.submit(task).await?;
            let done = app.engine.wait_final(task.id, WAIT).await?;
            anyhow::ensure!(done.output_prompts.len() == 4, "describe ended {:?}", done.state);
            Ok(())
        })
    });
    for run in futures::future::join_all(runs).await {
        run??;
    }
    Ok(())
}

/// What the runner does with four images from a backend, for two tasks at once.
async fn backend_output(png: bytes::Bytes) -> anyhow::Result<()> {
    let tasks = ["m1", "m2"].map(|member| {
        let png = png.clone();
        tokio::task::spawn_blocking(move || {
            imaging::on_behalf_of(member, || {
                let grid = imaging::grid_from_encoded(&[&png, &png, &png, &png], 90)?;
                drop(grid.tiles);
                for _ in 0..4 {
                    imaging::single_for_discord(&png)?;
                }
                Ok::<_, imaging::ImageError>(())
            })
        })
    });
    for task in futures::future::join_all(tasks).await {
        task??;
    }
    Ok(())
}

async fn phase<F: std::future::Future<Output = anyhow::Result<()>>>(
    name: &str,
    run: F,
) -> anyhow::Result<()> {
    reset_peak();
    let (before, _) = rss_mib();
    let started = Instant::now();
    run.await?;
    let (after, peak) = rss_mib();
    println!(
        "{name:<44} peak RSS {peak:>5} MiB (before {before} MiB, after {after} MiB), {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let app = Arc::new(App::build(config(&dir)).await?);
    app.start();
    let budget = imaging::DecodeBudget::global();
    println!(
        "decode budget {} MiB, {} MiB per member; {} bytes per bomb",
        budget.capacity() / MIB,
        budget.member_share() / MIB,
        gif_bomb().len()
    );
    phase("8 GIF bombs (8000x8000), one member", bombs(&app, &["m1"])).await?;
    phase("8 GIF bombs (8000x8000), eight members", bombs(&app, &["a", "b", "c", "d", "e", "f", "g", "h"]))
        .await?;
    let png: bytes::Bytes = imaging::encode_png(&image::RgbImage::new(8192, 8192))?.into();
    phase("2 tasks x 4 PNGs (8192x8192) from a backend", backend_output(png)).await?;
    println!("budget in use at the end: {} bytes", budget.in_use());
    Ok(())
}
