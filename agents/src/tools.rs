//! Tool lists in frontmatter (`tools`, `disallowedTools`, `allowed-tools`).
//!
//! Real files write them every way YAML allows and some it doesn't: `Read, Grep`, `Read Grep`,
//! `[Read, Grep]`, a YAML list, a JSON list inside a string, and permission rules with spaces and
//! commas inside parentheses (`Bash(git diff:*)`). Legacy names from older Claude Code releases
//! are mapped to their current tool or dropped with a warning.

use crate::diagnostic::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// Claude Code's built-in tools that agentops understands by name.
pub const CLAUDE_CODE_TOOLS: &[&str] = &[
    "Agent",
    "AskUserQuestion",
    "Bash",
    "Edit",
    "ExitPlanMode",
    "Glob",
    "Grep",
    "ListMcpResourcesTool",
    "NotebookEdit",
    "Read",
    "ReadMcpResourceTool",
    "Skill",
    "SlashCommand",
    "TodoWrite",
    "WebFetch",
    "WebSearch",
    "Write",
];

/// agentops' typed infrastructure tools (DESIGN.md §3), listed by name so frontmatter that names
/// them does not warn.
pub const AGENTOPS_TOOLS: &[&str] = &[
    "add_object",
    "argocd_app_diff",
    "argocd_app_get",
    "argocd_app_sync",
    "create_app",
    "drift",
    "find",
    "git_blame",
    "git_commit",
    "git_diff",
    "git_log",
    "git_status",
    "harmonize",
    "kubectl_apply",
    "kubectl_diff",
    "kubectl_get",
    "kubectl_rollout_status",
    "kustomize_build",
    "learn",
    "validate",
];

/// What a legacy tool name becomes.
enum Legacy {
    Renamed(&'static str),
    Dropped(&'static str),
}

fn legacy(name: &str) -> Option<Legacy> {
    Some(match name {
        "Task" => Legacy::Renamed("Agent"),
        "MultiEdit" => Legacy::Renamed("Edit"),
        "LS" => Legacy::Renamed("Glob"),
        "NotebookRead" => Legacy::Renamed("Read"),
        "TodoRead" => Legacy::Renamed("TodoWrite"),
        "BashOutput" | "KillShell" | "KillBash" => {
            Legacy::Dropped("agentops runs Bash in the foreground and has no background shells")
        }
        _ => return None,
    })
}

/// One entry of a tool list: a tool name, optionally with a permission rule in parentheses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    /// The canonical tool name (`Agent` for a legacy `Task`).
    pub name: String,
    /// The rule inside parentheses, e.g. `git diff:*` for `Bash(git diff:*)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ToolSpec {
    pub fn is_mcp(&self) -> bool {
        self.name.starts_with("mcp__")
    }
}

impl fmt::Display for ToolSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{}({rule})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A parsed tool list. `None` from [`parse_tool_list`] means the key was absent or empty,
/// which for `tools` means "inherit every tool".
pub type ToolList = Vec<ToolSpec>;

/// Parses a tool-list field. `key` and `line` are used in warnings.
pub fn parse_tool_list(
    key: &str,
    value: &Value,
    line: usize,
    warnings: &mut Vec<Diagnostic>,
) -> Option<ToolList> {
    let raw: Vec<String> = match value {
        Value::Null => return None,
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            if s == "*" {
                return None;
            }
            if let Some(list) = json_list(s) {
                list
            } else {
                // `[Read, Grep]` that strict YAML did not read as a list (even unbalanced).
                let inner = match s.strip_prefix('[') {
                    Some(rest) => rest.strip_suffix(']').unwrap_or(rest),
                    None => s,
                };
                tokenize(inner)
            }
        }
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Null => None,
                other => {
                    warnings.push(Diagnostic::warning(
                        "tool-not-string",
                        Some(line),
                        format!("`{key}` entry {other} is not a tool name; read as text"),
                    ));
                    Some(other.to_string())
                }
            })
            .filter(|s| !s.is_empty())
            .collect(),
        other => {
            warnings.push(Diagnostic::warning(
                "tools-wrong-type",
                Some(line),
                format!("`{key}` should be a list or a comma-separated string of tool names; `{other}` is ignored"),
            ));
            return None;
        }
    };
    let mut out: ToolList = Vec::with_capacity(raw.len());
    for token in raw {
        if let Some(spec) = normalize(key, &token, line, warnings)
            && !out.contains(&spec)
        {
            out.push(spec);
        }
    }
    Some(out)
}

