//! ❤️ on a single image: the member's favourites, and the showcase channel. Anyone who can see
//! a result may heart it (a heart is theirs, toggled by pressing again); `/favorites` lists
//! a member's own. With `[showcase] channel_id` set, the first heart on an image made in a
//! server cross-posts it there — once per image, whoever hearts it and however many at once;
//! results in a member's DMs (private mode) are never cross-posted.

use super::press::{in_their_dms, on_its_message};
use super::{App, Refused, Requester};
use crate::base::{TaskId, TaskKind, TaskState};
use crate::db::{Favorite, Task};

/// How many favourites one page of `/favorites` lists.
pub const FAVORITES_PAGE: u32 = 10;

/// What a ❤️ press did, for the member's private answer.
#[derive(Debug, Clone)]
pub struct Hearted {
    pub task: Task,
    pub added: bool,
    /// The member's favourites now.
    pub count: u32,
    /// This heart claimed the showcase post: the caller posts `task` to this channel, then
    /// reports back with [`App::showcase_sent`].
    pub showcase: Option<String>,
}

/// One page of a member's favourites.
#[derive(Debug, Clone)]
pub struct FavoritesPage {
    pub favorites: Vec<Favorite>,
    /// 1-based.
    pub page: u32,
    pub pages: u32,
    pub total: u32,
}

impl App {
    /// ❤️ under a single image: in or out of the presser's favourites; the first heart in a
    /// server may claim the showcase post.
    pub async fn toggle_favorite(&self, who: &Requester, id: TaskId) -> Result<Hearted, Refused> {
        let task = self.db.task(id).await?.ok_or(Refused::ParentGone)?;
        if task.deleted_at.is_some() {
            return Err(Refused::Deleted);
        }
        on_its_message(who, &task)?;
        self.gate.admit(&in_their_dms(who, Some(&task)), crate::admin::Ask::Use).await?;
        if !is_single_image(&task) {
            return Err(Refused::NotASingleImage);
        }
        let toggled = self.db.toggle_favorite(&who.user_id, id).await?;
        let showcase = match (&self.config.showcase.channel_id, toggled.added, &who.guild_id) {
            (Some(channel), true, Some(_)) => {
                self.db.claim_showcase(id, channel, &who.user_id).await?.then(|| channel.clone())
            }
            _ => None,
        };
        Ok(Hearted { task, added: toggled.added, count: toggled.count, showcase })
    }

    /// The showcase post claimed by a heart was sent (`Some(message id)`) or failed (`None`:
    /// the claim is released, so a later heart tries again).
    pub async fn showcase_sent(&self, task: TaskId, message: Option<&str>) -> anyhow::Result<()> {
        match message {
            Some(m) => self.db.showcase_posted(task, m).await,
            None => self.db.release_showcase(task).await,
        }
    }

    /// Page `page` (1-based; past the end shows the last) of the member's favourites.
    pub async fn favorites(&self, who: &Requester, page: u32) -> Result<FavoritesPage, Refused> {
        self.gate.admit(who, crate::admin::Ask::Use).await?;
        let fetch =
            |page: u32| self.db.favorites_of(&who.user_id, (page - 1) * FAVORITES_PAGE, FAVORITES_PAGE);
        let page = page.max(1);
        let (mut favorites, total) = fetch(page).await?;
        let pages = total.div_ceil(FAVORITES_PAGE).max(1);
        if page > pages {
            // Past the end (favourites taken out since the link was made): the last page.
            favorites = fetch(pages).await?.0;
        }
        Ok(FavoritesPage { favorites, page: page.min(pages), pages, total })
    }
}

/// ❤️ is offered on single images: an upscale (U1–U4, or Upscale Subtle/Creative) that
/// finished.
pub fn is_single_image(task: &Task) -> bool {
    task.state == TaskState::Succeeded
        && matches!(task.kind, TaskKind::Upscale { .. } | TaskKind::Upscale2x { .. })
}
