//! `{…}` permutations: order, nesting, escapes, empty options, braces in parameter values,
//! and the prompt cap.

use super::err;
use crate::prompt::{Aspect, PromptError, PromptLimits, PromptSpec, parse};

fn texts(input: &str) -> Vec<String> {
    expand_all(input).into_iter().map(|s| s.text).collect()
}

fn expand_all(input: &str) -> Vec<PromptSpec> {
    let limits = PromptLimits { max_prompts: 100, ..Default::default() };
    match parse(input, &limits) {
        Ok(specs) => specs,
        Err(e) => panic!("{input:?} failed: {e}"),
    }
}

#[test]
fn no_braces_is_one_prompt() {
    assert_eq!(texts("a bird"), ["a bird"]);
}

#[test]
fn simple_group() {
    assert_eq!(texts("a {red, blue} bird"), ["a red bird", "a blue bird"]);
}

#[test]
fn product_leftmost_varies_slowest() {
    assert_eq!(texts("{a, b} {1, 2}"), ["a 1", "a 2", "b 1", "b 2"]);
}

#[test]
fn nested_groups_flatten() {
    assert_eq!(texts("{a, {b, c}}"), ["a", "b", "c"]);
    assert_eq!(
        texts("a {big {red, blue}, small} bird"),
        ["a big red bird", "a big blue bird", "a small bird"]
    );
}

#[test]
fn escaped_comma_inside_braces() {
    assert_eq!(texts("{cat\\, dog, bird}"), ["cat, dog", "bird"]);
    // Outside braces a backslash is ordinary text.
    assert_eq!(texts("cat\\, dog"), ["cat\\, dog"]);
}

#[test]
fn options_are_trimmed() {
    assert_eq!(texts("a{ red , blue }bird"), ["aredbird", "abluebird"]);
}

#[test]
fn empty_options_leave_the_words_out() {
    assert_eq!(texts("a {, red} bird"), ["a bird", "a red bird"]);
    assert_eq!(texts("a {} bird"), ["a bird"]);
    assert_eq!(texts("a {,} bird"), ["a bird", "a bird"]);
    // If every word is optional, the empty prompt is refused like any other.
    assert!(matches!(err("{cat, }"), PromptError::EmptyText { .. }));
}

#[test]
fn duplicates_are_kept() {
    assert_eq!(texts("{cat, cat}"), ["cat", "cat"]);
}

#[test]
fn braces_in_parameter_values() {
    let specs = expand_all("a bird --ar {1:1, 2:3}");
    let aspects: Vec<_> = specs.iter().map(|s| s.params.aspect).collect();
    assert_eq!(aspects, [Some(Aspect::SQUARE), Some(Aspect { w: 2, h: 3 })]);
    let specs = expand_all("a bird {--tile, }");
    assert_eq!(specs.iter().map(|s| s.params.tile).collect::<Vec<_>>(), [true, false]);
    let specs = expand_all("a bird --no {red\\, blue, green}");
    assert_eq!(specs[0].params.no, ["red", "blue"]);
    assert_eq!(specs[1].params.no, ["green"]);
}

#[test]
fn an_invalid_expansion_fails_the_whole_prompt() {
    assert!(matches!(err("cat --chaos {5, 500}"), PromptError::OutOfRange { .. }));
}

#[test]
fn prompt_cap() {
    let limits = PromptLimits::default();
    assert_eq!(parse("{a, b} {c, d}", &limits).map(|v| v.len()), Ok(4));
    assert_eq!(parse("{a, b, c, d, e}", &limits), Err(PromptError::TooManyPrompts { count: 5, limit: 4 }));
    // A cap below one still lets an ordinary prompt through.
    let zero = PromptLimits { max_prompts: 0, ..Default::default() };
    assert_eq!(parse("a cat", &zero).map(|v| v.len()), Ok(1));
}

#[test]
fn unbalanced_braces() {
    assert_eq!(
        err("a {red, {blue} bird"),
        PromptError::UnclosedBrace { position: 3, near: "a {red, {blue} …".into() }
    );
    assert!(matches!(err("}{"), PromptError::UnopenedBrace { position: 1, .. }));
    assert!(matches!(err("{a}}"), PromptError::UnopenedBrace { position: 4, .. }));
}

#[test]
fn unicode_around_braces() {
    assert_eq!(texts("🎨 {çà, 日本} ✨"), ["🎨 çà ✨", "🎨 日本 ✨"]);
    assert!(matches!(err("日本 {"), PromptError::UnclosedBrace { position: 4, .. }));
}
