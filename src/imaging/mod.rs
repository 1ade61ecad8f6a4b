//! Pixel work for Easel: sniffing and decoding untrusted images with limits, composing the
//! 2×2 preview grid, cropping a backend-made grid into quadrants, resizing, and encoding
//! results small enough for Discord, and the canvases and masks of the edits after U.
//!
//! Every function here is synchronous and CPU-bound (a 2048² grid costs tens of
//! milliseconds), so async callers must run them in `tokio::task::spawn_blocking`, never on
//! a runtime worker. [`grid_from_encoded`] and [`decode4`] use a second thread of their own
//! (`std::thread::scope`) so one call keeps both cores of the bot's machine busy.
//!
//! Decisions that callers can observe:
//! - Everything is decoded to 8-bit RGB ([`image::RgbImage`]). Transparency is composited
//!   onto **white** rather than dropped: transparent pixels usually carry black or garbage
//!   RGB, and a logo on white is what a member expects to see in a grid or send to a model.
//! - The format is sniffed from the bytes; a declared content type or file name is never
//!   trusted. Only PNG, JPEG, WebP and GIF are accepted. Animated GIF/WebP/APNG → first frame.
//!   An EXIF orientation is applied, so phone photos come out upright.
//! - Dimensions are checked from the header before any pixel buffer is allocated
//!   ([`MAX_DIMENSION`] per side), and the decoder's allocations are capped at [`MAX_ALLOC`].
//! - Every decode waits for room in one process-wide [`DecodeBudget`] (queued, never
//!   refused), with a per-member share set by [`on_behalf_of`]; what a decode keeps afterwards
//!   (a grid's tiles, at most 4096² each) is outside it.
//! - Callers that need fewer pixels than the file has decode to that size
//!   ([`decode_fitted`], [`decode_resized`]): JPEG is scaled inside libjpeg; other formats
//!   are decoded in full and shrunk at once.
//! - Grids are JPEG (mozjpeg with libjpeg-turbo's fastest settings, 4:2:0): a lossless grid
//!   of four noisy 1024×1792 tiles does not fit in Discord's 10 MiB.
//! - [`ImageError`]'s `Display` is written for a Discord member; the technical detail is in
//!   [`ImageError::detail`] (and `Debug`) for logs.

mod address;
mod budget;
pub mod canvas;
mod decode;
pub mod download;
mod edit;
mod encode;
mod error;
mod grid;
mod reduced;
pub mod region;
mod resize;

#[cfg(test)]
mod tests;

pub use budget::{DEFAULT_DECODE_BUDGET, DecodeBudget, DecodePermit, on_behalf_of};
pub use decode::{decode, probe, sniff};
pub use download::{DownloadError, DownloadOptions, Downloaded, Downloader};
pub use edit::EditPlan;
pub use encode::{encode_jpeg, encode_png, single_for_discord};
pub use error::ImageError;
pub use grid::{Grid, compose_grid, crop_grid, decode4, grid_from_encoded, split_grid};
pub use reduced::{decode_fitted, decode_resized};
pub use resize::{fit_within, resize};

/// Largest accepted width and height, checked from the header before decoding.
pub const MAX_DIMENSION: u32 = 8192;
/// Cap on what a decoder may allocate for one image (an 8192² RGB8 image needs 192 MiB).
pub const MAX_ALLOC: u64 = 256 << 20;
/// Discord's per-file upload limit for bots.
pub const DISCORD_FILE_LIMIT: usize = 10 * 1024 * 1024;

/// The image formats Easel reads. Anything else is refused by [`sniff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl Format {
    /// MIME type for an upload's `Content-Type`.
    pub fn mime(&self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
        }
    }

    /// File extension (no dot) for an attachment name; Discord picks its viewer from it.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
            Format::Gif => "gif",
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Png => image::ImageFormat::Png,
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Webp => image::ImageFormat::WebP,
            Format::Gif => image::ImageFormat::Gif,
        }
    }
}
