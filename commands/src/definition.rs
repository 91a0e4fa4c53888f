//! Command definitions: the typed form of `.claude/commands/**/*.md`.

use agentops_agents::coerce;
use agentops_agents::definition::{check_name, first_paragraph, unknown_key};
use agentops_agents::diagnostic::Diagnostic;
use agentops_agents::fields::{self, Fields};
use agentops_agents::frontmatter;
use agentops_agents::hooks::{Hooks, parse_hooks};
use agentops_agents::tools::{ToolList, parse_tool_list};
use agentops_agents::{Origin, Rejected, Source};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a command's prompt runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Context {
    /// In a fresh subagent context (`context: fork`).
    Fork,
}

/// A loaded slash command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandDefinition {
    /// The full name: `frontend:component` for `frontend/component.md`.
    pub name: String,
    pub description: String,
    pub argument_hint: Option<String>,
    /// Tools the command may use without asking (permission rules).
    pub allowed_tools: Option<ToolList>,
    pub model: Option<String>,
    pub disable_model_invocation: bool,
    pub context: Option<Context>,
    /// The agent that runs the command.
    pub agent: Option<String>,
    /// Named arguments: `$name` in the body is the argument at that position.
    pub arguments: Vec<String>,
    pub hooks: Option<Hooks>,
    /// agentops extension: typed tool calls that run before the model (kept raw until the
    /// runtime types them).
    pub steps: Vec<Value>,
    pub extra: BTreeMap<String, Value>,
    /// A skill (`.claude/skills/<name>/SKILL.md`): its folder, whose supporting files the
    /// skill's text refers to by relative path. `None` for a command file.
    pub skill_dir: Option<PathBuf>,
    /// When the model should use it (skills' `when_to_use`), shown after the description.
    pub when_to_use: Option<String>,
    /// A person may run it as `/name` (`user-invocable: false` hides it from them).
    pub user_invocable: bool,
    /// The prompt template.
    pub body: String,
    pub body_line: usize,
    pub source: Source,
    pub path: PathBuf,
    pub warnings: Vec<Diagnostic>,
}

/// The frontmatter keys a command file may use.
pub const COMMAND_KEYS: &[&str] = &[
    "description",
    "argument-hint",
    "allowed-tools",
    "model",
    "disable-model-invocation",
    "context",
    "agent",
    "arguments",
    "hooks",
    "steps",
    // Skills-style and seed-style names: informative only, the file path names the command.
    "name",
    "command",
    "user-invocable",
    // Skills (SKILL.md) keys.
    "when_to_use",
    "disallowed-tools",
    "effort",
    "background",
    "paths",
    "shell",
    "metadata",
    "license",
    "compatibility",
];

impl CommandDefinition {
    /// Parses a command file. `name` is the command's name from its path (`frontend:component`).
    /// Bare markdown without frontmatter is a valid command.
    pub fn parse(text: &str, name: &str, origin: &Origin) -> Result<Self, Rejected> {
        let split = frontmatter::split(text);
        let mut warnings = split.warnings;
        let fields = match &split.frontmatter {
            Some(fm) => fields::parse_known(fm, COMMAND_KEYS, &mut warnings),
            None => Fields::default(),
        };
        let mut cmd = CommandDefinition {
            name: name.to_string(),
            description: String::new(),
            argument_hint: None,
            allowed_tools: None,
            model: None,
            disable_model_invocation: false,
            context: None,
            agent: None,
            arguments: Vec::new(),
            hooks: None,
            steps: Vec::new(),
            extra: BTreeMap::new(),
            skill_dir: None,
            when_to_use: None,
            user_invocable: true,
            body: split.body,
            body_line: split.body_line,
            source: origin.source,
            path: origin.path.clone(),
            warnings: Vec::new(),
        };
        let mut description = None;
        for field in &fields.fields {
            let w = &mut warnings;
            match field.key.as_str() {
                "description" => description = coerce::non_empty_string(field, w),
                "argument-hint" => cmd.argument_hint = argument_hint(&field.value),
                "allowed-tools" => {
                    cmd.allowed_tools =
                        parse_tool_list("allowed-tools", &field.value, field.line, w);
                }
                "model" => cmd.model = coerce::non_empty_string(field, w),
                "disable-model-invocation" => {
                    cmd.disable_model_invocation = coerce::boolean(field, w).unwrap_or(false);
                }
                "context" => {
                    cmd.context = match coerce::non_empty_string(field, w).as_deref() {
                        Some("fork") => Some(Context::Fork),
                        None => None,
                        Some(other) => {
                            w.push(Diagnostic::warning(
                                "unknown-value",
                                Some(field.line),
                                format!("unknown context `{other}`; the only value is `fork`"),
                            ));
                            None
                        }
                    }
                }
                "agent" => cmd.agent = coerce::non_empty_string(field, w),
                "arguments" => cmd.arguments = named_arguments(field, w),
                "hooks" => cmd.hooks = parse_hooks(&field.value, field.line, w),
                "steps" => match &field.value {
                    Value::Array(steps) => cmd.steps = steps.clone(),
                    Value::Null => {}
                    other => w.push(coerce::wrong_type(field, "a list of tool steps", other)),
                },
                "name" | "command" => {
                    if let Some(declared) = coerce::non_empty_string(field, w) {
                        let short = name.rsplit(':').next().unwrap_or(name);
                        if declared != short && declared != name {
                            w.push(Diagnostic::warning(
                                "name-mismatch",
                                Some(field.line),
                                format!("`{}: {declared}` differs from the file name; the command is /{name}", field.key),
                            ));
                        }
                    }
                }
                "user-invocable" => {
                    cmd.user_invocable = coerce::boolean(field, w).unwrap_or(true);
                }
                "when_to_use" => cmd.when_to_use = coerce::non_empty_string(field, w),
                // Read by Claude Code; kept for `agentops commands show`, not used here.
                "disallowed-tools" | "effort" | "background" | "paths" | "shell" | "metadata"
                | "license" | "compatibility" => {
                    cmd.extra.insert(field.key.clone(), field.value.clone());
                }
                _ => {
                    w.push(unknown_key(field, COMMAND_KEYS));
                    cmd.extra.insert(field.key.clone(), field.value.clone());
                }
            }
        }
        check_name(&cmd.name, &mut warnings);
        cmd.description = description
            .or_else(|| first_paragraph(&cmd.body))
            .unwrap_or_default();
        if cmd.body.trim().is_empty() && cmd.steps.is_empty() {
            warnings.push(Diagnostic::error(
                "empty-definition",
                None,
                "command has no prompt body and no steps; nothing to run",
            ));
            return Err(Rejected {
                path: origin.path.clone(),
                diagnostics: warnings,
            });
        }
        if cmd.context == Some(Context::Fork) && cmd.agent.is_none() {
            // Claude Code's default for forked commands.
            cmd.agent = Some("general-purpose".to_string());
        }
        cmd.warnings = warnings;
        Ok(cmd)
    }

