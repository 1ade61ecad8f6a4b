//! The parsed prompt as the rest of Easel sees it: [`PromptSpec`], its [`Params`], the
//! [`Aspect`] ratio with the pixel arithmetic backends need, and the [`Param`] names used to
//! tell a member which parameters a backend ignores. Rendering back to text lives in
//! `render.rs`; turning text into these types lives in `parse.rs`.

use serde::{Deserialize, Serialize};

/// One prompt after permutation expansion and parsing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
// `default` lets specs stored by an older Easel (fewer fields) still load.
#[serde(default)]
pub struct PromptSpec {
    /// Leading image prompts: http/https URLs before the text.
    pub image_urls: Vec<String>,
    /// Prompt text, whitespace-normalised; `::` weights are kept verbatim as text.
    pub text: String,
    pub params: Params,
}

/// Every parameter Easel understands; `None`/`false`/empty means "not given".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    pub aspect: Option<Aspect>,
    pub seed: Option<u32>,
    /// `--no a, b` → `["a", "b"]` (trimmed, empties dropped).
    pub no: Vec<String>,
    /// 0–100.
    pub chaos: Option<u8>,
    /// 0–1000.
    pub stylize: Option<u16>,
    /// One of .25, .5, 1, 2, 4.
    pub quality: Option<f32>,
    /// 0–3000.
    pub weird: Option<u16>,
    pub tile: bool,
    /// `--style raw`, or the bare `--raw`.
    pub style_raw: bool,
    /// 10–100.
    pub stop: Option<u8>,
    /// `--v` / `--version`, `[A-Za-z0-9._-]+`, verbatim: backends map their own aliases.
    pub version: Option<String>,
    /// `--niji [value]`; `Some("")` when given without a value.
    pub niji: Option<String>,
    /// Image weight, 0–3.
    pub iw: Option<f32>,
}

/// An aspect ratio exactly as the member wrote it (`32:18` is not reduced; see [`Aspect::reduced`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Aspect {
    pub w: u32,
    pub h: u32,
}

impl Aspect {
    pub const SQUARE: Aspect = Aspect { w: 1, h: 1 };

    /// Width over height. A zero side (only possible in a hand-built value) gives 0 or infinity.
    pub fn ratio(&self) -> f64 {
        f64::from(self.w) / f64::from(self.h)
    }

    /// Pixel size whose long side is `long_side`, the short side rounded to the nearest
    /// multiple of 8 (at least 8), because diffusion models work on 8-pixel latent blocks.
    /// The short side never exceeds the long side when `long_side` itself is at least 8.
    /// A hand-built aspect with a zero side is treated as square rather than dividing by zero.
    pub fn dims(&self, long_side: u32) -> (u32, u32) {
        if self.w == self.h || self.w == 0 || self.h == 0 {
            return (long_side, long_side);
        }
        let (long, short) = if self.w > self.h { (self.w, self.h) } else { (self.h, self.w) };
        // Integer arithmetic (u128 cannot overflow here) so the rounding is exact.
        let (long, short, side) = (u128::from(long), u128::from(short), u128::from(long_side));
        let blocks = (side * short + 4 * long) / (8 * long);
        let mut short_px = u32::try_from(blocks * 8).unwrap_or(u32::MAX).max(8);
        if short_px > long_side && long_side >= 8 {
            short_px = long_side / 8 * 8;
        }
        if self.w > self.h { (long_side, short_px) } else { (short_px, long_side) }
    }

    /// Lowest terms: `16:9` stays, `32:18` → `16:9`.
    pub fn reduced(&self) -> Aspect {
        let g = gcd(self.w, self.h);
        if g == 0 {
            return *self;
        }
        Aspect { w: self.w / g, h: self.h / g }
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A parameter by name, for capability checks and "ignored parameters" notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Param {
    ImagePrompt,
    Aspect,
    Seed,
    No,
    Chaos,
    Stylize,
    Quality,
    Weird,
    Tile,
    StyleRaw,
    Stop,
    Version,
    Niji,
    ImageWeight,
}

impl Param {
    /// Every parameter, in the order `canonical()` writes them.
    pub const ALL: [Param; 14] = [
        Param::ImagePrompt,
        Param::Aspect,
        Param::Seed,
        Param::No,
        Param::Chaos,
        Param::Stylize,
        Param::Quality,
        Param::Weird,
        Param::Tile,
        Param::StyleRaw,
        Param::Stop,
        Param::Version,
        Param::Niji,
        Param::ImageWeight,
    ];

    /// How a member writes it: `"--ar"`, `"--seed"`, … and `"image prompt"` for leading URLs.
    pub fn flag(&self) -> &'static str {
        match self {
            Param::ImagePrompt => "image prompt",
            Param::Aspect => "--ar",
            Param::Seed => "--seed",
            Param::No => "--no",
            Param::Chaos => "--chaos",
            Param::Stylize => "--stylize",
            Param::Quality => "--quality",
            Param::Weird => "--weird",
            Param::Tile => "--tile",
            Param::StyleRaw => "--style raw",
            Param::Stop => "--stop",
            Param::Version => "--v",
            Param::Niji => "--niji",
            Param::ImageWeight => "--iw",
        }
    }
}

impl PromptSpec {
    /// Which parameters are set, in [`Param::ALL`] order.
    pub fn present_params(&self) -> Vec<Param> {
        Param::ALL.into_iter().filter(|p| self.has(*p)).collect()
    }

    fn has(&self, param: Param) -> bool {
        let p = &self.params;
        match param {
            Param::ImagePrompt => !self.image_urls.is_empty(),
            Param::Aspect => p.aspect.is_some(),
            Param::Seed => p.seed.is_some(),
            Param::No => !p.no.is_empty(),
            Param::Chaos => p.chaos.is_some(),
            Param::Stylize => p.stylize.is_some(),
            Param::Quality => p.quality.is_some(),
            Param::Weird => p.weird.is_some(),
            Param::Tile => p.tile,
            Param::StyleRaw => p.style_raw,
            Param::Stop => p.stop.is_some(),
            Param::Version => p.version.is_some(),
            Param::Niji => p.niji.is_some(),
            Param::ImageWeight => p.iw.is_some(),
        }
    }

    /// The `--no` items joined with ", ", for backends with a negative-prompt field.
    pub fn negative_prompt(&self) -> Option<String> {
        if self.params.no.is_empty() { None } else { Some(self.params.no.join(", ")) }
    }

    pub fn aspect_or_square(&self) -> Aspect {
        self.params.aspect.unwrap_or(Aspect::SQUARE)
    }
}
