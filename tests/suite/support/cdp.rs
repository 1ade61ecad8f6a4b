//! A small Chrome DevTools Protocol client, enough to drive the sandbox page like a member would:
//! launch headless Chromium, open a page, wait for DOM conditions, click, type and take
//! screenshots.
//!
//! Chromium prints its DevTools WebSocket address on stderr; one socket carries every command,
//! with the page's commands addressed to a flattened target session. Waiting is done inside the
//! page, with a promise that a `MutationObserver` resolves (see [`Page::wait_for`]), so the test
//! never sleeps. Uncaught exceptions, console errors and browser log errors (a 404, a blocked
//! script) are collected so a test can insist the page ran cleanly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Debian's Chromium, which CI installs with `apt-get install chromium`.
pub const CHROMIUM: &str = "/usr/bin/chromium";

type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// One DevTools connection: commands go out through `tx`, replies come back by id.
#[derive(Clone)]
struct Connection {
    tx: mpsc::UnboundedSender<String>,
    replies: Replies,
    next_id: Arc<AtomicU64>,
    problems: Arc<Mutex<Vec<String>>>,
}

impl Connection {
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.replies.lock().expect("replies lock").insert(id, tx);
        self.tx.send(msg.to_string()).map_err(|_| anyhow!("the DevTools connection is closed"))?;
        // Every wait the test does runs inside the page with its own timeout; this one only
        // catches a browser that stopped answering altogether.
        let reply = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .with_context(|| format!("{method}: no reply from Chromium"))?
            .map_err(|_| anyhow!("{method}: the DevTools connection closed"))?;
        reply.map_err(|e| anyhow!("{method}: {e}"))
    }
}

/// A headless Chromium this test started; killed when dropped.
pub struct Browser {
    child: Child,
    conn: Connection,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn launch(executable: &Path) -> anyhow::Result<Browser> {
        let profile = tempfile::tempdir().context("profile dir")?;
        let mut child = Command::new(executable)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Containers often have a tiny /dev/shm, which crashes renderers.
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", executable.display()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (found_tx, found_rx) = std::sync::mpsc::channel::<Result<String, String>>();
        // Chromium keeps writing to stderr; the thread keeps draining it so it never blocks.
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut found = Some(found_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    if let Some(tx) = found.take() {
                        let _ = tx.send(Ok(url.trim().to_owned()));
                    }
                } else if found.is_some() {
                    seen.push(line);
                }
            }
            if let Some(tx) = found {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });
        let ws_url = tokio::task::spawn_blocking(move || found_rx.recv_timeout(Duration::from_secs(30)))
            .await?
            .context("Chromium did not print its DevTools address within 30 s")?
            .map_err(|stderr| anyhow!("Chromium exited before listening; its stderr:\n{stderr}"))?;

        let (socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .with_context(|| format!("connecting to {ws_url}"))?;
        let (mut sink, mut stream) = socket.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
        });
        let replies: Replies = Arc::default();
        let problems: Arc<Mutex<Vec<String>>> = Arc::default();
        tokio::spawn({
            let replies = replies.clone();
            let problems = problems.clone();
            async move {
                while let Some(Ok(frame)) = stream.next().await {
                    let Message::Text(text) = frame else { continue };
                    let Ok(msg) = serde_json::from_str::<Value>(&text) else { continue };
                    if let Some(id) = msg.get("id").and_then(Value::as_u64) {
                        let reply = match msg.get("error") {
                            Some(e) => Err(e.to_string()),
                            None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                        };
                        if let Some(tx) = replies.lock().expect("replies lock").remove(&id) {
                            let _ = tx.send(reply);
                        }
                    } else if let Some(problem) = problem(&msg) {
                        problems.lock().expect("problems lock").push(problem);
                    }
                }
                // Wake every caller still waiting: the browser is gone.
                replies.lock().expect("replies lock").clear();
            }
        });
        let conn = Connection { tx, replies, next_id: Arc::new(AtomicU64::new(1)), problems };
        Ok(Browser { child, conn, _profile: profile })
    }

    /// Opens a new tab of `width`×`height` CSS pixels.
    pub async fn new_page(&self, width: u32, height: u32) -> anyhow::Result<Page> {
        let target = self.conn.call(None, "Target.createTarget", json!({"url": "about:blank"})).await?;
        let target_id = target["targetId"].as_str().context("targetId")?;
        let attached = self
            .conn
            .call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true}))
            .await?;
        let session = attached["sessionId"].as_str().context("sessionId")?.to_owned();
        let page = Page { conn: self.conn.clone(), session };
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({})).await?;
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await?;
        Ok(page)
    }

    /// What went wrong in the page so far: exceptions, console errors, failed loads.
    pub fn problems(&self) -> Vec<String> {
        self.conn.problems.lock().expect("problems lock").clone()
    }

    /// Asks Chromium to quit, then makes sure it has.
    pub async fn close(mut self) {
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.conn.call(None, "Browser.close", json!({})))
                .await;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An event worth failing a test for, as a line of text.
