//! [`Refused`]: why a request for new work (or a cancel) was not carried out, in words for the
//! member who asked — or, for Easel's own failures, the detail to log.

use crate::admin::Refusal;
use crate::prompt::PromptError;
use crate::tasks::engine::{CancelError, SubmitError};

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The gate said no (where, who, pause, words, quota).
    #[error(transparent)]
    Gate(#[from] Refusal),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// No room in the member's queue, no backend for it, a bad input image.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Cancel(#[from] CancelError),
    #[error(
        "This result is no longer in Easel's records (old results may be deleted), so its buttons \
         can't be used — run /imagine again."
    )]
    ParentGone,
    #[error("That task did not finish, so its buttons can't be used.")]
    ParentUnfinished,
    #[error("That task did not finish, so it can't be remixed.")]
    RemixUnfinished,
    #[error(
        "This button doesn't belong to the message it was pressed on, so it can't be used. Use the \
         buttons under the task's own message."
    )]
    NotOnItsMessage,
    #[error("Only <@{owner}> can use the buttons on these images.")]
    NotOwner { owner: String },
    /// 1–4 under a /describe result, for a prompt it does not have (1-based).
    #[error("That description has no prompt #{0}.")]
    NoSuchPrompt(u8),
    #[error("A remix takes one prompt: leave out `{{a, b}}` choices.")]
    RemixOfSeveral,
    #[error("The images behind this button are no longer stored, so it can't be used.")]
    InputsGone,
    /// Retention removed the images the button would work from; the text says why and what
    /// to do instead.
    #[error("{0}")]
    ImagesRemoved(String),
    #[error(
        "No backend here can blend images. Ask an admin to add one that can (for example OpenAI's \
         gpt-image models), or use /imagine."
    )]
    CannotBlend,
    #[error(
        "No backend here can describe images. Ask an admin to add one that can (for example OpenAI \
         with a describe model)."
    )]
    CannotDescribe,
    #[error("That result was deleted, so its buttons can't be used any more.")]
    Deleted,
    #[error("There is no task {0}.")]
    NoSuchTask(i64),
    #[error("You can show only your own results, and task {0} is not one of them.")]
    NotYoursToShow(i64),
    #[error("Task {0} has no finished result to show (it is still running, failed or was canceled).")]
    NotShowable(i64),
    #[error("Only the member who made this result, or someone with Manage Messages, can delete it.")]
    NotYoursToDelete,
    /// Custom Zoom's zoom field, as the member typed it.
    #[error("Zoom must be a number from 1.0 to 2.0 (you wrote `{0}`). Change the zoom and submit again.")]
    ZoomOutOfRange(String),
    #[error("That region isn't one Easel knows. Pick one from the list under Vary (Region).")]
    NoSuchRegion,
    #[error("❤️ works on single images: upscale one first (U1–U4), then heart it.")]
    NotASingleImage,
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Refused {
    /// A short, stable reason for the audit (`prompt-too-long`, `not-owner`).
    pub fn code(&self) -> String {
        let code = match self {
            Refused::Gate(r) => return r.code(),
            Refused::Prompt(PromptError::TooLong { .. }) => "prompt-too-long",
            Refused::Prompt(_) => "prompt-invalid",
            Refused::Submit(SubmitError::QueueFull { .. }) => "queue-full",
            Refused::Submit(SubmitError::DailyLimit { used, limit, .. }) => {
                return format!("daily-limit:{used}/{limit}");
            }
            Refused::Submit(
                SubmitError::Route(_) | SubmitError::UnknownBackend(_) | SubmitError::Unsupported { .. },
            )
            | Refused::CannotBlend
            | Refused::CannotDescribe => "no-backend",
            Refused::Submit(SubmitError::Internal(_)) | Refused::Internal(_) => "internal",
            Refused::Submit(_) => "bad-input",
            Refused::Cancel(_) => "cancel",
            Refused::ParentGone | Refused::ParentUnfinished | Refused::RemixUnfinished => "parent-unusable",
            Refused::ImagesRemoved(_) => "images-removed",
            Refused::NotOwner { .. } => "not-owner",
            Refused::NotOnItsMessage => "not-on-its-message",
            Refused::NoSuchPrompt(_) | Refused::RemixOfSeveral | Refused::InputsGone => "bad-press",
            Refused::Deleted => "deleted",
            Refused::NoSuchTask(_) | Refused::NotShowable(_) => "no-such-result",
            Refused::NotYoursToShow(_) | Refused::NotYoursToDelete => "not-owner",
            Refused::ZoomOutOfRange(_) | Refused::NoSuchRegion => "bad-form",
            Refused::NotASingleImage => "bad-press",
        };
        code.to_string()
    }

    /// Easel's own failure (the database, say) rather than anything the member can change:
    /// the detail to log, or the refusal itself when it is the member's to hear.
    pub fn into_internal(self) -> Result<anyhow::Error, Refused> {
        match self {
            Refused::Internal(e)
            | Refused::Gate(Refusal::Internal(e))
            | Refused::Submit(SubmitError::Internal(e))
            | Refused::Cancel(CancelError::Internal(e)) => Ok(e),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easels_own_failures_are_told_apart_from_what_the_member_can_change() {
        let internal = [
            Refused::Internal(anyhow::anyhow!("disk full")),
            Refused::Gate(Refusal::Internal(anyhow::anyhow!("disk full"))),
            Refused::Submit(SubmitError::Internal(anyhow::anyhow!("disk full"))),
            Refused::Cancel(CancelError::Internal(anyhow::anyhow!("disk full"))),
        ];
        for r in internal {
            assert_eq!(r.into_internal().expect("internal").to_string(), "disk full");
        }
        let owner = Refused::NotOwner { owner: "42".into() };
        let told = owner.into_internal().expect_err("the member's to hear");
        assert_eq!(told.to_string(), "Only <@42> can use the buttons on these images.");
        assert_eq!(
            Refused::RemixOfSeveral.to_string(),
            "A remix takes one prompt: leave out `{a, b}` choices."
        );
        assert!(Refused::Gate(Refusal::Banned).into_internal().is_err());
    }
}
