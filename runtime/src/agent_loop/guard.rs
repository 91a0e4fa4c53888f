//! Dispatch of the tools that change something, by risk class, onto the gated-change service
//! ([`crate::change`]): file changes are planned, gated and approved before they are written;
//! shell commands are gated after the fact and undone when refused; commits are refused while
//! a gate fails; cluster changes are planned (dry run), gated and approved before they run.
//! Nothing here reads what the model, a manifest or a tool result says about approval.

use super::Engine;
use crate::change::{Caller, GateOutcome, Verdict, WriteOptions};
use agentops_agents::AgentDefinition;
use agentops_tools::{Risk, Tool, ToolContext, ToolOutput};
use serde_json::Value;
use std::sync::Arc;

impl Engine {
    /// Runs a permitted call according to its risk class. Every class is named: a new one
    /// cannot fall through to an ungated run.
    pub(super) async fn dispatch(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn Tool,
        args: Value,
    ) -> ToolOutput {
        match tool.risk() {
            Risk::ReadOnly => tool.run(args, &self.ctx_for(agent)).await,
            Risk::Write => self.change(agent, call_id, tool, &args).await,
            Risk::Execute => self.shell(agent, call_id, tool, args).await,
            Risk::Commit => self.commit(agent, call_id, tool, args).await,
            Risk::Mutate => self.mutate(agent, call_id, tool, args).await,
        }
    }

    fn caller<'a>(
        &'a self,
        agent: &'a AgentDefinition,
        call_id: &'a str,
        tool: &'a dyn Tool,
        args: &'a Value,
    ) -> Caller<'a> {
        Caller {
            agent: &agent.name,
            call_id,
            tool: tool.name(),
            input: args,
            events: &self.events,
        }
    }

    /// A file-changing call: plan it, gate the planned change, get approval when it is high
    /// risk, and only then write it.
    async fn change(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn Tool,
        args: &Value,
    ) -> ToolOutput {
        let turn = self.changes.exclusive().await;
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
        let caller = self.caller(agent, call_id, tool, args);
        let change = match self
            .changes
            .write(&turn, caller, &changes, WriteOptions::default())
            .await
        {
            Ok(c) => c,
            Err(e) => return ToolOutput::error(format!("the change was not written: {e}")),
        };
        let summary = change.review.summary();
        match change.outcome {
            GateOutcome::Written => {
                let files: Vec<&str> = changes.iter().map(|c| c.rel.as_str()).collect();
                let diff: String = changes
                    .iter()
                    .map(agentops_tools::edit::FileChange::diff)
                    .collect();
                ToolOutput::ok(format!("wrote {}\n{summary}{diff}", files.join(", ")))
            }
            GateOutcome::Failed => ToolOutput::error(change.error.unwrap_or_default()),
            _ => ToolOutput::error(change.verdict.explain("written", &change.review)),
        }
    }

    /// The tool context of a call by `agent` (commit trailers, field managers name it).
    pub(super) fn ctx_for(&self, agent: &AgentDefinition) -> ToolContext {
        ToolContext {
            agent: agent.name.clone(),
            ..self.tool_ctx.clone()
        }
    }

    /// A cluster change: the tool plans it (server-side dry run, Argo CD diff), the gates check
    /// the rendered source, the plan's before/after sets the risk, and only an approved
    /// high-risk plan (or a low-risk one) runs.
    async fn mutate(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn Tool,
        args: Value,
    ) -> ToolOutput {
        let turn = self.changes.exclusive().await;
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
        let review = self.changes.gate().review_plan(&plan).await;
        let caller = self.caller(agent, call_id, tool, &args);
        let verdict = self
            .changes
            .decide(&turn, caller, &review, Vec::new())
            .await;
        if let Verdict::Rejected { .. } = verdict {
            self.changes.record(caller, &review, GateOutcome::Rejected);
            return ToolOutput::error(format!(
                "NOT applied: a gate failed on {}. Fix it in the repository first.\n{}",
                plan.source.as_deref().unwrap_or("the change"),
                review.summary()
            ));
        }
        if let Some(refused) = verdict.refusal() {
            self.changes.record(caller, &review, refused);
            return ToolOutput::error(verdict.explain("applied", &review));
        }
        let out = tool.run(args.clone(), &ctx).await;
        let outcome = if out.is_error {
            GateOutcome::Failed
        } else {
            GateOutcome::Applied
        };
        self.changes.record(caller, &review, outcome);
        if out.is_error {
            return out;
        }
        ToolOutput::ok(format!("{}\n{}", out.content, review.summary()))
    }

    /// A shell command: it runs, then every manifest it created, changed or deleted goes
    /// through the gates and approvals as if written with Write; what fails is put back.
    async fn shell(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn Tool,
        args: Value,
    ) -> ToolOutput {
        let turn = self.changes.exclusive().await;
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
        let review = match self.changes.gate().review_shell(&snapshot, &changed).await {
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
        let caller = self.caller(agent, call_id, tool, &args);
        let verdict = self
            .changes
            .decide(&turn, caller, &review, Vec::new())
            .await;
        let Some(refused) = verdict.refusal() else {
            self.changes.record(caller, &review, GateOutcome::Written);
            let content = format!("{}\n\n{}", out.content, review.summary());
            return out.with_content(content);
        };
        let restored = snapshot.restore(&changed);
        self.changes.record(caller, &review, refused);
        let why = match &verdict {
            Verdict::Rejected { .. } => "a gate failed".to_string(),
            refused => refused.explain("kept", &review),
        };
        ToolOutput::error(format!(
            "{}\n\nThe command changed manifests, and {why}; {}\n{}",
            out.content,
            restore_note(&restored),
            review.summary()
        ))
    }

    /// A commit: the gates run on what it would record (HEAD against the working tree) and a
    /// failing gate refuses it (DESIGN.md §3: commit is impossible while a gate fails).
    async fn commit(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn Tool,
        args: Value,
    ) -> ToolOutput {
        let _turn = self.changes.exclusive().await;
        let ctx = self.ctx_for(agent);
        let paths: Option<Vec<String>> = args
            .get("paths")
            .and_then(|p| serde_json::from_value(p.clone()).ok());
        let files = match agentops_tools::git::files_to_commit(&ctx, paths.as_deref()) {
            Ok(f) => f,
            Err(e) => return ToolOutput::error(e.to_string()),
        };
        let review = match self.changes.gate().review_commit(&files).await {
            Ok(r) => r,
            Err(e) => return ToolOutput::error(format!("not committed: {e}")),
        };
        let caller = self.caller(agent, call_id, tool, &args);
        if !review.passed() {
            self.changes.record(caller, &review, GateOutcome::Rejected);
            return ToolOutput::error(format!(
                "not committed: a gate fails on what the commit would record. Fix it first.\n{}",
                review.summary()
            ));
        }
        self.changes.record(caller, &review, GateOutcome::Committed);
        let out = tool.run(args, &ctx).await;
        if out.is_error {
            return out;
        }
        ToolOutput::ok(format!("{}\n{}", out.content, review.summary()))
    }
}

fn restore_note(restored: &std::io::Result<()>) -> String {
    match restored {
        Ok(()) => "agentops put those files back as they were.".into(),
        Err(e) => format!("putting them back FAILED ({e}): check `git status` before going on."),
    }
}
