//! Permission rules in Claude Code's syntax: `Bash`, `Bash(git diff:*)`, `Bash(ls *)`,
//! `Read(./apps/**)`, `mcp__server__*`, from `allow`, `ask` and `deny` lists.
//!
//! Sources, all merged: `.claude/settings.json` and `.claude/settings.local.json` of the
//! repository, `~/.claude/settings.json`, `[permissions]` in agentops.toml, a command's
//! `allowed-tools` and `--allowed-tools`/`--disallowed-tools`. Deny wins over ask, ask over
//! allow. A shell command is split into its parts (`&&`, `||`, `;`, `|`, `&`, newlines,
//! `$(…)` and backticks) and every part is checked: one denied part denies the whole command,
//! and it is allowed only when every part is. Without a matching rule, read-only tools are
//! allowed and everything else asks — and a headless run has nobody to ask, so it is denied.

use agentops_agents::tools::ToolSpec;
use agentops_tools::Risk;
use agentops_tools::path::resolve;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// What the rules say about one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A person must agree; `String` says why.
    Ask(String),
    Deny(String),
}

/// One rule and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub tool: String,
    pub pattern: Option<String>,
    pub source: String,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Some(p) => write!(f, "{}({p})", self.tool),
            None => f.write_str(&self.tool),
        }
    }
}

impl Rule {
    pub fn parse(text: &str, source: &str) -> Self {
        let text = text.trim();
        match text.split_once('(') {
            Some((tool, rest)) if rest.ends_with(')') => Self {
                tool: tool.trim().to_string(),
                pattern: Some(rest[..rest.len() - 1].to_string()),
                source: source.to_string(),
            },
            _ => Self {
                tool: text.to_string(),
                pattern: None,
                source: source.to_string(),
            },
        }
    }

    fn from_spec(spec: &ToolSpec, source: &str) -> Self {
        Self {
            tool: spec.name.clone(),
            pattern: spec.rule.clone(),
            source: source.to_string(),
        }
    }

    fn names_tool(&self, tool: &str) -> bool {
        if let Some(prefix) = self.tool.strip_suffix('*') {
            return tool.starts_with(prefix);
        }
        // `mcp__server` covers every tool of that server.
        self.tool == tool
            || (self.tool.starts_with("mcp__")
                && self.tool.matches("__").count() == 1
                && tool.starts_with(&format!("{}__", self.tool)))
    }
}

/// The `permissions` object of a settings file, and `[permissions]` in agentops.toml.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct RuleLists {
    pub allow: Vec<String>,
    pub ask: Vec<String>,
    pub deny: Vec<String>,
}

/// The merged rules and how to match paths.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    pub allow: Vec<Rule>,
    pub ask: Vec<Rule>,
    pub deny: Vec<Rule>,
    /// Rules that name nothing agentops knows, one message each (not applied).
    pub warnings: Vec<String>,
    /// Allow rules of the repository's files not applied because it is not trusted.
    pub withheld_allow: usize,
    /// `permissions.defaultMode` of the settings layers, with its file: the mode of every
    /// agent that sets none.
    pub default_mode: Option<(agentops_agents::definition::PermissionMode, String)>,
    root: PathBuf,
    cwd: PathBuf,
    home: Option<PathBuf>,
}

/// A denied call, for the run's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Denial {
    pub agent: String,
    pub tool: String,
    pub input: Value,
    pub reason: String,
}

impl Permissions {
    pub fn new(root: &Path, cwd: &Path, home: Option<&Path>) -> Self {
        Self {
            root: root.to_path_buf(),
            cwd: cwd.to_path_buf(),
            home: home.map(Path::to_path_buf),
            ..Self::default()
        }
    }

