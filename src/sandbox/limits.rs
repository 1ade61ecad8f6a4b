//! Discord's limits that the sandbox enforces (DESIGN.md §7), as numbers and as checks that
//! answer with the error Discord gives for each.
//!
//! Request-level checks (file count and size) run before anything is stored; message-level
//! checks run on the message as it would look after the request, so an edit that only adds the
//! sixth row is caught just like a create with six rows.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::model::{ActionRow, ViolationKind};
use super::payload::Upload;

pub const MAX_CONTENT_CHARS: usize = 2000;
pub const MAX_ROWS: usize = 5;
pub const MAX_ROW_COMPONENTS: usize = 5;
pub const MAX_CUSTOM_ID_CHARS: usize = 100;
pub const MAX_LABEL_CHARS: usize = 80;
pub const MAX_FILES: usize = 10;
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// The first callback must arrive within this of the dispatch.
pub const CALLBACK_DEADLINE: Duration = Duration::from_secs(3);
/// Webhook calls with an interaction token work for this long after the dispatch.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

fn max_len(kind: ViolationKind, path: Vec<String>, limit: usize) -> ApiError {
    ApiError::form(kind, &path, "BASE_TYPE_MAX_LENGTH", &format!("Must be {limit} or fewer in length."))
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// Checks the files of one request.
pub(crate) fn check_files(files: &BTreeMap<u64, Upload>) -> ApiResult<()> {
    if files.len() > MAX_FILES {
        return Err(max_len(ViolationKind::TooManyFiles, path(&["files"]), MAX_FILES)
            .with_detail(format!("{} files in one request (max {MAX_FILES})", files.len())));
    }
    for (n, f) in files {
        if f.bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                40005,
                "Request entity too large",
                ViolationKind::FileTooLarge,
                format!("files[{n}] {} is {} bytes (max {MAX_FILE_BYTES})", f.filename, f.bytes.len()),
            ));
        }
    }
    Ok(())
}

/// Checks a message as it would be after the request.
pub(crate) fn check_message(
    content: &str,
    rows: &[ActionRow],
    embeds: &[Value],
    attachment_count: usize,
) -> ApiResult<()> {
    let chars = content.chars().count();
    if chars > MAX_CONTENT_CHARS {
        return Err(max_len(ViolationKind::ContentTooLong, path(&["content"]), MAX_CONTENT_CHARS)
            .with_detail(format!("content is {chars} characters (max {MAX_CONTENT_CHARS})")));
    }
    if attachment_count > MAX_FILES {
        return Err(max_len(ViolationKind::TooManyFiles, path(&["attachments"]), MAX_FILES)
            .with_detail(format!("{attachment_count} attachments on the message (max {MAX_FILES})")));
    }
    check_components(rows)?;
    if content.is_empty() && rows.is_empty() && embeds.is_empty() && attachment_count == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
            ViolationKind::EmptyMessage,
            "no content, file, embed or component",
        ));
    }
    Ok(())
}

