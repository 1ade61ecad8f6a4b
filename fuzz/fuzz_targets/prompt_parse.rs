//! `easel::prompt::parse` on arbitrary UTF-8.
//!
//! Asserts, for several sets of limits:
//! - it never panics (libFuzzer reports any panic as a crash);
//! - a successful parse gives between 1 and `max_prompts` (at least 1) specs, each with
//!   non-empty, whitespace-normalised text and trimmed, non-empty `--no` items, as
//!   `PromptLimits` and `PromptSpec` document;
//! - `canonical()` of every parsed spec parses back to exactly that spec (`render.rs`).
//!   The re-parse lifts `max_length` only: the cap is on what the member typed, and the
//!   canonical spelling may be longer than the input (`--c 5` → `--chaos 5`, `--no a,b` →
//!   `--no a, b`), so a prompt at the cap may have a canonical form over it.
#![no_main]

use easel::prompt::{PromptLimits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let limit_sets = [
        PromptLimits::default(),
        PromptLimits { max_prompts: 16, ..Default::default() },
        // A square-only, single-prompt, short-message bot: exercises the refusal paths.
        PromptLimits { max_prompts: 0, max_aspect: 1.0, max_length: 64 },
    ];
    for limits in &limit_sets {
        let Ok(specs) = parse(input, limits) else { continue };
        assert!(!specs.is_empty() && specs.len() <= limits.max_prompts.max(1), "{} specs", specs.len());
        let reparse_limits = PromptLimits { max_length: usize::MAX, ..limits.clone() };
        for spec in specs {
            assert!(!spec.text.is_empty());
            assert_eq!(spec.text.split_whitespace().collect::<Vec<_>>().join(" "), spec.text);
            assert!(spec.params.no.iter().all(|item| !item.is_empty() && item.trim() == item));
            let canonical = spec.canonical();
            assert_eq!(
                parse(&canonical, &reparse_limits),
                Ok(vec![spec]),
                "canonical {canonical:?} of {input:?} does not read back"
            );
        }
    }
});
