//! Benchmark of the "backend done → grid ready" path: four 1024² PNG tiles → 2048² JPEG q90.
//!
//! Inputs are photo-like procedural scenes generated here (sky gradient, sun glow,
//! value-noise clouds, three textured hill layers, Gaussian-ish noise σ≈2.5) and saved with
//! `image`'s default PNG encoder. Flat colours would make PNG inflate unrealistically fast.
//! Set `EASEL_GRID_INPUTS=DIR` to use the first four `*.png` in DIR instead, so this bench
//! and `bench/pillow_grid.py` time the very same files (`bench/grid_compare.sh` does that).
//! `EASEL_GRID_DUMP=DIR` writes the generated tiles to DIR.
//!
//! Ids: `grid/decode4_compose_jpeg90` (the whole [`grid_from_encoded`]), and its parts
//! `grid/decode4`, `grid/compose`, `grid/encode_jpeg90`. Medians are in
//! `target/criterion/grid/<id>/new/estimates.json`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use easel::imaging::{compose_grid, decode4, encode_jpeg, encode_png, grid_from_encoded};
use image::{Rgb, RgbImage};

const TILE: u32 = 1024;
const QUALITY: u8 = 90;

fn grid(c: &mut Criterion) {
    let (source, encoded) = inputs();
    let inputs: [&[u8]; 4] = std::array::from_fn(|i| encoded[i].as_slice());
    let tiles = decode4(&inputs).expect("bench inputs decode");
    let composed = compose_grid(&tiles);
    let out = grid_from_encoded(&inputs, QUALITY).expect("grid builds");
    let sizes: Vec<usize> = encoded.iter().map(Vec::len).collect();
    println!(
        "inputs: {source}, PNG bytes {sizes:?}; grid {}×{} JPEG q{QUALITY} = {} bytes ({:.2} MiB)",
        out.width,
        out.height,
        out.jpeg.len(),
        out.jpeg.len() as f64 / f64::from(1 << 20)
    );

    let mut g = c.benchmark_group("grid");
    g.bench_function("decode4_compose_jpeg90", |b| {
        b.iter(|| grid_from_encoded(black_box(&inputs), QUALITY).expect("grid builds"))
    });
    g.bench_function("decode4", |b| b.iter(|| decode4(black_box(&inputs)).expect("decodes")));
    g.bench_function("compose", |b| b.iter(|| compose_grid(black_box(&tiles))));
    g.bench_function("encode_jpeg90", |b| {
        b.iter(|| encode_jpeg(black_box(&composed), QUALITY).expect("encodes"))
    });
    g.finish();
}

/// The four encoded tiles and a description of where they came from.
fn inputs() -> (String, Vec<Vec<u8>>) {
    if let Some(dir) = std::env::var_os("EASEL_GRID_INPUTS") {
        let dir = PathBuf::from(dir);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("EASEL_GRID_INPUTS={}: {e}", dir.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
            .collect();
        paths.sort();
        assert!(paths.len() >= 4, "{} holds fewer than 4 PNGs", dir.display());
        let files = paths[..4]
            .iter()
            .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .collect();
        (format!("{} (first 4 *.png)", dir.display()), files)
    } else {
        let files: Vec<Vec<u8>> =
            (0..4).map(|seed| encode_png(&synth(seed, TILE, TILE)).expect("png encodes")).collect();
        // EASEL_GRID_DUMP=DIR saves them, e.g. to look at them or to feed pillow_grid.py.
        if let Some(dir) = std::env::var_os("EASEL_GRID_DUMP") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("dump dir");
            for (i, f) in files.iter().enumerate() {
                std::fs::write(dir.join(format!("tile{i}.png")), f).expect("dump writes");
            }
        }
        ("synthetic, image's default PNG encoder".to_owned(), files)
    }
}

// ---- procedural "photo": deterministic, no external data ----

