//! `[retention]`: how long Easel keeps what piles up — the images of finished tasks (by age,
//! and under a size cap), finished task rows and the prompt audit — and how often it looks.
//! Every default keeps everything: nothing is removed until the admin opts in.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Images of tasks that finished this many days ago are removed; 0 = kept forever.
    pub image_days: u32,
    /// The images Easel keeps may take this many gigabytes (10⁹ bytes, fractions allowed);
    /// past it, the oldest finished tasks' images go first. 0 = no cap.
    #[serde(deserialize_with = "gigabytes")]
    pub image_max_gb: f64,
    /// Finished tasks (rows and images) older than this many days are deleted; 0 = kept.
    pub task_days: u32,
    /// Prompt audit rows older than this many days are deleted; 0 = kept.
    pub audit_days: u32,
    /// Minutes between two passes (the first runs at start).
    pub interval_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            image_days: 0,
            image_max_gb: 0.0,
            task_days: 0,
            audit_days: 0,
            interval_minutes: 60,
        }
    }
}

impl RetentionConfig {
    /// Whether any of it removes anything.
    pub fn removes_anything(&self) -> bool {
        self.image_days > 0 || self.image_max_gb > 0.0 || self.task_days > 0 || self.audit_days > 0
    }

    /// The size cap in bytes, when there is one.
    pub fn image_max_bytes(&self) -> Option<u64> {
        (self.image_max_gb > 0.0).then_some((self.image_max_gb * 1e9) as u64)
    }

    /// `(key, what to change)` for a value Easel cannot use.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.image_max_gb.is_finite() || self.image_max_gb < 0.0 {
            return Err((
                "retention.image_max_gb",
                format!(
                    "{} is not a size: use 0 (no cap) or a number of gigabytes such as 50",
                    self.image_max_gb
                ),
            ));
        }
        if self.interval_minutes == 0 {
            return Err(("retention.interval_minutes", "must be at least 1".into()));
        }
        Ok(())
    }

    /// One line for `easel check-config`.
    pub(super) fn summary(&self) -> String {
        let days = |n: u32| if n == 0 { "kept".to_string() } else { format!("{n} days") };
        format!(
            "retention: images {}, size cap {}, finished tasks {}, audit {}, every {} min\n",
            days(self.image_days),
            if self.image_max_gb > 0.0 { format!("{} GB", self.image_max_gb) } else { "none".into() },
            days(self.task_days),
            days(self.audit_days),
            self.interval_minutes
        )
    }
}

/// `image_max_gb = 50` as well as `= 0.5` (TOML and the environment give whole numbers as
/// integers).
fn gigabytes<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct Gb;
    impl Visitor<'_> for Gb {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number of gigabytes, such as 50 or 0.5")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
    }
    d.deserialize_any(Gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RetentionConfig, String> {
        use figment::providers::Format;
        figment::Figment::from(figment::providers::Toml::string(text)).extract().map_err(|e| e.to_string())
    }

    #[test]
    fn the_size_cap_takes_whole_and_fractional_gigabytes() {
        let whole = parse("image_max_gb = 50").unwrap();
        assert_eq!(whole.image_max_bytes(), Some(50_000_000_000));
        let half = parse("image_max_gb = 0.5").unwrap();
        assert_eq!(half.image_max_bytes(), Some(500_000_000));
        assert_eq!(RetentionConfig::default().image_max_bytes(), None);
        assert!(!RetentionConfig::default().removes_anything());
        let err = parse("image_max_gb = \"lots\"").unwrap_err();
        assert!(err.to_string().contains("a number of gigabytes"), "{err}");
    }
}
