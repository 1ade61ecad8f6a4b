//! The admin side through the sandbox: /easel hidden from members (Discord would not show it)
//! and refused by the bot itself when a server grants it anyway; pause and resume; bans on
//! commands and buttons; a quota override; banned words and the audit; the channel allow-list;
//! and direct messages, refused and allowed.

use crate::support;

use easel::sandbox::{CommandOption, Message};
use support::flows::{click_id, describe_upload, ephemeral_with};
use support::world::{Backend, WAIT, World};

fn sub(name: &str, options: Vec<CommandOption>) -> Vec<CommandOption> {
    vec![CommandOption::subcommand(name, options)]
}

async fn easel(w: &World, user: u64, name: &str, options: Vec<CommandOption>) {
    w.sandbox.slash(user, "easel", sub(name, options)).await.expect("/easel dispatched");
}

/// The newest private answer to `user` containing `needle`.
async fn latest_ephemeral(w: &World, user: u64, needle: &str) -> Message {
    w.sandbox
        .wait_for(WAIT, |v| {
            v.messages()
                .iter()
                .rev()
                .find(|m| m.is_ephemeral() && m.visible_to(user) && m.content.contains(needle))
                .cloned()
        })
        .await
        .unwrap_or_else(|_| panic!("no private answer containing {needle:?}:\n{}", w.sandbox.summary()))
}

/// How many private answers `user` has had that contain `needle`.
fn count_ephemeral(w: &World, user: u64, needle: &str) -> usize {
    w.sandbox
        .messages()
        .iter()
        .filter(|m| m.is_ephemeral() && m.visible_to(user) && m.content.contains(needle))
        .count()
}

