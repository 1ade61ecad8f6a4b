//! The engine end to end on the offline demo backend: a real SQLite file or PostgreSQL
//! database (each test runs on both), real image files, the real scheduler. Waits are on
//! events with a timeout, never sleeps.

use std::time::Duration;

use easel::app::{App, Requester};
use easel::base::ImageRole;
use easel::base::{FailureCode, Strength, TaskKind, TaskState};
use easel::config::{BackendConfig, Config};
use easel::db::{NewTask, Task};
use easel::imaging;
use easel::tasks::events::EventKind;

use crate::support::postgres::{Which, on_both_databases, url_for};

const WAIT: Duration = Duration::from_secs(60);

on_both_databases!(
    imagine_makes_a_grid_and_four_images_with_progress_on_the_way,
    the_same_prompt_and_seed_give_the_same_pixels_and_another_seed_does_not,
    upscale_variation_and_reroll_work_on_a_finished_grid,
    blend_and_describe_use_the_uploaded_images,
    bad_requests_are_refused_before_anything_is_queued,
    parameters_the_backend_ignores_are_noted_on_the_result,
    a_task_interrupted_by_a_restart_is_run_again_when_that_is_free,
    a_task_past_its_deadline_fails_instead_of_running,
    permutations_queue_one_task_per_prompt,
);

/// The demo backend's config on a fresh database on `which`; `None` when that is
/// PostgreSQL and no server is available (the test skips).
async fn config(which: Which, dir: &tempfile::TempDir) -> Option<Config> {
    let mut demo = BackendConfig::demo("demo");
    demo.set("image_size", 128);
    demo.set("step_ms", 0);
    let mut config = Config::default();
    config.database.url = url_for(which, dir.path()).await?;
    config.storage.dir = dir.path().join("images");
    config.backends = vec![demo];
    Some(config)
}

async fn start(which: Which, dir: &tempfile::TempDir) -> Option<App> {
    let app = App::build(config(which, dir).await?).await.unwrap();
    app.start();
    Some(app)
}

fn member(id: &str) -> Requester {
    Requester { user_id: id.into(), ..Requester::default() }
}

async fn imagine(app: &App, prompt: &str) -> Task {
    let task = app.imagine(prompt, None, &member("u1")).await.unwrap().remove(0);
    app.engine.wait_final(task.id, WAIT).await.unwrap()
}

async fn child(app: &App, parent: &Task, kind: TaskKind, inputs: Vec<bytes::Bytes>) -> Task {
    let task = app
        .engine
        .submit(NewTask {
            kind,
            parent_id: Some(parent.id),
            user_id: "u2".into(),
            guild_id: None,
            channel_id: None,
            prompt: parent.prompt.clone(),
            backend: "demo".into(),
            model: None,
            seed: 99,
            message: Default::default(),
            inputs,
            running_cap: None,
            edit: None,
        })
        .await
        .unwrap();
    app.engine.wait_final(task.id, WAIT).await.unwrap()
}

async fn file(path: &str) -> Vec<u8> {
    tokio::fs::read(path).await.unwrap()
}

async fn imagine_makes_a_grid_and_four_images_with_progress_on_the_way(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let mut events = app.engine.subscribe();
    let task = imagine(&app, "a lighthouse at dusk --ar 3:2").await;
    assert_eq!(task.state, TaskState::Succeeded, "{:?}", task.failure);

    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if ev.task_id == task.id {
            seen.push(match ev.kind {
                EventKind::Progress { percent, preview } => {
                    assert!(preview.is_some(), "the demo sends previews");
                    format!("{percent}%")
                }
                other => format!("{other:?}"),
            });
        }
    }
    assert_eq!(seen, ["Queued", "Started", "0%", "25%", "50%", "75%", "Succeeded"]);

    let grid = app.db.images(task.id, ImageRole::Grid).await.unwrap();
    let images = app.db.images(task.id, ImageRole::Image).await.unwrap();
    assert_eq!((grid.len(), images.len()), (1, 4));
    assert_eq!(imaging::sniff(&file(&grid[0].path).await).unwrap(), imaging::Format::Jpeg);
    let (w, h) = (images[0].width, images[0].height);
    assert_eq!((w, h), (128, 88), "--ar 3:2 on a 128 px long side, short side a multiple of 8");
    assert_eq!((grid[0].width, grid[0].height), (2 * w, 2 * h));
    // The grid's top-left quadrant is the first image.
    let decoded = imaging::decode(&file(&grid[0].path).await).unwrap();
    let first = imaging::decode(&file(&images[0].path).await).unwrap();
    let (a, b) = (decoded.get_pixel(w / 2, h / 2).0, first.get_pixel(w / 2, h / 2).0);
    assert!(a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 24), "{a:?} vs {b:?}");
}

