//! Tests of the decode budget (`budget.rs`) and of decoding to the size needed
//! (`reduced.rs`).

use futures::FutureExt;
use image::Rgb;

use super::decode::with_exif_orientation;
use super::*;
use crate::imaging::decode::{decode_cost, decode_held, open};
use crate::imaging::reduced::sequential_huffman;
use crate::imaging::{
    DecodeBudget, Format, ImageError, MAX_DIMENSION, decode, decode_fitted, decode_resized, encode_jpeg,
    fit_within, resize,
};

const KIB: u64 = 1024;

#[test]
fn a_member_holds_at_most_half_and_waits_while_others_decode() {
    let budget = DecodeBudget::new(1024 * KIB);
    assert_eq!((budget.capacity(), budget.member_share()), (1024 * KIB, 512 * KIB));
    let first = budget.acquire("alice", 400 * KIB);
    // Alice's second image would take her past half: it queues, and holds nothing meanwhile.
    let mut second = Box::pin(budget.acquire_async("alice", 400 * KIB));
    assert!((&mut second).now_or_never().is_none(), "alice waits for her own first image");
    assert_eq!(budget.in_use(), 400 * KIB);
    // Bob is not held up by Alice's queue.
    let bob = budget.acquire("bob", 500 * KIB);
    assert_eq!(budget.in_use(), 900 * KIB);
    drop(first);
    let second = second.now_or_never().expect("alice's second image starts once her first is done");
    assert_eq!(budget.in_use(), 900 * KIB);
    // Carol fits neither beside Alice and Bob: she waits for the total, not for a share.
    let mut carol = Box::pin(budget.acquire_async("carol", 200 * KIB));
    assert!((&mut carol).now_or_never().is_none());
    drop(bob);
    let _carol = carol.now_or_never().expect("room again");
    drop(second);
}

#[test]
fn an_image_larger_than_the_budget_still_decodes_alone() {
    let budget = DecodeBudget::new(1024 * KIB);
    let huge = budget.acquire("alice", 256 << 20);
    assert_eq!(budget.in_use(), budget.capacity(), "charged the whole budget");
    assert!(budget.acquire_async("bob", 1).now_or_never().is_none(), "and runs alone");
    drop(huge);
    assert_eq!(budget.in_use(), 0);
    let _tiny = budget.acquire("bob", 1);
}

#[test]
fn waiting_members_queue_in_order_and_the_map_forgets_idle_ones() {
    let budget = DecodeBudget::new(1024 * KIB);
    let big = budget.acquire("a", 512 * KIB);
    let other = budget.acquire("b", 512 * KIB);
    // First come, first served: a large request at the head is not overtaken by a small one.
    let mut large = Box::pin(budget.acquire_async("c", 1024 * KIB));
    assert!((&mut large).now_or_never().is_none());
    let mut small = Box::pin(budget.acquire_async("d", KIB));
    assert!((&mut small).now_or_never().is_none());
    drop((big, other));
    let large = large.now_or_never().expect("the head of the queue goes first");
    assert!((&mut small).now_or_never().is_none(), "the small one waits behind it");
    drop(large);
    drop(small.now_or_never().expect("then the small one"));
    assert_eq!(budget.in_use(), 0);
}

/// A GIF whose logical screen is `width`×`height` around a single pixel: tiny file, huge image.
fn gif_bomb(width: u16, height: u16) -> Vec<u8> {
    let mut gif = gif_of(1, 1, &[[0, 0, 0, 255]]);
    gif[6..8].copy_from_slice(&width.to_le_bytes());
    gif[8..10].copy_from_slice(&height.to_le_bytes());
    gif
}

#[test]
fn a_decode_is_charged_what_its_header_declares_before_any_pixel() {
    let bomb = gif_bomb(8000, 8000);
    assert!(bomb.len() < 100, "{} bytes", bomb.len());
    let decoder = open(&bomb, Format::Gif).expect("header reads");
    assert_eq!(decode_cost(&decoder), 8000 * 8000 * 4);
    // RGB8 is charged as RGBA8 (the peak of flattening); 16-bit as its buffer plus the copy.
    let png = png_of(&solid(100, 50, [1, 2, 3]));
    assert_eq!(decode_cost(&open(&png, Format::Png).unwrap()), 100 * 50 * 4);
    let png16 = patch_ihdr(&png, 100, 50, 16, 6);
    assert_eq!(decode_cost(&open(&png16, Format::Png).unwrap()), 100 * 50 * (8 + 4));
}

