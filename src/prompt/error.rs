//! [`PromptError`]: everything that can be wrong with a prompt, worded for the Discord member
//! who typed it. Each message names the parameter and value as the member wrote them and says
//! what is allowed instead, so the member can fix the prompt without reading documentation.
//! Quoted input is clipped (see [`quote`]) because a 6000-character prompt must not turn into
//! an error longer than a Discord message.

/// A prompt Easel cannot run. `Display` is the message shown to the member.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    #[error("Your prompt is {length} characters long; the limit is {limit}. Shorten it and try again.")]
    TooLong { length: usize, limit: usize },

    #[error("The `{{` at character {position} (`{near}`) is never closed: add a `}}` after its last option.")]
    UnclosedBrace { position: usize, near: String },

    #[error(
        "The `}}` at character {position} (`{near}`) has no `{{` before it: remove it or add the missing `{{`."
    )]
    UnopenedBrace { position: usize, near: String },

    #[error("Braces `{{…}}` are nested more than {limit} deep: flatten them.")]
    NestedTooDeep { limit: usize },

    #[error("`{{…}}` expands to {} prompts; the limit is {limit}. Remove some options.", count_words(.count))]
    TooManyPrompts { count: u64, limit: usize },

    #[error("{}", copies_message(.repeat, .count, .limit, .permuted))]
    TooManyCopies {
        /// The repeat as written, e.g. `--r 5`.
        repeat: String,
        count: u64,
        limit: usize,
        /// Whether `{…}` permutations multiplied the copies.
        permuted: bool,
    },

    #[error("{}", empty_text_message(.has_images))]
    EmptyText { has_images: bool },

    #[error("`{flag}` is not a parameter Easel knows. Known parameters: {}.", super::flags::KNOWN_LIST)]
    UnknownParam { flag: String },

    #[error("`{flag}` needs a value, e.g. `{flag} {example}`.")]
    MissingValue { flag: String, example: &'static str },

    #[error("`{flag} {value}` is not a number: use {allowed}.")]
    NotANumber { flag: String, value: String, allowed: String },

    #[error("`{flag} {value}` is not a whole number: use {allowed}.")]
    NotWhole { flag: String, value: String, allowed: String },

    #[error("`{flag} {value}` is out of range: use {allowed}.")]
    OutOfRange { flag: String, value: String, allowed: String },

    #[error("`{flag} {value}` is not allowed: use {allowed}.")]
    NotAllowed { flag: String, value: String, allowed: String },

    #[error(
        "`{flag} {value}` is not an aspect ratio: write width:height with whole numbers from 1 up, e.g. `{flag} 16:9`."
    )]
    BadAspect { flag: String, value: String },

    #[error(
        "`{flag} {value}` is too {}: the aspect ratio must be between 1:{max} and {max}:1.",
        wide_word(.wide)
    )]
    AspectOutOfRange { flag: String, value: String, wide: bool, max: f64 },

    #[error(
        "`{flag} {value}` is not a style: use `{flag} raw` or a style code of letters, digits, dots and \
         dashes, e.g. `{flag} 1234`."
    )]
    BadStyle { flag: String, value: String },

    #[error("`{flag}` takes one image link, not {count}: keep one.")]
    OneOnly { flag: String, count: usize },

    #[error("`{flag}` is a video parameter, and Easel makes images, not videos: remove `{flag}`.")]
    VideoParam { flag: String },

    #[error(
        "`{flag} {value}` is not a valid version: use only letters, digits, dots, dashes and underscores, e.g. `{flag} 6.1`."
    )]
    BadVersion { flag: String, value: String },

    #[error("{}", duplicate_message(.param, .first, .second))]
    Duplicate {
        /// The parameter's usual spelling, e.g. `--chaos`.
        param: &'static str,
        /// The two spellings the member used, e.g. `--c` and `--chaos`.
        first: String,
        second: String,
    },

    #[error("`{first}` and `{second}` both choose the {what}: keep one.")]
    Conflict {
        first: String,
        second: String,
        /// What both flags set: `model`, `style` or `speed`.
        what: &'static str,
    },

    #[error("Put all text before the first parameter: found `{text}` after `{after}`.")]
    TextAfterParams { text: String, after: String },
}

fn count_words(count: &u64) -> String {
    let count = *count;
    // Saturated counts are meaningless digits; the member only needs to know it is far over.
    if count >= 1_000_000 { "more than a million".to_string() } else { count.to_string() }
}

fn copies_message(repeat: &str, count: &u64, limit: &usize, permuted: &bool) -> String {
    if *permuted {
        format!(
            "`{{…}}` and `{repeat}` together make {count} prompts; the limit is {limit}. \
             Remove some options or repeat fewer times."
        )
    } else {
        format!("`{repeat}` makes {count} prompts; the limit is {limit}. Repeat at most {limit} times.")
    }
}

fn empty_text_message(has_images: &bool) -> &'static str {
    if *has_images {
        "Your prompt has image links but no text: describe what you want to see after the links."
    } else {
        "Your prompt has no text, only parameters: describe what you want to see."
    }
}

fn wide_word(wide: &bool) -> &'static str {
    if *wide { "wide" } else { "tall" }
}

fn duplicate_message(param: &str, first: &str, second: &str) -> String {
    if first == second {
        format!("`{first}` is given twice; keep one.")
    } else {
        format!("`{param}` is given twice (as `{first}` and `{second}`); keep one.")
    }
}

/// Longest stretch of member input quoted in a message, in characters.
const QUOTE_MAX: usize = 60;

/// Member input made safe to put between backticks: clipped to [`QUOTE_MAX`] characters and
/// with backticks swapped for quotes, which would otherwise end the code span early.
pub(crate) fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_MAX).map(|c| if c == '`' { '\'' } else { c }).collect();
    if s.chars().nth(QUOTE_MAX).is_some() {
        out.push('…');
    }
    out
}
