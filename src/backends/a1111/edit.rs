//! The edits after U on A1111 / Forge. Zoom Out, Make Square, Pan and Vary (Region) are one
//! img2img inpainting call: the source placed on the padded canvas (`init_images`), the mask
//! (white = repaint) the canvas's size, `inpainting_fill` 1 ("original": start the new area
//! from the mean-colour padding), `mask_blur` to soften the seam, the canvas as
//! `width`/`height`, four in a batch. Upscale (Subtle) is the extras upscaler at 2×; (Creative)
//! is img2img at twice the size with a moderate denoise, which re-draws detail.

use serde::Serialize;

use super::A1111Backend;
use super::client::Endpoint;
use super::errors::SERVICE;
use super::grid::{GRID, Plan};
use super::images;
use super::wire::{GenerateRequest, Img2ImgRequest, MadeBy};
use crate::backends::{BackendError, Job, JobOutput, OutputImage, ProgressSink, SourceImage};
use crate::base::FailureCode;
use crate::imaging::{self, EditPlan};

/// Softens the seam between kept and new pixels, in pixels.
const MASK_BLUR: u32 = 8;
/// `inpainting_fill`: 0 fill, 1 original, 2 latent noise, 3 latent nothing.
const FILL_ORIGINAL: u8 = 1;
/// Upscale (Creative)'s denoising strength: new detail, same picture.
pub(super) const CREATIVE_DENOISE: f64 = 0.35;

#[derive(Debug, Serialize)]
pub(super) struct InpaintRequest<'a> {
    #[serde(flatten)]
    pub img2img: Img2ImgRequest<'a>,
    /// Plain base64 PNG, white = repaint, the init image's size.
    pub mask: String,
    pub inpainting_fill: u8,
    /// `false`: the whole canvas is painted at its size, so the new border matches the scene.
    pub inpaint_full_res: bool,
    pub mask_blur: u32,
    /// 0: repaint the white part of the mask.
    pub inpainting_mask_invert: u8,
}

impl A1111Backend {
    pub(super) async fn edit(
        &self,
        job: &Job,
        plan: &EditPlan,
        source: &SourceImage,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let (init, mask) = canvas_and_mask(plan, source).await?;
        let negative = job.spec.negative_prompt();
        let tag = super::grid::task_tag(job);
        let (width, height) = plan.size();
        let grid = Plan {
            made_by: MadeBy::Img2img,
            width,
            height,
            seed: i64::from(job.seed),
            subseed: None,
            subseed_strength: None,
        };
        let common: GenerateRequest<'_> = grid.request(&self.settings, job, negative.as_deref(), &tag);
        let body = InpaintRequest {
            img2img: Img2ImgRequest {
                common,
                init_images: vec![images::encode(&init)],
                denoising_strength: f64::from(plan.strength),
                resize_mode: 0,
            },
            mask: images::encode(&mask),
            inpainting_fill: FILL_ORIGINAL,
            inpaint_full_res: false,
            mask_blur: MASK_BLUR,
            inpainting_mask_invert: 0,
        };
        debug_assert_eq!(body.img2img.common.batch_size as usize, GRID);
        let answer = self.generate(Endpoint::Img2img, &body, progress).await?;
        Ok(grid.output(images::batch(&answer, &self.what(Endpoint::Img2img), GRID)?))
    }

    /// Upscale (Creative): img2img of the image at twice its size, one image.
    pub(super) async fn upscale_creative(
        &self,
        job: &Job,
        source: &SourceImage,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let negative = job.spec.negative_prompt();
        let tag = super::grid::task_tag(job);
        let plan = Plan {
            made_by: MadeBy::Img2img,
            width: source.width * 2,
            height: source.height * 2,
            seed: i64::from(job.seed),
            subseed: None,
            subseed_strength: None,
        };
        let mut common = plan.request(&self.settings, job, negative.as_deref(), &tag);
        common.batch_size = 1;
        let body = Img2ImgRequest {
            common,
            init_images: vec![images::encode(&source.bytes)],
            denoising_strength: CREATIVE_DENOISE,
            resize_mode: 0,
        };
        let answer = self.generate(Endpoint::Img2img, &body, progress).await?;
        let batch = images::batch(&answer, &self.what(Endpoint::Img2img), 1)?;
        let bytes = batch.images.into_iter().next().ok_or_else(|| {
            SERVICE.bad_response(
                "an upscale with no image",
                format!("{}: no image", self.what(Endpoint::Img2img)),
            )
        })?;
        Ok(JobOutput { images: vec![OutputImage { bytes, seed: None }], ..JobOutput::default() })
    }
}

/// The init image (source on the padded canvas) and the mask, both PNG and the canvas's size.
async fn canvas_and_mask(plan: &EditPlan, source: &SourceImage) -> Result<(Vec<u8>, Vec<u8>), BackendError> {
    let (plan, bytes) = (plan.clone(), source.bytes.clone());
    let made = tokio::task::spawn_blocking(move || -> Result<_, imaging::ImageError> {
        let src = imaging::decode(&bytes)?;
        let init = imaging::encode_png(&plan.init_image(&src))?;
        let mask = imaging::encode_png(&image::DynamicImage::ImageLuma8(plan.mask()).to_rgb8())?;
        Ok((init, mask))
    })
    .await;
    match made {
        Ok(Ok(pair)) => Ok(pair),
        Ok(Err(e)) => Err(BackendError::fatal(FailureCode::BadImage, e.to_string(), format!("{e:?}"))),
        Err(e) => Err(BackendError::fatal(
            FailureCode::Internal,
            "Easel failed preparing the image.",
            e.to_string(),
        )),
    }
}
