//! Frontmatter YAML → an ordered list of top-level fields, each with its line.
//!
//! Strict YAML is tried first. Real files often are not valid YAML (an unquoted `: ` inside a
//! long description, `argument-hint: [a] [b]`), and Claude Code still loads them, so on failure
//! a line-oriented reader takes `key: value` pairs at column 0, with indented continuation
//! lines, `- item` lists and `|`/`>` blocks, and a warning says so.

use crate::diagnostic::Diagnostic;
use crate::frontmatter::Frontmatter;
use serde_json::Value;

/// One top-level frontmatter key.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    pub value: Value,
    /// 1-based file line of the key.
    pub line: usize,
}

/// The frontmatter as parsed, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub fields: Vec<Field>,
    /// True when strict YAML failed and the line-oriented reader was used.
    pub fallback: bool,
}

impl Fields {
    pub fn get(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// Keys whose values are prose: in the line-oriented reader, a column-0 line after one of them
/// continues it unless it names a key the file kind knows. Real agent files (Anthropic's own
/// plugin agents among them) put `<example>` blocks with `Context: …`, `user: "…"` and
/// `assistant: "…"` lines straight under `description:`.
const PROSE_KEYS: &[&str] = &["description", "when_to_use"];

/// Parses the frontmatter block of a file kind whose keys are `known` (empty: any key at
/// column 0 starts a field). Problems become warnings; this never fails.
pub fn parse_known(
    frontmatter: &Frontmatter,
    known: &[&str],
    warnings: &mut Vec<Diagnostic>,
) -> Fields {
    parse_with(frontmatter, known, warnings)
}

/// Parses the frontmatter block, any key at column 0 starting a field. Problems become
/// warnings; this never fails.
pub fn parse(frontmatter: &Frontmatter, warnings: &mut Vec<Diagnostic>) -> Fields {
    parse_with(frontmatter, &[], warnings)
}

fn parse_with(frontmatter: &Frontmatter, known: &[&str], warnings: &mut Vec<Diagnostic>) -> Fields {
    let yaml = frontmatter.yaml.as_str();
    match parse_strict(yaml) {
        Ok(Value::Object(map)) => Fields {
            fields: map
                .into_iter()
                .map(|(key, value)| {
                    let line = key_line(yaml, &key)
                        .map_or(frontmatter.first_line, |l| frontmatter.first_line + l);
                    Field { key, value, line }
                })
                .collect(),
            fallback: false,
        },
        Ok(Value::Null) => Fields::default(),
        Ok(other) => {
            warnings.push(Diagnostic::warning(
                "frontmatter-not-mapping",
                Some(frontmatter.first_line),
                format!(
                    "frontmatter is a YAML {} instead of `key: value` pairs; it is ignored",
                    value_kind(&other)
                ),
            ));
            Fields::default()
        }
        Err(err) => {
            let line = err
                .line
                .map(|l| frontmatter.first_line + l.saturating_sub(1));
            warnings.push(Diagnostic::warning(
                "yaml-fallback",
                line.or(Some(frontmatter.first_line)),
                format!(
                    "frontmatter is not valid YAML ({}); read line by line instead. Quote values that contain `: ` or start with `[` to silence this",
                    err.message
                ),
            ));
            Fields {
                fields: parse_lines(yaml, frontmatter.first_line, known),
                fallback: true,
            }
        }
    }
}

struct StrictError {
    message: String,
    /// 1-based line within the YAML block.
    line: Option<usize>,
}

fn parse_strict(yaml: &str) -> Result<Value, StrictError> {
    if yaml.trim().is_empty() {
        return Ok(Value::Null);
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options::<Value>(yaml, options).map_err(|err| {
        let line = err
            .location()
            .and_then(|loc| usize::try_from(loc.line()).ok())
            .filter(|l| *l > 0);
        let column = err.location().map(|loc| loc.column());
        let message = err.without_snippet().to_string();
        let message = message.lines().next().unwrap_or("invalid YAML");
        // The parser's own position is relative to the block; ours is the file line.
        let message = match message.find(" at line ") {
            Some(i) => &message[..i],
            None => message,
        };
        let message = match column {
            Some(c) if c > 0 => format!("{message}, column {c}"),
            _ => message.to_string(),
        };
        StrictError { message, line }
    })
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// 0-based index of the line in `yaml` where top-level `key` is defined.
fn key_line(yaml: &str, key: &str) -> Option<usize> {
    yaml.lines().position(|line| {
        top_level_key(line).is_some_and(|(k, _)| k == key)
            || line.strip_prefix(['"', '\'']).is_some_and(|rest| {
                rest.starts_with(key) && rest[key.len()..].starts_with(['"', '\''])
            })
    })
}

/// `key: rest` at column 0 → (key, rest). The colon must be followed by a space or end of line.
fn top_level_key(line: &str) -> Option<(&str, &str)> {
    let first = line.chars().next()?;
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return None;
    }
    let colon = line.find(':')?;
    let key = &line[..colon];
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return None;
    }
    let rest = &line[colon + 1..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, rest.trim()))
}

/// The line-oriented reader used when strict YAML fails. After a prose key, a column-0
/// `key:` line starts a new field only when `key` is `known` (or `known` is empty).
fn parse_lines(yaml: &str, first_line: usize, known: &[&str]) -> Vec<Field> {
    struct Pending<'a> {
        key: &'a str,
        first: &'a str,
        line: usize,
        rest: Vec<&'a str>,
    }
    let mut out = Vec::new();
    let mut pending: Option<Pending> = None;
    for (idx, line) in yaml.lines().enumerate() {
        let in_prose = pending
            .as_ref()
            .is_some_and(|p| PROSE_KEYS.contains(&p.key) && block_style(p.first).is_none());
        let starts_field = top_level_key(line)
            .filter(|(key, _)| !in_prose || known.is_empty() || known.contains(key));
        if let Some((key, first)) = starts_field {
            if let Some(p) = pending.take() {
                out.push(finish(p.key, p.first, &p.rest, p.line));
            }
            pending = Some(Pending {
                key,
                first,
                line: first_line + idx,
                rest: Vec::new(),
            });
        } else if line.starts_with('#') {
            continue;
        } else if let Some(p) = pending.as_mut() {
            p.rest.push(line);
        }
    }
    if let Some(p) = pending.take() {
        out.push(finish(p.key, p.first, &p.rest, p.line));
    }
    // Later duplicates win, as in most YAML loaders.
    let mut deduped: Vec<Field> = Vec::with_capacity(out.len());
    for field in out {
        deduped.retain(|f| f.key != field.key);
        deduped.push(field);
    }
    deduped
}