    /// The rules of the settings layers, then agentops.toml's `[permissions]` (the
    /// repository's: its allow rules apply only when it is trusted).
    pub fn load(
        root: &Path,
        cwd: &Path,
        home: Option<&Path>,
        settings: &crate::settings::Settings,
        config: &RuleLists,
    ) -> Self {
        let mut p = Self::new(root, cwd, home);
        p.default_mode = settings.default_mode();
        for (lists, source) in settings.rule_lists() {
            p.add(&lists, &source);
        }
        if settings.trusted {
            p.add(config, "agentops.toml");
        } else {
            p.withheld_allow = config.allow.len()
                + settings
                    .files
                    .iter()
                    .filter(|f| f.layer.is_repository())
                    .filter_map(|f| f.value.pointer("/permissions/allow")?.as_array())
                    .map(Vec::len)
                    .sum::<usize>();
            p.add(
                &RuleLists {
                    allow: Vec::new(),
                    ..config.clone()
                },
                "agentops.toml",
            );
        }
        p
    }

    /// Adds rule lists; a rule that names no tool agentops knows is not added, and says so
    /// in [`Permissions::warnings`].
    pub fn add(&mut self, lists: &RuleLists, source: &str) {
        for (list, texts) in [
            (&mut self.allow, &lists.allow),
            (&mut self.ask, &lists.ask),
            (&mut self.deny, &lists.deny),
        ] {
            for text in texts {
                let rule = Rule::parse(text, source);
                match unknown_rule(&rule) {
                    Some(why) => self.warnings.push(format!(
                        "{source}: rule `{}` {why}; not applied",
                        text.trim()
                    )),
                    None => list.push(rule),
                }
            }
        }
    }

    /// Adds allow rules (a command's `allowed-tools`, `--allowed-tools`).
    pub fn allow_specs(&mut self, specs: &[ToolSpec], source: &str) {
        self.allow
            .extend(specs.iter().map(|s| Rule::from_spec(s, source)));
    }

    /// Adds deny rules (`--disallowed-tools`).
    pub fn deny_specs(&mut self, specs: &[ToolSpec], source: &str) {
        self.deny
            .extend(specs.iter().map(|s| Rule::from_spec(s, source)));
    }

    /// Decides one call of `tool` with `input`.
    pub fn check(&self, tool: &str, input: &Value, risk: Risk) -> Decision {
        self.check_in(tool, input, risk, None)
    }

    /// The mode `agent` runs in: its own `permissionMode`, else the settings' `defaultMode`.
    pub fn mode_of(
        &self,
        agent: &agentops_agents::AgentDefinition,
    ) -> Option<agentops_agents::definition::PermissionMode> {
        agent
            .permission_mode
            .or(self.default_mode.as_ref().map(|(m, _)| *m))
    }

    /// Decides one call of `tool` in a permission mode: `acceptEdits` allows the file-editing
    /// tools that no rule denies or asks about (the gates and approvals still follow).
    pub fn check_in(
        &self,
        tool: &str,
        input: &Value,
        risk: Risk,
        mode: Option<agentops_agents::definition::PermissionMode>,
    ) -> Decision {
        if tool == "Bash" {
            let command = input
                .get("command")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return self.check_shell(command);
        }
        if tool == "Skill" {
            return self.check_skill(input.get("skill").and_then(Value::as_str).unwrap_or(""));
        }
        let subjects = self.subjects(tool, input);
        let hit = |rules: &[Rule], restrictive: bool| -> Option<Rule> {
            rules
                .iter()
                .find(|r| {
                    covers(&r.tool, tool, r.names_tool(tool))
                        && self.matches_subjects(r, &subjects, restrictive)
                })
                .cloned()
        };
        if let Some(r) = hit(&self.deny, true) {
            return Decision::Deny(format!("denied by `{r}` ({})", r.source));
        }
        if let Some(r) = hit(&self.ask, true) {
            return Decision::Ask(format!("`{r}` ({}) asks for approval", r.source));
        }
        if hit(&self.allow, false).is_some() || risk == Risk::ReadOnly {
            return Decision::Allow;
        }
        if mode == Some(agentops_agents::definition::PermissionMode::AcceptEdits)
            && EDITING.contains(&tool)
        {
            return Decision::Allow;
        }
        Decision::Ask(format!(
            "{tool} changes things and no rule allows it{}",
            self.untrusted_hint()
        ))
    }

