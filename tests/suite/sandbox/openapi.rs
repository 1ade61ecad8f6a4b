//! The sandbox's real responses, held against the response schemas of Discord's OpenAPI document
//! (vendored as `tests/data/discord-openapi.json`): gateway URLs, application and user,
//! registered commands, channel messages, interaction responses and followups, the message
//! inside a component interaction, and the error and 429 bodies.

use crate::support::openapi_check;
// Each test binary uses a different part of the helpers.
use crate::support::raw_bot;

use std::time::Duration;

use easel::sandbox::{CommandOption, RouteKind, Sandbox, SandboxOptions};
use openapi_check::OpenApi;
use raw_bot::{Api, Part, RawBot, tiny_png};
use serde_json::{Value, json};

#[test]
fn the_checker_catches_what_it_should() {
    let spec = OpenApi::load();
    let message = spec.schema("MessageResponse");
    let errors = spec.errors(message, &json!({"id": "12"}));
    assert!(errors.iter().any(|e| e.contains("missing required property \"author\"")), "{errors:?}");
    let user = spec.schema("UserResponse");
    let bad = json!({"id": "01", "username": 3, "avatar": null, "discriminator": "0", "public_flags": 0, "flags": 0,
        "global_name": null, "primary_guild": {"nope": true}});
    let errors = spec.errors(user, &bad);
    assert!(errors.iter().any(|e| e.contains("$.id") && e.contains("snowflake")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("$.username")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("$.primary_guild") && e.contains("oneOf")), "{errors:?}");
}

