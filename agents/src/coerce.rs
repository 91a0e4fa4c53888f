//! Turning frontmatter values into the types a field expects, the way Claude Code's loader
//! tolerates them: numbers and booleans where a string is expected become strings, `"true"`
//! and `"10"` become a boolean and a number, and anything unusable is reported and dropped.

use crate::diagnostic::Diagnostic;
use crate::fields::Field;
use serde_json::Value;

/// A string field. Numbers and booleans are read as their text.
pub fn string(field: &Field, warnings: &mut Vec<Diagnostic>) -> Option<String> {
    match &field.value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            warnings.push(wrong_type(field, "a string", other));
            None
        }
    }
}

/// A non-empty string field (empty strings are treated as absent).
pub fn non_empty_string(field: &Field, warnings: &mut Vec<Diagnostic>) -> Option<String> {
    string(field, warnings)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn boolean(field: &Field, warnings: &mut Vec<Diagnostic>) -> Option<bool> {
    match &field.value {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_u64() == Some(1) => Some(true),
        Value::Number(n) if n.as_u64() == Some(0) => Some(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => {
                warnings.push(wrong_type(field, "true or false", &field.value));
                None
            }
        },
        other => {
            warnings.push(wrong_type(field, "true or false", other));
            None
        }
    }
}

pub fn count(field: &Field, warnings: &mut Vec<Diagnostic>) -> Option<u32> {
    let parsed = match &field.value {
        Value::Null => return None,
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        warnings.push(wrong_type(field, "a positive whole number", &field.value));
    }
    parsed
}

/// A list of names: a YAML list, or a string split on commas and whitespace.
pub fn string_list(field: &Field, warnings: &mut Vec<Diagnostic>) -> Vec<String> {
    match &field.value {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => {
                    warnings.push(wrong_type(field, "a list of names", other));
                    None
                }
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Value::String(s) => {
            let s = s.trim();
            let s = s
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(s);
            s.split([',', ' ', '\t', '\n'])
                .map(|t| t.trim().trim_matches(['"', '\'']))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        }
        other => {
            warnings.push(wrong_type(field, "a list of names", other));
            Vec::new()
        }
    }
}

pub fn wrong_type(field: &Field, expected: &str, got: &Value) -> Diagnostic {
    let shown = match got {
        Value::String(s) => format!("{s:?}"),
        other => {
            let text = other.to_string();
            if text.len() > 60 {
                format!("{}…", text.chars().take(60).collect::<String>())
            } else {
                text
            }
        }
    };
    Diagnostic::warning(
        "wrong-type",
        Some(field.line),
        format!("`{}` should be {expected}, got {shown}; ignored", field.key),
    )
}
