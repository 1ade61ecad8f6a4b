//! Unit checks that every object the sandbox renders deserializes with serenity 0.12.5's own
//! types. serenity drops a gateway event it cannot parse with only a WARN, so these catch a
//! missing required field long before an end-to-end test times out waiting for it.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use serenity::model::application::{Command, Interaction};
use serenity::model::channel::Message as SerenityMessage;
use serenity::model::event::{Event, GatewayEvent};

use super::clock::Clock;
use super::events::{self, SlashPayload};
use super::model::{ActionRow, Button, CommandOption, Emoji, InteractionKind, Message};
use super::render;
use super::state::{Config, Inner, User};

fn inner() -> Inner {
    let clock = Clock::new();
    let guild_id = clock.snowflake();
    let config = Config {
        token: "t".into(),
        base_url: "http://127.0.0.1:9".into(),
        listens_wide: false,
        application_id: clock.snowflake(),
        bot_user_id: clock.snowflake(),
        bot_name: "Easel".into(),
        guild_id,
        guild_name: "G".into(),
        channel_id: clock.snowflake(),
        channel_name: "general".into(),
        everyone_role_id: guild_id,
        heartbeat_interval_ms: 1000,
        rate_limits: Default::default(),
    };
    let inner = Inner::new(config, clock);
    let bot = inner.config.bot_user_id;
    inner.write(|w| {
        w.users.insert(
            bot,
            User {
                id: bot,
                name: "Easel".into(),
                bot: true,
                joined_at: Duration::ZERO,
                roles: Vec::new(),
                admin: true,
                permissions: None,
            },
        )
    });
    inner
}

fn png_1x2() -> Bytes {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&2u32.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0]);
    Bytes::from(b)
}

fn sample_message(inner: &Inner) -> Message {
    let attachment =
        inner.write(|w| inner.store_blob(w, "grid image.png", Some("image/png".into()), png_1x2(), None));
    assert_eq!((attachment.width, attachment.height), (Some(1), Some(2)));
    assert_eq!(attachment.filename, "grid_image.png");
    let button = |id: &str, label: &str| Button {
        style: 1,
        label: Some(label.into()),
        emoji: None,
        custom_id: Some(id.into()),
        url: None,
        disabled: false,
    };
    let mut reroll = button("reroll", "Re-roll");
    reroll.emoji = Some(Emoji { name: "🔄".into(), id: None, animated: false });
    let link = Button {
        style: 5,
        label: Some("Web".into()),
        emoji: None,
        custom_id: None,
        url: Some("http://127.0.0.1/x".into()),
        disabled: true,
    };
    Message {
        id: inner.clock.snowflake(),
        channel_id: inner.config.channel_id,
        author_id: inner.config.bot_user_id,
        content: "**a cat**".into(),
        components: vec![
            ActionRow { buttons: vec![button("u1", "U1"), button("u2", "U2")], others: vec![] },
            ActionRow { buttons: vec![reroll, link], others: vec![] },
        ],
        attachments: vec![attachment],
        embeds: vec![],
        flags: 0,
        ephemeral_for: None,
        loading: false,
        edits: 1,
        interaction_id: None,
        created_at: Duration::ZERO,
        edited_at: Some(Duration::from_secs(2)),
    }
}

fn dispatch_frame(t: &str, d: Value) -> String {
    json!({"op": 0, "s": 1, "t": t, "d": d}).to_string()
}

fn parse_event(frame: &str) -> Event {
    match serde_json::from_str::<GatewayEvent>(frame) {
        Ok(GatewayEvent::Dispatch(_, event)) => event,
        Ok(other) => panic!("not a dispatch: {other:?}"),
        Err(e) => panic!("serenity rejects the frame: {e}\n{frame}"),
    }
}

#[test]
fn message_json_is_a_serenity_message() {
    let inner = inner();
    let m = sample_message(&inner);
    let v = inner.read(|w| render::message(&inner, w, &m));
    let parsed: SerenityMessage = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}\n{v:#}"));
    assert_eq!(parsed.components.len(), 2);
    assert_eq!(parsed.attachments[0].width, Some(1));
    assert_eq!(parsed.author.id.get(), inner.config.bot_user_id);
}

