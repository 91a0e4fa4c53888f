//! `agentops model install | status`: the embedded local model.

use crate::cli::ModelCommand;
use crate::exit::{CliResult, ExitCode, Failure};
use agentops_local_model::{LocalModel, ModelState, Progress};
use agentops_runtime::Workspace;
use agentops_runtime::providers::{self, SetupError};
use std::io::{IsTerminal, Write};

pub fn run(cmd: &ModelCommand, ws: &Workspace) -> CliResult {
    let local = LocalModel::from_env(ws.home.as_deref()).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "no cache folder for the local model: set HOME or AGENTOPS_CACHE"
        ))
    })?;
    match cmd {
        ModelCommand::Install => install(&local),
        ModelCommand::Status { json } => status(&local, ws, *json),
    }
}

fn install(local: &LocalModel) -> CliResult {
    let tty = std::io::stderr().is_terminal();
    let mut bar_open = false;
    let mut show = |p: Progress| {
        let mut err = std::io::stderr();
        let line = match p {
            Progress::Step(text) => Some(text),
            Progress::Checking => Some("checking the model's sha256".to_string()),
            Progress::Building { elapsed } => {
                let s = elapsed.as_secs();
                let text = format!(
                    "  building llama-server: {}m{:02}s (about 25 min)",
                    s / 60,
                    s % 60
                );
                if tty {
                    let _ = write!(err, "\r{text}");
                    bar_open = true;
                    None
                } else {
                    Some(text)
                }
            }
            Progress::Part {
                done,
                total,
                bytes,
                total_bytes,
            } => {
                let pct = bytes.saturating_mul(100) / total_bytes.max(1);
                let filled = usize::try_from(pct / 4).unwrap_or(25).min(25);
                let text = format!(
                    "  [{}{}] {pct:>3}%  part {done}/{total}, {:.0} of {:.0} MB",
                    "#".repeat(filled),
                    " ".repeat(25 - filled),
                    bytes as f64 / 1e6,
                    total_bytes as f64 / 1e6
                );
                if tty && done < total {
                    let _ = write!(err, "\r{text}");
                    bar_open = true;
                    None
                } else {
                    Some(text)
                }
            }
        };
        if let Some(text) = line {
            if bar_open {
                let _ = write!(err, "\r\x1b[2K");
                bar_open = false;
            }
            let _ = writeln!(err, "agentops: {text}");
        }
    };
    local.install(&mut show).map_err(|e| Failure {
        code: ExitCode::Provider,
        error: anyhow::anyhow!("installing the local model: {e}"),
    })?;
    eprintln!("agentops: the local model is installed; runs use it when no provider is configured");
    Ok(ExitCode::Success)
}

fn status(local: &LocalModel, ws: &Workspace, json: bool) -> CliResult {
    let status = local.status();
    // Which provider a run here would use: a configured one wins over the local model.
    let configured = match providers::resolve(&ws.config, &providers::process_env, None, None) {
        Ok(p) => Some(format!("{} ({}, model {})", p.name, p.base_url, p.model)),
        Err(SetupError::NothingConfigured) => None,
        Err(e) => Some(format!("misconfigured: {e}")),
    };
    if json {
        let mut value = serde_json::to_value(&status).map_err(Failure::usage)?;
        value["installed"] = status.installed().into();
        value["configured_provider"] = configured.into();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(Failure::usage)?
        );
    } else {
        println!("cache:   {}", status.cache.display());
        match &status.server {
            Some(p) => println!("server:  {}", p.display()),
            None => println!("server:  not built"),
        }
        let model = match status.model {
            ModelState::Verified => "installed, checksum verified",
            ModelState::Unverified => "installed, checksum checked on first use",
            ModelState::WrongSize => "incomplete (wrong size)",
            ModelState::Missing => "not installed",
        };
        println!("model:   {} — {model}", status.model_label);
        println!("         {}", status.model_path.display());
        match (&configured, status.installed()) {
            (Some(p), _) => println!("runs use: the configured provider {p}"),
            (None, true) => {
                println!("runs use: the local model (started on a free loopback port for each run)")
            }
            (None, false) => println!(
                "runs use: nothing yet: run `agentops model install`, or configure a provider"
            ),
        }
    }
    Ok(if status.installed() {
        ExitCode::Success
    } else {
        ExitCode::Findings
    })
}
