//! Hook configuration in Claude Code's format, shared by agent and command frontmatter and by
//! `.claude/settings.json`:
//!
//! ```yaml
//! hooks:
//!   PreToolUse:
//!     - matcher: "Bash"
//!       hooks:
//!         - type: command
//!           command: ./check.sh
//!           timeout: 30
//! ```

use crate::diagnostic::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The hook events Claude Code defines and agentops raises.
pub const HOOK_EVENTS: &[&str] = &[
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "Notification",
];

/// Hooks by event name.
pub type Hooks = BTreeMap<String, Vec<HookMatcher>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookMatcher {
    /// Tool-name pattern (`Bash`, `Edit|Write`, `*`); absent or empty matches everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<String>,
    pub hooks: Vec<HookHandler>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookHandler {
    /// `command` (run a program) or `prompt` (ask the model).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Seconds before the handler is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
}

/// Parses a `hooks` value; unknown events and malformed entries are warned about and skipped.
pub fn parse_hooks(value: &Value, line: usize, warnings: &mut Vec<Diagnostic>) -> Option<Hooks> {
    let Value::Object(map) = value else {
        if !value.is_null() {
            warnings.push(Diagnostic::warning(
                "hooks-invalid",
                Some(line),
                "`hooks` should map event names (PreToolUse, …) to lists of matchers; ignored",
            ));
        }
        return None;
    };
    let mut hooks = Hooks::new();
    for (event, entries) in map {
        if !HOOK_EVENTS.contains(&event.as_str()) {
            warnings.push(Diagnostic::warning(
                "hooks-unknown-event",
                Some(line),
                format!(
                    "unknown hook event `{event}`; known events: {}",
                    HOOK_EVENTS.join(", ")
                ),
            ));
            continue;
        }
        match serde_json::from_value::<Vec<HookMatcher>>(entries.clone()) {
            Ok(matchers) => {
                for m in &matchers {
                    for h in &m.hooks {
                        if h.kind == "command" && h.command.as_deref().is_none_or(str::is_empty) {
                            warnings.push(Diagnostic::warning(
                                "hooks-invalid",
                                Some(line),
                                format!("`{event}` hook of type command has no `command`"),
                            ));
                        }
                    }
                }
                hooks.insert(event.clone(), matchers);
            }
            Err(err) => warnings.push(Diagnostic::warning(
                "hooks-invalid",
                Some(line),
                format!("`{event}` hooks are malformed ({err}); ignored"),
            )),
        }
    }
    Some(hooks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_claude_code_shape() {
        let mut w = Vec::new();
        let h = parse_hooks(
            &json!({"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./x.sh", "timeout": 5}]}],
                    "Bogus": []}),
            7,
            &mut w,
        )
        .unwrap();
        assert_eq!(
            h["PreToolUse"][0].hooks[0].command.as_deref(),
            Some("./x.sh")
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "hooks-unknown-event");
    }
}
