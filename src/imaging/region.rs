//! The regions a member can pick for Vary (Region) without the editor page: halves, thirds,
//! the centre and a 3×3 grid of cells, each with a stable key (what a select menu sends back)
//! and a label. A picked region becomes a [`Rect`] on the image and then a mask; the editor
//! page's rectangles and brush strokes become a mask the same way.

use image::GrayImage;

use super::canvas::{REPAINT, Rect, fill};

/// A named part of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    LeftHalf,
    RightHalf,
    TopHalf,
    BottomHalf,
    LeftThird,
    MiddleColumn,
    RightThird,
    TopThird,
    MiddleRow,
    BottomThird,
    Centre,
    /// One cell of a 3×3 grid: row and column, 0-based.
    Cell(u8, u8),
}

const ROWS: [&str; 3] = ["top", "middle", "bottom"];
const COLS: [&str; 3] = ["left", "centre", "right"];

impl Region {
    /// Every region, in the order a menu lists them (25 at most: Discord's select limit).
    pub fn all() -> Vec<Region> {
        let mut all = vec![
            Region::LeftHalf,
            Region::RightHalf,
            Region::TopHalf,
            Region::BottomHalf,
            Region::LeftThird,
            Region::MiddleColumn,
            Region::RightThird,
            Region::TopThird,
            Region::MiddleRow,
            Region::BottomThird,
            Region::Centre,
        ];
        for r in 0..3 {
            for c in 0..3 {
                all.push(Region::Cell(r, c));
            }
        }
        all
    }

    /// The stable key a select menu carries.
    pub fn key(&self) -> String {
        match self {
            Region::LeftHalf => "left-half".into(),
            Region::RightHalf => "right-half".into(),
            Region::TopHalf => "top-half".into(),
            Region::BottomHalf => "bottom-half".into(),
            Region::LeftThird => "left-third".into(),
            Region::MiddleColumn => "middle-column".into(),
            Region::RightThird => "right-third".into(),
            Region::TopThird => "top-third".into(),
            Region::MiddleRow => "middle-row".into(),
            Region::BottomThird => "bottom-third".into(),
            Region::Centre => "centre".into(),
            Region::Cell(r, c) => format!("cell-{r}-{c}"),
        }
    }

    /// What a member reads in the menu.
    pub fn label(&self) -> String {
        match self {
            Region::LeftHalf => "Left half".into(),
            Region::RightHalf => "Right half".into(),
            Region::TopHalf => "Top half".into(),
            Region::BottomHalf => "Bottom half".into(),
            Region::LeftThird => "Left third".into(),
            Region::MiddleColumn => "Middle column (third)".into(),
            Region::RightThird => "Right third".into(),
            Region::TopThird => "Top third".into(),
            Region::MiddleRow => "Middle row (third)".into(),
            Region::BottomThird => "Bottom third".into(),
            Region::Centre => "Centre".into(),
            Region::Cell(r, c) => format!("Cell: {} {}", ROWS[*r as usize], COLS[*c as usize]),
        }
    }

    pub fn parse(key: &str) -> Option<Region> {
        Region::all().into_iter().find(|r| r.key() == key)
    }

    /// The region's pixels on a `width`×`height` image. Edges are rounded so that the parts
    /// of a split (two halves, three thirds) tile the image exactly.
    pub fn rect(&self, width: u32, height: u32) -> Rect {
        let part = |len: u32, i: u32, n: u32| (len * i / n, len * (i + 1) / n - len * i / n);
        let cols = |i: u32, n: u32| {
            let (x, w) = part(width, i, n);
            Rect { x, y: 0, width: w, height }
        };
        let rows = |i: u32, n: u32| {
            let (y, h) = part(height, i, n);
            Rect { x: 0, y, width, height: h }
        };
        match self {
            Region::LeftHalf => cols(0, 2),
            Region::RightHalf => cols(1, 2),
            Region::TopHalf => rows(0, 2),
            Region::BottomHalf => rows(1, 2),
            Region::LeftThird => cols(0, 3),
            Region::MiddleColumn => cols(1, 3),
            Region::RightThird => cols(2, 3),
            Region::TopThird => rows(0, 3),
            Region::MiddleRow => rows(1, 3),
            Region::BottomThird => rows(2, 3),
            Region::Centre => {
                let (x, w) = part(width, 1, 4);
                let (y, h) = part(height, 1, 4);
                Rect { x, y, width: w * 2, height: h * 2 }
            }
            Region::Cell(r, c) => {
                let (x, w) = part(width, u32::from(*c), 3);
                let (y, h) = part(height, u32::from(*r), 3);
                Rect { x, y, width: w, height: h }
            }
        }
    }
}

/// Paints a brush stroke through `points` (pixel coordinates) with a round brush of
/// `radius`, marking it for repainting: the editor page's freehand tool.
pub fn stroke(mask: &mut GrayImage, points: &[(u32, u32)], radius: u32) {
    let r = i64::from(radius.max(1));
    let dab = |mask: &mut GrayImage, cx: i64, cy: i64| {
        for y in (cy - r).max(0)..=(cy + r).min(i64::from(mask.height()) - 1) {
            for x in (cx - r).max(0)..=(cx + r).min(i64::from(mask.width()) - 1) {
                if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                    mask.put_pixel(x as u32, y as u32, image::Luma([REPAINT]));
                }
            }
        }
    };
    let mut last: Option<(i64, i64)> = None;
    for &(x, y) in points {
        let (x, y) = (i64::from(x), i64::from(y));
        match last {
            // Dabs every half radius along the segment, so a fast stroke has no gaps.
            Some((lx, ly)) => {
                let steps = ((x - lx).abs().max((y - ly).abs()) * 2 / r).max(1);
                for i in 1..=steps {
                    dab(mask, lx + (x - lx) * i / steps, ly + (y - ly) * i / steps);
                }
            }
            None => dab(mask, x, y),
        }
        last = Some((x, y));
    }
}

/// A rectangle marked on the editor: filled into the mask, clipped to the image.
pub fn mark(mask: &mut GrayImage, rect: Rect) {
    fill(mask, rect, REPAINT);
}
