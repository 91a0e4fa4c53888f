//! Agent definitions: the typed form of `.claude/agents/*.md`.

use crate::coerce;
use crate::diagnostic::Diagnostic;
use crate::fields::{self, Field, Fields};
use crate::frontmatter;
use crate::hooks::{Hooks, parse_hooks};
use crate::tools::{ToolList, parse_tool_list};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a definition came from, in precedence order (project wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Project,
    User,
    Builtin,
    /// A plugin's (`.claude-plugin/plugin.json`); names are `plugin:name`.
    Plugin,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Project => "project",
            Source::User => "user",
            Source::Builtin => "builtin",
            Source::Plugin => "plugin",
        })
    }
}

/// Where the text being parsed comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source: Source,
    /// The file, or `builtin/<file>` for definitions shipped in the binary.
    pub path: PathBuf,
}

impl Origin {
    pub fn new(source: Source, path: impl Into<PathBuf>) -> Self {
        Self {
            source,
            path: path.into(),
        }
    }

    /// The file name without `.md`: the name of last resort.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionMode {
    Default,
    AcceptEdits,
    Plan,
    BypassPermissions,
    DontAsk,
}

impl PermissionMode {
    pub const ALL: &[(&str, PermissionMode)] = &[
        ("default", PermissionMode::Default),
        ("acceptEdits", PermissionMode::AcceptEdits),
        ("plan", PermissionMode::Plan),
        ("bypassPermissions", PermissionMode::BypassPermissions),
        ("dontAsk", PermissionMode::DontAsk),
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s.trim()))
            .map(|(_, mode)| *mode)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryScope {
    User,
    Project,
    Local,
}

/// An entry of `mcpServers`: a server configured elsewhere by name, or an inline config.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum McpServer {
    Named(String),
    Inline { name: String, config: Value },
}

/// A loaded agent definition. Every field of DESIGN.md §5 has a typed home; keys agentops does
/// not know are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentDefinition {
    pub name: String,
    pub description: String,
    /// `None`: inherit every tool. `Some(vec![])`: no tools.
    pub tools: Option<ToolList>,
    pub disallowed_tools: ToolList,
    /// `sonnet|opus|haiku|inherit` or a model id; mapped through config when run.
    pub model: Option<String>,
    pub permission_mode: Option<PermissionMode>,
    pub max_turns: Option<u32>,
    pub skills: Vec<String>,
    pub mcp_servers: Vec<McpServer>,
    pub hooks: Option<Hooks>,
    pub memory: Option<MemoryScope>,
    pub background: Option<bool>,
    pub effort: Option<String>,
    pub isolation: Option<String>,
    pub color: Option<String>,
    pub initial_prompt: Option<String>,
    /// Frontmatter keys agentops does not use, kept as written.
    pub extra: BTreeMap<String, Value>,
    /// The system prompt.
    pub body: String,
    /// File line where the body starts.
    pub body_line: usize,
    pub source: Source,
    pub path: PathBuf,
    /// Warnings from loading (never errors: an agent with errors is not loaded).
    pub warnings: Vec<Diagnostic>,
}

/// The frontmatter keys an agent file may use.
pub const AGENT_KEYS: &[&str] = &[
    "name",
    "description",
    "tools",
    "disallowedTools",
    "model",
    "permissionMode",
    "maxTurns",
    "skills",
    "mcpServers",
    "hooks",
    "memory",
    "background",
    "effort",
    "isolation",
    "color",
    "initialPrompt",
    // The seed repository names agents with `agent:`.
    "agent",
];

/// A file that could not be used as a definition, with everything found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub path: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl Rejected {
    /// The diagnostics, each tied to the file.
    pub fn into_file_diagnostics(self) -> impl Iterator<Item = crate::diagnostic::FileDiagnostic> {
        let path = self.path;
        self.diagnostics
            .into_iter()
            .map(move |diagnostic| crate::diagnostic::FileDiagnostic {
                path: path.clone(),
                diagnostic,
            })
    }
}

