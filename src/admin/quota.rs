//! Which limits apply to a member: `[[quotas]]` by role (the most generous of the member's
//! listed roles), `[limits]` for members with no listed role, and an admin's per-member
//! override on top. Pure; the override is read from the database.

pub use crate::db::QuotaOverride;

use crate::config::{LimitsConfig, QuotaConfig};

/// The limits one member works under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Tasks per UTC day; `None` = unlimited.
    pub daily_limit: Option<u32>,
    /// Tasks running at once.
    pub running_cap: u32,
    /// Where the numbers came from, for /easel quota and logs.
    pub source: QuotaSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaSource {
    /// `[limits]`: the member has none of the roles in `[[quotas]]`.
    Defaults,
    /// The most generous of the member's roles listed in `[[quotas]]`.
    Roles,
    /// An admin set this member's numbers with /easel quota.
    Override,
}

/// 0 means unlimited in the config and in overrides.
fn limit(n: u32) -> Option<u32> {
    (n > 0).then_some(n)
}

/// The quota a member with `roles` gets from the config alone.
pub fn for_roles(limits: &LimitsConfig, quotas: &[QuotaConfig], roles: &[u64]) -> Quota {
    let listed: Vec<&QuotaConfig> = quotas.iter().filter(|q| roles.contains(&q.role_id)).collect();
    if listed.is_empty() {
        return Quota {
            daily_limit: limit(limits.per_user_daily),
            running_cap: limits.per_user_running,
            source: QuotaSource::Defaults,
        };
    }
    // Unlimited beats any number; otherwise the highest.
    let daily_limit = if listed.iter().any(|q| q.daily_limit == 0) {
        None
    } else {
        listed.iter().map(|q| q.daily_limit).max()
    };
    let running_cap =
        listed.iter().map(|q| q.running_cap.unwrap_or(limits.per_user_running)).max().unwrap_or(1);
    Quota { daily_limit, running_cap, source: QuotaSource::Roles }
}

impl Quota {
    /// The quota with an admin's override applied, number by number.
    pub fn with_override(self, o: Option<QuotaOverride>) -> Quota {
        let Some(o) = o.filter(|o| o.daily_limit.is_some() || o.running_cap.is_some()) else {
            return self;
        };
        Quota {
            daily_limit: o.daily_limit.map_or(self.daily_limit, limit),
            running_cap: o.running_cap.unwrap_or(self.running_cap),
            source: QuotaSource::Override,
        }
    }

    /// "50 a day" / "unlimited", for messages.
    pub fn daily_text(&self) -> String {
        match self.daily_limit {
            Some(n) => format!("{n} a day"),
            None => "no daily limit".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(role_id: u64, daily_limit: u32, running_cap: Option<u32>) -> QuotaConfig {
        QuotaConfig { role_id, daily_limit, running_cap }
    }

    fn limits(daily: u32, running: u32) -> LimitsConfig {
        LimitsConfig { per_user_daily: daily, per_user_running: running, ..LimitsConfig::default() }
    }

    #[test]
    fn members_without_a_listed_role_get_the_defaults() {
        let got = for_roles(&limits(5, 2), &[q(1, 50, Some(4))], &[99]);
        assert_eq!(got, Quota { daily_limit: Some(5), running_cap: 2, source: QuotaSource::Defaults });
        assert_eq!(for_roles(&limits(0, 2), &[], &[]).daily_limit, None, "0 = unlimited");
    }

    #[test]
    fn the_most_generous_listed_role_wins_number_by_number() {
        let quotas = [q(1, 10, Some(1)), q(2, 50, None), q(3, 20, Some(6))];
        let got = for_roles(&limits(3, 2), &quotas, &[1, 2, 3]);
        assert_eq!(got, Quota { daily_limit: Some(50), running_cap: 6, source: QuotaSource::Roles });
        assert_eq!(for_roles(&limits(3, 2), &[q(1, 10, None), q(2, 0, None)], &[1, 2]).daily_limit, None);
        // A listed role replaces the defaults, even when it is stricter (a "new member" role).
        assert_eq!(for_roles(&limits(30, 3), &[q(7, 5, Some(1))], &[7]).daily_limit, Some(5));
    }

    #[test]
    fn an_override_replaces_only_what_it_sets() {
        let base = for_roles(&limits(5, 2), &[], &[]);
        let o = QuotaOverride { daily_limit: Some(100), running_cap: None };
        let got = base.with_override(Some(o));
        assert_eq!(got, Quota { daily_limit: Some(100), running_cap: 2, source: QuotaSource::Override });
        let unlimited =
            base.with_override(Some(QuotaOverride { daily_limit: Some(0), running_cap: Some(4) }));
        assert_eq!((unlimited.daily_limit, unlimited.running_cap), (None, 4));
        assert_eq!(base.with_override(Some(QuotaOverride::default())), base);
    }
}
