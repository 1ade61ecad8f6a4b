//! What only a ComfyUI server says when something fails, beside the HTTP status (the common
//! ladder in [`http_util`] classifies the rest): a workflow refused by `POST /prompt` (its
//! `node_errors`, named by node and class, with the checkpoint and missing node types turned
//! into what the admin has to change), and a prompt that failed while it ran
//! (`execution_error`, with the exception's first words). The adapter scrubs a bearer
//! `api_key` (for a proxy in front of ComfyUI) from every message.

use crate::backends::BackendError;
use crate::backends::http_util::{Failure, REASON_CHARS, Reply, Service, excerpt, truncate};
use crate::base::FailureCode;

use super::wire::{ExecutionError, PromptRejection};

pub(super) static SERVICE: Service = Service {
    name: "the ComfyUI server",
    kind: "comfyui",
    credentials: "(or the proxy in front of it) refused Easel; an admin needs to check `api_key` of backend \
                  `{backend}`.",
    not_found: None,
    local: true,
    too_large: "an answer that was too large",
};

/// Classifies a non-success HTTP answer; `backend` and `model` name what the admin may fix.
pub(super) fn from_status(backend: &str, model: Option<&str>, reply: &Reply) -> BackendError {
    let f = Failure::new(&SERVICE, backend, reply);
    match f.code {
        400 => match PromptRejection::parse(&reply.body) {
            Some(rejection) => rejected_workflow(backend, model, &rejection, f.detail.clone()),
            None => f.rejected(format!(
                "The ComfyUI server refused the request: {}",
                excerpt(&reply.body, REASON_CHARS)
            )),
        },
        404 => f.rejected(format!(
            "Backend `{backend}` found no ComfyUI API at its address; `base_url` must be the server's root, \
             e.g. http://127.0.0.1:8188."
        )),
        429 => {
            BackendError::retryable(FailureCode::RateLimited, "The ComfyUI server is busy.", f.detail.clone())
                .with_retry_after(f.retry_after())
        }
        _ => f.classify(None),
    }
}

/// `POST /prompt`'s 400: the workflow does not validate on this server.
fn rejected_workflow(
    backend: &str,
    model: Option<&str>,
    rejection: &PromptRejection,
    detail: String,
) -> BackendError {
    let nodes = rejection.node_errors();
    let fix = |user: String| BackendError::fatal(FailureCode::BackendRejected, user, detail.clone());
    for node in &nodes {
        let class = node.class_type.as_deref().unwrap_or("?");
        for item in &node.errors {
            let details = item.details.as_deref().unwrap_or("");
            if class == "CheckpointLoaderSimple" || details.starts_with("ckpt_name") {
                let name = model.unwrap_or("(the template's)");
                return fix(format!(
                    "The ComfyUI server has no checkpoint `{name}` (node {} {class}); an admin needs to set \
                     `model` of backend `{backend}` to a file in its models/checkpoints (GET /models/checkpoints \
                     lists them).",
                    node.node_id
                ));
            }
        }
    }
    let error = rejection.error();
    // "Cannot execute because node X does not exist.": a custom node that is not installed.
    if let Some(message) = error.as_ref().and_then(|e| e.message.clone())
        && error.as_ref().and_then(|e| e.kind.as_deref()) == Some("invalid_prompt")
    {
        let extra = error.as_ref().and_then(|e| e.details.clone()).unwrap_or_default();
        return fix(format!(
            "The ComfyUI server cannot run backend `{backend}`'s workflow: {} — install the missing custom \
             node, or change the template.",
            truncate(format!("{message} {extra}").trim(), REASON_CHARS)
        ));
    }
    let parts: Vec<String> = nodes
        .iter()
        .map(|n| {
            let texts: Vec<String> = n.errors.iter().map(|e| e.text()).filter(|t| !t.is_empty()).collect();
            format!("node {} ({}): {}", n.node_id, n.class_type.as_deref().unwrap_or("?"), texts.join("; "))
        })
        .collect();
    let reason = if parts.is_empty() {
        error.map(|e| e.text()).filter(|t| !t.is_empty()).unwrap_or_else(|| "no reason given".into())
    } else {
        parts.join("; ")
    };
    fix(format!(
        "The ComfyUI server refused backend `{backend}`'s workflow: {}",
        truncate(&reason, REASON_CHARS)
    ))
}

