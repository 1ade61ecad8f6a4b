//! Encoding results for Discord: JPEG via mozjpeg at libjpeg-turbo speed, PNG with the
//! `image` crate's fast (fdeflate) setting, and the choice of what to upload for one image.
//!
//! mozjpeg's own defaults (trellis + progressive) cost ≈25× the CPU for −15…35% bytes,
//! and `image`'s JPEG encoder is ≈10× slower and 4:4:4-only, hence the explicit settings.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};
use mozjpeg::{ColorSpace, Compress};

use super::decode::{check_dimensions, decode_held};
use super::resize::fit_within;
use super::{DISCORD_FILE_LIMIT, Format, ImageError, probe};

/// Baseline JPEG limit per side.
const JPEG_MAX_SIDE: u32 = 65_535;

/// JPEG, 4:2:0, mozjpeg with `set_fastest_defaults` (= libjpeg-turbo: no trellis, baseline,
/// standard Huffman tables). `quality` is clamped to 1..=100.
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, ImageError> {
    let (width, height) = img.dimensions();
    jpeg_from_rows(width, height, quality, |write| write(img.as_raw()))
}

/// Receives whole RGB8 rows, top to bottom, any number at a time.
pub(super) type RowSink<'a> = dyn FnMut(&[u8]) -> io::Result<()> + 'a;

/// [`encode_jpeg`] for pixels that are not one contiguous image: `produce` must hand the
/// sink exactly `height` rows of `width` pixels in order. Lets the grid be encoded straight
/// from its four tiles, without a 12 MiB composed copy.
pub(super) fn jpeg_from_rows(
    width: u32,
    height: u32,
    quality: u8,
    produce: impl FnOnce(&mut RowSink<'_>) -> io::Result<()>,
) -> Result<Vec<u8>, ImageError> {
    if width == 0 || height == 0 || width > JPEG_MAX_SIDE || height > JPEG_MAX_SIDE {
        return Err(ImageError::Encode(format!("cannot encode a {width}×{height} JPEG")));
    }
    let quality = quality.clamp(1, 100);
    // ≈1.3 bits per pixel covers a q90 photo-like image, so the Vec rarely regrows.
    let capacity = (width as usize * height as usize) / 6 + 4096;
    // mozjpeg reports libjpeg errors by unwinding (its documented contract), so the whole
    // use of the library must sit inside catch_unwind.
    let result = catch_unwind(AssertUnwindSafe(|| -> io::Result<Vec<u8>> {
        let mut comp = Compress::new(ColorSpace::JCS_RGB);
        comp.set_size(width as usize, height as usize);
        // Resets every parameter, so it must come before quality and sampling.
        comp.set_fastest_defaults();
        comp.set_quality(f32::from(quality));
        comp.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        let mut started = comp.start_compress(Vec::with_capacity(capacity))?;
        produce(&mut |rows: &[u8]| started.write_scanlines(rows))?;
        started.finish()
    }));
    match result {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(ImageError::Encode(format!("mozjpeg: {e}"))),
        Err(panic) => Err(ImageError::Encode(format!("mozjpeg: {}", panic_message(&panic)))),
    }
}

/// PNG with `image`'s default compression (`Fast`, fdeflate: ≈25 ms for 2048², within a few
/// percent of zlib level 6's size). Never use `CompressionType::Default`/`Best` inline: 30×.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ImageError> {
    let (width, height) = img.dimensions();
    // Noisy photo-like content compresses to roughly half of raw with fdeflate.
    let mut out = Vec::with_capacity(img.as_raw().len() / 2 + 4096);
    PngEncoder::new(&mut out)
        .write_image(img.as_raw(), width, height, ExtendedColorType::Rgb8)
        .map_err(|e| ImageError::Encode(format!("png: {e}")))?;
    Ok(out)
}

/// What to upload for one full-size image (upscale / variation result):
/// 1. the backend's original bytes if they are PNG, JPEG or WebP and fit in
///    [`DISCORD_FILE_LIMIT`]: 0 ms and lossless;
/// 2. else the decoded first frame as PNG (fast) if that fits;
/// 3. else JPEG q95, downscaled by ¾ per step until it fits (only reachable for huge noisy
///    images near [`super::MAX_DIMENSION`]).
///
/// The header is always parsed and the dimension limit applied, even on pass-through, so a
/// file Easel forwards is one it could also have decoded. Re-encoded output is RGB: any
/// transparency is flattened onto white, as in [`super::decode`].
pub fn single_for_discord(original: &[u8]) -> Result<(Vec<u8>, Format), ImageError> {
    let (format, width, height) = probe(original)?;
    check_dimensions(width, height)?;
    let passable = matches!(format, Format::Png | Format::Jpeg | Format::Webp);
    if passable && original.len() <= DISCORD_FILE_LIMIT {
        return Ok((original.to_vec(), format));
    }
    // The decode's reservation in the budget lasts while its pixels are re-encoded.
    let (img, _permit) = decode_held(original)?;
    let png = encode_png(&img)?;
    if png.len() <= DISCORD_FILE_LIMIT {
        return Ok((png, Format::Png));
    }
    let mut current = img;
    loop {
        let jpeg = encode_jpeg(&current, 95)?;
        if jpeg.len() <= DISCORD_FILE_LIMIT {
            return Ok((jpeg, Format::Jpeg));
        }
        let long = current.width().max(current.height());
        if long <= 16 {
            return Err(ImageError::Encode(format!("{} bytes JPEG for {long} px", jpeg.len())));
        }
        // Terminates: the long side strictly shrinks until the guard above.
        current = fit_within(&current, (long * 3 / 4).max(1));
    }
}

pub(super) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "panicked".to_owned()
    }
}
