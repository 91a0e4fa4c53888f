//! Who answers approvals in a front end: the rules (`--approve`, `--approval-policy`) alone,
//! or, at a terminal, a person asked about what the rules leave open (stdin, stderr with
//! coloured diffs). What needs approval and what a decision does is the runtime's.

use crate::exit::Failure;
use agentops_runtime::approval::{ApprovalPolicy, Approver, PromptApprover};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

/// `--approve` rules and an `--approval-policy` file, as one policy.
pub(crate) fn policy(file: Option<&Path>, rules: &[String]) -> Result<ApprovalPolicy, Failure> {
    ApprovalPolicy::from_flags(file, rules).map_err(Failure::usage)
}

/// Whether a person can answer: stdin and stderr are terminals (and the output is for people).
pub(crate) fn person_at_terminal(for_people: bool) -> bool {
    for_people && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The policy's rules, and a person at this terminal when `person`.
pub(crate) fn approver(policy: ApprovalPolicy, person: bool) -> Arc<dyn Approver> {
    if person {
        Arc::new(PromptApprover::new(
            policy,
            Box::new(std::io::BufReader::new(std::io::stdin())),
            crate::repl::diff_writer(std::env::var_os("NO_COLOR").is_none()),
        ))
    } else {
        Arc::new(policy)
    }
}

/// A deterministic command's change (`create`, `harmonize`) through the workspace's
/// gated-change service, as `actor` calling `tool` with `input`; approvals from the flags,
/// and a person at a terminal when `interactive`.
pub(crate) async fn write(
    ws: &agentops_runtime::Workspace,
    flags: &crate::cli::ApproveFlags,
    interactive: bool,
    (actor, tool, input): (&str, &str, &serde_json::Value),
    changes: &[agentops_tools::edit::FileChange],
    options: agentops_runtime::change::WriteOptions<'_>,
) -> Result<agentops_runtime::change::Change, Failure> {
    let policy = policy(flags.approval_policy.as_deref(), &flags.approve)?;
    let service = ws.change_service(
        approver(policy, person_at_terminal(interactive)),
        flags.approval_policy.as_deref(),
    );
    let turn = service.exclusive().await;
    let events = agentops_runtime::EventSink::discard();
    let caller = agentops_runtime::change::Caller {
        agent: actor,
        call_id: actor,
        tool,
        input,
        events: &events,
    };
    service
        .write(&turn, caller, changes, options)
        .await
        .map_err(Failure::usage)
}
