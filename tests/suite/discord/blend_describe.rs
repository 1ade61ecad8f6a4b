//! /blend and /describe end to end: the real bot against the sandbox, images uploaded to the
//! sandbox as a member would attach them, the built-in demo backend (which blends and
//! describes), and the fake OpenAI service for a backend that cannot blend.

use crate::support;

use bytes::Bytes;
use easel::sandbox::{CommandOption, Message};
use support::flows::{describe_upload, ephemeral_with};
use support::world::{Backend, WAIT, World, is_final};

fn png(seed: u8) -> Bytes {
    let img = image::RgbImage::from_fn(96, 64, |x, y| image::Rgb([x as u8 ^ seed, y as u8 * 3, seed]));
    easel::imaging::encode_png(&img).unwrap().into()
}

fn faces(m: &Message) -> Vec<String> {
    m.buttons()
        .map(|b| b.label.clone().or_else(|| b.emoji.as_ref().map(|e| e.name.clone())).unwrap_or_default())
        .collect()
}

fn id(m: &Message, face: &str) -> String {
    m.buttons()
        .find(|b| b.label.as_deref() == Some(face) || b.emoji.as_ref().is_some_and(|e| e.name == face))
        .and_then(|b| b.custom_id.clone())
        .unwrap_or_else(|| panic!("no `{face}` button on {:?}", faces(m)))
}

