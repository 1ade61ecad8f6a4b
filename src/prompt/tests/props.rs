//! Property tests: the parser is total (never panics, whatever the input), its output is
//! normalised and within the limits, and `canonical()` reads back to an equal spec.

use proptest::prelude::*;

use crate::prompt::{Aspect, Params, PromptLimits, PromptSpec, Speed, StyleRef, StyleSource, parse};

/// Fragments that exercise every branch: flags under all spellings, values good and bad,
/// braces, escapes, dashes, URLs, weights and non-ASCII text.
fn fragment() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{",
        "}",
        ",",
        "\\,",
        "\\",
        "--",
        "—",
        "–",
        "-",
        "::",
        "::2",
        "::-0.5",
        "--ar",
        "—ar",
        "--aspect",
        "16:9",
        "1:1",
        "5:1",
        "0:3",
        "--seed",
        "--no",
        "--c",
        "--chaos",
        "--s",
        "--q",
        ".25",
        "4",
        "--w",
        "--weird",
        "--tile",
        "--style",
        "raw",
        "RAW",
        "--raw",
        "--stop",
        "--v",
        "--version",
        "--niji",
        "6",
        "--iw",
        "1.5",
        "-0",
        "--foo",
        "--sref",
        "random",
        "2530475463",
        "::2",
        "https://x.example/s.png::0.5",
        "<https://x.example/s.png>::2",
        "--sw",
        "--sv",
        "--cref",
        "--cw",
        "--oref",
        "--ow",
        "1000",
        "--p",
        "--personalize",
        "abc123",
        "--exp",
        "--draft",
        "--style",
        "cute",
        "--repeat",
        "--r",
        "3",
        "40",
        "--relax",
        "--fast",
        "--turbo",
        "--video",
        "--motion",
        "http://x.example/a.png",
        "<https://y.example/b.jpg>",
        "https://",
        "cat",
        "a red",
        "日本",
        "🎨",
        "é",
        "`",
        "\n",
        "1e9",
        "nan",
        "99999999999999999999999",
    ]);
    prop_oneof![
        4 => pieces.prop_map(str::to_string),
        1 => "\\PC{0,6}",
        1 => any::<String>(),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    let sep = prop::sample::select(vec![" ", " ", " ", "", "  ", "\t"]);
    prop::collection::vec((fragment(), sep), 0..24)
        .prop_map(|parts| parts.into_iter().flat_map(|(fragment, sep)| [fragment, sep.to_string()]).collect())
}

fn roomy() -> PromptLimits {
    PromptLimits { max_prompts: 16, ..Default::default() }
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z]{1,8}",
        1 => "[a-z]{1,5}::-?[0-9](\\.[0-9])?",
        1 => "[,.!?;:'\"()]",
        1 => "[à-ÿ日本🎨]{1,4}",
        1 => Just("—".to_string()),
        1 => Just("-ish".to_string()),
        1 => Just("http://later.example/x.png".to_string()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    // The first word is never a URL: there it would be an image prompt, not text.
    ("[a-z]{1,8}", prop::collection::vec(word(), 0..6))
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect::<Vec<_>>().join(" "))
}

fn aspect() -> impl Strategy<Value = Aspect> {
    (1u32..2000, 1u32..2000)
        .prop_filter("within 1:4..4:1", |(w, h)| f64::from(*w.max(h)) / f64::from(*w.min(h)) <= 4.0)
        .prop_map(|(w, h)| Aspect { w, h })
}

/// `--v` and `--niji` conflict, so at most one is set; a niji value starts with a digit, and
/// neither value may look like a flag, matching what the parser can produce.
fn model() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    prop_oneof![
        Just((None, None)),
        "[A-Za-z0-9._][A-Za-z0-9._-]{0,5}".prop_map(|v| (Some(v), None)),
        "([0-9][0-9._-]{0,3})?".prop_map(|n| (None, Some(n))),
    ]
}

fn url() -> impl Strategy<Value = String> {
    "https?://[a-z]{1,6}\\.example/[a-z0-9]{1,6}\\.png"
}

/// `--style raw` or a style code, never both, as the parser produces.
fn style() -> impl Strategy<Value = (bool, Option<String>)> {
    prop_oneof![
        Just((false, None)),
        Just((true, None)),
        "[A-Za-z0-9._][A-Za-z0-9._-]{0,8}"
            .prop_filter("raw is not a code", |c| !c.eq_ignore_ascii_case("raw"))
            .prop_map(|c| (false, Some(c))),
    ]
}

fn style_ref() -> impl Strategy<Value = StyleRef> {
    let source = prop_oneof![
        url().prop_map(StyleSource::Url),
        "[0-9]{1,12}".prop_map(StyleSource::Code),
        Just(StyleSource::Random),
    ];
    // `-0` is stored as `0` by the parser, so the generator never makes it.
    let weight = prop::option::of(prop_oneof![Just(2.0f32), -10.0f32..10.0]).prop_map(|w| w.map(|w| w + 0.0));
    (source, weight).prop_map(|(source, weight)| StyleRef { source, weight })
}

