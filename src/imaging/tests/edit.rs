use image::{Rgb, RgbImage};

use crate::imaging::EditPlan;
use crate::imaging::canvas::{Direction, KEEP, REPAINT, repaint_count};
use crate::imaging::region::Region;

#[test]
fn a_zoom_plan_repaints_the_border_and_keeps_the_centred_source() {
    let plan = EditPlan::zoom(512, 512, 2.0, None, 2048);
    assert_eq!(plan.size(), (1024, 1024));
    let mask = plan.mask();
    assert_eq!(mask.dimensions(), plan.size(), "the mask is the image's size");
    assert_eq!(mask.get_pixel(512, 512)[0], KEEP);
    assert_eq!(mask.get_pixel(10, 10)[0], REPAINT);
    assert_eq!(repaint_count(&mask), 1024 * 1024 - 512 * 512);
    assert!(plan.check().is_ok());
    let one_and_half = EditPlan::zoom(512, 512, 1.5, None, 2048);
    assert_eq!(one_and_half.size(), (768, 768));
}

#[test]
fn a_region_plan_keeps_the_canvas_and_repaints_only_the_region() {
    let plan = EditPlan::region(600, 300, Region::RightHalf);
    assert_eq!(plan.size(), (600, 300));
    let mask = plan.mask();
    assert_eq!(repaint_count(&mask), 300 * 300);
    assert_eq!(mask.get_pixel(299, 0)[0], KEEP);
    assert_eq!(mask.get_pixel(300, 0)[0], REPAINT);
    assert!(plan.strength < 1.0, "a region remembers what was there");
}

#[test]
fn pan_and_square_plans_outpaint_fully() {
    let pan = EditPlan::pan(512, 512, Direction::Right, 2048);
    assert_eq!((pan.size(), pan.strength), ((768, 512), 1.0));
    assert_eq!(repaint_count(&pan.mask()), 256 * 512);
    let square = EditPlan::square(512, 768, 2048);
    assert_eq!(square.size(), (768, 768));
}

#[test]
fn the_transparent_image_is_clear_exactly_where_the_mask_repaints() {
    let src = RgbImage::from_pixel(64, 64, Rgb([200, 10, 10]));
    let plan = EditPlan::zoom(64, 64, 2.0, None, 4096);
    let clear = plan.transparent_image(&src);
    let mask = plan.mask();
    assert_eq!(clear.dimensions(), mask.dimensions());
    for (x, y, p) in clear.enumerate_pixels() {
        assert_eq!(p[3] == 0, mask.get_pixel(x, y)[0] == REPAINT, "({x},{y})");
    }
    assert_eq!(clear.get_pixel(64, 64).0, [200, 10, 10, 255]);
    let init = plan.init_image(&src);
    assert_eq!(init.get_pixel(64, 64).0, [200, 10, 10]);
}

#[test]
fn a_plan_round_trips_as_json_and_a_bad_one_is_caught() {
    let plan = EditPlan::region(90, 90, Region::Cell(1, 2));
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<EditPlan>(&json).unwrap(), plan);
    let mut bad = plan.clone();
    bad.region[0].x = 80;
    assert!(bad.check().is_err());
}
