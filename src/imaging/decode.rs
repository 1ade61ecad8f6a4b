//! Reading untrusted bytes: format sniffing, header probing and limited decoding to RGB8.
//!
//! The order matters for safety: sniff the magic bytes (never a declared type), parse only
//! the header, refuse oversized dimensions with their numbers, wait for room in the decode
//! budget ([`super::budget`]), reserve the output buffer against [`MAX_ALLOC`], and only then
//! let the decoder allocate pixels.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage, RgbaImage};

use super::budget::{DecodePermit, reserve};
use super::{Format, ImageError, MAX_ALLOC, MAX_DIMENSION};

/// Identifies the format from magic bytes. Anything but PNG/JPEG/WebP/GIF (including empty
/// input, BMP, SVG or text) is [`ImageError::UnsupportedFormat`].
pub fn sniff(bytes: &[u8]) -> Result<Format, ImageError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(Format::Jpeg)
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        Ok(Format::Webp)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Ok(Format::Gif)
    } else {
        Err(ImageError::UnsupportedFormat)
    }
}

/// Format and dimensions from the header alone; no pixel data is decoded.
///
/// Does not apply [`MAX_DIMENSION`] (it reports what the header claims, so callers can say
/// what they refused); [`decode`] and [`super::single_for_discord`] do.
pub fn probe(bytes: &[u8]) -> Result<(Format, u32, u32), ImageError> {
    let format = sniff(bytes)?;
    let decoder = open(bytes, format)?;
    let (width, height) = decoder.dimensions();
    Ok((format, width, height))
}

/// Decodes to 8-bit RGB within the limits; alpha is composited onto white, 16-bit is
/// reduced to 8-bit, only the first frame of an animation is read, and an EXIF orientation
/// is applied (so a rotated photo comes out upright, with width and height swapped).
///
/// Waits, after reading the header, until the decode fits in the decode budget
/// ([`super::DecodeBudget`]); the reservation ends when this returns.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, ImageError> {
    decode_held(bytes).map(|(image, _permit)| image)
}

/// [`decode`], keeping the budget's reservation for as long as the caller keeps the pixels.
pub(super) fn decode_held(bytes: &[u8]) -> Result<(RgbImage, DecodePermit), ImageError> {
    let format = sniff(bytes)?;
    let decoder = open(bytes, format)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    let permit = reserve(decode_cost(&decoder));
    Ok((decode_opened(decoder)?, permit))
}

/// Decodes, from an opened decoder whose dimensions were checked, what [`decode`] returns.
pub(super) fn decode_opened(mut decoder: impl ImageDecoder) -> Result<RgbImage, ImageError> {
    let (width, height) = decoder.dimensions();
    // What `ImageReader::decode` does internally, but with our error mapping: the output
    // buffer counts against MAX_ALLOC, and the rest is what the decoder may use on top.
    let mut limits = strict_limits();
    limits.reserve(decoder.total_bytes()).map_err(|e| ImageError::from_decoding(e, width, height))?;
    decoder.set_limits(limits).map_err(|e| ImageError::from_decoding(e, width, height))?;
    // Phone JPEGs are stored sideways with an EXIF tag; Discord shows them upright, so the
    // pixels we hand on must be upright too. Unreadable EXIF is ignored, not fatal.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| ImageError::from_decoding(e, width, height))?;
    image.apply_orientation(orientation);
    Ok(into_rgb8(image))
}

/// The most memory decoding takes: the decoder's output buffer, plus the RGB8 (or RGBA8)
/// copy when the output is another layout; never less than the 4 bytes per pixel of RGBA8,
/// which is flattened in place.
pub(super) fn decode_cost(decoder: &impl ImageDecoder) -> u64 {
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    let copy = match decoder.color_type() {
        ColorType::Rgb8 | ColorType::Rgba8 => 0,
        other if other.has_alpha() => pixels * 4,
        _ => pixels * 3,
    };
    (decoder.total_bytes() + copy).max(pixels * 4)
}

/// Refuses sizes over [`MAX_DIMENSION`] and degenerate 0-pixel images.
pub(super) fn check_dimensions(width: u32, height: u32) -> Result<(), ImageError> {
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(ImageError::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt(format!("{width}×{height} image has no pixels")));
    }
    Ok(())
}

/// Builds the decoder, which parses the header only.
pub(super) fn open(bytes: &[u8], format: Format) -> Result<impl ImageDecoder + '_, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    // No dimension limit yet: `image` would refuse without saying the size, and we want to
    // tell the member "9000×9000". The allocation cap already applies to header parsing
    // (the PNG decoder takes it at construction for metadata chunks).
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.into_decoder().map_err(ImageError::from_header)
}

fn strict_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Converts any decoded layout to RGB8, moving the buffer when it already is RGB8/RGBA8.
fn into_rgb8(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other if other.color().has_alpha() => flatten_onto_white(other.into_rgba8()),
        other => other.into_rgb8(),
    }
}

/// Composites RGBA over opaque white, compacting 4→3 bytes per pixel in the same buffer
/// (the write position never passes the read position), so no second image is allocated.
fn flatten_onto_white(rgba: RgbaImage) -> RgbImage {
    let (width, height) = rgba.dimensions();
    let mut buf = rgba.into_raw();
    let pixels = buf.len() / 4;
    for i in 0..pixels {
        let [r, g, b, a] = [buf[4 * i], buf[4 * i + 1], buf[4 * i + 2], buf[4 * i + 3]];
        let out =
            if a == 255 { [r, g, b] } else { [blend_white(r, a), blend_white(g, a), blend_white(b, a)] };
        buf[3 * i..3 * i + 3].copy_from_slice(&out);
    }
    buf.truncate(pixels * 3);
    buf.shrink_to_fit();
    RgbImage::from_raw(width, height, buf).expect("buffer holds width*height RGB pixels")
}

/// `c·α + 255·(1−α)`, rounded, in integer arithmetic.
fn blend_white(c: u8, a: u8) -> u8 {
    let (c, a) = (u32::from(c), u32::from(a));
    ((c * a + 255 * (255 - a) + 127) / 255) as u8
}
