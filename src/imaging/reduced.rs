//! Decoding to the size a caller needs rather than the size the file declares: /describe
//! looks at 256 px, /blend at its output size, a grid tile at no more than 4096 px.
//!
//! What each codec allows:
//! - Sequential (baseline) JPEG: libjpeg, through mozjpeg, scales by n/8 inside the inverse
//!   DCT, so an 8192² photo wanted at 1024² is decoded straight to 1024²: 1/64 of the memory,
//!   and the budget is charged for the reduced size only.
//! - Progressive JPEG keeps full-size coefficient buffers at any output scale, and PNG, GIF
//!   and WebP have no reduced decode at all: those are decoded in full (and charged in full),
//!   then shrunk with `fast_image_resize`; the full-size pixels never leave this module.
//!
//! libjpeg pads a truncated JPEG with grey where the `image` decoder fails, so the reduced
//! path is for pixels a caller looks at; whether a file is intact is [`super::decode`]'s
//! question. Any failure of the reduced path falls back to the full decode.

use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, RgbImage};

use super::budget::reserve;
use super::decode::{check_dimensions, decode_cost, decode_opened, open};
use super::resize::{fitted_size, resize};
use super::{Format, ImageError, sniff};

/// Decodes to at most `max_side` pixels on the longer side, keeping the aspect ratio (never
/// upscaling), upright and flattened like [`super::decode`]. The size is what
/// [`super::fit_within`] gives for the full image, whichever path decoded it.
pub fn decode_fitted(bytes: &[u8], max_side: u32) -> Result<RgbImage, ImageError> {
    decode_to(bytes, &|w, h| fitted_size(w, h, max_side).unwrap_or((w, h))).map(|(image, _)| image)
}

/// Decodes and resizes to exactly `width`×`height` (stretching if the aspect differs), as
/// `resize(&decode(bytes)?, width, height)` would, without decoding more than needed.
pub fn decode_resized(bytes: &[u8], width: u32, height: u32) -> Result<RgbImage, ImageError> {
    decode_to(bytes, &|_, _| (width, height)).map(|(image, _)| image)
}

/// Picks the output size from the upright full size.
pub(super) type Target<'a> = &'a dyn Fn(u32, u32) -> (u32, u32);

/// How one image will be decoded, worked out from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    /// The image's full size, upright.
    pub full: (u32, u32),
    /// The size it is decoded to, upright.
    pub target: (u32, u32),
    /// libjpeg's n/8 scale, for a JPEG decoded reduced.
    jpeg_scale: Option<u8>,
    orientation: Orientation,
    /// The most memory carrying the plan out takes at once, the result included.
    pub cost: u64,
}

/// Reads the header and decides how to decode to `target`: reduced where the codec allows
/// (and `reduce` is set), in full otherwise.
pub(super) fn plan(bytes: &[u8], target: Target<'_>, reduce: bool) -> Result<Plan, ImageError> {
    let format = sniff(bytes)?;
    let mut decoder = open(bytes, format)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let turned = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let upright = |(w, h): (u32, u32)| if turned { (h, w) } else { (w, h) };
    let full = upright((width, height));
    let target = target(full.0, full.1);
    let jpeg_scale = (reduce && format == Format::Jpeg && sequential_huffman(bytes))
        .then(|| jpeg_scale((width, height), upright(target)))
        .flatten();
    let (decoded, decode_cost) = match jpeg_scale {
        Some(n) => {
            let (w, h) = (scaled(width, n), scaled(height, n));
            (upright((w, h)), u64::from(w) * u64::from(h) * 4)
        }
        None => (full, decode_cost(&decoder)),
    };
    Ok(Plan { full, target, jpeg_scale, orientation, cost: decode_cost + shrink_cost(decoded, target) })
}

/// Carries out `plan` (made for these `bytes`). Reserves nothing: the caller has.
/// If libjpeg refuses a reduced decode, the image is decoded in full, beyond the plan's cost.
pub(super) fn execute(bytes: &[u8], plan: &Plan) -> Result<RgbImage, ImageError> {
    if let Some(image) = reduced(bytes, plan) {
        return Ok(image);
    }
    let decoder = open(bytes, sniff(bytes)?)?;
    Ok(exactly(decode_opened(decoder)?, plan.target.0, plan.target.1))
}

