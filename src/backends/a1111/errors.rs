//! What only an A1111 / Forge server says when something fails. The error body (`{"error",
//! "detail", "body", "errors"}` from A1111's handler, FastAPI's plain `{"detail"}` from Forge
//! and for 422s) names most of it: a server started without `--api`, a checkpoint, sampler or
//! upscaler name the server does not have — the admin's to fix, so those messages name the
//! backend and the setting, never the password. The common ladder in [`http_util`] classifies
//! the rest by status.

use super::client::{Endpoint, Names};
use super::wire::ErrorBody;
use crate::backends::BackendError;
use crate::backends::http_util::{Failure, REASON_CHARS, Reply, Service, truncate};
use crate::base::FailureCode;

pub(super) static SERVICE: Service = Service {
    name: "the image server",
    kind: "a1111",
    credentials: "rejected Easel's credentials; an admin needs to check `api_key` (the \"user:password\" \
                  given to the server's --api-auth) for backend `{backend}`.",
    not_found: None,
    local: true,
    too_large: "an answer that was too large",
};

/// A1111's postprocessing says this when `upscaler_1` names no installed upscaler.
pub(super) const UNKNOWN_UPSCALER: &str = "could not find upscaler named";

/// Classifies a non-success HTTP answer to a call of `endpoint`.
pub(super) fn from_status(names: &Names, endpoint: Endpoint, reply: &Reply) -> BackendError {
    let backend = &names.backend;
    let f = Failure::new(&SERVICE, backend, reply);
    let body = &reply.body[..];
    let parsed = ErrorBody::parse(body);
    let message = parsed.as_ref().and_then(ErrorBody::message).map(|m| truncate(&m, REASON_CHARS));
    let haystack = match &parsed {
        Some(p) => p.haystack(),
        None => String::from_utf8_lossy(&body[..body.len().min(4096)]).to_lowercase(),
    };
    match f.code {
        401 | 403 => f.classify(None),
        _ if haystack.contains("sampler not found") => f.rejected(format!(
            "The image server has no sampler `{}`; an admin needs to fix `sampler` for backend `{backend}` \
             (the server lists its samplers at /sdapi/v1/samplers).",
            names.sampler.as_deref().unwrap_or("(default)")
        )),
        // Forge raises "model 'x' not found" (500); some A1111 versions answer 404 "Model not found".
        _ if endpoint != Endpoint::Interrogate
            && (haystack.contains("model not found") || is_unknown_checkpoint(&haystack)) =>
        {
            f.rejected(format!(
                "The image server has no checkpoint `{}`; an admin needs to fix `model` for backend `{backend}` \
                 (the server lists its checkpoints at /sdapi/v1/sd-models).",
                names.model.as_deref().unwrap_or("(default)")
            ))
        }
        404 if endpoint == Endpoint::Interrogate && haystack.contains("model not found") => f.rejected(format!(
            "The image server has no interrogate model `{}`; an admin needs to set `interrogate_model` for \
             backend `{backend}` to \"clip\" or \"deepdanbooru\".",
            names.interrogate_model
        )),
        // FastAPI's answer for a route that does not exist: the API is not switched on.
        404 if message.as_deref().is_none_or(|m| m == "Not Found") => f.rejected(format!(
            "Backend `{backend}` has no API at its address: the server was probably not started with --api, \
             or `base_url` is not its root (e.g. http://127.0.0.1:7860)."
        )),
        500 if haystack.contains(UNKNOWN_UPSCALER) => f.rejected(format!(
            "The image server has no upscaler `{}`; an admin needs to fix `upscaler` for backend `{backend}`.",
            names.upscaler
        )),
        500 if haystack.contains("invalid encoded image") => {
            f.fatal(FailureCode::BadImage, "The image server could not read the image Easel sent it.")
        }
        500..=599 if haystack.contains("out of memory") => BackendError::retryable(
            FailureCode::BackendError,
            format!(
                "The image server ran out of GPU memory (out of memory){}.",
                message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
            f.detail.clone(),
        ),
        // What the server said failed, when it said it.
        500 | 501 | 505..=599 if message.is_some() => {
            let said = message.unwrap_or_default();
            let class = parsed.as_ref().and_then(|p| p.error.as_deref()).filter(|e| !e.is_empty());
            let what = class.map_or_else(|| said.clone(), |class| format!("{class}: {said}"));
            BackendError::retryable(
                FailureCode::BackendError,
                format!("The image server failed: {what}."),
                f.detail.clone(),
            )
        }
        _ => f.classify(message),
    }
}

/// Forge's `RuntimeError(f"model {name!r} not found")` for an unknown `sd_model_checkpoint`.
fn is_unknown_checkpoint(haystack: &str) -> bool {
    haystack.find("model '").is_some_and(|at| haystack[at..].contains("' not found"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::http_util::redact;

    fn names() -> Names {
        Names {
            backend: "gpu".into(),
            model: Some("sdxl.safetensors".into()),
            sampler: Some("Euler Z".into()),
            upscaler: "Nope 4x".into(),
            interrogate_model: "wd14".into(),
        }
    }

    fn classify(endpoint: Endpoint, status: u16, body: &str) -> BackendError {
        from_status(&names(), endpoint, &Reply::fake(status, body.as_bytes()))
    }

    #[test]
    fn names_the_setting_the_server_did_not_know() {
        let forge =
            r#"{"error":"RuntimeError","detail":"","body":"","errors":"model 'sdxl.safetensors' not found"}"#;
        let e = classify(Endpoint::Txt2img, 500, forge);
        assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
        assert!(e.user_message.contains("checkpoint `sdxl.safetensors`"), "{}", e.user_message);

        let e = classify(Endpoint::Txt2img, 404, r#"{"error":"HTTPException","detail":"Sampler not found"}"#);
        assert!(e.user_message.contains("sampler `Euler Z`"), "{}", e.user_message);
        let e = classify(Endpoint::Txt2img, 400, r#"{"detail":"Sampler not found"}"#);
        assert!(e.user_message.contains("sampler `Euler Z`"), "{}", e.user_message);

        let e = classify(
            Endpoint::Upscale,
            500,
            r#"{"error":"AssertionError","errors":"could not find upscaler named Nope 4x"}"#,
        );
        assert!(e.user_message.contains("upscaler `Nope 4x`"), "{}", e.user_message);

        let e =
            classify(Endpoint::Interrogate, 404, r#"{"error":"HTTPException","detail":"Model not found"}"#);
        assert!(e.user_message.contains("interrogate model `wd14`"), "{}", e.user_message);

        let e = classify(Endpoint::Txt2img, 404, r#"{"detail":"Not Found"}"#);
        assert!(e.user_message.contains("--api"), "{}", e.user_message);
    }

    #[test]
    fn server_failures_are_retryable_and_say_out_of_memory() {
        let e = classify(
            Endpoint::Txt2img,
            500,
            r#"{"error":"OutOfMemoryError","detail":"","body":"","errors":"CUDA out of memory. Tried to allocate 2.00 GiB"}"#,
        );
        assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
        assert!(e.user_message.contains("out of memory"), "{}", e.user_message);
        let e = classify(Endpoint::Txt2img, 500, "Internal Server Error");
        assert_eq!((e.code, e.retryable), (FailureCode::BackendError, true));
        let e = classify(Endpoint::Txt2img, 503, "");
        assert_eq!((e.code, e.retryable), (FailureCode::BackendUnavailable, true));
        let e =
            classify(Endpoint::Upscale, 500, r#"{"error":"HTTPException","detail":"Invalid encoded image"}"#);
        assert_eq!((e.code, e.retryable), (FailureCode::BadImage, false));
    }

    #[test]
    fn redaction_scrubs_every_form() {
        let e = BackendError::fatal(FailureCode::BackendRejected, "pw hunter22", "sent me:hunter22");
        let e = redact(e, &["me:hunter22", "hunter22"]);
        assert!(!e.user_message.contains("hunter22") && !e.detail.contains("hunter22"));
    }
}