/// Waits until `user` has had `n` private answers containing `needle`.
async fn nth_ephemeral(w: &World, user: u64, needle: &str, n: usize) {
    w.sandbox
        .wait_for(WAIT, |v| {
            let seen = v
                .messages()
                .iter()
                .filter(|m| m.is_ephemeral() && m.visible_to(user) && m.content.contains(needle))
                .count();
            (seen >= n).then_some(())
        })
        .await
        .unwrap_or_else(|_| panic!("fewer than {n} answers containing {needle:?}:\n{}", w.sandbox.summary()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_pause_bans_and_quotas() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |_| {}).await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");
    let carol = w.sandbox.add_admin("carol");

    // Registered for admins only (Manage Server = 1 << 5), and not for DMs.
    let registered = w.sandbox.registered_commands();
    let cmd = registered.iter().find(|c| c["name"] == "easel").expect("/easel registered");
    assert_eq!(cmd["default_member_permissions"], "32");
    assert_eq!(cmd["contexts"], serde_json::json!([0]));
    let subs: Vec<&str> =
        cmd["options"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(subs, ["pause", "resume", "ban", "unban", "quota", "status", "audit"]);

    // Discord would not even show it to a member...
    let hidden = w.sandbox.slash(alice, "easel", sub("status", vec![])).await.unwrap_err();
    assert!(hidden.to_string().contains("hidden from user"), "{hidden}");
    // ...and when the server grants it to them anyway, the bot refuses by itself.
    w.sandbox.grant_command("easel", alice);
    easel(&w, alice, "pause", vec![]).await;
    ephemeral_with(&w, alice, "Only server admins (with Manage Server) can use /easel.").await;
    assert!(!w.app().unwrap().engine.is_paused());

    // Pause: new work refused, reading still works; status says so.
    easel(&w, carol, "pause", vec![]).await;
    ephemeral_with(&w, carol, "⏸️ Easel is paused.").await;
    w.imagine(alice, "a lighthouse").await;
    ephemeral_with(&w, alice, "Easel is paused by an admin").await;
    w.sandbox.slash(alice, "info", vec![]).await.unwrap();
    ephemeral_with(&w, alice, "**Your Easel**").await;
    easel(&w, carol, "status", vec![]).await;
    let status = ephemeral_with(&w, carol, "**Easel status**").await;
    assert!(status.content.contains("⏸️ **Paused**"), "{}", status.content);

    // Resume: /imagine works again.
    easel(&w, carol, "resume", vec![]).await;
    ephemeral_with(&w, carol, "Easel is taking new tasks again").await;
    let grid = w.final_original(w.imagine(alice, "a lighthouse").await).await;
    assert_eq!(grid.buttons().count(), 10);

    // Ban: commands and buttons refused, privately.
    easel(
        &w,
        carol,
        "ban",
        vec![CommandOption::user("user", alice), CommandOption::string("reason", "spam")],
    )
    .await;
    ephemeral_with(&w, carol, &format!("<@{alice}> is barred from Easel")).await;
    let barred = "An admin has barred you from using Easel";
    w.imagine(alice, "a harbour").await;
    nth_ephemeral(&w, alice, barred, 1).await;
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U1")).await.unwrap();
    nth_ephemeral(&w, alice, barred, 2).await;
    w.sandbox.slash(alice, "info", vec![]).await.unwrap();
    nth_ephemeral(&w, alice, barred, 3).await;
    easel(&w, carol, "status", vec![]).await;
    let status = latest_ephemeral(&w, carol, "**Barred members** 1").await;
    assert!(status.content.contains("▶️ Taking new tasks."), "{}", status.content);

    // Unban: back in.
    easel(&w, carol, "unban", vec![CommandOption::user("user", alice)]).await;
    ephemeral_with(&w, carol, &format!("<@{alice}> may use Easel again.")).await;
    w.final_original(w.imagine(alice, "a harbour").await).await;

    // A quota override: two a day, and Alice has had two today.
    easel(&w, carol, "quota", vec![CommandOption::user("user", alice), CommandOption::integer("daily", 2)])
        .await;
    ephemeral_with(&w, carol, &format!("<@{alice}> now has 2 a day and their roles' running cap.")).await;
    w.imagine(alice, "a third one").await;
    let refusal = ephemeral_with(&w, alice, "You have used 2 of your 2 images for today.").await;
    assert!(refusal.content.contains("Your quota resets at 00:00 UTC (<t:"), "{}", refusal.content);
    w.sandbox.slash(alice, "info", vec![]).await.unwrap();
    latest_ephemeral(&w, alice, "**Usage** 2 of 2 today (resets at 00:00 UTC)").await;
    assert_eq!(count_ephemeral(&w, alice, barred), 3, "nothing else was refused as barred");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_words_are_named_exceptions_pass_and_prompts_are_audited() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        c.moderation.banned_words = vec![r"\bgore\b".into(), "nud".into()];
        c.moderation.allowed_words = vec![r"nudibranch\w*".into()];
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    let refused = w.imagine(alice, "a scene full of gore").await;
    let msg = ephemeral_with(&w, alice, "`gore` is not allowed on this server").await;
    assert_eq!(msg.interaction_id, Some(refused));
    w.final_original(w.imagine(alice, "a nudibranch in a gorge").await).await;
    describe_upload(&w, alice).await;

    let app = w.app().unwrap();
    let rows = app.db.audit_recent(10).await.unwrap();
    let seen: Vec<(&str, &str, Option<&str>, &str)> = rows
        .iter()
        .rev()
        .map(|r| (r.command.as_str(), r.verdict.as_str(), r.reason.as_deref(), r.prompt.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("imagine", "refused", Some("banned-word:gore"), "a scene full of gore"),
            ("imagine", "accepted", None, "a nudibranch in a gorge"),
            ("describe", "accepted", None, ""),
        ]
    );
    let (guild, channel) = (w.sandbox.guild_id().to_string(), w.sandbox.channel_id().to_string());
    assert!(rows.iter().all(|r| r.user_id == alice.to_string()
        && r.guild_id.as_deref() == Some(guild.as_str())
        && r.channel_id.as_deref() == Some(channel.as_str())));

    // An admin reads the same audit with /easel audit: privately, newest first, escaped.
    let carol = w.sandbox.add_admin("carol");
    w.final_original(w.imagine(carol, "a *bold* harbour").await).await;
    easel(&w, carol, "audit", vec![]).await;
    let all = latest_ephemeral(&w, carol, "**Recent prompts**, newest first").await;
    let lines: Vec<&str> = all.content.lines().skip(1).collect();
    assert_eq!(lines.len(), 4, "{}", all.content);
    assert!(lines[0].ends_with(&format!("<@{carol}> /imagine ✅ a \\*bold\\* harbour")), "{}", lines[0]);
    assert!(lines[1].ends_with(&format!("<@{alice}> /describe ✅")), "{}", lines[1]);
    assert!(lines[2].ends_with("/imagine ✅ a nudibranch in a gorge"), "{}", lines[2]);
    assert!(
        lines[3]
            .ends_with(&format!("<@{alice}> /imagine ⛔ refused (banned-word:gore) a scene full of gore")),
        "{}",
        lines[3]
    );
    easel(&w, carol, "audit", vec![CommandOption::user("member", carol)]).await;
    let mine = latest_ephemeral(&w, carol, &format!("**Recent prompts** of <@{carol}>")).await;
    assert_eq!(mine.content.lines().count(), 2, "only Carol's one prompt: {}", mine.content);
    // Admin-only like every /easel subcommand, even when a server grants it to a member.
    w.sandbox.grant_command("easel", alice);
    easel(&w, alice, "audit", vec![]).await;
    ephemeral_with(&w, alice, "Only server admins (with Manage Server) can use /easel.").await;
    assert_eq!(count_ephemeral(&w, alice, "Recent prompts"), 0);
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_channels_and_direct_messages_are_refused_by_default() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        // Global commands: the only ones Discord offers in DMs.
        c.discord.guild_ids = vec![];
        c.discord.allowed_channels = vec![4242];
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    w.imagine(alice, "a lighthouse").await;
    ephemeral_with(&w, alice, "Easel can't be used in this channel. Try <#4242>.").await;
    w.sandbox.slash(alice, "queue", vec![]).await.unwrap();
    nth_ephemeral(&w, alice, "Easel can't be used in this channel", 2).await;

    let dm =
        w.sandbox.slash_dm(alice, "imagine", vec![CommandOption::string("prompt", "a cat")]).await.unwrap();
    let refusal = ephemeral_with(&w, alice, "Easel doesn't take commands in direct messages").await;
    assert_eq!(refusal.interaction_id, Some(dm));
    assert_eq!(Some(refusal.channel_id), w.sandbox.dm_channel(alice), "answered in the DM");
    // /easel is for servers only: Discord does not offer it in DMs.
    let err = w.sandbox.slash_dm(alice, "easel", sub("status", vec![])).await.unwrap_err();
    assert!(err.to_string().contains("without BOT_DM"), "{err}");
    let app = w.app().unwrap();
    assert!(app.db.unfinished_of(&alice.to_string()).await.unwrap().is_empty());
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_work_when_allowed() {
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        c.discord.guild_ids = vec![];
        c.discord.allow_dms = true;
    })
    .await;
    w.start_in_process().await;
    let alice = w.sandbox.add_user("alice");

    let dm =
        w.sandbox.slash_dm(alice, "imagine", vec![CommandOption::string("prompt", "a cat")]).await.unwrap();
    let grid = w.final_original(dm).await;
    let channel = w.sandbox.dm_channel(alice).expect("a DM channel");
    assert_eq!(grid.channel_id, channel);
    assert_eq!(grid.buttons().count(), 10);

    // Its buttons work there too.
    w.sandbox.click(alice, grid.id, &click_id(&grid, "U2")).await.unwrap();
    let up = w.final_message_with("- Image #2").await;
    assert_eq!(up.channel_id, channel);
    let rows = w.app().unwrap().db.audit_recent(10).await.unwrap();
    assert!(rows.iter().all(|r| r.guild_id.is_none() && r.verdict == "accepted"), "{rows:?}");
    assert_eq!(rows.len(), 2, "the /imagine and the U2");
    w.assert_no_violations();
}
