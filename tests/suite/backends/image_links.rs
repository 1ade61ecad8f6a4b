//! A backend cannot make Easel fetch the inside: image links off the backend's own origin are
//! fetched only from public addresses or from hosts in its `image_hosts`. The fake servers
//! run on 127.0.0.1, so the backend's own origin is the allowed loopback case; another
//! loopback port and the cloud metadata address are the refused ones.

use easel::config::BackendConfig;

use super::openai::{backend, config, fake, imagine, run};

fn by_url(c: &mut BackendConfig) {
    c.model = Some("dall-e-2".into());
    c.set("response_format", "url");
}

#[tokio::test]
async fn links_to_the_backends_own_origin_are_fetched() {
    let fake = fake().await;
    let ran = run(&backend(&config(&fake, by_url)), imagine("a boat")).await;
    assert_eq!(ran.result.expect("fetched from its own origin").images.len(), 4);
}

#[tokio::test]
async fn links_to_another_loopback_port_or_the_metadata_address_are_refused() {
    let fake = fake().await;
    let inside = super::openai::fake().await;
    for origin in [inside.origin.clone(), "http://169.254.169.254".to_string()] {
        fake.set(|k| k.url_origin = Some(origin.clone()));
        let ran = run(&backend(&config(&fake, by_url)), imagine("a boat")).await;
        let e = ran.result.expect_err("a link into Easel's own network");
        assert!(format!("{e:?}").contains("image_hosts"), "{e:?}");
    }
    assert!(inside.requests().is_empty(), "the inside server was reached: {:?}", inside.requests());
}

#[tokio::test]
async fn a_host_in_image_hosts_is_fetched_without_the_key() {
    let fake = fake().await;
    let port = fake.origin.rsplit(':').next().expect("a port").to_string();
    fake.set(|k| k.url_origin = Some(format!("http://localhost:{port}")));
    let b = backend(&config(&fake, |c| {
        by_url(c);
        c.image_hosts = vec![format!("localhost:{port}")];
    }));
    let ran = run(&b, imagine("a boat")).await;
    assert_eq!(ran.result.expect("a listed host").images.len(), 4);
    let downloads: Vec<_> = fake.requests().into_iter().filter(|r| r.path.starts_with("/files/")).collect();
    assert_eq!(downloads.len(), 4);
    assert!(downloads.iter().all(|r| r.authorization.is_none()), "the key went to a foreign host");
}
