//! The `/ws` WebSocket of one job. It is opened with a fresh `clientId` before the prompt is
//! posted with the same `client_id`, so the server sends this job's progress, previews and
//! end to it alone (and frames that arrive before the prompt id is known wait in the socket).
//! Text frames are `{type, data}`; the adapter reads the events of its own prompt id and the
//! binary preview frames, and ignores the rest (`status`, `execution_cached`, `progress_state`,
//! other prompts). A socket that fails is only a lost view: the caller falls back to polling.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::client::Api;
use super::wire::{self, ExecutionError, Frame, Progress};
use crate::imaging;

/// What the socket says about our prompt.
#[derive(Debug)]
pub(super) enum Event {
    /// Sampler steps: `value` of `max`.
    Progress {
        value: f64,
        max: f64,
    },
    /// A live preview image (JPEG or PNG).
    Preview(Bytes),
    /// `executing {node: null}` or `execution_success`: the outputs are (about to be) in the
    /// history.
    Finished,
    Failed(ExecutionError),
    Interrupted,
}

pub(super) struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Connects as `client_id`; the error says why, for the log.
    pub async fn connect(api: &Api, client_id: &str) -> Result<Socket, String> {
        let url = api.ws_url(client_id);
        let mut request = url.as_str().into_client_request().map_err(|e| format!("{url}: {e}"))?;
        if let Some(key) = api.authorization() {
            request.headers_mut().insert(reqwest::header::AUTHORIZATION, key.clone());
        }
        let limit = api.timeout().min(Duration::from_secs(30));
        match tokio::time::timeout(limit, tokio_tungstenite::connect_async(request)).await {
            Ok(Ok((stream, _))) => Ok(Socket { stream }),
            Ok(Err(e)) => Err(format!("{url}: {e}")),
            Err(_) => Err(format!("{url}: no answer within {} s", limit.as_secs())),
        }
    }

    /// The next event about `prompt_id`; `None` once the socket is closed or broken.
    pub async fn next(&mut self, prompt_id: &str) -> Option<Event> {
        loop {
            let message = match self.stream.next().await? {
                Ok(message) => message,
                Err(e) => {
                    tracing::debug!(error = %e, "comfyui websocket failed");
                    return None;
                }
            };
            let event = match message {
                Message::Text(text) => match serde_json::from_str::<Frame>(&text) {
                    Ok(frame) => event(&frame, prompt_id),
                    Err(_) => None,
                },
                // The socket belongs to this job alone, so its previews are this job's.
                Message::Binary(bytes) => wire::preview(&bytes)
                    .filter(|image| imaging::sniff(image).is_ok())
                    .map(|image| Event::Preview(Bytes::copy_from_slice(image))),
                Message::Close(_) => return None,
                _ => None,
            };
            if event.is_some() {
                return event;
            }
        }
    }
}

/// The event a text frame means for `prompt_id`, if any. Frames without a prompt id (older
/// servers send `progress` without one) are ours too: the socket's client id is this job's.
fn event(frame: &Frame, prompt_id: &str) -> Option<Event> {
    if frame.prompt_id().is_some_and(|id| id != prompt_id) {
        return None;
    }
    match frame.kind.as_str() {
        "progress" => {
            let p: Progress = serde_json::from_value(frame.data.clone()).ok()?;
            Some(Event::Progress { value: p.value, max: p.max })
        }
        "executing" if frame.data.get("node").is_some_and(serde_json::Value::is_null) => {
            Some(Event::Finished)
        }
        "execution_success" => Some(Event::Finished),
        "execution_error" => {
            Some(Event::Failed(serde_json::from_value(frame.data.clone()).unwrap_or_default()))
        }
        "execution_interrupted" => Some(Event::Interrupted),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(v: serde_json::Value) -> Frame {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_our_prompts_events_count() {
        let p = |v| event(&frame(v), "mine");
        assert!(matches!(
            p(json!({"type": "progress", "data": {"value": 3, "max": 20, "prompt_id": "mine", "node": "5"}})),
            Some(Event::Progress { value, max }) if value == 3.0 && max == 20.0
        ));
        assert!(
            p(json!({"type": "progress", "data": {"value": 3, "max": 20, "prompt_id": "other"}})).is_none()
        );
        assert!(matches!(
            p(json!({"type": "progress", "data": {"value": 1, "max": 2}})),
            Some(Event::Progress { .. })
        ));
        assert!(matches!(
            p(json!({"type": "executing", "data": {"node": null, "prompt_id": "mine"}})),
            Some(Event::Finished)
        ));
        assert!(p(json!({"type": "executing", "data": {"node": "5", "prompt_id": "mine"}})).is_none());
        assert!(
            p(json!({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 1}}}})).is_none()
        );
        assert!(matches!(
            p(json!({"type": "execution_error", "data": {"prompt_id": "mine", "node_id": "5", "exception_message": "x"}})),
            Some(Event::Failed(e)) if e.exception_message.as_deref() == Some("x")
        ));
        assert!(matches!(
            p(json!({"type": "execution_interrupted", "data": {"prompt_id": "mine"}})),
            Some(Event::Interrupted)
        ));
    }
}
