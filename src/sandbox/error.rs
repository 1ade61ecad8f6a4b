//! Discord-shaped error answers. A handler that refuses a request returns an [`ApiError`]; the
//! REST middleware turns it into the JSON body Discord would send and records it as a
//! [`Violation`](super::model::Violation), so no refusal goes unnoticed by a test.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::ViolationKind;

#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub errors: Option<Value>,
    pub kind: ViolationKind,
    /// What exactly was wrong, for the violation record (the body stays Discord's wording).
    pub detail: String,
    pub interaction_id: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: u32,
        message: &str,
        kind: ViolationKind,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.to_owned(),
            errors: None,
            kind,
            detail: detail.into(),
            interaction_id: None,
        }
    }

    pub fn for_interaction(mut self, id: u64) -> Self {
        self.interaction_id = Some(id);
        self
    }

    /// 50035 "Invalid Form Body" with Discord's nested `errors` object: `path` is the field path
    /// (`["components", "0", "components"]`), `code` the error code such as `BASE_TYPE_MAX_LENGTH`.
    pub fn form(kind: ViolationKind, path: &[String], code: &str, message: &str) -> Self {
        let mut errors = json!({"_errors": [{"code": code, "message": message}]});
        for key in path.iter().rev() {
            errors = json!({ key.as_str(): errors });
        }
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            50035,
            "Invalid Form Body",
            kind,
            format!("{}: {message}", path.join(".")),
        );
        e.errors = Some(errors);
        e
    }

    pub fn bad_form(path: &[&str], message: &str) -> Self {
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        ApiError::form(ViolationKind::InvalidFormBody, &path, "BASE_TYPE_BAD_REQUEST", message)
    }

    pub fn invalid_json(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
            ViolationKind::InvalidJson,
            detail,
        )
    }

    pub fn unknown_message(id: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            10008,
            "Unknown Message",
            ViolationKind::UnknownMessage,
            format!("no message {id}"),
        )
    }

    pub fn unknown_channel(id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            10003,
            "Unknown Channel",
            ViolationKind::UnknownChannel,
            format!("no channel {id}"),
        )
    }

    pub fn unknown_webhook(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 10015, "Unknown Webhook", ViolationKind::UnknownWebhook, detail)
    }

    pub fn unknown_interaction(kind: ViolationKind, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 10062, "Unknown interaction", kind, detail)
    }

    pub fn invalid_token(kind: ViolationKind, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token", kind, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized", ViolationKind::Unauthorized, detail)
    }

    pub fn body(&self) -> Value {
        let mut body = json!({"message": self.message, "code": self.code});
        if let (Some(errors), Some(o)) = (&self.errors, body.as_object_mut()) {
            o.insert("errors".into(), errors.clone());
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        // The middleware picks this up to record the violation with the route it knows.
        response.extensions_mut().insert(self);
        response
    }
}

pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;
