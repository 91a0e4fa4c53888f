//! `agentops lint [PATH...]`.

use crate::cli::LintArgs;
use crate::exit::{CliResult, ExitCode};
use crate::output::{print, print_json};
use agentops_agents::discover::find_repo_root;
use agentops_runtime::lint::{Kind, lint_paths};
use std::fmt::Write;
use std::path::Path;

pub fn run(args: &LintArgs, cwd: &Path) -> CliResult {
    let paths = if args.paths.is_empty() {
        // What a run reads: the working folder and each folder above it up to the root.
        let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
        let root = find_repo_root(&cwd).unwrap_or_else(|| cwd.clone());
        let mut paths = Vec::new();
        for dir in cwd.ancestors() {
            paths.extend(
                [
                    ".claude/agents",
                    ".claude/commands",
                    ".claude/skills",
                    ".claude/rules",
                    ".claude/plugins",
                    ".claude/settings.json",
                    ".claude/settings.local.json",
                    "CLAUDE.md",
                    ".claude/CLAUDE.md",
                    "CLAUDE.local.md",
                    "AGENTS.md",
                    "AGENTS.override.md",
                ]
                .iter()
                .map(|rel| dir.join(rel))
                .filter(|p| p.exists()),
            );
            if dir == root {
                break;
            }
        }
        paths
    } else {
        args.paths.clone()
    };
    let report = lint_paths(&paths);
    if args.json {
        print_json(&report)?;
    } else {
        let mut out = String::new();
        for file in &report.files {
            for d in file.errors.iter().chain(&file.warnings) {
                let _ = writeln!(out, "{}", d.display_with(&file.path));
            }
        }
        let s = &report.summary;
        let _ = writeln!(
            out,
            "{} file(s): {} agent(s), {} command(s), {} skill(s), {} other (plugins, memory, rules, settings), {} skipped; {} error(s), {} warning(s)",
            s.files, s.agents, s.commands, s.skills, s.other, s.skipped, s.errors, s.warnings
        );
        if paths.is_empty() {
            out.push_str("nothing to lint: no .claude/ definitions, settings, plugins or memory files here; pass paths to check other files\n");
        }
        let unusable = report
            .files
            .iter()
            .filter(|f| f.kind == Kind::Skipped && !f.errors.is_empty())
            .count();
        if unusable > 0 {
            let _ = writeln!(out, "{unusable} file(s) could not be read as definitions");
        }
        print(&out);
    }
    Ok(if report.has_errors() {
        ExitCode::Findings
    } else {
        ExitCode::Success
    })
}
