//! Showing a URL without the secrets people put in it: `https://user:pass@host/v1?key=…`
//! is a common way to hand a backend its credentials, and a URL is printed by
//! `check-config`, in log lines and inside transport errors (reqwest names the URL it was
//! fetching). [`redact_url`] is the one rule; [`redact_urls`] applies it to every URL inside
//! a free text such as an error chain.
//!
//! Works on text, not on a parsed URL, so a malformed URL (the very thing a config error
//! prints) is redacted too.

/// What a secret is replaced with.
const MASK: &str = "***";

/// Query parameter names (lowercase, separators `-`, `_`, `.` removed, or one part between
/// separators) that carry a secret.
const SECRET_PARAMS: [&str; 14] = [
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "sig",
    "signature",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "session",
];

/// `url` with its user-info (`user:pass@`) replaced by `***@` and the value of every
/// secret-looking query parameter (`key`, `api_key`, `access_token`, `X-Amz-Signature`, …)
/// replaced by `***`. Anything else, including a URL without secrets, comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let (rest, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let (head, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut out = redact_user_info(head);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
        out += &pairs.join("&");
    }
    out + fragment
}

/// Every `scheme://…` in `text` passed through [`redact_url`]. A URL ends at whitespace or
/// at a character that closes the text around it (quotes, brackets, `>`, `` ` ``), without
/// the punctuation that ends a sentence.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let start = rest[..sep]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(sep, |(i, _)| i);
        let len = rest[sep..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')' | ']'))
            .map_or(rest.len() - sep, |n| n);
        // Punctuation right after a URL belongs to the sentence: `…?key=k: refused`.
        let end = sep + rest[sep..sep + len].trim_end_matches([':', ',', '.', ';', '!', '?']).len();
        out.push_str(&rest[..start]);
        out += &redact_url(&rest[start..end]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `scheme://user:pass@host/path` → `scheme://***@host/path`. The user-info ends at the
/// last `@` before the path, so a password containing `@` is masked whole.
fn redact_user_info(head: &str) -> String {
    let Some(scheme_end) = head.find("://").map(|i| i + 3) else { return head.to_string() };
    let authority_len = head[scheme_end..].find('/').unwrap_or(head.len() - scheme_end);
    let authority = &head[scheme_end..scheme_end + authority_len];
    match authority.rfind('@') {
        Some(at) => format!("{}{MASK}{}", &head[..scheme_end], &head[scheme_end + at..]),
        None => head.to_string(),
    }
}

fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, value)) if !value.is_empty() && is_secret_name(name) => format!("{name}={MASK}"),
        _ => pair.to_string(),
    }
}

/// `api_key`, `apiKey`, `access-token` and `X-Amz-Signature` are secret; `monkey` and
/// `size` are not.
fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let joined: String = lower.chars().filter(|c| !matches!(c, '-' | '_' | '.')).collect();
    SECRET_PARAMS.contains(&joined.as_str())
        || lower.split(['-', '_', '.']).any(|part| SECRET_PARAMS.contains(&part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_masked() {
        assert_eq!(redact_url("http://admin:hunter2@10.0.0.5:7860"), "http://***@10.0.0.5:7860");
        assert_eq!(redact_url("https://token@host/v1/x"), "https://***@host/v1/x");
        // An `@` in the path is not user-info; one in the password is.
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_url("http://u:p@ss@host/"), "http://***@host/");
    }

    #[test]
    fn secret_query_parameters_are_masked_and_others_kept() {
        assert_eq!(
            redact_url("https://api.example/v1?key=abc123&size=2&api_key=x&apiKey=y#top"),
            "https://api.example/v1?key=***&size=2&api_key=***&apiKey=***#top"
        );
        assert_eq!(
            redact_url("https://b.s3/x?X-Amz-Signature=f00&access_token=t&sig=s&monkey=1&auth="),
            "https://b.s3/x?X-Amz-Signature=***&access_token=***&sig=***&monkey=1&auth="
        );
        assert_eq!(redact_url("http://a:b@h/?password=p&token=t"), "http://***@h/?password=***&token=***");
    }

    #[test]
    fn urls_without_secrets_and_malformed_ones_pass() {
        for url in ["http://127.0.0.1:7860", "https://api.openai.com/v1", "", "not a url", "htp:/x?y"] {
            assert_eq!(redact_url(url), url);
        }
        // Malformed, but the secret is still found.
        assert_eq!(redact_url("htp://u:p@host?token=t"), "htp://***@host?token=***");
    }

    #[test]
    fn every_url_in_a_text_is_redacted() {
        let chain = "GET http://u:p@h:1/sdapi/v1/options?key=k: error sending request for url \
                     (http://u:p@h:1/sdapi/v1/options?key=k): connection refused";
        assert_eq!(
            redact_urls(chain),
            "GET http://***@h:1/sdapi/v1/options?key=***: error sending request for url \
             (http://***@h:1/sdapi/v1/options?key=***): connection refused"
        );
        assert_eq!(redact_urls("`wss://a:b@c/ws` and nothing else"), "`wss://***@c/ws` and nothing else");
        assert_eq!(redact_urls("no urls: here"), "no urls: here");
    }
}
