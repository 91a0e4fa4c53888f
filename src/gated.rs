//! The one path deterministic commands (`create`, `harmonize`) take to change files: the
//! change gate (render, schema, policies, rendered diff, risk), then an approval for high
//! risk (rules from `--approve`/`--approval-policy`, or a person at a terminal), then the
//! write — the same gates and approvals an agent's edit goes through.

use crate::exit::Failure;
use agentops_runtime::Workspace;
use agentops_runtime::approval::{
    ApprovalDecision, ApprovalPolicy, ApprovalRequest, ApprovalRule, Approver, PromptApprover,
};
use agentops_runtime::review::{ChangeGate, Review};
use agentops_tools::edit::FileChange;
use serde_json::Value;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

/// `--approve` rules and an `--approval-policy` file, as one policy.
pub(crate) fn approval_policy(
    file: Option<&Path>,
    rules: &[String],
) -> Result<ApprovalPolicy, Failure> {
    let mut policy = ApprovalPolicy::default();
    if let Some(file) = file {
        policy.load_file(file).map_err(Failure::usage)?;
    }
    for rule in rules {
        policy
            .approve
            .push(ApprovalRule::parse(rule).map_err(Failure::usage)?);
    }
    Ok(policy)
}

/// Asks the person at this terminal (stdin, stderr with coloured diffs) what `policy` leaves open.
pub(crate) fn terminal_approver(policy: ApprovalPolicy) -> PromptApprover {
    PromptApprover::new(
        policy,
        Box::new(std::io::BufReader::new(std::io::stdin())),
        crate::repl::diff_writer(std::env::var_os("NO_COLOR").is_none()),
    )
}

/// How a gated change ended.
pub(crate) enum Gated {
    /// A gate failed (or `problems` were found): nothing written.
    Rejected(Vec<String>),
    DryRun,
    /// High risk and nobody approved: nothing written.
    ApprovalRequired(Box<ApprovalRequest>),
    Denied(Box<ApprovalRequest>),
    Written,
}

impl Gated {
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Gated::Rejected(_) => "rejected",
            Gated::DryRun => "dry_run",
            Gated::ApprovalRequired(_) => "approval_required",
            Gated::Denied(_) => "denied",
            Gated::Written => "written",
        }
    }
}

/// Gates `changes`, asks for approval when they are high risk, and writes them.
/// `check` may add problems of its own (e.g. the render did not change as intended).
pub(crate) async fn gate_and_write(
    ws: &Workspace,
    changes: &[FileChange],
    (tool, input): (&str, &Value),
    policy: ApprovalPolicy,
    dry_run: bool,
    interactive: bool,
    check: impl Fn(&Review) -> Vec<String>,
) -> Result<(Gated, Review), Failure> {
    let cache = ws.home.as_ref().map(|h| h.join(".cache/agentops/render"));
    let gate = ChangeGate::new(
        ws.root.clone(),
        ws.config.policy.clone(),
        cache,
        Duration::from_secs(120),
    );
    let review = gate
        .review(changes)
        .await
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let problems = check(&review);
    if !review.passed() || !problems.is_empty() {
        return Ok((Gated::Rejected(problems), review));
    }
    if dry_run {
        return Ok((Gated::DryRun, review));
    }
    if review.level() == agentops_runtime::risk::Level::High {
        let request = ApprovalRequest::new(tool, tool, input, &review);
        let person =
            interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let decision = if person {
            terminal_approver(policy).decide(&request).await
        } else {
            policy.decide(&request).await
        };
        match decision {
            ApprovalDecision::Granted { .. } => {}
            ApprovalDecision::Denied { .. } => {
                return Ok((Gated::Denied(Box::new(request)), review));
            }
            ApprovalDecision::Unanswered { .. } => {
                return Ok((Gated::ApprovalRequired(Box::new(request)), review));
            }
        }
    }
    for change in changes {
        change
            .apply()
            .map_err(|e| Failure::findings(anyhow::anyhow!(e)))?;
    }
    Ok((Gated::Written, review))
}
