//! The admin tables (migration 0005): the pause switch, bans, per-member quota overrides and
//! the prompt audit.

use super::row::Cols;
use super::{Db, on_pool};

/// A member an admin barred from Easel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub user_id: String,
    pub banned_by: String,
    pub reason: Option<String>,
    pub created_at: i64,
}

/// One row of the prompt audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub user_id: String,
    pub guild_id: Option<String>,
    pub channel_id: Option<String>,
    pub command: String,
    pub prompt: String,
    /// `accepted` or `refused`.
    pub verdict: String,
    pub reason: Option<String>,
}

/// An admin's per-member override; each number is `None` when not overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaOverride {
    /// `Some(0)` = unlimited.
    pub daily_limit: Option<u32>,
    pub running_cap: Option<u32>,
}

const PAUSED: &str = "paused";

impl Db {
    pub async fn is_paused(&self) -> anyhow::Result<bool> {
        let value: Option<String> = on_pool!(self, pool => sqlx::query_scalar("SELECT value FROM admin_settings WHERE key = $1")
            .bind(PAUSED)
            .fetch_optional(pool).await?);
        Ok(value.as_deref() == Some("1"))
    }

    /// Records the pause switch; returns whether it changed.
    pub async fn set_paused(&self, paused: bool, by: &str, now: i64) -> anyhow::Result<bool> {
        let was = self.is_paused().await?;
        on_pool!(self, pool => sqlx::query(self.sql.upsert_admin_setting)
            .bind(PAUSED)
            .bind(if paused { "1" } else { "0" })
            .bind(by)
            .bind(now)
            .execute(pool).await?.rows_affected());
        Ok(was != paused)
    }

    /// Bars `user`; false when they already were (the first ban's record is kept).
    pub async fn ban(&self, user: &str, by: &str, reason: Option<&str>, now: i64) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(self.sql.insert_ban)
            .bind(user)
            .bind(by)
            .bind(reason)
            .bind(now)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Lifts a ban; false when there was none.
    pub async fn unban(&self, user: &str) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM bans WHERE user_id = $1").bind(user).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    pub async fn ban_of(&self, user: &str) -> anyhow::Result<Option<Ban>> {
        let row = on_pool!(self, pool => sqlx::query("SELECT * FROM bans WHERE user_id = $1")
        .bind(user)
        .fetch_optional(pool).await?.map(|r| Ban {
            user_id: r.text("user_id"),
            banned_by: r.text("banned_by"),
            reason: r.opt_text("reason"),
            created_at: r.int("created_at"),
        }));
        Ok(row)
    }

    pub async fn ban_count(&self) -> anyhow::Result<u32> {
        let n: i64 =
            on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM bans").fetch_one(pool).await?);
        Ok(n as u32)
    }

    pub async fn quota_override(&self, user: &str) -> anyhow::Result<Option<QuotaOverride>> {
        let row: Option<(Option<i64>, Option<i64>)> = on_pool!(self, pool => sqlx::query_as("SELECT daily_limit, running_cap FROM quota_overrides WHERE user_id = $1")
                .bind(user)
                .fetch_optional(pool).await?);
        Ok(row.map(|(daily, running)| QuotaOverride {
            daily_limit: daily.map(|n| n as u32),
            running_cap: running.map(|n| n as u32),
        }))
    }

    /// Sets (or, when it overrides nothing, removes) `user`'s override.
    pub async fn set_quota_override(
        &self,
        user: &str,
        o: QuotaOverride,
        by: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        if o == QuotaOverride::default() {
            on_pool!(self, pool => sqlx::query("DELETE FROM quota_overrides WHERE user_id = $1")
                .bind(user)
                .execute(pool).await?.rows_affected());
            return Ok(());
        }
        on_pool!(self, pool => sqlx::query(self.sql.upsert_quota_override)
            .bind(user)
            .bind(o.daily_limit.map(i64::from))
            .bind(o.running_cap.map(i64::from))
            .bind(by)
            .bind(now)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn record_audit(&self, e: &AuditEntry) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO prompt_audit (at, user_id, guild_id, channel_id, command, prompt, verdict, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.at)
        .bind(&e.user_id)
        .bind(&e.guild_id)
        .bind(&e.channel_id)
        .bind(&e.command)
        .bind(&e.prompt)
        .bind(&e.verdict)
        .bind(&e.reason)
        .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The newest `limit` audit rows, newest first.
    pub async fn audit_recent(&self, limit: u32) -> anyhow::Result<Vec<AuditEntry>> {
        let rows = on_pool!(self, pool => sqlx::query("SELECT * FROM prompt_audit ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(pool).await?.iter().map(audit_entry).collect());
        Ok(rows)
    }

    /// The newest `limit` audit rows of one guild (of one member there, when `user` is
    /// given), newest first: a server's admins see their own server's prompts only.
    pub async fn audit_in_guild(
        &self,
        guild: &str,
        user: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let rows = on_pool!(self, pool => sqlx::query(
            "SELECT * FROM prompt_audit WHERE guild_id = $1 AND ($2 IS NULL OR user_id = $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(guild)
        .bind(user)
        .bind(i64::from(limit))
        .fetch_all(pool).await?.iter().map(audit_entry).collect());
        Ok(rows)
    }
}

fn audit_entry(r: &impl Cols) -> AuditEntry {
    AuditEntry {
        at: r.int("at"),
        user_id: r.text("user_id"),
        guild_id: r.opt_text("guild_id"),
        channel_id: r.opt_text("channel_id"),
        command: r.text("command"),
        prompt: r.text("prompt"),
        verdict: r.text("verdict"),
        reason: r.opt_text("reason"),
    }
}
