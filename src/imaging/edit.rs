//! One edit after U as a value a task stores: the canvas (its size and where the source sits
//! on it), the mask (what may change) and the strength. Zoom Out, Custom Zoom, Make Square and
//! Pan are canvases Easel computes; Vary (Region) keeps the canvas and marks rectangles. Every
//! adapter asks this for the pixels in its own convention (white = repaint for img2img, alpha 0
//! = repaint for OpenAI and ComfyUI's `LoadImage`), so a mask is always the image's size.

use image::{GrayImage, RgbImage, Rgba, RgbaImage};

use super::canvas::{Canvas, Direction, REPAINT, Rect, mask_of};
use super::region::Region;

/// How much an outpaint may invent under its mask: all of it (the new area is blank).
const OUTPAINT_STRENGTH: f32 = 1.0;
/// Vary (Region) repaints the region but keeps its light and colours in mind.
const REGION_STRENGTH: f32 = 0.85;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EditPlan {
    pub canvas: Canvas,
    /// Rectangles of the canvas to repaint (Vary (Region)); empty = all but the source.
    #[serde(default)]
    pub region: Vec<Rect>,
    /// How far the backend may stray under the mask, 0–1 (img2img's denoising strength).
    pub strength: f32,
}

impl EditPlan {
    /// Zoom Out by `factor` (1.0–2.0; `--ar` of a Custom Zoom reshapes the canvas).
    pub fn zoom(width: u32, height: u32, factor: f32, aspect: Option<(u32, u32)>, max_side: u32) -> EditPlan {
        EditPlan::outpaint(Canvas::zoom_out(width, height, factor, aspect, max_side))
    }

    pub fn pan(width: u32, height: u32, direction: Direction, max_side: u32) -> EditPlan {
        EditPlan::outpaint(Canvas::pan(width, height, direction, max_side))
    }

    pub fn square(width: u32, height: u32, max_side: u32) -> EditPlan {
        EditPlan::outpaint(Canvas::make_square(width, height, max_side))
    }

    /// Vary (Region): the image as it is, with `region` repainted.
    pub fn region(width: u32, height: u32, region: Region) -> EditPlan {
        EditPlan {
            canvas: Canvas::identity(width, height),
            region: vec![region.rect(width, height)],
            strength: REGION_STRENGTH,
        }
    }

    fn outpaint(canvas: Canvas) -> EditPlan {
        EditPlan { canvas, region: Vec::new(), strength: OUTPAINT_STRENGTH }
    }

    /// The result's size: the canvas.
    pub fn size(&self) -> (u32, u32) {
        (self.canvas.width, self.canvas.height)
    }

    /// White (255) where the backend repaints, black where it keeps; the canvas's size.
    pub fn mask(&self) -> GrayImage {
        if self.region.is_empty() {
            self.canvas.mask()
        } else {
            mask_of(self.canvas.width, self.canvas.height, &self.region)
        }
    }

    /// The source placed on the canvas, the new area filled with its mean colour: what
    /// img2img starts from.
    pub fn init_image(&self, source: &RgbImage) -> RgbImage {
        self.canvas.place_filled(source)
    }

    /// The source on the canvas with alpha 0 wherever the mask repaints (OpenAI's edits and
    /// ComfyUI's `LoadImage` read transparency as the mask).
    pub fn transparent_image(&self, source: &RgbImage) -> RgbaImage {
        let filled = self.canvas.place_filled(source);
        let mask = self.mask();
        RgbaImage::from_fn(self.canvas.width, self.canvas.height, |x, y| {
            let p = filled.get_pixel(x, y);
            let alpha = if mask.get_pixel(x, y)[0] == REPAINT { 0 } else { 255 };
            Rgba([p[0], p[1], p[2], alpha])
        })
    }

    /// Only a mask whose every side matches the canvas may reach a backend: anything else is a
    /// bug that would repaint the wrong pixels.
    pub fn check(&self) -> Result<(), String> {
        let c = &self.canvas;
        let fits = c.x + c.source_width <= c.width && c.y + c.source_height <= c.height;
        let in_canvas = self.region.iter().all(|r| r.x + r.width <= c.width && r.y + r.height <= c.height);
        match (c.width > 0 && c.height > 0, fits, in_canvas) {
            (true, true, true) => Ok(()),
            _ => Err(format!("edit plan out of its canvas: {self:?}")),
        }
    }
}
