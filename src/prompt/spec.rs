//! The parsed prompt as the rest of Easel sees it: [`PromptSpec`], its [`Params`], the
//! [`Aspect`] ratio with the pixel arithmetic backends need, and the value types of
//! Midjourney's newer parameters ([`StyleRef`], [`Speed`]). The [`Param`](super::Param)
//! names live in `param.rs`, rendering back to text in `render.rs`, and turning text into
//! these types in `parse.rs`.

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
    /// `--style <code>` for any style but raw: a style code (`--style 1234`, a Style Tuner
    /// code) or a named niji style (`cute`), `[A-Za-z0-9._-]+`, verbatim. Never set together
    /// with `style_raw`: Midjourney takes one `--style`.
    pub style_code: Option<String>,
    /// 10–100.
    pub stop: Option<u8>,
    /// `--exp`, experimental aesthetics, 0–100.
    pub exp: Option<u8>,
    /// `--draft`: Midjourney's faster, cheaper, lower-resolution mode.
    pub draft: bool,
    /// `--v` / `--version`, `[A-Za-z0-9._-]+`, verbatim: backends map their own aliases.
    pub version: Option<String>,
    /// `--niji [value]`; `Some("")` when given without a value.
    pub niji: Option<String>,
    /// Image weight, 0–3.
    pub iw: Option<f32>,
    /// `--sref`: style references, in the order given.
    pub style_refs: Vec<StyleRef>,
    /// `--sw`, style weight, 0–1000.
    pub style_weight: Option<u16>,
    /// `--sv`, style reference version, 1–7.
    pub style_version: Option<u8>,
    /// `--cref`: character reference image URLs, in the order given.
    pub character_refs: Vec<String>,
    /// `--cw`, character weight, 0–100.
    pub character_weight: Option<u8>,
    /// `--oref`: the omni reference image URL (Midjourney takes one).
    pub omni_ref: Option<String>,
    /// `--ow`, omni weight, 1–1000.
    pub omni_weight: Option<u16>,
    /// `--p` / `--personalize` / `--profile`: `Some(empty)` for the member's default
    /// profile, else the profile or moodboard codes (`[A-Za-z0-9._-]+`, verbatim).
    pub personalize: Option<Vec<String>>,
    /// `--relax`, `--fast` or `--turbo`: which of the service's speeds runs the job.
    pub speed: Option<Speed>,
}

/// One `--sref` item, with its `::weight` if the member gave one (`--sref URL::2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleRef {
    pub source: StyleSource,
    /// Relative weight among the prompt's style references; any finite number, since
    /// Midjourney documents no range for it.
    pub weight: Option<f32>,
}

/// Where a style reference comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StyleSource {
    /// An http(s) image URL; a backend that takes image inputs can fetch it.
    Url(String),
    /// A Midjourney style code: ASCII digits, verbatim (`--sref 2530475463`).
    Code(String),
    /// `--sref random`: Midjourney picks a style and reports its code.
    Random,
}

/// A Midjourney speed: which GPU pool and billing the job uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speed {
    Relax,
    Fast,
    Turbo,
}

impl Speed {
    /// The flag that asks for it: `"--relax"`, `"--fast"` or `"--turbo"`.
    pub fn flag(&self) -> &'static str {
        match self {
            Speed::Relax => "--relax",
            Speed::Fast => "--fast",
            Speed::Turbo => "--turbo",
        }
    }
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

impl PromptSpec {
    /// The `--no` items joined with ", ", for backends with a negative-prompt field.
    pub fn negative_prompt(&self) -> Option<String> {
        if self.params.no.is_empty() { None } else { Some(self.params.no.join(", ")) }
    }

    pub fn aspect_or_square(&self) -> Aspect {
        self.params.aspect.unwrap_or(Aspect::SQUARE)
    }
}
