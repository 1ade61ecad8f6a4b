use image::{GrayImage, Luma, RgbImage};

use crate::imaging::canvas::*;
use crate::imaging::region::{Region, mark, stroke};

fn assert_mask_is_new_area(c: &Canvas) {
    let mask = c.mask();
    assert_eq!(mask.dimensions(), (c.width, c.height));
    let src = c.source_rect();
    for (x, y, p) in mask.enumerate_pixels() {
        let inside = x >= src.x && x < src.x + src.width && y >= src.y && y < src.y + src.height;
        assert_eq!(p[0], if inside { KEEP } else { REPAINT }, "pixel ({x},{y}) of {c:?}");
    }
}

#[test]
fn zoom_out_2x_centres_the_source_on_twice_the_canvas() {
    let c = Canvas::zoom_out(512, 512, 2.0, None, 2048);
    assert_eq!((c.width, c.height), (1024, 1024));
    assert_eq!((c.x, c.y, c.source_width, c.source_height), (256, 256, 512, 512));
    assert_mask_is_new_area(&c);
    assert_eq!(repaint_count(&c.mask()), 1024 * 1024 - 512 * 512);
}

#[test]
fn zoom_out_1_5x_keeps_the_shape_and_rounds_to_eights() {
    let c = Canvas::zoom_out(512, 768, 1.5, None, 2048);
    assert_eq!((c.width, c.height), (768, 1152));
    assert_eq!((c.x, c.y), (128, 192));
    assert_mask_is_new_area(&c);
}

#[test]
fn zoom_out_past_the_backends_largest_side_shrinks_the_source_instead() {
    let c = Canvas::zoom_out(1024, 1024, 2.0, None, 1024);
    assert_eq!((c.width, c.height), (1024, 1024));
    assert_eq!((c.source_width, c.source_height), (512, 512));
    assert_eq!((c.x, c.y), (256, 256));
}

#[test]
fn custom_zoom_with_an_aspect_changes_the_canvas_shape_but_never_crops_the_source() {
    let c = Canvas::zoom_out(512, 512, 1.0, Some((2, 1)), 4096);
    assert!(c.width >= 512 && c.height >= 512, "{c:?}");
    let ratio = f64::from(c.width) / f64::from(c.height);
    assert!((ratio - 2.0).abs() < 0.05, "{c:?}");
    assert_eq!((c.source_width, c.source_height), (512, 512));
    assert_mask_is_new_area(&c);
    // Out-of-range factors are clamped by the caller's check; here they cannot escape 1–2.
    assert_eq!(Canvas::zoom_out(512, 512, 9.0, None, 4096).width, 1024);
}

#[test]
fn make_square_pads_the_short_side() {
    let c = Canvas::make_square(512, 768, 2048);
    assert_eq!((c.width, c.height), (768, 768));
    assert_eq!((c.x, c.y), (128, 0));
    assert_mask_is_new_area(&c);
}

#[test]
fn pan_grows_by_half_in_its_direction_and_keeps_the_source_at_the_other_edge() {
    let left = Canvas::pan(512, 512, Direction::Left, 2048);
    assert_eq!((left.width, left.height, left.x, left.y), (768, 512, 256, 0));
    let right = Canvas::pan(512, 512, Direction::Right, 2048);
    assert_eq!((right.width, right.x), (768, 0));
    let up = Canvas::pan(512, 512, Direction::Up, 2048);
    assert_eq!((up.height, up.y), (768, 256));
    let down = Canvas::pan(512, 512, Direction::Down, 2048);
    assert_eq!((down.height, down.y), (768, 0));
    for c in [left, right, up, down] {
        assert_mask_is_new_area(&c);
        assert_eq!(repaint_count(&c.mask()), 256 * 512);
    }
}

#[test]
fn a_pan_of_a_pan_is_capped_at_the_backends_largest_side() {
    let once = Canvas::pan(1024, 1024, Direction::Right, 2048);
    let twice = Canvas::pan(once.width, once.height, Direction::Right, 2048);
    assert_eq!(twice.width, 2048);
    assert!(twice.source_width < once.width, "the source shrinks to fit: {twice:?}");
}

#[test]
fn placing_keeps_the_source_pixels_where_the_mask_keeps_them() {
    let src = RgbImage::from_fn(64, 32, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 9]));
    let c = Canvas::zoom_out(64, 32, 2.0, None, 4096);
    let filled = c.place_filled(&src);
    let clear = c.place_transparent(&src);
    assert_eq!(filled.get_pixel(c.x + 10, c.y + 7), src.get_pixel(10, 7));
    assert_eq!(clear.get_pixel(c.x + 10, c.y + 7)[3], 255);
    assert_eq!(clear.get_pixel(0, 0)[3], 0, "the new area is transparent");
}

#[test]
fn regions_tile_the_image_and_round_trip_their_keys() {
    let (w, h) = (1000, 700);
    let area = |r: Region| {
        let rect = r.rect(w, h);
        u64::from(rect.width) * u64::from(rect.height)
    };
    assert_eq!(area(Region::LeftHalf) + area(Region::RightHalf), 700_000);
    assert_eq!(area(Region::LeftThird) + area(Region::MiddleColumn) + area(Region::RightThird), 700_000);
    let cells: u64 = (0..3).flat_map(|r| (0..3).map(move |c| area(Region::Cell(r, c)))).sum();
    assert_eq!(cells, 700_000);
    assert!(Region::all().len() <= 25, "a select menu holds 25 options");
    for r in Region::all() {
        assert_eq!(Region::parse(&r.key()), Some(r));
    }
    assert_eq!(Region::parse("cell-3-0"), None);
}

#[test]
fn a_region_mask_repaints_exactly_that_region() {
    let rect = Region::Cell(1, 2).rect(300, 300);
    let mask = mask_of(300, 300, &[rect]);
    assert_eq!(repaint_count(&mask), 100 * 100);
    assert_eq!(mask.get_pixel(250, 150)[0], REPAINT);
    assert_eq!(mask.get_pixel(150, 150)[0], KEEP);
}

#[test]
fn editor_strokes_and_rectangles_mark_the_mask_and_stay_inside_it() {
    let mut mask = GrayImage::from_pixel(100, 100, Luma([KEEP]));
    stroke(&mut mask, &[(0, 50), (99, 50)], 4);
    for x in 0..100 {
        assert_eq!(mask.get_pixel(x, 50)[0], REPAINT, "the stroke has no gap at x={x}");
    }
    assert_eq!(mask.get_pixel(50, 40)[0], KEEP);
    mark(&mut mask, Rect { x: 90, y: 90, width: 50, height: 50 });
    assert_eq!(mask.get_pixel(99, 99)[0], REPAINT);
}
