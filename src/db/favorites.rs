//! Members' favourites (❤️ on a single image) and the showcase channel's one post per image.
//! A heart is a row; pressing again removes it. The showcase post is claimed with a
//! primary-key insert before it is sent, so however many hearts arrive at once — from one
//! process or several — exactly one of them posts. `INSERT … ON CONFLICT DO NOTHING` reads the
//! same in SQLite and PostgreSQL, so nothing here is dialect-specific.

use super::row::Cols;
use super::tasks::{Task, task_from_row};
use super::{Db, on_pool};
use crate::base::{TaskId, now_ms};

/// What a ❤️ press did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toggled {
    /// The image is now among the member's favourites (false: it was taken out).
    pub added: bool,
    /// How many favourites the member has now.
    pub count: u32,
}

/// A favourite as `/favorites` lists it.
#[derive(Debug, Clone)]
pub struct Favorite {
    pub task: Task,
    /// When the member hearted it (unix ms).
    pub at: i64,
}

impl Db {
    /// Adds `task` to `user`'s favourites, or takes it out when it was there.
    pub async fn toggle_favorite(&self, user: &str, task: TaskId) -> anyhow::Result<Toggled> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let added = sqlx::query(
                "INSERT INTO favorites (user_id, task_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, task_id) DO NOTHING",
            )
            .bind(user)
            .bind(task)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !added {
                sqlx::query("DELETE FROM favorites WHERE user_id = $1 AND task_id = $2")
                    .bind(user)
                    .bind(task)
                    .execute(&mut *tx)
                    .await?;
            }
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM favorites f JOIN tasks t ON t.id = f.task_id
                 WHERE f.user_id = $1 AND t.deleted_at IS NULL",
            )
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Toggled { added, count: count as u32 })
        })
    }

    /// `user`'s favourites that still exist, newest heart first: `limit` of them from
    /// `offset`, and how many there are in all.
    pub async fn favorites_of(
        &self,
        user: &str,
        offset: u32,
        limit: u32,
    ) -> anyhow::Result<(Vec<Favorite>, u32)> {
        const LIVE: &str =
            "FROM favorites f JOIN tasks t ON t.id = f.task_id WHERE f.user_id = $1 AND t.deleted_at IS NULL";
        let page = format!(
            "SELECT t.*, f.created_at AS hearted_at {LIVE} ORDER BY f.created_at DESC, t.id DESC LIMIT $2 OFFSET $3"
        );
        let total = format!("SELECT COUNT(*) {LIVE}");
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(page))
                .bind(user)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(total)).bind(user).fetch_one(pool).await?;
            let favorites = rows
                .iter()
                .map(|r| Ok(Favorite { task: task_from_row(r)?, at: r.int("hearted_at") }))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((favorites, total as u32))
        })
    }

    /// Claims the showcase post of `task` for `by`'s heart: true for exactly one caller, ever
    /// (unless the post fails and is released).
    pub async fn claim_showcase(&self, task: TaskId, channel: &str, by: &str) -> anyhow::Result<bool> {
        let claimed = on_pool!(self, pool => sqlx::query(
            "INSERT INTO showcase_posts (task_id, channel_id, posted_by, posted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (task_id) DO NOTHING",
        )
        .bind(task)
        .bind(channel)
        .bind(by)
        .bind(now_ms())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(claimed == 1)
    }

    /// The showcase post of `task` was sent as `message`.
    pub async fn showcase_posted(&self, task: TaskId, message: &str) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE showcase_posts SET message_id = $1 WHERE task_id = $2")
            .bind(message)
            .bind(task)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The showcase post of `task` could not be sent: the next heart may try again.
    pub async fn release_showcase(&self, task: TaskId) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM showcase_posts WHERE task_id = $1 AND message_id IS NULL")
            .bind(task)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Where `task`'s showcase post is (channel, message), once it was sent.
    pub async fn showcase_post(&self, task: TaskId) -> anyhow::Result<Option<(String, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT channel_id, message_id FROM showcase_posts WHERE task_id = $1 AND message_id IS NOT NULL",
        )
        .bind(task)
        .fetch_optional(pool)
        .await?))
    }
}
