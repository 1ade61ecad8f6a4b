//! The Midjourney prompt syntax, as pure functions with no I/O: `/imagine` text in,
//! [`PromptSpec`]s out, or a [`PromptError`] whose message is written for the Discord member.
//!
//! A prompt is `[image URLs] text [--param value]…`, optionally with `{a, b}` permutations
//! or `--repeat N` that turn one message into several prompts. [`parse`] expands the
//! permutations first (`permute.rs`), over the raw string, because braces may also sit inside
//! parameter values; then each expansion is parsed on its own (`parse.rs`, with the parameter
//! vocabulary in `flags.rs` and the value checks in `values.rs`) and copied as often as its
//! `--repeat` asks. The types live in `spec.rs` and `param.rs`, the messages in `error.rs`,
//! and [`PromptSpec::canonical`] in `render.rs`.

mod error;
mod flags;
mod param;
mod parse;
mod permute;
mod render;
mod spec;
mod values;

#[cfg(test)]
mod tests;

pub use error::PromptError;

/// The flag name of a token such as `--ar` or `—ar` (phones turn `--` into dashes), if it is one.
pub fn flag_of(token: &str) -> Option<&str> {
    flags::flag_name(token)
}

/// Whether `name` (without dashes) is one of the parameters Easel understands, under any
/// alias, or one of the video parameters it refuses by name.
pub fn is_parameter(name: &str) -> bool {
    flags::lookup(name).is_some() || flags::is_video(name)
}
/// The setting a flag chooses, the same under every alias and for flags that exclude each
/// other (`--ar` and `--aspect`; `--relax`, `--fast` and `--turbo`; `--v` and `--niji`;
/// `--style` and `--raw`): a default from elsewhere gives way to the prompt's own choice.
pub fn setting_of(name: &str) -> Option<String> {
    let (param, _) = flags::lookup(name)?;
    Some(match param {
        Param::Relax | Param::Fast | Param::Turbo => "speed".into(),
        Param::Version | Param::Niji => "model".into(),
        Param::StyleRaw | Param::StyleCode => "style".into(),
        other => format!("{other:?}"),
    })
}

pub use param::Param;
pub use spec::{Aspect, Params, PromptSpec, Speed, StyleRef, StyleSource};

/// Bounds on what a member may ask for in one message.
#[derive(Debug, Clone)]
pub struct PromptLimits {
    /// Most prompts one message may make, through `{…}` permutations and `--repeat` together.
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
    let expansions = permute::expand(input, limits.max_prompts)?;
    let parsed =
        expansions.iter().map(|prompt| parse::parse_one(prompt, limits)).collect::<Result<Vec<_>, _>>()?;
    with_copies(parsed, limits.max_prompts)
}

/// Each prompt as many times as its `--repeat` asks (once without one), in order, within
/// the same cap as permutations: both are prompts the member is queueing at once.
fn with_copies(parsed: Vec<parse::Parsed>, max_prompts: usize) -> Result<Vec<PromptSpec>, PromptError> {
    let copies = |p: &parse::Parsed| p.repeat.as_ref().map_or(1, |(_, n)| u64::from(*n));
    let count: u64 = parsed.iter().map(copies).sum();
    let limit = max_prompts.max(1);
    if count > limit as u64 {
        // Only a repeat can push a count that permutations kept under the cap over it.
        let repeat = parsed.iter().find_map(|p| p.repeat.as_ref()).map(|(written, _)| written.clone());
        let repeat = repeat.unwrap_or_default();
        return Err(PromptError::TooManyCopies { repeat, count, limit, permuted: parsed.len() > 1 });
    }
    let mut specs = Vec::with_capacity(count as usize);
    for p in &parsed {
        for _ in 0..copies(p) {
            specs.push(p.spec.clone());
        }
    }
    Ok(specs)
}
