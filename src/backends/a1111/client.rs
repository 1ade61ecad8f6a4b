//! The calls the adapter makes, on the shared JSON client: `/sdapi/v1/…` joined onto the
//! server root, HTTP Basic auth, and a shorter timeout for progress and lists. Every failure
//! leaves here already classified, with the names the request used so that a "not found" can
//! say which name the server did not know.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use serde::Serialize;

use super::errors::{self, SERVICE};
use super::settings::Settings;
use crate::backends::BackendError;
use crate::backends::http_util::{Auth, JsonClient, Reply};

/// Cap on one API answer: four base64 PNGs of a large batch, or one upscaled image.
const MAX_RESPONSE_BYTES: usize = 256 << 20;
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
    client: JsonClient,
    pub names: Names,
}

impl Api {
    pub fn new(s: &Settings) -> anyhow::Result<Api> {
        let auth = match &s.credentials {
            Some(c) => Auth::Basic { user: c.user.clone(), password: c.password.clone() },
            None => Auth::None,
        };
        let client = JsonClient::new(&SERVICE, &s.name, s.base_url.clone(), auth, s.timeout)?
            .max_response(MAX_RESPONSE_BYTES);
        let names = Names {
            backend: s.name.clone(),
            model: s.model.clone(),
            sampler: s.sampler.clone(),
            upscaler: s.upscaler.clone(),
            interrogate_model: s.interrogate_model.clone(),
        };
        Ok(Api { client, names })
    }

    /// `base` + `/sdapi/v1/` + the endpoint, with exactly one slash at each joint.
    pub fn url(&self, endpoint: Endpoint) -> Url {
        let (path, query) = match endpoint.path().split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (endpoint.path(), None),
        };
        let mut url = self.client.url(&["sdapi", "v1", path]);
        url.set_query(query);
        url
    }

    pub async fn post_json(&self, endpoint: Endpoint, body: &impl Serialize) -> Result<Bytes, BackendError> {
        let reply = self.client.post(self.url(endpoint), body).await?;
        self.success(endpoint, reply)
    }

    pub async fn get(&self, endpoint: Endpoint) -> Result<Bytes, BackendError> {
        let timeout = match endpoint {
            Endpoint::Progress => POLL_TIMEOUT,
            Endpoint::SdModels | Endpoint::Upscalers => LIST_TIMEOUT,
            _ => self.client.timeout(),
        };
        let reply = self.client.get_within(self.url(endpoint), timeout).await?;
        self.success(endpoint, reply)
    }

    /// The body of a success, else the classified failure naming what the server lacked.
    fn success(&self, endpoint: Endpoint, reply: Reply) -> Result<Bytes, BackendError> {
        Ok(reply.success(|r| errors::from_status(&self.names, endpoint, r))?.body)
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
