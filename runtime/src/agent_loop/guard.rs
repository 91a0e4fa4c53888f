//! Dispatch of the tools that change something, by risk class, onto the gated-change service
//! ([`crate::change`]): file changes are planned, gated and approved before they are written;
//! shell commands run in the sandbox and their change set is gated like a write; commits are refused while
//! a gate fails; cluster changes are planned (dry run), gated and approved before they run.
//! Nothing here reads what the model, a manifest or a tool result says about approval.

use super::Engine;
use crate::change::{Caller, GateOutcome, Verdict, WriteOptions};
use agentops_agents::AgentDefinition;
use agentops_tools::{Risk, Tool, ToolContext, ToolOutput};
use serde_json::{Value, json};

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
        // An `Edit(...)`/`Write(...)` deny or ask rule covers a file however it is changed:
        // harmonize, create_app and add_object follow it like Edit does.
        if !matches!(tool.name(), "Edit" | "Write" | "MultiEdit" | "NotebookEdit")
            && let Err(refused) = self.edits_allowed(agent, tool.name(), &changes)
        {
            return refused;
        }
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

    /// `Err` when an `Edit(...)`/`Write(...)` deny or ask rule covers a file of `changes`
    /// (a person must make or allow that change; nothing is written).
    fn edits_allowed(
        &self,
        agent: &AgentDefinition,
        what: &str,
        changes: &[agentops_tools::edit::FileChange],
    ) -> Result<(), ToolOutput> {
        let mode = self.permissions.mode_of(agent);
        for c in changes {
            let as_edit = json!({"file_path": c.path.display().to_string()});
            let why = match self
                .permissions
                .check_in("Edit", &as_edit, Risk::ReadOnly, mode)
            {
                crate::permissions::Decision::Allow => continue,
                crate::permissions::Decision::Deny(why) => why,
                crate::permissions::Decision::Ask(why) => {
                    format!("{why}; a person must make or allow that change")
                }
            };
            return Err(ToolOutput::error(format!(
                "nothing was written: {what} would change {}, and {why}",
                c.rel
            )));
        }
        Ok(())
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

    /// A shell command: it runs in the sandbox, which changes nothing real; its output goes
    /// back at once, and the files it created, changed or deleted go through the gates and
    /// approvals like a `Write` — only an approved change set reaches the repository.
    async fn shell(
        &self,
        agent: &AgentDefinition,
        call_id: &str,
        tool: &dyn Tool,
        args: Value,
    ) -> ToolOutput {
        let turn = self.changes.exclusive().await;
        let ctx = self.ctx_for(agent);
        let Some(planned) = tool.plan_execution(&args, &ctx) else {
            return ToolOutput::failed(
                agentops_tools::ErrorKind::Denied,
                format!(
                    "{} is refused: the shell sandbox is not available on this machine (it needs unprivileged user namespaces and overlayfs), and agentops never runs a command whose changes it cannot gate. Use the typed tools (Read, Grep, Edit, kustomize_build, validate).",
                    tool.name()
                ),
            );
        };
        let exec = match planned.await {
            Ok(e) => e,
            Err(refusal) => return refusal,
        };
        let git_note = if exec.git_changed {
            "\n(Changes the command made under .git/ were discarded: commit with git_commit.)"
        } else {
            ""
        };
        if !exec.unsupported.is_empty() {
            let content = format!(
                "{}\n\nThe command's changes were NOT applied: agentops cannot gate these, so none of the change set reached the repository:\n- {}{git_note}",
                exec.output.content,
                exec.unsupported.join("\n- ")
            );
            return ToolOutput::failed(agentops_tools::ErrorKind::Denied, content);
        }
        if exec.changes.is_empty() {
            let content = format!("{}{git_note}", exec.output.content);
            return exec.output.with_content(content);
        }
        // The command's change set answers to the same Edit/Write rules as an edit.
        if let Err(refused) = self.edits_allowed(agent, "the command", &exec.changes) {
            return refused;
        }
        let caller = self.caller(agent, call_id, tool, &args);
        let change = match self
            .changes
            .write(&turn, caller, &exec.changes, WriteOptions::default())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                let content = format!(
                    "{}\n\nThe command's changes were NOT applied: they could not be checked ({e})",
                    exec.output.content
                );
                return ToolOutput::error(content);
            }
        };
        let files: Vec<&str> = exec.changes.iter().map(|c| c.rel.as_str()).collect();
        match change.outcome {
            GateOutcome::Written => {
                let content = format!(
                    "{}\n\nIts changes passed the gates and were applied to {}.\n{}{git_note}",
                    exec.output.content,
                    files.join(", "),
                    change.review.summary()
                );
                exec.output.with_content(content)
            }
            GateOutcome::Failed => ToolOutput::error(format!(
                "{}\n\nThe command's changes passed the gates but could not be applied: {}",
                exec.output.content,
                change.error.unwrap_or_default()
            )),
            _ => {
                let why = match &change.verdict {
                    Verdict::Rejected { .. } => {
                        format!("a gate failed\n{}", change.review.summary())
                    }
                    refused => refused.explain("applied", &change.review),
                };
                ToolOutput::error(format!(
                    "{}\n\nThe command's changes to {} were NOT applied (nothing reached the repository): {why}{git_note}",
                    exec.output.content,
                    files.join(", ")
                ))
            }
        }
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
        let turn = self.changes.exclusive().await;
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
        // High-risk content nobody approved in this session (written by hand, or by a shell
        // before agentops ran) is not published on the model's word: it is asked for.
        let approved = self.changes.ledger().approved_files();
        let unapproved = review.files.iter().any(|f| !approved.contains(f));
        if review.level() == crate::risk::Level::High && unapproved {
            let verdict = self
                .changes
                .decide(&turn, caller, &review, Vec::new())
                .await;
            if let Some(refused) = verdict.refusal() {
                self.changes.record(caller, &review, refused);
                return ToolOutput::error(verdict.explain("committed", &review));
            }
        }
        self.changes.record(caller, &review, GateOutcome::Committed);
        let out = tool.run(args, &ctx).await;
        if out.is_error {
            return out;
        }
        ToolOutput::ok(format!("{}\n{}", out.content, review.summary()))
    }
}
