//! A small JSON Schema checker for Discord's OpenAPI 3.1 document, enough to hold the sandbox's
//! responses against the response schemas: `$ref`, `allOf` / `oneOf` / `anyOf`, `type` (also as
//! a list such as `["string", "null"]`), `required`, `properties`, `additionalProperties`,
//! `items`, `enum`, `const`, length / item / number bounds, `uniqueItems`, the two `pattern`s the
//! spec uses and the `snowflake` / `date-time` / `uri` formats.
//!
//! Written here rather than taken from the `jsonschema` crate: that crate pulls in a regex engine,
//! an HTTP resolver and a large dependency tree for what is a few dozen keywords in this spec.
//! The spec is vendored at `tests/data/discord-openapi.json` (Discord's v10 OpenAPI document from
//! the public repository discord/discord-api-spec, MIT licence; 1.2 MB), so a fresh clone checks
//! the sandbox against it rather than skipping.

use std::path::PathBuf;

use serde_json::Value;

pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    pub fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/discord-openapi.json")
    }

    /// The vendored spec; a missing file is a broken checkout, not a reason to skip.
    pub fn load() -> OpenApi {
        let path = Self::path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {} ({e}): it is part of the repository", path.display()));
        OpenApi { doc: serde_json::from_str(&text).expect("discord-openapi.json is JSON") }
    }

    /// The JSON schema of `method path` answering `status` (e.g. `"200"`, `"429"`, `"4XX"`).
    pub fn response_schema(&self, method: &str, path: &str, status: &str) -> &Value {
        let op = &self.doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "the spec has no {method} {path}");
        let mut response = &op["responses"][status];
        if let Some(r) = response.get("$ref").and_then(Value::as_str) {
            response = self.pointer(r);
        }
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "the spec has no JSON {status} response for {method} {path}");
        schema
    }

    pub fn schema(&self, name: &str) -> &Value {
        &self.doc["components"]["schemas"][name]
    }

    fn pointer(&self, reference: &str) -> &Value {
        let p = reference.strip_prefix('#').unwrap_or(reference);
        self.doc.pointer(p).unwrap_or_else(|| panic!("unresolvable $ref {reference}"))
    }

    /// Every place `instance` breaks `schema`, as `path: problem` lines (empty when it conforms).
    pub fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, instance, "$", &mut errors);
        errors
    }

    /// Panics with every problem if `instance` is not a valid `status` answer of `method path`.
    pub fn assert_response(&self, method: &str, path: &str, status: &str, instance: &Value) {
        let errors = self.errors(self.response_schema(method, path, status), instance);
        assert!(
            errors.is_empty(),
            "{method} {path} → {status} does not match the OpenAPI schema:\n  {}\nbody: {instance:#}",
            errors.join("\n  ")
        );
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(s) = schema.as_object() else { return };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            self.check(self.pointer(r), v, at, errors);
        }
        if let Some(t) = s.get("type") {
            let allowed: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !allowed.iter().any(|t| has_type(v, t)) {
                errors.push(format!("{at}: expected type {allowed:?}, got {}", short(v)));
                return;
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errors.push(format!("{at}: {} is not one of {e:?}", short(v)));
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            errors.push(format!("{at}: {} is not {c}", short(v)));
        }
        for sub in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.check(sub, v, at, errors);
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|sub| self.errors_at(sub, v, at).is_empty())
        {
            errors.push(format!("{at}: matches none of anyOf ({} options): {}", any.len(), short(v)));
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let results: Vec<Vec<String>> = one.iter().map(|sub| self.errors_at(sub, v, at)).collect();
            let matched = results.iter().filter(|e| e.is_empty()).count();
            if matched != 1 {
                let closest = results.iter().filter(|e| !e.is_empty()).min_by_key(|e| e.len());
                errors.push(format!(
                    "{at}: matches {matched} of the {} oneOf options (exactly one required){}",
                    one.len(),
                    closest.map(|e| format!("; closest fails with: {}", e.join("; "))).unwrap_or_default()
                ));
            }
        }
        match v {
            Value::Object(o) => self.check_object(s, o, at, errors),
            Value::Array(a) => self.check_array(s, a, at, errors),
            Value::String(text) => check_string(s, text, at, errors),
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| x < m) {
                    errors.push(format!("{at}: {x} is below the minimum"));
                }
                if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| x > m) {
                    errors.push(format!("{at}: {x} is above the maximum"));
                }
            }
            _ => {}
        }
    }

    fn errors_at(&self, schema: &Value, v: &Value, at: &str) -> Vec<String> {
        let mut e = Vec::new();
        self.check(schema, v, at, &mut e);
        e
    }

    fn check_object(
        &self,
        s: &serde_json::Map<String, Value>,
        o: &serde_json::Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        for r in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !o.contains_key(r) {
                errors.push(format!("{at}: missing required property {r:?}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in o {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => self.check(sub, val, &format!("{at}.{k}"), errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{at}: property {k:?} is not allowed")),
                    Some(sub @ Value::Object(_)) => self.check(sub, val, &format!("{at}.{k}"), errors),
                    _ => {}
                },
            }
        }
        let n = o.len() as u64;
        if s.get("minProperties").and_then(Value::as_u64).is_some_and(|m| n < m) {
            errors.push(format!("{at}: fewer than minProperties"));
        }
        if s.get("maxProperties").and_then(Value::as_u64).is_some_and(|m| n > m) {
            errors.push(format!("{at}: more than maxProperties"));
        }
    }

    fn check_array(
        &self,
        s: &serde_json::Map<String, Value>,
        a: &[Value],
        at: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(items) = s.get("items") {
            for (i, item) in a.iter().enumerate() {
                self.check(items, item, &format!("{at}[{i}]"), errors);
            }
        }
        let n = a.len() as u64;
        if s.get("minItems").and_then(Value::as_u64).is_some_and(|m| n < m) {
            errors.push(format!("{at}: {n} items, fewer than minItems"));
        }
        if s.get("maxItems").and_then(Value::as_u64).is_some_and(|m| n > m) {
            errors.push(format!("{at}: {n} items, more than maxItems"));
        }
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, x) in a.iter().enumerate() {
                if a[..i].contains(x) {
                    errors.push(format!("{at}[{i}]: duplicate item in a uniqueItems array"));
                }
            }
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn check_string(s: &serde_json::Map<String, Value>, text: &str, at: &str, errors: &mut Vec<String>) {
    let n = text.chars().count() as u64;
    if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| n < m) {
        errors.push(format!("{at}: shorter than minLength"));
    }
    if s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| n > m) {
        errors.push(format!("{at}: longer than maxLength"));
    }
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match s.get("pattern").and_then(Value::as_str) {
        Some("^(0|[1-9][0-9]*)$") if !(text == "0" || (digits(text) && !text.starts_with('0'))) => {
            errors.push(format!("{at}: {text:?} is not a snowflake"));
        }
        Some("^#(([0-9a-fA-F]{2}){3}|([0-9a-fA-F]){3})$") => {
            let hex = text.strip_prefix('#').unwrap_or("");
            if !(matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())) {
                errors.push(format!("{at}: {text:?} is not a #rgb colour"));
            }
        }
        Some(p) if !p.starts_with("^(0|") && !p.starts_with("^#") => {
            errors.push(format!("{at}: unsupported pattern {p}"))
        }
        _ => {}
    }
    match s.get("format").and_then(Value::as_str) {
        Some("snowflake") if !digits(text) => errors.push(format!("{at}: {text:?} is not a snowflake")),
        Some("date-time") if !is_date_time(text) => {
            errors.push(format!("{at}: {text:?} is not an RFC 3339 date-time"))
        }
        Some("uri") if !(text.contains("://") && text.split("://").next().is_some_and(|p| !p.is_empty())) => {
            errors.push(format!("{at}: {text:?} is not a URI"))
        }
        _ => {}
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_date_time(t: &str) -> bool {
    let b = t.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let shape = b.len() >= 20
        && (0..4).all(d)
        && b[4] == b'-'
        && d(5)
        && d(6)
        && b[7] == b'-'
        && d(8)
        && d(9)
        && (b[10] == b'T' || b[10] == b't')
        && d(11)
        && d(12)
        && b[13] == b':'
        && d(14)
        && d(15)
        && b[16] == b':'
        && d(17)
        && d(18);
    if !shape {
        return false;
    }
    let rest = &t[19..];
    let rest = rest.strip_prefix('.').map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    rest == "Z" || (rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 { format!("{}…", &s[..s.floor_char_boundary(120)]) } else { s }
}
