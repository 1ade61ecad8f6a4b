//! Reading message bodies the way Discord does: JSON, or `multipart/form-data` with a
//! `payload_json` part and `files[n]` parts, into a [`Draft`] of the fields the request set.
//!
//! A field the request left out is `None` (keep what the message has); `null` or an empty value
//! is `Some(empty)` (clear it). Attachment entries are resolved later against the uploaded files
//! and the message's existing attachments, in [`super::messages`].

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::model::{ActionRow, Button, Emoji, ViolationKind};

/// Bodies up to this size are read, so that an oversized file gets Discord's 413 and a
/// recorded violation rather than a bare transport error (10 files of 10 MiB fit).
pub(crate) const BODY_LIMIT: usize = 128 * 1024 * 1024;

pub(crate) struct Upload {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// A request body: its JSON object and any uploaded files by their index `n`.
pub(crate) struct Body {
    pub json: Value,
    pub files: BTreeMap<u64, Upload>,
}

pub(crate) async fn read_body(req: Request) -> ApiResult<Body> {
    let content_type =
        req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return read_multipart(req).await;
    }
    let bytes =
        axum::body::to_bytes(req.into_body(), BODY_LIMIT).await.map_err(|e| too_large(&e.to_string()))?;
    if bytes.is_empty() {
        return Ok(Body { json: Value::Object(Map::new()), files: BTreeMap::new() });
    }
    let json = serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_json(e.to_string()))?;
    Ok(Body { json, files: BTreeMap::new() })
}

async fn read_multipart(req: Request) -> ApiResult<Body> {
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_form(&["multipart"], &format!("Invalid multipart body: {e}")))?;
    let mut json = Value::Object(Map::new());
    let mut plain = Map::new();
    let mut files = BTreeMap::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::bad_form(&["multipart"], &format!("Invalid multipart body: {e}")));
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let data = field.bytes().await.map_err(|e| multipart_error(&e))?;
        if name == "payload_json" {
            json = serde_json::from_slice(&data)
                .map_err(|e| ApiError::invalid_json(format!("payload_json: {e}")))?;
        } else if let Some(index) = file_index(&name) {
            let filename = filename.unwrap_or_else(|| format!("file{index}"));
            files.insert(index, Upload { filename, content_type, bytes: data });
        } else {
            plain.insert(name, Value::String(String::from_utf8_lossy(&data).into_owned()));
        }
    }
    // Without payload_json Discord reads plain form fields such as `content`.
    if let Some(o) = json.as_object_mut() {
        for (k, v) in plain {
            o.entry(k).or_insert(v);
        }
    }
    Ok(Body { json, files })
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(&e.body_text())
    } else {
        ApiError::bad_form(&["multipart"], &format!("Invalid multipart body: {}", e.body_text()))
    }
}

fn too_large(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        40005,
        "Request entity too large",
        ViolationKind::FileTooLarge,
        format!("request body over {BODY_LIMIT} bytes: {detail}"),
    )
}

/// `files[3]` → 3; a lone `file` (used for single uploads) counts as `files[0]`.
fn file_index(name: &str) -> Option<u64> {
    if name == "file" {
        return Some(0);
    }
    name.strip_prefix("files[")?.strip_suffix(']')?.parse().ok()
}

/// An entry of the request's `attachments` array.
pub(crate) struct AttachRef {
    pub id: u64,
    pub filename: Option<String>,
    pub description: Option<String>,
}

#[derive(Default)]
pub(crate) struct Draft {
    pub content: Option<String>,
    pub components: Option<Vec<ActionRow>>,
    pub embeds: Option<Vec<Value>>,
    pub attachments: Option<Vec<AttachRef>>,
    pub flags: Option<u64>,
    pub files: BTreeMap<u64, Upload>,
}

