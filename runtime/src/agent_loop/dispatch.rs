//! One tool call: arguments parsed and checked against the tool's schema, delegation, the
//! PreToolUse hooks, the permission rules and the agent's permission mode, then the call by
//! its risk class (`guard`), PostToolUse hooks, redaction and the size cap.

use super::offer::Offer;
use super::{AGENT_TOOL, Engine, canonical, cap};
use crate::events::{CallVia, Event};
use crate::model::ToolCall;
use crate::permissions::{Decision, Denial};
use agentops_agents::AgentDefinition;
use agentops_agents::definition::PermissionMode;
use agentops_tools::ToolOutput;
use serde_json::{Value, json};
use std::time::Instant;

impl Engine {
    /// [`Engine::execute`], or a refusal when the call would start a subagent beyond the
    /// per-turn cap (`over`).
    pub(super) async fn execute_within(
        &self,
        agent: &AgentDefinition,
        model: &str,
        call_and_via: &(ToolCall, CallVia),
        offer: &Offer,
        depth: u32,
        over: bool,
    ) -> (ToolOutput, bool) {
        if !over {
            return self.execute(agent, model, call_and_via, offer, depth).await;
        }
        let message = format!(
            "not started: at most {} subagents a turn; wait for the others' results",
            self.limits.max_subagents_per_turn
        );
        (
            ToolOutput::failed(agentops_tools::ErrorKind::Denied, message),
            false,
        )
    }

