//! Members' preferences: one `user_settings` row per member who changed anything, and their
//! named options in `user_options`.

use super::row::Cols;
use super::{Db, on_pool};
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
        let found = on_pool!(self, pool => sqlx::query("SELECT * FROM user_settings WHERE user_id = $1")
            .bind(user)
            .fetch_optional(pool)
            .await?
            .map(|r| settings_from_row(&r)));
        Ok(found.unwrap_or_default())
    }

    pub async fn save_settings(&self, user: &str, s: &UserSettings) -> anyhow::Result<()> {
        on_pool!(self, pool => sqlx::query(self.sql.upsert_user_settings)
            .bind(user)
            .bind(s.aspect.map(|a| format!("{}:{}", a.w, a.h)))
            .bind(&s.model)
            .bind(s.stylize.map(i64::from))
            .bind(match s.strength {
                Strength::Strong => "strong",
                Strength::Subtle => "subtle",
            })
            .bind(s.private)
            .bind(s.remix)
            .bind(&s.suffix)
            .bind(now_ms())
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The member's options as (name, value), by name.
    pub async fn options(&self, user: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as("SELECT name, value FROM user_options WHERE user_id = $1 ORDER BY name")
            .bind(user)
            .fetch_all(pool).await?),
        )
    }

    /// Sets an option (name already checked); false, and nothing stored, when it is a new
    /// one and the member already has `max` options.
    pub async fn set_option(&self, user: &str, name: &str, value: &str, max: usize) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(self.sql.upsert_user_option)
            .bind(user)
            .bind(name)
            .bind(value)
            .bind(max as i64)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Deletes an option; whether there was one.
    pub async fn delete_option(&self, user: &str, name: &str) -> anyhow::Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM user_options WHERE user_id = $1 AND name = $2")
            .bind(user)
            .bind(name)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }
}

fn settings_from_row(r: &impl Cols) -> UserSettings {
    UserSettings {
        aspect: r.opt_text("aspect").as_deref().and_then(parse_aspect),
        model: r.opt_text("model"),
        stylize: r.opt_int("stylize").map(|s| s.clamp(0, 1000) as u16),
        strength: if r.text("strength") == "subtle" { Strength::Subtle } else { Strength::Strong },
        private: r.flag("private"),
        remix: r.flag("remix"),
        suffix: r.text("suffix"),
    }
}
