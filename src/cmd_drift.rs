//! `agentops drift`: Git's rendered overlays against a live export or a cluster; no model.

use crate::cli::{DriftArgs, DriftFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::drift::{DriftOptions, Live, drift};
use agentops_tools::ToolContext;
use std::time::Duration;

pub fn run(args: &DriftArgs, ws: &Workspace) -> CliResult {
    let live = match (&args.live, &args.context) {
        (Some(dir), _) => {
            let dir = ws.cwd.join(dir);
            if !dir.is_dir() {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--live {}: not a folder; export live objects with `kubectl get -o yaml` into one",
                    dir.display()
                )));
            }
            Live::Dir(dir)
        }
        (None, Some(context)) => Live::Cluster {
            ctx: Box::new(ToolContext {
                timeout: Duration::from_secs(60),
                ..ws.tool_context("", "drift")
            }),
            context: context.clone(),
        },
        (None, None) => {
            return Err(Failure::usage(anyhow::anyhow!(
                "say where the live state is: --live DIR or --context CTX"
            )));
        }
    };
    let options = DriftOptions {
        app: args.app.clone(),
        env: args.env.clone(),
        timeout: Duration::from_secs(120),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let report = runtime
        .block_on(drift(&ws.cwd, &live, &options))
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    if report.overlays.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no overlay found under {} matching --app/--env",
            ws.cwd.display()
        )));
    }
    match args.format {
        DriftFormat::Json => print_json(&report)?,
        DriftFormat::Text => print(&report.to_text()),
    }
    Ok(if report.has_drift() {
        ExitCode::Findings
    } else {
        ExitCode::Success
    })
}
