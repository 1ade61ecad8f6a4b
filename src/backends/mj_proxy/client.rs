//! The HTTP side of the adapter: joining paths onto `base_url`, the `mj-api-secret` header,
//! the per-request timeout, bodies read under a size cap, and downloading the images a task
//! links to. Those usually live on another host (Discord's CDN, the proxy's own CDN), so the
//! secret only goes with a download to the proxy's own origin, and requests that carry it
//! follow redirects only within that origin (reqwest strips `Authorization` on a redirect to
//! another host, but not a custom header such as `mj-api-secret`).

use crate::backends::http_util::{self, ReadError, read_capped};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::redirect::Policy;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Serialize;

use super::errors::{self, bad_response};
use crate::backends::BackendError;
use crate::config::Secret;

/// Cap on one API answer: a Task is a few KiB; describe's prompts and buttons add little.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// The header both proxies read the API secret from.
const SECRET_HEADER: &str = "mj-api-secret";

/// An HTTP answer of any status, for the caller to interpret.
pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Method and URL, for error details.
    pub what: String,
}

pub(super) struct Api {
    /// For requests that carry the secret: redirects stay on the original origin.
    http: reqwest::Client,
    /// For downloads from other hosts, which never carry the secret.
    open: reqwest::Client,
    base: Url,
    key: Option<HeaderValue>,
    timeout: Duration,
}

impl Api {
    pub fn new(backend: &str, base: Url, key: &Secret, timeout: Duration) -> anyhow::Result<Api> {
        let client = |redirects: Policy| {
            reqwest::Client::builder()
                .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(timeout)
                .redirect(redirects)
                .build()
                .map_err(|e| anyhow::anyhow!("backend `{backend}`: cannot set up the HTTP client: {e}"))
        };
        let same_origin = Policy::custom(|attempt| {
            let leaves =
                attempt.previous().first().is_some_and(|first| first.origin() != attempt.url().origin());
            if leaves || attempt.previous().len() > 5 { attempt.stop() } else { attempt.follow() }
        });
        let (http, open) = (client(same_origin)?, client(Policy::limited(5))?);
        let key = if key.is_empty() {
            None
        } else {
            let mut value = HeaderValue::from_str(key.expose().trim()).map_err(|_| {
                anyhow::anyhow!("backend `{backend}`: api_key has characters an HTTP header cannot carry")
            })?;
            // Keeps the value out of reqwest's and hyper's debug output.
            value.set_sensitive(true);
            Some(value)
        };
        Ok(Api { http, open, base, key, timeout })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `base` + the segments, each percent-encoded (task ids come from the proxy).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub async fn post(&self, segments: &[&str], body: &impl Serialize) -> Result<Reply, BackendError> {
        let url = self.url(segments);
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body), what).await
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Reply, BackendError> {
        let url = self.url(segments);
        let what = format!("GET {url}");
        self.send(self.http.get(url), what).await
    }

    /// A reachability probe for `/healthz`: asks about a task that does not exist, which
    /// both proxies answer cheaply (empty, `null` or 404) once the secret is accepted. `Err`
    /// for refused credentials, a server error or no answer.
    pub async fn probe(&self) -> Result<(), String> {
        let url = self.url(&["task", "easel-health-probe", "fetch"]);
        let request = self.authed(self.http.get(url)).timeout(self.timeout.min(Duration::from_secs(10)));
        match request.send().await {
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                Err(format!("credentials rejected ({})", r.status()))
            }
            Ok(r) if r.status().is_server_error() => Err(format!("server error ({})", r.status())),
            Ok(_) => Ok(()),
            Err(e) if e.is_timeout() => Err("no answer in time".into()),
            Err(_) => Err("cannot connect".into()),
        }
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.key {
            Some(key) => request.header(SECRET_HEADER, key.clone()),
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
        // Error bodies are only excerpted, so an oversized one is cut rather than refused.
        let body = match read_capped(response, MAX_RESPONSE_BYTES, !status.is_success()).await {
            Ok(body) => body,
            Err(ReadError::Transport(e)) => return Err(errors::from_transport(&e, &what, self.timeout)),
            Err(ReadError::TooLarge) => {
                return Err(bad_response(
                    "an answer far larger than a task",
                    format!("{what}: body over {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
        };
        Ok(Reply { status, headers, body, what })
    }

    /// Downloads an image the proxy linked to, at most `cap` bytes within `timeout`, and
    /// checks that it is one. Relative links are taken relative to `base_url`.
    pub async fn download(&self, link: &str, cap: usize, timeout: Duration) -> Result<Bytes, BackendError> {
        let url = self.base.join(link.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(url) = url else {
            return Err(bad_response(
                "an image link that is not an http(s) URL",
                format!("imageUrl `{link}`"),
            ));
        };
        let what = format!("GET {url}");
        // The secret is for the proxy; a CDN on another host must not receive it.
        let request = if url.origin() == self.base.origin() {
            self.authed(self.http.get(url))
        } else {
            self.open.get(url)
        };
        let send = |request: RequestBuilder| async {
            request.timeout(timeout).send().await.map_err(|e| errors::from_transport(&e, &what, timeout))
        };
        let mut response = send(request).await?;
        // A keyed request stops at a redirect to another origin (a proxy's image route
        // pointing at its CDN); that hop is followed without the secret.
        if response.status().is_redirection()
            && let Some(next) = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
                .filter(|next| next.origin() != self.base.origin())
        {
            response = send(self.open.get(next)).await?;
        }
        http_util::read_image(errors::SERVICE, response, &what, cap, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str) -> Api {
        Api::new("t", Url::parse(base).unwrap(), &Secret::default(), Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn segments_join_onto_the_base_and_are_encoded() {
        for base in ["http://h:8080/mj", "http://h:8080/mj/"] {
            assert_eq!(api(base).url(&["submit", "imagine"]).as_str(), "http://h:8080/mj/submit/imagine");
        }
        assert_eq!(api("http://h").url(&["task", "12", "fetch"]).as_str(), "http://h/task/12/fetch");
        assert_eq!(
            api("http://h/mj").url(&["task", "a/b?c", "fetch"]).as_str(),
            "http://h/mj/task/a%2Fb%3Fc/fetch"
        );
    }

    #[test]
    fn keys_that_cannot_be_headers_are_refused() {
        let bad =
            Api::new("t", Url::parse("http://h").unwrap(), &Secret::new("a\nb"), Duration::from_secs(1));
        assert!(bad.is_err());
    }
}
