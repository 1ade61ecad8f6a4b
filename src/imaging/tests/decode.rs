//! Tests of sniffing, probing and limited decoding (`decode.rs`, `error.rs`).

use image::{Rgb, Rgba, RgbaImage};

use super::*;
use crate::imaging::{Format, ImageError, MAX_DIMENSION, decode, probe, sniff};

#[test]
fn sniff_recognises_the_four_formats() {
    let img = pattern(8, 8, 1);
    assert_eq!(sniff(&png_of(&img)), Ok(Format::Png));
    assert_eq!(sniff(&jpeg_of(&img)), Ok(Format::Jpeg));
    assert_eq!(sniff(&webp_of(&img)), Ok(Format::Webp));
    assert_eq!(sniff(&gif_of(8, 8, &[[1, 2, 3, 255]])), Ok(Format::Gif));
}

#[test]
fn sniff_rejects_bmp_text_and_near_misses() {
    let bmp = b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0";
    for bytes in [
        bmp.as_slice(),
        b"hello, this is not an image",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"",
        b"\x89PNG",              // truncated signature
        b"RIFF\0\0\0\0WAVEfmt ", // RIFF but not WebP
        b"GIF88a",
    ] {
        assert_eq!(sniff(bytes), Err(ImageError::UnsupportedFormat), "{bytes:?}");
        assert_eq!(decode(bytes), Err(ImageError::UnsupportedFormat));
    }
}

#[test]
fn format_mime_and_extension() {
    assert_eq!(Format::Png.mime(), "image/png");
    assert_eq!(Format::Jpeg.mime(), "image/jpeg");
    assert_eq!(Format::Webp.mime(), "image/webp");
    assert_eq!(Format::Gif.mime(), "image/gif");
    let exts = [Format::Png, Format::Jpeg, Format::Webp, Format::Gif].map(|f| f.extension());
    assert_eq!(exts, ["png", "jpg", "webp", "gif"]);
}

#[test]
fn png_and_webp_lossless_round_trip_exactly() {
    let img = pattern(37, 23, 3);
    assert_eq!(decode(&png_of(&img)), Ok(img.clone()));
    assert_eq!(decode(&webp_of(&img)), Ok(img));
}

#[test]
fn jpeg_decodes_close_to_source() {
    let img = noisy(64, 48);
    let decoded = decode(&jpeg_of(&img)).expect("jpeg decodes");
    assert!(mean_abs_diff(&img, &decoded) < 4.0);
}

#[test]
fn probe_reads_only_the_header() {
    let img = pattern(300, 200, 0);
    assert_eq!(probe(&png_of(&img)), Ok((Format::Png, 300, 200)));
    assert_eq!(probe(&jpeg_of(&img)), Ok((Format::Jpeg, 300, 200)));
    assert_eq!(probe(&webp_of(&img)), Ok((Format::Webp, 300, 200)));
    assert_eq!(probe(&gif_of(30, 20, &[[0, 0, 0, 255]])), Ok((Format::Gif, 30, 20)));
    // Header claims 20000² over a 1×1 body: probe reports the claim, allocating nothing big.
    let huge = patch_ihdr(&png_of(&solid(1, 1, [0, 0, 0])), 20_000, 20_000, 8, 2);
    let (probed, largest) = largest_allocation(|| probe(&huge));
    assert_eq!(probed, Ok((Format::Png, 20_000, 20_000)));
    assert!(largest < 1 << 20, "probe allocated {largest} bytes");
}

#[test]
fn oversized_header_is_refused_before_allocating() {
    let tiny = png_of(&solid(1, 1, [9, 9, 9]));
    let huge = patch_ihdr(&tiny, 20_000, 20_000, 8, 2);
    let (result, largest) = largest_allocation(|| decode(&huge));
    assert_eq!(result, Err(ImageError::TooLarge { width: 20_000, height: 20_000 }));
    // 20000² RGB8 would be 1.2 GB; nothing near a pixel buffer may have been requested.
    assert!(largest < 1 << 20, "decode allocated {largest} bytes before refusing");
    // Control: the probe does see a real pixel buffer.
    let real = png_of(&solid(512, 512, [9, 9, 9]));
    let (_, control) = largest_allocation(|| decode(&real));
    assert!(control >= 512 * 512 * 3, "probe saw only {control} bytes");
}

