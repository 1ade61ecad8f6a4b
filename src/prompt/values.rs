//! Checking one parameter's value: whole numbers in a range, the fixed `--quality` steps,
//! decimal weights, version and style codes, aspect ratios, and the reference lists of
//! `--sref`, `--cref` and `--p`. Each checker turns a bad value into the [`PromptError`] that
//! names the flag as written, the value and what is allowed; `flags.rs` decides which
//! checker a parameter uses and where the result is stored.

use super::error::{PromptError, quote};
use super::spec::{Aspect, StyleRef, StyleSource};

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

pub(crate) fn whole<T: TryFrom<u64>>(flag: &str, v: &str, min: u64, max: u64) -> Result<T, PromptError> {
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

pub(crate) fn quality(flag: &str, v: &str) -> Result<f32, PromptError> {
    let allowed = "one of .25, .5, 1, 2 or 4".to_string();
    match v.parse::<f32>() {
        Ok(q) if looks_numeric(v) => QUALITIES
            .into_iter()
            .find(|&allowed_q| allowed_q == q)
            .ok_or(PromptError::NotAllowed { flag: flag.to_string(), value: quote(v), allowed }),
        _ => Err(PromptError::NotANumber { flag: flag.to_string(), value: quote(v), allowed }),
    }
}

pub(crate) fn weight(flag: &str, v: &str) -> Result<f32, PromptError> {
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

pub(crate) fn version(flag: &str, v: &str) -> Result<String, PromptError> {
    if is_code(v) {
        Ok(v.to_string())
    } else {
        Err(PromptError::BadVersion { flag: flag.to_string(), value: quote(v) })
    }
}

pub(crate) fn aspect(flag: &str, v: &str, max_aspect: f64) -> Result<Aspect, PromptError> {
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

/// Letters, digits, dots, dashes and underscores: how Midjourney writes versions and codes.
fn is_code(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `--style` with anything but `raw`: a style code or named style, passed on verbatim.
pub(crate) fn style_code(flag: &str, v: &str) -> Result<String, PromptError> {
    if is_code(v) {
        Ok(v.to_string())
    } else {
        Err(PromptError::BadStyle { flag: flag.to_string(), value: quote(v) })
    }
}

/// The URL of an image-link token, or `None` if the token is something else. Discord members
/// wrap links in `<…>` to stop embeds, so one pair of angle brackets is removed first.
pub(crate) fn image_url(token: &str) -> Option<&str> {
    let url = strip_angles(token);
    let has_scheme = |scheme: &str| {
        url.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme)) && url.len() > scheme.len()
    };
    (has_scheme("http://") || has_scheme("https://")).then_some(url)
}

fn strip_angles(token: &str) -> &str {
    token.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(token)
}

fn strip_all_angles(mut token: &str) -> &str {
    while let Some(inner) = token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        token = inner;
    }
    token
}

/// `--sref` items: image links, digit codes and `random`, each with an optional `::weight`.
pub(crate) fn style_refs(flag: &str, v: &str) -> Result<Vec<StyleRef>, PromptError> {
    let allowed = "image links (http:// or https://), style codes made of digits, or `random`, \
                   each optionally followed by a weight such as `::2`";
    v.split_whitespace()
        .map(|item| {
            let not_allowed = || PromptError::NotAllowed {
                flag: flag.to_string(),
                value: quote(item),
                allowed: allowed.to_string(),
            };
            // Angles may wrap the link alone (`<URL>::2`) or link and weight (`<URL::2>`).
            // All of them come off, so no link is left ending in what reads as a weight.
            let (base, weight) = split_weight(strip_all_angles(item));
            let weight = match weight {
                Some(w) => Some(ref_weight(w).ok_or_else(not_allowed)?),
                None => None,
            };
            let base = strip_all_angles(base);
            let source = if let Some(url) = image_url(base) {
                StyleSource::Url(url.to_string())
            } else if base.eq_ignore_ascii_case("random") {
                StyleSource::Random
            } else if !base.is_empty() && base.bytes().all(|b| b.is_ascii_digit()) {
                StyleSource::Code(base.to_string())
            } else {
                return Err(not_allowed());
            };
            Ok(StyleRef { source, weight })
        })
        .collect()
}

/// `item::2` → (`item`, `Some("2")`); a last `::` not followed by a number is part of the
/// item, so a link that merely contains `::` is still a link.
fn split_weight(item: &str) -> (&str, Option<&str>) {
    match item.rsplit_once("::") {
        Some((base, weight)) if looks_numeric(weight) => (base, Some(weight)),
        _ => (item, None),
    }
}

/// A reference's `::` weight: any finite number; `-0` is stored as the `0` it means, so it
/// renders as `0`.
fn ref_weight(w: &str) -> Option<f32> {
    let w = w.parse::<f32>().ok().filter(|w| w.is_finite())?;
    Some(if w == 0.0 { 0.0 } else { w })
}

/// `--cref` / `--oref` items: image links only (style codes are `--sref`'s alone).
pub(crate) fn image_urls(flag: &str, v: &str) -> Result<Vec<String>, PromptError> {
    v.split_whitespace()
        .map(|item| {
            image_url(item).map(str::to_string).ok_or_else(|| PromptError::NotAllowed {
                flag: flag.to_string(),
                value: quote(item),
                allowed: "image links starting with http:// or https://".to_string(),
            })
        })
        .collect()
}

/// `--p` codes: profile or moodboard codes, passed on verbatim.
pub(crate) fn codes(flag: &str, v: &str) -> Result<Vec<String>, PromptError> {
    v.split_whitespace()
        .map(|code| {
            if is_code(code) {
                Ok(code.to_string())
            } else {
                Err(PromptError::NotAllowed {
                    flag: flag.to_string(),
                    value: quote(code),
                    allowed: format!(
                        "profile or moodboard codes made of letters and digits, or `{flag}` alone for \
                         your default profile"
                    ),
                })
            }
        })
        .collect()
}