/// SplitMix64 step: a well-mixed hash of the lattice point and seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn lattice(x: i64, y: i64, seed: u64) -> f32 {
    let h = mix((x as u64).wrapping_mul(0x1F1F_1F1F) ^ (y as u64).wrapping_mul(0x9E37_79B1) ^ seed);
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Smoothly interpolated value noise in [0, 1).
fn value_noise(x: f32, y: f32, seed: u64) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (xi, yi) = (xf as i64, yf as i64);
    let (tx, ty) = (x - xf, y - yf);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let top = lattice(xi, yi, seed) * (1.0 - sx) + lattice(xi + 1, yi, seed) * sx;
    let bottom = lattice(xi, yi + 1, seed) * (1.0 - sx) + lattice(xi + 1, yi + 1, seed) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// Fractal (fBm) value noise, roughly in [0, 1).
fn fbm(x: f32, y: f32, octaves: u32, seed: u64) -> f32 {
    let (mut sum, mut amp, mut freq, mut norm) = (0.0, 0.5, 1.0, 0.0);
    for o in 0..octaves {
        sum += amp * value_noise(x * freq, y * freq, seed.wrapping_add(u64::from(o) * 7919));
        norm += amp;
        amp *= 0.5;
        freq *= 2.0;
    }
    sum / norm
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// A landscape: sky gradient with sun glow, fBm clouds, three hill layers with texture,
/// vignette, then per-channel Gaussian-ish noise (sum of 4 uniforms, σ≈2.5).
fn synth(seed: u64, width: u32, height: u32) -> RgbImage {
    let s = seed.wrapping_mul(0x5851_F42D_4C95_7F2D);
    let hue = (seed % 4) as f32 / 4.0;
    let zenith = [30.0 + 40.0 * hue, 70.0 + 20.0 * hue, 150.0 - 30.0 * hue];
    let horizon = [230.0 - 20.0 * hue, 190.0 + 20.0 * hue, 160.0 + 30.0 * hue];
    let sun = (0.2 + 0.6 * lattice(1, 2, s), 0.25 + 0.15 * lattice(3, 4, s));
    let hills: [([f32; 3], f32, f32); 3] = [
        ([110.0, 120.0, 140.0], 0.55, 3.0),
        ([70.0, 110.0, 70.0], 0.68, 5.0),
        ([40.0, 70.0, 35.0], 0.82, 8.0),
    ];
    let mut rng = mix(s ^ 0xDEAD_BEEF);
    let (w, h) = (width as f32, height as f32);
    RgbImage::from_fn(width, height, |px, py| {
        let (x, y) = (px as f32 / w, py as f32 / h);
        let mut c = lerp3(zenith, horizon, y.min(1.0));
        let d = ((x - sun.0).powi(2) + (y - sun.1).powi(2)).sqrt();
        c = lerp3(c, [255.0, 245.0, 210.0], (-d * 9.0).exp() * 0.9);
        let cloud = (fbm(x * 6.0, y * 14.0, 5, s ^ 1) - 0.45).max(0.0) * 2.2 * (1.0 - y);
        c = lerp3(c, [250.0, 250.0, 252.0], cloud.min(0.85));
        for (i, &(colour, base, freq)) in hills.iter().enumerate() {
            let seed_i = s ^ (10 + i as u64);
            let ridge = base - 0.12 * fbm(x * freq, 0.5, 4, seed_i);
            if y > ridge {
                let texture = fbm(x * freq * 12.0, y * freq * 12.0, 3, seed_i ^ 99);
                let shade = 0.75 + 0.5 * texture - 0.25 * (y - ridge);
                c = colour.map(|v| v * shade);
            }
        }
        let vignette = 1.0 - 0.35 * ((x - 0.5).powi(2) + (y - 0.5).powi(2));
        Rgb(c.map(|v| {
            rng = mix(rng);
            // Sum of four uniforms in [0,1): mean 2, σ = sqrt(4/12) ≈ 0.577 → scale to 2.5.
            let n: f32 = (0..4).map(|k| ((rng >> (16 * k)) & 0xFFFF) as f32 / 65536.0).sum();
            (v * vignette + (n - 2.0) * (2.5 / 0.577)).round().clamp(0.0, 255.0) as u8
        }))
    })
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = grid
}
criterion_main!(benches);
