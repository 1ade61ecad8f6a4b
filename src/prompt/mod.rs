//! The Midjourney prompt syntax, as pure functions with no I/O: `/imagine` text in,
//! [`PromptSpec`]s out, or a [`PromptError`] whose message is written for the Discord member.
//!
//! A prompt is `[image URLs] text [--param value]…`, optionally with `{a, b}` permutations
//! that turn one message into several prompts. [`parse`] expands the permutations first
//! (`permute.rs`), over the raw string, because braces may also sit inside parameter values;
//! then each expansion is parsed on its own (`parse.rs`, with the parameter vocabulary in
//! `flags.rs`). The types live in `spec.rs`, the messages in `error.rs`, and
//! [`PromptSpec::canonical`] in `render.rs`.

mod error;
mod flags;
mod parse;
mod permute;
mod render;
mod spec;

#[cfg(test)]
mod tests;

pub use error::PromptError;

/// The flag name of a token such as `--ar` or `—ar` (phones turn `--` into dashes), if it is one.
pub fn flag_of(token: &str) -> Option<&str> {
    flags::flag_name(token)
}

/// Whether `name` (without dashes) is one of the parameters Easel understands, under any alias.
pub fn is_parameter(name: &str) -> bool {
    flags::lookup(&name.to_ascii_lowercase()).is_some()
}
pub use spec::{Aspect, Param, Params, PromptSpec};

/// Bounds on what a member may ask for in one message.
#[derive(Debug, Clone)]
pub struct PromptLimits {
    /// Most prompts one `{…}` permutation may expand to.
    pub max_prompts: usize,
    /// Widest aspect ratio, as long side / short side: 4.0 allows 1:4 through 4:1.
    pub max_aspect: f64,
    /// Most characters (not bytes) in the raw input.
    pub max_length: usize,
}

impl Default for PromptLimits {
    fn default() -> Self {
        PromptLimits { max_prompts: 4, max_aspect: 4.0, max_length: 6000 }
    }
}

/// Expands `{a, b}` permutations (nested), then parses each expanded prompt, in order
/// (cartesian product, leftmost group varying slowest). The first failing expansion's error
/// is returned; no partial result is, since the member should fix the prompt as a whole.
///
/// ```
/// use easel::prompt::{Aspect, PromptLimits, parse};
///
/// let specs = parse("a {red, blue} bird —ar 3:2", &PromptLimits::default()).unwrap();
/// assert_eq!(specs.len(), 2);
/// assert_eq!(specs[1].text, "a blue bird");
/// assert_eq!(specs[1].params.aspect, Some(Aspect { w: 3, h: 2 }));
/// assert_eq!(specs[1].canonical(), "a blue bird --ar 3:2");
///
/// let err = parse("a bird --chaos 150", &PromptLimits::default()).unwrap_err();
/// assert_eq!(err.to_string(), "`--chaos 150` is out of range: use a whole number from 0 to 100.");
/// ```
pub fn parse(input: &str, limits: &PromptLimits) -> Result<Vec<PromptSpec>, PromptError> {
    // Counted in characters, as the member sees them, and before any other work so an
    // oversized message costs nothing more.
    let length = input.chars().count();
    if length > limits.max_length {
        return Err(PromptError::TooLong { length, limit: limits.max_length });
    }
    permute::expand(input, limits.max_prompts)?
        .iter()
        .map(|prompt| parse::parse_one(prompt, limits))
        .collect()
}
