//! The HTTP side of the adapter: joining paths onto `base_url`, authenticating, applying the
//! per-request timeout, reading bodies under a size cap, and downloading the images a service
//! returns as URLs. Every failure leaves here already classified.

use crate::backends::http_util::{self, ReadError, read_capped};
use std::time::Duration;

use bytes::Bytes;
use reqwest::multipart::Form;
use reqwest::{RequestBuilder, Url};
use serde::Serialize;

use super::errors;
use crate::backends::BackendError;
use crate::base::FailureCode;
use crate::config::Secret;

/// Cap on one downloaded image.
pub(super) const MAX_IMAGE_BYTES: usize = 50 << 20;
/// Cap on one API answer: several base64 images of up to `MAX_IMAGE_BYTES` each.
const MAX_RESPONSE_BYTES: usize = 256 << 20;
/// Error bodies are only excerpted, so little of them is read.
const MAX_ERROR_BYTES: usize = 64 << 10;

pub(super) struct Api {
    http: reqwest::Client,
    base: Url,
    key: Secret,
    timeout: Duration,
    backend: String,
}

impl Api {
    pub fn new(backend: &str, base: Url, key: Secret, timeout: Duration) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("backend `{backend}`: cannot set up the HTTP client: {e}"))?;
        Ok(Api { http, base, key, timeout, backend: backend.to_string() })
    }

    /// `base` + `path`, with exactly one slash between them and `base`'s query kept.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{}", self.base.path().trim_end_matches('/'), path.trim_start_matches('/'));
        url.set_path(&joined);
        url
    }

    /// A reachability probe: `Ok` when the service answers at all (many compatible services
    /// have no `/models`, so a 404 still proves it is up), `Err` for refused credentials or no
    /// answer.
    pub async fn probe(&self, path: &str) -> Result<(), String> {
        let request =
            self.authorise(self.http.get(self.url(path)).timeout(self.timeout.min(Duration::from_secs(10))));
        match request.send().await {
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                Err(format!("credentials rejected ({})", r.status()))
            }
            Ok(_) => Ok(()),
            Err(e) if e.is_timeout() => Err("no answer in time".into()),
            Err(_) => Err("cannot connect".into()),
        }
    }

    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> Result<Bytes, BackendError> {
        let url = self.url(path);
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body), &what).await
    }

    pub async fn post_form(&self, path: &str, form: Form) -> Result<Bytes, BackendError> {
        let url = self.url(path);
        let what = format!("POST {url}");
        self.send(self.http.post(url).multipart(form), &what).await
    }

    async fn send(&self, request: RequestBuilder, what: &str) -> Result<Bytes, BackendError> {
        let request = self.authorise(request.timeout(self.timeout));
        let response = request.send().await.map_err(|e| errors::from_transport(&e, what, self.timeout))?;
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            // A broken error body still leaves the status to classify by.
            let body = read_capped(response, MAX_ERROR_BYTES, true).await.unwrap_or_default();
            return Err(errors::from_status(&self.backend, what, status, &headers, &body));
        }
        match read_capped(response, MAX_RESPONSE_BYTES, false).await {
            Ok(body) => Ok(body),
            Err(ReadError::Transport(e)) => Err(errors::from_transport(&e, what, self.timeout)),
            Err(ReadError::TooLarge) => Err(errors::bad_response(
                "the answer was too large",
                format!("{what}: body over {MAX_RESPONSE_BYTES} bytes"),
            )),
        }
    }

    fn authorise(&self, request: RequestBuilder) -> RequestBuilder {
        if self.key.is_empty() { request } else { request.bearer_auth(self.key.expose().trim()) }
    }

    /// Fetches an image the service returned by URL. Relative URLs are resolved against
    /// `base_url`; the key goes only to the service's own origin, never to a CDN.
    pub async fn download(&self, raw: &str) -> Result<Bytes, BackendError> {
        let url = self.base.join(raw.trim()).map_err(|e| {
            errors::bad_response("an image link that is not a URL", format!("image url `{raw}`: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(errors::bad_response(
                "an image link that is not http(s)",
                format!("image url `{url}` has scheme {}", url.scheme()),
            ));
        }
        let what = format!("GET {url}");
        let same_origin = url.origin() == self.base.origin();
        let mut request = self.http.get(url).timeout(self.timeout);
        if same_origin {
            request = self.authorise(request);
        }
        let response = request.send().await.map_err(|e| errors::from_transport(&e, &what, self.timeout))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(BackendError::retryable(
                FailureCode::BackendError,
                format!("The image service's file host had a temporary problem (HTTP {}).", status.as_u16()),
                format!("{what} → HTTP {}", status.as_u16()),
            ));
        }
        if !status.is_success() {
            // Not our credentials at stake (the link carries its own), so not CredentialsRejected.
            return Err(errors::bad_response(
                format!("an image link that could not be downloaded (HTTP {})", status.as_u16()),
                format!("{what} → HTTP {}", status.as_u16()),
            ));
        }
        http_util::read_image(errors::SERVICE, response, &what, MAX_IMAGE_BYTES, self.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str) -> Api {
        Api::new("t", Url::parse(base).unwrap(), Secret::default(), Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn paths_join_with_one_slash() {
        for base in ["https://h/v1", "https://h/v1/", "https://h/v1//"] {
            assert_eq!(api(base).url("images/generations").as_str(), "https://h/v1/images/generations");
            assert_eq!(api(base).url("/images/edits").as_str(), "https://h/v1/images/edits");
        }
        assert_eq!(api("https://h").url("images/edits").as_str(), "https://h/images/edits");
        assert_eq!(
            api("https://h/openai/v1?api-version=2").url("images/edits").as_str(),
            "https://h/openai/v1/images/edits?api-version=2"
        );
    }
}
