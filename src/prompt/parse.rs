//! Parsing one already-expanded prompt into a [`PromptSpec`]: split on whitespace, take the
//! leading image URLs, then the text up to the first flag, then walk the flags. The prompt's
//! shape is fixed — `[urls] text [--flag value]…` — so anything that breaks it (text after
//! a parameter, a flag twice, a flag with no value) is an error naming the spot, rather than
//! a silent guess the member would only discover from the images.

use super::PromptLimits;
use super::error::{PromptError, quote};
use super::flags::{self, Arity};
use super::spec::{Param, PromptSpec};

pub(crate) fn parse_one(input: &str, limits: &PromptLimits) -> Result<PromptSpec, PromptError> {
    let tokens: Vec<&str> = input.split_whitespace().collect();
    let mut spec = PromptSpec::default();
    let mut rest = &tokens[..];

    while let Some((url, tail)) = rest.split_first().and_then(|(t, tail)| Some((image_url(t)?, tail))) {
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
        let Some((param, arity)) = flags::lookup(name) else {
            return Err(PromptError::UnknownParam { flag });
        };
        check_repeats(&seen, param, &flag)?;
        seen.push((param, flag.clone()));

        let value_len = match arity {
            Arity::None => 0,
            Arity::One => usize::from(rest.first().is_some_and(|t| flags::flag_name(t).is_none())),
            Arity::OptionalNumber => {
                usize::from(rest.first().is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit())))
            }
            Arity::List => words_before_flag(rest),
        };
        if arity == Arity::One && value_len == 0 {
            return Err(flags::missing(&flag, param));
        }
        let value = (value_len > 0).then(|| rest[..value_len].join(" "));
        rest = &rest[value_len..];
        flags::apply(param, &flag, value.as_deref(), &mut spec.params, limits.max_aspect)?;

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
    Ok(spec)
}

/// How many tokens at the start of `tokens` are words rather than flags.
fn words_before_flag(tokens: &[&str]) -> usize {
    tokens.iter().position(|t| flags::flag_name(t).is_some()).unwrap_or(tokens.len())
}

/// Refuses a second use of a parameter, under any alias, and `--v` together with `--niji`
/// (both pick the model, and a backend could only guess which one was meant).
fn check_repeats(seen: &[(Param, String)], param: Param, flag: &str) -> Result<(), PromptError> {
    for (earlier, earlier_flag) in seen {
        if *earlier == param {
            return Err(PromptError::Duplicate {
                param: param.flag(),
                first: earlier_flag.clone(),
                second: flag.to_string(),
            });
        }
        let models = [Param::Version, Param::Niji];
        if models.contains(earlier) && models.contains(&param) {
            return Err(PromptError::Conflict { first: earlier_flag.clone(), second: flag.to_string() });
        }
    }
    Ok(())
}

/// The URL of a leading image-prompt token, or `None` if the token is text. Discord members
/// wrap links in `<…>` to stop embeds, so one pair of angle brackets is removed first.
fn image_url(token: &str) -> Option<&str> {
    let url = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(token);
    let lower_scheme = |scheme: &str| {
        url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme)) && url.len() > scheme.len()
    };
    (lower_scheme("http://") || lower_scheme("https://")).then_some(url)
}
