//! Resampling with `fast_image_resize` (Lanczos3, AVX2 where available): ≈5 ms for
//! 2048²→1024², about 20× faster than `image::imageops::resize`.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Lanczos3 resize to exactly `width`×`height` (aspect is the caller's business).
///
/// A zero target gives an empty image; an empty source gives a black image of the target
/// size; the same size gives a copy.
pub fn resize(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    if img.dimensions() == (width, height) {
        return img.clone();
    }
    let mut dst = RgbImage::new(width, height);
    if width == 0 || height == 0 || img.width() == 0 || img.height() == 0 {
        return dst;
    }
    if resize_into(img, &mut dst).is_err() {
        // Unreachable with buffers built as above; if a future fast_image_resize disagrees,
        // a slow correct answer beats a panic in a member's request.
        return image::imageops::resize(img, width, height, image::imageops::FilterType::Lanczos3);
    }
    dst
}

fn resize_into(src: &RgbImage, dst: &mut RgbImage) -> Result<(), String> {
    let (sw, sh) = src.dimensions();
    let (dw, dh) = dst.dimensions();
    let src_view = ImageRef::new(sw, sh, src.as_raw(), PixelType::U8x3).map_err(|e| e.to_string())?;
    let mut dst_view = Image::from_slice_u8(dw, dh, dst, PixelType::U8x3).map_err(|e| e.to_string())?;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(&src_view, &mut dst_view, &options).map_err(|e| e.to_string())
}

/// Scales down so the longer side is at most `max_side`, keeping the aspect ratio (the
/// shorter side rounds to nearest, at least 1). Never upscales: a small image is copied.
pub fn fit_within(img: &RgbImage, max_side: u32) -> RgbImage {
    let (width, height) = img.dimensions();
    match fitted_size(width, height, max_side) {
        Some((w, h)) => resize(img, w, h),
        None => img.clone(),
    }
}

/// Target size for [`fit_within`], or `None` when the image already fits.
pub(super) fn fitted_size(width: u32, height: u32, max_side: u32) -> Option<(u32, u32)> {
    let long = width.max(height);
    if long <= max_side {
        return None;
    }
    let scale = |side: u32| -> u32 {
        let scaled = (u64::from(side) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        // `scaled <= side < u32::MAX`, so the conversion cannot fail.
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    if max_side == 0 {
        return Some((0, 0));
    }
    Some((scale(width), scale(height)))
}
