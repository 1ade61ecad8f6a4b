//! Naming what is wrong with an answer Easel cannot use, so the admin reads a specific code
//! instead of one catch-all: a body cut off mid-JSON (`backend-malformed`), a web page or
//! other content where JSON or an image was expected (`wrong-content-type`), an image whose
//! data stops early or is damaged (`image-truncated`), and one over Easel's byte or pixel
//! caps (`image-too-large`). Well-formed JSON of the wrong shape stays `backend-bad-response`.
//!
//! What is retried: a cut-off body, a stray web page and a damaged image are what a flaky
//! proxy, a crashed worker or a CDN hiccup produce, and the next identical request usually
//! works (the same bargain as retrying a 502). An image over the caps will be as large next
//! time, and JSON of the wrong shape means the service speaks another dialect: both are final.

use std::fmt::Display;

use super::{excerpt, sentence_start};
use crate::backends::BackendError;
use crate::base::FailureCode;
use crate::imaging::{self, ImageError, MAX_DIMENSION};

/// What a body looks like, judged from its bytes (a declared `Content-Type` is often wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    /// Well-formed JSON (of whatever shape).
    Json,
    /// Starts like JSON but does not parse: cut off or garbled.
    BrokenJson,
    /// HTML or XML: an error page, a login page, a proxy's interstitial.
    WebPage,
    /// PNG, JPEG, WebP or GIF.
    Image,
    /// Anything else: plain text, another binary format.
    Other,
}

impl BodyKind {
    pub fn of(body: &[u8]) -> BodyKind {
        let body = without_bom(body);
        let start = body.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &body[i..]).unwrap_or(&[]);
        if start.is_empty() {
            BodyKind::Empty
        } else if imaging::sniff(body).is_ok() {
            BodyKind::Image
        } else if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            BodyKind::Json
        } else if start[0] == b'<' {
            BodyKind::WebPage
        } else if matches!(start[0], b'{' | b'[' | b'"') {
            BodyKind::BrokenJson
        } else {
            BodyKind::Other
        }
    }

    /// How a member reads it: "a web page", "an image"…
    fn described(self) -> &'static str {
        match self {
            BodyKind::Empty => "nothing",
            BodyKind::Json => "JSON data",
            BodyKind::BrokenJson => "broken JSON",
            BodyKind::WebPage => "a web page (HTML)",
            BodyKind::Image => "an image",
            BodyKind::Other => "something that is neither JSON nor an image",
        }
    }
}

/// A UTF-8 byte order mark is not JSON, but some Windows-hosted services send one.
fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(body)
}

/// A JSON answer (`expecting` completes "… sent a response Easel could not use: …") that
/// could not be read as one: classified by what the body actually is.
pub fn unusable_json(service: &str, what: &str, body: &[u8], expecting: impl Display) -> BackendError {
    let subject = sentence_start(service);
    let detail = format!("{what}: body: {}", excerpt(body, 300));
    match BodyKind::of(body) {
        BodyKind::Json => super::bad_response(service, expecting, detail),
        BodyKind::Empty => BackendError::retryable(
            FailureCode::BackendMalformed,
            format!("{subject} sent an empty answer."),
            detail,
        ),
        BodyKind::BrokenJson => BackendError::retryable(
            FailureCode::BackendMalformed,
            format!("{subject} sent an answer that was cut off or garbled (not valid JSON)."),
            detail,
        ),
        kind => BackendError::retryable(
            FailureCode::WrongContentType,
            format!("{subject} answered with {} where Easel expected JSON data.", kind.described()),
            detail,
        ),
    }
}

/// Parses a JSON answer, or says precisely why it could not be used.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    service: &str,
    what: &str,
    body: &[u8],
    expecting: impl Display,
) -> Result<T, BackendError> {
    serde_json::from_slice(without_bom(body)).map_err(|e| {
        let mut err = unusable_json(service, what, body, expecting);
        err.detail = format!("{}; {e}", err.detail);
        err
    })
}

/// An image over the byte cap.
pub fn image_too_large(service: &str, what: &str, bytes: Option<usize>, cap: usize) -> BackendError {
    let size = bytes.map(|b| format!("{b} bytes")).unwrap_or_else(|| format!("over {cap} bytes"));
    BackendError::fatal(
        FailureCode::ImageTooLarge,
        format!("{} sent an image larger than Easel accepts ({} MiB).", sentence_start(service), cap >> 20),
        format!("{what}: {size}, cap {cap}"),
    )
}

/// Something that should have been an image and is not: `declared` is the `Content-Type`
/// the sender claimed, when there was one.
pub fn not_an_image(service: &str, what: &str, bytes: &[u8], declared: Option<&str>) -> BackendError {
    let kind = BodyKind::of(bytes);
    let found = match kind {
        // Sniffing failed, so "an image" here is a format Easel does not read (BMP, TIFF…).
        BodyKind::Image | BodyKind::Other if declared.is_some_and(|d| d.starts_with("image/")) => {
            "an image in a format Easel does not read"
        }
        other => other.described(),
    };
    let declared = declared.map(|d| format!(" (declared `{d}`)")).unwrap_or_default();
    BackendError::retryable(
        FailureCode::WrongContentType,
        format!(
            "{} sent {found} where Easel expected a PNG, JPEG, WebP or GIF image.",
            sentence_start(service)
        ),
        format!("{what}{declared}: starts with {}", excerpt(&bytes[..bytes.len().min(64)], 64)),
    )
}