/// The plan's reduced JPEG decode, upright and at its target size; `None` when the plan
/// has none or libjpeg refuses.
fn reduced(bytes: &[u8], plan: &Plan) -> Option<RgbImage> {
    let mut image = DynamicImage::ImageRgb8(jpeg_scaled(bytes, plan.jpeg_scale?)?);
    image.apply_orientation(plan.orientation);
    Some(exactly(image.into_rgb8(), plan.target.0, plan.target.1))
}

/// Decodes at the size `target` picks, within a reservation of the plan's cost, and returns
/// the full size too.
pub(super) fn decode_to(bytes: &[u8], target: Target<'_>) -> Result<(RgbImage, (u32, u32)), ImageError> {
    let plan = plan(bytes, target, true)?;
    let permit = reserve(plan.cost);
    if plan.jpeg_scale.is_none() {
        return Ok((execute(bytes, &plan)?, plan.full));
    }
    if let Some(image) = reduced(bytes, &plan) {
        return Ok((image, plan.full));
    }
    // libjpeg refused: the full decode costs more, so reserve again (after giving back,
    // never waiting while holding).
    drop(permit);
    let plan = self::plan(bytes, target, false)?;
    let _permit = reserve(plan.cost);
    Ok((execute(bytes, &plan)?, plan.full))
}

/// `image` at `width`×`height`: moved when it already is, resized otherwise.
fn exactly(image: RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) { image } else { resize(&image, width, height) }
}

/// Memory for resizing `from` to `to` with `fast_image_resize`: its horizontal pass into a
/// `to.0`×`from.1` buffer, then the result.
fn shrink_cost(from: (u32, u32), to: (u32, u32)) -> u64 {
    if from == to {
        return 0;
    }
    let bytes = |(w, h): (u32, u32)| u64::from(w) * u64::from(h) * 3;
    bytes((to.0, from.1)) + bytes(to)
}

/// The smallest n/8 (n < 8) whose output still covers `want` in both directions, or `None`
/// when only the full size does.
fn jpeg_scale((width, height): (u32, u32), (want_w, want_h): (u32, u32)) -> Option<u8> {
    (1..8u8).find(|&n| scaled(width, n) >= want_w && scaled(height, n) >= want_h)
}

/// libjpeg's output side at scale n/8: rounded up.
fn scaled(side: u32, n: u8) -> u32 {
    (u64::from(side) * u64::from(n)).div_ceil(8) as u32
}

/// Decodes at n/8 with libjpeg, to RGB; `None` if libjpeg refuses (CMYK, a broken header).
fn jpeg_scaled(bytes: &[u8], n: u8) -> Option<RgbImage> {
    // mozjpeg reports libjpeg errors by unwinding (its documented contract).
    let result = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<RgbImage> {
        let mut jpeg = mozjpeg::Decompress::new_mem(bytes)?;
        jpeg.scale(n);
        let mut started = jpeg.rgb()?;
        let (width, height) = (started.width() as u32, started.height() as u32);
        let pixels: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        RgbImage::from_raw(width, height, pixels).ok_or_else(|| std::io::ErrorKind::InvalidData.into())
    }));
    match result {
        Ok(Ok(image)) => Some(image),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "reduced JPEG decode failed; decoding in full");
            None
        }
        Err(_) => {
            tracing::debug!("reduced JPEG decode refused by libjpeg; decoding in full");
            None
        }
    }
}

/// Whether the JPEG's frame is sequential Huffman (SOF0 or SOF1): the only kind libjpeg
/// decodes at a reduced scale without full-size buffers. Walks the marker segments up to
/// the frame header.
pub(super) fn sequential_huffman(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        match bytes[i + 1] {
            // Fill byte before a marker.
            0xFF => i += 1,
            0xC0 | 0xC1 => return true,
            // Other frame types (progressive, lossless, arithmetic), or scan data before any
            // frame header.
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA => return false,
            // Markers without a length.
            0x01 | 0xD0..=0xD8 => i += 2,
            _ => i += 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]])),
        }
    }
    false
}