fn check_components(rows: &[ActionRow]) -> ApiResult<()> {
    if rows.len() > MAX_ROWS {
        return Err(max_len(ViolationKind::TooManyRows, path(&["components"]), MAX_ROWS)
            .with_detail(format!("{} action rows (max {MAX_ROWS})", rows.len())));
    }
    let mut seen = HashSet::new();
    for (r, row) in rows.iter().enumerate() {
        let r = r.to_string();
        let count = row.buttons.len() + row.others.len();
        if count > MAX_ROW_COMPONENTS {
            return Err(max_len(
                ViolationKind::TooManyComponents,
                path(&["components", &r, "components"]),
                MAX_ROW_COMPONENTS,
            )
            .with_detail(format!("row {r} has {count} components (max {MAX_ROW_COMPONENTS})")));
        }
        if count == 0 {
            return Err(ApiError::form(
                ViolationKind::InvalidFormBody,
                &path(&["components", &r, "components"]),
                "BASE_TYPE_MIN_LENGTH",
                "Must be 1 or more in length.",
            ));
        }
        let ids = row.buttons.iter().map(|b| (b.custom_id.clone(), b.label.clone())).chain(
            row.others.iter().map(|o| (o.get("custom_id").and_then(Value::as_str).map(str::to_owned), None)),
        );
        for (c, (custom_id, label)) in ids.enumerate() {
            let c = c.to_string();
            if let Some(label) = label {
                let n = label.chars().count();
                if n > MAX_LABEL_CHARS {
                    return Err(max_len(
                        ViolationKind::LabelTooLong,
                        path(&["components", &r, "components", &c, "label"]),
                        MAX_LABEL_CHARS,
                    )
                    .with_detail(format!("label of {n} characters (max {MAX_LABEL_CHARS})")));
                }
            }
            let Some(custom_id) = custom_id else { continue };
            let n = custom_id.chars().count();
            if n > MAX_CUSTOM_ID_CHARS {
                return Err(max_len(
                    ViolationKind::CustomIdTooLong,
                    path(&["components", &r, "components", &c, "custom_id"]),
                    MAX_CUSTOM_ID_CHARS,
                )
                .with_detail(format!("custom_id of {n} characters (max {MAX_CUSTOM_ID_CHARS})")));
            }
            if !seen.insert(custom_id.clone()) {
                return Err(ApiError::form(
                    ViolationKind::DuplicateCustomId,
                    &path(&["components", &r, "components", &c, "custom_id"]),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
                .with_detail(format!("custom_id {custom_id:?} appears twice in the message")));
            }
        }
    }
    Ok(())
}

/// Registration limits Discord checks on `PUT .../commands` for slash commands.
pub(crate) fn check_command(i: usize, cmd: &Value) -> ApiResult<()> {
    let at = i.to_string();
    let name = cmd.get("name").and_then(Value::as_str).unwrap_or("");
    let kind = cmd.get("type").and_then(Value::as_u64).unwrap_or(1);
    let valid_name = (1..=32).contains(&name.chars().count())
        && (kind != 1 || name.chars().all(|c| c.is_lowercase() || c.is_numeric() || c == '-' || c == '_'));
    if !valid_name {
        return Err(ApiError::form(
            ViolationKind::InvalidFormBody,
            &path(&[&at, "name"]),
            "APPLICATION_COMMAND_INVALID_NAME",
            &format!("Command name {name:?} is invalid"),
        ));
    }
    let description = cmd.get("description").and_then(Value::as_str).unwrap_or("");
    if kind == 1 && !(1..=100).contains(&description.chars().count()) {
        return Err(ApiError::form(
            ViolationKind::InvalidFormBody,
            &path(&[&at, "description"]),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        ));
    }
    Ok(())
}

impl ApiError {
    pub(crate) fn with_detail(mut self, detail: String) -> Self {
        self.detail = detail;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::model::Button;

    fn button(id: &str, label: &str) -> Button {
        Button {
            style: 1,
            label: Some(label.into()),
            emoji: None,
            custom_id: Some(id.into()),
            url: None,
            disabled: false,
        }
    }

    fn row(n: usize, prefix: &str) -> ActionRow {
        ActionRow { buttons: (0..n).map(|i| button(&format!("{prefix}{i}"), "L")).collect(), others: vec![] }
    }

    #[test]
    fn accepts_the_largest_legal_message() {
        let rows: Vec<_> = (0..5).map(|r| row(5, &format!("r{r}-"))).collect();
        check_message(&"x".repeat(2000), &rows, &[], 10).expect("legal");
    }

    #[test]
    fn each_component_limit_has_its_kind() {
        let kind = |rows: Vec<ActionRow>| check_message("hi", &rows, &[], 0).expect_err("must fail").kind;
        assert_eq!(kind((0..6).map(|r| row(1, &format!("r{r}"))).collect()), ViolationKind::TooManyRows);
        assert_eq!(kind(vec![row(6, "a")]), ViolationKind::TooManyComponents);
        assert_eq!(kind(vec![row(1, "a"), row(1, "a")]), ViolationKind::DuplicateCustomId);
        assert_eq!(
            kind(vec![ActionRow { buttons: vec![button(&"c".repeat(101), "L")], others: vec![] }]),
            ViolationKind::CustomIdTooLong
        );
        assert_eq!(
            kind(vec![ActionRow { buttons: vec![button("c", &"l".repeat(81))], others: vec![] }]),
            ViolationKind::LabelTooLong
        );
    }

    #[test]
    fn content_and_emptiness() {
        let e = check_message(&"é".repeat(2001), &[], &[], 0).expect_err("too long");
        assert_eq!((e.kind, e.code), (ViolationKind::ContentTooLong, 50035));
        let e = check_message("", &[], &[], 0).expect_err("empty");
        assert_eq!((e.kind, e.code), (ViolationKind::EmptyMessage, 50006));
        check_message("", &[], &[], 1).expect("a file alone is enough");
    }
}