fn finish(key: &str, first: &str, rest: &[&str], line: usize) -> Field {
    let rest: Vec<&str> = {
        let mut r = rest.to_vec();
        while r.last().is_some_and(|l| l.trim().is_empty()) {
            r.pop();
        }
        r
    };
    let value = if first.is_empty()
        && !rest.is_empty()
        && rest
            .iter()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with("- ") || l.trim() == "-")
    {
        Value::Array(
            rest.iter()
                .filter_map(|l| l.trim_start().strip_prefix('-'))
                .map(|item| Value::String(unquote(item.trim())))
                .collect(),
        )
    } else if let Some(style) = block_style(first) {
        let indent = rest
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let lines: Vec<&str> = rest
            .iter()
            .map(|l| {
                if l.len() >= indent {
                    &l[indent..]
                } else {
                    l.trim_start()
                }
            })
            .collect();
        let text = if style == '|' {
            lines.join("\n")
        } else {
            fold(&lines)
        };
        Value::String(text)
    } else {
        let mut parts = vec![first.trim()];
        parts.extend(rest.iter().map(|l| l.trim()).filter(|l| !l.is_empty()));
        // Lines at column 0 are not YAML continuation lines but the author's own lines
        // (examples, dialogue): their breaks are kept. Indented ones fold, as YAML does.
        let own_lines = rest
            .iter()
            .any(|l| !l.trim().is_empty() && !l.starts_with([' ', '\t']));
        let joined = if own_lines {
            parts.retain(|l| !l.is_empty());
            parts.join("\n")
        } else {
            parts.join(" ")
        };
        if joined.is_empty() {
            Value::Null
        } else {
            Value::String(unquote(&joined))
        }
    };
    Field {
        key: key.to_string(),
        value,
        line,
    }
}

fn block_style(first: &str) -> Option<char> {
    let mut chars = first.chars();
    let style = chars.next().filter(|c| *c == '|' || *c == '>')?;
    chars
        .all(|c| c == '-' || c == '+' || c.is_ascii_digit())
        .then_some(style)
}

/// Folded block: lines joined with spaces, blank lines kept as newlines.
fn fold(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            out.push_str(line.trim_end());
        }
    }
    out
}

