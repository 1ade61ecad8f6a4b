//! /imagine's `image` and `style` attachment options: a member on a phone attaches instead of
//! pasting links. Through the real bot and the sandbox to a fake midjourney-proxy, which gets
//! the image prompt and the style reference in the prompt; what is not an image is refused
//! privately, naming the option, with nothing queued. On a gpt-image model they become the
//! images of an `/images/edits` call; where a backend cannot take them they are named as
//! ignored on the result.

use crate::support;

use bytes::Bytes;
use easel::base::ImageRole;
use easel::config::BackendConfig;
use easel::sandbox::{Attachment, CommandOption, Message};
use support::fake_mj_proxy::{self, FakeMjProxy};
use support::flows::{ephemeral_with, png};
use support::world::{Backend, World};

async fn mj_world() -> (World, FakeMjProxy) {
    let fake = FakeMjProxy::start(fake_mj_proxy::Knobs::default()).await;
    let mut w = World::new(Backend::Demo { step_ms: 0 }, |c| {
        let mut b = BackendConfig::new("mj", "mj-proxy");
        b.image_hosts = vec![fake.cdn_host()];
        b.base_url = fake.base_url.clone();
        b.set("poll_ms", 20);
        c.backends = vec![b];
    })
    .await;
    w.start_in_process().await;
    (w, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_image_and_style_reach_the_service_as_image_prompt_and_sref() {
    let (w, fake) = mj_world().await;
    let alice = w.sandbox.add_user("alice");
    let start = w.sandbox.upload("start.png", "image/png", png(3));
    let look = w.sandbox.upload("look.png", "image/png", png(90));
    let slash = w
        .sandbox
        .slash(
            alice,
            "imagine",
            vec![
                CommandOption::string("prompt", "a lighthouse --ar 3:2"),
                CommandOption::attachment("image", &start),
                CommandOption::attachment("style", &look),
            ],
        )
        .await
        .unwrap();
    let grid = w.final_original(slash).await;
    assert_eq!(grid.buttons().count(), 10, "U1–4, 🔄, V1–4 and ℹ️: {}", grid.content);

    let imagine = fake.requests_to("/mj/submit/imagine");
    assert_eq!(imagine.len(), 1);
    let prompt = imagine[0].json.as_ref().unwrap()["prompt"].as_str().unwrap().to_string();
    assert_eq!(prompt, format!("{} a lighthouse --ar 3:2 --sref {}", start.url, look.url));
    let app = w.app().expect("in process");
    let stored = app.db.images(1, ImageRole::Input).await.unwrap();
    assert_eq!(stored.len(), 2, "both attachments are kept with the task");
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_that_is_not_an_image_is_refused_naming_the_option() {
    let (w, fake) = mj_world().await;
    let alice = w.sandbox.add_user("alice");
    let notes = w.sandbox.upload("notes.txt", "text/plain", Bytes::from_static(b"not a picture"));
    w.sandbox
        .slash(
            alice,
            "imagine",
            vec![CommandOption::string("prompt", "a lighthouse"), CommandOption::attachment("style", &notes)],
        )
        .await
        .unwrap();
    let said = ephemeral_with(&w, alice, "The `style` option needs an image").await;
    assert!(said.content.contains("notes.txt") && said.content.contains("text/plain"), "{}", said.content);

    // Declared an image, but the bytes are not one: found after the download, the public
    // "thinking…" is taken back and nothing is queued.
    let fake_png =
        w.sandbox.upload("broken.png", "image/png", Bytes::from_static(b"<html>an error page</html>"));
    w.sandbox
        .slash(
            alice,
            "imagine",
            vec![CommandOption::string("prompt", "a harbour"), CommandOption::attachment("image", &fake_png)],
        )
        .await
        .unwrap();
    ephemeral_with(&w, alice, "The `image` image:").await;
    assert!(w.sandbox.messages().iter().all(|m| m.is_ephemeral()), "{:#?}", w.sandbox.messages());
    assert!(fake.requests_to("/mj/submit/").is_empty(), "nothing reached the service");
    w.assert_no_violations();
}

/// `127.0.0.1:PORT` of an attachment link: the sandbox's CDN, a private host the backend may
/// only fetch from when the operator lists it in `image_hosts`.
fn host_of(url: &str) -> String {
    url.trim_start_matches("http://").split('/').next().unwrap().to_string()
}

async fn imagine_with_attachments(w: &World, alice: u64, start: &Attachment, look: &Attachment) -> Message {
    let slash = w
        .sandbox
        .slash(
            alice,
            "imagine",
            vec![
                CommandOption::string("prompt", "a lighthouse"),
                CommandOption::attachment("image", start),
                CommandOption::attachment("style", look),
            ],
        )
        .await
        .unwrap();
    w.final_original(slash).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_reach_a_gpt_image_model_as_images_of_an_edit() {
    let mut w = World::new(Backend::OpenAi, |_| {}).await;
    let alice = w.sandbox.add_user("alice");
    let start = w.sandbox.upload("start.png", "image/png", png(3));
    let look = w.sandbox.upload("look.png", "image/png", png(90));
    w.config.backends[0].image_hosts = vec![host_of(&start.url)];
    w.start_in_process().await;

    let grid = imagine_with_attachments(&w, alice, &start, &look).await;

    assert!(!grid.content.contains("ignores"), "both references were used: {}", grid.content);
    let calls = w.fake.api_requests();
    assert!(calls.iter().all(|r| !r.path.ends_with("/images/generations")), "{calls:?}");
    let edits: Vec<_> = calls.iter().filter(|r| r.path.ends_with("/images/edits")).collect();
    assert!(!edits.is_empty());
    for call in edits {
        let images: Vec<&Bytes> =
            call.files.iter().filter(|f| f.field == "image[]").map(|f| &f.bytes).collect();
        assert_eq!(images, [&png(3), &png(90)], "the image prompt, then the style reference");
        let prompt = call.field("prompt").unwrap();
        assert!(prompt.starts_with("a lighthouse"), "{prompt}");
        assert!(
            prompt.contains("Image 1 is an image prompt") && prompt.contains("Image 2 is a style reference")
        );
    }
    w.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_a_backend_cannot_take_are_named_as_ignored() {
    let mut w = World::new(Backend::OpenAi, |c| c.backends[0].set("reference_images", false)).await;
    let alice = w.sandbox.add_user("alice");
    let start = w.sandbox.upload("start.png", "image/png", png(3));
    let look = w.sandbox.upload("look.png", "image/png", png(90));
    w.config.backends[0].image_hosts = vec![host_of(&start.url)];
    w.start_in_process().await;

    let grid = imagine_with_attachments(&w, alice, &start, &look).await;

    assert!(
        grid.content.contains("ignores image prompt, --sref"),
        "the note names both references: {}",
        grid.content
    );
    let calls = w.fake.api_requests();
    assert!(calls.iter().all(|r| !r.path.ends_with("/images/edits")), "{calls:?}");
    assert!(calls.iter().any(|r| r.path.ends_with("/images/generations")));
    w.assert_no_violations();
}
