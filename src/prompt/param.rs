//! [`Param`]: each parameter by name, for backends' capability lists and the "ignored
//! parameters" notice, and the spec's helpers that answer by parameter: which are present
//! and which image URLs a backend could take as inputs. The order of [`Param::ALL`] is the
//! order `canonical()` writes them in (`render.rs`).

use serde::{Deserialize, Serialize};

use super::PromptSpec;
use super::spec::{Speed, StyleSource};

/// A parameter by name, for capability checks and "ignored parameters" notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Param {
    ImagePrompt,
    Aspect,
    Seed,
    No,
    Chaos,
    Stylize,
    Quality,
    Weird,
    Tile,
    StyleRaw,
    /// `--style` with anything but `raw`.
    StyleCode,
    Stop,
    Exp,
    Draft,
    Version,
    Niji,
    ImageWeight,
    StyleRef,
    StyleWeight,
    StyleVersion,
    CharacterRef,
    CharacterWeight,
    OmniRef,
    OmniWeight,
    Personalize,
    Relax,
    Fast,
    Turbo,
    /// `--repeat N`. Not in [`Param::ALL`]: the parser turns it into N copies of the prompt,
    /// as it does `{…}`, so no parsed spec carries it and no backend is asked to honour it.
    Repeat,
}

impl Param {
    /// Every parameter a spec can carry, in the order `canonical()` writes them.
    pub const ALL: [Param; 28] = [
        Param::ImagePrompt,
        Param::Aspect,
        Param::Seed,
        Param::No,
        Param::Chaos,
        Param::Stylize,
        Param::Quality,
        Param::Weird,
        Param::Tile,
        Param::StyleRaw,
        Param::StyleCode,
        Param::Stop,
        Param::Exp,
        Param::Draft,
        Param::Version,
        Param::Niji,
        Param::ImageWeight,
        Param::StyleRef,
        Param::StyleWeight,
        Param::StyleVersion,
        Param::CharacterRef,
        Param::CharacterWeight,
        Param::OmniRef,
        Param::OmniWeight,
        Param::Personalize,
        Param::Relax,
        Param::Fast,
        Param::Turbo,
    ];

    /// How a member writes it: `"--ar"`, `"--seed"`, … and `"image prompt"` for leading URLs.
    pub fn flag(&self) -> &'static str {
        match self {
            Param::ImagePrompt => "image prompt",
            Param::Aspect => "--ar",
            Param::Seed => "--seed",
            Param::No => "--no",
            Param::Chaos => "--chaos",
            Param::Stylize => "--stylize",
            Param::Quality => "--quality",
            Param::Weird => "--weird",
            Param::Tile => "--tile",
            Param::StyleRaw => "--style raw",
            Param::StyleCode => "--style",
            Param::Stop => "--stop",
            Param::Exp => "--exp",
            Param::Draft => "--draft",
            Param::Version => "--v",
            Param::Niji => "--niji",
            Param::ImageWeight => "--iw",
            Param::StyleRef => "--sref",
            Param::StyleWeight => "--sw",
            Param::StyleVersion => "--sv",
            Param::CharacterRef => "--cref",
            Param::CharacterWeight => "--cw",
            Param::OmniRef => "--oref",
            Param::OmniWeight => "--ow",
            Param::Personalize => "--p",
            Param::Relax => Speed::Relax.flag(),
            Param::Fast => Speed::Fast.flag(),
            Param::Turbo => Speed::Turbo.flag(),
            Param::Repeat => "--repeat",
        }
    }
}

impl PromptSpec {
    /// Which parameters are set, in [`Param::ALL`] order.
    pub fn present_params(&self) -> Vec<Param> {
        Param::ALL.into_iter().filter(|p| self.has(*p)).collect()
    }

    fn has(&self, param: Param) -> bool {
        let p = &self.params;
        match param {
            Param::ImagePrompt => !self.image_urls.is_empty(),
            Param::Aspect => p.aspect.is_some(),
            Param::Seed => p.seed.is_some(),
            Param::No => !p.no.is_empty(),
            Param::Chaos => p.chaos.is_some(),
            Param::Stylize => p.stylize.is_some(),
            Param::Quality => p.quality.is_some(),
            Param::Weird => p.weird.is_some(),
            Param::Tile => p.tile,
            Param::StyleRaw => p.style_raw,
            Param::StyleCode => p.style_code.is_some(),
            Param::Stop => p.stop.is_some(),
            Param::Exp => p.exp.is_some(),
            Param::Draft => p.draft,
            Param::Version => p.version.is_some(),
            Param::Niji => p.niji.is_some(),
            Param::ImageWeight => p.iw.is_some(),
            Param::StyleRef => !p.style_refs.is_empty(),
            Param::StyleWeight => p.style_weight.is_some(),
            Param::StyleVersion => p.style_version.is_some(),
            Param::CharacterRef => !p.character_refs.is_empty(),
            Param::CharacterWeight => p.character_weight.is_some(),
            Param::OmniRef => p.omni_ref.is_some(),
            Param::OmniWeight => p.omni_weight.is_some(),
            Param::Personalize => p.personalize.is_some(),
            Param::Relax => p.speed == Some(Speed::Relax),
            Param::Fast => p.speed == Some(Speed::Fast),
            Param::Turbo => p.speed == Some(Speed::Turbo),
            Param::Repeat => false,
        }
    }

    /// Every image URL the prompt names, with the parameter that names it, in
    /// [`Param::ALL`] order: leading image prompts, `--sref` URLs (not codes or `random`),
    /// `--cref` and `--oref`. A backend that takes image inputs fetches what it can use;
    /// the parameters it cannot use it lists as ignored.
    pub fn reference_urls(&self) -> Vec<(Param, &str)> {
        let p = &self.params;
        let images = self.image_urls.iter().map(|url| (Param::ImagePrompt, url.as_str()));
        let styles = p.style_refs.iter().filter_map(|r| match &r.source {
            StyleSource::Url(url) => Some((Param::StyleRef, url.as_str())),
            StyleSource::Code(_) | StyleSource::Random => None,
        });
        let characters = p.character_refs.iter().map(|url| (Param::CharacterRef, url.as_str()));
        let omni = p.omni_ref.iter().map(|url| (Param::OmniRef, url.as_str()));
        images.chain(styles).chain(characters).chain(omni).collect()
    }
}
