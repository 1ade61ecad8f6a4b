//! /describe through a vision chat model at `/chat/completions`: the question Easel asks, and
//! reading four prompts out of whatever the model answers (a JSON array, one wrapped in a
//! code fence or in an object, or a numbered list).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::wire::{ChatMessage, ChatRequest, ContentPart, ImageUrl};
use crate::backends::SourceImage;

pub(super) const PROMPTS: usize = 4;

const INSTRUCTION: &str = "You write prompts for a text-to-image model. Look at this image and write exactly four \
     different prompts that could have produced it. Each prompt is a single line of comma-separated descriptive \
     phrases covering the subject, setting, medium, style, lighting and colour palette, at most 60 words, with no \
     command-line parameters. Answer with only a JSON array of four strings and nothing else.";

pub(super) fn request<'a>(model: &'a str, image: &SourceImage) -> ChatRequest<'a> {
    let data_url = format!("data:{};base64,{}", image.mime, STANDARD.encode(&image.bytes));
    ChatRequest {
        model,
        messages: vec![ChatMessage {
            role: "user",
            content: vec![
                ContentPart::Text { text: INSTRUCTION },
                ContentPart::ImageUrl { image_url: ImageUrl { url: data_url } },
            ],
        }],
    }
}

/// Up to four prompts from the model's answer; empty when none can be found.
pub(super) fn parse_prompts(answer: &str) -> Vec<String> {
    let answer = answer.trim();
    let json = [Some(answer), fenced(answer), bracketed(answer)]
        .into_iter()
        .flatten()
        .filter_map(|candidate| serde_json::from_str::<Value>(candidate).ok())
        .find_map(|v| strings_in(&v).filter(|list| !list.is_empty()));
    let prompts = json.unwrap_or_else(|| numbered_lines(answer));
    prompts.into_iter().map(|p| clean(&p)).filter(|p| !p.is_empty()).take(PROMPTS).collect()
}

/// The inside of the first ``` fence, language tag dropped.
fn fenced(text: &str) -> Option<&str> {
    let after = &text[text.find("```")? + 3..];
    let body = &after[after.find('\n')? + 1..];
    Some(body[..body.find("```").unwrap_or(body.len())].trim())
}

fn bracketed(text: &str) -> Option<&str> {
    let (start, end) = (text.find('[')?, text.rfind(']')?);
    (start < end).then(|| &text[start..=end])
}

/// `["a", …]`, `[{"prompt": "a"}, …]`, or an object holding such a list (`{"prompts": […]}`).
fn strings_in(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => {
            let list: Vec<String> = items
                .iter()
                .filter_map(|item| match item {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => ["prompt", "text", "description"]
                        .iter()
                        .find_map(|k| o.get(*k)?.as_str().map(String::from)),
                    _ => None,
                })
                .collect();
            Some(list)
        }
        Value::Object(fields) => fields.values().find_map(|v| strings_in(v).filter(|l| !l.is_empty())),
        _ => None,
    }
}

/// Lines that start like list items: `1.`, `2)`, `3:`, `Prompt 4:`, `-`, `*`, `•`.
fn numbered_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("**").trim_start();
            let lower = line.to_ascii_lowercase();
            let line = if lower.starts_with("prompt") { line["prompt".len()..].trim_start() } else { line };
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            let rest = if digits > 0 {
                line[digits..].strip_prefix(['.', ')', ':'])?
            } else {
                line.strip_prefix(['-', '*', '•'])?
            };
            Some(rest.trim_start_matches("**").trim().to_string())
        })
        .collect()
}

fn clean(prompt: &str) -> String {
    let p = prompt.trim().trim_end_matches(',').trim();
    let p = p.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(p);
    p.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUR: [&str; 4] = ["a red fox", "a fox in snow", "watercolour fox", "fox, golden hour"];

    #[test]
    fn a_plain_json_array_is_read() {
        let answer = serde_json::to_string(&FOUR).unwrap();
        assert_eq!(parse_prompts(&answer), FOUR);
    }

    #[test]
    fn a_fenced_or_wrapped_array_is_read() {
        let fenced = format!("Here you go:\n```json\n{}\n```\nEnjoy!", serde_json::to_string(&FOUR).unwrap());
        assert_eq!(parse_prompts(&fenced), FOUR);
        let object = serde_json::json!({"prompts": FOUR}).to_string();
        assert_eq!(parse_prompts(&object), FOUR);
        let prose = format!("Sure! {} Hope that helps.", serde_json::to_string(&FOUR).unwrap());
        assert_eq!(parse_prompts(&prose), FOUR);
        let objects = r#"[{"prompt":"a red fox"},{"prompt":"a fox in snow"}]"#;
        assert_eq!(parse_prompts(objects), ["a red fox", "a fox in snow"]);
    }

    #[test]
    fn numbered_lines_are_read_when_there_is_no_json() {
        let answer = "Here are four prompts:\n1. a red fox\n2) a fox in snow\n**3.** \"watercolour fox\"\nPrompt 4: fox, golden hour\n";
        assert_eq!(parse_prompts(answer), FOUR);
        assert_eq!(parse_prompts("- one\n- two"), ["one", "two"]);
    }

    #[test]
    fn extra_prompts_are_dropped_and_nonsense_yields_none() {
        let six = serde_json::to_string(&["1", "2", "3", "4", "5", "6"]).unwrap();
        assert_eq!(parse_prompts(&six).len(), 4);
        assert!(parse_prompts("I cannot help with that.").is_empty());
        assert!(parse_prompts("").is_empty());
    }
}
