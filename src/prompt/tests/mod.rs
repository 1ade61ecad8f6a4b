//! Tests for the prompt module, split by concern: flags and ranges, error wording,
//! permutations, and property tests.

mod errors;
mod flags;
mod permute;
mod props;
mod spec;

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
