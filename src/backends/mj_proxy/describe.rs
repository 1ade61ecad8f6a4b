//! Reading /describe's answer. Midjourney writes its four prompts as one message numbered
//! with keycap emojis (`1️⃣ … 2️⃣ … 3️⃣ … 4️⃣ …`); the proxies pass that text through in
//! `properties.finalPrompt` (trueai also in `promptEn`/`prompt`). Keycaps are matched with
//! and without the variation selector U+FE0F, since clients and proxies drop it.

use super::wire::Task;

const PROMPTS: usize = 4;

/// Up to four prompts from a finished describe task; empty when none can be found.
pub(super) fn prompts(task: &Task) -> Vec<String> {
    let candidates: Vec<String> = ["finalPrompt", "promptEn", "prompt"]
        .iter()
        .filter_map(|key| task.property_str(key))
        .chain(task.prompt_en.clone())
        .chain(task.prompt.clone())
        .collect();
    // Prefer the text that is numbered; fall back to paragraphs of the first text there is.
    candidates
        .iter()
        .map(|text| split_keycaps(text))
        .find(|list| !list.is_empty())
        .or_else(|| candidates.first().map(|text| paragraphs(text)))
        .unwrap_or_default()
}

/// Up to four prompts from one text (ohmygpt's describe answers with one): the
/// keycap-numbered ones, else its paragraphs.
pub(crate) fn split_prompts(text: &str) -> Vec<String> {
    let numbered = split_keycaps(text);
    if numbered.is_empty() { paragraphs(text) } else { numbered }
}

/// The text after each keycap 1️⃣–4️⃣, up to the next one.
fn split_keycaps(text: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // (where the keycap starts, where its prompt starts)
    let mut marks = Vec::new();
    for (i, &(at, c)) in chars.iter().enumerate() {
        if !('1'..='4').contains(&c) {
            continue;
        }
        let mut j = i + 1;
        if chars.get(j).map(|&(_, c)| c) == Some('\u{FE0F}') {
            j += 1;
        }
        if chars.get(j).map(|&(_, c)| c) == Some('\u{20E3}') {
            let after = chars.get(j + 1).map_or(text.len(), |&(pos, _)| pos);
            marks.push((at, after));
        }
    }
    marks
        .iter()
        .enumerate()
        .map(|(n, &(_, start))| {
            let end = marks.get(n + 1).map_or(text.len(), |&(next, _)| next);
            clean(&text[start..end])
        })
        .filter(|p| !p.is_empty())
        .take(PROMPTS)
        .collect()
}

/// Blank-line separated paragraphs, for a proxy that strips the keycaps.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n").map(clean).filter(|p| !p.is_empty()).take(PROMPTS).collect()
}

fn clean(prompt: &str) -> String {
    prompt.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(value: serde_json::Value) -> Task {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn keycaps_split_the_four_prompts() {
        let text = concat!(
            "1️⃣ a red fox in snow --ar 5:4\n\n",
            "2️⃣ watercolour fox,\nsoft light --ar 5:4\n\n",
            "3️⃣ fox at dusk --ar 5:4\n\n",
            "4️⃣ minimal fox logo --ar 5:4"
        );
        let t = task(json!({"status": "SUCCESS", "properties": {"finalPrompt": text}}));
        assert_eq!(
            prompts(&t),
            [
                "a red fox in snow --ar 5:4",
                "watercolour fox, soft light --ar 5:4",
                "fox at dusk --ar 5:4",
                "minimal fox logo --ar 5:4"
            ]
        );
    }

    #[test]
    fn keycaps_without_the_selector_and_other_fields_work() {
        let text = "1\u{20E3} one 2\u{20E3} two with 3 cats";
        let t = task(json!({"properties": {"finalPrompt": "", "prompt": text}}));
        assert_eq!(prompts(&t), ["one", "two with 3 cats"]);
        let t = task(json!({"promptEn": "1️⃣ a\n2️⃣ b", "prompt": "ignored"}));
        assert_eq!(prompts(&t), ["a", "b"]);
    }

    #[test]
    fn unnumbered_text_falls_back_to_paragraphs() {
        let t = task(json!({"properties": {"finalPrompt": "first prompt\n\nsecond prompt"}}));
        assert_eq!(prompts(&t), ["first prompt", "second prompt"]);
        assert!(prompts(&task(json!({}))).is_empty());
    }
}
