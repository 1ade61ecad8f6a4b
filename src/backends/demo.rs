//! The `demo` backend: built in, offline, free. It paints deterministic placeholder
//! landscapes (see `demo_art`) so that every operation — imagine, variations, upscale, blend,
//! describe — works end to end with no API key and no GPU. Not AI: the same prompt and seed
//! always give the same pixels, and its output says so.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::demo_art::{Recipe, rgb_to_hsv};
use super::demo_edit;
use super::kind::{self, Kind};
use super::{
    Backend, BackendError, Capabilities, Job, JobOutput, Operation, OutputImage, ProgressSink, SourceImage,
};
use crate::base::{FailureCode, Strength, UpscaleMode};
use crate::config::{BackendConfig, BadSetting};
use crate::imaging;
use crate::prompt::{Param, PromptSpec};

const DEFAULT_IMAGE_SIZE: u32 = 512;
const DEFAULT_STEP: Duration = Duration::from_millis(250);
/// Upscales double the size, but never beyond this long side.
const MAX_UPSCALE_SIDE: u32 = 4096;
/// Long side of the progress previews.
const PREVIEW_SIDE: u32 = 512;

pub(super) const KIND: Kind = Kind {
    name: crate::config::DEMO_KIND,
    default_concurrency: 2,
    needs_key: false,
    keys: kind::keys::<Options>,
    check: |cfg| Options::read(cfg).map(drop),
    build: |cfg, _| Ok(std::sync::Arc::new(DemoBackend::from_config(cfg)?)),
};

/// The demo's own keys in a `[[backends]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// Long side of each generated image, in pixels.
    #[serde(default)]
    image_size: Option<u32>,
    /// Pause between progress steps, so progress can be watched.
    #[serde(default)]
    step_ms: Option<u64>,
}

impl Options {
    fn read(cfg: &BackendConfig) -> Result<Options, BadSetting> {
        let options: Options = cfg.parse_settings()?;
        if let Some(size) = options.image_size.filter(|s| !(64..=2048).contains(s)) {
            return Err(BadSetting::new("image_size", format!("{size} is out of range: use 64 to 2048")));
        }
        Ok(options)
    }
}

pub struct DemoBackend {
    name: String,
    image_size: u32,
    step: Duration,
}

/// What the demo keeps with a task so U and V can repaint its images exactly.
#[derive(Debug, Serialize, Deserialize)]
struct DemoState {
    recipes: Vec<Recipe>,
}

impl DemoBackend {
    pub fn from_config(cfg: &BackendConfig) -> anyhow::Result<Self> {
        let options = Options::read(cfg).map_err(|bad| kind::invalid(cfg, bad))?;
        Ok(DemoBackend {
            name: cfg.name.clone(),
            image_size: options.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
            step: options.step_ms.map_or(DEFAULT_STEP, Duration::from_millis),
        })
    }

    /// Reports progress in four steps with ever sharper previews, then paints the recipes.
    async fn paint_four(
        &self,
        recipes: Vec<Recipe>,
        spec: &PromptSpec,
        progress: &ProgressSink,
    ) -> Result<JobOutput, BackendError> {
        let (w, h) = spec.aspect_or_square().dims(self.image_size);
        for (step, divisor) in [(0u8, 16u32), (25, 8), (50, 4), (75, 2)] {
            let recipes = recipes.clone();
            let preview =
                blocking(move || preview_grid(&recipes, (w / divisor).max(8), (h / divisor).max(8))).await?;
            progress.percent(step, Some(preview));
            tokio::time::sleep(self.step).await;
        }
        let state = serde_json::to_value(DemoState { recipes: recipes.clone() }).ok();
        let images = blocking(move || {
            recipes
                .iter()
                .map(|r| {
                    Ok(OutputImage { bytes: imaging::encode_png(&r.paint(w, h))?.into(), seed: Some(r.seed) })
                })
                .collect::<Result<Vec<_>, imaging::ImageError>>()
        })
        .await?;
        Ok(JobOutput { images, prompts: Vec::new(), remote_state: state })
    }
}