#[test]
fn ready_and_guild_create_are_accepted() {
    let inner = inner();
    let alice = inner.add_user("alice", false);
    let ready = inner.read(|w| events::ready(&inner, w, "abc"));
    match parse_event(&dispatch_frame("READY", ready)) {
        Event::Ready(r) => assert_eq!(r.ready.application.id.get(), inner.config.application_id),
        other => panic!("{other:?}"),
    }
    let guild = inner.read(|w| events::guild_create(&inner, w));
    match parse_event(&dispatch_frame("GUILD_CREATE", guild)) {
        Event::GuildCreate(g) => {
            assert_eq!(g.guild.members.len(), 2);
            assert!(g.guild.members.keys().any(|k| k.get() == alice));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn interactions_are_accepted() {
    let inner = inner();
    let alice = inner.add_user("alice", false);
    let image = inner.upload("ref.png", "image/png", png_1x2());
    let command = json!({"id": "77", "name": "imagine", "type": 1});
    let options = vec![
        CommandOption::string("prompt", "a cat"),
        CommandOption::integer("count", 4),
        CommandOption::attachment("image", &image),
    ];
    let p = SlashPayload {
        id: 5,
        token: "tok",
        user: alice,
        command: &command,
        options: &options,
        place: events::Place::Guild { channel_id: inner.config.channel_id },
    };
    let v = inner.read(|w| events::slash_interaction(&inner, w, &p));
    match parse_event(&dispatch_frame("INTERACTION_CREATE", v)) {
        Event::InteractionCreate(e) => match e.interaction {
            Interaction::Command(c) => {
                assert_eq!(c.data.name, "imagine");
                assert_eq!(c.data.resolved.attachments.len(), 1);
                assert_eq!(c.member.map(|m| m.user.id.get()), Some(alice));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let m = sample_message(&inner);
    let v = inner.read(|w| {
        events::component_interaction(
            &inner,
            w,
            (6, "tok2", alice),
            "u1",
            &m,
            events::Place::Guild { channel_id: inner.config.channel_id },
        )
    });
    match parse_event(&dispatch_frame("INTERACTION_CREATE", v)) {
        Event::InteractionCreate(e) => match e.interaction {
            Interaction::Component(c) => {
                assert_eq!(c.data.custom_id, "u1");
                assert_eq!(c.message.id.get(), m.id);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn dm_interactions_have_a_user_and_no_guild() {
    let inner = inner();
    let alice = inner.add_user("alice", false);
    let command = json!({"id": "77", "name": "easel", "type": 1});
    let options = vec![CommandOption::subcommand("ban", vec![CommandOption::user("user", alice)])];
    let p = SlashPayload {
        id: 5,
        token: "tok",
        user: alice,
        command: &command,
        options: &options,
        place: events::Place::Dm { channel_id: 99 },
    };
    let v = inner.read(|w| events::slash_interaction(&inner, w, &p));
    assert_eq!(v["context"], 1);
    assert!(v.get("member").is_none() && v.get("guild_id").is_none());
    match parse_event(&dispatch_frame("INTERACTION_CREATE", v)) {
        Event::InteractionCreate(e) => match e.interaction {
            Interaction::Command(c) => {
                assert_eq!(c.user.id.get(), alice);
                assert!(c.member.is_none() && c.guild_id.is_none());
                assert_eq!(c.channel_id.get(), 99);
                assert_eq!(c.channel.map(|ch| ch.kind), Some(serenity::model::channel::ChannelType::Private));
                // The subcommand and its user option, resolved.
                assert_eq!(c.data.options[0].name, "ban");
                assert_eq!(c.data.resolved.users.len(), 1);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn interaction_responses_carry_the_interaction() {
    let inner = inner();
    let alice = inner.add_user("alice", false);
    let mut m = sample_message(&inner);
    let id = inner.write(|w| {
        let kind = InteractionKind::Command { name: "imagine".into(), options: vec![] };
        let record = super::model::InteractionRecord {
            id: 42,
            token: "tok".into(),
            user_id: alice,
            channel_id: inner.config.channel_id,
            kind,
            dispatched_at: Duration::ZERO,
            callback: None,
            original_message_id: Some(m.id),
            followup_ids: vec![],
            events: vec![],
            modal: None,
            choices: None,
        };
        w.interactions.insert(42, super::state::Interaction { record, expired_unanswered: false });
        42
    });
    m.interaction_id = Some(id);
    let v = inner.read(|w| render::message(&inner, w, &m));
    assert_eq!(v["type"], 20);
    let parsed: SerenityMessage = serde_json::from_value(v).expect("serenity message");
    assert_eq!(parsed.webhook_id.map(|w| w.get()), Some(inner.config.application_id));
}

#[test]
fn application_info_and_user_are_accepted() {
    let inner = inner();
    let app = inner.read(|w| render::application(&inner, w));
    let info: serenity::model::application::CurrentApplicationInfo =
        serde_json::from_value(app).expect("application info");
    assert_eq!(info.id.get(), inner.config.application_id);
    let me = inner.read(|w| render::current_user(&inner, w));
    let user: serenity::model::user::CurrentUser = serde_json::from_value(me).expect("current user");
    assert!(user.bot);
}

#[test]
fn registered_command_shape_is_accepted() {
    // The router's registration echo, checked through the HTTP path in tests/sandbox_openapi.rs;
    // here only the minimum serenity needs.
    let v = json!([{"id": "1", "application_id": "2", "version": "3", "type": 1, "name": "imagine",
        "description": "d", "default_member_permissions": null, "options": [{"type": 3, "name": "prompt", "description": "p", "required": true}]}]);
    let cmds: Vec<Command> = serde_json::from_value(v).expect("commands");
    assert_eq!(cmds[0].name, "imagine");
}

#[test]
fn error_bodies_parse_as_serenity_errors() {
    use super::error::ApiError;
    use super::model::ViolationKind;
    let e = ApiError::form(
        ViolationKind::ContentTooLong,
        &["content".into()],
        "BASE_TYPE_MAX_LENGTH",
        "Must be 2000 or fewer in length.",
    );
    let parsed: serenity::http::DiscordJsonError =
        serde_json::from_value(e.body()).expect("serenity error body");
    assert_eq!((parsed.code, parsed.errors[0].path.as_str()), (50035, "content"));
}