    /// Reads and parses a command file.
    pub fn load(path: &Path, name: &str, source: Source) -> Result<Self, Rejected> {
        agentops_agents::discover::read_and_parse(path, |text| {
            Self::parse(text, name, &Origin::new(source, path))
        })
    }

    /// The name after the last namespace separator (`component` for `frontend:component`).
    pub fn short_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }

    /// The agent that runs this command, if it names one (directly or via `context: fork`).
    pub fn routed_agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }
}

/// `argument-hint` is free text; YAML may have read `[a] [b]`-like hints as a list.
fn argument_hint(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| match i {
                    Value::String(s) => format!("[{s}]"),
                    other => format!("[{other}]"),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        other => Some(other.to_string()),
    }
}

fn named_arguments(field: &agentops_agents::fields::Field, w: &mut Vec<Diagnostic>) -> Vec<String> {
    let names = coerce::string_list(field, w);
    names
        .into_iter()
        .filter(|n| {
            let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && n != "ARGUMENTS";
            if !ok {
                w.push(Diagnostic::warning(
                    "bad-argument-name",
                    Some(field.line),
                    format!("argument name `{n}` must be letters, digits and `_` (not starting with a digit); ignored"),
                ));
            }
            ok
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> CommandDefinition {
        CommandDefinition::parse(text, "deploy", &Origin::new(Source::Project, "deploy.md"))
            .unwrap()
    }

    #[test]
    fn bare_markdown_is_a_command() {
        let c = parse("# Deploy\n\nDeploy $ARGUMENTS to the cluster.\n");
        assert_eq!(c.description, "Deploy $ARGUMENTS to the cluster.");
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn fields() {
        let c = parse(
            "---\ndescription: Ship it\nargument-hint: [env] [app]\nallowed-tools: Bash(git status:*), Read\nmodel: haiku\ndisable-model-invocation: true\ncontext: fork\narguments: env app\n---\nGo $env $app\n",
        );
        assert_eq!(c.description, "Ship it");
        assert_eq!(c.argument_hint.as_deref(), Some("[env] [app]"));
        assert_eq!(
            c.allowed_tools.as_ref().unwrap()[0].to_string(),
            "Bash(git status:*)"
        );
        assert_eq!(c.model.as_deref(), Some("haiku"));
        assert!(c.disable_model_invocation);
        assert_eq!(c.context, Some(Context::Fork));
        assert_eq!(c.agent.as_deref(), Some("general-purpose"));
        assert_eq!(c.arguments, ["env", "app"]);
    }

    #[test]
    fn agent_key_routes() {
        let c = parse("---\nagent: infrastructure-create\n---\nx");
        assert_eq!(c.routed_agent(), Some("infrastructure-create"));
    }
}
