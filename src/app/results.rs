//! A finished result afterwards: its details for the ℹ️ panel, showing it again elsewhere
//! (`/show`), and deleting it. Who may do what is decided here, once: anyone who can press a
//! result's ℹ️ sees its details; its owner, or a moderator (Manage Messages) of the server it
//! was made in, may show it again or delete it. A deleted result answers every later press
//! with "deleted".

use super::press::{in_their_dms, on_its_message};
use super::{App, Refused, Requester};
use crate::base::{ImageRole, MessageRef, TaskId, TaskState};
use crate::db::{StoredImage, Task};

/// What the ℹ️ panel shows, gathered: plain data for the Discord side to render.
#[derive(Debug, Clone)]
pub struct JobInfo {
    pub task: Task,
    /// The result's single images (one per grid cell, or the upscale), with the seed each was
    /// drawn with where the backend said.
    pub images: Vec<StoredImage>,
    /// The task the result was made from (by a button), and where its message is.
    pub parent: Option<Task>,
    /// The viewer may delete the result (the panel then offers 🗑️).
    pub may_delete: bool,
}

impl App {
    /// ℹ️ under a result: its details, for whoever pressed it on the result's own message.
    pub async fn job_info(&self, who: &Requester, id: TaskId) -> Result<JobInfo, Refused> {
        let task = self.live_task(id).await?;
        on_its_message(who, &task)?;
        // A private-mode result in the member's DMs is read there, whatever the no-DMs rule.
        self.gate.admit(&in_their_dms(who, Some(&task)), crate::admin::Ask::Use).await?;
        let images = self.db.images(task.id, ImageRole::Image).await?;
        let parent = match task.parent_id {
            Some(p) => self.db.task(p).await?.filter(|p| p.deleted_at.is_none()),
            None => None,
        };
        let may_delete = may_manage(who, &task);
        Ok(JobInfo { task, images, parent, may_delete })
    }

    /// `/show task:`: the result the member may show again here (theirs, or any from this
    /// server for a moderator).
    pub async fn showable(&self, who: &Requester, id: TaskId) -> Result<Task, Refused> {
        let Some(task) = self.db.task(id).await? else {
            // To a member, an unknown id and someone else's read the same.
            return Err(if who.moderator { Refused::NoSuchTask(id) } else { Refused::NotYoursToShow(id) });
        };
        if !may_manage(who, &task) {
            // Whose it is stays the owner's business.
            return Err(Refused::NotYoursToShow(id));
        }
        if task.deleted_at.is_some() {
            return Err(Refused::Deleted);
        }
        if task.state != TaskState::Succeeded {
            return Err(Refused::NotShowable(id));
        }
        self.gate.admit(who, crate::admin::Ask::Use).await?;
        Ok(task)
    }

    /// The result now lives on `message` in the member's channel: presses count there (and
    /// no longer on its old message).
    pub async fn shown_at(&self, who: &Requester, id: TaskId, message: &MessageRef) -> Result<(), Refused> {
        let channel = who.channel_id.as_deref().unwrap_or_default();
        match self.db.move_result(id, who.guild_id.as_deref(), channel, message).await? {
            true => Ok(()),
            false => Err(Refused::Deleted),
        }
    }

    /// 🗑️ in the info panel: the owner, or a moderator of the result's server, deletes it. The
    /// task and its image rows are marked deleted and the files removed; the caller takes the
    /// message down. Returns the task as it was (where its message is).
    pub async fn delete_result(&self, who: &Requester, id: TaskId) -> Result<Task, Refused> {
        let task = self.live_task(id).await?;
        if !may_manage(who, &task) {
            return Err(Refused::NotYoursToDelete);
        }
        let images = self.db.mark_deleted(id, &who.user_id).await?.ok_or(Refused::Deleted)?;
        for image in images {
            if let Err(e) = self.engine.storage().remove(&image.path).await {
                tracing::warn!(task_id = id, error = %format!("{e:#}"), "could not remove a deleted image");
            }
        }
        tracing::info!(task_id = id, user_id = %who.user_id, "result deleted");
        Ok(task)
    }

    /// The task behind a button, unless it is unknown or was deleted.
    async fn live_task(&self, id: TaskId) -> Result<Task, Refused> {
        let task = self.db.task(id).await?.ok_or(Refused::ParentGone)?;
        match task.deleted_at {
            Some(_) => Err(Refused::Deleted),
            None => Ok(task),
        }
    }
}

/// The owner, or a moderator (Manage Messages) in the server the result was made in — a
/// moderator elsewhere has no say over it.
fn may_manage(who: &Requester, task: &Task) -> bool {
    who.user_id == task.user_id || (who.moderator && who.guild_id.is_some() && who.guild_id == task.guild_id)
}
