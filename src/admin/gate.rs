//! [`Gate`]: the one gate before any new task (and, lighter, before any command), and the admin
//! actions that change what it lets through. What it reads on every request — bans, quota
//! overrides, the pause switch — is served from memory: only these admin actions change them,
//! and each updates the memory as it writes the database. The daily count is the one read
//! that can go stale, so it is asked of the database, and only when a daily limit applies.

use tracing::info;

use super::moderation::WordFilter;
use super::quota::{self, Quota, QuotaOverride};
use super::{Admission, Ask, Outcome, Refusal, Requester};
use crate::base::{Clock, DAY_MS, Memo};
use crate::config::{Config, LimitsConfig, QuotaConfig};
use crate::db::{AuditEntry, Db};
use crate::tasks::engine::Engine;

/// The most of a prompt one audit row keeps.
pub const AUDIT_PROMPT_CHARS: usize = 2_000;

pub struct Gate {
    allow_dms: bool,
    allowed_guilds: Vec<u64>,
    allowed_channels: Vec<u64>,
    limits: LimitsConfig,
    quotas: Vec<QuotaConfig>,
    /// `[moderation]`, compiled.
    words: WordFilter,
    /// Decides which day it is, for daily quotas (a manual clock in tests).
    clock: Clock,
    engine: Engine,
    db: Db,
    banned: Memo<bool>,
    overrides: Memo<Option<QuotaOverride>>,
}

impl Gate {
    /// The gate for `config` with its compiled word filter, and the pause switch as the
    /// database last recorded it.
    pub async fn new(
        config: &Config,
        words: WordFilter,
        engine: Engine,
        db: Db,
        clock: Clock,
    ) -> anyhow::Result<Gate> {
        engine.set_paused(db.is_paused().await?);
        Ok(Gate {
            allow_dms: config.discord.allow_dms,
            allowed_guilds: config.discord.allowed_guilds.clone(),
            allowed_channels: config.discord.allowed_channels.clone(),
            limits: config.limits.clone(),
            quotas: config.quotas.clone(),
            words,
            clock,
            engine,
            db,
            banned: Memo::default(),
            overrides: Memo::default(),
        })
    }

    /// Lets `who` through for `ask`, or says why not. Checks, in order: direct messages and
    /// the guild and channel allow-lists, bans; and for new work also the pause switch, banned
    /// words and the daily quota. A refused [`Ask::Create`] is audited here; an admitted one
    /// carries its audit row for [`Gate::record`], so the write waits until the member has
    /// been answered.
    pub async fn admit(&self, who: &Requester, ask: Ask<'_>) -> Result<Admission, Refusal> {
        let verdict = self.check(who, &ask).await;
        let Ask::Create { command, prompt, .. } = ask else {
            return verdict.map(|quota| Admission { quota, audit: None });
        };
        if let Err(Refusal::Internal(_)) = &verdict {
            return verdict.map(|quota| Admission { quota, audit: None });
        }
        let entry = AuditEntry {
            at: self.clock.now_ms(),
            user_id: who.user_id.clone(),
            guild_id: who.guild_id.clone(),
            channel_id: who.channel_id.clone(),
            command: command.to_string(),
            prompt: audited_prompt(prompt),
            verdict: if verdict.is_ok() { "accepted" } else { "refused" }.to_string(),
            reason: verdict.as_ref().err().map(Refusal::code),
        };
        match verdict {
            Ok(quota) => Ok(Admission { quota, audit: Some(entry) }),
            Err(refusal) => {
                self.db.record_audit(&entry).await?;
                info!(user_id = %who.user_id, command, reason = %refusal.code(), "prompt refused");
                Err(refusal)
            }
        }
    }

    /// Writes an admitted request's audit row with what came of it (once; later calls do
    /// nothing): `accepted` when its tasks were queued, `refused` with the reason when a later
    /// check turned it down or (reason `abandoned`) Easel gave up on it after answering.
    pub async fn record(&self, admission: &mut Admission, outcome: Outcome) -> anyhow::Result<()> {
        let Some(mut entry) = admission.audit.take() else { return Ok(()) };
        match outcome {
            Outcome::Accepted => {}
            Outcome::Refused(reason) => {
                entry.verdict = "refused".into();
                entry.reason = Some(reason);
            }
            Outcome::Abandoned => {
                entry.verdict = "refused".into();
                entry.reason = Some("abandoned".into());
            }
        }
        self.db.record_audit(&entry).await
    }