    /// Said when a call needs approval while the repository's allow rules are withheld.
    fn untrusted_hint(&self) -> String {
        if self.withheld_allow == 0 {
            return String::new();
        }
        format!(
            " (this repository's {} allow rule{} apply only once it is trusted: `agentops trust`, or --trust-repo)",
            self.withheld_allow,
            if self.withheld_allow == 1 { "" } else { "s" }
        )
    }

    /// The Skill tool: `Skill(name)` rules name a skill (`Skill(deploy:*)` a namespace or a
    /// prefix); loading a skill's text changes nothing, so it is allowed unless a deny or ask
    /// rule says otherwise.
    fn check_skill(&self, skill: &str) -> Decision {
        let matches = |r: &&Rule| {
            r.tool == "Skill"
                && r.pattern.as_deref().is_none_or(|p| {
                    let p = p.trim();
                    match p.strip_suffix('*') {
                        Some(prefix) => skill.starts_with(prefix.trim_end_matches(':')),
                        None => p == skill,
                    }
                })
        };
        if let Some(r) = self.deny.iter().find(matches) {
            return Decision::Deny(format!("denied by `{r}` ({})", r.source));
        }
        if let Some(r) = self.ask.iter().find(matches) {
            return Decision::Ask(format!("`{r}` ({}) asks for approval", r.source));
        }
        Decision::Allow
    }

    /// A shell command: every simple command in it must be allowed. The line is read with a
    /// bash grammar ([`crate::shell_syntax`]); what it cannot read with certainty no prefix
    /// rule covers, while deny and ask rules still see every command, nested ones included.
    pub fn check_shell(&self, command: &str) -> Decision {
        let line = crate::shell_syntax::parse(command);
        let parts: Vec<String> = line
            .commands
            .iter()
            .map(crate::shell_syntax::SimpleCommand::line)
            .collect();
        if parts.is_empty() {
            return Decision::Deny(match line.uncertain {
                Some(why) => format!("no command to run: {why}"),
                None => "empty command".to_string(),
            });
        }
        // Options that make a reading command write or read outside (`--output`,
        // `--no-index`, `-exec`, `sed -i`, …) are not covered by a prefix rule either.
        let uncertain = line.uncertain.clone().or_else(|| {
            line.commands
                .iter()
                .find_map(|c| c.words.as_deref().and_then(dangerous_option))
        });
        let matching = |rules: &[Rule], part: &str| -> Option<Rule> {
            rules
                .iter()
                .find(|r| {
                    r.names_tool("Bash")
                        && r.pattern.as_deref().is_none_or(|p| shell_matches(p, part))
                })
                .cloned()
        };
        // Deny and ask rules are judged on each command's words and on its text as written.
        let judged: Vec<(&String, String)> = parts
            .iter()
            .zip(&line.commands)
            .map(|(p, c)| (p, c.text.clone()))
            .collect();
        for (part, text) in &judged {
            if let Some(r) = matching(&self.deny, part).or_else(|| matching(&self.deny, text)) {
                return Decision::Deny(format!("`{part}` is denied by `{r}` ({})", r.source));
            }
        }
        for (part, text) in &judged {
            if let Some(r) = matching(&self.ask, part).or_else(|| matching(&self.ask, text)) {
                return Decision::Ask(format!("`{part}`: `{r}` ({}) asks for approval", r.source));
            }
        }
        // A line that may run commands the rules cannot see is not allowed without a person
        // while any deny or ask rule for the shell exists, whatever else allows it.
        let guarded = self
            .deny
            .iter()
            .chain(&self.ask)
            .any(|r| r.names_tool("Bash") && r.pattern.is_some());
        if guarded && let Some(why) = &line.opaque {
            return Decision::Ask(format!(
                "a deny or ask rule guards the shell, and this line may run commands it cannot see: {why}; write the commands out plainly"
            ));
        }
        // A bare `Bash` allow rule allows every command; prefix rules vouch only for what
        // they can read.
        let bare = self
            .allow
            .iter()
            .any(|r| r.names_tool("Bash") && r.pattern.is_none());
        if let Some(why) = uncertain.filter(|_| !bare) {
            return Decision::Ask(format!(
                "no allow rule covers this command: {why}; run something simpler (plain words, no `$`, no redirection into files), or use the typed tools"
            ));
        }
        // Allow rules judge the commands as written; what they hold is judged by deny rules.
        let written: Vec<&String> = parts
            .iter()
            .zip(&line.commands)
            .filter(|(_, c)| !c.implied)
            .map(|(p, _)| p)
            .collect();
        match written
            .iter()
            .find(|part| matching(&self.allow, part).is_none())
        {
            None => Decision::Allow,
            Some(part) => Decision::Ask(format!(
                "no rule allows `{part}`; allow it with a rule such as `Bash({}:*)`{}",
                part.split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
                self.untrusted_hint()
            )),
        }
    }

