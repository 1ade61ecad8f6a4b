//! What a workflow template may hold: the placeholders Easel fills, and per operation which
//! of them it needs and which have a value at all (checked once, when the backend is built).

use std::fmt;

/// What Easel can fill in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Placeholder {
    /// The prompt text, parameters removed.
    Prompt,
    /// `--no` items joined with ", "; empty when there are none.
    NegativePrompt,
    /// The task's seed.
    Seed,
    /// Imagine: `--ar` at `image_size` on the long side, multiples of 8. Edit: the canvas.
    /// Upscale (Creative): twice the input.
    Width,
    Height,
    /// 4: one prompt makes the whole grid.
    BatchSize,
    /// The uploaded input image, as a `LoadImage` node names it. For an edit: the source
    /// placed on the padded canvas, alpha 0 where the workflow repaints (`LoadImage`'s MASK).
    Image,
    /// An edit's mask as its own uploaded image, the canvas's size: white and alpha 0 where
    /// the workflow repaints, black and opaque where it keeps (so `LoadImageMask` reads it
    /// from any channel).
    Mask,
    /// How much of the input is re-drawn: V 0.35 (Subtle) or 0.6 (Strong); an outpaint 1.0,
    /// Vary (Region) 0.85; Upscale (Creative) 0.35.
    Denoise,
    /// The backend's `model` setting: a checkpoint file name.
    Model,
    /// The prompt's first reference image (the `/imagine` `image:` or `style:` attachment, or
    /// an image prompt, `--sref`, `--cref` or `--oref` link), uploaded.
    ReferenceImage,
}

impl Placeholder {
    pub const ALL: [Placeholder; 11] = [
        Placeholder::Prompt,
        Placeholder::NegativePrompt,
        Placeholder::Seed,
        Placeholder::Width,
        Placeholder::Height,
        Placeholder::BatchSize,
        Placeholder::Image,
        Placeholder::Mask,
        Placeholder::Denoise,
        Placeholder::Model,
        Placeholder::ReferenceImage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Prompt => "prompt",
            Placeholder::NegativePrompt => "negative_prompt",
            Placeholder::Seed => "seed",
            Placeholder::Width => "width",
            Placeholder::Height => "height",
            Placeholder::BatchSize => "batch_size",
            Placeholder::Image => "image",
            Placeholder::Mask => "mask",
            Placeholder::Denoise => "denoise",
            Placeholder::Model => "model",
            Placeholder::ReferenceImage => "reference_image",
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.name())
    }
}

/// The operation a template serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Workflow {
    Imagine,
    Variation,
    /// U, and Upscale (Subtle) at 2×.
    Upscale,
    /// Zoom Out, Custom Zoom, Make Square, Pan and Vary (Region).
    Edit,
    UpscaleCreative,
    /// Imagine for a prompt with a reference image.
    ImagineReference,
}

impl Workflow {
    pub fn name(self) -> &'static str {
        match self {
            Workflow::Imagine => "imagine",
            Workflow::Variation => "variation",
            Workflow::Upscale => "upscale",
            Workflow::Edit => "edit",
            Workflow::UpscaleCreative => "upscale_creative",
            Workflow::ImagineReference => "imagine_reference",
        }
    }

    /// Without these the operation cannot be what Easel promises (four images of the prompt
    /// at the asked size; four images near the input; a bigger input; four images of the
    /// canvas; a re-drawn bigger input).
    pub(super) fn required(self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            Workflow::Imagine => &[Prompt, Seed, Width, Height, BatchSize],
            Workflow::Variation => &[Image, Seed, BatchSize, Denoise],
            Workflow::Upscale => &[Image],
            Workflow::Edit => &[Image, Seed, BatchSize],
            Workflow::UpscaleCreative => &[Image, Seed],
            Workflow::ImagineReference => &[Prompt, Seed, Width, Height, BatchSize, ReferenceImage],
        }
    }

    /// The placeholders that have a value for this operation.
    pub(super) fn allowed(self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            Workflow::Imagine => &[Prompt, NegativePrompt, Seed, Width, Height, BatchSize, Model],
            Workflow::Variation => &[Prompt, NegativePrompt, Seed, BatchSize, Image, Denoise, Model],
            Workflow::Upscale => &[Image, Prompt, NegativePrompt, Seed, Model],
            Workflow::Edit => {
                &[Prompt, NegativePrompt, Seed, Width, Height, BatchSize, Image, Mask, Denoise, Model]
            }
            Workflow::UpscaleCreative => {
                &[Prompt, NegativePrompt, Seed, Width, Height, Image, Denoise, Model]
            }
            Workflow::ImagineReference => {
                &[Prompt, NegativePrompt, Seed, Width, Height, BatchSize, Model, ReferenceImage]
            }
        }
    }
}