#[test]
fn a_decode_keeps_its_reservation_while_the_caller_keeps_the_pixels() {
    let png = png_of(&solid(1000, 500, [1, 2, 3]));
    let (image, permit) = decode_held(&png).expect("decodes");
    // Other tests decode in parallel, so only a lower bound can be checked.
    assert!(DecodeBudget::global().in_use() >= 1000 * 500 * 4);
    assert_eq!(image.dimensions(), (1000, 500));
    drop(permit);
}

/// Smooth content, so a reduced decode and a resize of the full one look alike.
fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) * 127 / (width + height)) as u8])
    })
}

#[test]
fn a_jpeg_is_decoded_at_the_size_needed_with_a_fraction_of_the_memory() {
    let jpeg = encode_jpeg(&gradient(2048, 1536), 90).expect("encodes");
    assert!(sequential_huffman(&jpeg));
    let (full, full_peak) = largest_allocation(|| decode(&jpeg).expect("decodes"));
    let (small, small_peak) = largest_allocation(|| decode_fitted(&jpeg, 256).expect("decodes"));
    let reference = fit_within(&full, 256);
    assert_eq!(small.dimensions(), (256, 192));
    assert_eq!(small.dimensions(), reference.dimensions(), "same size as fit_within of the full decode");
    assert!(mean_abs_diff(&small, &reference) < 2.0, "{}", mean_abs_diff(&small, &reference));
    assert!(full_peak >= 2048 * 1536 * 3, "{full_peak}");
    assert!(small_peak * 8 < full_peak, "reduced {small_peak} B vs full {full_peak} B");

    let stretched = decode_resized(&jpeg, 300, 100).expect("decodes");
    assert!(mean_abs_diff(&stretched, &resize(&full, 300, 100)) < 2.0);
}

#[test]
fn a_reduced_jpeg_decode_is_upright() {
    let img = gradient(1600, 800);
    let jpeg = with_exif_orientation(&encode_jpeg(&img, 90).expect("encodes"), 6);
    let full = decode(&jpeg).expect("decodes");
    assert_eq!(full.dimensions(), (800, 1600));
    let small = decode_fitted(&jpeg, 200).expect("decodes");
    assert_eq!(small.dimensions(), (100, 200));
    assert!(mean_abs_diff(&small, &fit_within(&full, 200)) < 2.0);
}

#[test]
fn other_formats_are_decoded_in_full_then_shrunk_to_the_same_result() {
    let img = pattern(300, 200, 3);
    let gif = gif_of(300, 200, &[[9, 8, 7, 255]]);
    // A JPEG needed at (nearly) full size takes the full path too.
    for (bytes, max_side) in [(png_of(&img), 90), (webp_of(&img), 90), (gif, 90), (jpeg_of(&img), 290)] {
        let full = decode(&bytes).expect("decodes");
        assert!(decode_fitted(&bytes, max_side).expect("decodes") == fit_within(&full, max_side));
        assert!(decode_resized(&bytes, 290, 70).expect("decodes") == resize(&full, 290, 70));
        // Never upscaled; errors are decode's.
        assert!(decode_fitted(&bytes, 1000).expect("decodes") == full);
    }
    assert_eq!(decode_fitted(b"plain text", 10), Err(ImageError::UnsupportedFormat));
    let huge = patch_ihdr(&png_of(&img), MAX_DIMENSION + 1, 10, 8, 2);
    assert!(matches!(decode_fitted(&huge, 10), Err(ImageError::TooLarge { .. })));
}

#[test]
fn only_sequential_jpegs_take_the_reduced_path() {
    let baseline = encode_jpeg(&gradient(64, 64), 90).expect("encodes");
    assert!(sequential_huffman(&baseline));
    // Turn SOF0 into SOF2 (progressive): same header layout, other frame type.
    let sof = baseline.windows(2).position(|w| w == [0xFF, 0xC0]).expect("has SOF0");
    let mut progressive = baseline.clone();
    progressive[sof + 1] = 0xC2;
    assert!(!sequential_huffman(&progressive));
    assert!(!sequential_huffman(&baseline[..sof]), "cut before the frame header");
    assert!(!sequential_huffman(b"\xFF\xD8\xFF"));
}
