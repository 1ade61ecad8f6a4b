//! The parameter vocabulary: which tokens are flags, which names and aliases Easel knows
//! (and which video parameters it refuses by name), how many values each takes, and where
//! each checked value is stored in [`Params`]. The checks themselves live in `values.rs`;
//! the token walk that calls into this lives in `parse.rs`.

use super::error::{PromptError, quote};
use super::param::Param;
use super::spec::{Params, Speed};
use super::values;

/// The list shown when a member uses a flag Easel does not know.
pub(crate) const KNOWN_LIST: &str = "--ar, --seed, --no, --chaos, --stylize, --quality, --weird, \
     --tile, --style, --stop, --exp, --draft, --v, --niji, --iw, --sref, --sw, --sv, --cref, --cw, \
     --oref, --ow, --p, --repeat, --relax, --fast, --turbo";

/// Midjourney's video parameters. Easel makes images, so these are refused by name with a
/// sentence saying so, rather than as unknown.
const VIDEO: [&str; 5] = ["video", "motion", "loop", "end", "bs"];

/// How many value tokens follow a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arity {
    None,
    One,
    /// `--niji` takes a version only when the next token starts with a digit, so
    /// `--niji in a hat` reports stray text rather than an odd version called `in`.
    OptionalNumber,
    /// `--no`, `--sref`, `--cref`, `--oref` and `--p` take every token up to the next flag.
    List,
}

/// The flag name of a token, or `None` if the token is text.
///
/// A flag is a run of dashes followed by an ASCII letter. The run must be `--` or longer,
/// or contain an em dash `—` or en dash `–`, because phones autocorrect `--` into those.
/// A lone dash (`-5`, `-ish`) and a dash with no letter after it (`—` used as punctuation)
/// stay text.
pub(crate) fn flag_name(token: &str) -> Option<&str> {
    let rest = token.trim_start_matches(['-', '—', '–']);
    let dashes = &token[..token.len() - rest.len()];
    let is_prefix = dashes.len() >= 2; // "--", or any em/en dash (3 bytes each)
    (is_prefix && rest.starts_with(|c: char| c.is_ascii_alphabetic())).then_some(rest)
}

/// The parameter and arity for a flag name (case-insensitive), or `None` if unknown.
/// `--style` always answers [`Param::StyleRaw`]; [`refine`] tells a style code apart once
/// the value is known.
pub(crate) fn lookup(name: &str) -> Option<(Param, Arity)> {
    let found = match name.to_ascii_lowercase().as_str() {
        "ar" | "aspect" => (Param::Aspect, Arity::One),
        "seed" => (Param::Seed, Arity::One),
        "no" => (Param::No, Arity::List),
        "chaos" | "c" => (Param::Chaos, Arity::One),
        "stylize" | "s" => (Param::Stylize, Arity::One),
        "quality" | "q" => (Param::Quality, Arity::One),
        "weird" | "w" => (Param::Weird, Arity::One),
        "tile" => (Param::Tile, Arity::None),
        "style" => (Param::StyleRaw, Arity::One),
        "raw" => (Param::StyleRaw, Arity::None),
        "stop" => (Param::Stop, Arity::One),
        "exp" => (Param::Exp, Arity::One),
        "draft" => (Param::Draft, Arity::None),
        "v" | "version" => (Param::Version, Arity::One),
        "niji" => (Param::Niji, Arity::OptionalNumber),
        "iw" => (Param::ImageWeight, Arity::One),
        "sref" => (Param::StyleRef, Arity::List),
        "sw" => (Param::StyleWeight, Arity::One),
        "sv" => (Param::StyleVersion, Arity::One),
        "cref" => (Param::CharacterRef, Arity::List),
        "cw" => (Param::CharacterWeight, Arity::One),
        "oref" => (Param::OmniRef, Arity::List),
        "ow" => (Param::OmniWeight, Arity::One),
        "p" | "personalize" | "profile" => (Param::Personalize, Arity::List),
        "repeat" | "r" => (Param::Repeat, Arity::One),
        "relax" => (Param::Relax, Arity::None),
        "fast" => (Param::Fast, Arity::None),
        "turbo" => (Param::Turbo, Arity::None),
        _ => return None,
    };
    Some(found)
}

/// Whether a flag name (case-insensitive) is one of Midjourney's video parameters.
pub(crate) fn is_video(name: &str) -> bool {
    VIDEO.iter().any(|video| video.eq_ignore_ascii_case(name))
}

/// The parameter a flag stands for once its value is known: `--style cute` is a style
/// code, `--style raw` (any case) is raw.
pub(crate) fn refine(param: Param, value: Option<&str>) -> Param {
    match value {
        Some(v) if param == Param::StyleRaw && !v.eq_ignore_ascii_case("raw") => Param::StyleCode,
        _ => param,
    }
}

