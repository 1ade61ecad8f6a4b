//! The calls the adapter makes, on the shared JSON client: the Bearer key, answers of up to
//! several base64 images, and every failure already classified for this service.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::multipart::Form;
use serde::Serialize;

use super::errors::{self, SERVICE};
use crate::backends::BackendError;
use crate::backends::http_util::{Auth, JsonClient, Probe, Reply};
use crate::config::Secret;

/// Cap on one downloaded image.
pub(super) const MAX_IMAGE_BYTES: usize = 50 << 20;
/// Cap on one API answer: several base64 images of up to `MAX_IMAGE_BYTES` each.
const MAX_RESPONSE_BYTES: usize = 256 << 20;

pub(super) struct Api {
    client: JsonClient,
    backend: String,
}

impl Api {
    pub fn new(backend: &str, base: Url, key: &Secret, timeout: Duration) -> anyhow::Result<Api> {
        let client = JsonClient::new(&SERVICE, backend, base, Auth::Bearer(key), timeout)?
            .max_response(MAX_RESPONSE_BYTES);
        Ok(Api { client, backend: backend.to_string() })
    }

    /// The backend's `image_hosts`.
    pub fn image_hosts(mut self, hosts: &[String]) -> Api {
        self.client = self.client.image_hosts(hosts);
        self
    }

    /// `base_url` + `path` (`images/generations`).
    fn url(&self, path: &str) -> Url {
        self.client.url(&path.split('/').collect::<Vec<_>>())
    }

    /// A successful answer, or the classified failure.
    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> Result<Reply, BackendError> {
        let reply = self.client.post(self.url(path), body).await?;
        reply.success(|r| errors::from_status(&self.backend, r))
    }

    /// The same fields as `post_json`, as `application/x-www-form-urlencoded`.
    pub async fn post_urlencoded(&self, path: &str, body: &impl Serialize) -> Result<Reply, BackendError> {
        let reply = self.client.post_urlencoded(self.url(path), body).await?;
        reply.success(|r| errors::from_status(&self.backend, r))
    }

    pub async fn post_form(&self, path: &str, form: Form) -> Result<Reply, BackendError> {
        let reply = self.client.post_form(self.url(path), form).await?;
        reply.success(|r| errors::from_status(&self.backend, r))
    }

    /// For `/healthz`: many compatible services have no `/models`, so a 404 still proves the
    /// service is up; only refused credentials or no answer count.
    pub async fn probe(&self) -> Result<(), String> {
        self.client.probe(self.url("models"), Probe::AnyAnswer).await
    }

    /// Fetches an image the service returned by URL (relative ones against `base_url`).
    /// A member's reference image: never from the provider's own origin, where the key would
    /// go with it to whatever path a member names.
    pub async fn reference(&self, link: &str) -> Result<Bytes, BackendError> {
        let own = Url::parse(link.trim()).map(|u| u.origin() == self.client.base().origin()).unwrap_or(true);
        if own {
            return Err(
                SERVICE.bad_response("a reference link on the provider's own address", link.to_string())
            );
        }
        self.client.download(link, MAX_IMAGE_BYTES, "a reference link that is not an image").await
    }

    pub async fn download(&self, link: &str) -> Result<Bytes, BackendError> {
        self.client.download(link, MAX_IMAGE_BYTES, "an image link that is not an http(s) URL").await
    }
}
