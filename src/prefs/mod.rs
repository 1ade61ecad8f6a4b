//! What each member chose for themselves: /settings (default aspect ratio, model, stylize,
//! variation strength, private and remix modes) and /prefer (a suffix added to every prompt,
//! and named options that `--name` expands to). The pure functions here turn a member's
//! prompt and preferences into what is parsed; [`crate::db`] keeps them and `cache`
//! ([`Prefs`]) serves them from memory.

pub mod cache;

pub use crate::db::{UserSettings, parse_aspect};
pub use cache::Prefs;

use crate::prompt::PromptSpec;

/// Stylize presets offered in /settings, as Midjourney names them.
pub const STYLIZE_PRESETS: [(&str, u16); 4] = [("low", 50), ("med", 100), ("high", 250), ("very high", 750)];

/// Aspect ratios offered in /settings.
pub const ASPECTS: [&str; 7] = ["1:1", "2:3", "3:2", "4:5", "5:4", "9:16", "16:9"];

/// Limits on what /prefer stores, so a member can't fill the database or the prompt.
pub const MAX_OPTIONS: usize = 20;
pub const MAX_OPTION_VALUE: usize = 500;
pub const MAX_SUFFIX: usize = 300;

/// Why a /prefer change was refused, in words for the member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreferError {
    #[error("`{0}` is not a usable option name: use 1–20 letters, digits, `-` or `_`, e.g. `mine`.")]
    BadName(String),
    #[error("`--{0}` is one of Easel's own parameters, so an option can't take that name. Pick another.")]
    Reserved(String),
    #[error("That value is {0} characters long; an option may hold at most {max}.", max = MAX_OPTION_VALUE)]
    TooLong(usize),
    #[error("You already have {max} options; delete one with /prefer option delete first.", max = MAX_OPTIONS)]
    TooMany,
    #[error("That suffix is {0} characters long; it may be at most {max}.", max = MAX_SUFFIX)]
    SuffixTooLong(usize),
}

/// Checks a new option's name and value.
pub fn check_option(name: &str, value: &str) -> Result<String, PreferError> {
    let name = name.trim().trim_start_matches('-').to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 20
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if !ok {
        return Err(PreferError::BadName(name));
    }
    if crate::prompt::is_parameter(&name) {
        return Err(PreferError::Reserved(name));
    }
    if value.chars().count() > MAX_OPTION_VALUE {
        return Err(PreferError::TooLong(value.chars().count()));
    }
    Ok(name)
}

/// The prompt as the member meant it: each `--name` of one of their options replaced by its
/// value, and their suffix added. Text stays before parameters (the parser requires it), so
/// the text of an option or the suffix joins the prompt's text and their parameters go to the
/// end; a suffix parameter whose setting the prompt already chose (under any alias: `--ar`
/// and `--aspect`, `--fast` and `--relax`) is left out, since the prompt's wins.
pub fn compose(raw: &str, suffix: &str, options: &[(String, String)]) -> String {
    let option = |token: &str| -> Option<&str> {
        let name = crate::prompt::flag_of(token)?.to_ascii_lowercase();
        options.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    };
    let (mut text, mut params) = (Vec::new(), Vec::new());
    let mut in_params = false;
    for token in raw.split_whitespace() {
        if let Some(value) = option(token) {
            let (t, p) = split(value);
            text.extend(t);
            params.extend(p);
            continue;
        }
        in_params |= crate::prompt::flag_of(token).is_some();
        if in_params { params.push(token) } else { text.push(token) }
    }
    let setting = |flag: &str| crate::prompt::setting_of(flag).unwrap_or_else(|| flag.to_ascii_lowercase());
    let present: Vec<String> = params.iter().filter_map(|t| crate::prompt::flag_of(t)).map(setting).collect();
    let (suffix_text, suffix_params) = split(suffix);
    text.extend(suffix_text);
    let mut skipping = false;
    for token in suffix_params {
        if let Some(flag) = crate::prompt::flag_of(token) {
            skipping = present.contains(&setting(flag));
        }
        if !skipping {
            params.push(token);
        }
    }
    text.into_iter().chain(params).collect::<Vec<_>>().join(" ")
}