    async fn check(&self, who: &Requester, ask: &Ask<'_>) -> Result<Quota, Refusal> {
        match who.guild_id.as_deref() {
            None if !self.allow_dms && !who.private_results => return Err(Refusal::DirectMessages),
            None => {}
            Some(guild) => {
                if !self.allowed_guilds.is_empty() && !listed(&self.allowed_guilds, guild) {
                    return Err(Refusal::Guild);
                }
                let channel = who.channel_id.as_deref().unwrap_or_default();
                if !self.allowed_channels.is_empty() && !listed(&self.allowed_channels, channel) {
                    return Err(Refusal::Channel { allowed: self.allowed_channels.clone() });
                }
            }
        }
        if self.is_banned(&who.user_id).await? {
            return Err(Refusal::Banned);
        }
        let quota = self.quota_for(who).await?;
        let Ask::Create { prompt, tasks, .. } = *ask else { return Ok(quota) };
        if self.engine.is_paused() {
            return Err(Refusal::Paused);
        }
        if let Some(tripped) = self.words.check(prompt) {
            return Err(Refusal::BannedWord { word: tripped.word });
        }
        if let Some(limit) = quota.daily_limit {
            let day = self.clock.day_start();
            let used = self.db.tasks_counted(&who.user_id, day, day + DAY_MS).await?;
            if used + tasks > limit {
                return Err(Refusal::DailyLimit { used, limit, asked: tasks, resets_at: day + DAY_MS });
            }
        }
        Ok(quota)
    }

    async fn is_banned(&self, user: &str) -> anyhow::Result<bool> {
        let store = &self.db;
        self.banned.get_or_load(user, || async { Ok(store.ban_of(user).await?.is_some()) }).await
    }

    /// The limits `who` works under: their roles' (or the defaults), then an admin's override.
    pub async fn quota_for(&self, who: &Requester) -> anyhow::Result<Quota> {
        let base = quota::for_roles(&self.limits, &self.quotas, &who.roles);
        let store = &self.db;
        let user = who.user_id.as_str();
        let o = self.overrides.get_or_load(user, || store.quota_override(user)).await?;
        Ok(base.with_override(o))
    }

    pub fn is_paused(&self) -> bool {
        self.engine.is_paused()
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
        self.banned.set(user, true);
        info!(by, user_id = user, reason, changed, "member barred");
        Ok(changed)
    }

    /// Lifts a ban; false when there was none.
    pub async fn unban(&self, user: &str, by: &str) -> anyhow::Result<bool> {
        let changed = self.db.unban(user).await?;
        self.banned.set(user, false);
        info!(by, user_id = user, changed, "member readmitted");
        Ok(changed)
    }

    /// Sets `user`'s quota override (`QuotaOverride::default()` removes it).
    pub async fn set_quota_override(&self, user: &str, o: QuotaOverride, by: &str) -> anyhow::Result<()> {
        self.db.set_quota_override(user, o, by, self.clock.now_ms()).await?;
        self.overrides.set(user, (o != QuotaOverride::default()).then_some(o));
        info!(by, user_id = user, ?o, "quota override");
        Ok(())
    }
}

impl Gate {
    /// What `/easel audit` shows: the newest `limit` prompts and refusals in `guild`, of one
    /// member when `user` is given, newest first.
    pub async fn recent_audit(
        &self,
        guild: &str,
        user: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        self.db.audit_in_guild(guild, user, limit).await
    }
}

/// The prompt as the audit keeps it: at most [`AUDIT_PROMPT_CHARS`] characters, so a prompt
/// that /prefer options blew up to hundreds of kilobytes costs a row of a few, and says how
/// much was left out.
fn audited_prompt(prompt: &str) -> String {
    match prompt.char_indices().nth(AUDIT_PROMPT_CHARS) {
        None => prompt.to_string(),
        Some((cut, _)) => format!("{}… (+{} bytes)", &prompt[..cut], prompt.len() - cut),
    }
}

fn listed(ids: &[u64], id: &str) -> bool {
    id.parse::<u64>().is_ok_and(|id| ids.contains(&id))
}
