//! Several backends at once, through the sandbox: the `model` option and its autocomplete,
//! `--niji` picking a backend by alias, refusals that name what to change, and a failover
//! where the first backend errors and the second serves — with the result saying so.

use crate::support;

use easel::config::{BackendConfig, Config};
use easel::sandbox::CommandOption;
use support::fake_openai::Fault;
use support::world::{Backend, World};

fn demo(name: &str, aliases: &[&str]) -> BackendConfig {
    let mut b = BackendConfig::demo(name);
    b.set("image_size", 128);
    b.set("step_ms", 0);
    b.aliases = aliases.iter().map(|a| a.to_string()).collect();
    b
}

fn two_demos(c: &mut Config) {
    c.backends = vec![demo("sketch", &["v6"]), demo("anime", &["niji 6", "niji"])];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_option_autocompletes_and_picks_the_backend() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, two_demos).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    let all = w
        .sandbox
        .autocomplete(
            alice,
            "imagine",
            vec![CommandOption::string("prompt", "a cat"), CommandOption::string("model", "")],
            "model",
        )
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sketch", "v6", "anime", "niji 6", "niji"]);
    let some = w
        .sandbox
        .autocomplete(
            alice,
            "imagine",
            vec![CommandOption::string("prompt", "a cat"), CommandOption::string("model", "NIJ")],
            "model",
        )
        .await
        .unwrap();
    let names: Vec<&str> = some.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["niji 6", "niji"], "matching ignores case");

    let slash = w
        .sandbox
        .slash(
            alice,
            "imagine",
            vec![CommandOption::string("prompt", "a cat on a roof"), CommandOption::string("model", "anime")],
        )
        .await
        .unwrap();
    let grid = w.final_original(slash).await;
    assert!(grid.content.contains("Served by `anime`"), "{}", grid.content);

    let grid = w.final_original(w.imagine(alice, "a dog in a boat --niji 6").await).await;
    assert!(grid.content.contains("Served by `anime`"), "--niji 6 is anime's alias: {}", grid.content);
    assert!(!grid.content.contains("ignores"), "the alias honoured --niji: {}", grid.content);
    let grid = w.final_original(w.imagine(alice, "a dog in a boat --v 6").await).await;
    assert!(grid.content.contains("Served by `sketch`"), "{}", grid.content);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_is_refused_privately_naming_the_choices() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, two_demos).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    for (options, needle) in [
        (
            vec![CommandOption::string("prompt", "a cat"), CommandOption::string("model", "dalle")],
            "There is no model called `dalle` here. Pick one of: sketch, v6, anime, niji 6, niji.",
        ),
        (vec![CommandOption::string("prompt", "a cat --v 5")], "There is no model called `--v 5` here."),
    ] {
        let slash = w.sandbox.slash(alice, "imagine", options).await.unwrap();
        let reply =
            w.sandbox.wait_for(support::world::WAIT, |v| v.original_message(slash).cloned()).await.unwrap();
        assert_eq!(reply.ephemeral_for, Some(alice), "refused privately");
        assert!(reply.content.contains(needle), "{}", reply.content);
    }
    let app = w.app().unwrap();
    assert_eq!(app.db.counts_by_state().await.unwrap().iter().map(|(_, n)| n).sum::<i64>(), 0);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_backend_hands_the_task_to_another_that_serves_it() {
    let mut w = World::new(Backend::OpenAi, |c| {
        let cloud = c.backends.remove(0);
        c.backends = vec![cloud, demo("local", &[])];
    })
    .await;
    w.fake.set(|k| {
        k.faults_spare_models = true;
        k.fault = Some(Fault::openai(503, "The engine is currently overloaded", "server_error", None));
    });
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "a lighthouse in a storm").await).await;
    assert!(grid.content.contains("Served by `local` after `cloud` failed"), "{}", grid.content);
    assert_eq!(grid.buttons().count(), 10);
    let generations =
        w.fake.api_requests().iter().filter(|r| r.path.ends_with("/images/generations")).count();
    assert_eq!(generations, 1, "one try at cloud, then straight to the other backend");

    // U on that grid runs on the backend that made it.
    let u1 = support::flows::click_id(&grid, "U1");
    w.sandbox.click(alice, grid.id, &u1).await.unwrap();
    let up = w.final_message_with("- Image #1").await;
    assert!(up.content.contains("Served by `local`"), "{}", up.content);
    w.assert_no_violations();
}
