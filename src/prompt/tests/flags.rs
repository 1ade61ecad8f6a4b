//! Every flag and alias, accepted values at and inside the range edges, and the value one
//! past each edge being refused.

use super::{err, one, whole_range};
use crate::prompt::{Aspect, PromptError};

#[test]
fn seed_range_and_value() {
    whole_range(&["seed"], 0, u32::MAX.into(), |p| p.seed.map(u64::from));
}

#[test]
fn chaos_and_alias() {
    whole_range(&["chaos", "c"], 0, 100, |p| p.chaos.map(u64::from));
}

#[test]
fn stylize_and_alias() {
    whole_range(&["stylize", "s"], 0, 1000, |p| p.stylize.map(u64::from));
}

#[test]
fn weird_and_alias() {
    whole_range(&["weird", "w"], 0, 3000, |p| p.weird.map(u64::from));
}

#[test]
fn stop_range() {
    whole_range(&["stop"], 10, 100, |p| p.stop.map(u64::from));
}

#[test]
fn whole_numbers_written_with_a_point_are_accepted() {
    assert_eq!(one("cat --chaos 5.0").params.chaos, Some(5));
    assert_eq!(one("cat --seed +7").params.seed, Some(7));
    assert_eq!(one("cat --stylize 1e2").params.stylize, Some(100));
}

#[test]
fn aspect_and_alias() {
    for alias in ["ar", "aspect", "AR", "Aspect"] {
        let spec = one(&format!("cat --{alias} 16:9"));
        assert_eq!(spec.params.aspect, Some(Aspect { w: 16, h: 9 }));
    }
    // Kept as written, not reduced.
    assert_eq!(one("cat --ar 32:18").params.aspect, Some(Aspect { w: 32, h: 18 }));
}

#[test]
fn aspect_edges() {
    assert_eq!(one("cat --ar 4:1").params.aspect, Some(Aspect { w: 4, h: 1 }));
    assert_eq!(one("cat --ar 1:4").params.aspect, Some(Aspect { w: 1, h: 4 }));
    assert_eq!(one("cat --ar 400:100").params.aspect, Some(Aspect { w: 400, h: 100 }));
    assert!(matches!(err("cat --ar 401:100"), PromptError::AspectOutOfRange { wide: true, .. }));
    assert!(matches!(err("cat --ar 100:401"), PromptError::AspectOutOfRange { wide: false, .. }));
    assert!(matches!(err("cat --ar 5:1"), PromptError::AspectOutOfRange { wide: true, .. }));
}

#[test]
fn aspect_respects_custom_limit() {
    let limits = crate::prompt::PromptLimits { max_aspect: 2.0, ..Default::default() };
    assert!(crate::prompt::parse("cat --ar 2:1", &limits).is_ok());
    let e = crate::prompt::parse("cat --ar 3:1", &limits).unwrap_err();
    assert_eq!(e.to_string(), "`--ar 3:1` is too wide: the aspect ratio must be between 1:2 and 2:1.");
}

#[test]
fn aspect_malformed() {
    for bad in ["0:1", "1:0", "16/9", "16", "1.5:1", "a:b", "16:9:1", ":9", "-16:9", "99999999999:1"] {
        assert!(matches!(err(&format!("cat --ar {bad}")), PromptError::BadAspect { .. }), "--ar {bad}");
    }
}

#[test]
fn quality_values_and_alias() {
    for (written, stored) in [
        (".25", 0.25),
        ("0.25", 0.25),
        (".5", 0.5),
        ("0.5", 0.5),
        ("1", 1.0),
        ("1.0", 1.0),
        ("2", 2.0),
        ("4", 4.0),
    ] {
        assert_eq!(one(&format!("cat --quality {written}")).params.quality, Some(stored));
        assert_eq!(one(&format!("cat --q {written}")).params.quality, Some(stored));
    }
    for bad in ["0", "0.75", "3", "8", "-1"] {
        assert!(matches!(err(&format!("cat --q {bad}")), PromptError::NotAllowed { .. }), "{bad}");
    }
    assert!(matches!(err("cat --q high"), PromptError::NotANumber { .. }));
}

#[test]
fn image_weight_range() {
    assert_eq!(one("cat --iw 0").params.iw, Some(0.0));
    assert_eq!(one("cat --iw 3").params.iw, Some(3.0));
    assert_eq!(one("cat --iw 1.75").params.iw, Some(1.75));
    assert_eq!(one("cat --iw .5").params.iw, Some(0.5));
    // -0 is stored as plain 0 so it renders as "0".
    assert!(one("cat --iw -0").params.iw.is_some_and(|w| w.is_sign_positive()));
    for bad in ["-0.01", "3.01", "-1", "4"] {
        assert!(matches!(err(&format!("cat --iw {bad}")), PromptError::OutOfRange { .. }), "{bad}");
    }
    for bad in ["nan", "inf", "heavy", "1.2.3"] {
        assert!(matches!(err(&format!("cat --iw {bad}")), PromptError::NotANumber { .. }), "{bad}");
    }
}

#[test]
fn tile_and_raw() {
    assert!(one("cat --tile").params.tile);
    assert!(one("cat --TILE").params.tile);
    assert!(one("cat --style raw").params.style_raw);
    assert!(one("cat --style RAW").params.style_raw);
    assert!(one("cat --raw").params.style_raw);
    let spec = one("cat");
    assert!(!spec.params.tile && !spec.params.style_raw);
}

