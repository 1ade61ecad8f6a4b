//! The one error type of the imaging module, and its translation from `image`'s errors.
//!
//! `Display` is what a Discord member reads, so it names no library and no byte offset;
//! the library's own message is kept in the variant for logs ([`ImageError::detail`]).

use super::MAX_DIMENSION;

/// Why an image could not be read or written. `Display` is member-facing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The bytes are not PNG, JPEG, WebP or GIF (sniffed, not taken from a content type).
    #[error("That file isn't an image Easel can read. Please send a PNG, JPEG, WebP or GIF.")]
    UnsupportedFormat,
    /// Width or height over [`MAX_DIMENSION`], known from the header alone.
    #[error(
        "The image is {width}×{height}; the largest Easel accepts is {max}×{max}.",
        max = MAX_DIMENSION
    )]
    TooLarge { width: u32, height: u32 },
    /// Within the size limit, but its pixel format (e.g. 16-bit RGBA) would need more than
    /// [`super::MAX_ALLOC`] to decode.
    #[error(
        "The image is {width}×{height} with a colour depth that needs more memory than Easel \
         allows. Please send an 8-bit PNG or a JPEG, or a smaller image."
    )]
    TooMuchMemory { width: u32, height: u32 },
    /// A supported format using a feature the decoder lacks (e.g. an exotic JPEG process).
    #[error("This image uses a feature Easel can't decode. Please re-save it as a plain PNG or JPEG.")]
    Unsupported(String),
    /// Truncated or malformed data.
    #[error("The image couldn't be read; the file may be damaged or incomplete.")]
    Corrupt(String),
    /// Encoding a result failed (a bug or resource problem on our side, not the member's).
    #[error("Easel couldn't prepare the image for Discord. Please try again.")]
    Encode(String),
}

impl ImageError {
    /// The library's message behind the member-facing text, for logs.
    pub fn detail(&self) -> Option<&str> {
        match self {
            ImageError::Unsupported(d) | ImageError::Corrupt(d) | ImageError::Encode(d) => Some(d),
            _ => None,
        }
    }

    /// Translates an `image` decoding error for an image whose header said `width`×`height`.
    pub(super) fn from_decoding(err: image::ImageError, width: u32, height: u32) -> Self {
        use image::error::LimitErrorKind;
        match err {
            image::ImageError::Limits(l) => match l.kind() {
                LimitErrorKind::DimensionError => ImageError::TooLarge { width, height },
                _ => ImageError::TooMuchMemory { width, height },
            },
            image::ImageError::Unsupported(e) => ImageError::Unsupported(e.to_string()),
            other => ImageError::Corrupt(other.to_string()),
        }
    }

    /// Translates an error raised while reading the header, before dimensions are known.
    pub(super) fn from_header(err: image::ImageError) -> Self {
        match err {
            image::ImageError::Unsupported(e) => ImageError::Unsupported(e.to_string()),
            // Limits cannot trip here: no dimension limit is set for the header read, and a
            // header that needs more than MAX_ALLOC of metadata is as good as corrupt.
            other => ImageError::Corrupt(other.to_string()),
        }
    }
}
