//! Midjourney's reference parameters: `--sref` (links, codes, `random`, `::` weights) with
//! `--sw` and `--sv`, `--cref` with `--cw`, `--oref` with `--ow`, and `--p` codes; their
//! ranges, and the URLs a backend could take as image inputs.

use super::{err, one, whole_range};
use crate::prompt::{Param, PromptError, StyleRef, StyleSource};

fn url(u: &str) -> StyleSource {
    StyleSource::Url(u.to_string())
}

fn code(c: &str) -> StyleSource {
    StyleSource::Code(c.to_string())
}

#[test]
fn sref_takes_links_codes_and_random() {
    let spec = one("cat --sref https://a.example/s.png 2530475463 random <https://b.example/t.jpg>");
    let sources: Vec<_> = spec.params.style_refs.iter().map(|r| r.source.clone()).collect();
    assert_eq!(
        sources,
        [
            url("https://a.example/s.png"),
            code("2530475463"),
            StyleSource::Random,
            url("https://b.example/t.jpg")
        ]
    );
    assert!(spec.params.style_refs.iter().all(|r| r.weight.is_none()));
    assert_eq!(one("cat --sref RANDOM").params.style_refs[0].source, StyleSource::Random);
    // Codes keep their digits as written.
    assert_eq!(one("cat --sref 0042").params.style_refs[0].source, code("0042"));
}

#[test]
fn sref_weights_after_double_colons() {
    let spec = one("cat --sref https://a.example/s.png::2 123::0.5 random::-1 <https://b.example/t.png>::3");
    let weights: Vec<_> = spec.params.style_refs.iter().map(|r| r.weight).collect();
    assert_eq!(weights, [Some(2.0), Some(0.5), Some(-1.0), Some(3.0)]);
    assert_eq!(spec.params.style_refs[3].source, url("https://b.example/t.png"));
    // `-0` is the zero the member meant.
    assert!(one("cat --sref 1::-0").params.style_refs[0].weight.is_some_and(|w| w.is_sign_positive()));
    // A `::` that no number follows is part of the link.
    let spec = one("cat --sref http://[::1]/s.png");
    assert_eq!(spec.params.style_refs, [StyleRef { source: url("http://[::1]/s.png"), weight: None }]);
}

#[test]
fn sref_refuses_words_and_bad_weights() {
    for bad in ["watercolor", "12a", "https://", "ftp://a.example/s.png", "1::1e99", "1::1.2.3", "::2"] {
        assert!(matches!(err(&format!("cat --sref {bad}")), PromptError::NotAllowed { .. }), "--sref {bad}");
    }
    // Text after the references reads as one more reference, and is refused as one.
    assert_eq!(
        err("cat --sref 123 in watercolor"),
        PromptError::NotAllowed {
            flag: "--sref".into(),
            value: "in".into(),
            allowed: "image links (http:// or https://), style codes made of digits, or `random`, each \
                      optionally followed by a weight such as `::2`"
                .into(),
        }
    );
}

#[test]
fn style_weight_and_version_ranges() {
    whole_range(&["sw"], 0, 1000, |p| p.style_weight.map(u64::from));
    whole_range(&["sv"], 1, 7, |p| p.style_version.map(u64::from));
}

#[test]
fn cref_takes_links_with_a_weight() {
    let spec = one("cat --cref https://a.example/face.png <https://b.example/face2.png> --cw 50");
    assert_eq!(spec.params.character_refs, ["https://a.example/face.png", "https://b.example/face2.png"]);
    assert_eq!(spec.params.character_weight, Some(50));
    whole_range(&["cw"], 0, 100, |p| p.character_weight.map(u64::from));
    for bad in ["123", "random", "face.png"] {
        assert!(matches!(err(&format!("cat --cref {bad}")), PromptError::NotAllowed { .. }), "--cref {bad}");
    }
}

#[test]
fn oref_takes_one_link_with_a_weight() {
    let spec = one("cat --oref <https://a.example/car.png> --ow 400");
    assert_eq!(spec.params.omni_ref.as_deref(), Some("https://a.example/car.png"));
    assert_eq!(spec.params.omni_weight, Some(400));
    whole_range(&["ow"], 1, 1000, |p| p.omni_weight.map(u64::from));
    assert!(matches!(err("cat --oref 123"), PromptError::NotAllowed { .. }));
    assert_eq!(
        err("cat --oref https://a.example/1.png https://a.example/2.png"),
        PromptError::OneOnly { flag: "--oref".into(), count: 2 }
    );
}

#[test]
fn personalize_bare_or_with_codes() {
    for alias in ["p", "personalize", "profile", "P"] {
        assert_eq!(one(&format!("cat --{alias}")).params.personalize, Some(vec![]), "--{alias}");
        let spec = one(&format!("cat --{alias} lb4pqzw m7216867 --ar 2:3"));
        assert_eq!(spec.params.personalize, Some(vec!["lb4pqzw".to_string(), "m7216867".to_string()]));
    }
    assert_eq!(one("cat").params.personalize, None);
    assert!(matches!(err("cat --p a,b"), PromptError::NotAllowed { .. }));
}

#[test]
fn present_params_and_reference_urls() {
    let spec = one("https://x.example/i.png cat --sref 123 https://x.example/s.png::2 random --sw 10 \
         --cref https://x.example/c.png --oref https://x.example/o.png --p --turbo");
    assert_eq!(
        spec.present_params(),
        [
            Param::ImagePrompt,
            Param::StyleRef,
            Param::StyleWeight,
            Param::CharacterRef,
            Param::OmniRef,
            Param::Personalize,
            Param::Turbo
        ]
    );
    assert_eq!(
        spec.reference_urls(),
        [
            (Param::ImagePrompt, "https://x.example/i.png"),
            (Param::StyleRef, "https://x.example/s.png"),
            (Param::CharacterRef, "https://x.example/c.png"),
            (Param::OmniRef, "https://x.example/o.png"),
        ]
    );
    assert_eq!(one("cat --sref 123 random").reference_urls(), []);
}

#[test]
fn flags_of_new_params() {
    let expected = [
        (Param::StyleCode, "--style"),
        (Param::Exp, "--exp"),
        (Param::Draft, "--draft"),
        (Param::StyleRef, "--sref"),
        (Param::StyleWeight, "--sw"),
        (Param::StyleVersion, "--sv"),
        (Param::CharacterRef, "--cref"),
        (Param::CharacterWeight, "--cw"),
        (Param::OmniRef, "--oref"),
        (Param::OmniWeight, "--ow"),
        (Param::Personalize, "--p"),
        (Param::Relax, "--relax"),
        (Param::Fast, "--fast"),
        (Param::Turbo, "--turbo"),
        (Param::Repeat, "--repeat"),
    ];
    for (param, flag) in expected {
        assert_eq!(param.flag(), flag, "{param:?}");
    }
    // Repeat is consumed by the parser, so no spec carries it and no backend is asked about it.
    assert!(!Param::ALL.contains(&Param::Repeat));
}
