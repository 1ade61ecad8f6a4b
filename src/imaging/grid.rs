//! The 2×2 preview grid: parallel decode of the four backend images, composition by row
//! copies, JPEG encoding, and the inverse (splitting a backend-made grid into quadrants).
//!
//! Row `copy_from_slice`/`extend_from_slice` runs at memcpy speed (≈1 ms for 12 MiB);
//! `imageops::replace` and `crop_imm().to_image()` go pixel by pixel and are ≈10× slower.

use std::borrow::Cow;
use std::fmt;
use std::io;

use image::RgbImage;

use super::budget::{DecodeBudget, current_member, on_behalf_of, reserve};
use super::decode::decode_held;
use super::encode::{RowSink, jpeg_from_rows, panic_message};
use super::reduced::{Plan, execute, plan};
use super::resize::{fit_within, fitted_size, resize};
use super::{DISCORD_FILE_LIMIT, ImageError, MAX_DIMENSION, decode, encode_jpeg, encode_png};

/// The largest tile a grid shows; larger images are decoded straight to this size.
const MAX_TILE: u32 = MAX_DIMENSION / 2;

/// A finished grid: the JPEG to upload plus the decoded tiles, kept so U1–U4 / V1–V4 can
/// reuse the pixels without decoding again.
#[derive(Clone)]
pub struct Grid {
    pub jpeg: Vec<u8>,
    /// Size of the encoded grid (normally twice the first tile's size).
    pub width: u32,
    pub height: u32,
    /// The tiles as decoded, at their own sizes (not resized to the grid's tile size), except
    /// that an image over 4096 px a side is decoded at most 4096 px (what the grid shows).
    pub tiles: [RgbImage; 4],
    /// Each image's full size, upright, whatever size its tile was decoded at.
    pub sizes: [(u32, u32); 4],
}

impl fmt::Debug for Grid {
    // The derived Debug would print every pixel of four tiles.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tiles = self.tiles.each_ref().map(|t| t.dimensions());
        f.debug_struct("Grid")
            .field("jpeg_bytes", &self.jpeg.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("tiles", &tiles)
            .field("sizes", &self.sizes)
            .finish()
    }
}

/// Decodes four images on two threads (this one and one scoped thread, two images each):
/// PNG inflate is the biggest cost of a grid and halves with the second core.
/// On failure, the error of the lowest-indexed bad image is returned.
pub fn decode4(images: &[&[u8]; 4]) -> Result<[RgbImage; 4], ImageError> {
    decode4_with(|i| decode(images[i]))
}

/// [`decode4`] with another decode function, given the image's index. Decodes on the second
/// thread are charged to the same member as this thread's.
fn decode4_with(
    decode: impl Fn(usize) -> Result<RgbImage, ImageError> + Sync,
) -> Result<[RgbImage; 4], ImageError> {
    let member = current_member();
    let decode = &decode;
    let (mine, theirs) = std::thread::scope(|s| {
        let other = s.spawn(|| on_behalf_of(&member, || [decode(2), decode(3)]));
        let mine = [decode(0), decode(1)];
        let theirs = other.join().unwrap_or_else(|panic| {
            let e = ImageError::Corrupt(format!("decoder panicked: {}", panic_message(&panic)));
            [Err(e.clone()), Err(e)]
        });
        (mine, theirs)
    });
    let [a, b] = mine;
    let [c, d] = theirs;
    Ok([a?, b?, c?, d?])
}

/// Places the tiles as 0 1 / 2 3 in one image twice the first tile's size. Tiles of another
/// size are resized (Lanczos3) to the first tile's size, stretching if the aspect differs.
///
/// Takes an array so the count is a type error rather than a runtime one. Infallible: an
/// empty first tile gives an empty grid, an empty other tile a black quadrant.
pub fn compose_grid(tiles: &[RgbImage; 4]) -> RgbImage {
    let (width, height) = tiles[0].dimensions();
    compose_sized(&same_size(tiles, width, height), width, height)
}

/// The tiles at `tile_w`×`tile_h`: borrowed when they already are, resized otherwise.
fn same_size(tiles: &[RgbImage; 4], tile_w: u32, tile_h: u32) -> [Cow<'_, RgbImage>; 4] {
    tiles.each_ref().map(|t| {
        if t.dimensions() == (tile_w, tile_h) {
            Cow::Borrowed(t)
        } else {
            Cow::Owned(resize(t, tile_w, tile_h))
        }
    })
}

