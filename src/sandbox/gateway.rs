//! The gateway WebSocket at `/gateway` (serenity adds `?v=10`), in plain JSON text frames.
//!
//! One bot connection at a time: HELLO, then IDENTIFY (the `Bot ` token is checked) → READY +
//! GUILD_CREATE, or RESUME → replay of the dispatches after the client's sequence number, then
//! RESUMED. Heartbeats are acknowledged. Dispatches come from the rest of the sandbox through
//! [`World::dispatch`](super::state::World::dispatch), which numbers them and keeps them for
//! replay; the connection task only forwards frames. Faults (op 7, op 9, a dropped socket) are
//! acted out here for resilience tests.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::events;
use super::model::{RouteKind, ViolationKind};
use super::state::{GatewayConn, Inner, Outbound, Session};

pub(crate) async fn upgrade(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| run(socket, inner))
}

/// What the connection loop should do after a client frame.
enum Next {
    Continue,
    Close(u16, &'static str),
}

async fn run(socket: WebSocket, inner: Arc<Inner>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn_id = inner.clock.snowflake();
    inner.write(|w| {
        // A new connection replaces the old one, as Discord's single-shard session would.
        if let Some(old) = w.conn.replace(GatewayConn { id: conn_id, tx: tx.clone(), live: false }) {
            let _ = old.tx.send(Outbound::Drop);
        }
        w.stats.gateway_connections += 1;
    });
    let (mut sink, mut stream) = socket.split();
    let hello = json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": inner.config.heartbeat_interval_ms}});
    if sink.send(Message::Text(hello.to_string().into())).await.is_err() {
        detach(&inner, conn_id);
        return;
    }
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => match on_frame(&inner, conn_id, &tx, text.as_str()) {
                    Next::Continue => {}
                    Next::Close(code, reason) => {
                        let frame = CloseFrame { code, reason: reason.into() };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        break;
                    }
                },
                // Keep reading after a close frame: the next read flushes the close reply that
                // serenity waits for on shutdown, then ends the stream.
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            },
            out = rx.recv() => match out {
                Some(Outbound::Text(frame)) => {
                    if sink.send(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Drop) | None => break,
            },
        }
    }
    detach(&inner, conn_id);
}

fn detach(inner: &Inner, conn_id: u64) {
    inner.write(|w| {
        if w.conn.as_ref().is_some_and(|c| c.id == conn_id) {
            w.conn = None;
        }
    });
}

fn token_ok(inner: &Inner, d: &Value) -> bool {
    let given = d.get("token").and_then(Value::as_str).unwrap_or("");
    given.strip_prefix("Bot ").unwrap_or(given) == inner.config.token
}

fn protocol_violation(inner: &Inner, code: u16, detail: String) {
    let v =
        inner.violation(ViolationKind::GatewayProtocol, detail, RouteKind::Gateway, None, 0, u32::from(code));
    inner.write(|w| w.violate(v));
}

fn on_frame(inner: &Inner, conn_id: u64, tx: &mpsc::UnboundedSender<Outbound>, text: &str) -> Next {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        protocol_violation(inner, 4002, format!("undecodable gateway frame: {text:.200}"));
        return Next::Close(4002, "Error while decoding payload.");
    };
    let op = frame.get("op").and_then(Value::as_u64);
    let d = frame.get("d").cloned().unwrap_or(Value::Null);
    let live = inner.read(|w| w.conn.as_ref().is_some_and(|c| c.id == conn_id && c.live));
    match op {
        Some(1) => {
            inner.write(|w| w.stats.heartbeats += 1);
            let _ = tx.send(Outbound::Text(json!({"op": 11, "s": null, "t": null, "d": null}).to_string()));
            Next::Continue
        }
        Some(2) | Some(6) if !token_ok(inner, &d) => {
            protocol_violation(inner, 4004, "IDENTIFY/RESUME with a wrong token".into());
            Next::Close(4004, "Authentication failed.")
        }
        Some(2) if live => {
            protocol_violation(inner, 4005, "IDENTIFY on an already identified connection".into());
            Next::Close(4005, "Already authenticated.")
        }
        Some(2) => {
            identify(inner, conn_id);
            Next::Continue
        }
        Some(6) => {
            resume(inner, conn_id, tx, &d);
            Next::Continue
        }
        Some(3 | 4 | 8) if live => Next::Continue,
        Some(_) if !live => {
            protocol_violation(inner, 4003, format!("op {op:?} before IDENTIFY"));
            Next::Close(4003, "Not authenticated.")
        }
        _ => {
            protocol_violation(inner, 4001, format!("unknown opcode {op:?}"));
            Next::Close(4001, "Unknown opcode.")
        }
    }
}

fn identify(inner: &Inner, conn_id: u64) {
    let session_id =
        format!("{:032x}", u128::from(inner.clock.snowflake()) << 64 | u128::from(fastrand::u64(..)));
    inner.write(|w| {
        let Some(conn) = w.conn.as_mut().filter(|c| c.id == conn_id) else { return };
        conn.live = true;
        w.session = Some(Session { id: session_id.clone(), seq: 0, log: Default::default() });
        w.identified = true;
        w.stats.identifies += 1;
        let ready = events::ready(inner, w, &session_id);
        w.dispatch("READY", ready);
        let guild = events::guild_create(inner, w);
        w.dispatch("GUILD_CREATE", guild);
    });
}

fn resume(inner: &Inner, conn_id: u64, tx: &mpsc::UnboundedSender<Outbound>, d: &Value) {
    let wanted = d.get("session_id").and_then(Value::as_str).unwrap_or("");
    let after = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
    inner.write(|w| {
        let matches = w.session.as_ref().is_some_and(|s| s.id == wanted);
        let Some(conn) = w.conn.as_mut().filter(|c| c.id == conn_id) else { return };
        if !matches {
            // Not resumable: the client must IDENTIFY again.
            let _ = tx.send(Outbound::Text(json!({"op": 9, "s": null, "t": null, "d": false}).to_string()));
            return;
        }
        conn.live = true;
        if let Some(session) = &w.session {
            for (_, frame) in session.log.iter().filter(|(s, _)| *s > after) {
                let _ = tx.send(Outbound::Text(frame.clone()));
            }
        }
        w.stats.resumes += 1;
        w.dispatch("RESUMED", json!({}));
    });
}

impl Inner {
    /// Sends op 7: the bot should reconnect and RESUME.
    pub(crate) fn gateway_reconnect(&self) -> bool {
        self.send_to_bot(Outbound::Text(json!({"op": 7, "s": null, "t": null, "d": null}).to_string()), false)
    }

    /// Sends op 9 (not resumable) and forgets the session: the bot must IDENTIFY again.
    pub(crate) fn gateway_invalid_session(&self) -> bool {
        self.send_to_bot(Outbound::Text(json!({"op": 9, "s": null, "t": null, "d": false}).to_string()), true)
    }

    /// Drops the TCP connection without a close frame; the session stays resumable.
    pub(crate) fn gateway_drop(&self) -> bool {
        self.send_to_bot(Outbound::Drop, false)
    }

    fn send_to_bot(&self, out: Outbound, end_session: bool) -> bool {
        self.write(|w| {
            let sent = w.conn.as_mut().is_some_and(|c| {
                c.live = !end_session && c.live;
                c.tx.send(out).is_ok()
            });
            if end_session {
                w.session = None;
            }
            sent
        })
    }
}