#[test]
fn one_side_over_the_limit_is_enough_to_refuse() {
    let tiny = png_of(&solid(1, 1, [9, 9, 9]));
    let wide = patch_ihdr(&tiny, MAX_DIMENSION + 1, 1, 8, 2);
    assert_eq!(decode(&wide), Err(ImageError::TooLarge { width: MAX_DIMENSION + 1, height: 1 }));
    let tall = patch_ihdr(&tiny, 1, MAX_DIMENSION + 1, 8, 2);
    assert!(matches!(decode(&tall), Err(ImageError::TooLarge { .. })));
}

#[test]
fn sixteen_bit_rgba_at_the_size_limit_exceeds_the_memory_cap() {
    // 8192² × 8 bytes = 512 MiB > MAX_ALLOC: refused from the header, nothing allocated.
    let tiny = png_of(&solid(1, 1, [9, 9, 9]));
    let deep = patch_ihdr(&tiny, MAX_DIMENSION, MAX_DIMENSION, 16, 6);
    let (result, largest) = largest_allocation(|| decode(&deep));
    assert_eq!(result, Err(ImageError::TooMuchMemory { width: 8192, height: 8192 }));
    assert!(largest < 1 << 20, "decode allocated {largest} bytes before refusing");
}

#[test]
fn too_large_message_is_written_for_a_member() {
    let err = ImageError::TooLarge { width: 9000, height: 9000 };
    assert_eq!(err.to_string(), "The image is 9000×9000; the largest Easel accepts is 8192×8192.");
    assert_eq!(err.detail(), None);
    let corrupt = ImageError::Corrupt("unexpected EOF in IDAT".into());
    assert!(!corrupt.to_string().contains("IDAT"), "library detail leaks into Display");
    assert_eq!(corrupt.detail(), Some("unexpected EOF in IDAT"));
}

#[test]
fn truncated_png_is_corrupt() {
    let png = png_of(&noisy(64, 64));
    for cut in [png.len() / 2, 40, 20, 9] {
        let err = decode(&png[..cut]).expect_err("truncated PNG must fail");
        assert!(matches!(err, ImageError::Corrupt(_)), "cut at {cut}: {err:?}");
    }
}

#[test]
fn jpeg_truncated_mid_scan_decodes_like_a_browser_would() {
    // zune-jpeg (like libjpeg and browsers) fills missing scan data instead of failing, so a
    // JPEG cut inside its entropy-coded data still decodes at full size. Documented, not
    // fought: the header is intact and the result is a valid image.
    let jpeg = jpeg_of(&noisy(128, 128));
    for cut in [jpeg.len() / 2, jpeg.len() - 10] {
        assert_eq!(decode(&jpeg[..cut]).map(|i| i.dimensions()), Ok((128, 128)));
    }
}

#[test]
fn png_with_garbage_pixel_data_is_corrupt() {
    let mut png = png_of(&noisy(64, 64));
    let idat = png.windows(4).position(|w| w == b"IDAT").expect("has IDAT");
    for b in &mut png[idat + 8..idat + 40] {
        *b ^= 0x5A;
    }
    assert!(matches!(decode(&png), Err(ImageError::Corrupt(_))));
}

#[test]
fn png_with_zero_width_is_corrupt() {
    let png = patch_ihdr(&png_of(&solid(1, 1, [0, 0, 0])), 0, 1, 8, 2);
    assert!(matches!(decode(&png), Err(ImageError::Corrupt(_))));
}

#[test]
fn truncated_jpeg_webp_and_gif_headers_are_corrupt() {
    let img = noisy(64, 64);
    let jpeg = jpeg_of(&img);
    let webp = webp_of(&img);
    let gif = gif_of(16, 16, &[[1, 2, 3, 255]]);
    for (name, bytes) in [("jpeg", &jpeg[..20]), ("webp", &webp[..16]), ("gif", &gif[..10])] {
        let err = decode(bytes).expect_err(name);
        assert!(matches!(err, ImageError::Corrupt(_)), "{name}: {err:?}");
        assert!(matches!(probe(bytes), Err(ImageError::Corrupt(_))), "{name}");
    }
}

#[test]
fn exif_orientation_is_applied() {
    // 3×2 image, tagged "rotate 90° clockwise to display" (orientation 6).
    let img = pattern(3, 2, 6);
    let jpeg = with_exif_orientation(&jpeg_of(&img), 6);
    assert_eq!(probe(&jpeg), Ok((Format::Jpeg, 3, 2)), "probe reports the stored size");
    let upright = decode(&jpeg).expect("decodes");
    assert_eq!(upright.dimensions(), (2, 3));
    let reference = image::imageops::rotate90(&decode(&jpeg_of(&img)).expect("decodes"));
    assert_eq!(upright, reference);
}

