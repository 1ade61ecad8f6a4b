//! The exact member-facing wording of every error: each must name the flag, the value as
//! written and what is allowed instead.

use super::{err, msg};
use crate::prompt::{PromptError, PromptLimits, parse};

#[test]
fn out_of_range_names_flag_value_and_range() {
    assert_eq!(msg("cat --chaos 150"), "`--chaos 150` is out of range: use a whole number from 0 to 100.");
    assert_eq!(msg("cat --c -1"), "`--c -1` is out of range: use a whole number from 0 to 100.");
    assert_eq!(msg("cat --stop 9"), "`--stop 9` is out of range: use a whole number from 10 to 100.");
    assert_eq!(
        msg("cat --seed 4294967296"),
        "`--seed 4294967296` is out of range: use a whole number from 0 to 4294967295."
    );
    assert_eq!(
        msg("cat --s 99999999999999999999999999999999999999999999"),
        "`--s 99999999999999999999999999999999999999999999` is out of range: \
         use a whole number from 0 to 1000."
    );
    assert_eq!(msg("cat --iw 3.5"), "`--iw 3.5` is out of range: use a number from 0 to 3.");
}

#[test]
fn not_a_number_and_not_whole() {
    assert_eq!(
        msg("cat --seed abc"),
        "`--seed abc` is not a number: use a whole number from 0 to 4294967295."
    );
    assert_eq!(
        msg("cat --weird 5.5"),
        "`--weird 5.5` is not a whole number: use a whole number from 0 to 3000."
    );
    assert_eq!(msg("cat --q best"), "`--q best` is not a number: use one of .25, .5, 1, 2 or 4.");
    assert_eq!(msg("cat --iw lots"), "`--iw lots` is not a number: use a number from 0 to 3.");
    assert_eq!(msg("cat --chaos inf"), "`--chaos inf` is not a number: use a whole number from 0 to 100.");
}

#[test]
fn quality_not_allowed() {
    assert_eq!(msg("cat --quality 3"), "`--quality 3` is not allowed: use one of .25, .5, 1, 2 or 4.");
}

#[test]
fn aspect_messages() {
    assert_eq!(msg("cat --ar 5:1"), "`--ar 5:1` is too wide: the aspect ratio must be between 1:4 and 4:1.");
    assert_eq!(
        msg("cat --aspect 1:5"),
        "`--aspect 1:5` is too tall: the aspect ratio must be between 1:4 and 4:1."
    );
    assert_eq!(
        msg("cat --ar 16/9"),
        "`--ar 16/9` is not an aspect ratio: write width:height with whole numbers from 1 up, \
         e.g. `--ar 16:9`."
    );
}

#[test]
fn unknown_parameter_lists_the_known_ones() {
    assert_eq!(
        msg("cat --foo 3"),
        "`--foo` is not a parameter Easel knows. Known parameters: --ar, --seed, --no, --chaos, \
         --stylize, --quality, --weird, --tile, --style, --stop, --exp, --draft, --v, --niji, --iw, \
         --sref, --sw, --sv, --cref, --cw, --oref, --ow, --p, --repeat, --relax, --fast, --turbo."
    );
    // Em dash shown as the `--` the member meant.
    assert!(msg("cat —sparkle x").starts_with("`--sparkle` is not a parameter Easel knows."));
}

#[test]
fn missing_values_give_an_example() {
    assert_eq!(msg("cat --seed"), "`--seed` needs a value, e.g. `--seed 1234`.");
    assert_eq!(msg("cat --ar --tile"), "`--ar` needs a value, e.g. `--ar 16:9`.");
    assert_eq!(msg("cat --no"), "`--no` needs a value, e.g. `--no text, blur`.");
    assert_eq!(msg("cat --style"), "`--style` needs a value, e.g. `--style raw`.");
    for flag in [
        "chaos", "stylize", "quality", "weird", "stop", "v", "iw", "c", "s", "q", "w", "version", "aspect",
        "exp", "sw", "sv", "cw", "ow", "repeat", "r", "sref", "cref", "oref",
    ] {
        assert!(matches!(err(&format!("cat --{flag}")), PromptError::MissingValue { .. }), "--{flag}");
    }
}

