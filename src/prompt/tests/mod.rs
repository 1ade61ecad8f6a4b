//! Tests for the prompt module, split by concern: flags and ranges, error wording,
//! permutations, Midjourney's newer parameters (references; speed, style codes, repeat and
//! video), canonical pass-through, and property tests.

mod errors;
mod flags;
mod passthrough;
mod permute;
mod props;
mod references;
mod spec;
mod speed_style_repeat;

use super::{PromptError, PromptLimits, PromptSpec, parse};

/// Parses with default limits and expects exactly one prompt.
fn one(input: &str) -> PromptSpec {
    match parse(input, &PromptLimits::default()) {
        Ok(mut specs) if specs.len() == 1 => specs.remove(0),
        other => panic!("expected one prompt from {input:?}, got {other:?}"),
    }
}

/// Parses with default limits and expects an error.
fn err(input: &str) -> PromptError {
    match parse(input, &PromptLimits::default()) {
        Err(e) => e,
        Ok(specs) => panic!("expected an error from {input:?}, got {specs:?}"),
    }
}

/// The member-facing message of the error for `input`.
fn msg(input: &str) -> String {
    err(input).to_string()
}

/// Checks a whole-number flag under every alias: both edges accepted and stored, one past
/// each edge refused as out of range.
fn whole_range(aliases: &[&str], min: u64, max: u64, get: fn(&super::Params) -> Option<u64>) {
    for alias in aliases {
        for ok in [min, max, (min + max) / 2] {
            let spec = one(&format!("cat --{alias} {ok}"));
            assert_eq!(get(&spec.params), Some(ok), "--{alias} {ok}");
        }
        let below = if min == 0 { "-1".to_string() } else { (min - 1).to_string() };
        for bad in [below, (max + 1).to_string()] {
            assert!(
                matches!(err(&format!("cat --{alias} {bad}")), PromptError::OutOfRange { .. }),
                "--{alias} {bad} should be out of range"
            );
        }
    }
}
