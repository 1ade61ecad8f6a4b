//! The calls the adapter makes of a ComfyUI server, on the shared JSON client: the optional
//! bearer `api_key` (ComfyUI has no auth of its own; a proxy in front of it may), input
//! uploads, result downloads through `/view`, the `/ws` address, and the typed reads made
//! more than once (`/queue`, `/history/{id}`, `/system_stats`).

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::HeaderValue;
use reqwest::multipart::{Form, Part};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::{self, SERVICE};
use super::wire::{HistoryEntry, ImageRef, Queue, SystemStats, Uploaded};
use crate::backends::BackendError;
use crate::backends::http_util::{Auth, JsonClient, Reply, excerpt};
use crate::config::Secret;

/// Cap on one API answer: a history entry echoes the whole workflow, still far below this.
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Cap on one result image (a 2× upscale of a large image is tens of MiB as PNG).
const MAX_IMAGE_BYTES: usize = 96 << 20;
/// Queue and history are served at once, outside the job queue.
const QUICK_TIMEOUT: Duration = Duration::from_secs(10);
/// Inputs go to this subfolder of ComfyUI's `input` folder, where an admin can clear them.
const UPLOAD_SUBFOLDER: &str = "easel";

pub(super) struct Api {
    client: JsonClient,
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
        let client = JsonClient::new(&SERVICE, backend, base, Auth::Bearer(key), timeout)?
            .max_response(MAX_RESPONSE_BYTES);
        Ok(Api { client, backend: backend.to_string(), model })
    }

    /// The backend's `image_hosts`: private hosts reference images may come from.
    pub fn image_hosts(mut self, hosts: &[String]) -> Api {
        self.client = self.client.image_hosts(hosts);
        self
    }

    pub fn timeout(&self) -> Duration {
        self.client.timeout()
    }

    pub fn url(&self, segments: &[&str]) -> Url {
        self.client.url(segments)
    }

    /// `ws(s)://…/ws?clientId=…`.
    pub fn ws_url(&self, client_id: &str) -> Url {
        let mut url = self.url(&["ws"]);
        let scheme = if self.client.base().scheme() == "https" { "wss" } else { "ws" };
        let _ = url.set_scheme(scheme);
        url.query_pairs_mut().append_pair("clientId", client_id);
        url
    }

    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.client.key_header()
    }

    pub async fn post(&self, segments: &[&str], body: &impl Serialize) -> Result<Reply, BackendError> {
        self.client.post(self.url(segments), body).await
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Reply, BackendError> {
        self.client.get_within(self.url(segments), QUICK_TIMEOUT).await
    }

    /// A JSON answer of a successful call; anything else as the classified error.
    pub fn json<T: DeserializeOwned>(&self, reply: &Reply, shape: &str) -> Result<T, BackendError> {
        if !reply.status.is_success() {
            return Err(self.status_error(reply));
        }
        serde_json::from_slice(&reply.body).map_err(|e| {
            SERVICE.bad_response(
                format!("an answer that is not {shape}"),
                format!("{}: {e}; body: {}", reply.what, excerpt(&reply.body, 300)),
            )
        })
    }

    pub fn status_error(&self, reply: &Reply) -> BackendError {
        errors::from_status(&self.backend, self.model.as_deref(), reply)
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
        let part = Part::stream(bytes).file_name(file_name.to_string()).mime_str(mime).map_err(|e| {
            BackendError::fatal(
                crate::base::FailureCode::Internal,
                "Easel could not send the image.",
                format!("POST {url} ({file_name}): {e}"),
            )
        })?;
        let form = Form::new().part("image", part).text("type", "input").text("subfolder", UPLOAD_SUBFOLDER);
        let reply = self.client.post_form(url, form).await?;
        let uploaded: Uploaded = self.json(&reply, "an uploaded image (`{name, subfolder, type}`)")?;
        Ok(uploaded.load_name())
    }

    /// A member's reference image, from a public address or one of the backend's
    /// `image_hosts`; never from the server's own origin, which would carry the proxy key to
    /// whatever path a member names there.
    pub async fn reference(&self, link: &str) -> Result<Bytes, BackendError> {
        let own = Url::parse(link.trim()).map(|u| u.origin() == self.client.base().origin()).unwrap_or(true);
        if own {
            return Err(
                SERVICE.bad_response("a reference link on the server's own address", link.to_string())
            );
        }
        self.client.download(link, MAX_IMAGE_BYTES, "a reference link that is not an image").await
    }

    /// Downloads one result through `/view` and checks that it is an image.
    pub async fn view(&self, image: &ImageRef) -> Result<Bytes, BackendError> {
        let mut url = self.url(&["view"]);
        url.query_pairs_mut()
            .append_pair("filename", &image.filename)
            .append_pair("subfolder", &image.subfolder)
            .append_pair("type", &image.kind);
        self.client.download(url.as_str(), MAX_IMAGE_BYTES, "an image reference that is not a file").await
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
