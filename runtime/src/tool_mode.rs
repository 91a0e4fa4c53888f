//! The three ways a model's tool call reaches us (DESIGN.md §2, ../shared/local-model.md):
//!
//! 1. **native** `tool_calls` in the API's own format;
//! 2. a **fallback** for small local models that write the call as JSON in their text
//!    (` ```json {"name": "Read", "arguments": {…}} ``` `), accepted only when it names an
//!    offered tool and its arguments validate;
//! 3. **schema** mode, where every step is constrained by `response_format` to
//!    `{"tool": NAME, "arguments": {…}}` or `{"tool": "final_answer", "text": "…"}`.

use crate::model::ToolDef;
use serde_json::{Map, Value, json};

/// The pseudo-tool that ends a schema-mode run.
pub const FINAL_ANSWER: &str = "final_answer";

/// Removes schema keywords that grammar-constrained decoders reject or do not need.
pub fn sanitize_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "$schema" | "title" | "format" | "examples"))
                .map(|(k, v)| (k.clone(), sanitize_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(sanitize_schema).collect()),
        other => other.clone(),
    }
}

/// A tool's input schema as offered in schema mode: sanitized, and with only the required
/// properties when it has any. Small models fill every optional field they are shown (`Read`
/// with `limit: 1` reads one line), so schema mode, which exists for them, leaves those out;
/// calls still validate against the full schema.
pub fn step_arguments(parameters: &Value) -> Value {
    let mut schema = sanitize_schema(parameters);
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if !required.is_empty()
        && let Some(Value::Object(props)) = schema.get_mut("properties")
    {
        props.retain(|name, _| required.contains(name));
    }
    schema
}

/// The `response_format` schema for one schema-mode step.
pub fn step_schema(tools: &[ToolDef]) -> Value {
    let mut branches: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "type": "object",
                "properties": {
                    "tool": {"const": t.name},
                    "arguments": step_arguments(&t.parameters),
                },
                "required": ["tool", "arguments"],
                "additionalProperties": false,
            })
        })
        .collect();
    branches.push(json!({
        "type": "object",
        "properties": {
            "tool": {"const": FINAL_ANSWER},
            "text": {"type": "string"},
        },
        "required": ["tool", "text"],
        "additionalProperties": false,
    }));
    json!({"oneOf": branches})
}

/// Instructions appended to the system prompt in schema mode.
pub fn schema_instructions(tools: &[ToolDef]) -> String {
    let mut out = String::from(
        "\n\n# Tools\nYou work in steps. Each reply is exactly one JSON object:\n\
         - {\"tool\": \"<tool name>\", \"arguments\": {…}} calls a tool; its result comes back to you.\n\
         - {\"tool\": \"final_answer\", \"text\": \"…\"} ends the task with your answer.\n\
         You cannot see files, clusters or command output except through tools: when the answer \
         depends on them, call the tool first and answer only from its result.\n\nAvailable tools:\n",
    );
    // Compact, for small models and small contexts: one line a tool — its arguments as
    // `name: type` (the response schema enforces them) and the first sentence of what it does.
    for t in tools {
        let mut what = first_sentence(&t.description);
        // Delegation and skills need the names (listed as `- name: description` lines).
        if t.name == "Agent" || t.name == "Skill" {
            let names: Vec<&str> = t
                .description
                .lines()
                .filter_map(|l| l.strip_prefix("- ")?.split(": ").next())
                .collect();
            what.push_str(&format!(" {}s: {}.", t.name, names.join(", ")));
        }
        out.push_str(&format!(
            "- {}({}): {what}\n",
            t.name,
            signature(&t.parameters),
        ));
    }
    out
}

/// `file_path: string, limit: integer` — the arguments a step must give.
fn signature(parameters: &Value) -> String {
    let schema = step_arguments(parameters);
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return String::new();
    };
    props
        .iter()
        .map(|(name, p)| {
            let kind = if let Some(values) = p.get("enum").and_then(Value::as_array) {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|")
            } else {
                match p.get("type") {
                    Some(Value::String(t)) if t == "array" => {
                        let item = p["items"]["type"].as_str().unwrap_or("value");
                        format!("[{item}]")
                    }
                    Some(Value::String(t)) => t.clone(),
                    _ => "value".to_string(),
                }
            };
            format!("{name}: {kind}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first sentence of `text` (at most 160 characters), on one line.
fn first_sentence(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = one_line
        .find(". ")
        .map_or(one_line.len(), |i| i + 1)
        .min(one_line.len());
    let sentence = &one_line[..end];
    if sentence.chars().count() > 160 {
        let cut: String = sentence.chars().take(157).collect();
        format!("{cut}…")
    } else {
        sentence.to_string()
    }
}

/// The answer of a `final_answer` step cut off before its end (the reply hit `max_tokens`):
/// the text written so far, its JSON escapes decoded; `None` for anything else.
pub fn salvage_final(text: &str) -> Option<String> {
    let re =
        regex::Regex::new(r#"^\s*\{\s*"tool"\s*:\s*"final_answer"\s*,\s*"text"\s*:\s*""#).ok()?;
    let start = re.find(text)?.end();
    let mut out = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => {}
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        out.push(ch);
                    }
                }
                Some(other) => out.push(other),
                None => break,
            },
            other => out.push(other),
        }
    }
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

/// One parsed schema-mode step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Call { name: String, arguments: Value },
    Final(String),
}