fn problem(msg: &Value) -> Option<String> {
    let p = &msg["params"];
    match msg.get("method")?.as_str()? {
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let what = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
            Some(format!("uncaught: {what}"))
        }
        "Runtime.consoleAPICalled" if p["type"] == "error" => {
            let args: Vec<String> = p["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    a["value"].as_str().map(str::to_owned).unwrap_or_else(|| a["description"].to_string())
                })
                .collect();
            Some(format!("console.error: {}", args.join(" ")))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => Some(format!(
            "log: {} {}",
            p["entry"]["text"].as_str().unwrap_or(""),
            p["entry"]["url"].as_str().unwrap_or("")
        )),
        _ => None,
    }
}

/// One tab, driven through its own session.
pub struct Page {
    conn: Connection,
    session: String,
}

impl Page {
    pub async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.conn.call(Some(&self.session), method, params).await
    }

    /// Navigates and waits until the document and its scripts have loaded.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        let nav = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(e) = nav.get("errorText").and_then(Value::as_str) {
            bail!("opening {url}: {e}");
        }
        self.wait_for("document.readyState === 'complete'", "the page to load", Duration::from_secs(15))
            .await
            .map(drop)
    }

    /// Evaluates `expression` in the page, awaiting it if it is a promise; returns its value.
    pub async fn eval(&self, expression: &str) -> anyhow::Result<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await?;
        if let Some(d) = r.get("exceptionDetails") {
            let what = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("exception");
            bail!("{what}");
        }
        Ok(r["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Waits until the JavaScript expression `condition` is truthy, and returns its value. The
    /// page re-checks it on every DOM change (a `MutationObserver`), not on a timer; on timeout
    /// the error shows what the message list said then.
    pub async fn wait_for(&self, condition: &str, what: &str, timeout: Duration) -> anyhow::Result<Value> {
        let ms = timeout.as_millis();
        let what_js = serde_json::to_string(what)?;
        let script = format!(
            r#"new Promise((resolve, reject) => {{
  const test = () => {{ try {{ return ({condition}); }} catch (e) {{ return null; }} }};
  let observer = null;
  let timer = null;
  const finish = (settle, v) => {{ observer?.disconnect(); clearTimeout(timer); settle(v); }};
  const first = test();
  if (first) return resolve(first);
  observer = new MutationObserver(() => {{ const v = test(); if (v) finish(resolve, v); }});
  observer.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
  timer = setTimeout(() => {{
    const seen = document.getElementById('message-list')?.innerText ?? document.body?.innerText ?? '';
    const why = 'timed out after {ms} ms waiting for ' + {what_js} + '; the page shows:\n' + seen.slice(-2000);
    finish(reject, new Error(why));
  }}, {ms});
}})"#
        );
        self.eval(&script).await
    }

    /// Clicks the middle of the element `element` (a JavaScript expression) with the mouse, the
    /// way a member would: scrolled into view, then pressed and released.
    pub async fn click(&self, element: &str) -> anyhow::Result<()> {
        let at = self
            .eval(&format!(
                "(() => {{ const e = ({element}); if (!e) throw new Error('nothing to click: ' + {src});
                  e.scrollIntoView({{ block: 'center' }});
                  const r = e.getBoundingClientRect();
                  return {{ x: r.x + r.width / 2, y: r.y + r.height / 2 }}; }})()",
                src = serde_json::to_string(element)?
            ))
            .await?;
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": at["x"], "y": at["y"], "button": "left", "clickCount": 1}),
            )
            .await?;
        }
        Ok(())
    }

    /// Types `text` into whatever has the focus, one character at a time.
    pub async fn type_text(&self, text: &str) -> anyhow::Result<()> {
        for c in text.chars() {
            self.call("Input.insertText", json!({"text": c.to_string()})).await?;
        }
        Ok(())
    }

    /// Presses a key that has no text of its own (`Enter`, `Escape`, `ArrowDown`, …).
    pub async fn press(&self, key: &str) -> anyhow::Result<()> {
        let code = match key {
            "Enter" => 13,
            "Escape" => 27,
            "Tab" => 9,
            "ArrowUp" => 38,
            "ArrowDown" => 40,
            _ => bail!("no key code for {key}"),
        };
        let text = if key == "Enter" { "\r" } else { "" };
        let base =
            json!({"key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code});
        let mut down = base.clone();
        down["type"] = json!("keyDown");
        down["text"] = json!(text);
        let mut up = base;
        up["type"] = json!("keyUp");
        self.call("Input.dispatchKeyEvent", down).await?;
        self.call("Input.dispatchKeyEvent", up).await?;
        Ok(())
    }

    /// Saves a PNG of the viewport to `path`, creating its folder.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await?;
        let data = shot["data"].as_str().context("screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}