impl Draft {
    /// Parses a message object (`data` of a callback, or a webhook / channel message body).
    pub fn parse(v: &Value, files: BTreeMap<u64, Upload>) -> ApiResult<Draft> {
        let empty = Map::new();
        let o = match v {
            Value::Object(o) => o,
            Value::Null => &empty,
            _ => return Err(ApiError::bad_form(&[], "Expected an object")),
        };
        let content = match o.get("content") {
            None => None,
            Some(Value::Null) => Some(String::new()),
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::bad_form(&["content"], "Must be a string.")),
        };
        let embeds = match o.get("embeds") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(a)) => Some(a.iter().map(normalize_embed).collect()),
            Some(_) => return Err(ApiError::bad_form(&["embeds"], "Must be an array.")),
        };
        let components = match o.get("components") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(rows)) => Some(parse_rows(rows)?),
            Some(_) => return Err(ApiError::bad_form(&["components"], "Must be an array.")),
        };
        let attachments = match o.get("attachments") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(a)) => Some(
                a.iter().enumerate().map(|(i, e)| parse_attach_ref(i, e)).collect::<ApiResult<Vec<_>>>()?,
            ),
            Some(_) => return Err(ApiError::bad_form(&["attachments"], "Must be an array.")),
        };
        let flags = match o.get("flags") {
            None | Some(Value::Null) => None,
            Some(f) => Some(f.as_u64().ok_or_else(|| ApiError::bad_form(&["flags"], "Must be an integer."))?),
        };
        Ok(Draft { content, components, embeds, attachments, flags, files })
    }
}

/// Embeds as Discord stores them: unset fields left out, and a `type` (always `rich` for bots).
fn normalize_embed(v: &Value) -> Value {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip(v))).collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            v => v.clone(),
        }
    }
    let mut e = strip(v);
    if let Some(o) = e.as_object_mut() {
        o.entry("type").or_insert_with(|| Value::String("rich".into()));
    }
    e
}

/// Snowflakes arrive as strings, placeholders as numbers; both are accepted.
pub(crate) fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn parse_attach_ref(i: usize, e: &Value) -> ApiResult<AttachRef> {
    let at = i.to_string();
    let id = e
        .get("id")
        .and_then(id_of)
        .ok_or_else(|| ApiError::bad_form(&["attachments", &at, "id"], "Not a snowflake or placeholder."))?;
    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(AttachRef { id, filename: text("filename"), description: text("description") })
}

fn parse_rows(rows: &[Value]) -> ApiResult<Vec<ActionRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let at = r.to_string();
        if row.get("type").and_then(Value::as_u64) != Some(1) {
            return Err(ApiError::bad_form(
                &["components", &at, "type"],
                "Only action rows (type 1) are supported at the top level by the sandbox.",
            ));
        }
        let items = row.get("components").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let mut parsed = ActionRow::default();
        for (c, item) in items.iter().enumerate() {
            let ct = c.to_string();
            match item.get("type").and_then(Value::as_u64) {
                Some(2) => parsed.buttons.push(parse_button(item, &["components", &at, "components", &ct])?),
                Some(3 | 5..=8) => {
                    let mut raw = item.clone();
                    if let Some(o) = raw.as_object_mut() {
                        o.remove("id");
                    }
                    parsed.others.push(raw)
                }
                _ => {
                    return Err(ApiError::bad_form(
                        &["components", &at, "components", &ct, "type"],
                        "Value must be one of {2, 3, 5, 6, 7, 8}.",
                    ));
                }
            }
        }
        out.push(parsed);
    }
    Ok(out)
}

fn parse_button(v: &Value, path: &[&str]) -> ApiResult<Button> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let style = v.get("style").and_then(Value::as_u64).filter(|s| (1..=6).contains(s)).ok_or_else(|| {
        let mut p = path.to_vec();
        p.push("style");
        ApiError::bad_form(&p, "Value must be one of {1, 2, 3, 4, 5, 6}.")
    })? as u8;
    let emoji = match v.get("emoji") {
        Some(e) if !e.is_null() => Some(Emoji {
            name: e.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            id: e.get("id").and_then(id_of),
            animated: e.get("animated").and_then(Value::as_bool).unwrap_or(false),
        }),
        _ => None,
    };
    let button = Button {
        style,
        label: text("label"),
        emoji,
        custom_id: text("custom_id"),
        url: text("url"),
        disabled: v.get("disabled").and_then(Value::as_bool).unwrap_or(false),
    };
    let needs = |field: &str, msg: &str| {
        let mut p = path.to_vec();
        p.push(field);
        Err(ApiError::bad_form(&p, msg))
    };
    match style {
        5 if button.url.is_none() => needs("url", "A link button requires a url."),
        1..=4 if button.custom_id.is_none() => needs("custom_id", "A non-link button requires a custom_id."),
        _ if button.label.is_none() && button.emoji.is_none() && style != 6 => {
            needs("label", "A button requires a label or an emoji.")
        }
        _ => Ok(button),
    }
}
