//! The parameter vocabulary: which tokens are flags, which names and aliases Easel knows,
//! how many values each takes, and how each value is checked and stored in [`Params`].
//! The token walk that calls into this lives in `parse.rs`.

use super::error::{PromptError, quote};
use super::spec::{Aspect, Param, Params};

/// The list shown when a member uses a flag Easel does not know.
pub(crate) const KNOWN_LIST: &str = "--ar, --seed, --no, --chaos, --stylize, --quality, --weird, \
     --tile, --style raw, --stop, --v, --niji, --iw";

/// How many value tokens follow a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arity {
    None,
    One,
    /// `--niji` takes a version only when the next token starts with a digit, so
    /// `--niji in a hat` reports stray text rather than an odd version called `in`.
    OptionalNumber,
    /// `--no` takes every token up to the next flag.
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
        "v" | "version" => (Param::Version, Arity::One),
        "niji" => (Param::Niji, Arity::OptionalNumber),
        "iw" => (Param::ImageWeight, Arity::One),
        _ => return None,
    };
    Some(found)
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
        Param::StyleRaw => "raw",
        Param::Stop => "50",
        Param::Version => "6.1",
        Param::Niji => "6",
        Param::ImageWeight => "1.5",
        Param::ImagePrompt | Param::Tile => "",
    }
}

/// Checks one flag's value and stores it. `flag` is the flag as the member wrote it
/// (`--c`), used in messages; `value` is `None` for flags without one and for a bare `--niji`.
pub(crate) fn apply(
    param: Param,
    flag: &str,
    value: Option<&str>,
    params: &mut Params,
    max_aspect: f64,
) -> Result<(), PromptError> {
    let v = value.unwrap_or("");
    match param {
        Param::Aspect => params.aspect = Some(aspect(flag, v, max_aspect)?),
        Param::Seed => params.seed = Some(whole(flag, v, 0, u32::MAX.into())?),
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
        Param::Chaos => params.chaos = Some(whole(flag, v, 0, 100)?),
        Param::Stylize => params.stylize = Some(whole(flag, v, 0, 1000)?),
        Param::Quality => params.quality = Some(quality(flag, v)?),
        Param::Weird => params.weird = Some(whole(flag, v, 0, 3000)?),
        Param::Stop => params.stop = Some(whole(flag, v, 10, 100)?),
        Param::Tile => params.tile = true,
        Param::StyleRaw => {
            if value.is_some_and(|v| !v.eq_ignore_ascii_case("raw")) {
                return Err(PromptError::UnsupportedStyle { flag: flag.to_string(), value: quote(v) });
            }
            params.style_raw = true;
        }
        Param::Version => params.version = Some(version(flag, v)?),
        // An empty value is the documented "bare --niji".
        Param::Niji if v.is_empty() => params.niji = Some(String::new()),
        Param::Niji => params.niji = Some(version(flag, v)?),
        Param::ImageWeight => params.iw = Some(weight(flag, v)?),
        // Leading URLs never reach here: they are not flags.
        Param::ImagePrompt => {}
    }
    Ok(())
}

pub(crate) fn missing(flag: &str, param: Param) -> PromptError {
    PromptError::MissingValue { flag: flag.to_string(), example: example(param) }
}

/// Numbers are told apart from words before parsing, so `inf`, `nan` or `0x10` (which Rust's
/// float parser partly accepts) are reported as "not a number" rather than odd values.
fn looks_numeric(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
}

/// Why a value is not an acceptable whole number.
enum Wrong {
    NotANumber,
    NotWhole,
    OutOfRange,
}

fn whole<T: TryFrom<u64>>(flag: &str, v: &str, min: u64, max: u64) -> Result<T, PromptError> {
    let wrong = match whole_in(v, min, max) {
        Ok(n) => match T::try_from(n) {
            Ok(n) => return Ok(n),
            // Unreachable while every caller's `max` fits `T`; reported as out of range anyway.
            Err(_) => Wrong::OutOfRange,
        },
        Err(wrong) => wrong,
    };
    let (flag, value, allowed) = (flag.to_string(), quote(v), format!("a whole number from {min} to {max}"));
    Err(match wrong {
        Wrong::NotANumber => PromptError::NotANumber { flag, value, allowed },
        Wrong::NotWhole => PromptError::NotWhole { flag, value, allowed },
        Wrong::OutOfRange => PromptError::OutOfRange { flag, value, allowed },
    })
}