    /// What a call works on: the path as written and as it really is (symlinks resolved),
    /// and whether it is a folder the tool searches or renders as a whole.
    fn subjects(&self, tool: &str, input: &Value) -> Vec<Subject> {
        let (key, scope) = match tool {
            "Read" | "Write" | "Edit" | "MultiEdit" | "NotebookEdit" | "NotebookRead"
            | "git_blame" => ("file_path", false),
            "Glob" | "Grep" | "LS" | "kustomize_build" | "validate" | "git_diff" | "git_log" => {
                ("path", true)
            }
            // find renders and shows every overlay of the repository.
            "find" => ("", true),
            _ => return Vec::new(),
        };
        let path = input.get(key).and_then(Value::as_str).unwrap_or(".");
        let written = normalize(&self.cwd.join(path));
        let real = resolve(&written);
        vec![Subject {
            written,
            real,
            scope,
        }]
    }

    /// Whether `rule`'s path pattern covers the call. A restrictive rule (deny, ask) covers it
    /// when the path as written or as resolved matches, or when a searched or rendered folder
    /// contains what the rule names; an allow rule only when the resolved path matches.
    fn matches_subjects(&self, rule: &Rule, subjects: &[Subject], restrictive: bool) -> bool {
        let Some(pattern) = &rule.pattern else {
            return true;
        };
        let Some(base) = self.pattern_base(pattern) else {
            return false;
        };
        let Ok(glob) = globset::GlobBuilder::new(&base.to_string_lossy())
            .literal_separator(true)
            .build()
        else {
            return false;
        };
        let glob = glob.compile_matcher();
        subjects.iter().any(|s| {
            if !restrictive {
                return glob.is_match(&s.real);
            }
            let named = literal_prefix(&base);
            glob.is_match(&s.written)
                || glob.is_match(&s.real)
                || (s.scope && (named.starts_with(&s.real) || named.starts_with(&s.written)))
        })
    }

    /// A rule's path pattern as an absolute glob.
    fn pattern_base(&self, pattern: &str) -> Option<PathBuf> {
        Some(if let Some(abs) = pattern.strip_prefix("//") {
            PathBuf::from("/").join(abs)
        } else if let Some(rel) = pattern.strip_prefix("~/") {
            self.home.as_ref()?.join(rel)
        } else {
            self.root
                .join(pattern.trim_start_matches("./").trim_start_matches('/'))
        })
    }
}

/// What a call works on (see [`Permissions::subjects`]).
struct Subject {
    written: PathBuf,
    real: PathBuf,
    scope: bool,
}

/// Tools whose every call edits a file: an `Edit(...)` or `Write(...)` rule covers them all.
const EDITING: &[&str] = &["Edit", "Write", "MultiEdit", "NotebookEdit"];
/// Tools whose output shows files' content: a `Read(...)` rule covers them all.
const READING: &[&str] = &[
    "Read",
    "Grep",
    "Glob",
    "LS",
    "NotebookRead",
    "git_diff",
    "git_blame",
    "git_log",
    "kustomize_build",
    "validate",
    "find",
];

