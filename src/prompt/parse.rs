//! Parsing one already-expanded prompt into a [`PromptSpec`]: split on whitespace, take the
//! leading image URLs, then the text up to the first flag, then walk the flags. The prompt's
//! shape is fixed — `[urls] text [--flag value]…` — so anything that breaks it (text after
//! a parameter, a flag twice, a flag with no value) is an error naming the spot, rather than
//! a silent guess the member would only discover from the images.

use super::PromptLimits;
use super::error::{PromptError, quote};
use super::flags::{self, Arity};
use super::param::Param;
use super::spec::PromptSpec;
use super::values;

/// One parsed prompt and the `--repeat` it asked for: the flag and value as written (for the
/// cap's message) and the number of copies.
pub(crate) struct Parsed {
    pub spec: PromptSpec,
    pub repeat: Option<(String, u8)>,
}

pub(crate) fn parse_one(input: &str, limits: &PromptLimits) -> Result<Parsed, PromptError> {
    let tokens: Vec<&str> = input.split_whitespace().collect();
    let mut spec = PromptSpec::default();
    let mut repeat = None;
    let mut rest = &tokens[..];

    while let Some((url, tail)) = rest.split_first().and_then(|(t, tail)| Some((values::image_url(t)?, tail)))
    {
        spec.image_urls.push(url.to_string());
        rest = tail;
    }

    let text_len = words_before_flag(rest);
    spec.text = rest[..text_len].join(" ");
    rest = &rest[text_len..];

    // (param, flag as written) for each flag seen, to name both spellings of a duplicate.
    let mut seen: Vec<(Param, String)> = Vec::new();
    while let Some((token, tail)) = rest.split_first() {
        rest = tail;
        // Every loop turn starts on a flag: text is consumed above or reported below.
        let name = flags::flag_name(token).unwrap_or(token);
        let flag = format!("--{}", quote(&name.to_lowercase()));
        if flags::is_video(name) {
            return Err(PromptError::VideoParam { flag });
        }
        let Some((param, arity)) = flags::lookup(name) else {
            return Err(PromptError::UnknownParam { flag });
        };

        let value_len = match arity {
            Arity::None => 0,
            Arity::One => usize::from(rest.first().is_some_and(|t| flags::flag_name(t).is_none())),
            Arity::OptionalNumber => {
                usize::from(rest.first().is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit())))
            }
            Arity::List => words_before_flag(rest),
        };
        let value = (value_len > 0).then(|| rest[..value_len].join(" "));
        rest = &rest[value_len..];
        let param = flags::refine(param, value.as_deref());
        check_repeats(&seen, param, &flag)?;
        seen.push((param, flag.clone()));
        if arity == Arity::One && value_len == 0 {
            return Err(flags::missing(&flag, param));
        }
        match (param, &value) {
            (Param::Repeat, Some(v)) => {
                repeat = Some((format!("{flag} {}", quote(v)), flags::repeat(&flag, v)?))
            }
            _ => flags::apply(param, &flag, value.as_deref(), &mut spec.params, limits.max_aspect)?,
        }

        let stray_len = words_before_flag(rest);
        if stray_len > 0 {
            let after = match &value {
                Some(v) => format!("{flag} {}", quote(v)),
                None => flag,
            };
            return Err(PromptError::TextAfterParams { text: quote(&rest[..stray_len].join(" ")), after });
        }
    }

    // Checked last so a prompt written parameters-first gets the more useful
    // "put the text before the parameters" message from the walk above.
    if spec.text.is_empty() {
        return Err(PromptError::EmptyText { has_images: !spec.image_urls.is_empty() });
    }
    Ok(Parsed { spec, repeat })
}

/// How many tokens at the start of `tokens` are words rather than flags.
fn words_before_flag(tokens: &[&str]) -> usize {
    tokens.iter().position(|t| flags::flag_name(t).is_some()).unwrap_or(tokens.len())
}

/// Flags that each set the same thing, so one prompt may use only one of them: a backend
/// could only guess which was meant.
const CONFLICTS: [(&[Param], &str); 3] = [
    (&[Param::Version, Param::Niji], "model"),
    (&[Param::StyleRaw, Param::StyleCode], "style"),
    (&[Param::Relax, Param::Fast, Param::Turbo], "speed"),
];

/// Refuses a second use of a parameter, under any alias (or the same flag twice with
/// different values, as `--style raw --style cute`), and two flags that set one thing.
fn check_repeats(seen: &[(Param, String)], param: Param, flag: &str) -> Result<(), PromptError> {
    for (earlier, earlier_flag) in seen {
        if *earlier == param || earlier_flag == flag {
            return Err(PromptError::Duplicate {
                param: param.flag(),
                first: earlier_flag.clone(),
                second: flag.to_string(),
            });
        }
        let conflict = CONFLICTS.iter().find(|(group, _)| group.contains(earlier) && group.contains(&param));
        if let Some(&(_, what)) = conflict {
            return Err(PromptError::Conflict {
                first: earlier_flag.clone(),
                second: flag.to_string(),
                what,
            });
        }
    }
    Ok(())
}
