//! The JSON client every adapter talks to its service through: paths joined onto `base_url`,
//! the key in the service's style, the per-request timeout, bodies read under a size cap,
//! a reachability probe, and downloads of the images a service links to, checked to be
//! images. Every failure leaves here already classified, worded for the service.
//!
//! The key goes only to `base_url`'s own origin. Requests that carry it follow redirects
//! within that origin only (reqwest drops `Authorization` on a redirect to another host, but
//! not a custom header such as midjourney-proxy's `mj-api-secret`); a download redirected to
//! another host (a CDN) follows that hop without the key.
//!
//! A backend's links are not trusted to point anywhere: an image off `base_url`'s origin is
//! fetched only from a public address (the member-link rules of `imaging::download`, checked
//! on every redirect hop and on what a name resolves to), or from a host the operator listed
//! in the backend's `image_hosts` (a CDN on a private network) — never from Easel's own
//! machine or network because a service (or a webhook delivery) said so.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::multipart::Form;
use reqwest::redirect::Policy;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Serialize;

use super::{ReadError, Service, read_capped, read_image};
use crate::backends::BackendError;
use crate::config::Secret;
use crate::imaging::download::{GlobalOnly, check_link};

/// Error bodies are only excerpted, so little of them is read.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// Longest wait for a connection, whatever the request timeout.
const MAX_CONNECT: Duration = Duration::from_secs(30);
/// A probe answers quickly or counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the service expects the key; an empty key is not sent.
pub enum Auth<'a> {
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(&'a Secret),
    /// The key as the value of this header (midjourney-proxy's `mj-api-secret`).
    Header(&'static str, &'a Secret),
    /// HTTP Basic with this user and password (A1111's `--api-auth`).
    Basic {
        user: String,
        password: Secret,
    },
}

/// An HTTP answer of any status, for the caller to interpret.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Method and URL, for error details.
    pub what: String,
}

impl Reply {
    /// The reply when it is a success, else the error `classify` makes of it.
    pub fn success(self, classify: impl FnOnce(&Reply) -> BackendError) -> Result<Reply, BackendError> {
        if self.status.is_success() { Ok(self) } else { Err(classify(&self)) }
    }

    /// A reply as a service would send it, for tests of error classification.
    pub fn fake(status: u16, body: &[u8]) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body),
            what: "POST http://service/x".into(),
        }
    }
}

/// What a probe counts as up, beyond "answered, and not with 401 or 403".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Any answer: many compatible services lack the probed path, and a 404 still proves
    /// the service is up.
    AnyAnswer,
    /// Any answer but a server error.
    NoServerError,
    /// Only a success; otherwise the message says this.
    Success(&'static str),
}

pub struct JsonClient {
    /// For requests that carry the key: redirects stay on the original origin.
    http: reqwest::Client,
    /// For other hosts, which never see the key: public addresses only, on every hop.
    open: reqwest::Client,
    /// For the hosts in `image_hosts`, which may be private: no redirects.
    listed: reqwest::Client,
    image_hosts: Vec<String>,
    base: Url,
    /// The header carrying the key, or `None` without a key (or with Basic auth).
    key: Option<(HeaderName, HeaderValue)>,
    basic: Option<(String, Secret)>,
    /// Downloads from `base_url`'s own origin carry the key (its `/assets/…` may need it).
    key_on_downloads: bool,
    timeout: Duration,
    max_response: usize,
    service: &'static Service,
}