/// The value shown after `e.g.` when a flag is given without one.
pub(crate) fn example(param: Param) -> &'static str {
    match param {
        Param::Aspect => "16:9",
        Param::Seed => "1234",
        Param::No => "text, blur",
        Param::Chaos => "50",
        Param::Stylize => "250",
        Param::Quality => "1",
        Param::Weird => "500",
        Param::StyleRaw | Param::StyleCode => "raw",
        Param::Stop => "50",
        Param::Exp => "25",
        Param::Version => "6.1",
        Param::Niji => "6",
        Param::ImageWeight => "1.5",
        Param::StyleRef => "1234567",
        Param::StyleWeight => "200",
        Param::StyleVersion => "6",
        Param::CharacterRef => "https://example.com/face.png",
        Param::CharacterWeight => "50",
        Param::OmniRef => "https://example.com/object.png",
        Param::OmniWeight => "400",
        Param::Repeat => "2",
        Param::ImagePrompt
        | Param::Tile
        | Param::Draft
        | Param::Personalize
        | Param::Relax
        | Param::Fast
        | Param::Turbo => "",
    }
}

/// Checks one flag's value and stores it. `flag` is the flag as the member wrote it
/// (`--c`), used in messages; `value` is `None` for flags without one, a bare `--niji` and a
/// bare `--p`. `--repeat` is not stored here: the parser makes copies from it.
pub(crate) fn apply(
    param: Param,
    flag: &str,
    value: Option<&str>,
    params: &mut Params,
    max_aspect: f64,
) -> Result<(), PromptError> {
    let v = value.unwrap_or("");
    match param {
        Param::Aspect => params.aspect = Some(values::aspect(flag, v, max_aspect)?),
        Param::Seed => params.seed = Some(values::whole(flag, v, 0, u32::MAX.into())?),
        Param::No => {
            params.no =
                v.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect();
            if params.no.is_empty() {
                return Err(missing(flag, param));
            }
            // `a,--tile` is one token, so `--tile` reached the list; `canonical()` writes it
            // as `a, --tile`, which would read back as the flag. Refuse what is ambiguous.
            if let Some(item) = params.no.iter().find(|item| flag_name(item).is_some()) {
                return Err(PromptError::NotAllowed {
                    flag: flag.to_string(),
                    value: quote(v),
                    allowed: format!(
                        "words separated by commas; put a space before `{}` if it is a parameter",
                        quote(item)
                    ),
                });
            }
        }
        Param::Chaos => params.chaos = Some(values::whole(flag, v, 0, 100)?),
        Param::Stylize => params.stylize = Some(values::whole(flag, v, 0, 1000)?),
        Param::Quality => params.quality = Some(values::quality(flag, v)?),
        Param::Weird => params.weird = Some(values::whole(flag, v, 0, 3000)?),
        Param::Stop => params.stop = Some(values::whole(flag, v, 10, 100)?),
        Param::Tile => params.tile = true,
        Param::StyleRaw => params.style_raw = true,
        Param::StyleCode => params.style_code = Some(values::style_code(flag, v)?),
        Param::Exp => params.exp = Some(values::whole(flag, v, 0, 100)?),
        Param::Draft => params.draft = true,
        Param::Version => params.version = Some(values::version(flag, v)?),
        // An empty value is the documented "bare --niji".
        Param::Niji if v.is_empty() => params.niji = Some(String::new()),
        Param::Niji => params.niji = Some(values::version(flag, v)?),
        Param::ImageWeight => params.iw = Some(values::weight(flag, v)?),
        Param::StyleRef => params.style_refs = non_empty(values::style_refs(flag, v)?, flag, param)?,
        Param::StyleWeight => params.style_weight = Some(values::whole(flag, v, 0, 1000)?),
        Param::StyleVersion => params.style_version = Some(values::whole(flag, v, 1, 7)?),
        Param::CharacterRef => {
            params.character_refs = non_empty(values::image_urls(flag, v)?, flag, param)?;
        }
        Param::CharacterWeight => params.character_weight = Some(values::whole(flag, v, 0, 100)?),
        Param::OmniRef => {
            let mut urls = non_empty(values::image_urls(flag, v)?, flag, param)?;
            if urls.len() > 1 {
                return Err(PromptError::OneOnly { flag: flag.to_string(), count: urls.len() });
            }
            params.omni_ref = urls.pop();
        }
        Param::OmniWeight => params.omni_weight = Some(values::whole(flag, v, 1, 1000)?),
        // A bare `--p` is the member's default profile: an empty list, not a missing value.
        Param::Personalize => params.personalize = Some(values::codes(flag, v)?),
        Param::Relax => params.speed = Some(Speed::Relax),
        Param::Fast => params.speed = Some(Speed::Fast),
        Param::Turbo => params.speed = Some(Speed::Turbo),
        // Leading URLs never reach here (they are not flags); `--repeat` is the parser's.
        Param::ImagePrompt | Param::Repeat => {}
    }
    Ok(())
}

/// The copies `--repeat` asks for, 1–40.
pub(crate) fn repeat(flag: &str, value: &str) -> Result<u8, PromptError> {
    values::whole(flag, value, 1, 40)
}

fn non_empty<T>(items: Vec<T>, flag: &str, param: Param) -> Result<Vec<T>, PromptError> {
    if items.is_empty() { Err(missing(flag, param)) } else { Ok(items) }
}

pub(crate) fn missing(flag: &str, param: Param) -> PromptError {
    PromptError::MissingValue { flag: flag.to_string(), example: example(param) }
}
