//! `agentops harmonize --set PATH=VALUE`: one value across every overlay, with no model. The
//! plan (which line of which file, per overlay) goes through the same gates as an agent's
//! edit — re-render, schema, policies, rendered diff, risk — and the same approvals.

use crate::cli::{DriftFormat, HarmonizeArgs};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::approval::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, ApprovalRule, Approver, PromptApprover,
};
use agentops_runtime::review::ChangeGate;
use agentops_tools::harmonize::{Filter, SetSpec, plan, targets_text};
use serde_json::json;
use std::io::IsTerminal;
use std::time::Duration;

pub fn run(args: &HarmonizeArgs, ws: &Workspace) -> CliResult {
    let spec = SetSpec::parse(&args.set).map_err(Failure::usage)?;
    let mut policy = ApprovalPolicy::default();
    if let Some(file) = &args.approval_policy {
        policy.load_file(file).map_err(Failure::usage)?;
    }
    for rule in &args.approve {
        policy
            .approve
            .push(ApprovalRule::parse(rule).map_err(Failure::usage)?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    runtime.block_on(async {
        let filter = Filter {
            app: args.app.clone(),
            envs: args.env.clone(),
        };
        let timeout = Duration::from_secs(120);
        let planned = plan(&ws.root, &spec, &filter, timeout)
            .await
            .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
        let json_out = args.format == DriftFormat::Json;
        let report = |outcome: &str, gates: Option<&agentops_runtime::review::Review>, extra: serde_json::Value| {
            json!({
                "set": spec.text,
                "outcome": outcome,
                "targets": planned.targets,
                "failed": planned.failed,
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
        let cache = ws.home.as_ref().map(|h| h.join(".cache/agentops/render"));
        let gate = ChangeGate::new(ws.root.clone(), ws.config.policy.clone(), cache, timeout);
        let review = gate
            .review(&planned.changes)
            .await
            .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
        say(&planned.diff());
        say(&review.summary());
        // The edit must make each overlay render the new value: the rendered diff says so.
        let unverified: Vec<String> = planned
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
            .map(|t| t.overlay.clone())
            .collect();
        if !review.passed() || !unverified.is_empty() {
            if !unverified.is_empty() {
                eprintln!(
                    "agentops: the edit did not change what {} render; nothing written",
                    unverified.join(", ")
                );
            }
            if json_out {
                print_json(&report("rejected", Some(&review), json!({"unverified": unverified})))?;
            }
            return Ok(ExitCode::Findings);
        }
        if args.dry_run {
            if json_out {
                print_json(&report("dry_run", Some(&review), json!(null)))?;
            } else {
                say("dry run: nothing written\n");
            }
            return Ok(ExitCode::Success);
        }
        if review.level() == agentops_runtime::risk::Level::High {
            let request = ApprovalRequest::new(
                "harmonize",
                "harmonize",
                &json!({"set": spec.text, "app": args.app, "env": args.env}),
                &review,
            );
            let person = !json_out && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            let decision = if person {
                PromptApprover::new(
                    policy,
                    Box::new(std::io::BufReader::new(std::io::stdin())),
                    crate::repl::diff_writer(std::env::var_os("NO_COLOR").is_none()),
                )
                .decide(&request)
                .await
            } else {
                policy.decide(&request).await
            };
            match decision {
                ApprovalDecision::Granted { by } => say(&format!("approved by {by}\n")),
                other => {
                    let outcome = if matches!(other, ApprovalDecision::Denied { .. }) {
                        "denied"
                    } else {
                        "approval_required"
                    };
                    if json_out {
                        print_json(&report(outcome, Some(&review), json!({"approval": request})))?;
                    }
                    eprintln!(
                        "agentops: nothing written: high-risk change {} ({}); approve with --approve id={} or a rule such as --approve env=prod",
                        request.id,
                        outcome.replace('_', " "),
                        request.id
                    );
                    return Ok(ExitCode::Denied);
                }
            }
        }
        for change in &planned.changes {
            change
                .apply()
                .map_err(|e| Failure::findings(anyhow::anyhow!(e)))?;
        }
        if json_out {
            print_json(&report("written", Some(&review), json!(null)))?;
        } else {
            say(&format!("wrote {} file(s)\n", planned.changes.len()));
        }
        Ok(ExitCode::Success)
    })
}
