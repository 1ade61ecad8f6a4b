//! Parse cost of the prompt syntax: a typical short prompt, a long prompt with every
//! parameter, and a permutation prompt that expands to four. Parsing runs once per
//! `/imagine`, so this guards against accidental quadratic work rather than chasing nanoseconds.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use easel::prompt::{PromptLimits, parse};

const SHORT: &str = "a red fox in the snow, watercolor --ar 3:2";

const LONG: &str = "https://example.com/ref-one.png <https://example.com/ref-two.jpg> \
    a sprawling cyberpunk market at night::2, neon signs reflected in rain puddles, \
    crowds of street vendors selling noodles and glowing trinkets, holographic koi \
    drifting between the stalls, cinematic lighting, ultra detailed, volumetric fog::1.5 \
    cars::-0.5 --ar 16:9 --seed 4242 --no text, watermark, blurry faces, extra fingers \
    --chaos 35 --stylize 650 --quality .5 --weird 250 --tile --style raw --stop 90 \
    --v 6.1 --iw 1.75";

const PERMUTATION: &str = "a {red, blue} {bird, cat\\, sleeping} on a branch --ar {1:1} --chaos 10";

fn bench(c: &mut Criterion) {
    let limits = PromptLimits::default();
    // A typo in a fixture would otherwise bench the error path without anyone noticing.
    for (input, prompts) in [(SHORT, 1), (LONG, 1), (PERMUTATION, 4)] {
        let parsed = parse(input, &limits).map(|specs| specs.len());
        assert_eq!(parsed, Ok(prompts), "bench fixture {input:?}");
    }
    c.bench_function("parse_short", |b| b.iter(|| parse(black_box(SHORT), &limits)));
    c.bench_function("parse_long_all_params", |b| b.iter(|| parse(black_box(LONG), &limits)));
    c.bench_function("parse_permutation_4", |b| b.iter(|| parse(black_box(PERMUTATION), &limits)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