/// Strips one pair of matching quotes around the whole value (YAML-style escapes for `"` and
/// `''` for `'`); anything else is returned as written.
pub(crate) fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 {
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        let inner = &value[1..value.len() - 1];
        if first == b'"' && last == b'"' && !inner.replace("\\\"", "").contains('"') {
            return inner.replace("\\\"", "\"").replace("\\\\", "\\");
        }
        if first == b'\'' && last == b'\'' && !inner.replace("''", "").contains('\'') {
            return inner.replace("''", "'");
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(yaml: &str) -> (Fields, Vec<Diagnostic>) {
        let mut w = Vec::new();
        let f = parse(
            &Frontmatter {
                yaml: yaml.to_string(),
                first_line: 2,
            },
            &mut w,
        );
        (f, w)
    }

    #[test]
    fn strict_yaml_keeps_order_and_lines() {
        let (f, w) = parse_str("name: a\ndescription: b\ntools: [Read, Grep]\n");
        assert!(w.is_empty());
        assert!(!f.fallback);
        let keys: Vec<_> = f.fields.iter().map(|f| (f.key.as_str(), f.line)).collect();
        assert_eq!(keys, [("name", 2), ("description", 3), ("tools", 4)]);
        assert_eq!(
            f.get("tools").unwrap().value,
            serde_json::json!(["Read", "Grep"])
        );
    }

    #[test]
    fn strict_booleans_keep_yes_a_string() {
        let (f, _) = parse_str("a: yes\nb: true\n");
        assert_eq!(f.get("a").unwrap().value, Value::String("yes".into()));
        assert_eq!(f.get("b").unwrap().value, Value::Bool(true));
    }

    #[test]
    fn unquoted_colon_space_falls_back_with_warning() {
        let (f, w) = parse_str(
            "name: x\ndescription: Use when: a thing happens. Triggers on: 'GDPR'\ntools: Read, Grep\n",
        );
        assert!(f.fallback);
        assert_eq!(w[0].code, "yaml-fallback");
        assert_eq!(
            f.get("description").unwrap().value,
            Value::String("Use when: a thing happens. Triggers on: 'GDPR'".into())
        );
        assert_eq!(f.get("tools").unwrap().line, 4);
    }

    #[test]
    fn fallback_reads_lists_blocks_and_continuations() {
        let yaml = "name: x: y\nskills:\n  - one\n  - \"two\"\ndescription: |\n  line one\n  line two\nallowed-tools: Read,\n  Grep\n";
        let (f, _) = parse_str(yaml);
        assert!(f.fallback);
        assert_eq!(
            f.get("skills").unwrap().value,
            serde_json::json!(["one", "two"])
        );
        assert_eq!(
            f.get("description").unwrap().value,
            Value::String("line one\nline two".into())
        );
        assert_eq!(
            f.get("allowed-tools").unwrap().value,
            Value::String("Read, Grep".into())
        );
    }

    #[test]
    fn prose_continues_through_example_lines_until_a_known_key() {
        let yaml = "name: reviewer\ndescription: Use this agent after code is written. Examples:\n<example>\nContext: The user finished a feature.\nuser: \"Review my change\"\nassistant: \"I'll use the reviewer agent\"\n<commentary>\nReviews need: care.\n</commentary>\n</example>\nmodel: sonnet\ncolor: blue\nfoo: bar\n";
        let fm = Frontmatter {
            yaml: yaml.to_string(),
            first_line: 2,
        };
        let f = parse_known(
            &fm,
            &["name", "description", "model", "color"],
            &mut Vec::new(),
        );
        assert!(f.fallback);
        assert_eq!(
            f.get("description").unwrap().value,
            Value::String(
                "Use this agent after code is written. Examples:\n<example>\nContext: The user finished a feature.\nuser: \"Review my change\"\nassistant: \"I'll use the reviewer agent\"\n<commentary>\nReviews need: care.\n</commentary>\n</example>".into()
            )
        );
        let keys: Vec<&str> = f.fields.iter().map(|f| f.key.as_str()).collect();
        // An unknown key after a non-prose field is still its own (unknown) field.
        assert_eq!(keys, ["name", "description", "model", "color", "foo"]);
        assert_eq!(f.get("model").unwrap().line, 12);
        // Without the kind's keys, the old reading: every `key:` line is a field.
        let f = parse(&fm, &mut Vec::new());
        assert!(f.get("Context").is_some());
    }

    #[test]
    fn argument_hint_with_brackets_falls_back_to_text() {
        let (f, _) = parse_str("argument-hint: [component] [--detailed] | Examples: x\n");
        assert_eq!(
            f.get("argument-hint").unwrap().value,
            Value::String("[component] [--detailed] | Examples: x".into())
        );
    }

    #[test]
    fn partially_quoted_value_is_kept_verbatim() {
        let (f, _) = parse_str("argument-hint: \"a\" | Examples: \"b\"\nx: [\n");
        assert_eq!(
            f.get("argument-hint").unwrap().value,
            Value::String("\"a\" | Examples: \"b\"".into())
        );
    }

    #[test]
    fn non_mapping_is_ignored_with_warning() {
        let (f, w) = parse_str("- a\n- b\n");
        assert!(f.fields.is_empty());
        assert_eq!(w[0].code, "frontmatter-not-mapping");
    }

    #[test]
    fn comments_only_is_empty() {
        let (f, w) = parse_str("# nothing here\n");
        assert!(f.fields.is_empty(), "{f:?}");
        assert!(w.is_empty(), "{w:?}");
    }
}
