//! The geometry of Midjourney's edits after U: where the source image sits on a larger canvas
//! (Zoom Out, Pan, Make Square) and which pixels a backend may repaint (the mask). One
//! operation serves them all — an edit is a source placed on a canvas plus a mask — so every
//! adapter converts the same [`Canvas`] and mask to its own convention.
//!
//! Pure functions: sizes in, sizes and pixels out. Canvas sides are multiples of 8, because
//! Stable Diffusion's latent space is 1/8 of the image and every self-hosted backend rounds
//! otherwise (which would move the source off the place its mask says it is).

use image::{GrayImage, Luma, RgbImage, Rgba, RgbaImage};

/// Mask value for pixels a backend may repaint.
pub const REPAINT: u8 = 255;
/// Mask value for pixels that must stay as they are.
pub const KEEP: u8 = 0;

/// A canvas of `width`×`height` with the source image scaled to `source_width`×`source_height`
/// and placed with its top-left corner at (`x`, `y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pub x: u32,
    pub y: u32,
    pub source_width: u32,
    pub source_height: u32,
}

pub use crate::base::Direction;

/// The smallest and largest Custom Zoom factors Midjourney takes (`--zoom`).
pub const ZOOM_RANGE: (f32, f32) = (1.0, 2.0);

fn round8(v: f64) -> u32 {
    ((v / 8.0).round() as u32).max(1) * 8
}

impl Canvas {
    /// The canvas that leaves the source as it is: nothing to repaint.
    pub fn identity(width: u32, height: u32) -> Canvas {
        Canvas { width, height, x: 0, y: 0, source_width: width, source_height: height }
    }

    /// Zoom Out: the source in the centre of a canvas `factor` times its size. With `aspect`
    /// (`--ar` of a Custom Zoom), the canvas has that shape and `factor`² times the source's
    /// area, but never less than the source on either side.
    pub fn zoom_out(
        width: u32,
        height: u32,
        factor: f32,
        aspect: Option<(u32, u32)>,
        max_side: u32,
    ) -> Canvas {
        let factor = f64::from(factor.clamp(ZOOM_RANGE.0, ZOOM_RANGE.1));
        let (w, h) = (f64::from(width), f64::from(height));
        let (cw, ch) = match aspect {
            Some((aw, ah)) if aw > 0 && ah > 0 => {
                let area = w * h * factor * factor;
                let ratio = f64::from(aw) / f64::from(ah);
                let cw = (area * ratio).sqrt();
                let ch = cw / ratio;
                // Grow until the source fits on both sides, keeping the shape.
                let grow = (w / cw).max(h / ch).max(1.0);
                (cw * grow, ch * grow)
            }
            _ => (w * factor, h * factor),
        };
        Canvas::centred(w, h, cw, ch, max_side)
    }

    /// Make Square: the short side padded to the long one, the source centred.
    pub fn make_square(width: u32, height: u32, max_side: u32) -> Canvas {
        let side = f64::from(width.max(height));
        Canvas::centred(f64::from(width), f64::from(height), side, side, max_side)
    }

    /// Pan: the canvas grows by half the source in `direction`, the source keeps to the
    /// opposite edge, and the new strip is what gets painted.
    pub fn pan(width: u32, height: u32, direction: Direction, max_side: u32) -> Canvas {
        let (w, h) = (f64::from(width), f64::from(height));
        let (cw, ch) = match direction {
            Direction::Left | Direction::Right => (w * 1.5, h),
            Direction::Up | Direction::Down => (w, h * 1.5),
        };
        let scale = scale_to_fit(cw, ch, max_side);
        let (cw, ch) = (round8(cw * scale), round8(ch * scale));
        let (sw, sh) = (((w * scale).round() as u32).min(cw), ((h * scale).round() as u32).min(ch));
        let (x, y) = match direction {
            Direction::Left => (cw - sw, (ch - sh) / 2),
            Direction::Right => (0, (ch - sh) / 2),
            Direction::Up => ((cw - sw) / 2, ch - sh),
            Direction::Down => ((cw - sw) / 2, 0),
        };
        Canvas { width: cw, height: ch, x, y, source_width: sw, source_height: sh }
    }