#[test]
fn gif_decodes_to_its_first_frame() {
    let gif = gif_of(20, 10, &[[200, 0, 0, 255], [0, 0, 200, 255], [0, 200, 0, 255]]);
    let img = decode(&gif).expect("gif decodes");
    assert_eq!(img.dimensions(), (20, 10));
    assert!(img.pixels().all(|p| *p == Rgb([200, 0, 0])));
}

#[test]
fn animated_webp_decodes_to_its_first_frame() {
    let webp = animated_webp(&[solid(16, 8, [10, 200, 30]), solid(16, 8, [250, 5, 5])]);
    assert_eq!(probe(&webp), Ok((Format::Webp, 16, 8)));
    let img = decode(&webp).expect("animated webp decodes");
    assert!(img.pixels().all(|p| *p == Rgb([10, 200, 30])), "{:?}", img.get_pixel(0, 0));
}

#[test]
fn alpha_is_composited_onto_white() {
    let rgba = RgbaImage::from_fn(4, 1, |x, _| match x {
        0 => Rgba([10, 20, 30, 255]), // opaque: untouched
        1 => Rgba([0, 0, 0, 0]),      // fully transparent black: white
        2 => Rgba([0, 0, 0, 128]),    // half black: mid grey
        _ => Rgba([255, 0, 0, 51]),   // 20% red: pale pink
    });
    let img = decode(&png_rgba(&rgba)).expect("rgba png decodes");
    let px: Vec<_> = img.pixels().copied().collect();
    assert_eq!(px, vec![Rgb([10, 20, 30]), Rgb([255, 255, 255]), Rgb([127, 127, 127]), Rgb([255, 204, 204])]);
}

#[test]
fn transparent_gif_pixels_become_white() {
    let gif = gif_of(4, 4, &[[0, 0, 0, 0]]);
    let img = decode(&gif).expect("gif decodes");
    assert!(img.pixels().all(|p| *p == Rgb([255, 255, 255])));
}

#[test]
fn grayscale_and_sixteen_bit_pngs_become_rgb8() {
    let grey = image::GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 40 + y) as u8]));
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(grey.as_raw(), 5, 3, image::ExtendedColorType::L8)
        .expect("encodes");
    let img = decode(&png).expect("grey decodes");
    assert_eq!(img.get_pixel(4, 2), &Rgb([162, 162, 162]));

    let deep = image::ImageBuffer::<Rgb<u16>, _>::from_pixel(3, 2, Rgb([65535, 0, 32896]));
    let mut png16 = Vec::new();
    image::DynamicImage::ImageRgb16(deep)
        .write_to(&mut Cursor::new(&mut png16), image::ImageFormat::Png)
        .expect("encodes");
    let img = decode(&png16).expect("16-bit decodes");
    assert!(img.pixels().all(|p| *p == Rgb([255, 0, 128])));
}

/// An animated WebP built by hand (VP8X + ANIM + one ANMF per frame around lossless VP8L
/// bitstreams), because `image` has no animated WebP encoder.
fn animated_webp(frames: &[RgbImage]) -> Vec<u8> {
    fn u24(v: u32) -> [u8; 3] {
        let b = v.to_le_bytes();
        [b[0], b[1], b[2]]
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(kind);
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_le_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
    }
    let (w, h) = frames[0].dimensions();
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![0x02, 0, 0, 0]; // animation flag
    vp8x.extend(u24(w - 1));
    vp8x.extend(u24(h - 1));
    chunk(&mut body, b"VP8X", &vp8x);
    chunk(&mut body, b"ANIM", &[255, 255, 255, 255, 0, 0]);
    for frame in frames {
        let still = webp_of(frame);
        assert_eq!(&still[12..16], b"VP8L", "encoder wrote a simple lossless file");
        let mut anmf = Vec::new();
        anmf.extend(u24(0));
        anmf.extend(u24(0));
        anmf.extend(u24(w - 1));
        anmf.extend(u24(h - 1));
        anmf.extend(u24(100));
        anmf.push(0x02); // do not blend, do not dispose
        anmf.extend_from_slice(&still[12..]);
        chunk(&mut body, b"ANMF", &anmf);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).expect("small").to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Inserts an APP1 Exif segment holding only an Orientation tag right after the SOI marker.
pub(super) fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec(); // big-endian TIFF, IFD at 8
    exif.extend_from_slice(&1u16.to_be_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_be_bytes()); // count
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0]); // value padding
    exif.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(exif.len() + 2).expect("small").to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}