/// A prompt that failed while it ran. Out of memory may pass on a retry; other exceptions
/// come back the same way, so they are final.
pub(super) fn execution_failed(prompt_id: &str, e: &ExecutionError) -> BackendError {
    let node = e.node_id.as_ref().map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
    let at = match (node, e.node_type.as_deref()) {
        (Some(id), Some(class)) => format!(" in node {id} ({class})"),
        (Some(id), None) => format!(" in node {id}"),
        (None, Some(class)) => format!(" in {class}"),
        (None, None) => String::new(),
    };
    let message =
        e.exception_message.as_deref().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ");
    let class = e.exception_type.as_deref().unwrap_or("error");
    let said = if message.is_empty() { class.to_string() } else { format!("{class}: {message}") };
    let detail = format!("prompt {prompt_id} failed{at}: {said}");
    let user = format!("The ComfyUI server failed{at}: {}", truncate(&said, REASON_CHARS));
    let lower = said.to_lowercase();
    if lower.contains("out of memory") || lower.contains("outofmemory") {
        BackendError::retryable(FailureCode::BackendError, user, detail)
    } else {
        BackendError::fatal(FailureCode::BackendError, user, detail)
    }
}

/// Someone stopped the prompt at the server (its Cancel button, or Easel's own cancel).
pub(super) fn interrupted(prompt_id: &str) -> BackendError {
    BackendError::fatal(
        FailureCode::BackendError,
        "The job was stopped at the ComfyUI server.",
        format!("prompt {prompt_id}: execution_interrupted"),
    )
}

/// The prompt is neither queued, running nor in the history: the server restarted (its queue
/// and history live in memory) or someone deleted it. A retry submits it again.
pub(super) fn lost(prompt_id: &str) -> BackendError {
    BackendError::retryable(
        FailureCode::BackendUnavailable,
        "The ComfyUI server lost the job (it may have restarted); it will be run again.",
        format!("prompt {prompt_id} is in neither /queue nor /history"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classify(status: u16, body: &str) -> BackendError {
        from_status("gpu", Some("sdxl.safetensors"), &Reply::fake(status, body.as_bytes()))
    }

    #[test]
    fn refused_workflows_name_the_node_and_the_fix() {
        let missing_node = json!({"error": {"type": "invalid_prompt", "message":
            "Cannot execute because node FancySampler does not exist.", "details": "Node ID '#5'", "extra_info": {}},
            "node_errors": {}});
        let e = classify(400, &missing_node.to_string());
        assert_eq!((e.code, e.retryable), (FailureCode::BackendRejected, false));
        assert!(
            e.user_message.contains("FancySampler does not exist") && e.user_message.contains("custom node")
        );

        let other = json!({"error": {"type": "prompt_outputs_failed_validation", "message": "failed"},
            "node_errors": {"5": {"class_type": "KSampler", "errors": [{"type": "value_smaller_than_min",
            "message": "Value 0 smaller than min of 1", "details": "steps"}]}}});
        let e = classify(400, &other.to_string());
        assert!(
            e.user_message.contains("node 5 (KSampler): Value 0 smaller than min of 1: steps"),
            "{}",
            e.user_message
        );
    }

    #[test]
    fn statuses_and_exceptions_are_classified() {
        assert_eq!((classify(500, "").code, classify(500, "").retryable), (FailureCode::BackendError, true));
        assert_eq!(classify(503, "").code, FailureCode::BackendUnavailable);
        assert!(classify(404, "404: Not Found").user_message.contains("base_url"));
        let oom = ExecutionError {
            node_id: Some(json!("5")),
            node_type: Some("KSampler".into()),
            exception_message: Some("CUDA out of memory.\nTried to allocate".into()),
            exception_type: Some("torch.OutOfMemoryError".into()),
        };
        let e = execution_failed("p", &oom);
        assert!(e.retryable && e.user_message.contains("in node 5 (KSampler): torch.OutOfMemoryError: CUDA"));
        let other = ExecutionError { exception_message: Some("bad".into()), ..ExecutionError::default() };
        assert!(!execution_failed("p", &other).retryable);
    }
}
