//! The sandbox's browser face: a page at `/` that looks and behaves like a Discord channel, so a
//! newcomer with no Discord account can use Easel from a web browser.
//!
//! It is plain HTML, CSS and JavaScript modules embedded in the binary, so running it needs no
//! JavaScript build and no files next to the executable. Everything the page does goes through
//! the JSON control API ([`super::control`]): it reads `/control/state`, sleeps on the
//! `/control/wait` long poll, and acts with `/control/users`, `/upload`, `/slash` and `/click`
//! as the member chosen in its switcher. The assets live under `/ui/`, next to nothing else, so
//! they cannot shadow a Discord route.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::state::Inner;

/// `(name, content type, body)` of every file under `/ui/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("style.css")),
    ("app.js", JS, include_str!("app.js")),
    ("api.js", JS, include_str!("api.js")),
    ("composer.js", JS, include_str!("composer.js")),
    ("markdown.js", JS, include_str!("markdown.js")),
    ("messages.js", JS, include_str!("messages.js")),
    ("easel.svg", "image/svg+xml", include_str!("easel.svg")),
];

/// Module scripts are refused unless served with a JavaScript type.
const JS: &str = "text/javascript; charset=utf-8";

/// Only our own scripts and styles run; images may come from anywhere, since an embed a bot
/// sends can point at any host.
const CSP: &str = "default-src 'self'; img-src * data: blob:; style-src 'self'; script-src 'self'; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) fn router() -> Router<Arc<Inner>> {
    Router::new().route("/", get(index)).route("/ui/{file}", get(asset))
}

async fn index() -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, CSP),
            // The page is rebuilt with the binary; a stale copy would talk to a changed API.
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("index.html"),
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => {
            ([(CONTENT_TYPE, *content_type), (CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file in the sandbox page").into_response(),
    }
}
