//! What only ImagineAPI says when something fails: Directus's own error message beside the
//! HTTP status (the common ladder in [`http_util`] classifies the status), and an item that
//! ended `failed` (moderation or a refusal, by its reason). The API key is scrubbed from every
//! message by the adapter.

use crate::backends::BackendError;
use crate::backends::http_util::{Failure, Reply, Service, ended_with, one_line};
use crate::base::FailureCode;

use super::wire::{Image, error_message};

pub(super) static SERVICE: Service = Service {
    name: "ImagineAPI",
    kind: "imagineapi",
    credentials: "rejected Easel's credentials; an admin needs to check the API token of backend `{backend}`.",
    not_found: Some(
        "has no such endpoint or image; an admin needs to check the base_url of backend `{backend}` (the \
         server's root, without `/items`).",
    ),
    local: false,
    too_large: "an answer far larger than an image item",
};

/// Words in a failed item's `error` that mean Midjourney's moderation stopped it.
const BLOCK_PHRASES: &[&str] =
    &["banned", "blocked", "moderat", "image filter", "community standards", "sensitive", "nsfw"];

/// Classifies a non-success HTTP answer.
pub(super) fn from_status(backend: &str, reply: &Reply) -> BackendError {
    let said = error_message(&reply.body).map(|s| one_line(&s));
    Failure::new(&SERVICE, backend, reply).classify(said)
}

/// An item that ended `failed`: moderation when its reason says so, a refusal otherwise.
/// Not retryable: a retry would re-attach to the same failed item.
pub(super) fn image_failed(id: &str, image: &Image) -> BackendError {
    let reason = image.error_text();
    let detail = format!("image {id} failed: {}", reason.as_deref().unwrap_or("no error given"));
    ended_with(
        reason.as_deref(),
        BLOCK_PHRASES,
        "Midjourney",
        "ImagineAPI could not finish this image",
        detail,
    )
}

/// ImagineAPI no longer knows an image it accepted.
pub(super) fn lost(id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendRejected,
        "ImagineAPI lost track of this image. Please try again.",
        format!("GET items/images/{id} keeps answering 404 or no item"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let c = |code: u16| {
            let e = from_status("b", &Reply::fake(code, b""));
            (e.code, e.retryable)
        };
        assert_eq!(c(401), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(403), (FailureCode::CredentialsRejected, false));
        assert_eq!(c(429), (FailureCode::RateLimited, true));
        assert_eq!(c(503), (FailureCode::BackendError, true));
        assert_eq!(c(400), (FailureCode::BackendRejected, false));
        let e =
            from_status("b", &Reply::fake(400, br#"{"errors":[{"message":"Invalid parameter --zoom"}]}"#));
        assert_eq!(e.user_message, "ImagineAPI rejected the request: Invalid parameter --zoom");
    }
}
