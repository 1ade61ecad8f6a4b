//! Members' preferences in SQLite: one `user_settings` row per member who changed anything,
//! and their named options in `user_options`.

use sqlx::{Row, SqlitePool};

use super::{MAX_OPTIONS, PreferError, UserSettings, parse_aspect};
use crate::base::{Strength, now_ms};

#[derive(Clone)]
pub struct PrefsStore {
    pool: SqlitePool,
}

impl PrefsStore {
    pub fn new(pool: SqlitePool) -> Self {
        PrefsStore { pool }
    }

    pub async fn settings(&self, user: &str) -> anyhow::Result<UserSettings> {
        let Some(r) = sqlx::query("SELECT * FROM user_settings WHERE user_id = ?")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(UserSettings::default());
        };
        Ok(UserSettings {
            aspect: r.get::<Option<String>, _>("aspect").as_deref().and_then(parse_aspect),
            model: r.get("model"),
            stylize: r.get::<Option<i64>, _>("stylize").map(|s| s.clamp(0, 1000) as u16),
            strength: if r.get::<String, _>("strength") == "subtle" {
                Strength::Subtle
            } else {
                Strength::Strong
            },
            private: r.get::<i64, _>("private") != 0,
            remix: r.get::<i64, _>("remix") != 0,
            suffix: r.get("suffix"),
        })
    }

    pub async fn save(&self, user: &str, s: &UserSettings) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO user_settings (user_id, aspect, model, stylize, strength, private, remix, suffix, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET aspect = excluded.aspect, model = excluded.model,
                 stylize = excluded.stylize, strength = excluded.strength, private = excluded.private,
                 remix = excluded.remix, suffix = excluded.suffix, updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(s.aspect.map(|a| format!("{}:{}", a.w, a.h)))
        .bind(&s.model)
        .bind(s.stylize.map(i64::from))
        .bind(match s.strength {
            Strength::Strong => "strong",
            Strength::Subtle => "subtle",
        })
        .bind(s.private as i64)
        .bind(s.remix as i64)
        .bind(&s.suffix)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The member's options as (name, value), by name.
    pub async fn options(&self, user: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT name, value FROM user_options WHERE user_id = ? ORDER BY name")
            .bind(user)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Sets an option (name already checked); refuses a new one past [`MAX_OPTIONS`].
    pub async fn set_option(
        &self,
        user: &str,
        name: &str,
        value: &str,
    ) -> anyhow::Result<Result<(), PreferError>> {
        let existing = self.options(user).await?;
        if existing.len() >= MAX_OPTIONS && !existing.iter().any(|(n, _)| n == name) {
            return Ok(Err(PreferError::TooMany));
        }
        sqlx::query(
            "INSERT INTO user_options (user_id, name, value) VALUES (?, ?, ?)
             ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value",
        )
        .bind(user)
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(Ok(()))
    }

    /// Deletes an option; whether there was one.
    pub async fn delete_option(&self, user: &str, name: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM user_options WHERE user_id = ? AND name = ?")
            .bind(user)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
