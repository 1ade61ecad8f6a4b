//! The spec's helpers: aspect arithmetic, present parameters, negative prompt, canonical form.

use super::one;
use crate::prompt::{Aspect, Param, PromptSpec};

#[test]
fn aspect_ratio_and_reduced() {
    assert_eq!(Aspect { w: 16, h: 9 }.ratio(), 16.0 / 9.0);
    assert_eq!(Aspect { w: 32, h: 18 }.reduced(), Aspect { w: 16, h: 9 });
    assert_eq!(Aspect { w: 16, h: 9 }.reduced(), Aspect { w: 16, h: 9 });
    assert_eq!(Aspect { w: 7, h: 7 }.reduced(), Aspect::SQUARE);
    assert_eq!(Aspect { w: 0, h: 0 }.reduced(), Aspect { w: 0, h: 0 });
}

#[test]
fn aspect_dims() {
    assert_eq!(Aspect::SQUARE.dims(1024), (1024, 1024));
    assert_eq!(Aspect { w: 16, h: 9 }.dims(1024), (1024, 576));
    assert_eq!(Aspect { w: 9, h: 16 }.dims(1024), (576, 1024));
    // 1024 * 2 / 3 = 682.67 → nearest multiple of 8 is 680.
    assert_eq!(Aspect { w: 3, h: 2 }.dims(1024), (1024, 680));
    assert_eq!(Aspect { w: 1, h: 4 }.dims(1024), (256, 1024));
    // Never below 8, never above the long side.
    assert_eq!(Aspect { w: 1000, h: 1 }.dims(64), (64, 8));
    assert_eq!(Aspect { w: 22, h: 23 }.dims(23), (16, 23));
    // Hand-built zero sides fall back to square instead of dividing by zero.
    assert_eq!(Aspect { w: 0, h: 5 }.dims(512), (512, 512));
    assert_eq!(Aspect { w: u32::MAX, h: 1 }.dims(u32::MAX), (u32::MAX, 8));
}

#[test]
fn present_params_in_order() {
    assert_eq!(one("cat").present_params(), []);
    let spec = one("http://x.example/a.png cat --iw 1 --tile --no x --ar 1:1 --niji");
    assert_eq!(
        spec.present_params(),
        [Param::ImagePrompt, Param::Aspect, Param::No, Param::Tile, Param::Niji, Param::ImageWeight]
    );
}

#[test]
fn flags_of_params() {
    assert_eq!(Param::ImagePrompt.flag(), "image prompt");
    assert_eq!(Param::Aspect.flag(), "--ar");
    assert_eq!(Param::StyleRaw.flag(), "--style raw");
    assert_eq!(Param::ImageWeight.flag(), "--iw");
    assert!(Param::ALL.iter().skip(1).all(|p| p.flag().starts_with("--")));
}

#[test]
fn negative_prompt_and_aspect_default() {
    let spec = one("cat");
    assert_eq!(spec.negative_prompt(), None);
    assert_eq!(spec.aspect_or_square(), Aspect::SQUARE);
    let spec = one("cat --no dogs, mice --ar 2:1");
    assert_eq!(spec.negative_prompt().as_deref(), Some("dogs, mice"));
    assert_eq!(spec.aspect_or_square(), Aspect { w: 2, h: 1 });
}

#[test]
fn canonical_form() {
    let spec = one("<https://x.example/a.png>   a  fox::2 —iw 1.5 --v 6 --raw --w 10 --q .5 --s 100 \
         --c 5 --no a,b --seed 7 --AR 3:2 --stop 50 --tile");
    assert_eq!(
        spec.canonical(),
        "https://x.example/a.png a fox::2 --ar 3:2 --seed 7 --no a, b --chaos 5 --stylize 100 \
         --quality 0.5 --weird 10 --tile --style raw --stop 50 --v 6 --iw 1.5"
    );
    assert_eq!(one("cat --niji").canonical(), "cat --niji");
    assert_eq!(one("cat --niji 6").canonical(), "cat --niji 6");
    assert_eq!(PromptSpec::default().canonical(), "");
}

#[test]
fn serde_round_trip_and_missing_fields() {
    let spec = one("http://x.example/a.png cat --ar 2:3 --q .25 --no dogs");
    let json = serde_json::to_string(&spec).expect("serialises");
    let back: PromptSpec = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, spec);
    let spec =
        one("cat --style cute --exp 5 --draft --sref https://x.example/s.png::2 random --sw 9 --sv 4 \
         --cref https://x.example/c.png --cw 3 --oref https://x.example/o.png --ow 7 --p abc --relax");
    let json = serde_json::to_string(&spec).expect("serialises");
    assert_eq!(serde_json::from_str::<PromptSpec>(&json).expect("deserialises"), spec);
    // Specs stored before a field existed still load.
    let old: PromptSpec = serde_json::from_str(r#"{"text":"cat","params":{"seed":3}}"#).expect("loads");
    assert_eq!(old.text, "cat");
    assert_eq!(old.params.seed, Some(3));
}
