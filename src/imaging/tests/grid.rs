//! Tests of grid composition, cropping, the parallel decode and the whole grid pipeline
//! (`grid.rs`), and of resizing (`resize.rs`).

use image::{GenericImageView, Rgb};

use super::*;
use crate::imaging::grid::{grid_cost, grid_within};
use crate::imaging::reduced::plan;
use crate::imaging::resize::fitted_size;
use crate::imaging::{
    ImageError, compose_grid, crop_grid, decode, decode4, encode_jpeg, fit_within, grid_from_encoded, resize,
    split_grid,
};

fn quadrant(grid: &RgbImage, index: u32, tile_w: u32, tile_h: u32) -> RgbImage {
    grid.view((index % 2) * tile_w, (index / 2) * tile_h, tile_w, tile_h).to_image()
}

#[test]
fn each_quadrant_of_the_grid_is_its_tile() {
    let tiles = [solid(6, 4, [255, 0, 0]), pattern(6, 4, 1), solid(6, 4, [0, 0, 255]), pattern(6, 4, 2)];
    let grid = compose_grid(&tiles);
    assert_eq!(grid.dimensions(), (12, 8));
    for (i, tile) in tiles.iter().enumerate() {
        assert_eq!(&quadrant(&grid, i as u32, 6, 4), tile, "quadrant {i}");
    }
}

#[test]
fn crop_grid_inverts_compose_grid() {
    for (w, h) in [(64, 48), (3, 5), (1, 1), (7, 2)] {
        let tiles = [0, 1, 2, 3].map(|s| pattern(w, h, s));
        assert_eq!(crop_grid(&compose_grid(&tiles)), tiles, "{w}×{h} tiles");
    }
}

#[test]
fn crop_grid_gives_left_and_top_the_floor_on_odd_sizes() {
    let grid = pattern(5, 3, 7);
    let quads = crop_grid(&grid);
    let dims = quads.each_ref().map(|q| q.dimensions());
    assert_eq!(dims, [(2, 1), (3, 1), (2, 2), (3, 2)]);
    let origins = [(0, 0), (2, 0), (0, 1), (2, 1)];
    for (q, (ox, oy)) in quads.iter().zip(origins) {
        for (x, y, p) in q.enumerate_pixels() {
            assert_eq!(p, grid.get_pixel(ox + x, oy + y));
        }
    }
}

#[test]
fn crop_grid_of_a_one_pixel_wide_grid_gives_empty_left_quadrants() {
    let quads = crop_grid(&pattern(1, 4, 0));
    let dims = quads.each_ref().map(|q| q.dimensions());
    assert_eq!(dims, [(0, 2), (1, 2), (0, 2), (1, 2)]);
}

#[test]
fn tiles_of_other_sizes_are_resized_to_the_first() {
    let tiles = [
        solid(32, 24, [200, 10, 10]),
        solid(64, 48, [10, 200, 10]), // larger
        solid(16, 12, [10, 10, 200]), // smaller
        solid(40, 40, [90, 90, 90]),  // other aspect: stretched
    ];
    let grid = compose_grid(&tiles);
    assert_eq!(grid.dimensions(), (64, 48));
    for (i, tile) in tiles.iter().enumerate() {
        let q = quadrant(&grid, i as u32, 32, 24);
        let want = solid(32, 24, tile.get_pixel(0, 0).0);
        assert!(mean_abs_diff(&q, &want) < 1.0, "quadrant {i}");
    }
}

#[test]
fn empty_first_tile_gives_an_empty_grid() {
    let tiles = [solid(0, 0, [0; 3]), pattern(2, 2, 0), pattern(2, 2, 1), pattern(2, 2, 2)];
    assert_eq!(compose_grid(&tiles).dimensions(), (0, 0));
}

#[test]
fn decode4_reads_every_format_on_two_threads() {
    let img = pattern(20, 10, 4);
    let (png, jpeg, webp) = (png_of(&img), jpeg_of(&img), webp_of(&img));
    let gif = gif_of(20, 10, &[[1, 2, 3, 255]]);
    let tiles = decode4(&[&png, &jpeg, &webp, &gif]).expect("all decode");
    assert_eq!(tiles[0], img);
    assert!(mean_abs_diff(&tiles[1], &img) < 12.0);
    assert_eq!(tiles[2], img);
    assert!(tiles[3].pixels().all(|p| *p == Rgb([1, 2, 3])));
}

