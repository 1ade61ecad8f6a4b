//! Turning a successful answer into image bytes: base64 (with or without a `data:` prefix),
//! a check of each image (size cap, magic bytes, header) so that an HTML page or a truncated
//! string never reaches the grid as an "image", and picking the batch out of txt2img/img2img's `images`, which may
//! start with the server's own grid and end with extras that scripts append.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::errors::SERVICE;
use super::wire::{GenerateResponse, Info};
use crate::backends::{BackendError, http_util};

/// Cap on one decoded image (a 4× upscale of a 2048² image is about 60 MiB as PNG).
const MAX_IMAGE_BYTES: usize = 96 << 20;

/// The batch a txt2img or img2img call made, in order, with what `info` says about it.
pub(super) struct Batch {
    pub images: Vec<Bytes>,
    /// `None` when the server sent no readable `info`.
    pub info: Option<Info>,
}

/// Parses a generation answer and returns its first `count` batch images.
pub(super) fn batch(body: &[u8], what: &str, count: usize) -> Result<Batch, BackendError> {
    let response: GenerateResponse = SERVICE.parse_json(what, body, "an answer that is not an image list")?;
    let images = response.images.unwrap_or_default();
    let info = Info::parse(response.info.as_ref());
    // With batch_size > 1 and `return_grid`, images[0] is the server's grid of the batch and
    // `index_of_first_image` is 1. Without `info`, one image more than asked for is the grid.
    let first =
        info.as_ref().and_then(|i| i.index_of_first_image).unwrap_or(usize::from(images.len() == count + 1));
    if images.len() < first + count {
        return Err(SERVICE.bad_response(
            format!("{} image(s) instead of {count}", images.len().saturating_sub(first)),
            format!("{what}: {} images, the batch starting at {first}, {count} expected", images.len()),
        ));
    }
    let decoded = images[first..first + count]
        .iter()
        .enumerate()
        .map(|(i, text)| decode(text, &format!("{what}: images[{}]", first + i)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch { images: decoded, info })
}

/// Decodes one base64 image and checks that it is one; `what` locates it for the log.
pub(super) fn decode(text: &str, what: &str) -> Result<Bytes, BackendError> {
    let bytes = decode_base64(text)
        .map_err(|e| SERVICE.bad_response("an image that is not valid base64", format!("{what}: {e}")))?;
    http_util::check_image(SERVICE.name, what, &bytes, MAX_IMAGE_BYTES, None)?;
    Ok(bytes)
}

/// Standard base64, tolerating a `data:` URL prefix and line breaks.
fn decode_base64(text: &str) -> Result<Bytes, base64::DecodeError> {
    let text = text.trim();
    let payload = match text.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,")) {
        Some((_, payload)) => payload,
        None => text,
    };
    let compact: String = payload.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map(Bytes::from)
}

/// Plain base64 of an input image, as `init_images`, extras and interrogate take it.
pub(super) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn png(shade: u8) -> String {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([shade, 0, 0]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
        STANDARD.encode(out.into_inner())
    }

    #[test]
    fn the_grid_is_skipped_by_index_or_by_count() {
        let images: Vec<String> = (0..5).map(png).collect();
        let info = json!({"index_of_first_image": 1, "all_seeds": [1, 2, 3, 4]}).to_string();
        let body = json!({"images": images, "info": info}).to_string();
        let b = batch(body.as_bytes(), "x", 4).unwrap();
        assert_eq!(b.images[0], decode(&png(1), "x").unwrap());
        let body = json!({"images": images, "info": "not json"}).to_string();
        let b = batch(body.as_bytes(), "x", 4).unwrap();
        assert_eq!(b.images[0], decode(&png(1), "x").unwrap());
        assert!(b.info.is_none());
        // Extras appended by scripts (ControlNet's maps, for one) are left out.
        let six: Vec<String> = (0..6).map(png).collect();
        let body = json!({"images": six, "info": json!({"index_of_first_image": 0}).to_string()}).to_string();
        assert_eq!(batch(body.as_bytes(), "x", 4).unwrap().images[3], decode(&png(3), "x").unwrap());
        let body = json!({"images": [png(0)], "info": "{}"}).to_string();
        assert!(batch(body.as_bytes(), "x", 4).is_err());
    }

    #[test]
    fn base64_may_come_as_a_data_url_or_wrapped() {
        assert_eq!(&decode_base64("aGVsbG8=").unwrap()[..], b"hello");
        assert_eq!(&decode_base64("data:image/png;base64,aGVs\nbG8=").unwrap()[..], b"hello");
        assert!(decode("not base64!", "x").is_err());
        assert!(decode(&STANDARD.encode("<html>"), "x").is_err());
    }
}