impl AgentDefinition {
    /// Parses an agent file's text. Lenient: only a file with neither a description nor a prompt
    /// is rejected.
    // Long on purpose: one lenient pass over the frontmatter's known keys, each with its own
    // warning, in the order Claude Code documents them.
    pub fn parse(text: &str, origin: &Origin) -> Result<Self, Rejected> {
        let split = frontmatter::split(text);
        let mut warnings = split.warnings;
        let fields = match &split.frontmatter {
            Some(fm) => fields::parse_known(fm, AGENT_KEYS, &mut warnings),
            None => {
                warnings.push(Diagnostic::warning(
                    "no-frontmatter",
                    Some(1),
                    "agent has no frontmatter; its name comes from the file name and its description from the first paragraph. Add `---` / `name:` / `description:` / `---` at the top",
                ));
                Fields::default()
            }
        };
        let body = split.body;
        let mut agent = AgentDefinition {
            name: String::new(),
            description: String::new(),
            tools: None,
            disallowed_tools: Vec::new(),
            model: None,
            permission_mode: None,
            max_turns: None,
            skills: Vec::new(),
            mcp_servers: Vec::new(),
            hooks: None,
            memory: None,
            background: None,
            effort: None,
            isolation: None,
            color: None,
            initial_prompt: None,
            extra: BTreeMap::new(),
            body,
            body_line: split.body_line,
            source: origin.source,
            path: origin.path.clone(),
            warnings: Vec::new(),
        };
        let mut name = None;
        let mut seed_name = None;
        let mut description = None;
        for field in &fields.fields {
            let w = &mut warnings;
            match field.key.as_str() {
                "name" => name = coerce::non_empty_string(field, w).map(|n| (n, field.line)),
                "agent" => seed_name = coerce::non_empty_string(field, w).map(|n| (n, field.line)),
                "description" => description = coerce::non_empty_string(field, w),
                "tools" => agent.tools = parse_tool_list("tools", &field.value, field.line, w),
                "disallowedTools" => {
                    agent.disallowed_tools =
                        parse_tool_list("disallowedTools", &field.value, field.line, w)
                            .unwrap_or_default();
                }
                "model" => agent.model = coerce::non_empty_string(field, w),
                "permissionMode" => agent.permission_mode = permission_mode(field, w),
                "maxTurns" => agent.max_turns = coerce::count(field, w),
                "skills" => agent.skills = coerce::string_list(field, w),
                "mcpServers" => agent.mcp_servers = mcp_servers(field, w),
                "hooks" => agent.hooks = parse_hooks(&field.value, field.line, w),
                "memory" => agent.memory = memory(field, w),
                "background" => agent.background = coerce::boolean(field, w),
                "effort" => agent.effort = coerce::non_empty_string(field, w),
                "isolation" => agent.isolation = coerce::non_empty_string(field, w),
                "color" => agent.color = coerce::non_empty_string(field, w),
                "initialPrompt" => agent.initial_prompt = coerce::non_empty_string(field, w),
                _ => {
                    w.push(unknown_key(field, AGENT_KEYS));
                    agent.extra.insert(field.key.clone(), field.value.clone());
                }
            }
        }

        agent.name = match (name, seed_name) {
            (Some((name, _)), Some((seed, line))) if seed != name => {
                warnings.push(Diagnostic::warning(
                    "name-conflict",
                    Some(line),
                    format!("`agent: {seed}` differs from `name: {name}`; `name` is used"),
                ));
                name
            }
            (Some((name, _)), _) => name,
            (None, Some((seed, line))) => {
                warnings.push(Diagnostic::warning(
                    "name-from-agent-key",
                    Some(line),
                    format!("no `name:`; the name `{seed}` is taken from `agent:`. Rename the key to `name:` for Claude Code"),
                ));
                seed
            }
            (None, None) => {
                let stem = origin.stem();
                if split.frontmatter.is_some() {
                    warnings.push(Diagnostic::warning(
                        "name-from-file",
                        Some(1),
                        format!("no `name:`; the name `{stem}` is taken from the file name"),
                    ));
                }
                stem
            }
        };
        check_name(&agent.name, &mut warnings);

        agent.description = match description {
            Some(d) => d,
            None => match first_paragraph(&agent.body) {
                Some(p) => {
                    if split.frontmatter.is_some() {
                        warnings.push(Diagnostic::warning(
                            "no-description",
                            Some(1),
                            "no `description:`; the first paragraph of the prompt is used. Routing picks agents by description, so write one",
                        ));
                    }
                    p
                }
                None => {
                    warnings.push(Diagnostic::error(
                        "empty-definition",
                        None,
                        "agent has neither a `description` nor a prompt body; nothing to run",
                    ));
                    return Err(Rejected {
                        path: origin.path.clone(),
                        diagnostics: warnings,
                    });
                }
            },
        };
        if agent.body.trim().is_empty() {
            warnings.push(Diagnostic::warning(
                "empty-body",
                Some(agent.body_line),
                "agent has no prompt body; it will run with its description only",
            ));
        }
        agent.warnings = warnings;
        Ok(agent)
    }

