//! Turning a successful Images API answer into image bytes: the JSON envelope, the count,
//! base64 or a download per image, and a check of each image (size cap, magic bytes, header)
//! so that a service's HTML error page never reaches the grid as an "image".

use super::client::{Api, MAX_IMAGE_BYTES};
use super::errors::{self, SERVICE};
use super::wire::{ErrorBody, ImageDatum, ImagesResponse};
use crate::backends::{BackendError, http_util};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

/// One image as the service returned it.
pub(super) struct Returned {
    pub bytes: Bytes,
    pub revised_prompt: Option<String>,
}

/// Parses `body` and fetches its images, which must number exactly `expected`.
pub(super) async fn collect(
    api: &Api,
    backend: &str,
    what: &str,
    body: &[u8],
    expected: usize,
) -> Result<Vec<Returned>, BackendError> {
    let response: ImagesResponse = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            // Some relays answer 200 with an error body; it deserves the error's own class.
            if ErrorBody::parse(body).is_some_and(|b| b.error.is_some()) {
                let refusal = http_util::Reply {
                    status: reqwest::StatusCode::BAD_REQUEST,
                    headers: Default::default(),
                    body: Bytes::copy_from_slice(body),
                    what: what.to_string(),
                };
                return Err(errors::from_status(backend, &refusal));
            }
            let mut err = SERVICE.unusable_json(what, body, "an answer that is not an image list");
            err.detail = format!("{}; {e}", err.detail);
            return Err(err);
        }
    };
    if response.data.len() != expected {
        return Err(SERVICE.bad_response(
            format!("{} image(s) instead of {expected}", response.data.len()),
            format!("{what}: asked for {expected} images, got {}", response.data.len()),
        ));
    }
    let fetches = response.data.into_iter().enumerate().map(|(i, datum)| fetch(api, what, i, datum));
    futures::future::try_join_all(fetches).await
}

async fn fetch(api: &Api, what: &str, index: usize, datum: ImageDatum) -> Result<Returned, BackendError> {
    let bytes = match (datum.b64_json.as_deref(), datum.url.as_deref()) {
        (Some(b64), _) if !b64.trim().is_empty() => {
            let bytes = decode_base64(b64).map_err(|e| {
                SERVICE.bad_response(
                    "an image that is not valid base64",
                    format!("{what}: data[{index}].b64_json: {e}"),
                )
            })?;
            let at = format!("{what}: data[{index}]");
            http_util::check_image(SERVICE.name, &at, &bytes, MAX_IMAGE_BYTES, None)?;
            bytes
        }
        // A download is checked as it is read.
        (_, Some(url)) if !url.trim().is_empty() => api.download(url).await?,
        _ => {
            return Err(SERVICE.bad_response(
                "an image entry with neither data nor a link",
                format!("{what}: data[{index}] has no b64_json or url"),
            ));
        }
    };
    Ok(Returned { bytes, revised_prompt: datum.revised_prompt.filter(|p| !p.trim().is_empty()) })
}

/// Decodes standard base64, tolerating a `data:` URL prefix and line breaks.
fn decode_base64(text: &str) -> Result<Bytes, base64::DecodeError> {
    let text = text.trim();
    let payload = match text.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,")) {
        Some((_, payload)) => payload,
        None => text,
    };
    let compact: String = payload.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_may_come_as_a_data_url_or_wrapped() {
        assert_eq!(&decode_base64("aGVsbG8=").unwrap()[..], b"hello");
        assert_eq!(&decode_base64("data:image/png;base64,aGVs\nbG8=").unwrap()[..], b"hello");
        assert!(decode_base64("not base64!").is_err());
    }
}