async fn the_same_prompt_and_seed_give_the_same_pixels_and_another_seed_does_not(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let one = imagine(&app, "red forest --seed 42").await;
    let two = imagine(&app, "red forest --seed 42").await;
    let three = imagine(&app, "red forest --seed 43").await;
    let four = imagine(&app, "blue ocean --seed 42").await;
    let first_image = |t: Task| {
        let app = &app;
        async move { file(&app.db.images(t.id, ImageRole::Image).await.unwrap()[0].path).await }
    };
    let (a, b, c, d) =
        (first_image(one).await, first_image(two).await, first_image(three).await, first_image(four).await);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
}

async fn upscale_variation_and_reroll_work_on_a_finished_grid(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let parent = imagine(&app, "a castle on a hill --seed 5").await;
    let parent_images = app.db.images(parent.id, ImageRole::Image).await.unwrap();

    let up = child(&app, &parent, TaskKind::Upscale { index: 1 }, vec![]).await;
    assert_eq!(up.state, TaskState::Succeeded, "{:?}", up.failure);
    let up_images = app.db.images(up.id, ImageRole::Image).await.unwrap();
    assert_eq!(up_images.len(), 1);
    assert_eq!(up_images[0].width, parent_images[1].width * 2, "the demo upscales 2×");
    assert_eq!(up.user_id, "u2", "a child task belongs to whoever pressed");

    let vary =
        child(&app, &parent, TaskKind::Variation { index: 2, strength: Strength::Strong }, vec![]).await;
    assert_eq!(vary.state, TaskState::Succeeded);
    let vary_images = app.db.images(vary.id, ImageRole::Image).await.unwrap();
    assert_eq!(vary_images.len(), 4);
    assert_ne!(file(&vary_images[0].path).await, file(&parent_images[2].path).await);

    let reroll = child(&app, &parent, TaskKind::Reroll, vec![]).await;
    assert_eq!(reroll.state, TaskState::Succeeded);
    assert_eq!(app.db.images(reroll.id, ImageRole::Grid).await.unwrap().len(), 1);
}

async fn blend_and_describe_use_the_uploaded_images(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let parent = imagine(&app, "green hills").await;
    let imgs = app.db.images(parent.id, ImageRole::Image).await.unwrap();
    let uploads = vec![file(&imgs[0].path).await.into(), file(&imgs[3].path).await.into()];

    let blend = child(&app, &parent, TaskKind::Blend, uploads).await;
    assert_eq!(blend.state, TaskState::Succeeded, "{:?}", blend.failure);
    assert_eq!(blend.input_count, 2);
    assert_eq!(app.db.images(blend.id, ImageRole::Image).await.unwrap().len(), 4);

    let describe = child(&app, &parent, TaskKind::Describe, vec![file(&imgs[1].path).await.into()]).await;
    assert_eq!(describe.state, TaskState::Succeeded);
    assert_eq!(describe.output_prompts.len(), 4);
    assert!(describe.output_prompts.iter().all(|p| p.len() > 20), "{:?}", describe.output_prompts);
}

