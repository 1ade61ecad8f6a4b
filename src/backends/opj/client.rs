//! The HTTP side: paths joined onto `base_url` (`…/v1`), the Bearer key, the per-request
//! timeout, bodies read under a size cap, the health probe, and result downloads. The key only
//! goes to `base_url`'s own origin: results live on a CDN (`delivery.opjcdn.net` in the
//! official client's example), which has no business seeing it.

use crate::backends::http_util::{self, ReadError, read_capped};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Serialize;

use super::errors::{self, bad_response};
use crate::backends::BackendError;
use crate::config::Secret;

/// Cap on one API answer: a job is well under a KiB.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

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
    timeout: Duration,
}

impl Api {
    pub fn new(backend: &str, base: Url, key: &Secret, timeout: Duration) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
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
        Ok(Api { http, base, key, timeout })
    }

    /// `base` + `path` (a model path such as `flux/1.1/pro`, or `job`) + `id`, the id
    /// percent-encoded as one segment since it comes from the service.
    pub fn url(&self, path: &str, id: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path.split('/').filter(|s| !s.is_empty()));
            if let Some(id) = id {
                segments.push(id);
            }
        }
        url
    }

    pub async fn post(&self, path: &str, body: &impl Serialize) -> Result<Reply, BackendError> {
        let url = self.url(path, None);
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body), what).await
    }

    /// `GET /v1/job/{id}`.
    pub async fn job(&self, id: &str) -> Result<Reply, BackendError> {
        let url = self.url("job", Some(id));
        let what = format!("GET {url}");
        self.send(self.http.get(url), what).await
    }

    /// For `/healthz`: `GET /v1/internal/ping` ("Ping the API & checkpoints").
    pub async fn probe(&self) -> Result<(), String> {
        let url = self.url("internal/ping", None);
        let request = self.authed(self.http.get(url)).timeout(self.timeout.min(Duration::from_secs(10)));
        match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                Err(format!("credentials rejected ({})", r.status()))
            }
            Ok(r) if r.status().is_server_error() => Err(format!("server error ({})", r.status())),
            Ok(r) => Err(format!("ping answered {}; check base_url (it ends in /v1)", r.status())),
            Err(e) if e.is_timeout() => Err("no answer in time".into()),
            Err(_) => Err("cannot connect".into()),
        }
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.key {
            Some(key) => request.header(AUTHORIZATION, key.clone()),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder, what: String) -> Result<Reply, BackendError> {
        let response = self
            .authed(request)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_capped(response, MAX_RESPONSE_BYTES, !status.is_success()).await {
            Ok(body) => body,
            Err(ReadError::Transport(e)) => return Err(errors::from_transport(&e, &what, self.timeout)),
            Err(ReadError::TooLarge) => {
                return Err(bad_response(
                    "an answer far larger than a job",
                    format!("{what}: body over {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
        };
        Ok(Reply { status, headers, body, what })
    }

    /// Downloads one result the service linked to (relative links against `base_url`), at
    /// most `cap` bytes, and checks that it is an image.
    pub async fn download(&self, link: &str, cap: usize) -> Result<Bytes, BackendError> {
        let url = self.base.join(link.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(url) = url else {
            return Err(bad_response(
                "an `output` that is not an http(s) image link",
                format!("output `{link}`"),
            ));
        };
        let what = format!("GET {url}");
        let request = self.http.get(url.clone()).timeout(self.timeout);
        let request = if url.origin() == self.base.origin() { self.authed(request) } else { request };
        let response = request.send().await.map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        http_util::read_image(errors::SERVICE, response, &what, cap, self.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_onto_v1() {
        for base in ["https://api.opj.app/v1", "https://api.opj.app/v1/"] {
            let api =
                Api::new("t", Url::parse(base).unwrap(), &Secret::default(), Duration::from_secs(1)).unwrap();
            assert_eq!(api.url("flux/1.1/pro", None).as_str(), "https://api.opj.app/v1/flux/1.1/pro");
            assert_eq!(api.url("job", Some("a/b c")).as_str(), "https://api.opj.app/v1/job/a%2Fb%20c");
            assert_eq!(api.url("utils/upscale", None).as_str(), "https://api.opj.app/v1/utils/upscale");
        }
    }
}
