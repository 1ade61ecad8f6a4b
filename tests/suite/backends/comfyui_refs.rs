//! Reference images on the `comfyui` backend: a prompt with `--sref`/`--cref`/`--oref` or an
//! image prompt runs the `imagine_reference` workflow with the first reference uploaded in
//! `{{reference_image}}`; the rest, and every reference on a backend without that workflow,
//! are named as ignored. The images come from a little image host on 127.0.0.1, listed in
//! the backend's `image_hosts`.

use super::*;

use std::sync::Mutex;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use easel::prompt::{PromptLimits, parse};

/// Serves `/<n>.png` as `batch_png(24, 16, n, 0)`, counting the requests.
struct Host {
    origin: String,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Host {
    async fn start() -> Host {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let app = Router::new().route(
            "/{file}",
            get(move |Path(file): Path<String>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(file.clone());
                    match file.strip_suffix(".png").and_then(|n| n.parse::<u64>().ok()) {
                        Some(n) => Ok(([("content-type", "image/png")], batch_png(24, 16, n, 0))),
                        None => Err(axum::http::StatusCode::NOT_FOUND),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Host { origin, hits }
    }

    fn host(&self) -> String {
        self.origin.trim_start_matches("http://").to_string()
    }

    fn url(&self, file: &str) -> String {
        format!("{}/{file}", self.origin)
    }
}

fn parsed(text: &str) -> PromptSpec {
    parse(text, &PromptLimits::default()).unwrap().remove(0)
}

fn reference_workflow(dir: &tempfile::TempDir) -> String {
    let mut graph: Value =
        serde_json::from_str(include_str!("../../../src/backends/comfyui/default_imagine.json")).unwrap();
    // Where an IP-Adapter (or any node taking an image) would read it.
    graph["20"] = json!({"class_type": "LoadImage", "inputs": {"image": "{{reference_image}}"}});
    let path = dir.path().join("reference.json");
    std::fs::write(&path, graph.to_string()).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn the_first_reference_is_uploaded_into_the_reference_workflow_and_the_rest_are_ignored() {
    let (fake, host, dir) = (fake(|_| {}).await, Host::start().await, tempfile::tempdir().unwrap());
    let b = backend(&config(&fake, |c| {
        c.set("workflows", Workflows::from([("imagine_reference", reference_workflow(&dir))]));
        c.image_hosts = vec![host.host()];
    }));
    let spec = parsed(&format!("a lighthouse --sref {} --cref {}", host.url("5.png"), host.url("6.png")));
    let caps = b.capabilities();
    assert_eq!(caps.max_reference_images, 1);
    assert_eq!(caps.ignored_params(&spec), [Param::CharacterRef], "one slot: the --cref is not used");

    let (out, _) = output(&b, job(Operation::Imagine, spec, 9)).await;

    assert_eq!(out.images.len(), 4);
    assert_eq!(*host.hits.lock().unwrap(), ["5.png"], "only the reference it uses is fetched");
    let posted = &fake.prompts()[0];
    let nodes = posted["prompt"].as_object().unwrap();
    let name = nodes["20"]["inputs"]["image"].as_str().unwrap();
    assert_eq!(fake.input(name).unwrap(), batch_png(24, 16, 5, 0), "the --sref image, byte for byte");
    assert_eq!(node(posted, "KSampler")["inputs"]["seed"], json!(9));

    // Without a reference the plain imagine workflow runs.
    output(&b, imagine(10)).await;
    let plain = &fake.prompts()[1];
    assert!(plain["prompt"].as_object().unwrap().values().all(|n| n["class_type"] != "LoadImage"));
    assert_eq!(host.hits.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_reference_workflow_references_are_ignored_and_never_fetched() {
    let (fake, host) = (fake(|_| {}).await, Host::start().await);
    let b = backend(&config(&fake, |c| c.image_hosts = vec![host.host()]));
    let spec = parsed(&format!("{} a lighthouse --oref {}", host.url("1.png"), host.url("2.png")));
    assert_eq!(b.capabilities().ignored_params(&spec), [Param::ImagePrompt, Param::OmniRef]);
    output(&b, job(Operation::Imagine, spec, 1)).await;
    assert!(host.hits.lock().unwrap().is_empty());
    assert!(fake.requests_to("/upload/image").is_empty());
}

#[tokio::test]
async fn a_reference_that_cannot_be_fetched_is_the_member_s_to_fix() {
    let (fake, host, dir) = (fake(|_| {}).await, Host::start().await, tempfile::tempdir().unwrap());
    let b = backend(&config(&fake, |c| {
        c.set("workflows", Workflows::from([("imagine_reference", reference_workflow(&dir))]));
        c.image_hosts = vec![host.host()];
    }));
    let missing = host.url("nope.txt");
    let err = failure(&b, job(Operation::Imagine, parsed(&format!("a cat --sref {missing}")), 1)).await;
    assert_eq!(err.code, FailureCode::BadImage);
    assert!(err.user_message.contains("--sref") && err.user_message.contains(&missing), "{err:?}");
    // A link to the server itself is not fetched (the proxy key would go with it).
    let own = format!("{}/view?filename=x.png", fake.base_url);
    let err = failure(&b, job(Operation::Imagine, parsed(&format!("a cat --cref {own}")), 1)).await;
    assert!(err.user_message.contains("--cref"), "{err:?}");
    assert!(fake.requests().iter().all(|r| r.path != "/view"), "nothing fetched from the server");
    assert!(fake.prompts().is_empty(), "nothing queued");
}
