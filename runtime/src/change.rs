//! The gated-change service: the one path every change takes (DESIGN.md §3) — an agent's
//! `Write`/`Edit`, a shell command's file changes, a commit, a cluster apply or sync, `create`,
//! `harmonize` and `deploy` alike.
//!
//! plan → gates → risk → approval → apply: the caller plans (file changes, a server-side dry
//! run); the [`ChangeGate`] renders and checks what the plan touches; a high-risk review (or an
//! extra reason such as a promotion) goes to the [`Approver`]; only then is the change made.
//! Every step is an event (`gate`, `approval_requested`, `approval_decided`) on the caller's
//! sink and a record in the [`Ledger`] the run's result is built from. Nothing here reads what
//! a model, a manifest or a tool result says about approval.
//!
//! Changes are made one at a time: [`ChangeService::exclusive`] hands out a [`Turn`] that every
//! gated step takes, so plan, gates, approval and write all see the same files.

use crate::approval::{ApprovalDecision, ApprovalRequest, ApprovalUnit, Approver};
pub use crate::events::{ApprovalRecord, GateOutcome, GateRecord};
use crate::events::{Event, EventSink};
use crate::review::{ChangeGate, Review, ReviewError};
use crate::risk::Level;
use agentops_tools::edit::FileChange;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// What the service decided over a run: the result object's `gates`, `approvals` and
/// `pending_approvals`.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub gates: Vec<GateRecord>,
    pub approvals: Vec<ApprovalRecord>,
    /// High-risk changes nobody decided on (a run stops at the first).
    pub pending: Vec<ApprovalRequest>,
}

impl Ledger {
    /// Files whose last gated change was rejected (a later passing change to them resolves it).
    pub fn unresolved_rejections(&self) -> Vec<String> {
        let mut last = std::collections::BTreeMap::new();
        for g in &self.gates {
            for f in &g.files {
                last.insert(f.as_str(), g.outcome);
            }
        }
        last.into_iter()
            .filter(|(_, outcome)| *outcome == GateOutcome::Rejected)
            .map(|(f, _)| f.to_string())
            .collect()
    }

    /// Files of the changes a person or a rule approved in this run.
    pub fn approved_files(&self) -> std::collections::BTreeSet<String> {
        self.approvals
            .iter()
            .filter(|a| matches!(a.decision, ApprovalDecision::Granted { .. }))
            .flat_map(|a| a.files.iter().cloned())
            .collect()
    }

    pub fn denied(&self) -> usize {
        self.approvals
            .iter()
            .filter(|a| matches!(a.decision, ApprovalDecision::Denied { .. }))
            .count()
    }
}

/// Who asks for a change: named in events, records and approval requests.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The agent (or `create`, `harmonize`, `deploy`).
    pub agent: &'a str,
    /// The tool call's id (or a step name).
    pub call_id: &'a str,
    pub tool: &'a str,
    /// The call's input: the approval id is derived from tool and input.
    pub input: &'a Value,
    pub events: &'a EventSink,
}

/// Gates and approval said what may happen next.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Go ahead: nothing needed approval.
    Proceed,
    /// Go ahead: a person or a rule approved it.
    Approved {
        request: Box<ApprovalRequest>,
        by: String,
    },
    /// A gate failed, or the caller's own check found `problems`.
    Rejected { problems: Vec<String> },
    Denied {
        request: Box<ApprovalRequest>,
        by: String,
    },
    /// High risk and nobody decided.
    Pending { request: Box<ApprovalRequest> },
}

impl Verdict {
    /// The record's outcome when the change is not made (`None`: go ahead).
    pub fn refusal(&self) -> Option<GateOutcome> {
        match self {
            Verdict::Proceed | Verdict::Approved { .. } => None,
            Verdict::Rejected { .. } => Some(GateOutcome::Rejected),
            Verdict::Denied { .. } => Some(GateOutcome::Denied),
            Verdict::Pending { .. } => Some(GateOutcome::Pending),
        }
    }

    pub fn request(&self) -> Option<&ApprovalRequest> {
        match self {
            Verdict::Approved { request, .. }
            | Verdict::Denied { request, .. }
            | Verdict::Pending { request } => Some(request),
            Verdict::Proceed | Verdict::Rejected { .. } => None,
        }
    }

