//! Reference images as inputs: Midjourney's `--sref`, `--cref`, `--oref` and the leading image
//! prompt (the `/imagine` `style:` and `image:` attachments become these) reach a backend that
//! can take images as the pictures themselves, fetched by the adapter through its own client
//! (public addresses, or the backend's `image_hosts`). Which references a backend uses is its
//! [`Capabilities`]: the kinds in `params`, at most `max_reference_images` of them in
//! [`PromptSpec::reference_urls`] order; the rest are named to the member as ignored.

use bytes::Bytes;

use super::{BackendError, Capabilities, SourceImage};
use crate::base::FailureCode;
use crate::imaging;
use crate::prompt::{Param, PromptSpec};

/// The parameters that name reference images.
pub const PARAMS: [Param; 4] = [Param::ImagePrompt, Param::StyleRef, Param::CharacterRef, Param::OmniRef];

/// One reference, fetched.
#[derive(Debug, Clone)]
pub struct Reference {
    pub param: Param,
    pub url: String,
    pub image: SourceImage,
}

impl Capabilities {
    /// The references of `spec` this backend takes as images: kinds it lists in `params`, the
    /// first `max_reference_images` of them. Empty for a backend that takes none.
    pub fn usable_references<'a>(&self, spec: &'a PromptSpec) -> Vec<(Param, &'a str)> {
        if self.max_reference_images == 0 {
            return Vec::new();
        }
        let mut refs: Vec<(Param, &str)> =
            spec.reference_urls().into_iter().filter(|(p, _)| self.params.contains(p)).collect();
        refs.truncate(self.max_reference_images as usize);
        refs
    }

    /// For a backend that takes reference images: the reference parameters of `spec` none of
    /// whose images it uses (a style code, or a reference past its limit).
    pub(super) fn unused_references(&self, spec: &PromptSpec) -> Vec<Param> {
        if self.max_reference_images == 0 {
            return Vec::new();
        }
        let used: Vec<Param> = self.usable_references(spec).into_iter().map(|(p, _)| p).collect();
        spec.present_params()
            .into_iter()
            .filter(|p| PARAMS.contains(p) && self.params.contains(p) && !used.contains(p))
            .collect()
    }
}

/// Fetches each reference with `download` and checks it is an image. A link that fails is
/// the member's to fix, so the message names the parameter and the link.
pub async fn fetch<F, Fut>(refs: &[(Param, &str)], download: F) -> Result<Vec<Reference>, BackendError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Bytes, BackendError>>,
{
    let mut out = Vec::with_capacity(refs.len());
    for &(param, url) in refs {
        let unusable = |detail: String| {
            BackendError::fatal(
                FailureCode::BadImage,
                format!(
                    "The {} image {url} could not be used: fix the link, or attach the image to /imagine instead.",
                    param.flag()
                ),
                detail,
            )
        };
        let bytes = download(url.to_string()).await.map_err(|e| {
            let retryable = e.retryable;
            BackendError { retryable, ..unusable(e.detail) }
        })?;
        let (format, width, height) = imaging::probe(&bytes).map_err(|e| unusable(format!("{url}: {e}")))?;
        out.push(Reference {
            param,
            url: url.to_string(),
            image: SourceImage { bytes, mime: format.mime(), width, height },
        });
    }
    Ok(out)
}

/// How a prompt-only service is told what each image is for, after the prompt.
pub fn roles(refs: &[Reference]) -> String {
    let role = |p: Param| match p {
        Param::StyleRef => "a style reference: take its style, colours and mood, not its subject",
        Param::CharacterRef => "a character reference: keep this character's face, hair and clothes",
        Param::OmniRef => "an object or character to put in the picture as it is",
        _ => "an image prompt: take its composition and subject as the starting point",
    };
    refs.iter()
        .enumerate()
        .map(|(i, r)| format!("Image {} is {}.", i + 1, role(r.param)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::{PromptLimits, parse};

    fn spec(text: &str) -> PromptSpec {
        parse(text, &PromptLimits::default()).unwrap().remove(0)
    }

    fn caps(max: u32) -> Capabilities {
        let mut params = PARAMS.to_vec();
        params.push(Param::Aspect);
        Capabilities { params, max_reference_images: max, ..Capabilities::default() }
    }

    #[test]
    fn references_past_the_limit_and_style_codes_are_ignored() {
        let s = spec("a cat --sref https://a.example/s.png 123 --cref https://a.example/c.png --cw 50");
        assert_eq!(caps(1).usable_references(&s), [(Param::StyleRef, "https://a.example/s.png")]);
        assert_eq!(caps(1).ignored_params(&s), [Param::CharacterRef, Param::CharacterWeight]);
        assert_eq!(caps(4).ignored_params(&s), [Param::CharacterWeight]);
        let code = spec("a cat --sref 123");
        assert_eq!(caps(4).ignored_params(&code), [Param::StyleRef], "a style code is no image");
        // A backend that takes no images keeps today's rule: its `params` alone.
        let mj = Capabilities { params: Param::ALL.to_vec(), ..Capabilities::default() };
        assert!(mj.ignored_params(&code).is_empty() && mj.usable_references(&s).is_empty());
    }

    #[test]
    fn roles_name_each_image() {
        let image = SourceImage { bytes: Bytes::new(), mime: "image/png", width: 1, height: 1 };
        let r = |param| Reference { param, url: String::new(), image: image.clone() };
        let said = roles(&[r(Param::StyleRef), r(Param::CharacterRef)]);
        assert!(
            said.starts_with("Image 1 is a style reference") && said.contains("Image 2 is a character"),
            "{said}"
        );
    }
}
