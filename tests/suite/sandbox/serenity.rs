//! A real poise 0.7.1 bot on serenity 0.12.5, connected to the sandbox exactly as Easel will be
//! (`HttpBuilder::proxy` + `ratelimiter_disabled(true)` + `ClientBuilder::new_with_http`): one
//! slash command that defers and edits in a PNG and buttons, and button handlers for a type 6 +
//! edit, a type 6 + followup with a file, and a type 7. The sandbox must see every step within
//! Discord's limits, and serenity must parse every payload (no "Err deserializing" in its log).
//! Then the gateway is faulted (dropped socket, op 7, op 9) and the bot must come back.

// Each test binary uses a different part of the helpers.
use crate::support::raw_bot;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use easel::sandbox::{CommandOption, InteractionEvent, RouteKind, Sandbox, SandboxOptions};
use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateAttachment, CreateButton, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, EditInteractionResponse,
};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Ctx<'a> = poise::Context<'a, Data, Error>;
struct Data;

const WAIT: Duration = Duration::from_secs(20);

/// Everything serenity and poise log at WARN or above, and every error the framework reports.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static BOT_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct LogWriter;
impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

fn png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(raw_bot::tiny_png)
}

fn grid_buttons(u1_disabled: bool) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new("upscale:1").label("U1").disabled(u1_disabled),
        CreateButton::new("upscale:2").label("U2"),
        CreateButton::new("vary").label("Vary").style(ButtonStyle::Secondary),
        CreateButton::new("reroll").emoji('🔄').style(ButtonStyle::Secondary),
    ])]
}

/// Draw a picture
#[poise::command(slash_command)]
async fn imagine(ctx: Ctx<'_>, #[description = "What to draw"] prompt: String) -> Result<(), Error> {
    ctx.defer().await?;
    let poise::Context::Application(app) = ctx else { return Ok(()) };
    let http = ctx.serenity_context().http.clone();
    app.interaction.edit_response(&http, EditInteractionResponse::new().content("Drawing… 50%")).await?;
    let done = EditInteractionResponse::new()
        .content(format!("**{prompt}**"))
        .new_attachment(CreateAttachment::bytes(png().to_vec(), "imagine.png"))
        .components(grid_buttons(false));
    app.interaction.edit_response(&http, done).await?;
    Ok(())
}

async fn on_event(
    fw: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    let serenity::FullEvent::InteractionCreate { interaction: serenity::Interaction::Component(c) } = event
    else {
        return Ok(());
    };
    let http = &fw.serenity_context.http;
    match c.data.custom_id.as_str() {
        "upscale:1" => {
            c.create_response(http, CreateInteractionResponse::Acknowledge).await?;
            // No attachments key: the image stays.
            let edit = EditInteractionResponse::new().content("U1 chosen").components(grid_buttons(true));
            c.edit_response(http, edit).await?;
        }
        "upscale:2" => {
            c.create_response(http, CreateInteractionResponse::Acknowledge).await?;
            let followup = CreateInteractionResponseFollowup::new()
                .content("Upscaled image #2")
                .add_file(CreateAttachment::bytes(png().to_vec(), "upscale_2.png"));
            c.create_followup(http, followup).await?;
        }
        "vary" => {
            let update = CreateInteractionResponseMessage::new().content("Varied");
            c.create_response(http, CreateInteractionResponse::UpdateMessage(update)).await?;
        }
        _ => {}
    }
    Ok(())
}

