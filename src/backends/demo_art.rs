//! The demo backend's placeholder art: a landscape painted from a [`Recipe`] (sky, sun,
//! clouds, three ridges of hills). A recipe is derived from the prompt and a seed, so the
//! same prompt and seed always give the same pixels, and it can be nudged (variations) or
//! painted again larger (upscale). This is placeholder art, not AI.

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// Everything needed to paint one image again, at any size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub seed: u32,
    /// Hues (0–360) of the sky top, the horizon and the hills.
    pub hues: [f32; 3],
    pub saturation: f32,
    /// 0 = night, 1 = noon.
    pub daylight: f32,
    /// Sun position, as fractions of width and height.
    pub sun: (f32, f32),
    pub cloudiness: f32,
    /// Heights (fractions of the image) and roughness of the three ridges.
    pub ridges: [(f32, f32); 3],
}

/// Colour words a prompt may use, with their hue.
const COLOUR_WORDS: [(&str, f32); 14] = [
    ("red", 0.0),
    ("crimson", 350.0),
    ("orange", 28.0),
    ("amber", 40.0),
    ("gold", 48.0),
    ("yellow", 55.0),
    ("green", 120.0),
    ("forest", 130.0),
    ("teal", 175.0),
    ("ocean", 195.0),
    ("blue", 220.0),
    ("purple", 275.0),
    ("violet", 265.0),
    ("pink", 320.0),
];

/// Times of day a prompt may name, with their daylight.
const DAY_WORDS: [(&str, f32); 8] = [
    ("night", 0.05),
    ("midnight", 0.0),
    ("dusk", 0.35),
    ("sunset", 0.4),
    ("dawn", 0.45),
    ("sunrise", 0.5),
    ("morning", 0.75),
    ("noon", 1.0),
];

/// 64-bit FNV-1a, stable across platforms and releases (std's hasher is not).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Recipe {
    /// The recipe for image `index` of a prompt and seed. `chaos` (0–100) spreads the four
    /// images apart; `avoid` lists words from `--no` whose colours are left out.
    pub fn from_prompt(text: &str, seed: u32, index: u8, chaos: u8, avoid: &[String]) -> Recipe {
        let lower = text.to_lowercase();
        let mut rng = fastrand::Rng::with_seed(stable_hash(&[lower.as_bytes(), &seed.to_le_bytes()]));
        let avoided = |word: &str| avoid.iter().any(|a| a.to_lowercase().contains(word));
        let named: Vec<f32> =
            COLOUR_WORDS.iter().filter(|(w, _)| lower.contains(w) && !avoided(w)).map(|(_, h)| *h).collect();
        let base = named.first().copied().unwrap_or_else(|| rng.f32() * 360.0);
        let second = named.get(1).copied().unwrap_or(base + 150.0 + rng.f32() * 60.0);
        let daylight =
            DAY_WORDS.iter().find(|(w, _)| lower.contains(w)).map_or(0.3 + rng.f32() * 0.6, |(_, d)| *d);
        let mut recipe = Recipe {
            seed,
            hues: [base, second, base + 40.0 + rng.f32() * 80.0],
            saturation: 0.45 + rng.f32() * 0.35,
            daylight,
            sun: (0.15 + rng.f32() * 0.7, 0.15 + rng.f32() * 0.35),
            cloudiness: rng.f32(),
            ridges: [
                (0.55 + rng.f32() * 0.1, 0.3 + rng.f32() * 0.4),
                (0.68 + rng.f32() * 0.1, 0.3 + rng.f32() * 0.4),
                (0.8 + rng.f32() * 0.1, 0.3 + rng.f32() * 0.4),
            ],
        };
        // The four images of a grid share the prompt's mood and differ in layout; chaos
        // widens the difference.
        let spread = 0.25 + f32::from(chaos.min(100)) / 100.0 * 0.75;
        recipe.nudge(seed ^ (u32::from(index) + 1).wrapping_mul(0x9e37_79b9), spread);
        recipe
    }

    /// A variation: the same picture moved by `amount` (≈0.15 subtle, ≈0.35 strong).
    pub fn nudge(&mut self, seed: u32, amount: f32) {
        let mut rng = fastrand::Rng::with_seed(u64::from(seed).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut jitter = |v: f32, scale: f32| v + (rng.f32() * 2.0 - 1.0) * scale * amount;
        for hue in &mut self.hues {
            *hue = jitter(*hue, 40.0).rem_euclid(360.0);
        }
        self.saturation = jitter(self.saturation, 0.3).clamp(0.1, 1.0);
        self.sun = (jitter(self.sun.0, 0.5).clamp(0.05, 0.95), jitter(self.sun.1, 0.3).clamp(0.05, 0.6));
        self.cloudiness = jitter(self.cloudiness, 0.8).clamp(0.0, 1.0);
        for ridge in &mut self.ridges {
            *ridge = (jitter(ridge.0, 0.12).clamp(0.4, 0.95), jitter(ridge.1, 0.5).clamp(0.1, 1.0));
        }
        self.seed = self.seed.wrapping_add(seed | 1);
    }

    /// `stylize` (0–1000, default 100) strengthens colour; `weird` (0–3000) shifts hues.
    pub fn stylized(mut self, stylize: Option<u16>, weird: Option<u16>) -> Recipe {
        if let Some(s) = stylize {
            self.saturation = (self.saturation * (0.6 + f32::from(s.min(1000)) / 250.0)).clamp(0.05, 1.0);
        }
        if let Some(w) = weird {
            let shift = f32::from(w.min(3000)) / 3000.0 * 180.0;
            self.hues[1] = (self.hues[1] + shift).rem_euclid(360.0);
            self.hues[2] = (self.hues[2] - shift).rem_euclid(360.0);
        }
        self
    }

    /// Paints the picture at `width`×`height`.
    pub fn paint(&self, width: u32, height: u32) -> RgbImage {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        let noise = ValueNoise::new(self.seed);
        let ridge_lines: Vec<Vec<f32>> = self
            .ridges
            .iter()
            .enumerate()
            .map(|(i, (base, rough))| {
                (0..width)
                    .map(|x| {
                        base - rough
                            * 0.18
                            * noise.fbm(x as f32 / w * 3.0 + i as f32 * 17.0, i as f32 * 5.3, 4)
                    })
                    .collect()
            })
            .collect();
        let light = 0.25 + 0.75 * self.daylight;
        let sky_top = hsv(self.hues[0], self.saturation, 0.25 + 0.55 * light);
        let horizon = hsv(self.hues[1], self.saturation * 0.8, 0.55 + 0.45 * light);
        let sun_colour = hsv(self.hues[1] + 20.0, 0.35, 1.0);
        let sun_r = 0.06 + 0.04 * (1.0 - self.daylight);
        RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (x as f32 / w, y as f32 / h);
            for (i, line) in ridge_lines.iter().enumerate().rev() {
                if fy > line[x as usize] {
                    // Nearer ridges are darker; texture keeps them from looking flat.
                    let depth = i as f32 / 2.0;
                    let tex = noise.fbm(fx * 24.0, fy * 24.0 + i as f32 * 9.0, 2) * 0.12;
                    let value = (0.55 - 0.3 * depth) * light + tex;
                    return to_rgb(hsv(
                        self.hues[2] + depth * 15.0,
                        self.saturation * (0.6 + 0.3 * depth),
                        value,
                    ));
                }
            }
            let mut c = mix(sky_top, horizon, (fy / 0.8).min(1.0).powf(1.4));
            let dx = (fx - self.sun.0) * w / h;
            let d = (dx * dx + (fy - self.sun.1).powi(2)).sqrt();
            let glow = (1.0 - d / (sun_r * 4.0)).max(0.0).powi(2) * 0.6;
            c = mix(c, sun_colour, if d < sun_r { 1.0 } else { glow });
            let cloud = noise.fbm(fx * 4.0 + 100.0, fy * 9.0, 3);
            let cover = ((cloud - (1.0 - self.cloudiness * 0.6)) * 3.0).clamp(0.0, 0.85);
            to_rgb(mix(c, [light, light, light * 0.97], cover))
        })
    }
}

