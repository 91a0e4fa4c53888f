//! How a run ended, once for every front end: the outcome, its exit code (DESIGN.md §4) and
//! the result object that `run` prints (json, the last stream-json line), the REPL and `run`
//! append to the session log. The same events give the same outcome everywhere.

use crate::agent_loop::{AgentRun, RunError, Stop, Totals};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// 0 success · 1 findings or a failed gate · 2 usage or configuration error · 3 approval
/// required · 4 model/provider failure after retries · 5 turn or budget limit · 130/143 stopped
/// by SIGINT/SIGTERM (the session is saved and can be resumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Findings = 1,
    Usage = 2,
    /// Approval required and not granted (or a tool call denied).
    Denied = 3,
    Provider = 4,
    Limit = 5,
    /// Stopped by SIGINT (128 + 2), the shell's convention.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15), the shell's convention.
    Terminated = 143,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What a run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Error,
    Denied,
    ApprovalRequired,
    Limit,
    /// The model kept repeating calls that failed (exit 5, like the limits).
    Stuck,
    Interrupted,
}

/// How the run's work ended, as a front end saw it.
pub enum Ending<'a> {
    /// The engine returned.
    Finished(&'a Result<AgentRun, RunError>),
    /// A signal (or Ctrl-C in the REPL) stopped it; `by` names it for people.
    Interrupted { by: &'a str, code: ExitCode },
}

/// The result object (DESIGN.md §4; fields may be added, never renamed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub outcome: Outcome,
    pub exit_code: u8,
    pub session_id: Option<String>,
    pub turns: u32,
    pub usage: crate::model::Usage,
    pub cost_usd: f64,
    pub duration_ms: u64,
    pub permission_denials: Vec<crate::permissions::Denial>,
    pub gates: Vec<crate::change::GateRecord>,
    pub pending_approvals: Vec<crate::approval::ApprovalRequest>,
    pub approvals: Vec<crate::change::ApprovalRecord>,
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_models: Vec<String>,
    /// What the run changed, computed by the runtime from its gate records — never from the
    /// model's prose: every file written, cluster change applied and commit made.
    pub changes: Vec<ChangeFact>,
    /// One line of facts: what changed, gates, approvals pending — or "no change was made".
    pub summary: String,
}

/// One change a run made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeFact {
    /// `file`, `cluster` or `commit`.
    pub kind: &'static str,
    /// The file, the cluster target, or the committed files.
    pub what: String,
    pub tool: String,
    pub agent: String,
}

