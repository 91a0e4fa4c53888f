//! Compaction: older turns replaced by a summary the model writes, the system prompt and the
//! last tool-calling turn kept verbatim; a `compacted` event carries the new conversation.

use super::{Engine, RunError, cap};
use crate::events::Event;
use crate::model::{ChatRequest, Message};
use agentops_agents::AgentDefinition;
use serde_json::json;

impl Engine {
    /// Replaces older turns with a summary written by the model. The agent's instructions
    /// (the system prompt) and the latest tool calls with their results stay verbatim.
    /// `trigger` is `auto` (the conversation grew past `compact_at_tokens`) or `manual`.
    pub async fn compact(
        &self,
        agent: &AgentDefinition,
        model: &str,
        messages: Vec<Message>,
        trigger: &str,
    ) -> Result<Vec<Message>, RunError> {
        let (system, rest): (Vec<Message>, Vec<Message>) = messages
            .into_iter()
            .partition(|m| matches!(m, Message::System { .. }));
        let keep_from = compaction_tail(&rest);
        if keep_from == 0 {
            let mut all = system;
            all.extend(rest);
            return Ok(all);
        }
        let (older, tail) = rest.split_at(keep_from);
        self.hook(
            agent,
            "PreCompact",
            None,
            json!({"trigger": trigger, "custom_instructions": ""}),
        )
        .await;
        let mut transcript = String::new();
        for m in older {
            let (who, text) = match m {
                Message::System { content } => ("system", content.clone()),
                Message::User { content } => ("user", content.clone()),
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    let calls: Vec<String> = tool_calls
                        .iter()
                        .map(|c| format!("{}({})", c.name, c.arguments))
                        .collect();
                    ("assistant", format!("{content} {}", calls.join(" ")))
                }
                Message::Tool { name, content, .. } => ("tool", format!("{name}: {content}")),
            };
            let (text, _) = cap(&text, 2000);
            transcript.push_str(&format!("[{who}] {}\n", text.trim()));
        }
        let request = ChatRequest {
            model: model.to_string(),
            messages: vec![
                Message::System {
                    content: COMPACT_INSTRUCTIONS.to_string(),
                },
                Message::User {
                    content: transcript,
                },
            ],
            tools: Vec::new(),
            response_schema: None,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
        };
        let reply = self
            .retry
            .run(|_| self.provider.complete(&request, &|_| {}), |_, _, _| {})
            .await?;
        let cost = self.prices.cost(model, reply.usage);
        if let Ok(mut totals) = self.totals.lock() {
            totals.usage.add(reply.usage);
            totals.cost_usd += cost.unwrap_or(0.0);
        }
        let mut kept = vec![Message::User {
            content: format!(
                "[Summary of the earlier part of this session]\n{}",
                reply.text.trim()
            ),
        }];
        kept.extend_from_slice(tail);
        self.events.emit(Event::Compacted {
            agent: agent.name.clone(),
            summarized: older.len(),
            messages: kept.clone(),
        });
        let mut all = system;
        all.extend(kept);
        Ok(all)
    }
}

const COMPACT_INSTRUCTIONS: &str = "You compress a working session between a platform engineer and an agent so the agent can go on from the summary alone. Write a concise summary: the goal, what was done (files changed, commands run, their results), decisions and approvals, errors and how they were resolved, and what is still open. Keep exact file paths, resource names, values and ids. No preamble.";

/// Where the verbatim tail of a compacted conversation starts: at the last assistant turn that
/// called tools (its results follow it), else the last two messages. 0: nothing to compact.
pub(super) fn compaction_tail(rest: &[Message]) -> usize {
    let last_calls = rest.iter().rposition(
        |m| matches!(m, Message::Assistant { tool_calls, .. } if !tool_calls.is_empty()),
    );
    let from = last_calls.unwrap_or(rest.len().saturating_sub(2));
    // The tail must not begin with a tool result cut off from its call.
    let mut from = from;
    while from > 0 && matches!(rest[from], Message::Tool { .. }) {
        from -= 1;
    }
    from
}

/// A rough token count (4 bytes a token) to decide when to compact.
pub(super) fn estimate_tokens(messages: &[Message]) -> u64 {
    let bytes: usize = messages
        .iter()
        .map(|m| match m {
            Message::System { content } | Message::User { content } => content.len(),
            Message::Assistant {
                content,
                tool_calls,
            } => content.len() + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>(),
            Message::Tool { content, .. } => content.len(),
        })
        .sum();
    (bytes / 4) as u64
}
