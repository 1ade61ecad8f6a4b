//! Unit tests of the imaging module, split by the file they exercise, plus the fixtures they
//! share: deterministic test pictures, encoders for every input format, PNG header patching,
//! and an allocation probe that proves limits are enforced before pixels are allocated.
//!
//! The probe is a `#[global_allocator]` for this crate's unit-test binary only. If the crate
//! ever installs its own global allocator under `cfg(test)`, drop the probe and the one
//! assertion that uses it.

mod budget;
mod canvas;
mod decode;
mod edit;
mod encode;
mod grid;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{Delay, Frame, ImageEncoder, Rgb, RgbImage, RgbaImage};

/// Records the largest single allocation made by the current thread.
struct PeakProbe;

thread_local! {
    // `const` and Drop-free, so touching it never allocates (no recursion into the allocator).
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for PeakProbe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static PROBE: PeakProbe = PeakProbe;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

/// A picture where neighbouring pixels, rows and seeds all differ, so misplaced rows or
/// swapped tiles cannot compare equal by accident.
fn pattern(width: u32, height: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let s = u32::from(seed);
        Rgb([(x * 7 + s * 50) as u8, (y * 5 + s * 30) as u8, ((x ^ y) + x * y + s * 90) as u8])
    })
}

/// Photo-ish content with pixel noise, so JPEG-vs-PNG size comparisons are realistic.
fn noisy(width: u32, height: u32) -> RgbImage {
    noisy_seeded(width, height, 0)
}

fn noisy_seeded(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ (seed << 32);
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state % 9) as u32;
        Rgb([(x / 2 + n) as u8, (y / 2 + 40 + n) as u8, ((x + y) / 4 + 80 + n) as u8])
    })
}

fn solid(width: u32, height: u32, colour: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb(colour))
}

fn png_of(img: &RgbImage) -> Vec<u8> {
    super::encode_png(img).expect("png encodes")
}

fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgba8)
        .expect("png encodes");
    out
}

/// JPEG from `image`'s own encoder, so decoding is not only tested on mozjpeg output.
fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95).encode_image(img).expect("jpeg encodes");
    out
}

fn webp_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .expect("webp encodes");
    out
}

/// An animated GIF, one frame per colour.
fn gif_of(width: u32, height: u32, colours: &[[u8; 4]]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(Cursor::new(&mut out));
        for &c in colours {
            let frame = Frame::from_parts(
                RgbaImage::from_pixel(width, height, image::Rgba(c)),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            );
            enc.encode_frame(frame).expect("gif frame encodes");
        }
    }
    out
}

/// Bitwise CRC-32 (PNG's), enough to re-seal a patched chunk.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Rewrites a PNG's IHDR to claim another size, bit depth and colour type, with a valid CRC,
/// leaving the (now inconsistent) pixel data as it was.
fn patch_ihdr(png: &[u8], width: u32, height: u32, depth: u8, colour_type: u8) -> Vec<u8> {
    let mut out = png.to_vec();
    assert_eq!(&out[12..16], b"IHDR");
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    out[24] = depth;
    out[25] = colour_type;
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Splices an extra chunk in just before IEND (the last 12 bytes).
fn insert_chunk(png: &[u8], kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let (body, iend) = png.split_at(png.len() - 12);
    let mut out = body.to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).expect("chunk fits").to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(iend);
    out
}

/// Mean absolute difference per channel, for lossy comparisons.
fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| u64::from(x.abs_diff(y))).sum();
    sum as f64 / a.as_raw().len() as f64
}
