//! [`App::admit`]: the one gate before any new task (and, lighter, before any command), and
//! the admin actions that change what it lets through.

use tracing::info;

use super::quota::{self, Quota, QuotaOverride};
use super::{Admission, Ask, Refusal};
use crate::app::{App, Requester};
use crate::base::DAY_MS;
use crate::db::AuditEntry;

impl App {
    /// Lets `who` through for `ask`, or says why not. Checks, in order: direct messages and
    /// the guild and channel allow-lists, bans; and for new work also the pause switch, banned
    /// words and the daily quota. Every [`Ask::Create`] leaves an audit row, accepted or not.
    pub async fn admit(&self, who: &Requester, ask: Ask<'_>) -> Result<Admission, Refusal> {
        let verdict = self.gate(who, &ask).await;
        if let Ask::Create { command, prompt, .. } = ask {
            if let Err(Refusal::Internal(_)) = &verdict {
                return verdict;
            }
            let entry = AuditEntry {
                at: self.clock.now_ms(),
                user_id: who.user_id.clone(),
                guild_id: who.guild_id.clone(),
                channel_id: who.channel_id.clone(),
                command: command.to_string(),
                prompt: prompt.to_string(),
                verdict: if verdict.is_ok() { "accepted" } else { "refused" }.to_string(),
                reason: verdict.as_ref().err().map(Refusal::code),
            };
            self.db.record_audit(&entry).await?;
            if let Err(refusal) = &verdict {
                info!(user_id = %who.user_id, command, reason = %refusal.code(), "prompt refused");
            }
        }
        verdict
    }

    async fn gate(&self, who: &Requester, ask: &Ask<'_>) -> Result<Admission, Refusal> {
        let discord = &self.config.discord;
        match who.guild_id.as_deref() {
            None if !discord.allow_dms && !who.private_results => return Err(Refusal::DirectMessages),
            None => {}
            Some(guild) => {
                if !discord.allowed_guilds.is_empty() && !listed(&discord.allowed_guilds, guild) {
                    return Err(Refusal::Guild);
                }
                let channel = who.channel_id.as_deref().unwrap_or_default();
                if !discord.allowed_channels.is_empty() && !listed(&discord.allowed_channels, channel) {
                    return Err(Refusal::Channel { allowed: discord.allowed_channels.clone() });
                }
            }
        }
        if self.db.ban_of(&who.user_id).await?.is_some() {
            return Err(Refusal::Banned);
        }
        let quota = self.quota_for(who).await?;
        let day = self.clock.day_start();
        let used_today = self.db.tasks_counted(&who.user_id, day, day + DAY_MS).await?;
        let Ask::Create { prompt, tasks, .. } = *ask else {
            return Ok(Admission { quota, used_today });
        };
        if self.engine.is_paused() {
            return Err(Refusal::Paused);
        }
        if let Some(tripped) = self.words.check(prompt) {
            return Err(Refusal::BannedWord { word: tripped.word });
        }
        if let Some(limit) = quota.daily_limit
            && used_today + tasks > limit
        {
            return Err(Refusal::DailyLimit {
                used: used_today,
                limit,
                asked: tasks,
                resets_at: day + DAY_MS,
            });
        }
        Ok(Admission { quota, used_today })
    }

    /// The limits `who` works under: their roles' (or the defaults), then an admin's override.
    pub async fn quota_for(&self, who: &Requester) -> anyhow::Result<Quota> {
        let base = quota::for_roles(&self.config.limits, &self.config.quotas, &who.roles);
        Ok(base.with_override(self.db.quota_override(&who.user_id).await?))
    }

    /// Pauses or resumes taking new tasks, for good (kept across restarts); returns whether
    /// it changed. While paused, running tasks finish and waiting ones wait.
    pub async fn set_paused(&self, paused: bool, by: &str) -> anyhow::Result<bool> {
        let changed = self.db.set_paused(paused, by, self.clock.now_ms()).await?;
        self.engine.set_paused(paused);
        info!(by, paused, changed, "pause switch");
        Ok(changed)
    }

    /// Bars `user` from Easel (kept across restarts); false when they already were.
    pub async fn ban(&self, user: &str, by: &str, reason: Option<&str>) -> anyhow::Result<bool> {
        let changed = self.db.ban(user, by, reason, self.clock.now_ms()).await?;
        info!(by, user_id = user, reason, changed, "member barred");
        Ok(changed)
    }

    /// Lifts a ban; false when there was none.
    pub async fn unban(&self, user: &str, by: &str) -> anyhow::Result<bool> {
        let changed = self.db.unban(user).await?;
        info!(by, user_id = user, changed, "member readmitted");
        Ok(changed)
    }

    /// Sets `user`'s quota override (`QuotaOverride::default()` removes it).
    pub async fn set_quota_override(&self, user: &str, o: QuotaOverride, by: &str) -> anyhow::Result<()> {
        self.db.set_quota_override(user, o, by, self.clock.now_ms()).await?;
        info!(by, user_id = user, ?o, "quota override");
        Ok(())
    }
}

fn listed(ids: &[u64], id: &str) -> bool {
    id.parse::<u64>().is_ok_and(|id| ids.contains(&id))
}