impl JsonClient {
    /// A client for backend `backend` of `service`.
    pub fn new(
        service: &'static Service,
        backend: &str,
        base: Url,
        auth: Auth,
        timeout: Duration,
    ) -> anyhow::Result<JsonClient> {
        let client = |redirects: Policy| {
            reqwest::Client::builder()
                .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(timeout.min(MAX_CONNECT))
                .redirect(redirects)
                .build()
                .map_err(|e| anyhow::anyhow!("backend `{backend}`: cannot set up the HTTP client: {e}"))
        };
        let same_origin = Policy::custom(|attempt| {
            let leaves =
                attempt.previous().first().is_some_and(|first| first.origin() != attempt.url().origin());
            if leaves || attempt.previous().len() > 5 { attempt.stop() } else { attempt.follow() }
        });
        let header = |name: HeaderName, value: String| {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                anyhow::anyhow!("backend `{backend}`: api_key has characters an HTTP header cannot carry")
            })?;
            // Keeps the value out of reqwest's and hyper's debug output.
            value.set_sensitive(true);
            anyhow::Ok(Some((name, value)))
        };
        let (key, basic) = match auth {
            Auth::Bearer(key) | Auth::Header(_, key) if key.is_empty() => (None, None),
            Auth::None => (None, None),
            Auth::Bearer(key) => (header(AUTHORIZATION, format!("Bearer {}", key.expose().trim()))?, None),
            Auth::Header(name, key) => {
                (header(HeaderName::from_static(name), key.expose().trim().to_string())?, None)
            }
            Auth::Basic { user, password } => (None, Some((user, password))),
        };
        Ok(JsonClient {
            http: client(same_origin)?,
            open: reqwest::Client::builder()
                .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(timeout.min(MAX_CONNECT))
                // A proxy would resolve the name itself, out of reach of `GlobalOnly`.
                .no_proxy()
                .dns_resolver(Arc::new(GlobalOnly))
                .redirect(Policy::custom(|attempt| {
                    if attempt.previous().len() > 5 || check_link(attempt.url()).is_err() {
                        attempt.stop()
                    } else {
                        attempt.follow()
                    }
                }))
                .build()
                .map_err(|e| anyhow::anyhow!("backend `{backend}`: cannot set up the HTTP client: {e}"))?,
            listed: client(Policy::none())?,
            image_hosts: Vec::new(),
            base,
            key,
            basic,
            key_on_downloads: true,
            timeout,
            max_response: 1 << 20,
            service,
        })
    }

    /// Answers up to `bytes` are read (1 MiB unless set).
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// Hosts (`cdn.lan` or `cdn.lan:8080`) whose image links are fetched even on a private
    /// address: the backend's `image_hosts`.
    pub fn image_hosts(mut self, hosts: &[String]) -> Self {
        self.image_hosts =
            hosts.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
        self
    }

    /// Downloads never carry the key, even from `base_url`'s own origin.
    pub fn key_for_api_only(mut self) -> Self {
        self.key_on_downloads = false;
        self
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The header carrying the key, for a connection made elsewhere (a WebSocket).
    pub fn key_header(&self) -> Option<&HeaderValue> {
        self.key.as_ref().map(|(_, value)| value)
    }

    /// `base_url` + the segments, each percent-encoded (ids come from the service), with
    /// exactly one slash at each joint and `base_url`'s query kept.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        let root = url.path().trim_end_matches('/').to_string();
        url.set_path(&root);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub async fn get(&self, url: Url) -> Result<Reply, BackendError> {
        self.get_within(url, self.timeout).await
    }

    /// A GET that must answer sooner than the request timeout (progress, lists, queues).
    pub async fn get_within(&self, url: Url, timeout: Duration) -> Result<Reply, BackendError> {
        let what = format!("GET {url}");
        self.send(self.http.get(url), what, timeout.min(self.timeout)).await
    }

    pub async fn post<B: Serialize + ?Sized>(&self, url: Url, body: &B) -> Result<Reply, BackendError> {
        let what = format!("POST {url}");
        self.send(self.http.post(url).json(body), what, self.timeout).await
    }

    /// A POST with an `application/x-www-form-urlencoded` body.
    pub async fn post_urlencoded<B: Serialize + ?Sized>(
        &self,
        url: Url,
        fields: &B,
    ) -> Result<Reply, BackendError> {
        let what = format!("POST {url}");
        self.send(self.http.post(url).form(fields), what, self.timeout).await
    }

    pub async fn post_form(&self, url: Url, form: Form) -> Result<Reply, BackendError> {
        let what = format!("POST {url}");
        self.send(self.http.post(url).multipart(form), what, self.timeout).await
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match (&self.key, &self.basic) {
            (Some((name, value)), _) => request.header(name.clone(), value.clone()),
            (None, Some((user, password))) => request.basic_auth(user, Some(password.expose())),
            (None, None) => request,
        }
    }

    async fn send(
        &self,
        request: RequestBuilder,
        what: String,
        timeout: Duration,
    ) -> Result<Reply, BackendError> {
        let response = self
            .authed(request)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.service.transport(&e, &what, timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        // An error body is only excerpted, so an oversized one is cut rather than refused.
        let (cap, cut) =
            if status.is_success() { (self.max_response, false) } else { (MAX_ERROR_BYTES, true) };
        let body = match read_capped(response, cap, cut).await {
            Ok(body) => body,
            // A broken error body still leaves the status to classify by.
            Err(_) if cut => Bytes::new(),
            Err(ReadError::Transport(e)) => return Err(self.service.transport(&e, &what, timeout)),
            Err(ReadError::TooLarge) => {
                return Err(self
                    .service
                    .bad_response(self.service.too_large, format!("{what}: body over {cap} bytes")));
            }
        };
        Ok(Reply { status, headers, body, what })
    }

    /// For `/healthz`: `Err` for refused credentials, no answer, or what `rule` refuses.
    pub async fn probe(&self, url: Url, rule: Probe) -> Result<(), String> {
        let request = self.authed(self.http.get(url)).timeout(self.timeout.min(PROBE_TIMEOUT));
        match request.send().await {
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                Err(format!("credentials rejected ({})", r.status()))
            }
            Ok(r) if rule != Probe::AnyAnswer && r.status().is_server_error() => {
                Err(format!("server error ({})", r.status()))
            }
            Ok(r) => match rule {
                Probe::Success(hint) if !r.status().is_success() => {
                    Err(format!("answered {}; {hint}", r.status()))
                }
                _ => Ok(()),
            },
            Err(e) if e.is_timeout() => Err("no answer in time".into()),
            Err(_) => Err("cannot connect".into()),
        }
    }

    /// Downloads an image the service linked to (relative links against `base_url`), at most
    /// `cap` bytes, and checks that it is one. `bad_link` completes "… sent a response Easel
    /// could not use: …" for a link that is not an http(s) URL.
    pub async fn download(&self, link: &str, cap: usize, bad_link: &str) -> Result<Bytes, BackendError> {
        self.download_within(link, cap, bad_link, self.timeout).await
    }

    /// A [`JsonClient::download`] that must finish sooner than the request timeout (a preview).
    pub async fn download_within(
        &self,
        link: &str,
        cap: usize,
        bad_link: &str,
        timeout: Duration,
    ) -> Result<Bytes, BackendError> {
        let timeout = timeout.min(self.timeout);
        let url = self.base.join(link.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(url) = url else {
            return Err(self.service.bad_response(bad_link, format!("link `{link}`")));
        };
        let what = format!("GET {url}");
        let own = url.origin() == self.base.origin();
        let request = match own {
            true if self.key_on_downloads => self.authed(self.http.get(url)),
            true => self.http.get(url),
            false => self.outside(url, bad_link)?,
        };
        let send = |request: RequestBuilder| async {
            request.timeout(timeout).send().await.map_err(|e| self.service.transport(&e, &what, timeout))
        };
        let mut response = send(request).await?;
        // A keyed request stops at a redirect to another origin (an image route pointing at
        // a CDN); that hop is followed without the key.
        if response.status().is_redirection()
            && let Some(next) = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
                .filter(|next| next.origin() != self.base.origin())
        {
            response = send(self.outside(next, bad_link)?).await?;
        }
        if response.status().is_redirection() {
            return Err(self
                .service
                .bad_response(bad_link, format!("{what}: a redirect Easel does not follow")));
        }
        read_image(self.service.name, response, &what, cap, timeout).await
    }

    /// The request for an image off the backend's own origin: to a host in `image_hosts`, or
    /// else only to a public address.
    fn outside(&self, url: Url, bad_link: &str) -> Result<RequestBuilder, BackendError> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}")).unwrap_or_default();
        if self.image_hosts.iter().any(|h| *h == host || *h == with_port) {
            return Ok(self.listed.get(url));
        }
        match check_link(&url) {
            Ok(()) => Ok(self.open.get(url)),
            Err(why) => Err(self.service.bad_response(
                format_args!(
                    "{bad_link} (it linked to `{url}`, which is neither its own address nor a public \
                     one: {why}; if that host is yours, add it to the backend's `image_hosts`)"
                ),
                format!("refused image link {url}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: Service = Service {
        name: "the test service",
        kind: "test",
        credentials: "",
        not_found: None,
        local: false,
        too_large: "",
    };

    fn client(base: &str, key: &str) -> anyhow::Result<JsonClient> {
        let base = Url::parse(base).unwrap();
        JsonClient::new(&SERVICE, "t", base, Auth::Bearer(&Secret::new(key)), Duration::from_secs(1))
    }

    #[test]
    fn segments_join_onto_the_base_with_one_slash_and_are_encoded() {
        for base in ["https://h/v1", "https://h/v1/", "https://h/v1//"] {
            let c = client(base, "").unwrap();
            assert_eq!(c.url(&["images", "generations"]).as_str(), "https://h/v1/images/generations");
        }
        assert_eq!(client("https://h", "").unwrap().url(&["a"]).as_str(), "https://h/a");
        assert_eq!(
            client("https://h/openai/v1?api-version=2", "").unwrap().url(&["images", "edits"]).as_str(),
            "https://h/openai/v1/images/edits?api-version=2"
        );
        assert_eq!(
            client("http://h/mj", "").unwrap().url(&["task", "a/b?c", "fetch"]).as_str(),
            "http://h/mj/task/a%2Fb%3Fc/fetch"
        );
    }

    #[test]
    fn keys_that_cannot_be_headers_are_refused() {
        assert!(client("http://h", "a\nb").is_err());
        assert!(client("http://h", "sk-fine").unwrap().key_header().is_some());
        assert!(client("http://h", "").unwrap().key_header().is_none());
    }
}