fn params() -> impl Strategy<Value = Params> {
    let numbers = (
        prop::option::of(aspect()),
        prop::option::of(any::<u32>()),
        prop::collection::vec("[a-z]{1,6}( [a-zé]{1,6})?", 0..3),
        prop::option::of(0u8..=100),
        prop::option::of(0u16..=1000),
        prop::option::of(prop::sample::select(vec![0.25f32, 0.5, 1.0, 2.0, 4.0])),
        prop::option::of(0u16..=3000),
    );
    let rest =
        (any::<bool>(), style(), prop::option::of(10u8..=100), model(), prop::option::of(0.0f32..=3.0));
    let today = (
        prop::option::of(0u8..=100),
        any::<bool>(),
        prop::collection::vec(style_ref(), 0..3),
        prop::option::of(0u16..=1000),
        prop::option::of(1u8..=7),
        prop::collection::vec(url(), 0..3),
        prop::option::of(0u8..=100),
        prop::option::of(url()),
        prop::option::of(1u16..=1000),
        prop::option::of(prop::collection::vec("[a-z0-9]{1,8}", 0..3)),
        prop::option::of(prop::sample::select(vec![Speed::Relax, Speed::Fast, Speed::Turbo])),
    );
    (numbers, rest, today).prop_map(
        |(
            (aspect, seed, no, chaos, stylize, quality, weird),
            (tile, (style_raw, style_code), stop, (version, niji), iw),
            (
                exp,
                draft,
                style_refs,
                style_weight,
                style_version,
                character_refs,
                character_weight,
                omni_ref,
                omni_weight,
                personalize,
                speed,
            ),
        )| {
            Params {
                aspect,
                seed,
                no,
                chaos,
                stylize,
                quality,
                weird,
                tile,
                style_raw,
                style_code,
                stop,
                exp,
                draft,
                version,
                niji,
                iw,
                style_refs,
                style_weight,
                style_version,
                character_refs,
                character_weight,
                omni_ref,
                omni_weight,
                personalize,
                speed,
            }
        },
    )
}

fn spec() -> impl Strategy<Value = PromptSpec> {
    (prop::collection::vec(url(), 0..3), text(), params()).prop_map(|(image_urls, text, params)| PromptSpec {
        image_urls,
        text,
        params,
    })
}

/// A `{…}` group of words, escaped commas, empty options and nested groups.
fn group() -> impl Strategy<Value = String> {
    let option = prop_oneof![
        3 => "[a-z]{1,6}",
        1 => Just(String::new()),
        1 => "[a-z]{1,3}\\\\, [a-z]{1,3}",
        1 => "\\{[a-z]{1,3}, [a-z]{1,3}\\}",
    ];
    prop::collection::vec(option, 1..4).prop_map(|options| format!("{{{}}}", options.join(", ")))
}

/// A valid prompt with permutation groups before the text and around a trailing flag.
fn permuted() -> impl Strategy<Value = String> {
    let flag_group = prop::sample::select(vec![
        "",
        "{, --tile}",
        "--stop {10, 100}",
        "{--c 1, --c 2}",
        "{--relax, --turbo}",
        "--sref {1, random}",
        "{--r 2, }",
    ]);
    (group(), spec(), flag_group)
        .prop_map(|(group, spec, flags)| format!("{group} {} {flags}", spec.canonical()))
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_strings(input in any::<String>()) {
        let _ = parse(&input, &PromptLimits::default());
    }

    #[test]
    fn never_panics_on_prompt_like_soup(input in soup()) {
        let _ = parse(&input, &PromptLimits::default());
    }

    #[test]
    fn parsed_specs_are_normalised_and_capped(input in soup()) {
        let limits = roomy();
        if let Ok(specs) = parse(&input, &limits) {
            prop_assert!(!specs.is_empty() && specs.len() <= limits.max_prompts);
            for spec in specs {
                prop_assert!(!spec.text.is_empty());
                prop_assert_eq!(spec.text.split_whitespace().collect::<Vec<_>>().join(" "), spec.text.clone());
                let braces = ['{', '}'];
                prop_assert!(!spec.text.contains(braces));
                prop_assert!(spec.params.no.iter().all(|item| !item.is_empty() && item.trim() == item));
            }
        }
    }

    #[test]
    fn canonical_of_parsed_soup_reads_back(input in soup()) {
        let limits = roomy();
        if let Ok(specs) = parse(&input, &limits) {
            for spec in specs {
                let canonical = spec.canonical();
                prop_assert_eq!(parse(&canonical, &limits), Ok(vec![spec]), "canonical {:?}", canonical);
            }
        }
    }

    #[test]
    fn canonical_of_each_permutation_reads_back(input in permuted()) {
        let limits = roomy();
        if let Ok(specs) = parse(&input, &limits) {
            for spec in specs {
                let canonical = spec.canonical();
                prop_assert_eq!(parse(&canonical, &limits), Ok(vec![spec]), "canonical {:?}", canonical);
            }
        }
    }

    #[test]
    fn canonical_of_generated_spec_reads_back(spec in spec()) {
        let canonical = spec.canonical();
        prop_assert_eq!(parse(&canonical, &roomy()), Ok(vec![spec]), "canonical {:?}", canonical);
    }
}