/// The changes `gates` record, and the one-line summary of them.
pub fn facts(totals: &Totals) -> (Vec<ChangeFact>, String) {
    use crate::events::GateOutcome;
    let mut changes = Vec::new();
    for g in &totals.gates {
        let kind = match g.outcome {
            GateOutcome::Written => "file",
            GateOutcome::Applied => "cluster",
            GateOutcome::Committed => "commit",
            _ => continue,
        };
        let whats: Vec<String> = match kind {
            "file" => g.files.clone(),
            "commit" => vec![g.files.join(", ")],
            _ => g.units.iter().map(|u| u.path.clone()).collect(),
        };
        for what in whats {
            changes.push(ChangeFact {
                kind,
                what,
                tool: g.tool.clone(),
                agent: g.agent.clone(),
            });
        }
    }
    let count = |k: &str| changes.iter().filter(|c| c.kind == k).count();
    let failed = totals
        .gates
        .iter()
        .filter(|g| matches!(g.outcome, GateOutcome::Rejected | GateOutcome::Failed))
        .count();
    let mut parts = Vec::new();
    let mut files: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == "file")
        .map(|c| c.what.as_str())
        .collect();
    files.sort();
    files.dedup();
    if files.is_empty() && count("cluster") == 0 && count("commit") == 0 {
        parts.push("no change was made".to_string());
    } else {
        if !files.is_empty() {
            let shown: Vec<&str> = files.iter().take(5).copied().collect();
            let more = files.len().saturating_sub(shown.len());
            parts.push(format!(
                "{} file(s) written: {}{}",
                files.len(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if count("cluster") > 0 {
            parts.push(format!("{} cluster change(s) applied", count("cluster")));
        }
        if count("commit") > 0 {
            parts.push(format!("{} commit(s) made", count("commit")));
        }
    }
    if failed > 0 {
        parts.push(format!("{failed} change(s) refused by the gates"));
    }
    if !totals.pending_approvals.is_empty() {
        parts.push(format!(
            "{} change(s) waiting for approval",
            totals.pending_approvals.len()
        ));
    }
    if !totals.permission_denials.is_empty() {
        parts.push(format!(
            "{} tool call(s) refused by the rules",
            totals.permission_denials.len()
        ));
    }
    (changes, parts.join("; "))
}

impl RunResult {
    /// The result of a run that ended as `ending`, with `totals` (the run's, or one REPL
    /// turn's).
    pub fn of(ending: Ending<'_>, totals: Totals, session_id: &str, duration: Duration) -> Self {
        let (outcome, code, text, error, stop) = classify(&ending, &totals, session_id);
        let (changes, summary) = facts(&totals);
        let escalation = match ending {
            Ending::Finished(Err(RunError::Provider(esc))) => Some(esc),
            _ => None,
        };
        Self {
            kind: "result",
            outcome,
            exit_code: code.code(),
            session_id: Some(session_id.to_string()),
            turns: totals.turns,
            usage: totals.usage,
            cost_usd: totals.cost_usd,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            permission_denials: totals.permission_denials,
            gates: totals.gates,
            pending_approvals: totals.pending_approvals,
            approvals: totals.approvals,
            result: text,
            error,
            stop,
            attempts: escalation.map(|e| e.attempts),
            request_id: escalation.map(|e| e.request_id.clone()),
            unpriced_models: totals.unpriced_models,
            changes,
            summary,
        }
    }

    /// A run that could not start (bad flags, broken config): still one result object.
    pub fn of_failure(code: ExitCode, error: String, duration: Duration) -> Self {
        Self {
            kind: "result",
            outcome: Outcome::Error,
            exit_code: code.code(),
            session_id: None,
            turns: 0,
            usage: crate::model::Usage::default(),
            cost_usd: 0.0,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            permission_denials: Vec::new(),
            gates: Vec::new(),
            pending_approvals: Vec::new(),
            approvals: Vec::new(),
            result: String::new(),
            error: Some(error),
            stop: None,
            attempts: None,
            request_id: None,
            unpriced_models: Vec::new(),
            changes: Vec::new(),
            summary: "no change was made".to_string(),
        }
    }

    pub fn exit(&self) -> ExitCode {
        match self.exit_code {
            0 => ExitCode::Success,
            1 => ExitCode::Findings,
            2 => ExitCode::Usage,
            3 => ExitCode::Denied,
            4 => ExitCode::Provider,
            5 => ExitCode::Limit,
            130 => ExitCode::Interrupted,
            _ => ExitCode::Terminated,
        }
    }

    /// The result object, every string in it redacted (the answer, refused inputs, errors).
    pub fn to_value(&self) -> Value {
        self.to_value_redacting(&agentops_tools::redact::KnownSecrets::default())
    }

    /// [`RunResult::to_value`], also redacting the values the repository makes secret.
    pub fn to_value_redacting(&self, secrets: &agentops_tools::redact::KnownSecrets) -> Value {
        let mut value = serde_json::to_value(self)
            .unwrap_or_else(|e| json!({"type": "result", "error": e.to_string()}));
        secrets.redact_strings(&mut value);
        value
    }
}

type Classified = (Outcome, ExitCode, String, Option<String>, Option<Stop>);

/// Outcome, exit code, answer, error and stop of a run: the one place they are decided.
fn classify(ending: &Ending<'_>, totals: &Totals, session_id: &str) -> Classified {
    let run = match ending {
        Ending::Interrupted { by, code } => {
            let error =
                format!("stopped by {by}; the session is saved: go on with --resume {session_id}");
            return (
                Outcome::Interrupted,
                *code,
                String::new(),
                Some(error),
                None,
            );
        }
        Ending::Finished(Err(RunError::Provider(esc))) => {
            return (
                Outcome::Error,
                ExitCode::Provider,
                String::new(),
                Some(esc.to_string()),
                None,
            );
        }
        Ending::Finished(Ok(run)) => run,
    };
    let said = |outcome, code, error: String| {
        (
            outcome,
            code,
            run.text.clone(),
            Some(error),
            Some(run.stop.clone()),
        )
    };
    let denied_approvals = totals
        .approvals
        .iter()
        .filter(|a| matches!(a.decision, crate::approval::ApprovalDecision::Denied { .. }))
        .count();
    let failed_gates = unresolved_rejections(totals);
    match &run.stop {
        Stop::ApprovalRequired { pending } => said(
            Outcome::ApprovalRequired,
            ExitCode::Denied,
            format!(
                "stopped: {} high-risk change(s) need approval and were not written ({}); approve with --approve id=<id> (or a rule) and run again",
                pending.len(),
                pending.join(", ")
            ),
        ),
        Stop::Hook { event, reason } => said(
            Outcome::Denied,
            ExitCode::Denied,
            format!("a {event} hook stopped the run: {reason}"),
        ),
        Stop::Final if denied_approvals > 0 => said(
            Outcome::Denied,
            ExitCode::Denied,
            format!(
                "{denied_approvals} high-risk change(s) were denied (by an approval rule or a person)"
            ),
        ),
        // A refused tool call is never a clean success (DESIGN.md §4).
        Stop::Final if !totals.permission_denials.is_empty() => said(
            Outcome::Denied,
            ExitCode::Denied,
            format!(
                "{} tool call(s) were refused by the permission rules",
                totals.permission_denials.len()
            ),
        ),
        Stop::Final if !failed_gates.is_empty() => said(
            Outcome::Error,
            ExitCode::Findings,
            format!(
                "a gate failed and the change was never made to pass: {}",
                failed_gates.join(", ")
            ),
        ),
        Stop::Final => (
            Outcome::Success,
            ExitCode::Success,
            run.text.clone(),
            None,
            Some(run.stop.clone()),
        ),
        Stop::Stuck { calls } => said(
            Outcome::Stuck,
            ExitCode::Limit,
            format!(
                "stopped: the model kept repeating calls that failed: {}",
                calls.join("; ")
            ),
        ),
        stop => said(Outcome::Limit, ExitCode::Limit, limit_message(stop)),
    }
}

/// Files whose last gated change was rejected (a later passing change to them resolves it).
fn unresolved_rejections(totals: &Totals) -> Vec<String> {
    crate::change::Ledger {
        gates: totals.gates.clone(),
        ..Default::default()
    }
    .unresolved_rejections()
}

/// What a person reads about a limit.
pub fn limit_message(stop: &Stop) -> String {
    match stop {
        Stop::TurnLimit { limit } => {
            format!("stopped at the turn limit ({limit}); raise --max-turns to go on")
        }
        Stop::Budget {
            spent_usd,
            limit_usd,
        } => format!(
            "stopped at the budget: ${spent_usd:.4} spent of ${limit_usd:.4} (--max-budget-usd)"
        ),
        Stop::Tokens { used, limit } => {
            format!("stopped at the token cap: {used} of {limit} tokens")
        }
        Stop::Requests { used, limit } => format!(
            "stopped at the request cap: {used} of {limit} model requests ([limits] max_requests)"
        ),
        Stop::Final | Stop::ApprovalRequired { .. } | Stop::Hook { .. } | Stop::Stuck { .. } => {
            String::new()
        }
    }
}
