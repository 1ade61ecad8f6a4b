//! Who may talk to the sandbox. It listens on 127.0.0.1 only, but any web page the operator
//! has open can still reach it: by DNS rebinding (a name of the attacker's that resolves to
//! 127.0.0.1, so the browser sends `Host: evil.example` and lets the page read the answers)
//! and by cross-site requests (a form on another site that POSTs to `/control/upload`, or
//! `/control/gateway/drop`, needs no answer to do harm). Two checks run before any route:
//!
//! - `Host` must name the bound address: `127.0.0.1:PORT`, or `localhost:PORT`; when told to
//!   listen beyond loopback (`--listen`), also any IP address with that port — never a name,
//!   which is what rebinding needs.
//! - A request that changes state (every method but GET, HEAD and OPTIONS, and the gateway's
//!   WebSocket upgrade) must not come from another site: `Origin`, when present, must be the
//!   sandbox's own origin, and `Sec-Fetch-Site`, when present, must be `same-origin` (or
//!   `none`, an address typed by the user). Browsers send `Origin` on every cross-origin POST
//!   and WebSocket handshake, so a request with neither header is not a web page's: serenity,
//!   the tests and the load driver send neither and pass. The sandbox's own page passes
//!   because its requests are same-origin.
//!
//! A refusal is `403` with a JSON `error` that says what to change.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN, UPGRADE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::Inner;

pub(crate) async fn check(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let hosts = allowed_hosts(&inner.config.base_url);
    match refusal(&hosts, inner.config.listens_wide, req.method(), req.headers()) {
        Some(why) => (StatusCode::FORBIDDEN, axum::Json(json!({ "error": why }))).into_response(),
        None => next.run(req).await,
    }
}

/// `127.0.0.1:PORT` (what the sandbox is bound to) and `localhost:PORT`.
fn allowed_hosts(base_url: &str) -> [String; 2] {
    let bound = base_url.trim_start_matches("http://").trim_end_matches('/').to_ascii_lowercase();
    let port = bound.rsplit_once(':').map_or("", |(_, p)| p);
    let localhost = format!("localhost:{port}");
    [bound, localhost]
}

/// Why this request is refused, or `None` to let it through.
fn refusal(hosts: &[String; 2], wide: bool, method: &Method, headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let host = header(HOST.as_str()).unwrap_or_default().to_ascii_lowercase();
    let admitted = hosts.contains(&host) || (wide && is_ip_with_port(&host, hosts));
    if !admitted {
        return Some(format!(
            "this sandbox answers only to Host {} or {}, not {host:?}: open it at http://{}/",
            hosts[0], hosts[1], hosts[0]
        ));
    }
    let upgrade = header(UPGRADE.as_str()).is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) && !upgrade;
    if safe {
        return None;
    }
    if let Some(origin) = header(ORIGIN.as_str()) {
        let origin = origin.to_ascii_lowercase();
        let same = |h: &str| origin == format!("http://{h}");
        if !same(&host) && !hosts.iter().any(|h| same(h)) {
            return Some(format!(
                "cross-site request refused: {method} from origin {origin:?}; the sandbox takes \
                 changes only from its own page at http://{}/",
                hosts[0]
            ));
        }
    }
    match header("sec-fetch-site") {
        Some(site) if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") => {
            Some(format!(
                "cross-site request refused: {method} with Sec-Fetch-Site {site:?}; the sandbox takes \
                 changes only from its own page at http://{}/",
                hosts[0]
            ))
        }
        _ => None,
    }
}

/// `host` is an IP address (not a name) with the sandbox's port.
fn is_ip_with_port(host: &str, hosts: &[String; 2]) -> bool {
    let port = hosts[1].rsplit_once(':').map_or("", |(_, p)| p);
    host.parse::<std::net::SocketAddr>().is_ok_and(|a| a.port().to_string() == port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_the_bound_address_and_localhost_are_hosts() {
        let hosts = allowed_hosts("http://127.0.0.1:5555");
        let get = |host| refusal(&hosts, false, &Method::GET, &headers(&[("host", host)]));
        assert_eq!(get("127.0.0.1:5555"), None);
        assert_eq!(get("LOCALHOST:5555"), None);
        for foreign in ["evil.example:5555", "127.0.0.1:80", "localhost", "", "127.0.0.1:55555"] {
            let why = get(foreign).expect(foreign);
            assert!(why.contains("Host 127.0.0.1:5555"), "{why}");
        }
    }

    #[test]
    fn listening_wider_admits_any_ip_address_with_the_port_but_never_a_name() {
        let hosts = allowed_hosts("http://127.0.0.1:5555");
        let get = |host| refusal(&hosts, true, &Method::GET, &headers(&[("host", host)]));
        assert_eq!(get("192.0.2.7:5555"), None);
        assert_eq!(get("[::1]:5555"), None);
        assert!(get("evil.example:5555").is_some(), "a name is what DNS rebinding needs");
        assert!(get("192.0.2.7:80").is_some());
        let from = |origin| {
            let h = headers(&[("host", "192.0.2.7:5555"), ("origin", origin)]);
            refusal(&hosts, true, &Method::POST, &h)
        };
        assert_eq!(from("http://192.0.2.7:5555"), None, "the page's own origin");
        assert!(from("http://evil.example").is_some());
    }

    #[test]
    fn state_changes_from_another_site_are_refused() {
        let hosts = allowed_hosts("http://127.0.0.1:5555");
        let host = ("host", "127.0.0.1:5555");
        let post = |extra: &[(&'static str, &str)]| {
            let mut all = vec![host];
            all.extend_from_slice(extra);
            refusal(&hosts, false, &Method::POST, &headers(&all))
        };
        assert_eq!(post(&[]), None, "no browser headers: not a web page");
        assert_eq!(post(&[("origin", "http://127.0.0.1:5555"), ("sec-fetch-site", "same-origin")]), None);
        assert_eq!(post(&[("origin", "http://localhost:5555")]), None);
        assert!(post(&[("origin", "http://evil.example")]).is_some());
        assert!(post(&[("origin", "null")]).is_some());
        assert!(post(&[("sec-fetch-site", "cross-site")]).is_some());
        assert!(post(&[("sec-fetch-site", "same-site")]).is_some());
        // Reading is allowed from anywhere the Host check lets through…
        let get = headers(&[host, ("origin", "http://evil.example")]);
        assert_eq!(refusal(&hosts, false, &Method::GET, &get), None);
        // …but opening the gateway is a change.
        let ws = headers(&[host, ("origin", "http://evil.example"), ("upgrade", "websocket")]);
        assert!(refusal(&hosts, false, &Method::GET, &ws).is_some());
    }
}
