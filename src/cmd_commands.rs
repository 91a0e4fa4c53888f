//! `agentops commands list|show|render`.

use crate::cli::{CommandsCommand, ListArgs, RenderArgs, ShowArgs};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{one_line, print, print_json, relative, report_discovery, source_matches};
use agentops_agents::discover::Shadowed;
use agentops_agents::{Catalog, Diagnostic, Source};
use agentops_commands::{Arguments, CommandDefinition, resolve};
use agentops_runtime::{RenderError, Workspace};
use serde::Serialize;
use std::fmt::Write;
use std::path::PathBuf;

pub fn run(cmd: &CommandsCommand, ws: &Workspace) -> CliResult {
    let catalog = ws.commands();
    report_discovery(&catalog.diagnostics);
    match cmd {
        CommandsCommand::List(args) => list(args, &catalog, ws),
        CommandsCommand::Show(args) => show(args, &catalog, ws),
        CommandsCommand::Render(args) => render(args, &catalog, ws),
    }
}

/// One row of `commands list --json` (DESIGN.md §4).
#[derive(Serialize)]
struct CommandRow<'a> {
    name: &'a str,
    description: &'a str,
    argument_hint: Option<&'a str>,
    agent: Option<&'a str>,
    source: Source,
    /// `command` or `skill`.
    kind: &'static str,
    /// A skill only the model may use (`user-invocable: false`).
    user_invocable: bool,
    path: &'a PathBuf,
    warnings: usize,
    shadows: Vec<&'a Shadowed>,
}

fn kind(c: &CommandDefinition) -> &'static str {
    if c.skill_dir.is_some() {
        "skill"
    } else {
        "command"
    }
}

fn list(args: &ListArgs, catalog: &Catalog<CommandDefinition>, ws: &Workspace) -> CliResult {
    let commands: Vec<&CommandDefinition> = catalog
        .items
        .iter()
        .filter(|c| source_matches(c.source, args.source))
        .collect();
    if args.json {
        let rows: Vec<CommandRow> = commands
            .iter()
            .map(|c| CommandRow {
                name: &c.name,
                description: &c.description,
                argument_hint: c.argument_hint.as_deref(),
                agent: c.routed_agent(),
                source: c.source,
                kind: kind(c),
                user_invocable: c.user_invocable,
                path: &c.path,
                warnings: c.warnings.len(),
                shadows: catalog.shadows(c).collect(),
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::Success);
    }
    let mut out = String::new();
    if commands.is_empty() {
        out.push_str("No commands found. Put command files in .claude/commands/.\n");
    }
    let usage = |c: &CommandDefinition| match &c.argument_hint {
        Some(h) => format!("/{} {}", c.name, one_line(h, 30)),
        None => format!("/{}", c.name),
    };
    let width = commands
        .iter()
        .map(|c| usage(c).len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut warnings = 0;
    for c in &commands {
        let agent = c
            .routed_agent()
            .map(|a| format!(" → @{a}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<width$}  {:<7}  {}{}{agent}",
            usage(c),
            c.source.to_string(),
            match (kind(c), c.user_invocable) {
                ("skill", true) => "[skill] ",
                ("skill", false) => "[skill, model only] ",
                _ => "",
            },
            one_line(&c.description, 70),
        );
        for s in catalog.shadows(c) {
            let _ = writeln!(
                out,
                "{:<width$}  ↳ shadows {} {}",
                "",
                s.source,
                relative(&s.path, &ws.root).display()
            );
        }
        warnings += c.warnings.len();
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

fn find<'a>(
    catalog: &'a Catalog<CommandDefinition>,
    name: &str,
) -> Result<&'a CommandDefinition, Failure> {
    resolve(catalog, name).map_err(Failure::usage)
}

fn show(args: &ShowArgs, catalog: &Catalog<CommandDefinition>, ws: &Workspace) -> CliResult {
    let cmd = find(catalog, &args.name)?;
    if args.json {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            command: &'a CommandDefinition,
            shadows: Vec<&'a Shadowed>,
        }
        print_json(&Shown {
            command: cmd,
            shadows: catalog.shadows(cmd).collect(),
        })?;
        return Ok(ExitCode::Success);
    }
    let mut out = String::new();
    let _ = writeln!(out, "name:          /{}", cmd.name);
    let _ = writeln!(
        out,
        "source:        {} ({})",
        cmd.source,
        relative(&cmd.path, &ws.root).display()
    );
    let _ = writeln!(out, "description:   {}", cmd.description.trim());
    if let Some(hint) = &cmd.argument_hint {
        let _ = writeln!(out, "arguments:     {hint}");
    }
    if !cmd.arguments.is_empty() {
        let _ = writeln!(
            out,
            "named:         {}",
            cmd.arguments
                .iter()
                .map(|a| format!("${a}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if let Some(tools) = &cmd.allowed_tools {
        let _ = writeln!(
            out,
            "allowed-tools: {}",
            tools
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(model) = &cmd.model {
        let _ = writeln!(out, "model:         {model}");
    }
    if let Some(agent) = cmd.routed_agent() {
        let _ = writeln!(out, "runs as:       @{agent}");
    }
    for s in catalog.shadows(cmd) {
        let _ = writeln!(
            out,
            "shadows:       {} {}",
            s.source,
            relative(&s.path, &ws.root).display()
        );
    }
    for w in &cmd.warnings {
        let _ = writeln!(out, "{}", w.display_with(&cmd.path));
    }
    let _ = writeln!(out, "\n{}", cmd.body.trim_end());
    print(&out);
    Ok(ExitCode::Success)
}

fn render(args: &RenderArgs, catalog: &Catalog<CommandDefinition>, ws: &Workspace) -> CliResult {
    let arguments = Arguments::from_words(&args.args);
    let (cmd, expansion) = ws
        .render_command(catalog, &args.name, &arguments)
        .map_err(|err| match err {
            RenderError::Resolve(e) => Failure::usage(e),
            RenderError::Expand(e) => Failure::findings(e),
        })?;
    let report = |w: &Diagnostic| eprintln!("{}", w.display_with(&cmd.path));
    if args.json {
        #[derive(Serialize)]
        struct Rendered<'a> {
            name: &'a str,
            agent: Option<&'a str>,
            model: Option<&'a str>,
            prompt: &'a str,
            warnings: &'a [Diagnostic],
            shell: Vec<serde_json::Value>,
            inlined: &'a [PathBuf],
        }
        print_json(&Rendered {
            name: &cmd.name,
            agent: cmd.routed_agent(),
            model: cmd.model.as_deref(),
            prompt: &expansion.prompt,
            warnings: &expansion.warnings,
            shell: expansion
                .shell_runs
                .iter()
                .map(|r| serde_json::json!({"line": r.line, "command": r.command, "exit_code": r.exit_code}))
                .collect(),
            inlined: &expansion.inlined,
        })?;
    } else {
        expansion.warnings.iter().for_each(report);
        print(&expansion.prompt);
    }
    Ok(ExitCode::Success)
}