/// Whether a rule for `rule_tool` speaks for a call of `tool` (its family, as in Claude
/// Code: an Edit rule covers every tool that edits, a Read rule every tool that shows).
/// Why `rule` names nothing agentops knows (`*`, a typo, a tool no runtime has), or `None`.
fn unknown_rule(rule: &Rule) -> Option<String> {
    use agentops_agents::tools::{AGENTOPS_TOOLS, CLAUDE_CODE_TOOLS};
    let name = rule.tool.as_str();
    if name.is_empty() {
        return Some("names no tool".into());
    }
    if let Some(prefix) = name.strip_suffix('*') {
        // Only an MCP server's tools can be named by a prefix (`mcp__github__*`).
        return (!prefix.starts_with("mcp__") || prefix.len() <= "mcp__".len()).then(|| {
            "is a wildcard over tool names: name a tool (`Bash`, `Read`, `Edit(./apps/**)`) or an MCP server (`mcp__github`)".to_string()
        });
    }
    const LEGACY: &[&str] = &["Task", "MultiEdit", "LS", "NotebookRead", "TodoRead"];
    if name.starts_with("mcp__")
        || CLAUDE_CODE_TOOLS.contains(&name)
        || AGENTOPS_TOOLS.contains(&name)
        || LEGACY.contains(&name)
    {
        return None;
    }
    let near = CLAUDE_CODE_TOOLS
        .iter()
        .chain(AGENTOPS_TOOLS)
        .find(|t| t.eq_ignore_ascii_case(name));
    Some(match near {
        Some(t) => format!("names no tool agentops knows (did you mean `{t}`?)"),
        None => "names no tool agentops knows".to_string(),
    })
}

fn covers(rule_tool: &str, tool: &str, named: bool) -> bool {
    named
        || (EDITING.contains(&rule_tool) && EDITING.contains(&tool))
        || (rule_tool == "Read" && READING.contains(&tool))
}

/// The folder part of a glob before its first wildcard.
fn literal_prefix(glob: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in glob.components() {
        let text = c.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            break;
        }
        out.push(c);
    }
    out
}

/// Removes `.` and resolves `..` lexically (the file may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// An option that makes a reading command write, run or read outside, or an argument outside
/// the repository, if `words` has one.
fn dangerous_option(words: &[String]) -> Option<String> {
    let program = words.first().map(String::as_str).unwrap_or_default();
    let found = words.iter().skip(1).find(|w| {
        w.starts_with("--output")
            || w.starts_with("--no-index")
            || matches!(
                w.as_str(),
                "-exec"
                    | "-execdir"
                    | "-delete"
                    | "-ok"
                    | "-okdir"
                    | "-fprint"
                    | "-fprintf"
                    | "-fls"
                    | "-fprint0"
            )
            || w.starts_with("--exec")
            || w.starts_with("--upload-pack")
            || w.starts_with("--receive-pack")
            || w.starts_with("--ext-diff")
            || w.starts_with("--open-files-in-pager")
            || (program == "git"
                && (w.starts_with("-c")
                    || w.starts_with("-C")
                    || w.starts_with("--git-dir")
                    || w.starts_with("--work-tree")
                    || w.starts_with("--config-env")))
            || (program == "sed"
                && ((w.starts_with('-') && !w.starts_with("--") && w.contains('i'))
                    || w.starts_with("--in-place")))
    });
    if let Some(w) = found {
        return Some(format!("the option `{w}`"));
    }
    // Arguments that name files outside the repository (git diff reads them with
    // `--no-index`, cat shows them): the sandbox shows the system read-only, rules do not.
    words.iter().skip(1).find_map(|w| {
        let value = w.split_once('=').map_or(w.as_str(), |(_, v)| v);
        let outside = (value.starts_with('/') && value != "/dev/null")
            || value.split('/').any(|part| part == "..");
        outside.then(|| format!("`{w}`, a path outside the repository"))
    })
}