#[test]
fn decode4_reports_the_first_bad_image() {
    let good = png_of(&pattern(8, 8, 0));
    let truncated = &good[..good.len() / 2];
    let r = decode4(&[&good, &good, b"not an image", truncated]);
    assert_eq!(r, Err(ImageError::UnsupportedFormat));
    let r = decode4(&[&good, &good, &good, truncated]);
    assert!(matches!(r, Err(ImageError::Corrupt(_))));
}

#[test]
fn grid_from_encoded_composes_and_encodes_jpeg() {
    let colours = [[220, 30, 30], [30, 220, 30], [30, 30, 220], [240, 240, 20]];
    let tiles = colours.map(|c| solid(64, 48, c));
    let encoded = tiles.each_ref().map(png_of);
    let inputs = encoded.each_ref().map(Vec::as_slice);
    let grid = grid_from_encoded(&inputs, 90).expect("grid builds");

    assert_eq!((grid.width, grid.height), (128, 96));
    assert_eq!(grid.tiles, tiles, "decoded tiles are kept as decoded");
    assert_eq!(grid.sizes, [(64, 48); 4]);
    assert_eq!(crate::imaging::sniff(&grid.jpeg), Ok(crate::imaging::Format::Jpeg));
    let decoded = decode(&grid.jpeg).expect("grid jpeg decodes");
    assert_eq!(decoded.dimensions(), (128, 96));
    for (i, c) in colours.iter().enumerate() {
        // Compare away from quadrant borders, where 4:2:0 chroma bleeds across.
        let q = quadrant(&decoded, i as u32, 64, 48).view(8, 8, 48, 32).to_image();
        assert!(mean_abs_diff(&q, &solid(48, 32, *c)) < 3.0, "quadrant {i}");
    }
    let debug = format!("{grid:?}");
    assert!(debug.contains("jpeg_bytes") && debug.len() < 300, "{debug}");
}

#[test]
fn images_over_4096_are_decoded_at_the_size_the_grid_shows() {
    let big = png_of(&solid(5000, 100, [200, 10, 10]));
    let jpeg = encode_jpeg(&solid(8192, 64, [10, 200, 10]), 90).expect("encodes");
    let small = png_of(&solid(50, 20, [10, 10, 200]));
    let grid = grid_from_encoded(&[&big, &jpeg, &small, &big], 90).expect("grid builds");
    assert_eq!(grid.sizes, [(5000, 100), (8192, 64), (50, 20), (5000, 100)]);
    let tiles = grid.tiles.each_ref().map(|t| t.dimensions());
    assert_eq!(tiles, [(4096, 82), (4096, 32), (50, 20), (4096, 82)]);
    assert_eq!((grid.width, grid.height), (8192, 164));
}

#[test]
fn a_grid_reserves_its_tiles_and_decodes_huge_images_one_at_a_time() {
    let fit = |w, h| fitted_size(w, h, 4096).unwrap_or((w, h));
    let rgb = |w: u64, h: u64| w * h * 3;
    // Only the header is read: a PNG claiming 8192×8192.
    let huge = patch_ihdr(&png_of(&solid(8, 8, [0; 3])), 8192, 8192, 8, 2);
    let plans = [0; 4].map(|_| plan(&huge, &fit, true).expect("header reads"));
    let decode_and_shrink = 8192 * 8192 * 4 + rgb(4096, 8192) + rgb(4096, 4096);
    assert_eq!(plans[0].cost, decode_and_shrink);
    assert_eq!(grid_cost(&plans, 512 << 20), (4 * rgb(4096, 4096) + decode_and_shrink, false));

    let small = png_of(&solid(1024, 1024, [1, 2, 3]));
    let plans = [0; 4].map(|_| plan(&small, &fit, true).expect("header reads"));
    assert_eq!(grid_cost(&plans, 512 << 20), (4 * rgb(1024, 1024) + 2 * 1024 * 1024 * 4, true));
    // A tile of another size is kept twice: as decoded and at the first tile's size.
    let other = png_of(&solid(512, 512, [1, 2, 3]));
    let mixed = [&small, &other, &small, &small].map(|b| plan(b, &fit, true).expect("header reads"));
    let kept = 3 * rgb(1024, 1024) + rgb(512, 512) + rgb(1024, 1024);
    assert_eq!(grid_cost(&mixed, 512 << 20), (kept + 2 * 1024 * 1024 * 4, true));
}

