//! `agentops init`: writes the platform pack into a repository — the agents and commands
//! (`.claude/agents/`, `.claude/commands/`), the app templates (`templates/`) and an
//! `agentops.toml` — so the team can read, commit and change them. A file that exists with
//! other content is the user's: it is kept unless they say otherwise (a `y` at the terminal,
//! or `--force`).

use crate::cli::InitArgs;
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

const PACK_AGENTS: &[&str] = &[
    "infrastructure-create.md",
    "infrastructure-harmonize.md",
    "infrastructure-drift.md",
];

const PACK_COMMANDS: &[&str] = &[
    "infrastructure-create.md",
    "infrastructure-harmonize.md",
    "infrastructure-drift.md",
    "validate-infra.md",
    "deploy-infra.md",
];

const AGENTOPS_TOML: &str = r#"# agentops configuration. Every key is optional; the README lists them all.

# A model: any OpenAI-compatible server (or AGENTOPS_BASE_URL / AGENTOPS_MODEL).
# [providers.local]
# base_url = "http://127.0.0.1:8089/v1"
# model = "local"

[policy]
# Images must come from these registries (empty: any).
# approved_registries = ["registry.example.com/"]
# Labels every object must carry; `agentops create` sets them.
# required_labels = ["app.kubernetes.io/name"]

[limits]
max_turns = 30
# max_budget_usd = 2.0

# [kubernetes]
# kubeconfig = "~/.kube/platform"   # cluster tools always name a context

# [argocd]
# server = "https://argocd.example.com"
# token_env = "ARGOCD_AUTH_TOKEN"
"#;

/// Every file of the pack: (path in the repository, content).
fn pack() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for (name, text) in agentops_agents::builtin::BUILTIN_AGENTS {
        if PACK_AGENTS.contains(name) {
            files.push((PathBuf::from(".claude/agents").join(name), text.to_string()));
        }
    }
    for (name, text) in agentops_commands::builtin::BUILTIN_COMMANDS {
        if PACK_COMMANDS.contains(name) {
            files.push((
                PathBuf::from(".claude/commands").join(name),
                text.to_string(),
            ));
        }
    }
    for (template, path, text) in agentops_tools::create::builtin_files() {
        files.push((
            PathBuf::from("templates").join(template).join(path),
            text.to_string(),
        ));
    }
    files.push((PathBuf::from("agentops.toml"), AGENTOPS_TOML.to_string()));
    files
}

pub fn run(args: &InitArgs, ws: &Workspace) -> CliResult {
    let ask = !args.force
        && !args.json
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    let mut report: Vec<serde_json::Value> = Vec::new();
    let mut out = String::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for (rel, text) in pack() {
        let path = ws.root.join(&rel);
        let status = match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => "unchanged",
            Ok(_) => {
                let overwrite = args.force
                    || (ask && {
                        eprint!(
                            "{} exists and differs from the pack's; overwrite it? [y/N] ",
                            rel.display()
                        );
                        let _ = std::io::stderr().flush();
                        matches!(lines.next(), Some(Ok(a)) if matches!(a.trim(), "y" | "Y" | "yes"))
                    });
                if overwrite {
                    write(&path, &text)?;
                    "overwritten"
                } else {
                    "kept (yours differs)"
                }
            }
            Err(_) => {
                write(&path, &text)?;
                "created"
            }
        };
        out.push_str(&format!("{status:<22} {}\n", rel.display()));
        report.push(json!({"path": rel.display().to_string(), "status": status}));
    }
    if args.json {
        print_json(&json!({"files": report}))?;
    } else {
        print(&out);
        print(
            "Next: `agentops commands list`, `agentops create --list-templates`, `agentops validate`.\n",
        );
    }
    Ok(ExitCode::Success)
}

fn write(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, text)
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", path.display())))
}
