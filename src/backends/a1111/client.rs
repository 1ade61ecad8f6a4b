//! The HTTP side of the adapter: joining `/sdapi/v1/…` onto the server root, HTTP Basic auth,
//! the per-request timeout, and reading bodies under a size cap. Every failure leaves here
//! already classified, with the names the request used so that a "not found" can say which
//! name the server did not know.

use crate::backends::http_util::{ReadError, read_capped};
use std::time::Duration;

use bytes::Bytes;
use reqwest::{RequestBuilder, Url};
use serde::Serialize;

use super::errors;
use super::settings::{Credentials, Settings};
use crate::backends::BackendError;

/// Cap on one API answer: four base64 PNGs of a large batch, or one upscaled image.
const MAX_RESPONSE_BYTES: usize = 256 << 20;
/// Error bodies are only excerpted, so little of them is read.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// `/progress` answers quickly or not at all; a slow one is skipped, not waited for.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);
/// The lists (checkpoints, upscalers) are served outside the job queue, so they come quickly.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoints the adapter calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Txt2img,
    Img2img,
    Upscale,
    Interrogate,
    Progress,
    SdModels,
    Upscalers,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Txt2img => "txt2img",
            Endpoint::Img2img => "img2img",
            Endpoint::Upscale => "extra-single-image",
            Endpoint::Interrogate => "interrogate",
            Endpoint::Progress => "progress?skip_current_image=false",
            Endpoint::SdModels => "sd-models",
            Endpoint::Upscalers => "upscalers",
        }
    }
}

/// The configured names a request may carry, for naming the one the server rejected.
#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    pub backend: String,
    pub model: Option<String>,
    pub sampler: Option<String>,
    pub upscaler: String,
    pub interrogate_model: String,
}

pub(super) struct Api {
    http: reqwest::Client,
    base: Url,
    credentials: Option<Credentials>,
    timeout: Duration,
    pub names: Names,
}

impl Api {
    pub fn new(s: &Settings) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(s.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| anyhow::anyhow!("backend `{}`: cannot set up the HTTP client: {e}", s.name))?;
        let names = Names {
            backend: s.name.clone(),
            model: s.model.clone(),
            sampler: s.sampler.clone(),
            upscaler: s.upscaler.clone(),
            interrogate_model: s.interrogate_model.clone(),
        };
        Ok(Api {
            http,
            base: s.base_url.clone(),
            credentials: s.credentials.clone(),
            timeout: s.timeout,
            names,
        })
    }

    /// `base` + `/sdapi/v1/` + the endpoint, with exactly one slash at each joint.
    pub fn url(&self, endpoint: Endpoint) -> Url {
        let (path, query) = match endpoint.path().split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (endpoint.path(), None),
        };
        let mut url = self.base.clone();
        url.set_path(&format!("{}/sdapi/v1/{path}", self.base.path().trim_end_matches('/')));
        url.set_query(query);
        url
    }

    pub async fn post_json(&self, endpoint: Endpoint, body: &impl Serialize) -> Result<Bytes, BackendError> {
        let url = self.url(endpoint);
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body).timeout(self.timeout), endpoint, &what).await
    }

    pub async fn get(&self, endpoint: Endpoint) -> Result<Bytes, BackendError> {
        let url = self.url(endpoint);
        let what = format!("GET {url}");
        let timeout = match endpoint {
            Endpoint::Progress => POLL_TIMEOUT,
            Endpoint::SdModels | Endpoint::Upscalers => LIST_TIMEOUT,
            _ => self.timeout,
        };
        let timeout = timeout.min(self.timeout);
        self.send(self.http.get(url).timeout(timeout), endpoint, &what).await
    }

    async fn send(
        &self,
        request: RequestBuilder,
        endpoint: Endpoint,
        what: &str,
    ) -> Result<Bytes, BackendError> {
        let request = match &self.credentials {
            Some(c) => request.basic_auth(&c.user, Some(c.password.expose())),
            None => request,
        };
        let response = request.send().await.map_err(|e| errors::from_transport(&e, what, self.timeout))?;
        let status = response.status();
        if !status.is_success() {
            // A broken error body still leaves the status to classify by.
            let body = read_capped(response, MAX_ERROR_BYTES, true).await.unwrap_or_default();
            return Err(errors::from_status(&self.names, endpoint, what, status, &body));
        }
        match read_capped(response, MAX_RESPONSE_BYTES, false).await {
            Ok(body) => Ok(body),
            Err(ReadError::Transport(e)) => Err(errors::from_transport(&e, what, self.timeout)),
            Err(ReadError::TooLarge) => Err(errors::bad_response(
                "an answer that was too large",
                format!("{what}: body over {MAX_RESPONSE_BYTES} bytes"),
            )),
        }
    }

    /// Names from a list endpoint (upscalers, checkpoints), to tell an admin what to choose
    /// from; empty when the list cannot be had.
    pub async fn list_names(&self, endpoint: Endpoint) -> Vec<String> {
        let Ok(body) = self.get(endpoint).await else { return Vec::new() };
        let items: Vec<super::wire::Named> = serde_json::from_slice(&body).unwrap_or_default();
        items.into_iter().filter_map(|i| i.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendConfig;

    fn api(base: &str) -> Api {
        let mut cfg = BackendConfig::new("t", "a1111");
        cfg.base_url = base.into();
        Api::new(&Settings::from_config(&cfg).unwrap()).unwrap()
    }

    #[test]
    fn endpoints_join_onto_the_server_root() {
        for base in ["http://h:7860", "http://h:7860/", "http://h:7860/sdapi/v1"] {
            assert_eq!(api(base).url(Endpoint::Txt2img).as_str(), "http://h:7860/sdapi/v1/txt2img");
        }
        assert_eq!(
            api("https://h/sd/").url(Endpoint::Progress).as_str(),
            "https://h/sd/sdapi/v1/progress?skip_current_image=false"
        );
    }
}