#[test]
fn style_that_is_no_code() {
    assert_eq!(
        msg("cat --style a/b"),
        "`--style a/b` is not a style: use `--style raw` or a style code of letters, digits, dots \
         and dashes, e.g. `--style 1234`."
    );
}

#[test]
fn new_parameters_out_of_range_name_flag_value_and_range() {
    assert_eq!(msg("cat --sw 1001"), "`--sw 1001` is out of range: use a whole number from 0 to 1000.");
    assert_eq!(msg("cat --sv 0"), "`--sv 0` is out of range: use a whole number from 1 to 7.");
    assert_eq!(msg("cat --cw 101"), "`--cw 101` is out of range: use a whole number from 0 to 100.");
    assert_eq!(msg("cat --ow 0"), "`--ow 0` is out of range: use a whole number from 1 to 1000.");
    assert_eq!(msg("cat --exp 101"), "`--exp 101` is out of range: use a whole number from 0 to 100.");
    assert_eq!(msg("cat --r 41"), "`--r 41` is out of range: use a whole number from 1 to 40.");
    assert_eq!(msg("cat --repeat 0"), "`--repeat 0` is out of range: use a whole number from 1 to 40.");
    assert_eq!(msg("cat --sw lots"), "`--sw lots` is not a number: use a whole number from 0 to 1000.");
}

#[test]
fn references_that_are_not_links_or_codes() {
    assert_eq!(
        msg("cat --sref watercolor"),
        "`--sref watercolor` is not allowed: use image links (http:// or https://), style codes \
         made of digits, or `random`, each optionally followed by a weight such as `::2`."
    );
    assert_eq!(
        msg("cat --cref 1234"),
        "`--cref 1234` is not allowed: use image links starting with http:// or https://."
    );
    assert_eq!(
        msg("cat --oref https://a.example/1.png https://a.example/2.png"),
        "`--oref` takes one image link, not 2: keep one."
    );
    assert_eq!(msg("cat --sref"), "`--sref` needs a value, e.g. `--sref 1234567`.");
    assert_eq!(msg("cat --cref"), "`--cref` needs a value, e.g. `--cref https://example.com/face.png`.");
    assert_eq!(msg("cat --oref"), "`--oref` needs a value, e.g. `--oref https://example.com/object.png`.");
    assert_eq!(
        msg("cat --p a/b"),
        "`--p a/b` is not allowed: use profile or moodboard codes made of letters and digits, or \
         `--p` alone for your default profile."
    );
}

#[test]
fn video_parameters_say_easel_makes_images() {
    assert_eq!(
        msg("a cat --video"),
        "`--video` is a video parameter, and Easel makes images, not videos: remove `--video`."
    );
    for flag in ["motion high", "loop", "end https://x.example/a.png", "bs 2", "MOTION low"] {
        assert!(matches!(err(&format!("a cat --{flag}")), PromptError::VideoParam { .. }), "--{flag}");
    }
}

#[test]
fn speed_and_style_conflicts() {
    assert_eq!(msg("cat --fast --relax"), "`--fast` and `--relax` both choose the speed: keep one.");
    assert_eq!(msg("cat --turbo --turbo"), "`--turbo` is given twice; keep one.");
    assert_eq!(msg("cat --style cute --raw"), "`--style` and `--raw` both choose the style: keep one.");
    assert_eq!(msg("cat --raw --style 1234"), "`--raw` and `--style` both choose the style: keep one.");
    assert_eq!(msg("cat --style raw --style cute"), "`--style` is given twice; keep one.");
    assert_eq!(
        msg("cat --p --personalize x"),
        "`--p` is given twice (as `--p` and `--personalize`); keep one."
    );
    assert_eq!(msg("cat --r 2 --repeat 2"), "`--repeat` is given twice (as `--r` and `--repeat`); keep one.");
}

#[test]
fn repeat_over_the_cap_names_the_cap() {
    assert_eq!(msg("cat --r 5"), "`--r 5` makes 5 prompts; the limit is 4. Repeat at most 4 times.");
    assert_eq!(
        msg("a {red, blue} cat --repeat 3"),
        "`{…}` and `--repeat 3` together make 6 prompts; the limit is 4. Remove some options or \
         repeat fewer times."
    );
}