async fn start_bot(sandbox: &Sandbox) -> std::sync::Arc<serenity::ShardManager> {
    let options = poise::FrameworkOptions {
        commands: vec![imagine()],
        event_handler: |fw, event| Box::pin(on_event(fw, event)),
        on_error: |err| {
            Box::pin(async move {
                let text = match err {
                    poise::FrameworkError::Command { error, .. } => format!("command: {error}"),
                    poise::FrameworkError::EventHandler { error, .. } => format!("event handler: {error}"),
                    other => format!("{other}"),
                };
                BOT_ERRORS.lock().unwrap_or_else(|e| e.into_inner()).push(text);
            })
        },
        initialize_owners: false,
        ..Default::default()
    };
    let framework = poise::Framework::builder()
        .options(options)
        .setup(|ctx, _ready, framework| {
            Box::pin(async move {
                poise::builtins::register_globally(ctx, &framework.options().commands).await?;
                Ok(Data)
            })
        })
        .build();
    let http = serenity::HttpBuilder::new(sandbox.bot_token())
        .proxy(sandbox.api_base())
        .ratelimiter_disabled(true)
        .build();
    let mut client = serenity::ClientBuilder::new_with_http(http, serenity::GatewayIntents::non_privileged())
        .framework(framework)
        .await
        .expect("client");
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        if let Err(e) = client.start().await {
            BOT_ERRORS.lock().unwrap_or_else(|e| e.into_inner()).push(format!("client: {e}"));
        }
    });
    shards
}

