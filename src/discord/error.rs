//! Errors on the Discord side, split by who may see them: a [`BotError::User`] is a message
//! for the member who caused it (shown ephemerally, saying what to change); anything else is
//! logged in full and the member sees a short apology with a reference to find it in the log.

use tracing::error;

use crate::admin::Refusal;
use crate::app::Refused;
use crate::tasks::engine::{CancelError, SubmitError};

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// Shown to the member as is.
    #[error("{0}")]
    User(String),
    /// Logged; the member sees only the reference.
    #[error("{source:#}")]
    Internal { source: anyhow::Error },
}

impl BotError {
    pub fn user(msg: impl Into<String>) -> Self {
        BotError::User(msg.into())
    }

    /// What the member sees. Internal errors are logged here, once, with a reference the
    /// member can quote to an admin.
    pub fn for_member(&self) -> String {
        match self {
            BotError::User(msg) => msg.clone(),
            BotError::Internal { source } => {
                let reference = format!("{:06x}", fastrand::u32(..0x100_0000));
                error!(reference, error = %format!("{source:#}"), "internal error while handling a Discord request");
                format!(
                    "Something went wrong inside Easel. An admin can look it up in the log with reference `{reference}`."
                )
            }
        }
    }
}

impl From<Refused> for BotError {
    fn from(e: Refused) -> Self {
        match e.into_internal() {
            Ok(source) => BotError::Internal { source },
            Err(refused) => BotError::User(refused.to_string()),
        }
    }
}

impl From<Refusal> for BotError {
    fn from(e: Refusal) -> Self {
        match e {
            Refusal::Internal(source) => BotError::Internal { source },
            other => BotError::User(other.to_string()),
        }
    }
}

impl From<SubmitError> for BotError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Internal(source) => BotError::Internal { source },
            other => BotError::User(other.to_string()),
        }
    }
}

impl From<serenity::Error> for BotError {
    fn from(e: serenity::Error) -> Self {
        BotError::Internal { source: e.into() }
    }
}

impl From<anyhow::Error> for BotError {
    fn from(source: anyhow::Error) -> Self {
        BotError::Internal { source }
    }
}

impl From<super::rest::RestError> for BotError {
    fn from(e: super::rest::RestError) -> Self {
        BotError::Internal { source: e.into() }
    }
}

impl From<CancelError> for BotError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::Internal(source) => BotError::Internal { source },
            other => BotError::User(other.to_string()),
        }
    }
}