fn json_list(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    let items: Vec<Value> = serde_json::from_str(s).ok()?;
    Some(
        items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
    )
}

/// Splits on commas and whitespace outside parentheses; strips quotes around each token.
fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut push = |current: &mut String| {
        let token = current.trim().trim_matches(['"', '\'']).trim();
        if !token.is_empty() {
            out.push(token.to_string());
        }
        current.clear();
    };
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' | ' ' | '\t' | '\n' if depth == 0 => push(&mut current),
            _ => current.push(c),
        }
    }
    push(&mut current);
    out
}

fn normalize(
    key: &str,
    token: &str,
    line: usize,
    warnings: &mut Vec<Diagnostic>,
) -> Option<ToolSpec> {
    let (name, rule) = match token.split_once('(') {
        Some((name, rest)) if rest.ends_with(')') => {
            (name.trim(), Some(rest[..rest.len() - 1].to_string()))
        }
        _ => (token, None),
    };
    let name = match legacy(name) {
        Some(Legacy::Renamed(to)) => {
            warnings.push(Diagnostic::warning(
                "legacy-tool",
                Some(line),
                format!("`{key}`: legacy tool name `{name}` is read as `{to}`"),
            ));
            to
        }
        Some(Legacy::Dropped(why)) => {
            warnings.push(Diagnostic::warning(
                "legacy-tool",
                Some(line),
                format!("`{key}`: legacy tool `{name}` is ignored: {why}"),
            ));
            return None;
        }
        None => name,
    };
    if !is_known_tool(name) {
        warnings.push(Diagnostic::warning(
            "unknown-tool",
            Some(line),
            format!(
                "`{key}`: unknown tool `{name}`; agentops will not offer it. Known tools: {}, the agentops infrastructure tools, and mcp__<server>__<tool>",
                CLAUDE_CODE_TOOLS.join(", ")
            ),
        ));
    }
    Some(ToolSpec {
        name: name.to_string(),
        rule,
    })
}

/// True for Claude Code built-ins, agentops tools and MCP tool names.
pub fn is_known_tool(name: &str) -> bool {
    CLAUDE_CODE_TOOLS.contains(&name)
        || AGENTOPS_TOOLS.contains(&name)
        || (name.starts_with("mcp__") && name.len() > 5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(v: Value) -> (Option<Vec<String>>, Vec<Diagnostic>) {
        let mut w = Vec::new();
        let list = parse_tool_list("tools", &v, 3, &mut w);
        (list.map(|l| l.iter().map(ToString::to_string).collect()), w)
    }

    #[test]
    fn every_spelling_gives_the_same_list() {
        for v in [
            json!("Read, Grep, Bash"),
            json!("Read Grep Bash"),
            json!("Read,Grep,Bash"),
            json!(["Read", "Grep", "Bash"]),
            json!("[\"Read\", \"Grep\", \"Bash\"]"),
            json!("[Read, Grep, Bash]"),
        ] {
            assert_eq!(names(v.clone()).0.unwrap(), ["Read", "Grep", "Bash"], "{v}");
        }
    }

    #[test]
    fn rules_keep_their_spaces_and_commas() {
        let (list, w) = names(json!("Bash(git diff:*), Bash(ls *),Read(./apps/**)"));
        assert_eq!(
            list.unwrap(),
            ["Bash(git diff:*)", "Bash(ls *)", "Read(./apps/**)"]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn legacy_names_are_mapped_or_dropped() {
        let (list, w) = names(json!(
            "Task, LS, MultiEdit, Edit, BashOutput, KillShell, NotebookRead"
        ));
        assert_eq!(list.unwrap(), ["Agent", "Glob", "Edit", "Read"]);
        assert_eq!(w.iter().filter(|d| d.code == "legacy-tool").count(), 6);
    }

    #[test]
    fn unknown_tools_warn_but_are_kept() {
        let (list, w) = names(json!("frobnicate, mcp__k8s__get"));
        assert_eq!(list.unwrap(), ["frobnicate", "mcp__k8s__get"]);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "unknown-tool");
        assert_eq!(w[0].line, Some(3));
    }

    #[test]
    fn empty_and_star() {
        assert_eq!(names(json!([])).0.unwrap(), Vec::<String>::new());
        assert_eq!(names(json!("*")).0, None);
        assert_eq!(names(Value::Null).0, None);
    }
}
