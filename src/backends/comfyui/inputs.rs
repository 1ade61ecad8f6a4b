//! What a job sends besides its workflow: the placeholder values, and the images they name,
//! uploaded to `input/easel/` first — V's and U's input, an edit's canvas (and its mask when
//! the workflow wants it as a file), and the first reference image for the
//! `imagine_reference` workflow.

use super::template::{Placeholder, Template, Values};
use super::{CREATIVE_DENOISE, ComfyUiBackend, GRID, edit};
use crate::backends::{Backend, BackendError, Job, Operation, SourceImage, references};
use crate::base::{Strength, UpscaleMode};

impl ComfyUiBackend {
    /// The job's placeholder values, with its input images uploaded.
    pub(super) async fn values(&self, job: &Job, template: &Template) -> Result<Values, BackendError> {
        let (width, height) = job.spec.aspect_or_square().dims(self.image_size);
        let mut values = Values {
            prompt: job.spec.text.clone(),
            negative_prompt: job.spec.negative_prompt().unwrap_or_default(),
            seed: job.seed,
            width,
            height,
            batch_size: GRID as u32,
            model: self.model.get(&self.api).await?,
            ..Values::default()
        };
        match &job.op {
            Operation::Variation { strength, source, .. } => {
                values.denoise = Some(denoise(*strength));
                values.image = Some(self.upload(job, source).await?);
            }
            Operation::Upscale { source, .. } => values.image = Some(self.upload(job, source).await?),
            Operation::Edit { plan, source, .. } => {
                let (canvas, mask) = edit::canvas_and_mask(plan, source).await?;
                (values.width, values.height) = plan.size();
                // 0.85 as an f32 is 0.8500000238…; the workflow gets the number as written.
                values.denoise = Some((f64::from(plan.strength) * 100.0).round() / 100.0);
                values.image = Some(self.upload(job, &canvas).await?);
                if template.uses(Placeholder::Mask) {
                    values.mask = Some(self.upload(job, &mask).await?);
                }
            }
            Operation::Upscale2x { mode, source, .. } => {
                (values.width, values.height) = (source.width * 2, source.height * 2);
                values.denoise = (*mode == UpscaleMode::Creative).then_some(CREATIVE_DENOISE);
                values.image = Some(self.upload(job, source).await?);
            }
            Operation::Imagine if template.uses(Placeholder::ReferenceImage) => {
                let wanted = self.capabilities().usable_references(&job.spec);
                let fetched =
                    references::fetch(&wanted, |url: String| async move { self.api.reference(&url).await })
                        .await?;
                if let Some(first) = fetched.first() {
                    values.reference_image = Some(self.upload(job, &first.image).await?);
                }
            }
            Operation::Imagine | Operation::Blend { .. } | Operation::Describe { .. } => {}
        }
        Ok(values)
    }

    async fn upload(&self, job: &Job, source: &SourceImage) -> Result<String, BackendError> {
        let ext = match source.mime {
            "image/jpeg" => "jpg",
            "image/webp" => "webp",
            "image/gif" => "gif",
            _ => "png",
        };
        let file = format!("easel-{}-{:08x}.{ext}", job.task_id, fastrand::u32(..));
        self.api.upload(&file, source.mime, source.bytes.clone()).await
    }
}

/// How much of the image a variation re-draws.
fn denoise(strength: Strength) -> f64 {
    match strength {
        Strength::Subtle => 0.35,
        Strength::Strong => 0.6,
    }
}
