//! Failure codes: why a task failed, as stable words stored with the task and shown to
//! members.

use std::fmt;
use std::str::FromStr;

/// Why a task failed, as a stable code stored with the task and shown to members under the
/// message (`-# backend-timeout · task 12`). README's "What survives a crash" lists them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The service accepted the connection but did not answer within `timeout_secs`.
    BackendTimeout,
    /// The service could not be reached, or the connection broke off.
    BackendUnavailable,
    /// The service refused this request (a 4xx other than credentials and content).
    BackendRejected,
    /// The service failed on its side (5xx, or its own job failure).
    BackendError,
    /// Well-formed data of the wrong shape: the service speaks another dialect.
    BackendBadResponse,
    /// The answer was cut off or is not valid JSON.
    BackendMalformed,
    /// A web page, plain text or some other content where JSON or an image was expected.
    WrongContentType,
    /// An image whose data stops early or is damaged.
    ImageTruncated,
    /// An image over Easel's byte cap or its 8192×8192 pixel limit.
    ImageTooLarge,
    /// The service rejected Easel's API key: a message for the admin.
    CredentialsRejected,
    /// The provider's content policy refused the prompt or image.
    ContentBlocked,
    /// The service kept rate limiting (or the account is out of quota).
    RateLimited,
    /// The chosen backend cannot do this operation.
    Unsupported,
    /// An input image (an upload or a parent's image) could not be used.
    BadImage,
    /// Easel restarted mid-task and the service cannot be asked for the job again.
    Interrupted,
    /// The task's overall deadline (`limits.task_deadline_secs`) passed.
    DeadlineExceeded,
    /// A bug or resource problem inside Easel; the log has the details.
    Internal,
}

impl FailureCode {
    pub const ALL: [FailureCode; 17] = [
        FailureCode::BackendTimeout,
        FailureCode::BackendUnavailable,
        FailureCode::BackendRejected,
        FailureCode::BackendError,
        FailureCode::BackendBadResponse,
        FailureCode::BackendMalformed,
        FailureCode::WrongContentType,
        FailureCode::ImageTruncated,
        FailureCode::ImageTooLarge,
        FailureCode::CredentialsRejected,
        FailureCode::ContentBlocked,
        FailureCode::RateLimited,
        FailureCode::Unsupported,
        FailureCode::BadImage,
        FailureCode::Interrupted,
        FailureCode::DeadlineExceeded,
        FailureCode::Internal,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FailureCode::BackendTimeout => "backend-timeout",
            FailureCode::BackendUnavailable => "backend-unavailable",
            FailureCode::BackendRejected => "backend-rejected",
            FailureCode::BackendError => "backend-error",
            FailureCode::BackendBadResponse => "backend-bad-response",
            FailureCode::BackendMalformed => "backend-malformed",
            FailureCode::WrongContentType => "wrong-content-type",
            FailureCode::ImageTruncated => "image-truncated",
            FailureCode::ImageTooLarge => "image-too-large",
            FailureCode::CredentialsRejected => "credentials-rejected",
            FailureCode::ContentBlocked => "content-blocked",
            FailureCode::RateLimited => "rate-limited",
            FailureCode::Unsupported => "unsupported",
            FailureCode::BadImage => "bad-image",
            FailureCode::Interrupted => "interrupted",
            FailureCode::DeadlineExceeded => "deadline-exceeded",
            FailureCode::Internal => "internal",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FailureCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown failure code `{s}`"))
    }
}