#[tokio::test]
async fn sandbox_responses_match_discords_schemas() {
    let spec = OpenApi::load();
    let sandbox = Sandbox::start(SandboxOptions::default()).await.expect("start");
    let mut bot = RawBot::identify(&sandbox).await.expect("identify");
    let api = Api::new(&sandbox);
    let (app, guild, chan) = (sandbox.application_id(), sandbox.guild_id(), sandbox.channel_id());

    for (path, route) in [
        ("/gateway", "/gateway"),
        ("/gateway/bot", "/gateway/bot"),
        ("/oauth2/applications/@me", "/oauth2/applications/@me"),
        ("/users/@me", "/users/@me"),
    ] {
        let r = api.call("GET", path, None).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        spec.assert_response("GET", route, "200", &r.body);
    }

    // poise's registration body, as observed on the wire.
    let commands = json!([{"name": "imagine", "description": "Generate an image", "type": 1, "nsfw": false,
        "default_member_permissions": null, "dm_permission": true, "integration_types": null, "contexts": null,
        "name_localizations": {}, "description_localizations": {},
        "options": [{"type": 3, "name": "prompt", "description": "What to draw", "required": true, "autocomplete": null,
            "name_localizations": {}, "description_localizations": {}, "min_length": null, "choices": []},
            {"type": 4, "name": "count", "description": "How many", "required": false, "min_value": 1, "max_value": 4}]}]);
    let r = api.call("PUT", &format!("/applications/{app}/commands"), Some(commands.clone())).await;
    spec.assert_response("PUT", "/applications/{application_id}/commands", "200", &r.body);
    let r = api.call("PUT", &format!("/applications/{app}/guilds/{guild}/commands"), Some(commands)).await;
    spec.assert_response("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", "200", &r.body);
    assert_eq!(r.body[0]["guild_id"], guild.to_string());

    // A channel message with a file and buttons, then read and edited.
    let png = tiny_png();
    let payload = json!({"content": "hello", "attachments": [{"id": 0, "filename": "a.png", "description": "a square"}],
        "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "go", "label": "Go", "emoji": {"name": "🎨"}},
            {"type": 2, "style": 5, "url": "http://127.0.0.1/x", "label": "Link"}]}],
        "embeds": [{"title": "t", "description": "d"}]});
    let created = api
        .multipart("POST", &format!("/channels/{chan}/messages"), payload, vec![Part::png(0, "a.png", &png)])
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    spec.assert_response("POST", "/channels/{channel_id}/messages", "200", &created.body);
    let mid = created.body["id"].as_str().expect("id").to_owned();
    let got = api.call("GET", &format!("/channels/{chan}/messages/{mid}"), None).await;
    spec.assert_response("GET", "/channels/{channel_id}/messages/{message_id}", "200", &got.body);
    let edited = api
        .call("PATCH", &format!("/channels/{chan}/messages/{mid}"), Some(json!({"content": "edited"})))
        .await;
    spec.assert_response("PATCH", "/channels/{channel_id}/messages/{message_id}", "200", &edited.body);
    assert!(edited.body["edited_timestamp"].is_string());

    // An interaction: defer, edit @original with a file and buttons, followups.
    let alice = sandbox.add_user("alice");
    let id = sandbox
        .slash(
            alice,
            "imagine",
            vec![CommandOption::string("prompt", "x"), CommandOption::integer("count", 2)],
        )
        .await
        .expect("slash");
    let d = bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
    let token = d["token"].as_str().expect("token").to_owned();
    let cb = api
        .call(
            "POST",
            &format!("/interactions/{id}/{token}/callback"),
            Some(json!({"type": 5, "data": {"flags": 0, "attachments": []}})),
        )
        .await;
    assert_eq!((cb.status, cb.body.clone()), (204, Value::Null));
    let original = format!("/webhooks/{app}/{token}/messages/@original");
    let payload = json!({"content": "done", "components": [{"type": 1, "components": [
        {"type": 2, "style": 1, "custom_id": "u1", "label": "U1", "disabled": false}]}],
        "attachments": [{"id": 0, "filename": "imagine.png", "description": null}]});
    let r = api.multipart("PATCH", &original, payload, vec![Part::png(0, "imagine.png", &png)]).await;
    spec.assert_response(
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        "200",
        &r.body,
    );
    assert_eq!(r.body["interaction"]["id"], id.to_string());
    let r = api.call("GET", &original, None).await;
    spec.assert_response("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", "200", &r.body);
    let r = api
        .call(
            "POST",
            &format!("/webhooks/{app}/{token}"),
            Some(json!({"content": "more", "flags": 64, "embeds": []})),
        )
        .await;
    spec.assert_response("POST", "/webhooks/{webhook_id}/{webhook_token}", "200", &r.body);
    let fid = r.body["id"].as_str().expect("id").to_owned();
    let r = api
        .call("PATCH", &format!("/webhooks/{app}/{token}/messages/{fid}"), Some(json!({"content": "more!"})))
        .await;
    spec.assert_response(
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        "200",
        &r.body,
    );

    // The message carried by a component interaction is a full message object too.
    let grid = sandbox.wait_for(raw_bot::WAIT, |v| v.original_message(id).map(|m| m.id)).await.expect("grid");
    sandbox.click(alice, grid, "u1").await.expect("click");
    let d = bot.expect_dispatch("INTERACTION_CREATE").await.expect("dispatch");
    let errors = spec.errors(spec.schema("MessageResponse"), &d["message"]);
    assert!(errors.is_empty(), "component interaction message: {errors:#?}");

    // Error bodies: 4XX and 429.
    let r = api.call("GET", &format!("/channels/{chan}/messages/1"), None).await;
    spec.assert_response("GET", "/channels/{channel_id}/messages/{message_id}", "4XX", &r.body);
    // Form errors: the spec types `_errors[].code` as an integer, but Discord sends strings such
    // as "BASE_TYPE_MAX_LENGTH" and serenity's parser requires strings, so the sandbox follows
    // Discord there and the nested `errors` are checked by hand.
    let r = api.call("PATCH", &original, Some(json!({"content": "x".repeat(2001)}))).await;
    let mut top = r.body.clone();
    let nested = top.as_object_mut().and_then(|o| o.remove("errors")).expect("form errors");
    spec.assert_response("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", "4XX", &top);
    assert_eq!(nested["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    assert!(nested["content"]["_errors"][0]["message"].is_string());
    sandbox.rate_limit_next(RouteKind::Any, 1, Duration::from_millis(250));
    let r = api.call("GET", "/users/@me", None).await;
    assert_eq!(r.status, 429);
    spec.assert_response("GET", "/users/@me", "429", &r.body);
}