    fn centred(w: f64, h: f64, cw: f64, ch: f64, max_side: u32) -> Canvas {
        let scale = scale_to_fit(cw, ch, max_side);
        let (cw, ch) = (round8(cw * scale), round8(ch * scale));
        let (sw, sh) = (((w * scale).round() as u32).min(cw), ((h * scale).round() as u32).min(ch));
        Canvas {
            width: cw,
            height: ch,
            x: (cw - sw) / 2,
            y: (ch - sh) / 2,
            source_width: sw,
            source_height: sh,
        }
    }

    /// The source's place on the canvas.
    pub fn source_rect(&self) -> Rect {
        Rect { x: self.x, y: self.y, width: self.source_width, height: self.source_height }
    }

    /// The mask of a canvas edit: everything but the source is repainted.
    pub fn mask(&self) -> GrayImage {
        let mut mask = GrayImage::from_pixel(self.width, self.height, Luma([REPAINT]));
        fill(&mut mask, self.source_rect(), KEEP);
        mask
    }

    /// The source scaled and placed on the canvas, the new area transparent (alpha 0): the
    /// convention of ComfyUI's `LoadImage` mask and of OpenAI's edits.
    pub fn place_transparent(&self, source: &RgbImage) -> RgbaImage {
        let scaled = self.scaled(source);
        let mut out = RgbaImage::from_pixel(self.width, self.height, Rgba([0, 0, 0, 0]));
        for (x, y, p) in scaled.enumerate_pixels() {
            out.put_pixel(self.x + x, self.y + y, Rgba([p[0], p[1], p[2], 255]));
        }
        out
    }

    /// The source scaled and placed on the canvas, the new area filled with the source's mean
    /// colour: img2img backends start from it, and grey noise-free padding keeps their
    /// inpainting from echoing a hard border.
    pub fn place_filled(&self, source: &RgbImage) -> RgbImage {
        let scaled = self.scaled(source);
        let mut out = RgbImage::from_pixel(self.width, self.height, mean_colour(&scaled));
        for (x, y, p) in scaled.enumerate_pixels() {
            out.put_pixel(self.x + x, self.y + y, *p);
        }
        out
    }

    fn scaled(&self, source: &RgbImage) -> RgbImage {
        if source.dimensions() == (self.source_width, self.source_height) {
            source.clone()
        } else {
            super::resize(source, self.source_width, self.source_height)
        }
    }
}

fn scale_to_fit(cw: f64, ch: f64, max_side: u32) -> f64 {
    let long = cw.max(ch);
    if max_side > 0 && long > f64::from(max_side) { f64::from(max_side) / long } else { 1.0 }
}

fn mean_colour(img: &RgbImage) -> image::Rgb<u8> {
    let n = u64::from(img.width()) * u64::from(img.height());
    if n == 0 {
        return image::Rgb([127, 127, 127]);
    }
    let mut sum = [0u64; 3];
    for p in img.pixels() {
        for c in 0..3 {
            sum[c] += u64::from(p[c]);
        }
    }
    image::Rgb(sum.map(|s| (s / n) as u8))
}

/// A rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Sets every pixel of `rect` (clipped to the image) to `value`.
pub fn fill(mask: &mut GrayImage, rect: Rect, value: u8) {
    let x_end = (rect.x.saturating_add(rect.width)).min(mask.width());
    let y_end = (rect.y.saturating_add(rect.height)).min(mask.height());
    for y in rect.y.min(y_end)..y_end {
        for x in rect.x.min(x_end)..x_end {
            mask.put_pixel(x, y, Luma([value]));
        }
    }
}

/// A mask of `width`×`height` that repaints the given rectangles and keeps the rest.
pub fn mask_of(width: u32, height: u32, rects: &[Rect]) -> GrayImage {
    let mut mask = GrayImage::from_pixel(width, height, Luma([KEEP]));
    for r in rects {
        fill(&mut mask, *r, REPAINT);
    }
    mask
}

/// How many pixels of a mask are marked for repainting.
pub fn repaint_count(mask: &GrayImage) -> u64 {
    mask.pixels().filter(|p| p[0] >= 128).count() as u64
}
