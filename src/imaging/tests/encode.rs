//! Tests of the encoders and of the single-image upload choice (`encode.rs`).

use super::*;
use crate::imaging::{
    DISCORD_FILE_LIMIT, Format, ImageError, MAX_DIMENSION, decode, encode_jpeg, encode_png,
    single_for_discord,
};

/// Sampling factors (h<<4 | v) of each component in the baseline SOF0 marker, or `None` if
/// the file has no SOF0 (e.g. progressive).
fn sof0_sampling(jpeg: &[u8]) -> Option<Vec<u8>> {
    let at = jpeg.windows(2).position(|w| w == [0xFF, 0xC0])?;
    let components = usize::from(*jpeg.get(at + 9)?);
    (0..components).map(|c| jpeg.get(at + 11 + 3 * c).copied()).collect()
}

#[test]
fn jpeg_decodes_back_and_is_much_smaller_than_png() {
    let img = noisy(256, 192);
    let jpeg = encode_jpeg(&img, 90).expect("encodes");
    let png = encode_png(&img).expect("encodes");
    let back = decode(&jpeg).expect("decodes");
    assert_eq!(back.dimensions(), (256, 192));
    assert!(mean_abs_diff(&img, &back) < 4.0);
    assert!(jpeg.len() * 2 < png.len(), "jpeg {} vs png {}", jpeg.len(), png.len());
}

#[test]
fn jpeg_is_baseline_four_two_zero() {
    let jpeg = encode_jpeg(&noisy(64, 64), 90).expect("encodes");
    assert_eq!(sof0_sampling(&jpeg), Some(vec![0x22, 0x11, 0x11]));
}

#[test]
fn jpeg_quality_is_clamped_and_monotonic() {
    let img = noisy(128, 128);
    let sizes = [0u8, 50, 90, 100, 255].map(|q| encode_jpeg(&img, q).expect("encodes").len());
    assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2] && sizes[2] < sizes[3], "{sizes:?}");
    assert_eq!(sizes[3], sizes[4], "quality above 100 is 100");
}

#[test]
fn jpeg_of_odd_and_tiny_sizes() {
    for (w, h) in [(1, 1), (3, 7), (17, 1)] {
        let jpeg = encode_jpeg(&pattern(w, h, 0), 90).expect("encodes");
        assert_eq!(decode(&jpeg).expect("decodes").dimensions(), (w, h));
    }
}

#[test]
fn jpeg_of_an_empty_image_is_an_encode_error() {
    let err = encode_jpeg(&solid(0, 5, [0; 3]), 90).expect_err("empty");
    assert!(matches!(err, ImageError::Encode(_)));
}

#[test]
fn png_round_trips_exactly() {
    let img = pattern(33, 17, 5);
    assert_eq!(decode(&encode_png(&img).expect("encodes")), Ok(img));
}

#[test]
fn small_png_jpeg_and_webp_pass_through_byte_for_byte() {
    let img = noisy(48, 32);
    for (bytes, format) in
        [(png_of(&img), Format::Png), (jpeg_of(&img), Format::Jpeg), (webp_of(&img), Format::Webp)]
    {
        let (out, got) = single_for_discord(&bytes).expect("passes");
        assert_eq!(got, format);
        assert!(out == bytes, "{format:?} was re-encoded");
    }
}

#[test]
fn gif_is_re_encoded_as_png_of_its_first_frame() {
    let gif = gif_of(12, 6, &[[0, 128, 255, 255], [255, 0, 0, 255]]);
    let (out, format) = single_for_discord(&gif).expect("converts");
    assert_eq!(format, Format::Png);
    assert_eq!(decode(&out), Ok(solid(12, 6, [0, 128, 255])));
}

#[test]
fn png_over_the_discord_limit_is_re_encoded() {
    // A valid PNG padded past 10 MiB with a private ancillary chunk decoders skip.
    let img = pattern(64, 64, 9);
    let padded = insert_chunk(&png_of(&img), b"prVt", &vec![0u8; DISCORD_FILE_LIMIT]);
    assert!(padded.len() > DISCORD_FILE_LIMIT);
    let (out, format) = single_for_discord(&padded).expect("converts");
    assert_eq!(format, Format::Png);
    assert!(out.len() < 100_000);
    assert_eq!(decode(&out), Ok(img));
}

#[test]
fn single_for_discord_applies_the_dimension_limit_and_validates() {
    let huge = patch_ihdr(&png_of(&solid(1, 1, [0; 3])), MAX_DIMENSION + 1, 10, 8, 2);
    assert_eq!(single_for_discord(&huge), Err(ImageError::TooLarge { width: MAX_DIMENSION + 1, height: 10 }));
    assert_eq!(single_for_discord(b"plain text"), Err(ImageError::UnsupportedFormat));
    let png = png_of(&pattern(8, 8, 0));
    assert!(matches!(single_for_discord(&png[..20]), Err(ImageError::Corrupt(_))));
}
