//! `agentops create APP --namespace NS`: scaffold an app from a template (no model), through
//! the gates and approvals like any other change.

use crate::cli::{CreateArgs, DriftFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::gated::{Gated, approval_policy, gate_and_write};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_tools::create::{CreateInput, CreateSettings, plan, templates};
use serde_json::json;
use std::collections::BTreeMap;

/// Where a repository keeps its own templates.
pub(crate) fn settings(ws: &Workspace) -> CreateSettings {
    CreateSettings {
        templates_dir: ws.root.join("templates"),
        required_labels: ws.config.policy.required_labels.clone(),
    }
}

pub fn run(args: &CreateArgs, ws: &Workspace) -> CliResult {
    let settings = settings(ws);
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
    let policy = approval_policy(
        args.gate.approvals.approval_policy.as_deref(),
        &args.gate.approvals.approve,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let tool_input = json!({"app": input.app, "namespace": input.namespace, "template": args.template, "envs": args.envs});
    let (gated, review) = runtime.block_on(gate_and_write(
        ws,
        &planned.changes,
        ("create_app", &tool_input),
        policy,
        args.gate.dry_run,
        !json_out,
        |_| Vec::new(),
    ))?;
    let code = match &gated {
        Gated::Rejected(_) => ExitCode::Findings,
        Gated::DryRun | Gated::Written => ExitCode::Success,
        Gated::ApprovalRequired(_) | Gated::Denied(_) => ExitCode::Denied,
    };
    if json_out {
        let approval = match &gated {
            Gated::ApprovalRequired(r) | Gated::Denied(r) => json!(r),
            _ => json!(null),
        };
        print_json(&json!({
            "app": input.app,
            "template": planned.template,
            "conventions": planned.conventions,
            "labels": planned.labels,
            "files": planned.files,
            "outcome": gated.outcome(),
            "gates": review.units,
            "approval": approval,
        }))?;
        return Ok(code);
    }
    let verb = if matches!(gated, Gated::Written) {
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
    match &gated {
        Gated::Rejected(_) => eprintln!("agentops: nothing written: a gate failed (see above)"),
        Gated::DryRun => eprintln!("agentops: dry run: nothing written"),
        Gated::ApprovalRequired(r) | Gated::Denied(r) => eprintln!(
            "agentops: nothing written: high-risk files ({}) need approval; approve with --approve id={} or rules such as --approve kind=NetworkPolicy --approve env=prod",
            gated.outcome().replace('_', " "),
            r.id
        ),
        Gated::Written => {}
    }
    Ok(code)
}
