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
        let root = find_repo_root(cwd).unwrap_or_else(|| cwd.to_path_buf());
        vec![root.join(".claude/agents"), root.join(".claude/commands")]
            .into_iter()
            .filter(|p| p.exists())
            .collect()
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
            "{} file(s): {} agent(s), {} command(s), {} skipped; {} error(s), {} warning(s)",
            s.files, s.agents, s.commands, s.skipped, s.errors, s.warnings
        );
        if paths.is_empty() {
            out.push_str("nothing to lint: no .claude/agents or .claude/commands here; pass paths to check other files\n");
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
