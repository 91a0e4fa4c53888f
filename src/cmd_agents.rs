//! `agentops agents list|show`.

use crate::cli::{AgentsCommand, ListArgs, ShowArgs};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{one_line, print, print_json, relative, report_discovery, source_matches};
use agentops_agents::discover::Shadowed;
use agentops_agents::tools::ToolSpec;
use agentops_agents::{AgentDefinition, Catalog};
use agentops_runtime::Workspace;
use serde::Serialize;
use std::fmt::Write;
use std::path::PathBuf;

pub fn run(cmd: &AgentsCommand, ws: &Workspace) -> CliResult {
    let catalog = ws.agents();
    report_discovery(&catalog.diagnostics);
    match cmd {
        AgentsCommand::List(args) => list(args, &catalog, ws),
        AgentsCommand::Show(args) => show(args, &catalog, ws),
    }
}

/// One row of `agents list --json` (DESIGN.md §4).
#[derive(Serialize)]
struct AgentRow<'a> {
    name: &'a str,
    description: &'a str,
    /// `null`: all tools.
    tools: Option<Vec<String>>,
    model: Option<&'a str>,
    source: agentops_agents::Source,
    path: &'a PathBuf,
    warnings: usize,
    shadows: Vec<&'a Shadowed>,
}

fn tool_names(tools: &Option<Vec<ToolSpec>>) -> Option<Vec<String>> {
    tools
        .as_ref()
        .map(|t| t.iter().map(ToString::to_string).collect())
}

fn list(args: &ListArgs, catalog: &Catalog<AgentDefinition>, ws: &Workspace) -> CliResult {
    let agents: Vec<&AgentDefinition> = catalog
        .items
        .iter()
        .filter(|a| source_matches(a.source, args.source))
        .collect();
    if args.json {
        let rows: Vec<AgentRow> = agents
            .iter()
            .map(|a| AgentRow {
                name: &a.name,
                description: &a.description,
                tools: tool_names(&a.tools),
                model: a.model.as_deref(),
                source: a.source,
                path: &a.path,
                warnings: a.warnings.len(),
                shadows: catalog.shadows(a).collect(),
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::Success);
    }
    let mut out = String::new();
    if agents.is_empty() {
        out.push_str(
            "No agents found. Put agent files in .claude/agents/ (see `agentops lint`).\n",
        );
    }
    let width = agents
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut warnings = 0;
    for a in &agents {
        let tools = match &a.tools {
            None => "all tools".to_string(),
            Some(t) if t.is_empty() => "no tools".to_string(),
            Some(t) => format!("{} tools", t.len()),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<7}  {:<9}  {:<10}  {}",
            a.name,
            a.source.to_string(),
            a.model.as_deref().unwrap_or("inherit"),
            tools,
            one_line(&a.description, 70),
        );
        for s in catalog.shadows(a) {
            let _ = writeln!(
                out,
                "{:<width$}  ↳ shadows {} {}",
                "",
                s.source,
                relative(&s.path, &ws.root).display()
            );
        }
        warnings += a.warnings.len();
    }
    if warnings > 0 {
        let _ = writeln!(
            out,
            "\n{warnings} warning(s) in these files; `agentops lint` shows them with file and line."
        );
    }
    print(&out);
    Ok(ExitCode::Success)
}

fn show(args: &ShowArgs, catalog: &Catalog<AgentDefinition>, ws: &Workspace) -> CliResult {
    let Some(agent) = catalog.get(&args.name) else {
        let names: Vec<&str> = catalog.items.iter().map(|a| a.name.as_str()).collect();
        return Err(Failure::usage(anyhow::anyhow!(
            "no agent named `{}`; available: {}",
            args.name,
            names.join(", ")
        )));
    };
    if args.json {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            agent: &'a AgentDefinition,
            shadows: Vec<&'a Shadowed>,
        }
        print_json(&Shown {
            agent,
            shadows: catalog.shadows(agent).collect(),
        })?;
        return Ok(ExitCode::Success);
    }
    let mut out = String::new();
    let _ = writeln!(out, "name:        {}", agent.name);
    let _ = writeln!(
        out,
        "source:      {} ({})",
        agent.source,
        relative(&agent.path, &ws.root).display()
    );
    let _ = writeln!(out, "description: {}", agent.description.trim());
    let tools = match &agent.tools {
        None => "all".to_string(),
        Some(t) => t
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    let _ = writeln!(out, "tools:       {tools}");
    if !agent.disallowed_tools.is_empty() {
        let _ = writeln!(
            out,
            "disallowed:  {}",
            agent
                .disallowed_tools
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        out,
        "model:       {}",
        agent.model.as_deref().unwrap_or("inherit")
    );
    if let Some(mode) = agent.permission_mode {
        let _ = writeln!(
            out,
            "permissions: {}",
            serde_json::to_string(&mode)
                .unwrap_or_default()
                .trim_matches('"')
        );
    }
    if let Some(turns) = agent.max_turns {
        let _ = writeln!(out, "maxTurns:    {turns}");
    }
    if !agent.skills.is_empty() {
        let _ = writeln!(out, "skills:      {}", agent.skills.join(", "));
    }
    for s in catalog.shadows(agent) {
        let _ = writeln!(
            out,
            "shadows:     {} {}",
            s.source,
            relative(&s.path, &ws.root).display()
        );
    }
    for w in &agent.warnings {
        let _ = writeln!(out, "{}", w.display_with(&agent.path));
    }
    let _ = writeln!(out, "\n{}", agent.body.trim_end());
    print(&out);
    Ok(ExitCode::Success)
}