async fn bad_requests_are_refused_before_anything_is_queued(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let err = app.imagine("a cat --chaos 150", None, &member("u1")).await.unwrap_err();
    assert!(err.to_string().contains("--chaos"), "{err}");
    let err = app.imagine("a cat", Some("nope"), &member("u1")).await.unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
    let queued = app.db.in_states(&TaskState::ALL).await.unwrap();
    assert!(queued.is_empty(), "nothing was queued: {queued:?}");

    let parent = app.imagine("a cat", None, &member("u1")).await.unwrap().remove(0);
    let early = app
        .engine
        .submit(NewTask {
            kind: TaskKind::Upscale { index: 0 },
            parent_id: Some(parent.id),
            user_id: "u1".into(),
            guild_id: None,
            channel_id: None,
            prompt: parent.prompt.clone(),
            backend: "demo".into(),
            model: None,
            seed: 1,
            message: Default::default(),
            inputs: vec![],
            running_cap: None,
            edit: None,
        })
        .await;
    // The parent may or may not have finished yet; either it is refused as not ready, or accepted.
    if let Err(e) = early {
        assert!(e.to_string().contains("not finished"), "{e}");
    }
    let not_an_image = app
        .engine
        .submit(NewTask {
            kind: TaskKind::Describe,
            parent_id: None,
            user_id: "u1".into(),
            guild_id: None,
            channel_id: None,
            prompt: Default::default(),
            backend: "demo".into(),
            model: None,
            seed: 1,
            message: Default::default(),
            inputs: vec![bytes::Bytes::from_static(b"GIF89a but not really")],
            running_cap: None,
            edit: None,
        })
        .await
        .unwrap_err();
    assert!(not_an_image.to_string().starts_with("Image 1:"), "{not_an_image}");
}

async fn parameters_the_backend_ignores_are_noted_on_the_result(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let task = imagine(&app, "a tiled floor --tile --chaos 20").await;
    assert_eq!(task.notes.len(), 1, "{:?}", task.notes);
    assert!(task.notes[0].contains("--tile") && !task.notes[0].contains("--chaos"), "{:?}", task.notes);
}

async fn a_task_interrupted_by_a_restart_is_run_again_when_that_is_free(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = config(which, &dir).await else { return };
    let id = {
        // First life: the task is claimed (as a worker would) and the process "dies".
        let app = App::build(config.clone()).await.unwrap();
        let task = app.imagine("interrupted", None, &member("u1")).await.unwrap().remove(0);
        let claimed = app.db.claim_next("demo", 3).await.unwrap().unwrap();
        assert_eq!(claimed.id, task.id);
        task.id
    };
    let app = App::build(config).await.unwrap(); // recovery runs here
    assert_eq!(app.db.task(id).await.unwrap().unwrap().state, TaskState::Queued);
    app.start();
    let done = app.engine.wait_final(id, WAIT).await.unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.attempts, 2);
}

async fn a_task_past_its_deadline_fails_instead_of_running(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = config(which, &dir).await else { return };
    let app = App::build(config).await.unwrap();
    let task = app.imagine("too late", None, &member("u1")).await.unwrap().remove(0);
    // The only task there is.
    crate::support::raw_db::execute(&app.config.database.url, "UPDATE tasks SET deadline_at = 1").await;
    app.start();
    let done = app.engine.wait_final(task.id, WAIT).await.unwrap();
    assert_eq!(done.state, TaskState::Failed);
    assert_eq!(done.failure.unwrap().0, FailureCode::DeadlineExceeded);
}

async fn permutations_queue_one_task_per_prompt(which: Which) {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = start(which, &dir).await else { return };
    let tasks = app.imagine("a {red, blue} bird", None, &member("u1")).await.unwrap();
    let texts: Vec<&str> = tasks.iter().map(|t| t.prompt.text.as_str()).collect();
    assert_eq!(texts, ["a red bird", "a blue bird"]);
    for t in tasks {
        assert_eq!(app.engine.wait_final(t.id, WAIT).await.unwrap().state, TaskState::Succeeded);
    }
}
