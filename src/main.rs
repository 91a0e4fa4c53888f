//! The `agentops` binary: parses the command line, opens the workspace and hands each
//! subcommand to its front end. Errors are printed once, here, with their exit code.

mod approver;
mod cli;
mod cmd_agents;
mod cmd_commands;
mod cmd_create;
mod cmd_deploy;
mod cmd_drift;
mod cmd_harmonize;
mod cmd_init;
mod cmd_learnings;
mod cmd_lint;
mod cmd_model;
mod cmd_run;
mod cmd_sessions;
mod cmd_trust;
mod cmd_validate;
mod exit;
mod output;
mod repl;
mod validate_formats;

use agentops_runtime::Workspace;
use agentops_runtime::settings::{LoadOptions, Settings};
use clap::Parser;
use cli::{Cli, Command};
use exit::Failure;
use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    // One TLS crypto provider for every client (kube and reqwest would pick different ones).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let code = match run(cli) {
        Ok(code) => code,
        Err(Failure { code, error }) => {
            eprintln!("agentops: error: {error:#}");
            code
        }
    };
    std::process::ExitCode::from(code as u8)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTOPS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// How the customisation loads: `--bare`, `--setting-sources`, `--settings`, `--trust-repo`,
/// `--tools`, `--plugin-dir`.
fn load_options(cli: &Cli) -> Result<LoadOptions, Failure> {
    let sources = match &cli.setting_sources {
        Some(text) => Some(Settings::parse_sources(text).map_err(Failure::usage)?),
        None => None,
    };
    let tools = match cli.tools.as_deref().map(str::trim) {
        None | Some("default") => None,
        Some("") => Some(Vec::new()),
        Some(text) => {
            let mut warnings = Vec::new();
            let specs = agentops_agents::tools::parse_tool_list(
                "tools",
                &serde_json::Value::String(text.to_string()),
                0,
                &mut warnings,
            )
            .unwrap_or_default();
            for w in &warnings {
                eprintln!("agentops: warning: --tools: {}", w.message);
            }
            Some(specs.into_iter().map(|s| s.name).collect())
        }
    };
    let plugin_dirs = cli
        .plugin_dir
        .iter()
        .map(|d| {
            d.canonicalize()
                .map_err(|e| Failure::usage(anyhow::anyhow!("--plugin-dir {}: {e}", d.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LoadOptions {
        bare: cli.bare,
        sources,
        cli: cli.settings.clone(),
        managed: agentops_runtime::settings::managed_paths(),
        trust_repo: cli.trust_repo,
        tools,
        plugin_dirs,
    })
}

fn run(cli: Cli) -> exit::CliResult {
    let cwd = match &cli.repo {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(Failure::usage)?,
    };
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let options = load_options(&cli)?;
    let open = || Workspace::open_with(&cwd, home.clone(), options.clone()).map_err(Failure::usage);
    let sessions = cli.sessions_dir.as_ref().map(|d| cwd.join(d));
    let Some(command) = cli.command else {
        return repl::run(open()?, cli.verbose, sessions.as_deref());
    };
    match command {
        Command::Lint(args) => cmd_lint::run(&args, &cwd),
        Command::Agents(sub) => cmd_agents::run(&sub, &open()?),
        Command::Commands(sub) => cmd_commands::run(&sub, &open()?),
        Command::Run(args) => cmd_run::run(&args, open, cli.verbose, sessions.as_deref()),
        Command::Validate(args) => cmd_validate::run(&args, &open()?),
        Command::Drift(args) => cmd_drift::run(&args, &open()?),
        Command::Deploy(args) => cmd_deploy::run(&args, &open()?, sessions.as_deref()),
        Command::Init(args) => cmd_init::run(&args, &open()?),
        Command::Create(args) => cmd_create::run(&args, &open()?),
        Command::Harmonize(args) => cmd_harmonize::run(&args, &open()?),
        Command::Sessions(cmd) => cmd_sessions::run(&cmd, &open()?, sessions.as_deref()),
        Command::Learnings(cmd) => cmd_learnings::run(&cmd, &open()?),
        Command::Model(cmd) => cmd_model::run(&cmd, &open()?),
        Command::Trust(args) => cmd_trust::run(&args, &cwd, home.as_deref(), open),
    }
}
