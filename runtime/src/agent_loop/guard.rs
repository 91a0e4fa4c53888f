//! The code around every tool that changes something (DESIGN.md §3): file changes are
//! planned, gated and approved before they are written; shell commands are gated after the
//! fact and undone when refused; commits are refused while a gate fails; cluster changes are
//! planned (dry run), gated and approved before they run. Nothing here reads what the model,
//! a manifest or a tool result says about approval.

use super::{ApprovalRecord, Engine, GateRecord};
use crate::approval::{ApprovalDecision, ApprovalRequest};
use crate::events::Event;
use agentops_agents::AgentDefinition;
use agentops_tools::{ToolContext, ToolOutput};
use serde_json::Value;
use std::sync::Arc;

impl Engine {
    /// A file-changing call: plan it, gate the planned change, get approval when it is high
    /// risk, and only then write it. Nothing here depends on what the model or a file says.
    pub(super) async fn change(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn agentops_tools::Tool,
        args: &Value,
    ) -> ToolOutput {
        let _one_at_a_time = self.change_lock.lock().await;
        let planned = match tool.plan_change(args, &self.tool_ctx) {
            Some(planned) => Some(planned),
            None => match tool.plan_change_async(args, &self.tool_ctx) {
                Some(later) => Some(later.await),
                None => None,
            },
        };
        let changes = match planned {
            None => {
                return ToolOutput::error(format!(
                    "{} changes files but cannot show the change before making it, so it cannot be gated; use Write or Edit",
                    tool.name()
                ));
            }
            Some(Err(e)) => return e,
            Some(Ok(changes)) => changes,
        };
        let review = match self.gate.review(&changes).await {
            Ok(r) => r,
            Err(e) => return ToolOutput::error(format!("the change was not written: {e}")),
        };
        let files: Vec<String> = changes.iter().map(|c| c.rel.clone()).collect();
        let summary = review.summary();
        let finish = |outcome: &'static str, output: ToolOutput| {
            self.record_gate(agent, call_id, tool.name(), &review, outcome);
            output
        };
        if !review.passed() {
            return finish(
                "rejected",
                ToolOutput::error(format!(
                    "the change was NOT written: a gate failed. Fix what is listed and try again.\n{summary}"
                )),
            );
        }
        if let Err((outcome, refusal)) = self
            .approve(agent, tool.name(), args, &review, "written")
            .await
        {
            return finish(outcome, refusal);
        }
        for change in &changes {
            if let Err(e) = change.apply() {
                return finish("failed", ToolOutput::error(e.to_string()));
            }
        }
        let diff: String = changes
            .iter()
            .map(agentops_tools::edit::FileChange::diff)
            .collect();
        finish(
            "written",
            ToolOutput::ok(format!("wrote {}\n{summary}{diff}", files.join(", "))),
        )
    }

    /// The tool context of a call by `agent` (commit trailers, field managers name it).
    pub(super) fn ctx_for(&self, agent: &AgentDefinition) -> ToolContext {
        ToolContext {
            agent: agent.name.clone(),
            ..self.tool_ctx.clone()
        }
    }

    /// Asks the approver when `review` is high risk. `Err` carries the gate outcome
    /// (`denied` or `pending`) and what the model is told; `what` names the action
    /// ("written", "applied").
    async fn approve(
        &self,
        agent: &AgentDefinition,
        tool: &str,
        args: &Value,
        review: &crate::review::Review,
        what: &str,
    ) -> Result<(), (&'static str, ToolOutput)> {
        if review.level() != crate::risk::Level::High {
            return Ok(());
        }
        let request = ApprovalRequest::new(&agent.name, tool, args, review);
        self.events.emit(Event::ApprovalRequested {
            agent: agent.name.clone(),
            request: request.clone(),
        });
        let decision = self.approver.decide(&request).await;
        self.events.emit(Event::ApprovalDecided {
            agent: agent.name.clone(),
            id: request.id.clone(),
            decision: decision.clone(),
        });
        match &decision {
            ApprovalDecision::Granted { .. } => {
                self.note_approval(&request, decision);
                Ok(())
            }
            ApprovalDecision::Denied { by } => {
                let message = format!(
                    "NOT {what}: approval denied by {by}.\n{}",
                    request.describe()
                );
                self.note_approval(&request, decision.clone());
                Err(("denied", ToolOutput::error(message)))
            }
            ApprovalDecision::Unanswered { .. } => {
                let message = format!(
                    "NOT {what}: it is high risk and needs a person's approval, which nobody can give in this run. The run stops here; the change is kept as pending.\n{}",
                    request.describe()
                );
                if let Ok(mut totals) = self.totals.lock() {
                    totals.pending_approvals.push(request);
                }
                Err(("pending", ToolOutput::error(message)))
            }
        }
    }

    /// A cluster change: the tool plans it (server-side dry run, Argo CD diff), the gates check
    /// the rendered source, the plan's before/after sets the risk, and only an approved
    /// high-risk plan (or a low-risk one) runs.
    pub(super) async fn mutate(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn agentops_tools::Tool,
        args: Value,
    ) -> ToolOutput {
        let _one_at_a_time = self.change_lock.lock().await;
        let ctx = self.ctx_for(agent);
        let plan = match tool.plan_mutation(&args, &ctx) {
            None => {
                return ToolOutput::error(format!(
                    "{} changes a cluster but cannot show the change before making it, so it cannot be gated",
                    tool.name()
                ));
            }
            Some(plan) => match plan.await {
                Ok(p) => p,
                Err(e) => return e,
            },
        };
        let review = self.gate.review_plan(&plan).await;
        let summary = review.summary();
        if !review.passed() {
            self.record_gate(agent, call_id, tool.name(), &review, "rejected");
            return ToolOutput::error(format!(
                "NOT applied: a gate failed on {}. Fix it in the repository first.\n{summary}",
                plan.source.as_deref().unwrap_or("the change")
            ));
        }
        if let Err((outcome, refusal)) = self
            .approve(agent, tool.name(), &args, &review, "applied")
            .await
        {
            self.record_gate(agent, call_id, tool.name(), &review, outcome);
            return refusal;
        }
        let out = tool.run(args, &ctx).await;
        let outcome = if out.is_error { "failed" } else { "applied" };
        self.record_gate(agent, call_id, tool.name(), &review, outcome);
        if out.is_error {
            return out;
        }
        ToolOutput::ok(format!("{}\n{summary}", out.content))
    }

    /// A shell command: it runs, then every manifest it created, changed or deleted goes
    /// through the gates and approvals as if written with Write; what fails is put back.
    pub(super) async fn shell(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn agentops_tools::Tool,
        args: Value,
    ) -> ToolOutput {
        let _one_at_a_time = self.change_lock.lock().await;
        let root = self.tool_ctx.root.clone();
        let snapshot =
            match tokio::task::spawn_blocking(move || crate::review::Snapshot::take(&root)).await {
                Ok(s) => Arc::new(s),
                Err(e) => return ToolOutput::error(format!("cannot snapshot the manifests: {e}")),
            };
        let out = tool.run(args.clone(), &self.ctx_for(agent)).await;
        let (root, snap) = (self.tool_ctx.root.clone(), snapshot.clone());
        let changed = tokio::task::spawn_blocking(move || snap.changed(&root))
            .await
            .unwrap_or_default();
        if changed.is_empty() {
            return out;
        }
        let review = match self.gate.review_shell(&snapshot, &changed).await {
            Ok(r) => r,
            Err(e) => {
                let restored = snapshot.restore(&changed);
                return ToolOutput::error(format!(
                    "{}\n\nThe command changed manifests that could not be checked ({e}); {}",
                    out.content,
                    restore_note(&restored)
                ));
            }
        };
        let summary = review.summary();
        let refusal = if !review.passed() {
            Some(("rejected", "a gate failed".to_string()))
        } else {
            match self
                .approve(agent, tool.name(), &args, &review, "kept")
                .await
            {
                Ok(()) => None,
                Err((outcome, refusal)) => Some((outcome, refusal.content)),
            }
        };
        let Some((outcome, why)) = refusal else {
            self.record_gate(agent, call_id, tool.name(), &review, "written");
            return ToolOutput {
                content: format!("{}\n\n{summary}", out.content),
                is_error: out.is_error,
            };
        };
        let restored = snapshot.restore(&changed);
        self.record_gate(agent, call_id, tool.name(), &review, outcome);
        ToolOutput::error(format!(
            "{}\n\nThe command changed manifests, and {why}; {}\n{summary}",
            out.content,
            restore_note(&restored)
        ))
    }

    /// A commit: the gates run on what it would record (HEAD against the working tree) and a
    /// failing gate refuses it (DESIGN.md §3: commit is impossible while a gate fails).
    pub(super) async fn commit(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn agentops_tools::Tool,
        args: Value,
    ) -> ToolOutput {
        let _one_at_a_time = self.change_lock.lock().await;
        let ctx = self.ctx_for(agent);
        let paths: Option<Vec<String>> = args
            .get("paths")
            .and_then(|p| serde_json::from_value(p.clone()).ok());
        let files = match agentops_tools::git::files_to_commit(&ctx, paths.as_deref()) {
            Ok(f) => f,
            Err(e) => return ToolOutput::error(e.to_string()),
        };
        let review = match self.gate.review_commit(&files).await {
            Ok(r) => r,
            Err(e) => return ToolOutput::error(format!("not committed: {e}")),
        };
        let outcome = if review.passed() {
            "committed"
        } else {
            "rejected"
        };
        self.record_gate(agent, call_id, tool.name(), &review, outcome);
        if !review.passed() {
            return ToolOutput::error(format!(
                "not committed: a gate fails on what the commit would record. Fix it first.\n{}",
                review.summary()
            ));
        }
        let out = tool.run(args, &ctx).await;
        if out.is_error {
            return out;
        }
        ToolOutput::ok(format!("{}\n{}", out.content, review.summary()))
    }

    /// Emits and keeps the gates' verdict on one tool call.
    fn record_gate(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &str,
        review: &crate::review::Review,
        outcome: &'static str,
    ) {
        let record = GateRecord {
            agent: agent.name.clone(),
            tool: tool.to_string(),
            call_id: call_id.to_string(),
            files: review.files.clone(),
            passed: review.passed(),
            risk: review.level(),
            outcome,
            units: review.units.clone(),
        };
        self.events.emit(Event::Gate {
            agent: agent.name.clone(),
            id: call_id.to_string(),
            record: record.clone(),
        });
        if let Ok(mut totals) = self.totals.lock() {
            totals.gates.push(record);
        }
    }

    fn note_approval(&self, request: &ApprovalRequest, decision: ApprovalDecision) {
        if let Ok(mut totals) = self.totals.lock() {
            totals.approvals.push(ApprovalRecord {
                id: request.id.clone(),
                agent: request.agent.clone(),
                tool: request.tool.clone(),
                files: request.files.clone(),
                decision,
            });
        }
    }
}

fn restore_note(restored: &std::io::Result<()>) -> String {
    match restored {
        Ok(()) => "agentops put those files back as they were.".into(),
        Err(e) => format!("putting them back FAILED ({e}): check `git status` before going on."),
    }
}
