//! The edits after U on an OpenAI-compatible service: `/images/edits` with the source placed
//! on the canvas as `image` and a `mask` PNG of the same size whose alpha is 0 where the
//! service may paint. Both are fitted to the provider's nearest size first (the service takes
//! only its own sizes), the mask with nearest-neighbour so it stays exactly two-valued.

use image::imageops::FilterType;
use image::{Rgba, RgbaImage};

use super::settings::Size;
use crate::backends::{BackendError, SourceImage};
use crate::base::FailureCode;
use crate::imaging::canvas::REPAINT;
use crate::imaging::{self, EditPlan};

/// The image and its mask for `/images/edits`, both `size`.
pub(super) async fn parts(
    plan: &EditPlan,
    source: &SourceImage,
    size: Size,
) -> Result<(SourceImage, SourceImage), BackendError> {
    let (plan, bytes) = (plan.clone(), source.bytes.clone());
    let made = tokio::task::spawn_blocking(move || -> Result<_, imaging::ImageError> {
        let src = imaging::decode(&bytes)?;
        let init = imaging::resize(&plan.init_image(&src), size.w, size.h);
        let mask = image::imageops::resize(&plan.mask(), size.w, size.h, FilterType::Nearest);
        let alpha = RgbaImage::from_fn(size.w, size.h, |x, y| {
            let edit = mask.get_pixel(x, y)[0] == REPAINT;
            Rgba([0, 0, 0, if edit { 0 } else { 255 }])
        });
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(alpha)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| imaging::ImageError::Corrupt(format!("encoding the mask: {e}")))?;
        Ok((imaging::encode_png(&init)?, png))
    })
    .await;
    let (image, mask) = match made {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            return Err(BackendError::fatal(FailureCode::BadImage, e.to_string(), format!("{e:?}")));
        }
        Err(e) => {
            return Err(BackendError::fatal(
                FailureCode::Internal,
                "Easel failed preparing the image.",
                e.to_string(),
            ));
        }
    };
    let part = |bytes: Vec<u8>| SourceImage {
        bytes: bytes.into(),
        mime: "image/png",
        width: size.w,
        height: size.h,
    };
    Ok((part(image), part(mask)))
}