    pub(super) async fn execute(
        &self,
        agent: &AgentDefinition,
        model: &str,
        call_and_via: &(ToolCall, CallVia),
        offer: &Offer,
        depth: u32,
    ) -> (ToolOutput, bool) {
        let (call, via) = call_and_via;
        let started = Instant::now();
        let name = canonical(&call.name);
        let parsed: Result<Value, String> = if call.arguments.trim().is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_str(&call.arguments).map_err(|e| {
                format!("the arguments are not valid JSON ({e}); send a JSON object matching the tool's schema")
            })
        };
        self.events.emit(Event::ToolCall {
            agent: agent.name.clone(),
            id: call.id.clone(),
            name: call.name.clone(),
            input: parsed
                .clone()
                .unwrap_or(Value::String(call.arguments.clone())),
            via: *via,
        });
        let output = match parsed {
            Err(problem) => ToolOutput::error(problem),
            Ok(args) => match offer.validate(name, &args) {
                Err(problem) => ToolOutput::error(format!("invalid call of {name}: {problem}")),
                Ok(()) if name == AGENT_TOOL && offer.delegation => {
                    self.delegate(agent, model, args, depth).await
                }
                Ok(()) if name == super::skills::SKILL_TOOL && offer.skills => {
                    match self.pre_tool_use(agent, call, name, &args).await {
                        Err(blocked) => blocked,
                        Ok(hook) => {
                            match self.permit(
                                agent,
                                name,
                                &args,
                                agentops_tools::Risk::ReadOnly,
                                hook,
                            ) {
                                Ok(()) => self.invoke_skill(&args),
                                Err(refusal) => refusal,
                            }
                        }
                    }
                }
                Ok(()) => match self.tools.get(name) {
                    Some(tool) => match self.pre_tool_use(agent, call, name, &args).await {
                        Err(blocked) => blocked,
                        Ok(hook) => match self.permit(agent, name, &args, tool.risk(), hook) {
                            Ok(()) => self.dispatch(agent, &call.id, tool.as_ref(), args).await,
                            Err(refusal) => refusal,
                        },
                    },
                    None => ToolOutput::error(format!("tool `{name}` is not available")),
                },
            },
        };
        let output = self.post_tool_use(agent, call, name, output).await;
        let output = self.with_rules(name, &call.arguments, output);
        // Every result is redacted again here, whatever the tool did: defence in depth.
        let redacted = self.tool_ctx.secrets.redact_text(&output.content);
        let (content, truncated) = cap(&redacted, self.limits.max_tool_output_bytes);
        self.events.emit(Event::ToolResult {
            agent: agent.name.clone(),
            id: call.id.clone(),
            name: call.name.clone(),
            is_error: output.is_error,
            content: content.clone(),
            truncated,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        (output.with_content(content), truncated)
    }

    /// A successful file tool's result, followed by the scoped rules (`.claude/rules/` with
    /// `paths:`) its file matches that this engine has not delivered yet.
    fn with_rules(&self, name: &str, arguments: &str, output: ToolOutput) -> ToolOutput {
        const FILE_TOOLS: &[&str] = &["Read", "Edit", "Write", "MultiEdit", "NotebookEdit"];
        if output.is_error || !FILE_TOOLS.contains(&name) || self.rules.scoped.is_empty() {
            return output;
        }
        let Some(path) = serde_json::from_str::<Value>(arguments).ok().and_then(|a| {
            a.get("file_path")
                .and_then(Value::as_str)
                .map(str::to_string)
        }) else {
            return output;
        };
        let Ok(real) =
            agentops_tools::path::confine(&self.tool_ctx.root, &self.tool_ctx.cwd, &path)
        else {
            return output;
        };
        let rel = agentops_tools::path::display(&self.tool_ctx.root, &real);
        let Ok(mut delivered) = self.rules_delivered.lock() else {
            return output;
        };
        let mut extra = String::new();
        for rule in self.rules.matching(&real) {
            if delivered.contains(&rule.shown) {
                continue;
            }
            delivered.push(rule.shown.clone());
            // Redacted on its own, as a Read of the rule file would be.
            let text =
                crate::memory::strip_comments(&self.tool_ctx.secrets.redact_text(&rule.text));
            extra.push_str(&format!(
                "\n\n[Rule {} applies to {rel} ({})]\n{}",
                rule.shown,
                rule.paths.join(", "),
                text.trim()
            ));
        }
        if extra.is_empty() {
            return output;
        }
        let content = format!("{}{extra}", output.content);
        output.with_content(content)
    }

    /// Applies the permission rules and the agent's `permissionMode`. Nobody can answer an
    /// `ask` here (the interactive front end will), so it is refused; every refusal is recorded
    /// for the run's result and explained to the model.
    pub(super) fn permit(
        &self,
        agent: &AgentDefinition,
        tool: &str,
        args: &Value,
        risk: agentops_tools::Risk,
        hook: Option<crate::hooks::HookPermission>,
    ) -> Result<(), ToolOutput> {
        use crate::hooks::HookPermission;
        let mode = self.permissions.mode_of(agent);
        let rules = self.permissions.check_in(tool, args, risk, mode);
        // A hook can answer an `ask` or refuse; it can never lift a deny rule (or the gates
        // and approvals, which come after this).
        let rules = match (rules, hook) {
            (Decision::Deny(r), _) => Decision::Deny(r),
            (_, Some(HookPermission::Deny(r))) => {
                Decision::Deny(format!("a PreToolUse hook denied it: {r}"))
            }
            (_, Some(HookPermission::Ask(r))) => {
                Decision::Ask(format!("a PreToolUse hook asks for a person: {r}"))
            }
            (Decision::Ask(_), Some(HookPermission::Allow(_))) => Decision::Allow,
            (d, _) => d,
        };
        let decision = match (mode, rules) {
            (Some(PermissionMode::Plan), _) if risk != agentops_tools::Risk::ReadOnly => {
                Decision::Deny(format!(
                    "agent `{}` is in plan mode: read-only tools only",
                    agent.name
                ))
            }
            (Some(PermissionMode::BypassPermissions), Decision::Ask(_)) => Decision::Allow,
            (_, d) => d,
        };
        let reason = match decision {
            Decision::Allow => return Ok(()),
            Decision::Deny(reason) => format!("permission denied: {reason}"),
            Decision::Ask(reason) => format!(
                "needs approval ({reason}), and nobody can approve in this run; add an allow rule (.claude/settings.json, agentops.toml [permissions], --allowed-tools) if it is safe"
            ),
        };
        if let Ok(mut totals) = self.totals.lock() {
            totals.permission_denials.push(Denial {
                agent: agent.name.clone(),
                tool: tool.to_string(),
                input: args.clone(),
                reason: reason.clone(),
            });
        }
        Err(ToolOutput::error(reason))
    }
}
