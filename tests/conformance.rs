//! Conformance with Claude Code's format on real files: a representative sample's parsed
//! name, description, tools and model are asserted field by field, and the whole corpus's
//! parsed form is snapshot-tested so any change in how a file is read shows up in review.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_agents::{AgentDefinition, Source};
use agentops_commands::CommandDefinition;
use agentops_runtime::lint::{Kind, lint_paths};
use common::claude_md;
use serde_json::{Value, json};
use std::path::Path;

fn agent(rel: &str) -> AgentDefinition {
    AgentDefinition::load(&claude_md().join(rel), Source::Project)
        .unwrap_or_else(|r| panic!("{rel}: {:?}", r.diagnostics))
}

fn command(rel: &str, name: &str) -> CommandDefinition {
    CommandDefinition::load(&claude_md().join(rel), name, Source::Project)
        .unwrap_or_else(|r| panic!("{rel}: {:?}", r.diagnostics))
}

fn tools(list: &Option<Vec<agentops_agents::tools::ToolSpec>>) -> Option<Vec<String>> {
    list.as_ref()
        .map(|l| l.iter().map(ToString::to_string).collect())
}

fn codes(warnings: &[agentops_agents::Diagnostic]) -> Vec<&'static str> {
    warnings.iter().map(|w| w.code).collect()
}

#[test]
fn seed_agent_named_by_agent_key() {
    let a = agent(
        "boshu2__12-factor-agentops/examples/platform-engineering/.claude/agents/infrastructure-create.md",
    );
    assert_eq!(a.name, "infrastructure-create");
    assert_eq!(
        a.description,
        "Scaffold new infrastructure application with Kustomize base, overlays, ArgoCD application, and validation"
    );
    assert_eq!(tools(&a.tools), None);
    assert_eq!(a.model, None);
    assert!(codes(&a.warnings).contains(&"name-from-agent-key"));
    assert_eq!(a.extra["version"], json!("1.0.0"));
    assert!(a.body.starts_with("\n# Infrastructure Create Agent"));
}

#[test]
fn invalid_yaml_with_legacy_tools_is_read_leniently() {
    let a = agent("OneRedOak__claude-code-workflows/code-review/pragmatic-code-review-subagent.md");
    assert_eq!(a.name, "pragmatic-code-review");
    assert!(
        a.description
            .starts_with("Use this agent when you need a thorough code review")
    );
    assert!(a.description.contains("Examples:"), "{}", a.description);
    assert_eq!(a.model.as_deref(), Some("opus"));
    assert_eq!(a.color.as_deref(), Some("red"));
    let t = tools(&a.tools).unwrap();
    assert_eq!(&t[..5], ["Bash", "Glob", "Grep", "Read", "Edit"]);
    // MultiEdit → Edit (deduplicated); BashOutput and KillBash are dropped.
    assert_eq!(t.iter().filter(|n| *n == "Edit").count(), 1);
    assert!(
        !t.iter()
            .any(|n| n == "BashOutput" || n == "KillBash" || n == "MultiEdit")
    );
    assert!(t.contains(&"mcp__context7__resolve-library-id".to_string()));
    let c = codes(&a.warnings);
    assert!(c.contains(&"yaml-fallback"));
    assert!(c.contains(&"legacy-tool"));
}

#[test]
fn unquoted_colons_in_description() {
    let a = agent(
        "VoltAgent__awesome-claude-code-subagents/categories/04-quality-security/gdpr-ccpa-compliance.md",
    );
    assert_eq!(a.name, "gdpr-ccpa-compliance");
    assert!(
        a.description.contains("Triggers on: 'GDPR', 'CCPA'"),
        "{}",
        a.description
    );
    assert_eq!(
        tools(&a.tools).unwrap(),
        ["Read", "Grep", "Glob", "WebFetch", "WebSearch"]
    );
    assert_eq!(a.model, None);
}

#[test]
fn folded_description_and_empty_tool_list() {
    let a =
        agent("wshobson__agents/plugins/arm-cortex-microcontrollers/agents/arm-cortex-expert.md");
    assert_eq!(a.name, "arm-cortex-expert");
    assert!(a.description.starts_with(
        "Senior embedded software engineer specializing in firmware and driver development for ARM Cortex-M"
    ));
    assert!(!a.description.contains('\n') || a.description.ends_with('\n'));
    assert_eq!(tools(&a.tools), Some(vec![]));
    assert_eq!(a.model.as_deref(), Some("inherit"));
}

