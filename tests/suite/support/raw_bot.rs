//! A hand-driven "bot" for sandbox tests that need to break the rules on purpose: a raw gateway
//! connection (tokio-tungstenite, the same version serenity uses) and a REST helper that sends
//! exactly the requests a test writes, JSON or multipart.

use std::time::Duration;

use anyhow::{Context, bail};
use easel::sandbox::Sandbox;
use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const WAIT: Duration = Duration::from_secs(10);

/// What the socket produced next.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed(Option<(u16, String)>),
}

pub struct RawBot {
    ws: Ws,
    pub session_id: String,
    pub seq: u64,
    pub ready: Value,
    pub guild: Value,
}

pub async fn open(sandbox: &Sandbox) -> anyhow::Result<(Ws, Value)> {
    let url = format!("{}/gateway?v=10", sandbox.api_base().replacen("http", "ws", 1));
    let (mut ws, _) = connect_async(url).await.context("connecting to the sandbox gateway")?;
    let hello = match recv(&mut ws).await? {
        Frame::Json(v) => v,
        Frame::Closed(c) => bail!("closed before HELLO: {c:?}"),
    };
    Ok((ws, hello))
}

pub async fn send(ws: &mut Ws, v: Value) -> anyhow::Result<()> {
    ws.send(WsMessage::Text(v.to_string())).await.context("sending a gateway frame")
}

pub async fn recv(ws: &mut Ws) -> anyhow::Result<Frame> {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next()).await.context("no gateway frame in time")?;
        match next {
            Some(Ok(WsMessage::Text(t))) => return Ok(Frame::Json(serde_json::from_str(&t)?)),
            Some(Ok(WsMessage::Close(c))) => {
                return Ok(Frame::Closed(c.map(|c| (u16::from(c.code), c.reason.into_owned()))));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Ok(Frame::Closed(None)),
        }
    }
}

pub fn identify_frame(token: &str) -> Value {
    json!({"op": 2, "d": {"token": format!("Bot {token}"), "intents": 1, "compress": true,
        "properties": {"os": "linux", "browser": "raw", "device": "raw"}}})
}

impl RawBot {
    pub async fn identify(sandbox: &Sandbox) -> anyhow::Result<RawBot> {
        let (mut ws, hello) = open(sandbox).await?;
        anyhow::ensure!(hello["op"] == 10 && hello["d"]["heartbeat_interval"].is_u64(), "bad HELLO {hello}");
        send(&mut ws, identify_frame(sandbox.bot_token())).await?;
        let mut bot =
            RawBot { ws, session_id: String::new(), seq: 0, ready: Value::Null, guild: Value::Null };
        bot.ready = bot.expect_dispatch("READY").await?;
        bot.session_id = bot.ready["session_id"].as_str().unwrap_or_default().to_owned();
        bot.guild = bot.expect_dispatch("GUILD_CREATE").await?;
        Ok(bot)
    }

    /// Reconnects and RESUMEs from `seq`; returns the bot and the dispatches replayed before
    /// RESUMED (or the op 9 answer as the only frame when the session is gone).
    pub async fn resume(
        sandbox: &Sandbox,
        session_id: &str,
        seq: u64,
    ) -> anyhow::Result<(RawBot, Vec<Value>)> {
        let (mut ws, _) = open(sandbox).await?;
        send(&mut ws, json!({"op": 6, "d": {"token": format!("Bot {}", sandbox.bot_token()), "session_id": session_id, "seq": seq}}))
            .await?;
        let mut bot =
            RawBot { ws, session_id: session_id.to_owned(), seq, ready: Value::Null, guild: Value::Null };
        let mut replayed = Vec::new();
        loop {
            let f = bot.next_json().await?;
            if f["op"] == 9 {
                return Ok((bot, vec![f]));
            }
            if f["t"] == "RESUMED" {
                return Ok((bot, replayed));
            }
            replayed.push(f);
        }
    }

    pub async fn send(&mut self, v: Value) -> anyhow::Result<()> {
        send(&mut self.ws, v).await
    }

    pub async fn next_frame(&mut self) -> anyhow::Result<Frame> {
        recv(&mut self.ws).await
    }

    /// The next JSON frame other than a heartbeat ACK; tracks the sequence number.
    pub async fn next_json(&mut self) -> anyhow::Result<Value> {
        loop {
            match recv(&mut self.ws).await? {
                Frame::Json(v) if v["op"] == 11 => continue,
                Frame::Json(v) => {
                    if let Some(s) = v["s"].as_u64() {
                        self.seq = s;
                    }
                    return Ok(v);
                }
                Frame::Closed(c) => bail!("gateway closed: {c:?}"),
            }
        }
    }

    pub async fn expect_dispatch(&mut self, event: &str) -> anyhow::Result<Value> {
        let f = self.next_json().await?;
        anyhow::ensure!(f["op"] == 0 && f["t"] == event, "expected {event}, got {f}");
        Ok(f["d"].clone())
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// One REST answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

/// A file part for multipart requests: `files[n]`.
pub struct Part {
    pub n: usize,
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Part {
    pub fn png(n: usize, filename: &str, bytes: &[u8]) -> Part {
        Part { n, filename: filename.into(), content_type: "image/png".into(), bytes: bytes.to_vec() }
    }
}

impl Api {
    pub fn new(sandbox: &Sandbox) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("{}/api/v10", sandbox.api_base()),
            token: sandbox.bot_token().to_owned(),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bot {}", self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req).await
    }

    pub async fn multipart(&self, method: &str, path: &str, payload: Value, files: Vec<Part>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
        for f in files {
            let part = reqwest::multipart::Part::bytes(f.bytes)
                .file_name(f.filename)
                .mime_str(&f.content_type)
                .expect("mime");
            form = form.part(format!("files[{}]", f.n), part);
        }
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bot {}", self.token))
            .multipart(form);
        answer(req).await
    }
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let response = req.send().await.expect("the sandbox answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Answer { status, headers, body }
}

/// A valid 2×2 PNG, small enough to inline.
pub fn tiny_png() -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(2, 2, image::Rgba([200, 40, 40, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode png");
    png
}
