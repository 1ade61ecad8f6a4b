//! [`Prefs`]: members' preferences as the rest of Easel reads them — from memory after the
//! first read, because only /settings and /prefer change them and both write through here.

use super::{PreferError, UserSettings};
use crate::base::Memo;
use crate::db::Db;

/// One member's /settings and /prefer options, read together.
#[derive(Debug, Clone, Default)]
struct Held {
    settings: UserSettings,
    options: Vec<(String, String)>,
}

pub struct Prefs {
    store: Db,
    held: Memo<Held>,
}

impl Prefs {
    pub fn new(store: Db) -> Prefs {
        Prefs { store, held: Memo::default() }
    }

    async fn held(&self, user: &str) -> anyhow::Result<Held> {
        let store = &self.store;
        self.held
            .get_or_load(user, || async {
                Ok(Held { settings: store.settings(user).await?, options: store.options(user).await? })
            })
            .await
    }

    pub async fn settings(&self, user: &str) -> anyhow::Result<UserSettings> {
        Ok(self.held(user).await?.settings)
    }

    /// The member's options as (name, value), by name.
    pub async fn options(&self, user: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(self.held(user).await?.options)
    }

    /// Both at once: what an /imagine needs to compose the member's prompt.
    pub async fn settings_and_options(
        &self,
        user: &str,
    ) -> anyhow::Result<(UserSettings, Vec<(String, String)>)> {
        let held = self.held(user).await?;
        Ok((held.settings, held.options))
    }

    pub async fn save(&self, user: &str, s: &UserSettings) -> anyhow::Result<()> {
        let saved = self.store.save_settings(user, s).await;
        self.held.forget(user);
        saved
    }

    /// Sets an option (name already checked); refuses a new one past [`super::MAX_OPTIONS`].
    pub async fn set_option(
        &self,
        user: &str,
        name: &str,
        value: &str,
    ) -> anyhow::Result<Result<(), PreferError>> {
        let set = self.store.set_option(user, name, value, super::MAX_OPTIONS).await;
        self.held.forget(user);
        Ok(if set? { Ok(()) } else { Err(PreferError::TooMany) })
    }

    /// Deletes an option; whether there was one.
    pub async fn delete_option(&self, user: &str, name: &str) -> anyhow::Result<bool> {
        let deleted = self.store.delete_option(user, name).await;
        self.held.forget(user);
        deleted
    }
}
