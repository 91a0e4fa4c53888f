//! Hooks, Claude Code's contract: programs configured in `.claude/settings.json` (and
//! `settings.local.json`, `~/.claude/settings.json`, agent and command frontmatter `hooks:`)
//! that run at points of a session with a JSON object on stdin.
//!
//! - exit 0: go on; stdout may be a JSON object (`continue`, `stopReason`, `decision: "block"`
//!   with `reason`, `hookSpecificOutput.permissionDecision` allow/deny/ask with
//!   `permissionDecisionReason`, `additionalContext`); for `UserPromptSubmit` and
//!   `SessionStart` plain stdout is context for the model.
//! - exit 2: block; stderr is the reason (the model sees it for tool hooks, `Stop` makes the
//!   agent go on with it, `UserPromptSubmit` refuses the prompt).
//! - any other exit: a warning; the session goes on.
//!
//! A hook's `allow` can stand in for a person answering an `ask` rule; it never overrides a
//! deny rule, and the gates and high-risk approvals still run after it (enforced by the agent
//! loop, not here).

use agentops_agents::hooks::{HookHandler, Hooks, parse_hooks};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Seconds a hook may run when it does not say (Claude Code's default).
const DEFAULT_TIMEOUT_SECS: f64 = 60.0;

/// One configured handler and where it came from.
#[derive(Debug, Clone)]
struct Entry {
    event: String,
    matcher: Option<regex::Regex>,
    handler: HookHandler,
    source: String,
}

/// The hooks in effect for a run.
#[derive(Debug, Clone, Default)]
pub struct HookSet {
    entries: Vec<Entry>,
    root: PathBuf,
    /// The settings' `env`, for every hook's process.
    env: Vec<(String, String)>,
}

/// A hook's permission answer for a tool call (`PreToolUse`).
#[derive(Debug, Clone, PartialEq)]
pub enum HookPermission {
    Allow(String),
    Deny(String),
    Ask(String),
}

/// What the hooks of one event said, together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HookOutcome {
    /// Exit 2 or `decision: "block"`: the reason (stderr or `reason`).
    pub blocked: Option<String>,
    /// `continue: false`: the whole run stops, with this reason.
    pub stop: Option<String>,
    pub permission: Option<HookPermission>,
    /// Text for the model (plain stdout of prompt/session hooks, `additionalContext`).
    pub context: Vec<String>,
    /// What each hook run looked like, for the event log.
    pub runs: Vec<HookRun>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HookRun {
    pub command: String,
    pub exit_code: Option<i32>,
    pub blocked: bool,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HookConfigError {
    #[error("{}:{line}:{column}: not valid JSON: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl HookSet {
    /// Hooks of the settings files that apply (see [`crate::settings`]); warnings name the
    /// file and what is wrong.
    pub fn load(root: &Path, settings: &crate::settings::Settings) -> (Self, Vec<String>) {
        let mut set = Self {
            entries: Vec::new(),
            root: root.to_path_buf(),
            env: settings.env().0,
        };
        let mut warnings = Vec::new();
        for (hooks, source) in settings.hooks() {
            warnings.extend(set.add_value(hooks, source));
        }
        (set, warnings)
    }

    /// Every hook any settings file names, applied or not (the control files protect the
    /// scripts they run).
    pub fn all(root: &Path, settings: &crate::settings::Settings) -> Self {
        let mut set = Self {
            entries: Vec::new(),
            root: root.to_path_buf(),
            env: Vec::new(),
        };
        for (hooks, source, _) in settings.all_hooks() {
            set.add_value(hooks, source);
        }
        set
    }

    /// Adds a `hooks` object of a settings file or a plugin.
    pub fn add_value(&mut self, hooks: &Value, source: &str) -> Vec<String> {
        let mut diags = Vec::new();
        let mut warnings = Vec::new();
        if let Some(hooks) = parse_hooks(hooks, 1, &mut diags) {
            warnings.extend(self.add(&hooks, source));
        }
        warnings.extend(
            diags
                .into_iter()
                .map(|d| format!("{source}: {}", d.message)),
        );
        warnings
    }

    /// Adds hooks (an agent's or a command's frontmatter); returns warnings (bad matchers).
    pub fn add(&mut self, hooks: &Hooks, source: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        for (event, matchers) in hooks {
            for m in matchers {
                let pattern = m.matcher.as_deref().map(str::trim).unwrap_or("");
                let matcher = if pattern.is_empty() || pattern == "*" {
                    None
                } else {
                    match regex::Regex::new(&format!("^(?:{pattern})$")) {
                        Ok(re) => Some(re),
                        Err(e) => {
                            warnings.push(format!(
                                "{source}: {event} matcher `{pattern}` is not a valid pattern ({e}); its hooks are ignored"
                            ));
                            continue;
                        }
                    }
                };
                for handler in &m.hooks {
                    if handler.kind != "command" {
                        warnings.push(format!(
                            "{source}: {event} hook of type `{}` is not supported (only `command`); ignored",
                            handler.kind
                        ));
                        continue;
                    }
                    if handler
                        .command
                        .as_deref()
                        .is_none_or(|c| c.trim().is_empty())
                    {
                        continue;
                    }
                    self.entries.push(Entry {
                        event: event.clone(),
                        matcher: matcher.clone(),
                        handler: handler.clone(),
                        source: source.to_string(),
                    });
                }
            }
        }
        warnings
    }

    /// The same hooks plus `extra` (an agent's frontmatter hooks while it runs).
    pub fn with(&self, extra: Option<&Hooks>, source: &str) -> Self {
        let mut set = self.clone();
        if let Some(hooks) = extra {
            set.add(hooks, source);
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every hook's command line (for finding the scripts they run).
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter_map(|e| e.handler.command.as_deref())
    }

    /// Whether any hook listens to `event` (for `target`, a tool name).
    pub fn wants(&self, event: &str, target: Option<&str>) -> bool {
        self.matching(event, target).next().is_some()
    }

    fn matching<'a>(
        &'a self,
        event: &'a str,
        target: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| {
            e.event == event
                && match (&e.matcher, target) {
                    (None, _) => true,
                    (Some(re), Some(t)) => re.is_match(t),
                    (Some(_), None) => true,
                }
        })
    }

    /// Runs every hook of `event` that matches `target`, one after another, with `input`
    /// (plus `hook_event_name`, `cwd`) on stdin.
    pub async fn run(&self, event: &str, target: Option<&str>, mut input: Value) -> HookOutcome {
        let mut outcome = HookOutcome::default();
        if let Value::Object(map) = &mut input {
            map.insert("hook_event_name".into(), json!(event));
            map.entry("cwd")
                .or_insert(json!(self.root.display().to_string()));
        }
        let stdin = input.to_string();
        for entry in self.matching(event, target) {
            let command = entry.handler.command.clone().unwrap_or_default();
            let secs = entry
                .handler
                .timeout
                .filter(|t| t.is_finite() && *t > 0.0)
                .unwrap_or(DEFAULT_TIMEOUT_SECS);
            let ran = run_command(
                &self.root,
                &command,
                &stdin,
                Duration::from_secs_f64(secs),
                &self.env,
            )
            .await;
            let (code, stdout, stderr) = match ran {
                Ok(r) => r,
                Err(e) => (None, String::new(), e),
            };
            let mut run = HookRun {
                command: command.clone(),
                exit_code: code,
                blocked: false,
                message: String::new(),
            };
            match code {
                Some(0) => read_stdout(event, &stdout, &mut outcome, &mut run),
                Some(2) => {
                    let reason = if stderr.trim().is_empty() {
                        format!("blocked by hook `{command}` ({})", entry.source)
                    } else {
                        stderr.trim().to_string()
                    };
                    run.blocked = true;
                    run.message = reason.clone();
                    outcome.blocked.get_or_insert(reason);
                }
                _ => {
                    run.message = format!(
                        "hook `{command}` ({}) failed{}: {}",
                        entry.source,
                        code.map_or_else(String::new, |c| format!(" with exit {c}")),
                        stderr.trim()
                    );
                }
            }
            outcome.runs.push(run);
        }
        outcome
    }
}

/// Reads a successful hook's stdout: JSON control fields, else plain context.
fn read_stdout(event: &str, stdout: &str, outcome: &mut HookOutcome, run: &mut HookRun) {
    let trimmed = stdout.trim();
    let parsed = trimmed
        .starts_with('{')
        .then(|| serde_json::from_str::<Value>(trimmed).ok())
        .flatten();
    let Some(v) = parsed else {
        if !trimmed.is_empty() && matches!(event, "UserPromptSubmit" | "SessionStart") {
            outcome.context.push(trimmed.to_string());
        }
        return;
    };
    if v["continue"] == false {
        let reason = v["stopReason"]
            .as_str()
            .unwrap_or("a hook asked to stop")
            .to_string();
        run.blocked = true;
        run.message = reason.clone();
        outcome.stop.get_or_insert(reason);
    }
    if v["decision"] == "block" {
        let reason = v["reason"]
            .as_str()
            .unwrap_or("blocked by a hook")
            .to_string();
        run.blocked = true;
        run.message = reason.clone();
        outcome.blocked.get_or_insert(reason);
    }
    let specific = &v["hookSpecificOutput"];
    if let Some(ctx) = specific["additionalContext"].as_str() {
        outcome.context.push(ctx.to_string());
    }
    let reason = specific["permissionDecisionReason"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Of several hooks the strictest answer counts: deny > ask > allow.
    let said = match specific["permissionDecision"].as_str() {
        Some("allow") => Some(HookPermission::Allow(reason)),
        Some("deny") => Some(HookPermission::Deny(reason)),
        Some("ask") => Some(HookPermission::Ask(reason)),
        _ => None,
    };
    if let Some(said) = said {
        let rank = |p: &HookPermission| match p {
            HookPermission::Deny(_) => 2,
            HookPermission::Ask(_) => 1,
            HookPermission::Allow(_) => 0,
        };
        if outcome
            .permission
            .as_ref()
            .is_none_or(|p| rank(&said) > rank(p))
        {
            run.message = format!("{said:?}");
            outcome.permission = Some(said);
        }
    }
}

/// `sh -c command` in the repository with `stdin`; (exit code, stdout, stderr). A hook that
/// outlives its timeout is killed and counts as failed (not as a block).
async fn run_command(
    root: &Path,
    command: &str,
    stdin: &str,
    timeout: Duration,
    env: &[(String, String)],
) -> Result<(Option<i32>, String, String), String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(root)
        .env("CLAUDE_PROJECT_DIR", root)
        .env("AGENTOPS_PROJECT_DIR", root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
    if let Some(mut pipe) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = pipe.write_all(stdin.as_bytes()).await;
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            agentops_tools::redact::redact_text(&String::from_utf8_lossy(&out.stderr)),
        )),
        Ok(Err(e)) => Err(format!("`{command}`: {e}")),
        Err(_) => Err(format!(
            "`{command}` did not finish within {}s and was stopped",
            timeout.as_secs_f64()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(root: &Path, hooks: Value) -> HookSet {
        let mut w = Vec::new();
        let parsed = parse_hooks(&hooks, 1, &mut w).unwrap();
        let mut s = HookSet {
            entries: Vec::new(),
            root: root.to_path_buf(),
            env: Vec::new(),
        };
        assert!(s.add(&parsed, "test").is_empty());
        s
    }

    #[tokio::test]
    async fn exit_2_blocks_with_stderr_and_matchers_are_anchored_patterns() {
        let tmp = tempfile::tempdir().unwrap();
        let s = set(
            tmp.path(),
            json!({"PreToolUse": [{"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "cat > seen.json; echo 'no edits on Fridays' >&2; exit 2"}]}]}),
        );
        assert!(!s.wants("PreToolUse", Some("Bash")));
        assert!(!s.wants("PreToolUse", Some("EditX")));
        let out = s
            .run(
                "PreToolUse",
                Some("Edit"),
                json!({"tool_name": "Edit", "tool_input": {"file_path": "a"}}),
            )
            .await;
        assert_eq!(out.blocked.as_deref(), Some("no edits on Fridays"));
        let seen: Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("seen.json")).unwrap())
                .unwrap();
        assert_eq!(seen["hook_event_name"], "PreToolUse");
        assert_eq!(seen["tool_input"]["file_path"], "a");
    }

    #[tokio::test]
    async fn json_output_permission_decisions_strictest_wins_and_failures_only_warn() {
        let tmp = tempfile::tempdir().unwrap();
        let allow = r#"echo '{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow", "permissionDecisionReason": "safe"}}'"#;
        let deny = r#"echo '{"hookSpecificOutput": {"permissionDecision": "deny", "permissionDecisionReason": "no"}}'"#;
        let s = set(
            tmp.path(),
            json!({"PreToolUse": [{"hooks": [{"type": "command", "command": allow}]}]}),
        );
        let out = s.run("PreToolUse", Some("Bash"), json!({})).await;
        assert_eq!(out.permission, Some(HookPermission::Allow("safe".into())));
        let s = set(
            tmp.path(),
            json!({"PreToolUse": [{"hooks": [{"type": "command", "command": allow}, {"type": "command", "command": deny}, {"type": "command", "command": "exit 7"}]}]}),
        );
        let out = s.run("PreToolUse", Some("Bash"), json!({})).await;
        assert_eq!(out.permission, Some(HookPermission::Deny("no".into())));
        assert_eq!(out.blocked, None, "exit 7 is not a block");
        assert!(out.runs[2].message.contains("failed with exit 7"));
    }

    #[tokio::test]
    async fn prompt_context_continue_false_and_timeouts() {
        let tmp = tempfile::tempdir().unwrap();
        let s = set(
            tmp.path(),
            json!({
                "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "echo 'Change freeze until Monday.'"}]}],
                "Stop": [{"hooks": [{"type": "command", "command": r#"echo '{"continue": false, "stopReason": "enough"}'"#}]}],
                "SessionEnd": [{"hooks": [{"type": "command", "command": "sleep 5", "timeout": 0.2}]}]
            }),
        );
        let out = s
            .run("UserPromptSubmit", None, json!({"prompt": "hi"}))
            .await;
        assert_eq!(out.context, ["Change freeze until Monday."]);
        let out = s.run("Stop", None, json!({})).await;
        assert_eq!(out.stop.as_deref(), Some("enough"));
        let started = std::time::Instant::now();
        let out = s.run("SessionEnd", None, json!({})).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(
            out.runs[0].message.contains("did not finish"),
            "{:?}",
            out.runs
        );
        assert_eq!(out.blocked, None);
    }

    #[test]
    fn settings_files_are_read_and_bad_matchers_warn() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".claude")).unwrap();
        std::fs::write(
            tmp.path().join(".claude/settings.json"),
            r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}, {"matcher": "(", "hooks": [{"type": "command", "command": "true"}]}]}}"#,
        )
        .unwrap();
        let settings = crate::settings::Settings::load(
            tmp.path(),
            None,
            &crate::settings::LoadOptions::default(),
            true,
        )
        .unwrap();
        let (s, warnings) = HookSet::load(tmp.path(), &settings);
        assert!(s.wants("PreToolUse", Some("Bash")));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("matcher `(` is not a valid pattern"));
    }
}
