//! Hooks around the loop (Claude Code's contract): every run is an event, a `continue: false`
//! stops the run at its next step, PreToolUse may block or answer a permission `ask`, and
//! PostToolUse adds what it says to the result the model reads.

use super::Engine;
use crate::events::Event;
use crate::model::ToolCall;
use crate::permissions::Denial;
use agentops_agents::AgentDefinition;
use agentops_agents::definition::PermissionMode;
use agentops_tools::ToolOutput;
use serde_json::{Value, json};

impl Engine {
    /// Runs the hooks of `event` for `agent` (the settings' hooks and its own), records each
    /// run as an event, and notes a `continue: false`.
    pub async fn hook(
        &self,
        agent: &AgentDefinition,
        event: &str,
        target: Option<&str>,
        mut input: Value,
    ) -> crate::hooks::HookOutcome {
        let hooks = self
            .hooks
            .with(agent.hooks.as_ref(), &agent.path.display().to_string());
        if !hooks.wants(event, target) {
            return crate::hooks::HookOutcome::default();
        }
        if let Value::Object(map) = &mut input {
            map.insert("session_id".into(), json!(self.tool_ctx.session_id));
            map.insert(
                "transcript_path".into(),
                json!(self.transcript.as_ref().map(|p| p.display().to_string())),
            );
            map.insert(
                "permission_mode".into(),
                json!(
                    self.permissions
                        .mode_of(agent)
                        .unwrap_or(PermissionMode::Default)
                ),
            );
        }
        let outcome = hooks.run(event, target, input).await;
        for run in &outcome.runs {
            self.events.emit(Event::Hook {
                agent: agent.name.clone(),
                hook_event: event.to_string(),
                command: run.command.clone(),
                exit_code: run.exit_code,
                blocked: run.blocked,
                message: run.message.clone(),
            });
        }
        if let Some(reason) = &outcome.stop
            && let Ok(mut totals) = self.totals.lock()
        {
            totals
                .hook_stop
                .get_or_insert((event.to_string(), reason.clone()));
        }
        outcome
    }

    /// PreToolUse hooks: `Err` when one blocked the call (exit 2 or `decision: block`; the
    /// model gets the reason, and it counts as a refused call); else their permission answer.
    pub(super) async fn pre_tool_use(
        &self,
        agent: &AgentDefinition,
        call: &ToolCall,
        name: &str,
        args: &Value,
    ) -> Result<Option<crate::hooks::HookPermission>, ToolOutput> {
        let said = self
            .hook(
                agent,
                "PreToolUse",
                Some(name),
                json!({"tool_name": name, "tool_input": args, "tool_use_id": call.id}),
            )
            .await;
        let Some(reason) = said.blocked.or(said.stop) else {
            return Ok(said.permission);
        };
        let reason = format!("blocked by a PreToolUse hook: {reason}");
        if let Ok(mut totals) = self.totals.lock() {
            totals.permission_denials.push(Denial {
                agent: agent.name.clone(),
                tool: name.to_string(),
                input: args.clone(),
                reason: reason.clone(),
            });
        }
        Err(ToolOutput::error(reason))
    }

    /// PostToolUse (PostToolUseFailure for errors) hooks; what a blocking one says is added
    /// to the result the model reads.
    pub(super) async fn post_tool_use(
        &self,
        agent: &AgentDefinition,
        call: &ToolCall,
        name: &str,
        output: ToolOutput,
    ) -> ToolOutput {
        let input = serde_json::from_str::<Value>(&call.arguments).unwrap_or(Value::Null);
        let redacted = agentops_tools::redact::redact_text(&output.content);
        let (event, payload) = if output.is_error {
            (
                "PostToolUseFailure",
                json!({"tool_name": name, "tool_input": input, "tool_use_id": call.id, "error": redacted}),
            )
        } else {
            (
                "PostToolUse",
                json!({"tool_name": name, "tool_input": input, "tool_use_id": call.id, "tool_response": redacted}),
            )
        };
        let said = self.hook(agent, event, Some(name), payload).await;
        let mut notes: Vec<String> = said.context;
        if let Some(reason) = said.blocked {
            notes.push(reason);
        }
        if notes.is_empty() {
            return output;
        }
        let content = format!("{}\n[{event} hook] {}", output.content, notes.join("\n"));
        output.with_content(content)
    }
}
