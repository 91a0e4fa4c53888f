//! `agentops validate`: the gates with no model — render, policies — as text or JSON.

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::gates::{OverlayStatus, ValidateOptions, validate};
use agentops_runtime::policy::Severity;
use std::fmt::Write;
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
    let cache_dir = (!args.no_cache)
        .then(|| ws.home.as_ref().map(|h| h.join(".cache/agentops/render")))
        .flatten();
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
    if report.overlays.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no kustomization found under {}{}",
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
        ValidateFormat::Text => {
            let mut out = String::new();
            for o in &report.overlays {
                match o.status {
                    OverlayStatus::Ok => {
                        let _ = writeln!(
                            out,
                            "ok      {} ({} objects{})",
                            o.path,
                            o.objects,
                            if o.cached { ", cached" } else { "" }
                        );
                    }
                    OverlayStatus::Failed => {
                        let reason = o.error.as_deref().unwrap_or_default();
                        let first = reason.lines().next().unwrap_or_default();
                        let short: String = first.chars().take(300).collect();
                        let _ = writeln!(out, "FAILED  {}: {short}", o.path);
                    }
                }
            }
            for f in &report.findings {
                let level = match f.severity {
                    Severity::Error => "error",
                    Severity::Warn => "warning",
                    Severity::Off => continue,
                };
                let _ = writeln!(
                    out,
                    "{level}: {}: {} [{}] {}",
                    f.file, f.object, f.rule, f.message
                );
            }
            let s = &report.summary;
            let _ = writeln!(
                out,
                "{} kustomization(s), {} failed, {} objects; {} error(s), {} warning(s) in {:.2}s",
                s.overlays,
                s.failed,
                s.objects,
                s.errors,
                s.warnings,
                s.duration_ms as f64 / 1000.0
            );
            print(&out);
        }
    }
    Ok(if report.failed() {
        ExitCode::Findings
    } else {
        ExitCode::Success
    })
}
