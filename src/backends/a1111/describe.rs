//! /describe from one interrogator caption. `/sdapi/v1/interrogate` answers with a single
//! line: for `clip`, a BLIP sentence about the subject followed by CLIP-ranked style tags
//! (`a fox sitting in the snow, Aaron Douglas, trending on artstation, a digital painting,
//! digital art`); for `deepdanbooru`, comma-separated tags. The line is split at its commas
//! (tags trimmed, repeats dropped) into a subject — the first phrase — and its style tags, and
//! four prompts are made from it, broadest first:
//!
//! 1. the caption as the server wrote it: subject and every tag;
//! 2. the subject alone, a short prompt that leaves the style to the model;
//! 3. the subject with the first half of the tags;
//! 4. the subject with the other half.
//!
//! Prompts that come out the same (a caption with fewer than two tags) are given once, so a
//! bare caption gives one or two prompts rather than four copies. The text is kept as written:
//! weights such as `(fox:1.1)` and escaped brackets are valid prompt syntax for the same server.

/// Up to four distinct prompts from `caption`; empty when it holds no words.
pub(crate) fn prompts(caption: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in caption.split(',') {
        let part = part.split_whitespace().collect::<Vec<_>>().join(" ");
        if !part.is_empty() && !parts.iter().any(|p| p.eq_ignore_ascii_case(&part)) {
            parts.push(part);
        }
    }
    let Some((subject, tags)) = parts.split_first() else { return Vec::new() };
    let half = tags.len().div_ceil(2);
    let with = |tags: &[String]| {
        std::iter::once(subject).chain(tags).map(String::as_str).collect::<Vec<_>>().join(", ")
    };
    let mut out: Vec<String> = Vec::new();
    for prompt in [with(tags), subject.clone(), with(&tags[..half]), with(&tags[half..])] {
        if !out.contains(&prompt) {
            out.push(prompt);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_caption_gives_four_prompts() {
        let caption = "a fox sitting in the snow, Aaron Douglas, trending on artstation, a digital painting, \
                       digital art";
        assert_eq!(
            prompts(caption),
            [
                "a fox sitting in the snow, Aaron Douglas, trending on artstation, a digital painting, digital art",
                "a fox sitting in the snow",
                "a fox sitting in the snow, Aaron Douglas, trending on artstation",
                "a fox sitting in the snow, a digital painting, digital art",
            ]
        );
    }

    #[test]
    fn odd_tag_counts_put_the_extra_tag_in_the_first_half() {
        assert_eq!(prompts("cat, a, b, c"), ["cat, a, b, c", "cat", "cat, a, b", "cat, c"]);
        assert_eq!(prompts("cat, a, b"), ["cat, a, b", "cat", "cat, a", "cat, b"]);
    }

    #[test]
    fn short_captions_give_fewer_prompts_and_repeats_are_dropped() {
        assert_eq!(prompts("a cat on a mat"), ["a cat on a mat"]);
        assert_eq!(prompts("a cat, oil painting"), ["a cat, oil painting", "a cat"]);
        assert_eq!(prompts(" a  cat ,, Oil painting, oil painting ,"), ["a cat, Oil painting", "a cat"]);
        assert!(prompts(" , ,").is_empty());
        assert_eq!(prompts("1girl, solo, (smile:1.1)")[0], "1girl, solo, (smile:1.1)");
    }
}