    /// Reads and parses an agent file.
    pub fn load(path: &Path, source: Source) -> Result<Self, Rejected> {
        crate::discover::read_and_parse(path, |text| Self::parse(text, &Origin::new(source, path)))
    }
}

fn permission_mode(field: &Field, w: &mut Vec<Diagnostic>) -> Option<PermissionMode> {
    let s = coerce::non_empty_string(field, w)?;
    let mode = PermissionMode::parse(&s);
    if mode.is_none() {
        let known: Vec<&str> = PermissionMode::ALL.iter().map(|(n, _)| *n).collect();
        w.push(Diagnostic::warning(
            "unknown-value",
            Some(field.line),
            format!(
                "unknown permissionMode `{s}`; use one of {}",
                known.join(", ")
            ),
        ));
    }
    mode
}

fn memory(field: &Field, w: &mut Vec<Diagnostic>) -> Option<MemoryScope> {
    let s = coerce::non_empty_string(field, w)?;
    let scope = match s.to_ascii_lowercase().as_str() {
        "user" => Some(MemoryScope::User),
        "project" => Some(MemoryScope::Project),
        "local" => Some(MemoryScope::Local),
        _ => None,
    };
    if scope.is_none() {
        w.push(Diagnostic::warning(
            "unknown-value",
            Some(field.line),
            format!("unknown memory scope `{s}`; use user, project or local"),
        ));
    }
    scope
}

fn mcp_servers(field: &Field, w: &mut Vec<Diagnostic>) -> Vec<McpServer> {
    match &field.value {
        Value::Object(map) => map
            .iter()
            .map(|(name, config)| McpServer::Inline {
                name: name.clone(),
                config: config.clone(),
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .flat_map(|item| match item {
                Value::String(name) => vec![McpServer::Named(name.clone())],
                Value::Object(map) => map
                    .iter()
                    .map(|(name, config)| McpServer::Inline {
                        name: name.clone(),
                        config: config.clone(),
                    })
                    .collect(),
                other => {
                    w.push(coerce::wrong_type(field, "a server name or config", other));
                    Vec::new()
                }
            })
            .collect(),
        _ => coerce::string_list(field, w)
            .into_iter()
            .map(McpServer::Named)
            .collect(),
    }
}

/// The warning for a frontmatter key that is kept but not used.
pub fn unknown_key(field: &Field, known: &[&str]) -> Diagnostic {
    let hint = known
        .iter()
        .find(|k| {
            k.eq_ignore_ascii_case(&field.key)
                || k.replace('-', "") == field.key.replace(['-', '_'], "")
        })
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    Diagnostic::warning(
        "unknown-key",
        Some(field.line),
        format!("unknown key `{}` is kept but not used{hint}", field.key),
    )
}

/// Claude Code names are lowercase letters, digits and hyphens; others still load, with a warning.
pub fn check_name(name: &str, warnings: &mut Vec<Diagnostic>) {
    let ok = !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == ':'
        });
    if !ok {
        warnings.push(Diagnostic::warning(
            "name-style",
            None,
            format!("name `{name}` is not lowercase-with-hyphens; Claude Code may not accept it"),
        ));
    }
}

