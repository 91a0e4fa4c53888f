//! `agentops harmonize --set PATH=VALUE`: one value across every overlay, with no model. The
//! plan (which line of which file, per overlay) goes through the same gates as an agent's
//! edit — re-render, schema, policies, rendered diff, risk — and the same approvals.

use crate::cli::{DriftFormat, HarmonizeArgs};
use crate::cmd_create::{exit_code, outcome_name};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::change::{GateOutcome, Verdict, WriteOptions};
use agentops_tools::harmonize::{Filter, SetSpec, plan, targets_text};
use serde_json::json;

pub fn run(args: &HarmonizeArgs, ws: &Workspace) -> CliResult {
    let spec = SetSpec::parse(&args.set).map_err(Failure::usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    runtime.block_on(async {
        let filter = Filter {
            app: args.app.clone(),
            envs: args.env.clone(),
        };
        let timeout = agentops_runtime::workspace::RENDER_TIMEOUT;
        let planned = plan(&ws.root, &spec, &filter, timeout)
            .await
            .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
        let json_out = args.gate.format == DriftFormat::Json;
        let report = |outcome: &str, gates: Option<&agentops_runtime::review::Review>, extra: serde_json::Value| {
            json!({
                "set": spec.text,
                "outcome": outcome,
                "targets": planned.targets,
                "failed": planned.failed,
                "notes": planned.notes,
                "diff": planned.diff(),
                "gates": gates.map(|g| &g.units),
                "rendered_diff": gates.map(|g| g.rendered_diff()),
                "detail": extra,
            })
        };
        let say = |text: &str| {
            if !json_out {
                print(text);
            }
        };
        say(&format!("harmonize {}\n{}", spec.text, targets_text(&planned)));
        if planned.refused().next().is_some() || !planned.failed.is_empty() {
            if json_out {
                print_json(&report("refused", None, json!(null)))?;
            }
            eprintln!("agentops: nothing written: not every overlay can take the value (see above)");
            return Ok(ExitCode::Findings);
        }
        if planned.changes.is_empty() {
            if json_out {
                print_json(&report("no_change", None, json!(null)))?;
            } else {
                say("nothing to do: every overlay already renders it\n");
            }
            return Ok(ExitCode::Success);
        }
        let input = json!({"set": spec.text, "app": args.app, "env": args.env});
        // The edit must make each overlay render the new value: the rendered diff says so.
        let check = |review: &agentops_runtime::review::Review| -> Vec<String> {
            planned
                .targets
                .iter()
                .filter(|t| t.status == "change")
                .filter(|t| {
                    !review.units.iter().any(|u| {
                        u.path == t.overlay
                            && u.diff
                                .lines()
                                .any(|l| l.starts_with('+') && l.contains(&t.after))
                    })
                })
                .map(|t| format!("the edit did not change what {} renders", t.overlay))
                .collect()
        };
        let options = WriteOptions {
            dry_run: args.gate.dry_run,
            check: Some(&check),
        };
        let change = crate::approver::write(
            ws,
            &args.gate.approvals,
            !json_out,
            ("harmonize", "harmonize", &input),
            &planned.changes,
            options,
        )
        .await?;
        let review = &change.review;
        say(&planned.diff());
        say(&review.summary());
        let outcome = change.outcome;
        match (outcome, &change.verdict) {
            (GateOutcome::Rejected, Verdict::Rejected { problems }) => {
                for p in problems {
                    eprintln!("agentops: {p}");
                }
                eprintln!("agentops: nothing written: a gate failed");
            }
            (GateOutcome::DryRun, _) => say("dry run: nothing written\n"),
            (GateOutcome::Written, _) => {
                say(&format!("wrote {} file(s)\n", planned.changes.len()))
            }
            (GateOutcome::Failed, _) => eprintln!(
                "agentops: writing failed: {}",
                change.error.as_deref().unwrap_or("unknown error")
            ),
            (_, verdict) => {
                if let Some(request) = verdict.request() {
                    // Name the rule that would answer it: the environments it targets.
                    let mut envs: Vec<&str> = request
                        .units
                        .iter()
                        .filter_map(|u| u.environment.as_deref())
                        .collect();
                    envs.sort();
                    envs.dedup();
                    let rule = match envs.as_slice() {
                        [one] => format!("--approve env={one}"),
                        _ => "--approve reason=production".to_string(),
                    };
                    eprintln!(
                        "agentops: nothing written: high-risk change {} ({}); approve with --approve id={} or a rule such as {rule}",
                        request.id,
                        outcome_name(outcome).replace('_', " "),
                        request.id
                    );
                }
            }
        }
        if json_out {
            let approval = json!(change.verdict.request());
            print_json(&report(outcome_name(outcome), Some(review), json!({"approval": approval})))?;
        }
        Ok(exit_code(outcome))
    })
}
