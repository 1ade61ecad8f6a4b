//! The sandbox's web page, used the way a newcomer would: headless Chromium opens the page the
//! sandbox serves at `/`, types `/imagine …` in the message box, waits for the grid, presses U1
//! and waits for the upscale, with the real Easel (demo backend) answering. Screenshots of the
//! channel, the grid and the upscale are kept in `target/test-artifacts/browser-*.png` for a
//! person to look at; with `EASEL_SCREENSHOTS_TO_DOCS` set (`scripts/screenshots.sh`) they are
//! also written to `docs/screenshots/`, the README's pictures. A plain `cargo test` never
//! touches `docs/`. The prompt has a seed, so the demo paints the same pictures every time.
//!
//! Chromium is Debian's `/usr/bin/chromium`. Without it the browser test is skipped on a
//! developer's machine, but fails under CI (`CI` set) or when asked for the pictures.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::cdp::{Browser, CHROMIUM, Page};
use support::world::{Backend, World};

/// A page wait; far above what the demo backend needs (about a second per task).
const PAGE_WAIT: Duration = Duration::from_secs(20);

/// Set (to anything) by `scripts/screenshots.sh`: also write the screenshots into docs/.
const DOCS_ENV: &str = "EASEL_SCREENSHOTS_TO_DOCS";

fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts").join(name)
}

/// Saves a screenshot as `target/test-artifacts/browser-<name>.png`, and as
/// `docs/screenshots/sandbox-<name>.png` when the pictures are being regenerated.
async fn screenshot(page: &Page, name: &str) {
    page.screenshot(&artifact(&format!("browser-{name}.png"))).await.expect("screenshot");
    if std::env::var_os(DOCS_ENV).is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        page.screenshot(&docs.join(format!("sandbox-{name}.png"))).await.expect("screenshot into docs/");
    }
}

/// Chromium's path, or `None` (after saying so) when the test may be skipped.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none() && std::env::var_os(DOCS_ENV).is_none(),
        "chromium is not installed at {CHROMIUM}; CI and scripts/screenshots.sh need it (apt-get install chromium)"
    );
    // Straight to stderr: the test harness would swallow `eprintln!` from a passing test.
    let _ = writeln!(std::io::stderr(), "skipped: chromium not installed (apt-get install chromium)");
    None
}

/// The `<li>` of the first message matching `test` (a JavaScript function of the element), once
/// there is one.
async fn message_where(page: &Page, test: &str, what: &str) -> String {
    let condition = format!("[...document.querySelectorAll('#message-list > li.message')].find({test})?.id");
    let id = page.wait_for(&condition, what, PAGE_WAIT).await.unwrap_or_else(|e| panic!("{e:#}"));
    id.as_str().expect("a message element id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_imagines_and_upscales_in_the_browser() {
    let Some(chromium) = chromium() else { return };
    // Full-size demo images (the world's default is small, for speed): the screenshots are
    // the README's pictures.
    let mut world =
        World::new(Backend::Demo { step_ms: 100 }, |c| c.backends[0].set("image_size", 512)).await;
    world.start_in_process().await;
    let browser = Browser::launch(&chromium).await.expect("chromium starts");
    let page = browser.new_page(1280, 800).await.expect("a tab");

    page.goto(&world.sandbox.api_base()).await.expect("the page opens");
    page.wait_for("'ready' in document.body.dataset", "the page to be ready", PAGE_WAIT)
        .await
        .expect("the page reads the sandbox and creates its members");
    page.screenshot(&artifact("browser-empty.png")).await.expect("screenshot");

    page.click("document.getElementById('composer-input')").await.expect("click the message box");
    page.type_text("/imag").await.expect("type");
    page.wait_for(
        "document.querySelector('#picker-list [aria-selected=true] .cmd-name')?.textContent === '/imagine'",
        "the command picker to offer /imagine",
        PAGE_WAIT,
    )
    .await
    .expect("typing / opens the picker");
    page.type_text("ine a lighthouse at dusk --ar 3:2 --seed 4").await.expect("type");
    page.wait_for(
        "document.getElementById('opt-prompt')?.value === 'a lighthouse at dusk --ar 3:2 --seed 4'",
        "the prompt option to hold the text",
        PAGE_WAIT,
    )
    .await
    .expect("`/imagine ` turns the box into the command's options");
    screenshot(&page, "channel").await;
    page.press("Enter").await.expect("enter");

    let has_image = "m.querySelector('img.attachment[data-loaded]')";
    let grid = message_where(
        &page,
        &format!("m => {has_image} && [...m.querySelectorAll('button')].some(b => b.textContent === 'U1')"),
        "the grid with its U1 button",
    )
    .await;
    let invocation = page
        .eval(&format!("document.getElementById('{grid}').querySelector('.context')?.textContent"))
        .await
        .expect("eval");
    assert_eq!(invocation, "alice used /imagine", "the grid says who asked for it");
    screenshot(&page, "grid").await;

    page.click(&format!(
        "[...document.getElementById('{grid}').querySelectorAll('button')].find(b => b.textContent === 'U1')"
    ))
    .await
    .expect("press U1");
    message_where(
        &page,
        &format!(
            "m => {has_image} && m.querySelector('.content').textContent.includes('Image #1') \
             && !/%\\)|Waiting/.test(m.textContent)"
        ),
        "the upscaled Image #1",
    )
    .await;
    screenshot(&page, "upscale").await;

    let problems = browser.problems();
    assert!(problems.is_empty(), "the page ran into trouble: {problems:#?}");
    world.assert_no_violations();
    browser.close().await;
}

/// Every file the page loads is served with a type the browser accepts; this needs no browser.
#[tokio::test]
async fn the_page_and_every_file_it_loads_are_served() {
    let sandbox = easel::sandbox::Sandbox::start(Default::default()).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", sandbox.api_base());
        async move {
            let r = http.get(&url).send().await.expect("answer");
            assert_eq!(r.status(), 200, "GET {url}");
            let ct = r.headers()["content-type"].to_str().expect("ascii").to_owned();
            let csp =
                r.headers().get("content-security-policy").map(|v| v.to_str().expect("ascii").to_owned());
            (ct, csp, r.text().await.expect("body"))
        }
    };
    let (ct, csp, html) = get("/".into()).await;
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(csp.is_some_and(|c| c.contains("script-src 'self'")), "the page only runs its own scripts");

    // The page's own references, then the modules those import.
    let mut todo: Vec<String> =
        html.split(['"', '\'']).filter(|s| s.starts_with("/ui/")).map(str::to_owned).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (ct, _, body) = get(path.clone()).await;
        let want = match path.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected file type {other:?}"),
        };
        assert!(ct.starts_with(want), "{path} is served as {ct}");
        if path.ends_with(".js") {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let module = line.split(['\'', '"']).nth(1).expect("import path");
                todo.push(format!("/ui/{}", module.trim_start_matches("./")));
            }
        }
    }
    assert!(seen.len() >= 7, "the page loads its script, modules, style and icon: {seen:?}");
    let missing = reqwest::get(format!("{}/ui/nope.js", sandbox.api_base())).await.expect("answer");
    assert_eq!(missing.status(), 404);
}
