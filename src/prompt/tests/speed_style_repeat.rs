//! Midjourney's mode and style parameters: `--relax`/`--fast`/`--turbo`, `--draft`, `--exp`,
//! `--style raw` or a style code, today's versions, `--repeat` as copies within the prompt
//! cap, and the video parameters refused by name.

use super::{err, one, whole_range};
use crate::prompt::{Param, PromptError, PromptLimits, PromptSpec, Speed, is_parameter, parse};

#[test]
fn speed_flags() {
    assert_eq!(one("cat --relax").params.speed, Some(Speed::Relax));
    assert_eq!(one("cat --FAST").params.speed, Some(Speed::Fast));
    assert_eq!(one("cat —turbo").params.speed, Some(Speed::Turbo));
    assert_eq!(one("cat").params.speed, None);
    assert!(matches!(err("cat --relax --turbo"), PromptError::Conflict { what: "speed", .. }));
    // A flag without a value leaves the next word as stray text.
    assert!(matches!(err("cat --fast please"), PromptError::TextAfterParams { .. }));
}

#[test]
fn draft_and_exp() {
    assert!(one("cat --draft").params.draft);
    assert!(!one("cat").params.draft);
    whole_range(&["exp"], 0, 100, |p| p.exp.map(u64::from));
}

#[test]
fn style_raw_or_a_code() {
    let raw = one("cat --style raw");
    assert!(raw.params.style_raw);
    assert_eq!(raw.params.style_code, None);
    for code in ["1234", "cute", "expressive", "raw-1Rh7c7Gd9CYkI", "random-32", "v5.2_x"] {
        let spec = one(&format!("cat --style {code}"));
        assert_eq!(spec.params.style_code.as_deref(), Some(code), "--style {code}");
        assert!(!spec.params.style_raw);
        assert_eq!(spec.present_params(), [Param::StyleCode]);
    }
    for bad in ["a/b", "é", "1,2"] {
        assert!(matches!(err(&format!("cat --style {bad}")), PromptError::BadStyle { .. }), "--style {bad}");
    }
}

#[test]
fn todays_versions() {
    for v in ["7", "8", "8.1", "6.1"] {
        assert_eq!(one(&format!("cat --v {v}")).params.version.as_deref(), Some(v));
    }
    assert_eq!(one("cat --niji 7").params.niji.as_deref(), Some("7"));
    assert_eq!(one("cat --niji 7").canonical(), "cat --niji 7");
}

fn all(input: &str, max_prompts: usize) -> Result<Vec<PromptSpec>, PromptError> {
    parse(input, &PromptLimits { max_prompts, ..Default::default() })
}

#[test]
fn repeat_makes_copies_without_the_flag() {
    for alias in ["repeat", "r", "R"] {
        let specs = all(&format!("a cat --{alias} 3 --ar 2:3"), 40).unwrap();
        assert_eq!(specs.len(), 3, "--{alias}");
        assert!(specs.iter().all(|s| *s == specs[0]));
        // The copies are already made: the canonical form must not ask for more.
        assert_eq!(specs[0].canonical(), "a cat --ar 2:3");
    }
    assert_eq!(all("a cat --r 1", 4).unwrap().len(), 1);
    assert_eq!(all("a cat --r 40", 40).unwrap().len(), 40);
    whole_range_of_repeat();
}

/// `--repeat` stores nothing, so its range is checked through the number of copies.
fn whole_range_of_repeat() {
    for bad in ["0", "41", "-1"] {
        assert!(matches!(all(&format!("cat --r {bad}"), 40), Err(PromptError::OutOfRange { .. })), "{bad}");
    }
    assert!(matches!(all("cat --r 2.5", 40), Err(PromptError::NotWhole { .. })));
    assert!(matches!(all("cat --r", 40), Err(PromptError::MissingValue { .. })));
}

#[test]
fn repeat_and_permutations_multiply_within_one_cap() {
    let specs = all("a {red, blue} cat --r 2", 4).unwrap();
    let texts: Vec<_> = specs.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["a red cat", "a red cat", "a blue cat", "a blue cat"]);
    // Each permutation may repeat differently.
    assert_eq!(all("a cat {--r 2, --r 3}", 5).unwrap().len(), 5);
    assert_eq!(
        all("a {red, blue} cat --r 3", 4),
        Err(PromptError::TooManyCopies { repeat: "--r 3".into(), count: 6, limit: 4, permuted: true })
    );
    assert_eq!(
        all("a cat --repeat 5", 4),
        Err(PromptError::TooManyCopies { repeat: "--repeat 5".into(), count: 5, limit: 4, permuted: false })
    );
    // A cap below one still lets one copy through, as it does one prompt.
    assert_eq!(all("a cat --r 1", 0).map(|v| v.len()), Ok(1));
    assert!(matches!(all("a cat --r 2", 0), Err(PromptError::TooManyCopies { limit: 1, .. })));
}

#[test]
fn video_parameters_are_refused_by_name() {
    assert_eq!(err("a cat --motion high"), PromptError::VideoParam { flag: "--motion".into() });
    assert_eq!(err("a cat —video"), PromptError::VideoParam { flag: "--video".into() });
    // They are reserved, so no /prefer option can take their names.
    for name in ["video", "motion", "loop", "end", "bs", "sref", "p", "repeat", "fast", "Turbo"] {
        assert!(is_parameter(name), "{name}");
    }
    assert!(!is_parameter("sparkle"));
}