#[test]
fn split_grid_encodes_the_quadrants_crop_grid_cuts() {
    let grid = pattern(37, 23, 5);
    let quads = split_grid(&png_of(&grid)).expect("splits");
    let decoded = quads.each_ref().map(|png| decode(png).expect("quadrant decodes"));
    assert_eq!(decoded, crop_grid(&grid));
    assert_eq!(split_grid(b"nope").map(|_| ()), Err(ImageError::UnsupportedFormat));
}

#[test]
fn grid_from_encoded_fails_on_one_bad_input() {
    let good = png_of(&pattern(8, 8, 0));
    let r = grid_from_encoded(&[&good, &good, &good, b"GIF89a"], 90);
    assert!(matches!(r, Err(ImageError::Corrupt(_))), "{r:?}");
}

#[test]
fn resize_keeps_content_and_handles_degenerate_sizes() {
    let img = solid(40, 30, [12, 34, 56]);
    let small = resize(&img, 20, 15);
    assert_eq!(small.dimensions(), (20, 15));
    assert!(small.pixels().all(|p| { p.0.iter().zip([12, 34, 56]).all(|(a, b)| a.abs_diff(b) <= 1) }));
    assert_eq!(resize(&img, 40, 30), img);
    assert_eq!(resize(&img, 0, 10).dimensions(), (0, 10));
    assert_eq!(resize(&solid(0, 0, [0; 3]), 3, 2), solid(3, 2, [0; 3]));
    // Upscaling works too (used for small tiles in a grid).
    assert_eq!(resize(&pattern(5, 5, 0), 17, 9).dimensions(), (17, 9));
}

#[test]
fn fit_within_keeps_aspect_and_never_upscales() {
    let img = pattern(400, 300, 0);
    assert_eq!(fit_within(&img, 200).dimensions(), (200, 150));
    assert_eq!(fit_within(&img, 400), img);
    assert_eq!(fit_within(&img, 1000), img);
    assert_eq!(fit_within(&pattern(300, 400, 0), 100).dimensions(), (75, 100));
    assert_eq!(fit_within(&pattern(1000, 3, 0), 10).dimensions(), (10, 1));
}

#[test]
fn streamed_grid_jpeg_is_byte_identical_to_compose_then_encode() {
    for (w, h) in [(64, 48), (37, 23), (5, 40)] {
        let tiles = [0, 1, 2, 3].map(|s| pattern(w, h, s));
        let encoded = tiles.each_ref().map(png_of);
        let inputs = encoded.each_ref().map(Vec::as_slice);
        let grid = grid_from_encoded(&inputs, 85).expect("grid builds");
        let reference = encode_jpeg(&compose_grid(&tiles), 85).expect("encodes");
        assert!(grid.jpeg == reference, "{w}×{h} tiles");
    }
    // Unequal tiles take the same resize path in both.
    let tiles = [pattern(40, 30, 0), pattern(80, 60, 1), pattern(20, 10, 2), pattern(40, 30, 3)];
    let encoded = tiles.each_ref().map(png_of);
    let inputs = encoded.each_ref().map(Vec::as_slice);
    let grid = grid_from_encoded(&inputs, 90).expect("grid builds");
    assert!(grid.jpeg == encode_jpeg(&compose_grid(&tiles), 90).expect("encodes"));
}

#[test]
fn a_grid_over_the_byte_limit_is_shrunk_until_it_fits() {
    let encoded = [0, 1, 2, 3].map(|s| png_of(&noisy_seeded(96, 64, s)));
    let inputs = encoded.each_ref().map(Vec::as_slice);
    let full = grid_from_encoded(&inputs, 90).expect("grid builds");
    let limit = full.jpeg.len() / 3;
    let grid = grid_within(&inputs, 90, limit).expect("shrinks");
    assert!(grid.jpeg.len() <= limit);
    assert!(grid.width < 192 && grid.height < 128 && grid.width * 2 / grid.height == 3);
    assert_eq!(decode(&grid.jpeg).map(|g| g.dimensions()), Ok((grid.width, grid.height)));
    assert_eq!(grid.tiles, full.tiles, "tiles stay as decoded");
    assert!(matches!(grid_within(&inputs, 90, 10), Err(ImageError::Encode(_))));
}