/// The private answer `user` got whose text contains `needle`.
/// No public message is left behind for a refused command: only private ones.
fn no_public_messages(w: &World) {
    let public: Vec<_> = w.sandbox.messages().into_iter().filter(|m| !m.is_ephemeral()).collect();
    assert!(public.is_empty(), "{public:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blend_two_uploads_into_a_grid_with_its_buttons() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let a = w.sandbox.upload("a.png", "image/png", png(1));
    let b = w.sandbox.upload("b.png", "image/png", png(200));
    let slash = w
        .sandbox
        .slash(
            alice,
            "blend",
            vec![
                CommandOption::attachment("image1", &a),
                CommandOption::attachment("image2", &b),
                CommandOption::integer("dimensions", 0),
            ],
        )
        .await
        .unwrap();
    let grid = w.final_original(slash).await;
    assert_eq!(w.sandbox.interaction(slash).unwrap().callback_type(), Some(5), "deferred first");
    assert_eq!(grid.content, format!("**/blend --ar 2:3** - <@{alice}>"));
    assert_eq!(faces(&grid), ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4", "ℹ️"]);
    assert_eq!(grid.attachments.len(), 1);
    let (gw, gh) = (grid.attachments[0].width.unwrap(), grid.attachments[0].height.unwrap());
    assert!(gh > gw, "a portrait grid: {gw}x{gh}");

    // 🔄 blends the same two images again, in a new message.
    w.sandbox.click(alice, grid.id, &id(&grid, "🔄")).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| {
            (v.messages().iter().filter(|m| m.content.starts_with("**/blend") && is_final(m)).count() == 2)
                .then_some(())
        })
        .await
        .unwrap();
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_lists_four_prompts_whose_buttons_imagine_and_reroll() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let img = w.sandbox.upload("cat.png", "image/png", png(7));
    let slash =
        w.sandbox.slash(alice, "describe", vec![CommandOption::attachment("image", &img)]).await.unwrap();
    let described = w.final_original(slash).await;
    let lines: Vec<&str> = described.content.lines().collect();
    assert_eq!(lines[0], format!("**/describe** - <@{alice}>"));
    assert_eq!(lines.len(), 5, "{}", described.content);
    for (line, n) in lines[1..].iter().zip(["1️⃣", "2️⃣", "3️⃣", "4️⃣"]) {
        assert!(line.starts_with(n) && line.len() > n.len() + 1, "{line}");
    }
    assert_eq!(faces(&described), ["1", "2", "3", "4", "🔄", "Imagine all", "ℹ️"]);
    assert_eq!(described.attachments.len(), 1, "the described image is shown");

    // `2` by bob: a new /imagine of the second prompt, owned by bob, ending in a grid.
    let second = lines[2].trim_start_matches("2️⃣").trim().replace('\\', "");
    w.sandbox.click(bob, described.id, &id(&described, "2")).await.unwrap();
    let grid = w.final_message_with(&format!("** - <@{bob}>")).await;
    assert_eq!(grid.content, format!("**{}** - <@{bob}>", second));
    assert_eq!(grid.buttons().count(), 10);

    // 🔄: the same image described again, in another message.
    w.sandbox.click(alice, described.id, &id(&described, "🔄")).await.unwrap();
    w.sandbox
        .wait_for(WAIT, |v| {
            (v.messages().iter().filter(|m| m.content.starts_with("**/describe**") && is_final(m)).count()
                == 2)
                .then_some(())
        })
        .await
        .unwrap();
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_mistakes_get_private_answers_that_say_what_to_change() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| c.limits.max_image_bytes = 4096).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    // A link to the bot's own machine.
    w.sandbox
        .slash(alice, "describe", vec![CommandOption::string("link", "http://127.0.0.1/secret.png")])
        .await
        .unwrap();
    ephemeral_with(&w, alice, "private address").await;

    // A file that is not an image, whatever it is called.
    let text = w.sandbox.upload("notes.png", "image/png", Bytes::from_static(b"just some text, honest"));
    w.sandbox.slash(alice, "describe", vec![CommandOption::attachment("image", &text)]).await.unwrap();
    ephemeral_with(&w, alice, "not a PNG, JPEG, WebP or GIF").await;

    // Too big for the configured cap.
    let noisy =
        image::RgbImage::from_fn(128, 128, |x, y| image::Rgb([(x * 31 + y * 17) as u8, (x * y) as u8, 3]));
    let big = w.sandbox.upload("big.png", "image/png", easel::imaging::encode_png(&noisy).unwrap().into());
    assert!(big.size > 4096);
    w.sandbox
        .slash(
            alice,
            "blend",
            vec![CommandOption::attachment("image1", &big), CommandOption::attachment("image2", &big)],
        )
        .await
        .unwrap();
    ephemeral_with(&w, alice, "Image 1: The image is").await;

    // Neither option, or both.
    w.sandbox.slash(alice, "describe", vec![]).await.unwrap();
    ephemeral_with(&w, alice, "an `image` to upload or a `link`").await;
    let small = w.sandbox.upload("s.png", "image/png", png(3));
    w.sandbox
        .slash(
            alice,
            "describe",
            vec![
                CommandOption::attachment("image", &small),
                CommandOption::string("link", "https://example.com/a.png"),
            ],
        )
        .await
        .unwrap();
    ephemeral_with(&w, alice, "not both").await;

    no_public_messages(&w);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_backend_cannot_blend_says_so() {
    let mut w = World::new(Backend::OpenAi, |c| c.backends[0].set("blend", false)).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let a = w.sandbox.upload("a.png", "image/png", png(1));
    let slash = w
        .sandbox
        .slash(
            alice,
            "blend",
            vec![CommandOption::attachment("image1", &a), CommandOption::attachment("image2", &a)],
        )
        .await
        .unwrap();
    let reply = ephemeral_with(&w, alice, "No backend here can blend").await;
    assert_eq!(w.sandbox.interaction(slash).unwrap().callback_type(), Some(4), "answered at once");
    assert!(reply.visible_to(alice));
    assert!(w.fake.api_requests().is_empty());
    no_public_messages(&w);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagine_all_queues_the_four_prompts_together() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let bob = w.sandbox.add_user("bob");
    let described = describe_upload(&w, alice).await;
    let prompts: Vec<String> =
        described.content.lines().skip(1).map(|l| l.split_once(' ').unwrap().1.replace('\\', "")).collect();
    assert_eq!(prompts.len(), 4);
    w.sandbox.click(bob, described.id, &id(&described, "Imagine all")).await.unwrap();
    let grids = w
        .sandbox
        .wait_for(WAIT, |v| {
            let grids: Vec<Message> = v
                .messages()
                .iter()
                .filter(|m| m.content.ends_with(&format!("** - <@{bob}>")) && is_final(m))
                .cloned()
                .collect();
            (grids.len() == 4).then_some(grids)
        })
        .await
        .expect("four grids, one per prompt");
    let mut made: Vec<String> = grids.iter().map(|g| g.content.clone()).collect();
    let mut wanted: Vec<String> = prompts.iter().map(|p| format!("**{p}** - <@{bob}>")).collect();
    made.sort();
    wanted.sort();
    assert_eq!(made, wanted);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imagine_all_is_refused_whole_when_the_caps_cannot_take_four() {
    // One running and four waiting: the first press fills that; the second, pressed at once,
    // would fit one more task but asks four, so it gets none.
    let mut w = World::new(Backend::Demo { step_ms: 1500 }, |c| {
        c.limits.per_user_running = 1;
        c.limits.per_user_queued = 4;
    })
    .await;
    let app = w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let described = w.final_original(describe_slash(&w, alice).await).await;
    let all = id(&described, "Imagine all");
    w.sandbox.click(alice, described.id, &all).await.unwrap();
    w.sandbox.click(alice, described.id, &all).await.unwrap();
    ephemeral_with(&w, alice, "You already have").await;
    let before = app.db.unfinished_of(&alice.to_string()).await.unwrap();
    assert_eq!(before.len(), 4, "one press queued all four, the other none");
    let audit = app.db.audit_recent(10).await.unwrap();
    assert!(audit.iter().any(|a| a.verdict == "refused"), "{audit:?}");
    for task in before {
        app.engine.cancel(task.id, &alice.to_string(), false).await.unwrap();
    }
}

async fn describe_slash(w: &World, user: u64) -> u64 {
    let img = w.sandbox.upload("cat.png", "image/png", png(7));
    w.sandbox.slash(user, "describe", vec![CommandOption::attachment("image", &img)]).await.unwrap()
}
