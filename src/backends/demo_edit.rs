//! The demo's edits after U, offline and deterministic: the source is kept where the mask keeps
//! it and a landscape painted from the prompt fills what the mask repaints (blended with what
//! was there by the edit's strength), so a Zoom Out visibly shows the original smaller in the
//! centre with new surroundings and a Vary (Region) changes only that region. Upscale (Subtle)
//! is a plain 2× resize; (Creative) mixes in fresh paint at 2×.

use image::RgbImage;

use super::demo_art::Recipe;
use crate::imaging::{self, EditPlan, ImageError};

/// The demo's largest canvas side for Zoom Out and Pan.
pub(super) const MAX_SIDE: u32 = 2048;
/// How much fresh paint Upscale (Creative) mixes in.
const CREATIVE_MIX: f32 = 0.35;

/// Four candidates of `plan` on `source` (encoded), each painted from its own recipe.
pub(super) fn paint_edit(
    source: &[u8],
    plan: &EditPlan,
    recipes: &[Recipe],
) -> Result<Vec<Vec<u8>>, ImageError> {
    let src = imaging::decode(source)?;
    let base = plan.init_image(&src);
    let mask = plan.mask();
    let (w, h) = plan.size();
    let keep_new = 1.0 - plan.strength.clamp(0.0, 1.0);
    recipes
        .iter()
        .map(|r| {
            let paint = r.paint(w, h);
            let out = RgbImage::from_fn(w, h, |x, y| {
                let old = base.get_pixel(x, y);
                if mask.get_pixel(x, y)[0] < 128 {
                    return *old;
                }
                let new = paint.get_pixel(x, y);
                image::Rgb(
                    [0, 1, 2]
                        .map(|c| (f32::from(old[c]) * keep_new + f32::from(new[c]) * (1.0 - keep_new)) as u8),
                )
            });
            imaging::encode_png(&out)
        })
        .collect()
}

/// Twice the size (capped at `max_side`); Creative mixes in fresh paint from `recipe`.
pub(super) fn upscale_2x(
    source: &[u8],
    recipe: Option<Recipe>,
    max_side: u32,
) -> Result<Vec<u8>, ImageError> {
    let (_, w, h) = imaging::probe(source)?;
    let scale = (max_side as f32 / w.max(h) as f32).min(2.0);
    let (uw, uh) = (((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1));
    let mut img = imaging::decode_resized(source, uw, uh)?;
    if let Some(r) = recipe {
        let paint = r.paint(uw, uh);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let q = paint.get_pixel(x, y);
            *p =
                image::Rgb([0, 1, 2].map(|c| {
                    (f32::from(p[c]) * (1.0 - CREATIVE_MIX) + f32::from(q[c]) * CREATIVE_MIX) as u8
                }));
        }
    }
    imaging::encode_png(&img)
}
