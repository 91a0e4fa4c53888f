//! `agentops create APP --namespace NS`: scaffold an app from a template (no model), through
//! the gates and approvals like any other change.

use crate::cli::{CreateArgs, DriftFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::change::{GateOutcome, WriteOptions};
use agentops_tools::create::{CreateInput, plan, templates};
use serde_json::json;
use std::collections::BTreeMap;

pub fn run(args: &CreateArgs, ws: &Workspace) -> CliResult {
    let settings = ws.create_settings();
    let json_out = args.gate.format == DriftFormat::Json;
    if args.list_templates {
        let all = templates(&settings.templates_dir);
        if json_out {
            let list: Vec<_> = all
                .iter()
                .map(|t| match t {
                    Ok(t) => json!(t),
                    Err(e) => json!({"error": e}),
                })
                .collect();
            print_json(&list)?;
        } else {
            for t in &all {
                match t {
                    Ok(t) => print(&format!(
                        "{:<24} {:<10} {}\n",
                        t.name,
                        if t.source == "builtin" {
                            "builtin"
                        } else {
                            "project"
                        },
                        t.description
                    )),
                    Err(e) => print(&format!("(broken)                 {e}\n")),
                }
            }
        }
        return Ok(ExitCode::Success);
    }
    let mut labels = BTreeMap::new();
    for l in &args.label {
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| Failure::usage(anyhow::anyhow!("--label {l}: expected KEY=VALUE")))?;
        labels.insert(k.to_string(), v.to_string());
    }
    let input = CreateInput {
        app: args.app.clone().unwrap_or_default(),
        namespace: args.namespace.clone().unwrap_or_default(),
        image: args.image.clone(),
        envs: args.envs.clone(),
        template: Some(args.template.clone()),
        labels,
        port: args.port,
    };
    let planned =
        plan(&ws.root, &input, &settings).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let tool_input = json!({"app": input.app, "namespace": input.namespace, "template": args.template, "envs": args.envs});
    let options = WriteOptions {
        dry_run: args.gate.dry_run,
        check: None,
    };
    let change = runtime.block_on(crate::approver::write(
        ws,
        &args.gate.approvals,
        !json_out,
        ("create", "create_app", &tool_input),
        &planned.changes,
        options,
    ))?;
    let code = exit_code(change.outcome);
    let review = &change.review;
    if json_out {
        let approval = json!(change.verdict.request());
        print_json(&json!({
            "app": input.app,
            "template": planned.template,
            "conventions": planned.conventions,
            "labels": planned.labels,
            "files": planned.files,
            "outcome": outcome_name(change.outcome),
            "gates": review.units,
            "approval": approval,
        }))?;
        return Ok(code);
    }
    let verb = if change.outcome == GateOutcome::Written {
        "created"
    } else {
        "would create"
    };
    let mut out = format!(
        "{verb} {} from template {} ({}):\n",
        input.app, planned.template.name, planned.template.source
    );
    for f in &planned.files {
        out.push_str(&format!("  {f}\n"));
    }
    out.push_str(&review.summary());
    print(&out);
    match (change.outcome, change.verdict.request()) {
        (GateOutcome::Rejected, _) => {
            eprintln!("agentops: nothing written: a gate failed (see above)")
        }
        (GateOutcome::DryRun, _) => eprintln!("agentops: dry run: nothing written"),
        (GateOutcome::Failed, _) => eprintln!(
            "agentops: writing failed: {}",
            change.error.as_deref().unwrap_or("unknown error")
        ),
        (outcome @ (GateOutcome::Pending | GateOutcome::Denied), Some(r)) => eprintln!(
            "agentops: nothing written: high-risk files ({}) need approval; approve with --approve id={} or rules such as --approve kind=NetworkPolicy --approve env=prod",
            outcome_name(outcome).replace('_', " "),
            r.id
        ),
        _ => {}
    }
    Ok(code)
}

/// The exit code of a deterministic command's gated change.
pub(crate) fn exit_code(outcome: GateOutcome) -> ExitCode {
    match outcome {
        GateOutcome::Written
        | GateOutcome::DryRun
        | GateOutcome::Applied
        | GateOutcome::Committed => ExitCode::Success,
        GateOutcome::Pending | GateOutcome::Denied => ExitCode::Denied,
        GateOutcome::Rejected | GateOutcome::Failed => ExitCode::Findings,
    }
}

/// The `outcome` a deterministic command reports (`approval_required` for a pending one).
pub(crate) fn outcome_name(outcome: GateOutcome) -> &'static str {
    match outcome {
        GateOutcome::Pending => "approval_required",
        other => other.as_str(),
    }
}
