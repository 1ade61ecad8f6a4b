//! What only an OpenAI-compatible service says when something fails, beside the HTTP status
//! (the common ladder in [`http_util`] classifies that): an account out of quota, a request
//! that collided with another, a refusal under the content policy (by code or by the
//! provider's words), and the error body's message and parameter for any other refusal. The
//! adapter scrubs the API key from all of it, since some relays echo the key they were sent.

use crate::backends::BackendError;
use crate::backends::http_util::{Failure, REASON_CHARS, Reply, Service, truncate};
use crate::base::FailureCode;

use super::wire::ErrorBody;

pub(super) static SERVICE: Service = Service {
    name: "the image service",
    kind: "openai",
    credentials: "rejected Easel's credentials; an admin needs to check the API key for backend `{backend}`.",
    not_found: None,
    local: false,
    too_large: "the answer was too large",
};

const BLOCK_CODES: &[&str] = &["content_policy_violation", "moderation_blocked", "content_filter"];
/// Phrases providers use for a refusal when they set no code, or a code of their own.
const BLOCK_PHRASES: &[&str] = &["safety", "content policy", "content_policy", "content filter"];

/// Classifies a non-success HTTP answer.
pub(super) fn from_status(backend: &str, reply: &Reply) -> BackendError {
    let f = Failure::new(&SERVICE, backend, reply);
    let parsed = ErrorBody::parse(&reply.body);
    let message = parsed.as_ref().and_then(ErrorBody::message);
    let codes = parsed.as_ref().map(ErrorBody::codes).unwrap_or_default();
    match f.code {
        // Retrying cannot refill an exhausted account; the admin has to.
        429 if codes.iter().any(|c| c == "insufficient_quota") => f.fatal(
            FailureCode::RateLimited,
            format!(
                "The image service says the account behind backend `{backend}` is out of quota; an admin needs to \
                 check its billing."
            ),
        ),
        // OpenAI answers 409 to a request that collided with another; it is worth repeating.
        409 => BackendError::retryable(
            FailureCode::BackendError,
            "The image service was busy with a conflicting request.",
            f.detail.clone(),
        ),
        400..=499 if !matches!(f.code, 401 | 403 | 408 | 429) && is_blocked(&codes, message.as_deref()) => {
            let reason =
                message.map(|m| truncate(&m, REASON_CHARS)).unwrap_or_else(|| "no reason given".into());
            f.fatal(
                FailureCode::ContentBlocked,
                format!("The image service refused this request under its content policy: {reason}"),
            )
        }
        _ => {
            let param = parsed.as_ref().and_then(ErrorBody::param);
            let reason = message.map(|m| match param.filter(|p| !m.contains(p.as_str())) {
                Some(param) => format!("{} (parameter `{param}`)", truncate(&m, REASON_CHARS)),
                None => m,
            });
            f.classify(reason)
        }
    }
}

/// Phrases of a provider that takes one image per request and refused more.
const ONE_IMAGE_PHRASES: &[&str] =
    &["n=1", "n = 1", "only one image", "only 1 image", "one image per request", "single image per request"];

/// Whether a refusal says the provider makes only one image per request ("You must provide
/// n=1 for this model."), which a retry as single calls gets past. Read from the logged
/// answer, which carries the status and the provider's words.
pub(super) fn one_image_only(e: &BackendError) -> bool {
    let said = e.detail.to_ascii_lowercase();
    e.code == FailureCode::BackendRejected
        && said.contains("→ http 400")
        && ONE_IMAGE_PHRASES.iter().any(|p| said.contains(p))
}

/// Words of a provider that refused a JSON body and names the form encodings instead.
const FORM_PHRASES: &[&str] = &[
    "content-type",
    "content type",
    "x-www-form-urlencoded",
    "multipart/form-data",
    "form data",
    "form-data",
];

/// Whether a refusal says the provider takes no JSON body: a 415 Unsupported Media Type, or a
/// 400 whose words are about the content type or name a form encoding.
pub(super) fn wants_form(e: &BackendError) -> bool {
    let said = e.detail.to_ascii_lowercase();
    e.code == FailureCode::BackendRejected
        && (said.contains("→ http 415")
            || (said.contains("→ http 400") && FORM_PHRASES.iter().any(|p| said.contains(p))))
}

fn is_blocked(codes: &[String], message: Option<&str>) -> bool {
    codes.iter().any(|c| BLOCK_CODES.contains(&c.as_str()))
        || message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            BLOCK_PHRASES.iter().any(|p| m.contains(p))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_image_provider_is_recognised_by_its_words() {
        let refusal = |status, body: &[u8]| one_image_only(&from_status("b", &Reply::fake(status, body)));
        assert!(refusal(400, br#"{"error":{"message":"You must provide n=1 for this model.","param":"n"}}"#));
        assert!(refusal(400, br#"{"error":"This provider returns only one image per request"}"#));
        assert!(!refusal(400, br#"{"error":{"message":"n must be at most 2","param":"n"}}"#));
        assert!(!refusal(401, br#"{"error":{"message":"You must provide n=1 for this model."}}"#));
    }

    #[test]
    fn a_form_only_provider_is_recognised_by_status_or_words() {
        let refusal = |status, body: &[u8]| wants_form(&from_status("b", &Reply::fake(status, body)));
        assert!(refusal(415, b"Unsupported Media Type"));
        assert!(refusal(
            400,
            br#"{"error":{"message":"Content-Type must be application/x-www-form-urlencoded"}}"#
        ));
        assert!(refusal(400, br#"{"statusCode":400,"message":"Please send the parameters as form data"}"#));
        assert!(!refusal(400, br#"{"error":{"message":"Invalid value: '7x7'.","param":"size"}}"#));
        assert!(!refusal(401, br#"{"error":{"message":"content-type"}}"#));
    }

    #[test]
    fn refusals_are_recognised_by_code_or_by_message() {
        let refusal = |body: &[u8]| from_status("b", &Reply::fake(400, body));
        let e = refusal(
            br#"{"error":{"message":"Your request was rejected by the safety system.","type":"image_generation_user_error","param":null,"code":null}}"#,
        );
        assert_eq!(e.code, FailureCode::ContentBlocked);
        assert!(e.user_message.contains("rejected by the safety system"), "{}", e.user_message);
        let e = refusal(br#"{"error":{"message":"x","code":"moderation_blocked"}}"#);
        assert_eq!(e.code, FailureCode::ContentBlocked);
        let e = refusal(br#"{"error":{"message":"Invalid value: '7x7'.","param":"size"}}"#);
        assert_eq!(e.code, FailureCode::BackendRejected);
        assert!(e.user_message.ends_with("Invalid value: '7x7'. (parameter `size`)"), "{}", e.user_message);
    }
}