    /// What the model (or a person) is told when the change is not made; `what` names the
    /// action ("written", "applied", "kept").
    pub fn explain(&self, what: &str, review: &Review) -> String {
        let summary = review.summary();
        match self {
            Verdict::Proceed | Verdict::Approved { .. } => summary,
            Verdict::Rejected { problems } if problems.is_empty() => {
                format!("NOT {what}: a gate failed. Fix what is listed and try again.\n{summary}")
            }
            Verdict::Rejected { problems } => {
                format!("NOT {what}: {}\n{summary}", problems.join("; "))
            }
            Verdict::Denied { request, by } => format!(
                "NOT {what}: approval denied by {by}.\n{}",
                request.describe()
            ),
            Verdict::Pending { request } => format!(
                "NOT {what}: it is high risk and needs a person's approval, which nobody can give in this run. The run stops here; the change is kept as pending.\n{}",
                request.describe()
            ),
        }
    }
}

/// How a file change ended, with the gates' review of it.
#[derive(Debug, Clone)]
pub struct Change {
    pub verdict: Verdict,
    pub outcome: GateOutcome,
    pub review: Review,
    /// Why writing failed (outcome `failed`).
    pub error: Option<String>,
}

/// A caller's own check of a review: the problems it finds (none: the change may go on).
pub type Check<'a> = &'a (dyn Fn(&Review) -> Vec<String> + Sync);

/// Options of [`ChangeService::write`].
#[derive(Default)]
pub struct WriteOptions<'a> {
    /// Gate, but ask nobody and write nothing.
    pub dry_run: bool,
    /// The caller's own check of the review (e.g. the render changed as intended).
    pub check: Option<Check<'a>>,
}

/// Proof that the caller holds the service's change lock.
pub struct Turn<'a> {
    _guard: tokio::sync::MutexGuard<'a, ()>,
}

