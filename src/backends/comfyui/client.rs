//! The HTTP side: paths joined onto the server root, the optional bearer `api_key` (ComfyUI
//! has no auth of its own; a proxy in front of it may), the per-request timeout, bodies read
//! under a size cap, input uploads, result downloads through `/view`, and the typed calls the
//! adapter makes more than once (`/queue`, `/history/{id}`, `/system_stats`).

use crate::backends::http_util::{self, ReadError, read_capped};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::multipart::{Form, Part};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::{self, bad_response};
use super::wire::{HistoryEntry, ImageRef, Queue, SystemStats, Uploaded};
use crate::backends::BackendError;
use crate::config::Secret;

/// Cap on one API answer: a history entry echoes the whole workflow, still far below this.
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Cap on one result image (a 2× upscale of a large image is tens of MiB as PNG).
const MAX_IMAGE_BYTES: usize = 96 << 20;
/// Queue and history are served at once, outside the job queue.
const QUICK_TIMEOUT: Duration = Duration::from_secs(10);
/// Inputs go to this subfolder of ComfyUI's `input` folder, where an admin can clear them.
const UPLOAD_SUBFOLDER: &str = "easel";

pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub what: String,
}

pub(super) struct Api {
    http: reqwest::Client,
    base: Url,
    key: Option<HeaderValue>,
    pub timeout: Duration,
    /// For messages that name what the admin can fix.
    pub backend: String,
    pub model: Option<String>,
}

impl Api {
    pub fn new(
        backend: &str,
        base: Url,
        key: &Secret,
        timeout: Duration,
        model: Option<String>,
    ) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| anyhow::anyhow!("backend `{backend}`: cannot set up the HTTP client: {e}"))?;
        let key = if key.is_empty() {
            None
        } else {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose().trim())).map_err(|_| {
                    anyhow::anyhow!("backend `{backend}`: api_key has characters an HTTP header cannot carry")
                })?;
            value.set_sensitive(true);
            Some(value)
        };
        Ok(Api { http, base, key, timeout, backend: backend.to_string(), model })
    }

    /// `base` + the segments, each percent-encoded (prompt ids come from the server).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `ws(s)://…/ws?clientId=…`.
    pub fn ws_url(&self, client_id: &str) -> Url {
        let mut url = self.url(&["ws"]);
        let scheme = if self.base.scheme() == "https" { "wss" } else { "ws" };
        let _ = url.set_scheme(scheme);
        url.query_pairs_mut().append_pair("clientId", client_id);
        url
    }

    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.key.as_ref()
    }

    pub async fn post(&self, segments: &[&str], body: &impl Serialize) -> Result<Reply, BackendError> {
        let url = self.url(segments);
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body).timeout(self.timeout), what).await
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Reply, BackendError> {
        let url = self.url(segments);
        let what = format!("GET {url}");
        self.send(self.http.get(url).timeout(QUICK_TIMEOUT.min(self.timeout)), what).await
    }

    /// A JSON answer of a successful call; anything else as the classified error.
    pub fn json<T: DeserializeOwned>(&self, reply: &Reply, shape: &str) -> Result<T, BackendError> {
        if !reply.status.is_success() {
            return Err(self.status_error(reply));
        }
        serde_json::from_slice(&reply.body).map_err(|e| {
            bad_response(
                format!("an answer that is not {shape}"),
                format!("{}: {e}; body: {}", reply.what, errors::excerpt(&reply.body, 300)),
            )
        })
    }

    pub fn status_error(&self, reply: &Reply) -> BackendError {
        errors::from_status(
            &self.backend,
            self.model.as_deref(),
            &reply.what,
            reply.status,
            &reply.headers,
            &reply.body,
        )
    }

    pub async fn queue(&self) -> Result<Queue, BackendError> {
        let reply = self.get(&["queue"]).await?;
        self.json(&reply, "the queue (`queue_running`, `queue_pending`)")
    }

    /// `None` while the prompt is not finished (or not known).
    pub async fn history(&self, prompt_id: &str) -> Result<Option<HistoryEntry>, BackendError> {
        let reply = self.get(&["history", prompt_id]).await?;
        let mut all: std::collections::HashMap<String, HistoryEntry> =
            self.json(&reply, "a history (`{\"<prompt id>\": {…}}`)")?;
        Ok(all.remove(prompt_id))
    }

    pub async fn system_stats(&self) -> Result<SystemStats, BackendError> {
        let reply = self.get(&["system_stats"]).await?;
        self.json(&reply, "system stats")
    }

    /// Uploads an input image into `input/easel/` and returns how LoadImage names it.
    pub async fn upload(&self, file_name: &str, mime: &str, bytes: Bytes) -> Result<String, BackendError> {
        let url = self.url(&["upload", "image"]);
        let what = format!("POST {url} ({file_name})");
        let part = Part::stream(bytes).file_name(file_name.to_string()).mime_str(mime).map_err(|e| {
            BackendError::fatal(
                crate::base::FailureCode::Internal,
                "Easel could not send the image.",
                format!("{what}: {e}"),
            )
        })?;
        let form = Form::new().part("image", part).text("type", "input").text("subfolder", UPLOAD_SUBFOLDER);
        let reply = self.send(self.http.post(url).multipart(form).timeout(self.timeout), what).await?;
        let uploaded: Uploaded = self.json(&reply, "an uploaded image (`{name, subfolder, type}`)")?;
        Ok(uploaded.load_name())
    }

    /// Downloads one result through `/view` and checks that it is an image.
    pub async fn view(&self, image: &ImageRef) -> Result<Bytes, BackendError> {
        let mut url = self.url(&["view"]);
        url.query_pairs_mut()
            .append_pair("filename", &image.filename)
            .append_pair("subfolder", &image.subfolder)
            .append_pair("type", &image.kind);
        let what = format!("GET {url}");
        let request = self.authed(self.http.get(url)).timeout(self.timeout);
        let response = request.send().await.map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        http_util::read_image(errors::SERVICE, response, &what, MAX_IMAGE_BYTES, self.timeout).await
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.key {
            Some(key) => request.header(AUTHORIZATION, key.clone()),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder, what: String) -> Result<Reply, BackendError> {
        let response =
            self.authed(request).send().await.map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_capped(response, MAX_RESPONSE_BYTES, !status.is_success()).await {
            Ok(body) => body,
            Err(ReadError::Transport(e)) => return Err(errors::from_transport(&e, &what, self.timeout)),
            Err(ReadError::TooLarge) => {
                return Err(bad_response(
                    "an answer that was too large",
                    format!("{what}: body over {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
        };
        Ok(Reply { status, headers, body, what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str) -> Api {
        Api::new("t", Url::parse(base).unwrap(), &Secret::default(), Duration::from_secs(1), None).unwrap()
    }

    #[test]
    fn paths_join_onto_the_server_root() {
        for base in ["http://h:8188", "http://h:8188/"] {
            assert_eq!(api(base).url(&["history", "a/b"]).as_str(), "http://h:8188/history/a%2Fb");
            assert_eq!(api(base).ws_url("c 1").as_str(), "ws://h:8188/ws?clientId=c+1");
        }
        assert_eq!(
            api("https://gpu.example/comfy/").url(&["prompt"]).as_str(),
            "https://gpu.example/comfy/prompt"
        );
        assert_eq!(
            api("https://gpu.example/comfy").ws_url("x").as_str(),
            "wss://gpu.example/comfy/ws?clientId=x"
        );
    }
}
