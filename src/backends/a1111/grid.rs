//! The grid calls — imagine and variation — as txt2img and img2img see them: what one call
//! is asked to make ([`Plan`]), the request body, and turning the answer into four images with
//! their seeds and the state a later V of them needs.

use super::images::Batch;
use super::settings::VariationMode;
use super::settings::{self, Settings};
use super::wire::{GenerateRequest, MadeBy, OverrideSettings, RemoteState};
use crate::backends::{Job, JobOutput, OutputImage, ParentRef, SourceImage};
use crate::base::Strength;

/// Images in a grid.
pub(super) const GRID: usize = 4;

/// What one txt2img or img2img call is asked to make, for building it and reading its answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    pub made_by: MadeBy,
    pub width: u32,
    pub height: u32,
    pub seed: i64,
    pub subseed: Option<i64>,
    pub subseed_strength: Option<f64>,
}

impl Plan {
    /// Four new images from the prompt, at `--ar` with `image_size` on the long side.
    pub fn imagine(s: &Settings, job: &Job) -> Plan {
        let (width, height) = job.spec.aspect_or_square().dims(s.image_size);
        Plan::plain(MadeBy::Txt2img, (width, height), job.seed)
    }

    /// Four images close to image `index` of the parent: a subseed variation when the
    /// settings ask for one and the image has a seed that reproduces it, else img2img.
    pub fn variation(
        s: &Settings,
        job: &Job,
        index: u8,
        strength: Strength,
        source: &SourceImage,
        parent: &ParentRef,
    ) -> Plan {
        let state = RemoteState::parse(parent.remote_state.as_ref());
        // The parent's own size, so that its seed makes the same noise again.
        let size = match &state {
            Some(st) if st.width > 0 && st.height > 0 => (st.width, st.height),
            _ => size_of(source).unwrap_or_else(|| job.spec.aspect_or_square().dims(s.image_size)),
        };
        match (s.variation, image_seed(state.as_ref(), parent, index)) {
            (VariationMode::Subseed, Some(seed)) => Plan {
                made_by: MadeBy::Subseed,
                width: size.0,
                height: size.1,
                seed,
                subseed: Some(first_subseed(job.seed, seed)),
                subseed_strength: Some(settings::subseed_strength(strength)),
            },
            _ => Plan::plain(MadeBy::Img2img, size, job.seed),
        }
    }

    fn plain(made_by: MadeBy, (width, height): (u32, u32), seed: u32) -> Plan {
        Plan { made_by, width, height, seed: i64::from(seed), subseed: None, subseed_strength: None }
    }

    /// The fields txt2img and img2img share, for four images.
    pub fn request<'a>(
        &self,
        s: &'a Settings,
        job: &'a Job,
        negative: Option<&'a str>,
        tag: &'a str,
    ) -> GenerateRequest<'a> {
        GenerateRequest {
            prompt: &job.spec.text,
            negative_prompt: negative,
            seed: self.seed,
            subseed: self.subseed,
            subseed_strength: self.subseed_strength,
            batch_size: GRID as u8,
            n_iter: 1,
            width: self.width,
            height: self.height,
            steps: s.steps,
            cfg_scale: s.cfg_scale,
            sampler_name: s.sampler.as_deref(),
            tiling: job.spec.params.tile.then_some(true),
            override_settings: s.model.as_deref().map(|m| OverrideSettings { sd_model_checkpoint: m }),
            force_task_id: tag,
            send_images: true,
            save_images: false,
        }
    }

    /// Four images with their seeds, and the state a later V needs.
    pub fn output(&self, batch: Batch) -> JobOutput {
        let info = batch.info.unwrap_or_default();
        // Without `info`, the seeds follow from A1111's rule: consecutive seeds, unless a
        // subseed is mixed in, which keeps the seed and counts the subseeds up instead.
        let counted = |start: i64| (0..GRID as i64).map(|i| start + i).collect::<Vec<_>>();
        let all_seeds = info.all_seeds.filter(|s| s.len() >= GRID).unwrap_or_else(|| match self.subseed {
            Some(_) => vec![self.seed; GRID],
            None => counted(self.seed),
        });
        let all_subseeds = match self.subseed {
            Some(first) => info.all_subseeds.filter(|s| s.len() >= GRID).unwrap_or_else(|| counted(first)),
            None => Vec::new(),
        };
        let images = batch
            .images
            .into_iter()
            .zip(&all_seeds)
            .map(|(bytes, &seed)| OutputImage {
                bytes,
                // Only a plain txt2img image is reproduced by its seed alone.
                seed: (self.made_by == MadeBy::Txt2img).then(|| u32::try_from(seed).ok()).flatten(),
            })
            .collect();
        let state = RemoteState {
            made_by: self.made_by,
            width: info.width.unwrap_or(self.width),
            height: info.height.unwrap_or(self.height),
            all_seeds: all_seeds.into_iter().take(GRID).collect(),
            all_subseeds: all_subseeds.into_iter().take(GRID).collect(),
            subseed_strength: self.subseed_strength,
        };
        JobOutput { images, prompts: Vec::new(), remote_state: serde_json::to_value(state).ok() }
    }
}