#[async_trait]
impl Backend for DemoBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            imagine: true,
            upscale: true,
            variation: true,
            blend: true,
            describe: true,
            previews: true,
            native_grid: false,
            resumable: false,
            rerun_is_free: true,
            parent_bound: false,
            max_aspect: 4.0,
            outpaint: true,
            inpaint: true,
            upscale_subtle: true,
            upscale_creative: true,
            max_side: demo_edit::MAX_SIDE,
            max_reference_images: 0,
            params: vec![Param::Aspect, Param::Seed, Param::No, Param::Chaos, Param::Stylize, Param::Weird],
        }
    }

    async fn run(&self, job: Job, progress: ProgressSink) -> Result<JobOutput, BackendError> {
        let spec = &job.spec;
        let p = &spec.params;
        match job.op {
            Operation::Imagine => {
                let recipes = (0..4)
                    .map(|i| {
                        Recipe::from_prompt(&spec.text, job.seed, i, p.chaos.unwrap_or(0), &p.no)
                            .stylized(p.stylize, p.weird)
                    })
                    .collect();
                self.paint_four(recipes, spec, &progress).await
            }
            Operation::Variation { index, strength, ref parent, .. } => {
                let base = parent_recipe(parent.remote_state.as_ref(), index).unwrap_or_else(|| {
                    Recipe::from_prompt(&spec.text, parent.seed.unwrap_or(job.seed), index, 0, &p.no)
                });
                let amount = match strength {
                    Strength::Subtle => 0.15,
                    Strength::Strong => 0.35,
                };
                let recipes = (0..4u32)
                    .map(|k| {
                        let mut r = base;
                        r.nudge(job.seed.wrapping_add(k.wrapping_mul(7919)), amount);
                        r
                    })
                    .collect();
                self.paint_four(recipes, spec, &progress).await
            }
            Operation::Upscale { index, source, parent } => {
                progress.percent(0, None);
                let (w, h) = (source.width, source.height);
                let scale = (MAX_UPSCALE_SIDE as f32 / w.max(h) as f32).min(2.0);
                let (uw, uh) = (((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1));
                let recipe = parent_recipe(parent.remote_state.as_ref(), index);
                // Kept so Vary on the upscaled image starts from exactly this picture.
                let state = recipe.and_then(|r| serde_json::to_value(DemoState { recipes: vec![r] }).ok());
                tokio::time::sleep(self.step).await;
                let bytes = blocking(move || {
                    // Repaint at the larger size when the recipe is known: real extra detail.
                    let img = match recipe {
                        Some(r) => r.paint(uw, uh),
                        None => imaging::decode_resized(&source.bytes, uw, uh)?,
                    };
                    imaging::encode_png(&img)
                })
                .await?;
                Ok(JobOutput {
                    images: vec![OutputImage { bytes: bytes.into(), seed: None }],
                    prompts: Vec::new(),
                    remote_state: state,
                })
            }
            Operation::Blend { images } => {
                let (w, h) = spec.aspect_or_square().dims(self.image_size);
                progress.percent(0, None);
                let seed = job.seed;
                let output = blocking(move || blend(&images, seed, w, h)).await?;
                tokio::time::sleep(self.step).await;
                Ok(output)
            }
            Operation::Describe { image } => {
                let prompts = blocking(move || describe(&image)).await?;
                Ok(JobOutput { prompts, ..JobOutput::default() })
            }
            Operation::Edit { plan, source, .. } => {
                let recipes: Vec<Recipe> = (0..4)
                    .map(|i| Recipe::from_prompt(&spec.text, job.seed, i, p.chaos.unwrap_or(0), &p.no))
                    .collect();
                for step in [0, 50] {
                    progress.percent(step, None);
                    tokio::time::sleep(self.step).await;
                }
                let images = blocking(move || demo_edit::paint_edit(&source.bytes, &plan, &recipes)).await?;
                // No recipes kept: U on the result serves these pixels, not a fresh landscape.
                let images =
                    images.into_iter().map(|b| OutputImage { bytes: b.into(), seed: None }).collect();
                Ok(JobOutput { images, ..JobOutput::default() })
            }
            Operation::Upscale2x { mode, source, .. } => {
                progress.percent(0, None);
                let recipe = (mode == UpscaleMode::Creative)
                    .then(|| Recipe::from_prompt(&spec.text, job.seed, 0, 0, &p.no));
                tokio::time::sleep(self.step).await;
                let bytes =
                    blocking(move || demo_edit::upscale_2x(&source.bytes, recipe, MAX_UPSCALE_SIDE)).await?;
                Ok(JobOutput {
                    images: vec![OutputImage { bytes: bytes.into(), seed: None }],
                    ..JobOutput::default()
                })
            }
        }
    }
}

fn parent_recipe(state: Option<&serde_json::Value>, index: u8) -> Option<Recipe> {
    let state: DemoState = serde_json::from_value(state?.clone()).ok()?;
    state.recipes.get(index as usize).copied()
}

/// Runs CPU-bound painting off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, imaging::ImageError> + Send + 'static,
) -> Result<T, BackendError> {
    let bad_input = |detail: String| {
        BackendError::fatal(FailureCode::BadImage, "Easel could not read one of the images.", detail)
    };
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(BackendError { user_message: e.to_string(), ..bad_input(e.to_string()) }),
        Err(e) => Err(BackendError::fatal(FailureCode::Internal, "The demo backend failed.", e.to_string())),
    }
}