#[test]
fn nested_agent_with_mcp_and_legacy_tools() {
    let a = agent("lst97__claude-code-sub-agents/agents/infrastructure/cloud-architect.md");
    assert_eq!(a.name, "cloud-architect");
    assert_eq!(a.model.as_deref(), Some("sonnet"));
    assert_eq!(
        tools(&a.tools).unwrap(),
        [
            "Read",
            "Write",
            "Edit",
            "Grep",
            "Glob",
            "Bash",
            "WebSearch",
            "WebFetch",
            "Agent",
            "mcp__context7__resolve-library-id",
            "mcp__context7__get-library-docs",
            "mcp__sequential-thinking__sequentialthinking"
        ]
    );
}

#[test]
fn model_id_without_tools() {
    let a = agent("0xfurai__claude-code-subagents/agents/kubernetes-expert.md");
    assert_eq!(a.name, "kubernetes-expert");
    assert!(
        a.description
            .starts_with("Master Kubernetes for container orchestration")
    );
    assert_eq!(a.model.as_deref(), Some("claude-sonnet-4-20250514"));
    assert_eq!(tools(&a.tools), None);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn agent_without_frontmatter() {
    let a = agent("boshu2__12-factor-agentops/examples/devops/.claude/agents/pipeline-guide.md");
    assert_eq!(a.name, "pipeline-guide");
    assert!(
        a.description.starts_with(
            "**Purpose:** Guide creation, modification, and optimization of CI/CD pipelines"
        ),
        "{}",
        a.description
    );
    assert_eq!(codes(&a.warnings), ["no-frontmatter"]);
}

#[test]
fn command_with_rules_in_allowed_tools() {
    let c = command(
        "anthropics__claude-code-security-review/.claude/commands/security-review.md",
        "security-review",
    );
    assert_eq!(
        c.description,
        "Complete a security review of the pending changes on the current branch"
    );
    assert_eq!(
        tools(&c.allowed_tools).unwrap(),
        [
            "Bash(git diff:*)",
            "Bash(git status:*)",
            "Bash(git log:*)",
            "Bash(git show:*)",
            "Bash(git remote show:*)",
            "Read",
            "Glob",
            "Grep",
            "Agent"
        ]
    );
    assert_eq!(c.model, None);
}

#[test]
fn command_with_quoted_then_unquoted_argument_hint() {
    let c = command(
        "danielscholl-osdu__hostk8s/.claude/commands/commit.md",
        "commit",
    );
    assert_eq!(
        c.argument_hint.as_deref(),
        Some(
            "\"description of changes\" | Examples: \"fix auth validation bug\" | \"add user profile component\" | \"update deployment docs\""
        )
    );
    assert_eq!(c.model.as_deref(), Some("claude-sonnet-4-20250514"));
    assert_eq!(tools(&c.allowed_tools).unwrap(), ["Bash", "Edit"]);
    assert_eq!(
        c.description,
        "GitLab workflow assistant for creating issues, branches, and merge requests"
    );
}

#[test]
fn bare_command_without_frontmatter() {
    let c = command(
        "ruvnet__claude-flow/.claude/commands/github/release-manager.md",
        "github:release-manager",
    );
    assert_eq!(c.name, "github:release-manager");
    assert_eq!(c.short_name(), "release-manager");
    assert!(!c.description.is_empty());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

/// The parsed form of every corpus file, compact enough to review in a snapshot diff.
fn parsed(path: &Path, kind: Kind, corpus: &Path) -> Value {
    let rel = path.strip_prefix(corpus).unwrap().display().to_string();
    let short = |s: &str| -> String {
        let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.chars().count() > 100 {
            format!("{}…", one.chars().take(100).collect::<String>())
        } else {
            one
        }
    };
    let warnings = |w: &[agentops_agents::Diagnostic]| -> Vec<String> {
        w.iter()
            .map(|d| {
                format!(
                    "{}:{}",
                    d.line.map_or("-".to_string(), |l| l.to_string()),
                    d.code
                )
            })
            .collect()
    };
    match kind {
        Kind::Agent => {
            let a = AgentDefinition::load(path, Source::Project).unwrap();
            json!({
                "path": rel, "kind": "agent", "name": a.name, "description": short(&a.description),
                "tools": tools(&a.tools), "disallowedTools": tools(&Some(a.disallowed_tools.clone())),
                "model": a.model, "permissionMode": a.permission_mode, "maxTurns": a.max_turns,
                "skills": a.skills, "memory": a.memory, "color": a.color,
                "extra": a.extra.keys().collect::<Vec<_>>(), "body_line": a.body_line,
                "warnings": warnings(&a.warnings),
            })
        }
        Kind::Command => {
            let name = agentops_commands::name_from_path(Path::new(path.file_name().unwrap()));
            let c = CommandDefinition::load(path, &name, Source::Project).unwrap();
            json!({
                "path": rel, "kind": "command", "description": short(&c.description),
                "argument_hint": c.argument_hint, "allowed_tools": tools(&c.allowed_tools),
                "model": c.model, "agent": c.agent, "context": c.context,
                "arguments": c.arguments, "extra": c.extra.keys().collect::<Vec<_>>(),
                "body_line": c.body_line, "warnings": warnings(&c.warnings),
            })
        }
        Kind::Skill | Kind::Plugin | Kind::Memory | Kind::Rule | Kind::Settings => {
            json!({"path": rel, "kind": format!("{kind:?}").to_lowercase()})
        }
        Kind::Skipped => json!({"path": rel, "kind": "skipped"}),
    }
}

#[test]
fn whole_corpus_snapshot() {
    let corpus = claude_md();
    let report = lint_paths(std::slice::from_ref(&corpus));
    assert_eq!(report.files.len(), 150);
    let all: Vec<Value> = report
        .files
        .iter()
        .map(|f| parsed(&f.path, f.kind, &corpus))
        .collect();
    insta::assert_json_snapshot!("corpus_parsed", all);
}

#[test]
fn loading_the_corpus_twice_gives_the_same_result() {
    let corpus = claude_md();
    let a = serde_json::to_value(lint_paths(std::slice::from_ref(&corpus)).files).unwrap();
    let b = serde_json::to_value(lint_paths(std::slice::from_ref(&corpus)).files).unwrap();
    assert_eq!(a, b);
}

/// Files written for these tests (not from the corpus) in the style of Anthropic's plugin
/// agents: a `description:` whose example blocks run on at column 0.
fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-code")
        .join(rel)
}

#[test]
fn example_blocks_stay_in_the_description() {
    let a = AgentDefinition::load(&fixture("agents/manifest-reviewer.md"), Source::Project)
        .unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
    assert_eq!(
        a.description,
        "Use this agent when Kubernetes manifests or Kustomize overlays were just changed and need a review before they are merged. Examples:\n\
<example>\n\
Context: The user raised the replica count of the prod overlay.\n\
user: \"I bumped web to 6 replicas in prod, can you check it?\"\n\
assistant: \"I'll use the manifest-reviewer agent to review the prod overlay change.\"\n\
<commentary>\n\
A production overlay changed: review it before merge.\n\
</commentary>\n\
</example>\n\
<example>\n\
Context: A new NetworkPolicy was added.\n\
user: \"Added a deny-all policy for payments\"\n\
assistant: \"Let me have the manifest-reviewer agent look at the new policy.\"\n\
</example>"
    );
    assert_eq!(a.model.as_deref(), Some("inherit"));
    assert_eq!(a.color.as_deref(), Some("green"));
    assert_eq!(
        tools(&a.tools),
        Some(vec!["Read".into(), "Grep".into(), "Glob".into()])
    );
    assert!(a.extra.is_empty(), "{:?}", a.extra.keys());
    assert_eq!(codes(&a.warnings), ["yaml-fallback"]);

    let c = CommandDefinition::load(&fixture("commands/promote.md"), "promote", Source::Project)
        .unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
    assert_eq!(
        c.description,
        "Promote an app from staging to prod. Usage notes:\nExample: /promote web\nNote: asks for approval before touching prod."
    );
    assert_eq!(c.argument_hint.as_deref(), Some("<app>"));
    assert!(c.extra.is_empty(), "{:?}", c.extra.keys());
}

#[test]
fn no_corpus_file_has_dialogue_lines_read_as_keys() {
    // Lines of an example block (`Context:`, `user:`, `assistant:`) are part of the
    // description, never unknown keys.
    let corpus = claude_md();
    let report = lint_paths(std::slice::from_ref(&corpus));
    let dialogue = [
        "Context",
        "user",
        "User",
        "assistant",
        "Assistant",
        "Example",
        "Examples",
    ];
    let mut found = Vec::new();
    for f in &report.files {
        for d in &f.warnings {
            if d.code == "unknown-key"
                && dialogue
                    .iter()
                    .any(|k| d.message.contains(&format!("`{k}`")))
            {
                found.push(format!("{}:{:?}: {}", f.path.display(), d.line, d.message));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
