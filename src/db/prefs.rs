//! Members' preferences: one `user_settings` row per member who changed anything, and their
//! named options in `user_options`.

use sqlx::Row;

use super::Db;
use crate::base::{Strength, now_ms};
use crate::prompt::Aspect;

/// What a member chose in /settings (and their /prefer suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSettings {
    pub aspect: Option<Aspect>,
    pub model: Option<String>,
    pub stylize: Option<u16>,
    pub strength: Strength,
    pub private: bool,
    pub remix: bool,
    pub suffix: String,
}

impl Default for UserSettings {
    fn default() -> Self {
        UserSettings {
            aspect: None,
            model: None,
            stylize: None,
            strength: Strength::Strong,
            private: false,
            remix: false,
            suffix: String::new(),
        }
    }
}

/// `"3:2"` → 3:2, the form a default aspect ratio is stored (and offered) in.
pub fn parse_aspect(s: &str) -> Option<Aspect> {
    let (w, h) = s.split_once(':')?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some(Aspect { w, h })
}

impl Db {
    /// `user`'s settings; the defaults when they never changed any.
    pub async fn settings(&self, user: &str) -> anyhow::Result<UserSettings> {
        let Some(r) = sqlx::query("SELECT * FROM user_settings WHERE user_id = $1")
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

    pub async fn save_settings(&self, user: &str, s: &UserSettings) -> anyhow::Result<()> {
        sqlx::query(self.sql.upsert_user_settings)
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
        Ok(sqlx::query_as("SELECT name, value FROM user_options WHERE user_id = $1 ORDER BY name")
            .bind(user)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Sets an option (name already checked); false, and nothing stored, when it is a new
    /// one and the member already has `max` options.
    pub async fn set_option(&self, user: &str, name: &str, value: &str, max: usize) -> anyhow::Result<bool> {
        let done = sqlx::query(self.sql.upsert_user_option)
            .bind(user)
            .bind(name)
            .bind(value)
            .bind(max as i64)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes an option; whether there was one.
    pub async fn delete_option(&self, user: &str, name: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM user_options WHERE user_id = $1 AND name = $2")
            .bind(user)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