fn preview_grid(recipes: &[Recipe], w: u32, h: u32) -> Result<Bytes, imaging::ImageError> {
    let tiles: Vec<RgbImage> = recipes.iter().map(|r| r.paint(w, h)).collect();
    let [a, b, c, d]: [RgbImage; 4] =
        tiles.try_into().map_err(|_| imaging::ImageError::Corrupt("need four tiles".into()))?;
    let grid = imaging::compose_grid(&[a, b, c, d]);
    // Scaling the coarse paint up gives the soft, "still forming" look of a real preview.
    let scale = PREVIEW_SIDE as f32 / grid.width().max(grid.height()) as f32;
    let shown = imaging::resize(
        &grid,
        ((grid.width() as f32 * scale) as u32).max(1),
        ((grid.height() as f32 * scale) as u32).max(1),
    );
    Ok(imaging::encode_jpeg(&shown, 70)?.into())
}

/// Four images mixing the inputs with a landscape in their colours.
fn blend(images: &[SourceImage], seed: u32, w: u32, h: u32) -> Result<JobOutput, imaging::ImageError> {
    let inputs: Vec<RgbImage> =
        images.iter().map(|s| imaging::decode_resized(&s.bytes, w, h)).collect::<Result<_, _>>()?;
    let hues: Vec<f32> = inputs.iter().map(dominant_hue).collect();
    let mut out = Vec::new();
    for k in 0..4u8 {
        let mut recipe = Recipe::from_prompt("", seed, k, 40, &[]);
        recipe.hues = [hues[0], hues[1 % hues.len()], hues[(k as usize + 2) % hues.len()]];
        let scene = recipe.paint(w, h);
        // Each of the four favours a different input.
        let favourite = k as usize % inputs.len();
        let mixed = RgbImage::from_fn(w, h, |x, y| {
            let mut acc = [0f32; 3];
            for (i, img) in inputs.iter().enumerate() {
                let weight = if i == favourite { 0.6 } else { 0.4 / (inputs.len() - 1).max(1) as f32 };
                for (a, v) in acc.iter_mut().zip(img.get_pixel(x, y).0) {
                    *a += f32::from(v) * weight;
                }
            }
            let s = scene.get_pixel(x, y).0;
            image::Rgb([0, 1, 2].map(|c| (acc[c] * 0.6 + f32::from(s[c]) * 0.4) as u8))
        });
        out.push(OutputImage { bytes: imaging::encode_png(&mixed)?.into(), seed: Some(recipe.seed) });
    }
    Ok(JobOutput { images: out, ..JobOutput::default() })
}

fn dominant_hue(img: &RgbImage) -> f32 {
    let mut bins = [0f32; 12];
    for p in img.pixels().step_by(7) {
        let (h, s, v) = rgb_to_hsv(*p);
        bins[((h / 30.0) as usize).min(11)] += s * v;
    }
    let best = bins.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    best as f32 * 30.0 + 15.0
}

fn hue_name(h: f32) -> &'static str {
    const NAMES: [&str; 12] = [
        "red", "orange", "amber", "yellow", "lime", "green", "teal", "cyan", "azure", "blue", "violet",
        "magenta",
    ];
    NAMES[((h.rem_euclid(360.0) / 30.0) as usize).min(11)]
}

/// Four prompts from the image's statistics: colours, light, saturation and shape.
fn describe(image: &SourceImage) -> Result<Vec<String>, imaging::ImageError> {
    let img = imaging::decode_fitted(&image.bytes, 256)?;
    let (mut sat, mut val, mut n) = (0f32, 0f32, 0f32);
    for p in img.pixels() {
        let (_, s, v) = rgb_to_hsv(*p);
        sat += s;
        val += v;
        n += 1.0;
    }
    let (sat, val) = (sat / n.max(1.0), val / n.max(1.0));
    let top = hue_name(dominant_hue(&img));
    let (w, h) = (img.width(), img.height());
    let lower = RgbImage::from_fn(w, h / 2 + 1, |x, y| *img.get_pixel(x, (y + h / 2).min(h - 1)));
    let ground = hue_name(dominant_hue(&lower));
    let light = if val > 0.65 {
        "bright, airy"
    } else if val > 0.4 {
        "softly lit"
    } else {
        "dark, moody"
    };
    let colour = if sat > 0.45 {
        "vivid"
    } else if sat > 0.2 {
        "muted"
    } else {
        "nearly monochrome"
    };
    let g = gcd(w, h).max(1);
    let ar = if w == h { String::new() } else { format!(" --ar {}:{}", w / g, h / g) };
    Ok(vec![
        format!("a {light} landscape in {colour} {top} and {ground} tones{ar}"),
        format!("{top} sky over {ground} hills, {light}, {colour} palette, wide view{ar}"),
        format!("minimalist poster of layered {ground} ridges under a {top} sky{ar}"),
        format!("{colour} {top} and {ground} colour study, soft gradients, quiet mood{ar}"),
    ])
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}
