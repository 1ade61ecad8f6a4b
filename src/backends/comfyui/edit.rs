//! The pixels the edits after U send to ComfyUI, and the 2× promise of Upscale (Subtle).
//!
//! An edit uploads the source placed on its canvas as one RGBA PNG whose alpha is 0 wherever
//! the workflow may repaint: `LoadImage` gives that as its MASK output (1 − alpha), so a stock
//! `SetLatentNoiseMask` or `VAEEncodeForInpaint` needs nothing else. A workflow that wants
//! the mask as a file of its own names `{{mask}}`: white *and* transparent where it repaints,
//! black and opaque where it keeps, so `LoadImageMask` reads the same mask whichever channel
//! it is set to (alpha is inverted by ComfyUI, the colour channels are not). Both are exactly
//! the canvas's size, checked before anything is sent.

use bytes::Bytes;
use image::{Rgba, RgbaImage};

use crate::backends::{BackendError, SourceImage};
use crate::base::FailureCode;
use crate::imaging::canvas::REPAINT;
use crate::imaging::{self, EditPlan};

/// The padded canvas (alpha 0 = repaint) and the separate mask, both PNG and the canvas's size.
pub(super) async fn canvas_and_mask(
    plan: &EditPlan,
    source: &SourceImage,
) -> Result<(SourceImage, SourceImage), BackendError> {
    plan.check()
        .map_err(|e| BackendError::fatal(FailureCode::Internal, "Easel could not prepare the edit.", e))?;
    let (width, height) = plan.size();
    let (plan, bytes) = (plan.clone(), source.bytes.clone());
    let (image, mask) = blocking(move || {
        let src = imaging::decode(&bytes)?;
        let image = plan.transparent_image(&src);
        let repaint = plan.mask();
        let mask = RgbaImage::from_fn(repaint.width(), repaint.height(), |x, y| {
            if repaint.get_pixel(x, y)[0] == REPAINT {
                Rgba([255, 255, 255, 0])
            } else {
                Rgba([0, 0, 0, 255])
            }
        });
        Ok((rgba_png(&image)?, rgba_png(&mask)?))
    })
    .await?;
    let part = |bytes: Vec<u8>| SourceImage { bytes: bytes.into(), mime: "image/png", width, height };
    Ok((part(image), part(mask)))
}

/// Upscale (Subtle) is twice the input: an upscale workflow that makes another size (a 4×
/// model alone) is brought to exactly 2× here, with Lanczos.
pub(super) async fn fit_2x(bytes: Bytes, source: &SourceImage) -> Result<Bytes, BackendError> {
    let want = (source.width * 2, source.height * 2);
    let (_, w, h) = imaging::probe(&bytes).map_err(bad_result)?;
    if (w, h) == want {
        return Ok(bytes);
    }
    tracing::debug!(from = ?(w, h), to = ?want, "the upscale workflow's result is brought to 2x");
    let fitted =
        blocking(move || imaging::encode_png(&imaging::resize(&imaging::decode(&bytes)?, want.0, want.1)))
            .await?;
    Ok(fitted.into())
}

fn rgba_png(img: &RgbaImage) -> Result<Vec<u8>, imaging::ImageError> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| imaging::ImageError::Corrupt(format!("encoding a PNG: {e}")))?;
    Ok(png)
}

fn bad_result(e: imaging::ImageError) -> BackendError {
    BackendError::fatal(FailureCode::BadImage, e.to_string(), format!("{e:?}"))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, imaging::ImageError> + Send + 'static,
) -> Result<T, BackendError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(bad_result(e)),
        Err(e) => Err(BackendError::fatal(
            FailureCode::Internal,
            "Easel failed preparing the image.",
            e.to_string(),
        )),
    }
}
