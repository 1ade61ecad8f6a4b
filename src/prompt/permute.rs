//! Permutation prompts: `a {red, blue} bird` becomes `a red bird` and `a blue bird`.
//!
//! Expansion works on the raw string, before any parsing, because braces may sit anywhere —
//! in the text, in a parameter value (`--ar {1:1, 2:3}`) or around a whole flag
//! (`{--tile, }`). Rules, chosen to match Midjourney where it has one:
//! - groups nest (`{a, {b, c}}` is three options) and several groups multiply, leftmost
//!   varying slowest;
//! - inside braces `\,` is a literal comma; outside braces a backslash is ordinary text;
//! - each option is trimmed, so `{ red , blue }` means `red` and `blue`;
//! - an empty option is allowed and means "leave it out": `a {, red} bird` gives `a bird` and
//!   `a red bird`; `{}` is a single empty option, so it simply disappears;
//! - identical results are kept, since a member may want the same prompt run twice.
//!
//! The number of results is computed before anything is built, so a prompt like
//! `{a,b}{a,b}…` is refused without allocating an exponential list.

use super::error::{PromptError, quote};

/// Deepest brace nesting accepted; it bounds the recursion below for any input.
pub(crate) const MAX_DEPTH: usize = 32;

enum Node {
    Lit(String),
    /// The options of one `{…}`, each a sequence of its own.
    Group(Vec<Vec<Node>>),
}

/// Expands every `{…}` group in `input`. Fails on unbalanced braces, nesting deeper than
/// [`MAX_DEPTH`], or more than `max_prompts` results (a limit below 1 counts as 1, so a
/// prompt without braces always passes).
pub(crate) fn expand(input: &str, max_prompts: usize) -> Result<Vec<String>, PromptError> {
    if !input.contains(['{', '}']) {
        return Ok(vec![input.to_string()]);
    }
    check_braces(input)?;
    let mut parser = Parser { s: input, pos: 0 };
    let nodes = parser.seq(0);
    let count = count_seq(&nodes);
    let limit = max_prompts.max(1);
    if count > limit as u64 {
        return Err(PromptError::TooManyPrompts { count, limit });
    }
    Ok(expand_seq(&nodes))
}

/// One pass over the input so the recursive parser only ever sees balanced, shallow braces.
fn check_braces(input: &str) -> Result<(), PromptError> {
    let mut open: Vec<usize> = Vec::new();
    for (index, c) in input.chars().enumerate() {
        match c {
            '{' => {
                open.push(index);
                if open.len() > MAX_DEPTH {
                    return Err(PromptError::NestedTooDeep { limit: MAX_DEPTH });
                }
            }
            '}' if open.pop().is_none() => {
                return Err(PromptError::UnopenedBrace { position: index + 1, near: near(input, index) });
            }
            _ => {}
        }
    }
    match open.last() {
        // The innermost unclosed brace is the one whose `}` is missing first.
        Some(&index) => Err(PromptError::UnclosedBrace { position: index + 1, near: near(input, index) }),
        None => Ok(()),
    }
}

/// A short excerpt around character `index`, so the member can find the brace in a long prompt.
fn near(input: &str, index: usize) -> String {
    const SIDE: usize = 12;
    let start = index.saturating_sub(SIDE);
    let total = input.chars().count();
    let end = (index + SIDE + 1).min(total);
    let excerpt: String = input
        .chars()
        .skip(start)
        .take(end - start)
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&quote(&excerpt));
    if end < total {
        out.push('…');
    }
    out
}

struct Parser<'a> {
    s: &'a str,
    /// Byte offset. Only ASCII bytes are ever matched, so every slice lands on a char boundary.
    pos: usize,
}

impl Parser<'_> {
    /// A sequence of literals and groups; inside a group (`depth > 0`) it stops at `,` or `}`.
    fn seq(&mut self, depth: usize) -> Vec<Node> {
        let bytes = self.s.as_bytes();
        let mut nodes = Vec::new();
        let mut lit = String::new();
        let mut start = self.pos;
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b'{' => {
                    lit.push_str(&self.s[start..self.pos]);
                    if !lit.is_empty() {
                        nodes.push(Node::Lit(std::mem::take(&mut lit)));
                    }
                    self.pos += 1;
                    nodes.push(Node::Group(self.group(depth + 1)));
                    start = self.pos;
                }
                b',' | b'}' if depth > 0 => break,
                b'\\' if depth > 0 && bytes.get(self.pos + 1) == Some(&b',') => {
                    lit.push_str(&self.s[start..self.pos]);
                    lit.push(',');
                    self.pos += 2;
                    start = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        lit.push_str(&self.s[start..self.pos]);
        if !lit.is_empty() {
            nodes.push(Node::Lit(lit));
        }
        nodes
    }

    /// The options of a group whose `{` was just consumed; consumes the closing `}`.
    fn group(&mut self, depth: usize) -> Vec<Vec<Node>> {
        let mut options = Vec::new();
        loop {
            options.push(self.seq(depth));
            match self.s.as_bytes().get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return options;
                }
                // Unreachable after `check_braces`; ending here keeps the parser total anyway.
                _ => return options,
            }
        }
    }
}

fn count_seq(nodes: &[Node]) -> u64 {
    nodes.iter().fold(1u64, |acc, node| match node {
        Node::Lit(_) => acc,
        Node::Group(options) => {
            acc.saturating_mul(options.iter().fold(0u64, |sum, option| sum.saturating_add(count_seq(option))))
        }
    })
}

fn expand_seq(nodes: &[Node]) -> Vec<String> {
    let mut acc = vec![String::new()];
    for node in nodes {
        match node {
            Node::Lit(text) => acc.iter_mut().for_each(|prefix| prefix.push_str(text)),
            Node::Group(options) => {
                let choices: Vec<String> = options
                    .iter()
                    .flat_map(|option| expand_seq(option))
                    .map(|choice| choice.trim().to_string())
                    .collect();
                // Prefix outer, choice inner: the leftmost group varies slowest.
                acc = acc
                    .iter()
                    .flat_map(|prefix| choices.iter().map(move |c| format!("{prefix}{c}")))
                    .collect();
            }
        }
    }
    acc
}