fn whole_in(v: &str, min: u64, max: u64) -> Result<u64, Wrong> {
    if !looks_numeric(v) {
        return Err(Wrong::NotANumber);
    }
    let n = match v.parse::<i128>() {
        Ok(n) => n,
        Err(_) => {
            let unsigned = v.strip_prefix(['+', '-']).unwrap_or(v);
            if unsigned.bytes().all(|b| b.is_ascii_digit()) {
                // More digits than i128 holds: far out of range, but still a number.
                return Err(Wrong::OutOfRange);
            }
            match v.parse::<f64>() {
                Ok(f) if f.is_infinite() => return Err(Wrong::OutOfRange),
                // `5.0` or `1e2` is a whole number written another way; `5.5` is not.
                Ok(f) if f.fract() != 0.0 => return Err(Wrong::NotWhole),
                Ok(f) if f < min as f64 || f > max as f64 => return Err(Wrong::OutOfRange),
                Ok(f) => f as i128,
                Err(_) => return Err(Wrong::NotANumber),
            }
        }
    };
    if n < i128::from(min) || n > i128::from(max) {
        return Err(Wrong::OutOfRange);
    }
    u64::try_from(n).map_err(|_| Wrong::OutOfRange)
}

/// The allowed `--quality` values; `1` is Midjourney's default.
const QUALITIES: [f32; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

fn quality(flag: &str, v: &str) -> Result<f32, PromptError> {
    let allowed = "one of .25, .5, 1, 2 or 4".to_string();
    match v.parse::<f32>() {
        Ok(q) if looks_numeric(v) => QUALITIES
            .into_iter()
            .find(|&allowed_q| allowed_q == q)
            .ok_or(PromptError::NotAllowed { flag: flag.to_string(), value: quote(v), allowed }),
        _ => Err(PromptError::NotANumber { flag: flag.to_string(), value: quote(v), allowed }),
    }
}

fn weight(flag: &str, v: &str) -> Result<f32, PromptError> {
    let allowed = "a number from 0 to 3".to_string();
    // Parsed straight to f32 so `canonical()` (which prints the f32) reads back identically.
    match v.parse::<f32>() {
        Ok(w) if looks_numeric(v) && !w.is_nan() => {
            if (0.0..=3.0).contains(&w) {
                // `-0` would print as "-0"; store the plain zero the member meant.
                Ok(if w == 0.0 { 0.0 } else { w })
            } else {
                Err(PromptError::OutOfRange { flag: flag.to_string(), value: quote(v), allowed })
            }
        }
        _ => Err(PromptError::NotANumber { flag: flag.to_string(), value: quote(v), allowed }),
    }
}

fn version(flag: &str, v: &str) -> Result<String, PromptError> {
    let valid =
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(v.to_string())
    } else {
        Err(PromptError::BadVersion { flag: flag.to_string(), value: quote(v) })
    }
}

fn aspect(flag: &str, v: &str, max_aspect: f64) -> Result<Aspect, PromptError> {
    let side = |s: &str| s.parse::<u32>().ok().filter(|&n| n > 0 && s.bytes().all(|b| b.is_ascii_digit()));
    let parsed = v.split_once(':').and_then(|(w, h)| Some(Aspect { w: side(w)?, h: side(h)? }));
    let Some(ar) = parsed else {
        return Err(PromptError::BadAspect { flag: flag.to_string(), value: quote(v) });
    };
    let (long, short) = (ar.w.max(ar.h), ar.w.min(ar.h));
    if f64::from(long) / f64::from(short) > max_aspect {
        return Err(PromptError::AspectOutOfRange {
            flag: flag.to_string(),
            value: quote(v),
            wide: ar.w > ar.h,
            max: max_aspect,
        });
    }
    Ok(ar)
}