/// An image the decoder refused, as the failure the member and the admin should see.
pub fn image_error(service: &str, what: &str, err: &ImageError) -> BackendError {
    let subject = sentence_start(service);
    let detail = format!("{what}: {err:?}");
    match err {
        ImageError::TooLarge { width, height } | ImageError::TooMuchMemory { width, height } => {
            BackendError::fatal(
                FailureCode::ImageTooLarge,
                format!(
                    "{subject} sent a {width}×{height} image, larger than Easel can handle (at most \
                     {MAX_DIMENSION}×{MAX_DIMENSION})."
                ),
                detail,
            )
        }
        ImageError::Corrupt(_) => BackendError::retryable(
            FailureCode::ImageTruncated,
            format!("{subject} sent an image that is cut off or damaged."),
            detail,
        ),
        ImageError::UnsupportedFormat => BackendError::retryable(
            FailureCode::WrongContentType,
            format!("{subject} sent something that is not a PNG, JPEG, WebP or GIF image."),
            detail,
        ),
        ImageError::Unsupported(_) => super::bad_response(service, "an image Easel cannot decode", detail),
        ImageError::Encode(_) => BackendError::fatal(
            FailureCode::Internal,
            "Easel couldn't prepare the image for Discord. Please try again.",
            detail,
        ),
    }
}

/// Checks image bytes a service returned, header only (cheap enough for the async side):
/// within `cap` bytes, really an image, a readable header and dimensions within the limit.
/// A body cut off after the header is caught when the engine decodes it.
pub fn check_image(
    service: &str,
    what: &str,
    bytes: &[u8],
    cap: usize,
    declared: Option<&str>,
) -> Result<(), BackendError> {
    if bytes.len() > cap {
        return Err(image_too_large(service, what, Some(bytes.len()), cap));
    }
    if imaging::sniff(bytes).is_err() {
        return Err(not_an_image(service, what, bytes, declared));
    }
    let (_, width, height) = imaging::probe(bytes).map_err(|e| image_error(service, what, &e))?;
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(image_error(service, what, &ImageError::TooLarge { width, height }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        imaging::encode_png(&image::RgbImage::new(w, h)).unwrap()
    }

    #[test]
    fn bodies_are_told_apart_by_their_bytes() {
        assert_eq!(BodyKind::of(b"  \n"), BodyKind::Empty);
        assert_eq!(BodyKind::of(br#"{"data": []}"#), BodyKind::Json);
        assert_eq!(BodyKind::of(b"\xEF\xBB\xBF[1]"), BodyKind::Json);
        assert_eq!(BodyKind::of(br#"{"created": 1, "data": [{"b64_js"#), BodyKind::BrokenJson);
        assert_eq!(BodyKind::of(b"<!DOCTYPE html><html>"), BodyKind::WebPage);
        assert_eq!(BodyKind::of(&png(2, 2)), BodyKind::Image);
        assert_eq!(BodyKind::of(b"Internal Server Error"), BodyKind::Other);
    }

    #[test]
    fn each_unusable_json_answer_gets_its_own_code() {
        let code = |body: &[u8]| {
            let e = unusable_json("the image service", "POST x", body, "an image list");
            (e.code, e.retryable)
        };
        assert_eq!(code(br#"{"data": 5}"#), (FailureCode::BackendBadResponse, false));
        assert_eq!(code(br#"{"data": [{"#), (FailureCode::BackendMalformed, true));
        assert_eq!(code(b""), (FailureCode::BackendMalformed, true));
        assert_eq!(code(b"<html>Bad gateway</html>"), (FailureCode::WrongContentType, true));
        let e = unusable_json("ImagineAPI", "GET x", b"<html>", "an item");
        assert_eq!(
            e.user_message,
            "ImagineAPI answered with a web page (HTML) where Easel expected JSON data."
        );
    }

    #[test]
    fn images_are_checked_for_size_type_and_header() {
        let check =
            |bytes: &[u8], cap| check_image("ImagineAPI", "GET x", bytes, cap, None).map_err(|e| e.code);
        assert_eq!(check(&png(4, 4), 1 << 20), Ok(()));
        assert_eq!(check(&png(4, 4), 10), Err(FailureCode::ImageTooLarge));
        assert_eq!(check(b"<html>oops</html>", 1 << 20), Err(FailureCode::WrongContentType));
        assert_eq!(check(&png(4, 4)[..20], 1 << 20), Err(FailureCode::ImageTruncated));
        let e = check_image("ImagineAPI", "GET x", b"BM....", 100, Some("image/bmp")).unwrap_err();
        assert!(e.user_message.contains("a format Easel does not read"), "{}", e.user_message);
    }

    #[test]
    fn decoder_errors_map_to_codes() {
        let code = |e: ImageError| image_error("s", "w", &e).code;
        assert_eq!(code(ImageError::TooLarge { width: 9000, height: 10 }), FailureCode::ImageTooLarge);
        assert_eq!(code(ImageError::Corrupt("eof".into())), FailureCode::ImageTruncated);
        assert_eq!(code(ImageError::UnsupportedFormat), FailureCode::WrongContentType);
    }
}