/// Smooth 2D value noise on a hashed lattice: cheap, deterministic, good enough for hills.
struct ValueNoise {
    seed: u32,
}

impl ValueNoise {
    fn new(seed: u32) -> Self {
        ValueNoise { seed }
    }

    fn lattice(&self, x: i32, y: i32) -> f32 {
        let mut h = (x as u32).wrapping_mul(0x27d4_eb2d) ^ (y as u32).wrapping_mul(0x1656_67b1) ^ self.seed;
        h ^= h >> 15;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        (h & 0xffff) as f32 / 65535.0
    }

    fn at(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = (x.floor(), y.floor());
        let (tx, ty) = (smooth(x - x0), smooth(y - y0));
        let (xi, yi) = (x0 as i32, y0 as i32);
        let top = lerp(self.lattice(xi, yi), self.lattice(xi + 1, yi), tx);
        let bottom = lerp(self.lattice(xi, yi + 1), self.lattice(xi + 1, yi + 1), tx);
        lerp(top, bottom, ty)
    }

    fn fbm(&self, x: f32, y: f32, octaves: u32) -> f32 {
        let (mut sum, mut amp, mut freq, mut norm) = (0.0, 1.0, 1.0, 0.0);
        for _ in 0..octaves {
            sum += self.at(x * freq, y * freq) * amp;
            norm += amp;
            amp *= 0.5;
            freq *= 2.0;
        }
        sum / norm
    }
}

fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [lerp(a[0], b[0], t), lerp(a[1], b[1], t), lerp(a[2], b[2], t)]
}

fn to_rgb(c: [f32; 3]) -> Rgb<u8> {
    Rgb(c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
}

/// HSV (hue in degrees) to linear-ish RGB in 0–1.
pub fn hsv(hue: f32, sat: f32, val: f32) -> [f32; 3] {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = val * sat.clamp(0.0, 1.0);
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = val - c;
    [r + m, g + m, b + m]
}

/// Hue (degrees), saturation and value of an RGB pixel.
pub fn rgb_to_hsv(p: Rgb<u8>) -> (f32, f32, f32) {
    let [r, g, b] = p.0.map(|v| f32::from(v) / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let hue = if d == 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    (hue, if max == 0.0 { 0.0 } else { d / max }, max)
}