#[test]
fn bad_version() {
    assert_eq!(
        msg("cat --v 6?"),
        "`--v 6?` is not a valid version: use only letters, digits, dots, dashes and \
         underscores, e.g. `--v 6.1`."
    );
}

#[test]
fn duplicates_under_the_same_or_another_name() {
    assert_eq!(msg("cat --seed 1 --seed 2"), "`--seed` is given twice; keep one.");
    assert_eq!(msg("cat --c 1 --chaos 2"), "`--chaos` is given twice (as `--c` and `--chaos`); keep one.");
    assert_eq!(
        msg("cat --style raw --raw"),
        "`--style raw` is given twice (as `--style` and `--raw`); keep one."
    );
    assert_eq!(msg("cat --tile --TILE"), "`--tile` is given twice; keep one.");
    assert_eq!(msg("cat --no a --no b"), "`--no` is given twice; keep one.");
}

#[test]
fn version_and_niji_conflict() {
    assert_eq!(msg("cat --v 6 --niji 6"), "`--v` and `--niji` both choose the model: keep one.");
    assert_eq!(msg("cat --niji --version 6"), "`--niji` and `--version` both choose the model: keep one.");
}

#[test]
fn text_after_parameters() {
    assert_eq!(
        msg("a cat --ar 2:3 in a hat"),
        "Put all text before the first parameter: found `in a hat` after `--ar 2:3`."
    );
    assert_eq!(
        msg("a cat --tile wearing --seed 3"),
        "Put all text before the first parameter: found `wearing` after `--tile`."
    );
    assert_eq!(
        msg("--ar 16:9 a cat"),
        "Put all text before the first parameter: found `a cat` after `--ar 16:9`."
    );
    // --no takes words, so nothing after it is stray.
    assert_eq!(super::one("cat --no red hats and shoes").params.no, ["red hats and shoes"]);
}

#[test]
fn empty_text() {
    let expected = "Your prompt has no text, only parameters: describe what you want to see.";
    assert_eq!(msg(""), expected);
    assert_eq!(msg("   "), expected);
    assert_eq!(msg("--tile"), expected);
    assert_eq!(
        msg("https://x.example/a.png --ar 1:1"),
        "Your prompt has image links but no text: describe what you want to see after the links."
    );
}

#[test]
fn too_long_counts_characters() {
    let limits = PromptLimits::default();
    let at_limit = "é".repeat(6000);
    assert!(parse(&at_limit, &limits).is_ok(), "6000 two-byte characters are within the limit");
    let over = "a".repeat(6001);
    assert_eq!(
        parse(&over, &limits).unwrap_err().to_string(),
        "Your prompt is 6001 characters long; the limit is 6000. Shorten it and try again."
    );
}

#[test]
fn brace_errors_say_which_and_where() {
    assert_eq!(
        msg("a {red, blue bird"),
        "The `{` at character 3 (`a {red, blue bi…`) is never closed: add a `}` after its last option."
    );
    assert_eq!(
        msg("a red, blue} bird"),
        "The `}` at character 12 (`a red, blue} bird`) has no `{` before it: remove it or add the \
         missing `{`."
    );
    assert_eq!(
        msg("a long prompt text before the {brace and then more"),
        "The `{` at character 31 (`… before the {brace and th…`) is never closed: add a `}` \
         after its last option."
    );
}

#[test]
fn too_many_prompts() {
    assert_eq!(msg("a {1,2,3} {4,5,6}"), "`{…}` expands to 9 prompts; the limit is 4. Remove some options.");
    let huge = "{a,b}".repeat(100);
    assert_eq!(
        msg(&huge),
        "`{…}` expands to more than a million prompts; the limit is 4. Remove some options."
    );
}

#[test]
fn too_deep() {
    let deep = format!("{}x{}", "{".repeat(40), "}".repeat(40));
    assert_eq!(msg(&deep), "Braces `{…}` are nested more than 32 deep: flatten them.");
}

#[test]
fn quoted_input_is_clipped_and_backticks_replaced() {
    let long_word = "x".repeat(200);
    let m = msg(&format!("cat --seed {long_word}"));
    assert!(m.len() < 200, "{m}");
    assert!(m.contains('…'));
    assert_eq!(
        msg("cat --seed `1`"),
        "`--seed '1'` is not a number: use a whole number from 0 to 4294967295."
    );
}
