//! The prompt filter: banned words as regular expressions, matched without case, and an
//! allow-list for the false positives a word list always has ("scunthorpe", "nudibranch").
//! Pure: compiled once from the config, then asked about each prompt.

use regex::{Regex, RegexBuilder};

/// How large one compiled pattern may grow (the `regex` crate's own limits keep matching
/// linear in the prompt's length; this keeps a silly pattern from taking memory).
const SIZE_LIMIT: usize = 1 << 20;

/// What tripped the filter: the text as the member wrote it, and the pattern it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tripped {
    pub word: String,
    pub pattern: String,
}

#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    banned: Vec<Regex>,
    allowed: Vec<Regex>,
}

/// Compiles one pattern the way the filter uses it: case-insensitive, with size limits.
/// Refuses a pattern that matches an empty prompt, which would refuse everything.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let re = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| format!("`{pattern}` is not a valid regular expression: {e}"))?;
    if re.is_match("") {
        return Err(format!(
            "`{pattern}` matches an empty prompt, so it would refuse every prompt: make it match at \
             least one character"
        ));
    }
    Ok(re)
}

impl WordFilter {
    /// Builds the filter, or says which entry is wrong as (`banned_words[2]`, why).
    pub fn new(banned: &[String], allowed: &[String]) -> Result<WordFilter, (String, String)> {
        let build = |list: &[String], key: &str| {
            list.iter()
                .enumerate()
                .map(|(i, p)| compile(p).map_err(|e| (format!("{key}[{i}]"), e)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(WordFilter { banned: build(banned, "banned_words")?, allowed: build(allowed, "allowed_words")? })
    }

    /// The first banned match in `text` that no allowed match covers, if any.
    pub fn check(&self, text: &str) -> Option<Tripped> {
        if self.banned.is_empty() {
            return None;
        }
        let excused: Vec<(usize, usize)> =
            self.allowed.iter().flat_map(|re| re.find_iter(text).map(|m| (m.start(), m.end()))).collect();
        self.banned
            .iter()
            .flat_map(|re| re.find_iter(text).map(move |m| (m, re)))
            .filter(|(m, _)| !m.is_empty())
            .filter(|(m, _)| !excused.iter().any(|(s, e)| *s <= m.start() && m.end() <= *e))
            .min_by_key(|(m, _)| m.start())
            .map(|(m, re)| Tripped { word: m.as_str().to_string(), pattern: re.as_str().to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(banned: &[&str], allowed: &[&str]) -> WordFilter {
        let s = |l: &[&str]| l.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        WordFilter::new(&s(banned), &s(allowed)).unwrap()
    }

    #[test]
    fn names_the_word_as_written_and_ignores_case() {
        let f = filter(&[r"\bgore\b", "nud(e|ity)"], &[]);
        let t = f.check("a portrait, GORE everywhere").unwrap();
        assert_eq!(t.word, "GORE");
        assert_eq!(t.pattern, r"\bgore\b");
        assert_eq!(f.check("Nudity and gore").unwrap().word, "Nudity", "the first in the prompt");
        assert_eq!(f.check("a gorge at dawn"), None);
    }

    #[test]
    fn the_allow_list_excuses_false_positives_only_where_they_are() {
        let f = filter(&["nud"], &[r"nudibranch\w*"]);
        assert_eq!(f.check("a nudibranch on a reef"), None);
        assert_eq!(f.check("nudibranchs and a nude").unwrap().word, "nud");
    }

    #[test]
    fn bad_patterns_are_named() {
        let (key, why) = WordFilter::new(&["ok".into(), "(unclosed".into()], &[]).unwrap_err();
        assert_eq!(key, "banned_words[1]");
        assert!(why.contains("`(unclosed` is not a valid regular expression"), "{why}");
        let (key, why) = WordFilter::new(&[], &["a*".into()]).unwrap_err();
        assert_eq!(key, "allowed_words[0]");
        assert!(why.contains("matches an empty prompt"), "{why}");
        let huge = "(a|b|c|d){1000}".repeat(20);
        assert!(compile(&huge).is_err(), "size limit");
    }
}
