//! A member's own defaults through the sandbox: the /settings panel (menus and buttons, saved
//! at once and redrawn in place), /prefer suffix and options, remix mode's prompt form on V,
//! and all of it still there after a restart.

use crate::support;

use easel::app::App;
use easel::sandbox::{CommandOption, Message};
use support::flows::{click_id, ephemeral_with};
use support::world::{Backend, WAIT, World};

/// The settings panel `user` sees, once its content contains `needle`.
async fn panel_with(w: &World, user: u64, needle: &str) -> Message {
    ephemeral_with(w, user, needle).await
}

fn option(name: &str, value: &str) -> CommandOption {
    CommandOption::string(name, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_and_preferences_shape_prompts_and_survive_a_restart() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    w.sandbox.slash(alice, "settings", vec![]).await.unwrap();
    let panel = panel_with(&w, alice, "**Your settings**").await;
    assert!(panel.content.contains("Aspect ratio: as the prompt says"), "{}", panel.content);
    w.sandbox.select(alice, panel.id, "e1s:ar", &["16:9"]).await.unwrap();
    panel_with(&w, alice, "Aspect ratio: 16:9").await;
    w.sandbox.select(alice, panel.id, "e1s:stylize", &["250"]).await.unwrap();
    panel_with(&w, alice, "Stylize: high (--s 250)").await;
    w.sandbox.click(alice, panel.id, "e1s:strength").await.unwrap();
    panel_with(&w, alice, "V buttons: subtle variations").await;
    assert!(w.sandbox.select(alice, panel.id, "e1s:ar", &["7:3"]).await.is_err(), "only offered values");

    // Defaults fill in what the prompt leaves out; the prompt's own parameters win.
    let grid = w.final_original(w.imagine(alice, "a red kite").await).await;
    assert_eq!(grid.content, format!("**a red kite --ar 16:9 --stylize 250** - <@{alice}>"));
    let grid2 = w.final_original(w.imagine(alice, "a blue kite --ar 1:1").await).await;
    assert!(grid2.content.starts_with("**a blue kite --ar 1:1 --stylize 250**"), "{}", grid2.content);

    // /prefer: a suffix and a named option.
    let prefer = |sub: CommandOption| vec![sub];
    w.sandbox
        .slash(
            alice,
            "prefer",
            prefer(CommandOption::subcommand("suffix", vec![option("text", "watercolor --chaos 20")])),
        )
        .await
        .unwrap();
    ephemeral_with(&w, alice, "Every prompt you send now ends with `watercolor --chaos 20`.").await;
    let set = CommandOption::subcommand(
        "set",
        vec![option("name", "film"), option("value", "35mm film, grain --s 750")],
    );
    w.sandbox.slash(alice, "prefer", prefer(CommandOption::group("option", set))).await.unwrap();
    ephemeral_with(&w, alice, "`--film` now stands for `35mm film, grain --s 750`.").await;
    let bad = CommandOption::subcommand("set", vec![option("name", "ar"), option("value", "x")]);
    w.sandbox.slash(alice, "prefer", prefer(CommandOption::group("option", bad))).await.unwrap();
    ephemeral_with(&w, alice, "`--ar` is one of Easel's own parameters").await;

    let grid3 = w.final_original(w.imagine(alice, "a harbour --film").await).await;
    assert!(
        grid3
            .content
            .starts_with("**a harbour 35mm film, grain watercolor --ar 16:9 --chaos 20 --stylize 750**"),
        "the option expands, the suffix follows, the option's --s beats the default: {}",
        grid3.content
    );
    let list = CommandOption::subcommand("list", vec![]);
    w.sandbox.slash(alice, "prefer", prefer(CommandOption::group("option", list))).await.unwrap();
    let listed = ephemeral_with(&w, alice, "**Your options**").await;
    assert!(listed.content.contains("`--film` → `35mm film, grain --s 750`"), "{}", listed.content);
    assert!(listed.content.contains("**Suffix** `watercolor --chaos 20`"), "{}", listed.content);

    // Still there for the next Easel on the same database.
    let again = App::build(w.config.clone()).await.unwrap();
    let settings = again.db.settings(&alice.to_string()).await.unwrap();
    assert_eq!(settings.aspect.map(|a| (a.w, a.h)), Some((16, 9)));
    assert_eq!(settings.stylize, Some(250));
    assert_eq!(settings.suffix, "watercolor --chaos 20");
    assert_eq!(again.db.options(&alice.to_string()).await.unwrap().len(), 1);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remix_mode_lets_the_member_edit_the_prompt_before_variations() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    w.sandbox.slash(alice, "settings", vec![]).await.unwrap();
    let panel = panel_with(&w, alice, "**Your settings**").await;
    w.sandbox.click(alice, panel.id, "e1s:remix").await.unwrap();
    panel_with(&w, alice, "Remix (edit the prompt before V): on").await;

    let grid = w.final_original(w.imagine(alice, "a lighthouse --ar 3:2").await).await;
    let press = w.sandbox.click(alice, grid.id, &click_id(&grid, "V2")).await.unwrap();
    let form = w
        .sandbox
        .wait_for(WAIT, |v| v.interaction(press).and_then(|i| i.modal.clone()))
        .await
        .expect("V opens the remix form");
    let prefilled = form["components"][0]["components"][0]["value"].as_str().unwrap_or_default().to_string();
    assert_eq!(prefilled, "a lighthouse --ar 3:2");

    // A bad prompt is answered privately; a good one makes the variations.
    w.sandbox.submit_modal(alice, press, &[("prompt", "a lighthouse --ar 99:1")]).await.unwrap();
    ephemeral_with(&w, alice, "--ar").await;
    w.sandbox.submit_modal(alice, press, &[("prompt", "a lighthouse in a storm")]).await.unwrap();
    let vary = w.final_message_with("- Variations (Strong) by").await;
    assert!(
        vary.content.starts_with("**a lighthouse in a storm --ar 3:2**"),
        "keeps the image's shape: {}",
        vary.content
    );
    assert_eq!(vary.buttons().count(), 10);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_mode_delivers_results_and_their_buttons_in_direct_messages() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    w.sandbox.slash(alice, "settings", vec![]).await.unwrap();
    let panel = panel_with(&w, alice, "**Your settings**").await;
    w.sandbox.click(alice, panel.id, "e1s:private").await.unwrap();
    panel_with(&w, alice, "Private mode (/imagine results by DM): on").await;

    w.imagine(alice, "a secret garden").await;
    ephemeral_with(&w, alice, "🔒 Private mode: your images will arrive in your DMs.").await;
    let dm = w.sandbox.wait_for(WAIT, |v| v.dm_channel(alice)).await.unwrap();
    let in_dm = |needle: &'static str| {
        let w = &w;
        async move {
            w.sandbox
                .wait_for(WAIT, |v| {
                    v.messages()
                        .iter()
                        .find(|m| {
                            m.channel_id == dm && m.content.contains(needle) && support::world::is_final(m)
                        })
                        .cloned()
                })
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in the DM:\n{}", w.sandbox.summary()))
        }
    };
    let grid = in_dm("**a secret garden** - <@").await;
    assert_eq!(grid.buttons().count(), 10);
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U1")).await.unwrap();
    let up = in_dm("- Image #1").await;
    assert_eq!(up.attachments.len(), 1);
    let public: Vec<_> =
        w.sandbox.messages().into_iter().filter(|m| m.channel_id != dm && !m.is_ephemeral()).collect();
    assert!(public.is_empty(), "nothing public in the server: {public:#?}");
    w.assert_no_violations();
}