/// A prompt fragment's text and its parameters (from the first flag on).
fn split(s: &str) -> (Vec<&str>, Vec<&str>) {
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let at = tokens.iter().position(|t| crate::prompt::flag_of(t).is_some()).unwrap_or(tokens.len());
    (tokens[..at].to_vec(), tokens[at..].to_vec())
}

/// Fills what the prompt left unsaid from the member's defaults.
pub fn apply_defaults(spec: &mut PromptSpec, settings: &UserSettings) {
    if spec.params.aspect.is_none() {
        spec.params.aspect = settings.aspect;
    }
    if spec.params.stylize.is_none() {
        spec.params.stylize = settings.stylize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Aspect;

    fn opts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn options_expand_and_the_suffix_is_appended() {
        let o = opts(&[("film", "35mm film, grain --s 250"), ("wide", "--ar 21:9")]);
        assert_eq!(compose("a street --film", "", &o), "a street 35mm film, grain --s 250");
        assert_eq!(compose("a street --wide", "muted --s 50", &o), "a street muted --ar 21:9 --s 50");
        assert_eq!(
            compose("a --film harbour", "", &o),
            "a 35mm film, grain harbour --s 250",
            "text stays first"
        );
        assert_eq!(compose("a street --FILM", "", &o), "a street 35mm film, grain --s 250", "any case");
        assert_eq!(compose("a street --unknown", "", &o), "a street --unknown", "the parser will explain");
    }

    #[test]
    fn a_suffix_never_repeats_a_parameter_the_prompt_already_has() {
        assert_eq!(compose("a cat --ar 1:1", "--ar 16:9 --s 100", &[]), "a cat --ar 1:1 --s 100");
        assert_eq!(compose("a cat", "cinematic --ar 16:9", &[]), "a cat cinematic --ar 16:9");
        assert_eq!(
            compose("a cat --ar 1:1", "watercolor --chaos 20", &[]),
            "a cat watercolor --ar 1:1 --chaos 20"
        );
    }

    #[test]
    fn a_suffix_gives_way_to_the_same_setting_under_another_name() {
        assert_eq!(compose("a cat --aspect 1:1", "--ar 16:9", &[]), "a cat --aspect 1:1");
        assert_eq!(compose("a cat --fast", "--relax --s 50", &[]), "a cat --fast --s 50");
        assert_eq!(compose("a cat --niji 6", "--v 7", &[]), "a cat --niji 6");
        assert_eq!(compose("a cat --style raw", "--raw", &[]), "a cat --style raw");
        let specs = crate::prompt::parse(&compose("a cat --turbo", "--relax", &[]), &Default::default());
        assert!(specs.is_ok(), "a suffix speed must not conflict with the prompt's: {specs:?}");
    }

    #[test]
    fn option_names_are_checked() {
        assert_eq!(check_option("--Mine", "x"), Ok("mine".into()));
        assert_eq!(check_option("ar", "x"), Err(PreferError::Reserved("ar".into())));
        assert_eq!(check_option("stylize", "x"), Err(PreferError::Reserved("stylize".into())));
        assert_eq!(check_option("my option", "x"), Err(PreferError::BadName("my option".into())));
        assert_eq!(check_option("ok", &"x".repeat(501)), Err(PreferError::TooLong(501)));
    }

    #[test]
    fn defaults_fill_only_what_the_prompt_left_out() {
        let settings =
            UserSettings { aspect: parse_aspect("3:2"), stylize: Some(250), ..UserSettings::default() };
        let mut spec = PromptSpec::default();
        spec.params.stylize = Some(10);
        apply_defaults(&mut spec, &settings);
        assert_eq!(spec.params.aspect, Some(Aspect { w: 3, h: 2 }));
        assert_eq!(spec.params.stylize, Some(10));
    }
}