#[test]
fn version_and_alias() {
    for alias in ["v", "version", "V"] {
        assert_eq!(one(&format!("cat --{alias} 6.1")).params.version.as_deref(), Some("6.1"));
    }
    for ok in ["7", "5.2", "6-alpha", "sd_xl", "-1"] {
        assert_eq!(one(&format!("cat --v {ok}")).params.version.as_deref(), Some(ok));
    }
    for bad in ["6!", "6/1", "é"] {
        assert!(matches!(err(&format!("cat --v {bad}")), PromptError::BadVersion { .. }), "{bad}");
    }
}

#[test]
fn niji_with_and_without_value() {
    assert_eq!(one("cat --niji").params.niji.as_deref(), Some(""));
    assert_eq!(one("cat --niji 6").params.niji.as_deref(), Some("6"));
    assert_eq!(one("cat --niji 5 --ar 2:3").params.niji.as_deref(), Some("5"));
    assert_eq!(one("cat --niji --ar 2:3").params.niji.as_deref(), Some(""));
    assert!(matches!(err("cat --niji 6!"), PromptError::BadVersion { .. }));
    // A word after --niji is stray text, not a version.
    assert!(matches!(err("cat --niji in a hat"), PromptError::TextAfterParams { .. }));
}

#[test]
fn no_list() {
    let spec = one("cat --no red hats,  blue , , shoes");
    assert_eq!(spec.params.no, ["red hats", "blue", "shoes"]);
    assert_eq!(spec.negative_prompt().as_deref(), Some("red hats, blue, shoes"));
    let spec = one("cat --no text --ar 1:1");
    assert_eq!(spec.params.no, ["text"]);
    assert_eq!(spec.params.aspect, Some(Aspect::SQUARE));
    assert!(matches!(err("cat --no , ,"), PromptError::MissingValue { .. }));
    assert!(matches!(err("cat --no --tile"), PromptError::MissingValue { .. }));
}

/// Found by the `prompt_parse` fuzz target: `a cat --no :te,--no ` (minimised by libFuzzer
/// to `c --no ,--n`) put `--no` / `--n` in the list, from the tokens `:te,--no`
/// and `,--n`; `canonical()` then wrote `a cat --no :te, --no`, which read back as a duplicate
/// `--no`. A flag glued to the list by a comma is now refused.
#[test]
fn no_list_item_that_is_a_flag_is_refused() {
    assert_eq!(
        err("a cat --no :te,--no "),
        PromptError::NotAllowed {
            flag: "--no".to_string(),
            value: ":te,--no".to_string(),
            allowed: "words separated by commas; put a space before `--no` if it is a parameter".to_string(),
        }
    );
    assert!(matches!(err("c --no ,--n"), PromptError::NotAllowed { .. }));
    assert!(matches!(err("cat --no a,--tile"), PromptError::NotAllowed { .. }));
    assert!(matches!(err("cat --no a, b,—ar 2:3"), PromptError::NotAllowed { .. }));
    // A dash that starts no flag is still a word to avoid.
    assert_eq!(one("cat --no a,—, -ish").params.no, ["a", "—", "-ish"]);
}

#[test]
fn dashes_from_phones() {
    for dash in ["—", "–", "---", "—-", "-—"] {
        let spec = one(&format!("cat {dash}ar 2:3 {dash}tile"));
        assert_eq!(spec.params.aspect, Some(Aspect { w: 2, h: 3 }), "{dash}");
        assert!(spec.params.tile);
    }
    // A dash used as punctuation, or a single hyphen, stays text.
    assert_eq!(one("a cat — sleeping – soundly --ar 1:1").text, "a cat — sleeping – soundly");
    assert_eq!(one("-5 degrees -ish -- cold").text, "-5 degrees -ish -- cold");
}

#[test]
fn urls() {
    let spec = one("https://a.example/x.png http://b.example/y.jpg a cat https://c.example/z.png");
    assert_eq!(spec.image_urls, ["https://a.example/x.png", "http://b.example/y.jpg"]);
    assert_eq!(spec.text, "a cat https://c.example/z.png");
    let spec = one("<HTTPS://a.example/x.png> a cat");
    assert_eq!(spec.image_urls, ["HTTPS://a.example/x.png"]);
    // A bare scheme or another scheme is text.
    assert_eq!(one("https:// cat").text, "https:// cat");
    assert_eq!(one("ftp://a/b cat").text, "ftp://a/b cat");
}

#[test]
fn weights_and_whitespace_kept_as_text() {
    let spec = one("  cat::2   dog::-0.5 \n\t hot dog:: --seed 1 ");
    assert_eq!(spec.text, "cat::2 dog::-0.5 hot dog::");
    assert_eq!(spec.params.seed, Some(1));
}

#[test]
fn every_parameter_at_once() {
    let spec = one("http://x.example/a.png fox --aspect 2:3 --seed 9 --no a, b --c 5 --s 50 --q 2 \
         --w 7 --tile --raw --stop 20 --version 6 --iw 2");
    let p = &spec.params;
    assert_eq!(spec.text, "fox");
    assert_eq!(p.aspect, Some(Aspect { w: 2, h: 3 }));
    assert_eq!(
        (p.seed, p.chaos, p.stylize, p.weird, p.stop),
        (Some(9), Some(5), Some(50), Some(7), Some(20))
    );
    assert_eq!((p.quality, p.iw), (Some(2.0), Some(2.0)));
    assert!(p.tile && p.style_raw);
    assert_eq!(p.version.as_deref(), Some("6"));
}
