//! ohmygpt's endpoints over the shared [`JsonClient`]: each call POSTs an endpoint's fields
//! as JSON or as a form, with the Bearer key, and reads the envelope of the answer (judged by
//! [`errors::read_reply`]). Images live on other hosts (Discord's CDN, object storage), so
//! downloads never carry the key.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;

use super::errors::{self, SERVICE};
use super::settings::BodyFormat;
use super::wire::{API_PATH, Endpoint, Envelope, Fields};
use crate::backends::BackendError;
use crate::backends::http_util::{Auth, JsonClient};
use crate::config::Secret;

/// Cap on one API answer: a task with its actions is a few KiB.
const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// A result link that cannot be downloaded, completing "… sent a response Easel could not use: …".
const BAD_LINK: &str = "an image link that is not an http(s) URL";

pub(super) struct Api {
    json: JsonClient,
    format: BodyFormat,
    backend: String,
}

impl Api {
    pub fn new(
        backend: &str,
        base: Url,
        key: &Secret,
        format: BodyFormat,
        timeout: Duration,
    ) -> anyhow::Result<Api> {
        let json = JsonClient::new(&SERVICE, backend, base, Auth::Bearer(key), timeout)?
            .max_response(MAX_RESPONSE_BYTES)
            .key_for_api_only();
        Ok(Api { json, format, backend: backend.to_string() })
    }

    /// The backend's `image_hosts`: result hosts on a private network it may fetch from.
    pub fn image_hosts(mut self, hosts: &[String]) -> Api {
        self.json = self.json.image_hosts(hosts);
        self
    }

    pub fn timeout(&self) -> Duration {
        self.json.timeout()
    }

    /// `base` + `/api/v1/ai/draw/mj/<endpoint>`.
    pub fn url(&self, endpoint: Endpoint) -> Url {
        let mut segments = API_PATH.to_vec();
        segments.push(endpoint.path());
        self.json.url(&segments)
    }

    /// POSTs the fields and returns the envelope of a successful answer, or the classified
    /// failure.
    pub async fn call(&self, endpoint: Endpoint, fields: &Fields) -> Result<Envelope, BackendError> {
        self.call_with_query(endpoint, fields, &[]).await
    }

    pub async fn call_with_query(
        &self,
        endpoint: Endpoint,
        fields: &Fields,
        query: &[(&str, &str)],
    ) -> Result<Envelope, BackendError> {
        let mut url = self.url(endpoint);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let reply = match self.format {
            BodyFormat::Json => self.json.post(url, &fields.to_json()).await?,
            BodyFormat::Form => self.json.post_urlencoded(url, &fields.to_form()).await?,
        };
        errors::read_reply(&self.backend, &reply)
    }

    /// Downloads an image a task linked to, at most `cap` bytes within `timeout`.
    pub async fn download(&self, link: &str, cap: usize, timeout: Duration) -> Result<Bytes, BackendError> {
        self.json.download_within(link, cap, BAD_LINK, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str) -> Api {
        Api::new("t", Url::parse(base).unwrap(), &Secret::default(), BodyFormat::Json, Duration::from_secs(1))
            .unwrap()
    }

    #[test]
    fn endpoints_join_onto_the_server_root_or_a_mirror_prefix() {
        for base in ["https://api.ohmygpt.com", "https://api.ohmygpt.com/"] {
            assert_eq!(
                api(base).url(Endpoint::Imagine).as_str(),
                "https://api.ohmygpt.com/api/v1/ai/draw/mj/imagine"
            );
        }
        assert_eq!(
            api("http://h:8080/relay").url(Endpoint::ListTasks).as_str(),
            "http://h:8080/relay/api/v1/ai/draw/mj/query-mj-tasks"
        );
    }

    #[test]
    fn keys_that_cannot_be_headers_are_refused() {
        let bad = Api::new(
            "t",
            Url::parse("http://h").unwrap(),
            &Secret::new("a\nb"),
            BodyFormat::Form,
            Duration::from_secs(1),
        );
        assert!(bad.is_err());
    }
}