/// `git diff:*` is a prefix; `ls *` a wildcard; anything else exact.
fn shell_matches(pattern: &str, command: &str) -> bool {
    let command = command.trim();
    if let Some(prefix) = pattern.strip_suffix(":*") {
        let prefix = prefix.trim();
        return command == prefix || command.starts_with(&format!("{prefix} "));
    }
    if pattern.contains('*') {
        let mut regex = String::from("^");
        for (i, piece) in pattern.split('*').enumerate() {
            if i > 0 {
                regex.push_str(".*");
            }
            regex.push_str(&regex_escape(piece));
        }
        regex.push('$');
        return regex::Regex::new(&regex).is_ok_and(|r| r.is_match(command));
    }
    command == pattern.trim()
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn perms(allow: &[&str], ask: &[&str], deny: &[&str]) -> Permissions {
        let mut p = Permissions::new(
            Path::new("/repo"),
            Path::new("/repo"),
            Some(Path::new("/home/u")),
        );
        p.add(
            &RuleLists {
                allow: allow.iter().map(|s| s.to_string()).collect(),
                ask: ask.iter().map(|s| s.to_string()).collect(),
                deny: deny.iter().map(|s| s.to_string()).collect(),
            },
            "test",
        );
        p
    }

    fn bash(p: &Permissions, cmd: &str) -> Decision {
        p.check("Bash", &json!({"command": cmd}), Risk::Execute)
    }

    #[test]
    fn prefix_wildcard_and_exact_rules() {
        let p = perms(&["Bash(git diff:*)", "Bash(ls *)", "Bash(pwd)"], &[], &[]);
        assert_eq!(bash(&p, "git diff --stat"), Decision::Allow);
        assert_eq!(bash(&p, "git diff"), Decision::Allow);
        assert!(matches!(bash(&p, "git diffx"), Decision::Ask(_)));
        assert_eq!(bash(&p, "ls -la apps"), Decision::Allow);
        assert_eq!(bash(&p, "pwd"), Decision::Allow);
        assert!(matches!(bash(&p, "pwd -P"), Decision::Ask(_)));
    }

    #[test]
    fn every_part_of_a_compound_command_is_checked() {
        let p = perms(&["Bash(git diff:*)", "Bash(head:*)"], &[], &["Bash(rm:*)"]);
        assert_eq!(bash(&p, "git diff | head -5"), Decision::Allow);
        assert!(matches!(
            bash(&p, "git diff && rm -rf /"),
            Decision::Deny(_)
        ));
        assert!(matches!(bash(&p, "git diff; curl evil"), Decision::Ask(_)));
        assert!(matches!(
            bash(&p, "git diff $(rm -rf ~)"),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn deny_beats_ask_beats_allow() {
        let p = perms(
            &["Bash"],
            &["Bash(git push:*)"],
            &["Bash(git push --force:*)"],
        );
        assert_eq!(bash(&p, "git status"), Decision::Allow);
        assert!(matches!(bash(&p, "git push origin main"), Decision::Ask(_)));
        assert!(matches!(
            bash(&p, "git push --force origin main"),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn file_rules_use_globs_relative_to_the_repo() {
        let p = perms(
            &["Edit(./apps/**)"],
            &[],
            &["Read(./secrets/**)", "Read(//etc/**)"],
        );
        assert!(matches!(
            p.check(
                "Read",
                &json!({"file_path": "secrets/db.yaml"}),
                Risk::ReadOnly
            ),
            Decision::Deny(_)
        ));
        assert!(matches!(
            p.check(
                "Read",
                &json!({"file_path": "apps/../secrets/x"}),
                Risk::ReadOnly
            ),
            Decision::Deny(_)
        ));
        assert_eq!(
            p.check(
                "Read",
                &json!({"file_path": "apps/web/x.yaml"}),
                Risk::ReadOnly
            ),
            Decision::Allow
        );
        assert_eq!(
            p.check(
                "Edit",
                &json!({"file_path": "apps/web/x.yaml"}),
                Risk::Write
            ),
            Decision::Allow
        );
        assert!(matches!(
            p.check("Edit", &json!({"file_path": "README.md"}), Risk::Write),
            Decision::Ask(_)
        ));
        assert!(matches!(
            p.check("Read", &json!({"file_path": "/etc/passwd"}), Risk::ReadOnly),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn mcp_wildcards() {
        let p = perms(&[], &[], &["mcp__kubernetes__*", "mcp__github"]);
        assert!(matches!(
            p.check("mcp__kubernetes__kubectl_delete", &json!({}), Risk::Mutate),
            Decision::Deny(_)
        ));
        assert!(matches!(
            p.check("mcp__github__create_issue", &json!({}), Risk::Mutate),
            Decision::Deny(_)
        ));
        assert!(matches!(
            p.check("mcp__other__x", &json!({}), Risk::Mutate),
            Decision::Ask(_)
        ));
    }

    #[test]
    fn settings_rules_apply_and_an_untrusted_repository_only_restricts() {
        use crate::settings::{LoadOptions, Settings};
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".claude")).unwrap();
        std::fs::write(
            root.join(".claude/settings.json"),
            r#"{"permissions": {"allow": ["Bash(git status:*)", "*", "Bsah", "write"], "deny": ["Bash(rm:*)"]}}"#,
        )
        .unwrap();
        let config = RuleLists {
            allow: vec!["Bash(ls:*)".into()],
            ..RuleLists::default()
        };
        let load = |trusted| {
            let s = Settings::load(root, None, &LoadOptions::default(), trusted).unwrap();
            Permissions::load(root, root, None, &s, &config)
        };
        let p = load(true);
        assert_eq!(p.check_shell("git status"), Decision::Allow);
        assert_eq!(p.check_shell("ls"), Decision::Allow);
        assert!(matches!(p.check_shell("rm x"), Decision::Deny(r) if r.contains("settings.json")));
        // `*`, a typo and a wrong case are reported, never applied.
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
        assert!(
            p.warnings[0].contains("`*` is a wildcard"),
            "{:?}",
            p.warnings
        );
        assert!(
            p.warnings[2].contains("did you mean `Write`"),
            "{:?}",
            p.warnings
        );
        assert!(matches!(
            p.check("Write", &json!({"file_path": "x"}), Risk::Write),
            Decision::Ask(_)
        ));
        let p = load(false);
        assert!(
            matches!(p.check_shell("git status"), Decision::Ask(r) if r.contains("agentops trust"))
        );
        assert!(matches!(p.check_shell("ls"), Decision::Ask(_)));
        assert!(matches!(p.check_shell("rm x"), Decision::Deny(_)));
        assert_eq!(p.withheld_allow, 5);
    }

    #[test]
    fn rules_judge_the_real_path_and_cover_their_tool_family() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        for d in ["apps/web", ".claude", "secrets", "argocd", "docs"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("secrets/db.yaml"), "x").unwrap();
        std::os::unix::fs::symlink("../.claude", root.join("apps/cfg")).unwrap();
        std::os::unix::fs::symlink("../secrets", root.join("docs/s")).unwrap();
        let mut p = Permissions::new(&root, &root, None);
        p.allow.push(Rule::parse("Write(./apps/**)", "test"));
        p.deny.push(Rule::parse("Read(./secrets/**)", "test"));
        p.deny.push(Rule::parse("Edit(./argocd/**)", "test"));
        let write = |path: &str| {
            p.check(
                "Write",
                &json!({"file_path": path, "content": ""}),
                Risk::Write,
            )
        };
        assert_eq!(write("apps/web/a.yaml"), Decision::Allow);
        // Through the symlink it is .claude/: the allow rule does not speak for it.
        assert!(matches!(write("apps/cfg/settings.json"), Decision::Ask(_)));
        // An Edit rule covers Write of the same file.
        assert!(matches!(write("argocd/app.yaml"), Decision::Deny(_)));
        // A Read deny covers every tool that shows the file, however it is reached.
        for (tool, input) in [
            ("Read", json!({"file_path": "docs/s/db.yaml"})),
            ("Grep", json!({"pattern": "password", "path": "."})),
            ("Grep", json!({"pattern": "password", "path": "secrets"})),
            ("git_blame", json!({"file_path": "secrets/db.yaml"})),
            ("git_diff", json!({})),
            ("kustomize_build", json!({"path": "docs/s"})),
        ] {
            assert!(
                matches!(p.check(tool, &input, Risk::ReadOnly), Decision::Deny(_)),
                "{tool} {input}"
            );
        }
        assert_eq!(
            p.check(
                "Grep",
                &json!({"pattern": "x", "path": "apps"}),
                Risk::ReadOnly
            ),
            Decision::Allow
        );
    }

    #[test]
    fn a_prefix_rule_vouches_only_for_what_the_splitter_can_read() {
        let p = perms(&["Bash(git diff:*)"], &[], &[]);
        for attack in [
            "git diff \"`touch x`\"",
            "git diff \"\\\"\" ; touch x ; echo \"\\\"\"",
            "git diff <(touch x)",
            "git diff >(touch x)",
            "git diff \"$(touch x)\"",
            "git diff --output=/tmp/x",
            "git diff --no-index /etc/passwd README.md",
            "git diff > apps/web/deployment.yaml",
            "git() { touch x; }; git diff",
            "GIT_EXTERNAL_DIFF=./x.sh git diff",
            "git diff $(printf -- --output)=x",
            "git diff *",
            "git diff {--output=x,HEAD}",
            "git -c diff.external=./x.sh diff",
            "git diff \\
--output=x",
            "git diff \"unterminated",
        ] {
            assert!(!matches!(bash(&p, attack), Decision::Allow), "{attack}");
        }
        assert_eq!(
            bash(&p, "git diff HEAD~1 -- apps 2>/dev/null"),
            Decision::Allow
        );
        // Quoting does not hide a command from its rule, nor does it need to be avoided.
        assert_eq!(bash(&p, "\"git\" 'diff' -- 'apps/web'"), Decision::Allow);
        let deny = perms(&["Bash"], &[], &["Bash(rm:*)"]);
        assert!(matches!(bash(&deny, "\"r\"m -rf apps"), Decision::Deny(_)));
        assert!(matches!(
            bash(&deny, "echo \"$(rm -rf apps)\""),
            Decision::Deny(_)
        ));
        // A bare Bash rule allows every command (the sandbox and the gates still apply).
        assert_eq!(
            bash(&perms(&["Bash"], &[], &[]), "git diff <(true)"),
            Decision::Allow
        );
    }

    #[test]
    fn deny_rules_see_wrapped_nested_and_hidden_commands() {
        let p = perms(&["Bash"], &[], &["Bash(rm:*)"]);
        for denied in [
            "command rm -rf apps",
            "/bin/rm -rf apps",
            "env X=1 nohup rm -rf apps",
            "sudo -u root rm -rf apps",
            "eval 'rm -rf apps'",
            "bash -c 'rm -rf apps'",
            "find . -exec rm {} ;",
        ] {
            assert!(matches!(bash(&p, denied), Decision::Deny(_)), "{denied}");
        }
        for hidden in [
            "$'rm' -rf apps",
            "x=rm; $x -rf apps",
            "r\\\nm -rf apps",
            "echo \r# ; rm -rf apps",
            "bash ./cleanup.sh",
        ] {
            assert!(matches!(bash(&p, hidden), Decision::Ask(_)), "{hidden:?}");
        }
        // Without a deny or ask rule, a bare Bash rule allows them (the sandbox and gates stay).
        assert_eq!(
            bash(&perms(&["Bash"], &[], &[]), "x=rm; $x -rf apps"),
            Decision::Allow
        );
        // A prefix rule does not vouch for arguments outside the repository.
        let p = perms(&["Bash(git diff:*)", "Bash(cat:*)"], &[], &[]);
        for outside in [
            "git diff /etc/hostname /dev/null",
            "cat ../../etc/passwd",
            "cat /etc/passwd",
        ] {
            assert!(!matches!(bash(&p, outside), Decision::Allow), "{outside}");
        }
        assert_eq!(
            bash(&p, "cat apps/web/base/deployment.yaml"),
            Decision::Allow
        );
    }
}