/// Reads a schema-mode reply.
pub fn parse_step(text: &str) -> Result<Step, String> {
    let value = parse_json_object(text).ok_or_else(|| {
        format!(
            "expected one JSON object, got: {}",
            text.chars().take(200).collect::<String>()
        )
    })?;
    let tool = value
        .get("tool")
        .and_then(Value::as_str)
        .ok_or("the JSON object has no \"tool\" field")?;
    if tool == FINAL_ANSWER {
        let text = value
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Ok(Step::Final(text.to_string()));
    }
    Ok(Step::Call {
        name: tool.to_string(),
        arguments: value
            .get("arguments")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    })
}

/// Recognises a tool call written as JSON in the reply text. `valid(name, args)` says whether
/// `name` is offered and `args` validate against its schema; nothing else is accepted.
pub fn content_tool_call(
    text: &str,
    valid: impl Fn(&str, &Value) -> bool,
) -> Option<(String, Value)> {
    for candidate in json_candidates(text) {
        let Some(obj) = parse_json_object(&candidate) else {
            continue;
        };
        let name = obj
            .get("name")
            .or_else(|| obj.get("tool"))
            .and_then(Value::as_str);
        let args = obj
            .get("arguments")
            .or_else(|| obj.get("parameters"))
            .or_else(|| obj.get("input"))
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        // Some models put the arguments in a JSON string.
        let args = match args {
            Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            other => other,
        };
        if let Some(name) = name
            && valid(name, &args)
        {
            return Some((name.to_string(), args));
        }
    }
    None
}

/// Fenced ```json blocks first, then the whole text.
fn json_candidates(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let Some(end) = body.find("```") else {
            break;
        };
        out.push(body[..end].trim().to_string());
        rest = &body[end + 3..];
    }
    out.push(text.trim().to_string());
    out
}

/// Parses a JSON object, tolerating the doubled braces `{{…}}` small models sometimes write.
pub fn parse_json_object(text: &str) -> Option<Map<String, Value>> {
    let text = text.trim();
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let mut candidate = &text[start..=end];
    for _ in 0..2 {
        if let Ok(Value::Object(map)) = serde_json::from_str(candidate) {
            return Some(map);
        }
        match candidate
            .strip_prefix('{')
            .and_then(|c| c.strip_suffix('}'))
        {
            Some(inner) if inner.trim_start().starts_with('{') => candidate = inner.trim(),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str, args: &Value) -> bool {
        name == "kubectl_get" && args.get("namespace").is_some()
    }

    #[test]
    fn fenced_json_tool_call_is_recognised() {
        let text = "I'll look.\n```json\n{\"name\": \"kubectl_get\", \"arguments\": {\"namespace\": \"kube-system\"}}\n```";
        let (name, args) = content_tool_call(text, valid).unwrap();
        assert_eq!(name, "kubectl_get");
        assert_eq!(args["namespace"], "kube-system");
    }

    #[test]
    fn doubled_braces_and_string_arguments() {
        let text = "```json\n{{\"name\": \"kubectl_get\", \"arguments\": \"{\\\"namespace\\\": \\\"x\\\"}\"}}\n```";
        assert!(content_tool_call(text, valid).is_some());
    }

    #[test]
    fn unoffered_or_invalid_calls_are_plain_text() {
        assert!(
            content_tool_call(
                "```json\n{\"name\": \"rm_rf\", \"arguments\": {}}\n```",
                valid
            )
            .is_none()
        );
        assert!(
            content_tool_call("{\"name\": \"kubectl_get\", \"arguments\": {}}", valid).is_none()
        );
        assert!(content_tool_call("The answer is 42.", valid).is_none());
    }

    #[test]
    fn schema_steps() {
        assert_eq!(
            parse_step("{\"tool\": \"final_answer\", \"text\": \"done\"}").unwrap(),
            Step::Final("done".into())
        );
        assert_eq!(
            parse_step("{\"tool\": \"Read\", \"arguments\": {\"file_path\": \"a\"}}").unwrap(),
            Step::Call {
                name: "Read".into(),
                arguments: json!({"file_path": "a"})
            }
        );
        assert!(parse_step("nope").is_err());
        let schema = step_schema(&[ToolDef {
            name: "Read".into(),
            description: "d".into(),
            parameters: json!({"type": "object", "properties": {"n": {"type": "integer", "format": "uint"}}, "$schema": "x"}),
        }]);
        assert_eq!(schema["oneOf"].as_array().unwrap().len(), 2);
        assert!(
            schema["oneOf"][0]["properties"]["arguments"]["properties"]["n"]
                .get("format")
                .is_none()
        );
        assert!(jsonschema::is_valid(
            &schema,
            &json!({"tool": "final_answer", "text": "x"})
        ));
        assert!(jsonschema::is_valid(
            &schema,
            &json!({"tool": "Read", "arguments": {"n": 1}})
        ));
        assert!(!jsonschema::is_valid(
            &schema,
            &json!({"tool": "Write", "arguments": {}})
        ));
    }

    #[test]
    fn a_final_answer_cut_off_keeps_its_text() {
        assert_eq!(
            salvage_final(
                r#"{"tool": "final_answer", "text": "The web app runs 4 replicas\nin prod, and the"#
            )
            .as_deref(),
            Some("The web app runs 4 replicas\nin prod, and the")
        );
        assert_eq!(
            salvage_final(r#"{"tool": "Read", "arguments": {"file_pa"#),
            None
        );
        assert_eq!(salvage_final("plain text"), None);
    }
}
