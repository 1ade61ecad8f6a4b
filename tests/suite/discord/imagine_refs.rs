//! /imagine's `image` and `style` attachment options: a member on a phone attaches instead of
//! pasting links. Through the real bot and the sandbox to a fake midjourney-proxy, which gets
//! the image prompt and the style reference in the prompt; what is not an image is refused
//! privately, naming the option, with nothing queued.

use crate::support;

use bytes::Bytes;
use easel::base::ImageRole;
use easel::config::BackendConfig;
use easel::sandbox::CommandOption;
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
