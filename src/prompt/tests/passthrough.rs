//! Pass-through: a prompt written the canonical way renders byte for byte as the member
//! wrote it, so a Midjourney-backed service (which receives `canonical()`) gets exactly the
//! member's parameters; and other spellings render to one that means the same to Midjourney.

use super::one;

/// Real-looking Midjourney prompts, each already in canonical form.
const CANONICAL: [&str; 12] = [
    "a lighthouse at dusk, cinematic --ar 16:9 --stylize 250 --v 7",
    "portrait of an old fisherman, film grain --ar 2:3 --style raw --v 7 --sref 2530475463 --sw 300 --sv 6",
    "a cozy cabin in snow --ar 3:2 --chaos 20 --exp 25 --draft --v 7 --p --relax",
    "a knight in a misty forest --seed 42 --no text, watermark --v 7 --sref https://cdn.example.com/a.png::2 \
     random 123456::0.5 --sw 150",
    "a girl with red hair reading --ar 9:16 --niji 7 --cref https://cdn.example.com/face.png --cw 50",
    "a red sports car on a coastal road --ar 21:9 --quality 2 --v 7 --oref https://cdn.example.com/car.jpg \
     --ow 400 --fast",
    "https://cdn.example.com/pose.png a dancer mid-leap --ar 4:5 --v 7 --iw 1.5 --p lb4pqzw m7216867 --turbo",
    "a tiny robot, watercolor --style cute --niji 6",
    "mossy stones pattern --weird 250 --tile --stop 80 --v 8",
    "a city of glass at night --style 1234 --v 6.1 --sref random --sv 4",
    "an owl::2 and a moon::1 --ar 1:1 --seed 7 --v 6",
    "a bowl of ramen, top view --quality 4 --v 8.1 --sref https://cdn.example.com/s1.png \
     https://cdn.example.com/s2.png --sw 800 --sv 7 --p m7216867 --relax",
];

#[test]
fn canonical_prompts_render_byte_for_byte() {
    for prompt in CANONICAL {
        assert_eq!(one(prompt).canonical(), prompt);
    }
}

#[test]
fn other_spellings_render_one_canonical_form() {
    let cases = [
        (
            "a cat —turbo --SREF <https://x.example/s.png>::2.0 RANDOM --SV 6 --sw 1e2 --Profile --draft",
            "a cat --draft --sref https://x.example/s.png::2 random --sw 100 --sv 6 --p --turbo",
        ),
        ("a cat --personalize abc --style CUTE --exp 5.0", "a cat --style CUTE --exp 5 --p abc"),
        (
            "a cat --ow 10 --oref <https://x.example/o.png> --cw 0",
            "a cat --cw 0 --oref https://x.example/o.png --ow 10",
        ),
        ("a cat --r 2 --raw --fast", "a cat --style raw --fast"),
    ];
    for (written, canonical) in cases {
        assert_eq!(one_or_first(written).canonical(), canonical, "{written}");
    }
}

/// The first prompt of `input` (a `--repeat` makes several equal ones).
fn one_or_first(input: &str) -> crate::prompt::PromptSpec {
    let limits = crate::prompt::PromptLimits { max_prompts: 40, ..Default::default() };
    crate::prompt::parse(input, &limits).expect("parses").remove(0)
}

#[test]
fn canonical_is_stable() {
    for prompt in CANONICAL {
        let once = one(prompt).canonical();
        assert_eq!(one(&once).canonical(), once);
    }
}