/// The seed that reproduces image `index` of the parent, when one does: from the parent's
/// state when this adapter made it, else the parent's seed counted up as imagine does.
pub(super) fn image_seed(state: Option<&RemoteState>, parent: &ParentRef, index: u8) -> Option<i64> {
    match state {
        Some(st) if st.made_by == MadeBy::Txt2img => st.all_seeds.get(usize::from(index)).copied(),
        Some(_) => None,
        None => parent.seed.map(|s| i64::from(s) + i64::from(index)),
    }
}

/// The first of four subseeds: the variation task's own seed, so a rerun makes the same
/// images, moved past `seed` when the four would include it (a subseed equal to the seed
/// would reproduce the original).
fn first_subseed(task_seed: u32, seed: i64) -> i64 {
    let first = i64::from(task_seed);
    if (first..first + GRID as i64).contains(&seed) { first + GRID as i64 } else { first }
}

/// An input image's size, rounded to the multiples of 8 the models work in.
fn size_of(source: &SourceImage) -> Option<(u32, u32)> {
    let round = |v: u32| (v.saturating_add(4) / 8 * 8).max(64);
    (source.width > 0 && source.height > 0).then(|| (round(source.width), round(source.height)))
}

/// Names the job at the server; unique so that two runs of one task are told apart.
pub(super) fn task_tag(job: &Job) -> String {
    format!("easel-{}-{:08x}", job.task_id, fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    fn parent(state: Option<serde_json::Value>, seed: Option<u32>) -> ParentRef {
        ParentRef { remote_id: None, remote_state: state, seed }
    }

    #[test]
    fn image_seeds_come_from_plain_txt2img_parents_only() {
        let txt = json!({"made_by":"txt2img","width":8,"height":8,"all_seeds":[10,11,12,13]});
        assert_eq!(image_seed(RemoteState::parse(Some(&txt)).as_ref(), &parent(None, Some(1)), 2), Some(12));
        let sub = json!({"made_by":"subseed","width":8,"height":8,"all_seeds":[10,10,10,10],"all_subseeds":[1,2,3,4]});
        assert_eq!(image_seed(RemoteState::parse(Some(&sub)).as_ref(), &parent(None, Some(1)), 2), None);
        assert_eq!(image_seed(None, &parent(None, Some(100)), 3), Some(103));
        assert_eq!(image_seed(None, &parent(None, None), 3), None);
    }

    #[test]
    fn subseeds_never_repeat_the_seed() {
        assert_eq!(first_subseed(500, 10), 500);
        assert_eq!(first_subseed(500, 502), 504);
        assert_eq!(first_subseed(u32::MAX, 7), i64::from(u32::MAX));
    }

    #[test]
    fn input_sizes_round_to_multiples_of_8() {
        let src = |w, h| SourceImage { bytes: Bytes::new(), mime: "image/png", width: w, height: h };
        assert_eq!(size_of(&src(1023, 577)), Some((1024, 576)));
        assert_eq!(size_of(&src(10, 10)), Some((64, 64)));
        assert_eq!(size_of(&src(0, 10)), None);
    }
}
