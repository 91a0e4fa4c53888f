//! `agentops validate`: the gates with no model — render, policies — as text or JSON.

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::gates::{ValidateOptions, validate};
use std::time::Duration;

pub fn run(args: &ValidateArgs, ws: &Workspace) -> CliResult {
    let root = match &args.path {
        Some(p) => ws
            .cwd
            .join(p)
            .canonicalize()
            .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", p.display())))?,
        None => ws.cwd.clone(),
    };
    let cache_dir = (!args.no_cache).then(|| ws.render_cache());
    let options = ValidateOptions {
        app: args.app.clone(),
        env: args.env.clone(),
        cache_dir,
        parallel: std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
        timeout: Duration::from_secs(120),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let report = runtime.block_on(validate(&root, &ws.config.policy, &options));
    if report.overlays.is_empty() && report.manifests.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no kustomization or manifest found under {}{}",
            root.display(),
            if args.app.is_some() || args.env.is_some() {
                " matching --app/--env"
            } else {
                ""
            }
        )));
    }
    match args.format {
        ValidateFormat::Json => print_json(&report)?,
        ValidateFormat::Sarif => print_json(&crate::validate_formats::sarif(&report))?,
        ValidateFormat::Junit => print(&crate::validate_formats::junit(&report)),
        ValidateFormat::Text => print(&report.to_text()),
    }
    Ok(if report.failed() {
        ExitCode::Findings
    } else {
        ExitCode::Success
    })
}