/// The first prose paragraph of a markdown body (headings stripped of `#`, fences and HTML
/// comments skipped), at most 300 characters: the description of last resort.
pub fn first_paragraph(body: &str) -> Option<String> {
    let mut heading = None;
    let mut in_fence = false;
    let mut para: Vec<&str> = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || t.starts_with("<!--") {
            continue;
        }
        if t.is_empty() || t == "---" {
            if !para.is_empty() {
                break;
            }
            continue;
        }
        if let Some(h) = t.strip_prefix('#') {
            if !para.is_empty() {
                break;
            }
            if heading.is_none() {
                heading = Some(h.trim_start_matches('#').trim().to_string());
            }
            continue;
        }
        para.push(t);
    }
    let text = if para.is_empty() {
        heading.filter(|h| !h.is_empty())?
    } else {
        para.join(" ")
    };
    Some(if text.chars().count() > 300 {
        let cut: String = text.chars().take(299).collect();
        format!("{}…", cut.trim_end())
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AgentDefinition {
        AgentDefinition::parse(text, &Origin::new(Source::Project, "agents/my-agent.md")).unwrap()
    }

    #[test]
    fn all_fields() {
        let a = parse(
            "---\nname: deployer\ndescription: Deploys things\ntools: Read, Bash(kubectl get:*)\ndisallowedTools: [Write]\nmodel: sonnet\npermissionMode: acceptEdits\nmaxTurns: \"12\"\nskills: [a, b]\nmcpServers:\n  - kubernetes\nmemory: project\nbackground: true\neffort: high\nisolation: worktree\ncolor: blue\ninitialPrompt: go\ncategory: infra\n---\nYou deploy.\n",
        );
        assert_eq!(a.name, "deployer");
        assert_eq!(a.description, "Deploys things");
        let tools: Vec<String> = a.tools.unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(tools, ["Read", "Bash(kubectl get:*)"]);
        assert_eq!(a.disallowed_tools[0].name, "Write");
        assert_eq!(a.model.as_deref(), Some("sonnet"));
        assert_eq!(a.permission_mode, Some(PermissionMode::AcceptEdits));
        assert_eq!(a.max_turns, Some(12));
        assert_eq!(a.skills, ["a", "b"]);
        assert_eq!(a.mcp_servers, [McpServer::Named("kubernetes".into())]);
        assert_eq!(a.memory, Some(MemoryScope::Project));
        assert_eq!(a.background, Some(true));
        assert_eq!(a.effort.as_deref(), Some("high"));
        assert_eq!(a.isolation.as_deref(), Some("worktree"));
        assert_eq!(a.color.as_deref(), Some("blue"));
        assert_eq!(a.initial_prompt.as_deref(), Some("go"));
        assert_eq!(a.body, "You deploy.\n");
        assert_eq!(a.body_line, 20);
        assert_eq!(a.extra["category"], Value::String("infra".into()));
        let unknown: Vec<_> = a
            .warnings
            .iter()
            .filter(|w| w.code == "unknown-key")
            .collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].line, Some(18));
    }

    #[test]
    fn name_from_seed_agent_key() {
        let a = parse("---\nagent: infrastructure-create\ndescription: d\n---\nbody");
        assert_eq!(a.name, "infrastructure-create");
        assert!(a.warnings.iter().any(|w| w.code == "name-from-agent-key"));
    }

    #[test]
    fn name_from_file_and_description_from_body() {
        let a = parse("# Pipeline Guide\n\nHelps you fix pipelines.\nFast.\n\nMore.");
        assert_eq!(a.name, "my-agent");
        assert_eq!(a.description, "Helps you fix pipelines. Fast.");
        assert!(a.warnings.iter().any(|w| w.code == "no-frontmatter"));
    }

    #[test]
    fn scalars_are_coerced_to_strings() {
        let a = parse("---\nname: 123\ndescription: true\nmodel: 4\n---\nx");
        assert_eq!(a.name, "123");
        assert_eq!(a.description, "true");
        assert_eq!(a.model.as_deref(), Some("4"));
    }

    #[test]
    fn empty_file_is_rejected() {
        let r = AgentDefinition::parse("---\n---\n", &Origin::new(Source::Project, "x.md"));
        assert_eq!(
            r.unwrap_err().diagnostics.last().unwrap().code,
            "empty-definition"
        );
    }

    #[test]
    fn bad_types_warn_and_are_dropped() {
        let a = parse("---\nname: a\ndescription: d\nmaxTurns: lots\npermissionMode: yolo\n---\nx");
        assert_eq!(a.max_turns, None);
        assert_eq!(a.permission_mode, None);
        assert_eq!(a.warnings.len(), 2);
    }
}