/// The one gated-change service of a run (see the module docs).
pub struct ChangeService {
    gate: Arc<ChangeGate>,
    control: Option<crate::control::ControlFiles>,
    approver: Arc<dyn Approver>,
    ledger: Mutex<Ledger>,
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ChangeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeService")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl ChangeService {
    pub fn new(gate: Arc<ChangeGate>, approver: Arc<dyn Approver>) -> Self {
        Self {
            gate,
            control: None,
            approver,
            ledger: Mutex::new(Ledger::default()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Changes to these files need an approval that names `reason=control`.
    pub fn with_control(mut self, control: crate::control::ControlFiles) -> Self {
        self.control = Some(control);
        self
    }

    /// The approval units the control files among `changes` add.
    pub fn control_units(&self, changes: &[FileChange]) -> Vec<ApprovalUnit> {
        let paths: Vec<&std::path::Path> = changes.iter().map(|c| c.path.as_path()).collect();
        self.control_units_of(&paths)
    }

    /// The approval units the control files among `paths` (absolute) add.
    pub fn control_units_of(&self, paths: &[&std::path::Path]) -> Vec<ApprovalUnit> {
        self.control
            .as_ref()
            .map(|c| c.units(paths))
            .unwrap_or_default()
    }

    pub fn gate(&self) -> &ChangeGate {
        &self.gate
    }

    /// Waits for the change lock: one change at a time.
    pub async fn exclusive(&self) -> Turn<'_> {
        Turn {
            _guard: self.lock.lock().await,
        }
    }

    /// A copy of what has been decided so far.
    pub fn ledger(&self) -> Ledger {
        self.ledger.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets pending approvals (an interactive session goes on after them).
    pub fn clear_pending(&self) {
        if let Ok(mut l) = self.ledger.lock() {
            l.pending.clear();
        }
    }

    /// File changes: gates, the caller's check, approval for high risk, then the write.
    pub async fn write(
        &self,
        turn: &Turn<'_>,
        caller: Caller<'_>,
        changes: &[FileChange],
        options: WriteOptions<'_>,
    ) -> Result<Change, ReviewError> {
        let review = self.gate.review(changes).await?;
        let problems = options.check.map(|c| c(&review)).unwrap_or_default();
        let verdict = if !problems.is_empty() {
            Verdict::Rejected { problems }
        } else if options.dry_run && review.passed() {
            // Nothing will be written: nobody is asked.
            Verdict::Proceed
        } else {
            let control = self.control_units(changes);
            self.decide(turn, caller, &review, control).await
        };
        let (outcome, error) = match verdict.refusal() {
            Some(refused) => (refused, None),
            None if options.dry_run => (GateOutcome::DryRun, None),
            None => match apply_all(changes) {
                Ok(()) => (GateOutcome::Written, None),
                Err(e) => (GateOutcome::Failed, Some(e)),
            },
        };
        self.record(caller, &review, outcome);
        Ok(Change {
            verdict,
            outcome,
            review,
            error,
        })
    }

    /// The gates' verdict on `review` and, when it is high risk or `extra` gives reasons
    /// (a promotion), the approver's. Emits the approval events and keeps the decision.
    pub async fn decide(
        &self,
        _turn: &Turn<'_>,
        caller: Caller<'_>,
        review: &Review,
        extra: Vec<ApprovalUnit>,
    ) -> Verdict {
        if !review.passed() {
            return Verdict::Rejected {
                problems: Vec::new(),
            };
        }
        if review.level() != Level::High && extra.is_empty() {
            return Verdict::Proceed;
        }
        let mut request = ApprovalRequest::new(caller.agent, caller.tool, caller.input, review);
        request.units.extend(extra);
        caller.events.emit(Event::ApprovalRequested {
            agent: caller.agent.to_string(),
            request: request.clone(),
        });
        let decision = self.approver.decide(&request).await;
        caller.events.emit(Event::ApprovalDecided {
            agent: caller.agent.to_string(),
            id: request.id.clone(),
            decision: decision.clone(),
        });
        let Ok(mut ledger) = self.ledger.lock() else {
            return Verdict::Pending {
                request: Box::new(request),
            };
        };
        let record = |decision: ApprovalDecision| ApprovalRecord {
            id: request.id.clone(),
            agent: request.agent.clone(),
            tool: request.tool.clone(),
            files: request.files.clone(),
            decision,
        };
        match decision {
            ApprovalDecision::Granted { ref by } => {
                let by = by.clone();
                ledger.approvals.push(record(decision));
                Verdict::Approved {
                    request: Box::new(request),
                    by,
                }
            }
            ApprovalDecision::Denied { ref by } => {
                let by = by.clone();
                ledger.approvals.push(record(decision));
                Verdict::Denied {
                    request: Box::new(request),
                    by,
                }
            }
            ApprovalDecision::Unanswered { .. } => {
                ledger.pending.push(request.clone());
                Verdict::Pending {
                    request: Box::new(request),
                }
            }
        }
    }

    /// Emits and keeps the gates' verdict on one call.
    pub fn record(&self, caller: Caller<'_>, review: &Review, outcome: GateOutcome) {
        let record = GateRecord {
            agent: caller.agent.to_string(),
            tool: caller.tool.to_string(),
            call_id: caller.call_id.to_string(),
            files: review.files.clone(),
            passed: review.passed(),
            risk: review.level(),
            outcome,
            units: review.units.clone(),
        };
        caller.events.emit(Event::Gate {
            agent: caller.agent.to_string(),
            id: caller.call_id.to_string(),
            record: record.clone(),
        });
        if let Ok(mut ledger) = self.ledger.lock() {
            ledger.gates.push(record);
        }
    }
}

/// Applies a change set all or nothing: when one file cannot be written, those written before
/// it are put back, so the repository never holds a part of a gated set.
fn apply_all(changes: &[FileChange]) -> Result<(), String> {
    for (i, change) in changes.iter().enumerate() {
        if let Err(e) = change.apply() {
            let mut note = String::new();
            for done in changes[..i].iter().rev() {
                let undo = FileChange {
                    path: done.path.clone(),
                    rel: done.rel.clone(),
                    before: done.after.clone(),
                    after: done.before.clone(),
                };
                if let Err(u) = undo.write_to(&undo.path) {
                    note.push_str(&format!("; putting {} back FAILED ({u})", done.rel));
                }
            }
            return Err(format!("{e}; nothing of the change was kept{note}"));
        }
    }
    Ok(())
}
