//! Easel end to end on "Discord": the real poise/serenity client against the sandbox, a fake
//! OpenAI-compatible service over HTTP, real SQLite and image files. Every test also checks
//! that the sandbox recorded no breach of Discord's limits.

use crate::support;

use std::time::Duration;

use easel::sandbox::{Message, RouteKind};
use support::world::{Backend, WAIT, World, is_final};

/// What each button shows: its label, or its emoji when it has no label (🔄).
fn faces(m: &Message) -> Vec<String> {
    m.buttons()
        .map(|b| b.label.clone().or_else(|| b.emoji.as_ref().map(|e| e.name.clone())).unwrap_or_default())
        .collect()
}

fn button<'a>(m: &'a Message, face: &str) -> &'a easel::sandbox::Button {
    m.buttons()
        .find(|b| b.label.as_deref() == Some(face) || b.emoji.as_ref().is_some_and(|e| e.name == face))
        .unwrap_or_else(|| panic!("no `{face}` button on {:?}", faces(m)))
}

fn id(m: &Message, face: &str) -> String {
    button(m, face).custom_id.clone().expect("a button with a custom_id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagine_shows_progress_then_a_grid_with_its_buttons() {
    let mut w = World::new(Backend::Demo { step_ms: 50 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let id = w.imagine(alice, "a lighthouse at dusk --ar 3:2").await;
    let grid = w.final_original(id).await;

    let interaction = w.sandbox.interaction(id).unwrap();
    assert_eq!(interaction.callback_type(), Some(5), "deferred at once");
    assert_eq!(grid.content, format!("**a lighthouse at dusk --ar 3:2** - <@{alice}>"));
    assert_eq!(faces(&grid), ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4", "ℹ️"]);
    assert_eq!(grid.components.len(), 2, "U and 🔄 on the first row, V on the second");
    assert_eq!(grid.attachments.len(), 1);
    let bytes = w.sandbox.attachment_bytes(&grid.attachments[0].url).unwrap();
    assert_eq!(easel::imaging::sniff(&bytes).unwrap(), easel::imaging::Format::Jpeg);
    assert_eq!((grid.attachments[0].width, grid.attachments[0].height), (Some(256), Some(176)));
    assert!(grid.edits >= 2, "the message went through waiting/progress edits first: {}", grid.edits);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn u_v_reroll_and_vary_each_make_a_new_message_owned_by_whoever_pressed() {
    let mut w = World::new(Backend::OpenAi, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let grid = w.final_original(w.imagine(alice, "a red fox").await).await;

    // U2 by bob: a new message with image #2 and the Vary buttons; U2 turns green on the grid.
    let u2 = w.sandbox.click(bob, grid.id, &id(&grid, "U2")).await.unwrap();
    let up = w.final_message_with(&format!("- Image #2 <@{bob}>")).await;
    assert_eq!(
        w.sandbox.interaction(u2).unwrap().callback_type(),
        Some(6),
        "acknowledged without a new reply"
    );
    assert_eq!(up.content, format!("**a red fox** - Image #2 <@{bob}>"));
    assert_eq!(
        up.labels(),
        ["Vary (Subtle)", "Vary (Strong)", "Vary (Region)", "Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom"],
        "an OpenAI-compatible service edits but has no 2x upscaler; a square image has no Make Square"
    );
    assert_eq!(up.attachments.len(), 1);
    let image = w.sandbox.attachment_bytes(&up.attachments[0].url).unwrap();
    assert_eq!(
        easel::imaging::sniff(&image).unwrap(),
        easel::imaging::Format::Png,
        "the original file, not a re-encode"
    );
    let grid_now = w.sandbox.message(grid.id).unwrap();
    assert_eq!(button(&grid_now, "U2").style, 3, "a used U button is green");
    assert_eq!(button(&grid_now, "U1").style, 2);
    assert_eq!(grid_now.attachments.len(), 1, "recolouring the buttons keeps the grid image");

    // V3, 🔄 and Vary (Subtle): each a new message that ends in a grid.
    w.sandbox.click(alice, grid.id, &id(&grid, "V3")).await.unwrap();
    let v3 = w.final_message_with("- Variations (Strong) by").await;
    assert_eq!(v3.buttons().count(), 10);
    w.sandbox.click(bob, grid.id, &id(&grid, "🔄")).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| {
            (v.messages()
                .iter()
                .filter(|m| m.content == format!("**a red fox** - <@{bob}>") && is_final(m))
                .count()
                == 1)
                .then_some(())
        })
        .await
        .unwrap();
    w.sandbox.click(alice, up.id, &id(&up, "Vary (Subtle)")).await.unwrap();
    let subtle = w.final_message_with("- Variations (Subtle) by").await;
    assert!(subtle.content.ends_with(&format!("<@{alice}>")));

    // The service was asked for: the imagine, V3 (edits), the reroll, Vary — never for U.
    let paths: Vec<String> = w.fake.api_requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths.iter().filter(|p| p.ends_with("/images/generations")).count(), 2, "{paths:?}");
    assert_eq!(paths.iter().filter(|p| p.ends_with("/images/edits")).count(), 2, "{paths:?}");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_prompts_get_a_private_answer_and_never_reach_the_backend() {
    let mut w = World::new(Backend::OpenAi, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    for (prompt, says) in [
        ("a cat --chaos 150", "--chaos"),
        ("a cat --ar 9:1", "--ar"),
        ("a cat --bogus", "--bogus"),
        ("--ar 2:3", "no text"),
        ("a {red, blue cat", "{"),
    ] {
        let id = w.imagine(alice, prompt).await;
        let reply = w
            .sandbox
            .wait_for(WAIT, |v| {
                v.interaction(id).and_then(|i| i.original_message_id).and_then(|m| v.message(m)).cloned()
            })
            .await
            .unwrap();
        assert!(reply.is_ephemeral() && reply.visible_to(alice), "{prompt}: {reply:?}");
        assert!(reply.content.contains(says), "{prompt}: {}", reply.content);
        assert_eq!(w.sandbox.interaction(id).unwrap().callback_type(), Some(4));
    }
    assert!(w.fake.api_requests().is_empty(), "no call to the backend");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_ends_the_message_with_what_happened() {
    let mut w = World::new(Backend::OpenAi, |_| {}).await;
    w.fake.set(|k| {
        k.fault = Some(support::fake_openai::Fault::openai(
            400,
            "Your request was rejected by the safety system: gore.",
            "invalid_request_error",
            Some("moderation_blocked"),
        ))
    });
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let m = w.final_original(w.imagine(alice, "something grim").await).await;
    assert!(
        m.content.contains("(Failed)") && m.content.contains("gore") && m.content.contains("content-blocked"),
        "{}",
        m.content
    );
    assert_eq!(m.buttons().count(), 0);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permutations_post_one_message_per_prompt() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let id = w.imagine(alice, "a {red, blue} bird").await;
    let red = w.final_message_with("**a red bird**").await;
    let blue = w.final_message_with("**a blue bird**").await;
    assert_eq!(
        w.sandbox.interaction(id).unwrap().original_message_id,
        Some(red.id),
        "the first prompt fills the response"
    );
    assert_ne!(red.id, blue.id);
    assert_eq!(blue.buttons().count(), 10);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_only_buttons_refuse_others_privately() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| c.discord.buttons_owner_only = true).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let grid = w.final_original(w.imagine(alice, "a quiet harbour").await).await;
    let click = w.sandbox.click(bob, grid.id, &id(&grid, "U1")).await.unwrap();
    let reply = w
        .sandbox
        .wait_for(WAIT, |v| {
            v.interaction(click).and_then(|i| i.original_message_id).and_then(|m| v.message(m)).cloned()
        })
        .await
        .unwrap();
    assert!(reply.is_ephemeral() && reply.content.contains(&format!("Only <@{alice}>")), "{}", reply.content);
    // Alice herself may.
    w.sandbox.click(alice, grid.id, &id(&grid, "U1")).await.unwrap();
    w.final_message_with("- Image #1").await;
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_fifteen_minutes_the_result_goes_to_the_channel() {
    let mut w = World::new(Backend::OpenAi, |_| {}).await;
    w.fake.set(|k| k.hold = true);
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let slash = w.imagine(alice, "a slow sunrise").await;
    // The waiting message is up and the service has the job; then the token expires while
    // the service works, and only then does the service answer.
    w.sandbox
        .wait_for(WAIT, |v| {
            v.original_message(slash).filter(|m| m.content.starts_with("**a slow sunrise**")).map(|_| ())
        })
        .await
        .unwrap();
    w.fake.wait_for_held(1, WAIT).await;
    w.sandbox.advance_clock(Duration::from_secs(16 * 60));
    w.fake.set(|k| k.hold = false);
    w.fake.release(1);
    let posted = w
        .sandbox
        .wait_for(WAIT, |v| v.messages().iter().find(|m| m.interaction_id.is_none() && is_final(m)).cloned())
        .await
        .unwrap();
    assert_eq!(posted.content, format!("**a slow sunrise** - <@{alice}>"));
    assert_eq!(posted.buttons().count(), 10);
    assert_eq!(posted.attachments.len(), 1);
    // Easel records the new message just after Discord answers the post; a press in between
    // would be refused as not on its task's message. Nothing announces the record to an
    // outside caller, so ask the database until it has it.
    let app = w.app().expect("in process");
    let recorded = async {
        while app.db.task(1).await.unwrap().and_then(|t| t.message.message_id) != Some(posted.id.to_string())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, recorded).await.expect("the channel message is recorded");
    // Its buttons still work (a fresh interaction with a fresh token).
    w.sandbox.click(alice, posted.id, &id(&posted, "U4")).await.unwrap();
    w.final_message_with("- Image #4").await;
    let v = w.sandbox.violations();
    assert!(v.iter().all(|v| v.code == 50027), "only the expected rejection of the dead token: {v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_rate_limits_are_waited_out() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    w.sandbox.rate_limit_next(RouteKind::EditOriginal, 2, Duration::from_millis(300));
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "patience").await).await;
    assert_eq!(grid.buttons().count(), 10);
    assert_eq!(w.sandbox.stats().rate_limited_total, 2);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_server_errors_on_edits_are_retried_until_the_result_shows() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    w.sandbox.fail_next(RouteKind::EditOriginal, 3, 503).unwrap();
    let alice = w.sandbox.add_user("alice");
    let grid = w.final_original(w.imagine(alice, "through the storm").await).await;
    assert_eq!((grid.buttons().count(), grid.attachments.len()), (10, 1));
    assert_eq!(w.sandbox.stats().injected_failures_total, 3);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_register_in_the_listed_guilds_or_else_globally() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let guild = w.sandbox.guild_id().to_string();
    let commands = w.sandbox.registered_commands();
    let names: Vec<&str> = commands.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "imagine",
            "blend",
            "describe",
            "info",
            "show",
            "favorites",
            "queue",
            "cancel",
            "settings",
            "prefer",
            "easel"
        ]
    );
    assert_eq!(commands[0]["guild_id"], guild.as_str());
    w.kill();

    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| c.discord.guild_ids.clear()).await;
    w.start_in_process().await;
    let commands = w.sandbox.registered_commands();
    assert_eq!(commands.len(), 11);
    assert!(commands[0].get("guild_id").is_none_or(|g| g.is_null()), "{:?}", commands[0]);
    let options = commands[0]["options"].as_array().unwrap();
    assert_eq!(options[0]["name"], "prompt");
    assert_eq!(options[0]["required"], true);
    assert!(commands[0]["description"].as_str().unwrap().starts_with("Create images from a prompt"));
}