/// The left and right halves of each grid row, top to bottom, borrowed from the tiles.
fn row_halves<'a>(
    tiles: &'a [Cow<'_, RgbImage>; 4],
    tile_w: u32,
) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    // An empty tile has no bytes, so `max(1)` only keeps chunks_exact from panicking.
    let row = (tile_w as usize * 3).max(1);
    [[0, 1], [2, 3]].into_iter().flat_map(move |[l, r]| {
        let left = tiles[l].as_raw().chunks_exact(row);
        left.zip(tiles[r].as_raw().chunks_exact(row))
    })
}

/// Feeds the grid's rows to `sink` in strips of `STRIP_ROWS` whole rows. The strip buffer
/// is reused, so this allocates ≈200 KiB however large the grid.
fn feed_grid_rows(tiles: &[Cow<'_, RgbImage>; 4], tile_w: u32, sink: &mut RowSink<'_>) -> io::Result<()> {
    // 16 rows = one 4:2:0 MCU row, the unit mozjpeg consumes.
    const STRIP_ROWS: usize = 16;
    let mut strip = Vec::with_capacity(tile_w as usize * 6 * STRIP_ROWS);
    for (i, (left, right)) in row_halves(tiles, tile_w).enumerate() {
        strip.extend_from_slice(left);
        strip.extend_from_slice(right);
        if (i + 1) % STRIP_ROWS == 0 {
            sink(&strip)?;
            strip.clear();
        }
    }
    if !strip.is_empty() {
        sink(&strip)?;
    }
    Ok(())
}

/// Composes same-size tiles into one image by row copies.
fn compose_sized(tiles: &[Cow<'_, RgbImage>; 4], tile_w: u32, tile_h: u32) -> RgbImage {
    let (grid_w, grid_h) = (2 * tile_w, 2 * tile_h);
    // Filled by appending rows in order: one sequential write pass, no zero-fill first.
    let mut buf = Vec::with_capacity(grid_w as usize * grid_h as usize * 3);
    for (left, right) in row_halves(tiles, tile_w) {
        buf.extend_from_slice(left);
        buf.extend_from_slice(right);
    }
    RgbImage::from_raw(grid_w, grid_h, buf).expect("four tile_w×tile_h tiles fill the grid")
}

/// Splits a grid into quadrants 0 1 / 2 3. With an odd width or height the left/top
/// quadrants get the floor (a 1025-wide grid gives 512 + 513).
pub fn crop_grid(grid: &RgbImage) -> [RgbImage; 4] {
    quadrants(grid.dimensions()).map(|(x, y, w, h)| crop_rows(grid, x, y, w, h))
}

/// A backend-made grid → its four quadrants as PNG files, as [`crop_grid`] cuts them. One
/// quadrant's pixels exist at a time beside the grid's, so the whole stays within the
/// grid's reservation in the decode budget.
pub fn split_grid(encoded: &[u8]) -> Result<[Vec<u8>; 4], ImageError> {
    let (grid, _permit) = decode_held(encoded)?;
    let [a, b, c, d] =
        quadrants(grid.dimensions()).map(|(x, y, w, h)| encode_png(&crop_rows(&grid, x, y, w, h)));
    Ok([a?, b?, c?, d?])
}

/// `(x, y, width, height)` of quadrants 0 1 / 2 3; left and top get the floor.
fn quadrants((width, height): (u32, u32)) -> [(u32, u32, u32, u32); 4] {
    let (left, top) = (width / 2, height / 2);
    let (right, bottom) = (width - left, height - top);
    [(0, 0, left, top), (left, 0, right, top), (0, top, left, bottom), (left, top, right, bottom)]
}

fn crop_rows(img: &RgbImage, x: u32, y: u32, width: u32, height: u32) -> RgbImage {
    let (start, len) = (x as usize * 3, width as usize * 3);
    if len == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let stride = img.width() as usize * 3;
    let mut buf = Vec::with_capacity(len * height as usize);
    for row in img.as_raw().chunks_exact(stride).skip(y as usize).take(height as usize) {
        buf.extend_from_slice(&row[start..start + len]);
    }
    RgbImage::from_raw(width, height, buf).expect("rectangle lies inside the grid")
}

/// Backend finished → grid ready: [`decode4`], then JPEG at `quality` of the tiles placed
/// 0 1 / 2 3 at the first tile's size (others resized, as in [`compose_grid`]).
///
/// The JPEG is fed straight from the tiles' rows: the composed 2048² image is never
/// materialised, which saves a 12 MiB allocation (≈3000 page faults) and a full copy on
/// the sequential part of the pipeline.
///
/// What decoding a grid's four images takes at once: the tiles it keeps (and their copies
/// at the first tile's size), plus one or two decodes in flight; two only when that fits in
/// `capacity`, so a grid of four huge images decodes one at a time.
pub(super) fn grid_cost(plans: &[Plan; 4], capacity: u64) -> (u64, bool) {
    let bytes = |(w, h): (u32, u32)| u64::from(w) * u64::from(h) * 3;
    let tile = plans[0].target;
    let kept: u64 =
        plans.iter().map(|p| bytes(p.target) + if p.target == tile { 0 } else { bytes(tile) }).sum();
    let in_flight = plans.iter().map(|p| p.cost).max().unwrap_or(0);
    let parallel = kept + 2 * in_flight <= capacity;
    (kept + if parallel { 2 * in_flight } else { in_flight }, parallel)
}

/// Two guards that only bite on pathological input, so memory and upload stay bounded:
/// the grid is capped at [`MAX_DIMENSION`] per side (an image over 4096 px is decoded
/// straight to 4096 px where the codec allows, else decoded and shrunk at once, so four
/// 8192² images never sit in memory together; `Grid::sizes` keeps their full sizes), and a
/// JPEG over [`DISCORD_FILE_LIMIT`] is re-encoded from a ¾-size grid until it fits.
///
/// Decoding is reserved in the decode budget as one job (see `grid_cost`); the tiles handed
/// back in [`Grid`] are the caller's to keep or drop.
pub fn grid_from_encoded(images: &[&[u8]; 4], quality: u8) -> Result<Grid, ImageError> {
    grid_within(images, quality, DISCORD_FILE_LIMIT)
}

/// [`grid_from_encoded`] with the byte limit as a parameter, so tests can reach the
/// shrinking path without a >10 MiB grid.
pub(super) fn grid_within(images: &[&[u8]; 4], quality: u8, byte_limit: usize) -> Result<Grid, ImageError> {
    let fit = |w, h| fitted_size(w, h, MAX_TILE).unwrap_or((w, h));
    let [a, b, c, d] = images.map(|bytes| plan(bytes, &fit, true));
    let plans = [a?, b?, c?, d?];
    let (cost, parallel) = grid_cost(&plans, DecodeBudget::global().capacity());
    // One reservation for the whole grid, taken before any pixel: never one per tile, which
    // would wait for more while holding some.
    let _permit = reserve(cost);
    let tiles = if parallel {
        decode4_with(|i| execute(images[i], &plans[i]))?
    } else {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| execute(images[i], &plans[i]));
        [a?, b?, c?, d?]
    };
    let sizes = plans.map(|p| p.full);
    let (w, h) = tiles[0].dimensions();
    let (tile_w, tile_h) = fitted_size(w, h, MAX_TILE).unwrap_or((w, h));
    let sized = same_size(&tiles, tile_w, tile_h);
    let (width, height) = (2 * tile_w, 2 * tile_h);
    let jpeg = jpeg_from_rows(width, height, quality, |sink| feed_grid_rows(&sized, tile_w, sink))?;
    if jpeg.len() <= byte_limit {
        drop(sized);
        return Ok(Grid { jpeg, width, height, tiles, sizes });
    }
    let mut composed = compose_sized(&sized, tile_w, tile_h);
    drop(sized);
    loop {
        let long = composed.width().max(composed.height());
        if long <= 16 {
            return Err(ImageError::Encode(format!("{width}×{height} grid never fit")));
        }
        composed = fit_within(&composed, long * 3 / 4);
        let jpeg = encode_jpeg(&composed, quality)?;
        if jpeg.len() <= byte_limit {
            let (width, height) = composed.dimensions();
            return Ok(Grid { jpeg, width, height, tiles, sizes });
        }
    }
}