fn init_log_capture() {
    // SANDBOX_TEST_LOG=serenity=debug shows serenity's view of a failing run.
    let filter = std::env::var("SANDBOX_TEST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(|| LogWriter)
        .try_init();
}

/// A sandbox with the bot connected and its commands registered, and a user.
async fn connected() -> (Sandbox, std::sync::Arc<serenity::ShardManager>, u64) {
    init_log_capture();
    let sandbox =
        Sandbox::start(SandboxOptions { heartbeat_interval: Duration::from_secs(1), ..Default::default() })
            .await
            .expect("sandbox");
    let shards = start_bot(&sandbox).await;
    sandbox.wait_ready(WAIT).await.expect("ready");
    let alice = sandbox.add_user("alice");
    (sandbox, shards, alice)
}

/// Nothing went wrong on either side: no limit broken (rate limits included, though serenity's
/// own limiter is off), no bot error, every payload parsed.
fn assert_clean(sandbox: &Sandbox) {
    assert!(sandbox.violations().is_empty(), "{:#?}", sandbox.violations());
    assert_eq!(sandbox.stats().rate_limited_total, 0, "{:#?}", sandbox.stats());
    let errors = BOT_ERRORS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(errors.is_empty(), "the bot reported errors: {errors:#?}");
    let log = log_text();
    assert!(!log.contains("Err deserializing"), "serenity could not parse a payload:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poise_bot_runs_the_whole_flow_against_the_sandbox() {
    let (sandbox, shards, alice) = connected().await;
    let commands = sandbox.registered_commands();
    assert_eq!(commands[0]["name"], "imagine");
    assert_eq!(commands[0]["options"][0]["name"], "prompt");

    let slash = sandbox
        .slash(alice, "imagine", vec![CommandOption::string("prompt", "a red square")])
        .await
        .expect("slash");
    let grid = sandbox
        .wait_for(WAIT, |v| v.original_message(slash).filter(|m| !m.attachments.is_empty()).cloned())
        .await
        .expect("the grid message");
    let record = sandbox.interaction(slash).expect("record");
    let callback = record.callback.expect("callback");
    assert_eq!(callback.kind, 5);
    assert!(callback.latency < Duration::from_secs(3), "deferred within the limit: {:?}", callback.latency);
    assert_eq!(record.events.len(), 3, "defer, progress edit, final edit: {:?}", record.events);
    assert_eq!((grid.content.as_str(), grid.edits, grid.loading), ("**a red square**", 2, false));
    assert_eq!(grid.labels(), ["U1", "U2", "Vary"]);
    assert_eq!(
        grid.button_by_id("reroll").and_then(|b| b.emoji.as_ref()).map(|e| e.name.as_str()),
        Some("🔄")
    );
    let image = &grid.attachments[0];
    assert_eq!(
        (image.filename.as_str(), image.content_type.as_deref(), image.width),
        ("imagine.png", Some("image/png"), Some(2))
    );
    let downloaded = reqwest::get(&image.url).await.expect("download").bytes().await.expect("bytes");
    assert_eq!(downloaded.as_ref(), png());

    // Type 6 then edit_response: edited in place, image kept.
    let u1 = sandbox.click(alice, grid.id, "upscale:1").await.expect("click U1");
    let edited = sandbox
        .wait_for(WAIT, |v| v.message(grid.id).filter(|m| m.content == "U1 chosen").cloned())
        .await
        .expect("U1 edit");
    assert_eq!(sandbox.interaction(u1).and_then(|r| r.callback_type()), Some(6));
    assert!(edited.button("U1").is_some_and(|b| b.disabled));
    assert_eq!(edited.attachments, grid.attachments, "an edit without `attachments` keeps them");
    assert!(sandbox.click(alice, grid.id, "upscale:1").await.is_err(), "U1 is disabled now");

    // Type 6 then a followup with a file.
    let u2 = sandbox.click(alice, grid.id, "upscale:2").await.expect("click U2");
    let followup = sandbox
        .wait_for(WAIT, |v| v.interaction(u2)?.followup_ids.first().and_then(|id| v.message(*id)).cloned())
        .await
        .expect("followup");
    assert_eq!(
        (followup.content.as_str(), followup.attachments[0].filename.as_str()),
        ("Upscaled image #2", "upscale_2.png")
    );
    assert!(matches!(
        sandbox.interaction(u2).expect("record").events[1],
        InteractionEvent::Followup { filled_deferred: false, .. }
    ));

    // Type 7: serenity sends `attachments: []`, so the image goes (serenity issue #3068).
    let vary = sandbox.click(alice, grid.id, "vary").await.expect("click Vary");
    let varied = sandbox
        .wait_for(WAIT, |v| v.message(grid.id).filter(|m| m.content == "Varied").cloned())
        .await
        .expect("vary");
    assert_eq!(sandbox.interaction(vary).and_then(|r| r.callback_type()), Some(7));
    assert!(varied.attachments.is_empty() && varied.labels() == ["U1", "U2", "Vary"]);

    shards.shutdown_all().await;
    assert_clean(&sandbox);
    let stats = sandbox.stats();
    assert_eq!(stats.callback_latencies_ms.len(), 4);
    assert_eq!(stats.requests_to(RouteKind::EditOriginal), 3);
    assert_eq!(stats.requests_to(RouteKind::CreateFollowup), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_comes_back_after_gateway_faults() {
    let (sandbox, shards, alice) = connected().await;
    // A dropped socket and op 7 are RESUMEd; op 9 makes serenity IDENTIFY again (its shard
    // restart waits out a 5 s internal timeout, which is serenity's, not the sandbox's).
    for (fault, resumes, identifies) in [("drop", 1, 1), ("reconnect", 2, 1), ("invalid_session", 2, 2)] {
        let sent = match fault {
            "drop" => sandbox.gateway_drop(),
            "reconnect" => sandbox.gateway_reconnect(),
            _ => sandbox.gateway_invalid_session(),
        };
        assert!(sent, "{fault}");
        sandbox
            .wait_for(WAIT, |v| {
                let s = v.stats();
                (v.bot_connected() && s.resumes == resumes && s.identifies == identifies).then_some(())
            })
            .await
            .unwrap_or_else(|e| panic!("bot back after {fault}: {e:#}"));
        let again = sandbox
            .slash(alice, "imagine", vec![CommandOption::string("prompt", fault)])
            .await
            .expect("slash");
        sandbox
            .wait_for(WAIT, |v| v.original_message(again).filter(|m| !m.attachments.is_empty()).map(|_| ()))
            .await
            .unwrap_or_else(|e| panic!("command after {fault}: {e:#}"));
    }
    shards.shutdown_all().await;
    assert_clean(&sandbox);
}
