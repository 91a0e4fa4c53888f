//! The typed events of a run, on one channel. Front ends (text, stream-json, REPL) render them;
//! the session writer will append them. The core never prints.

use crate::config::ToolMode;
use crate::model::Usage;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An agent run begins (the main agent, or a subagent at `depth` > 0).
    AgentStarted {
        agent: String,
        model: String,
        provider: String,
        tool_mode: ToolMode,
        depth: u32,
        tools: Vec<String>,
    },
    /// A request to the model is sent.
    ModelRequest {
        agent: String,
        turn: u32,
        attempt: u32,
        model: String,
        tool_mode: ToolMode,
    },
    TextDelta {
        agent: String,
        text: String,
    },
    ReasoningDelta {
        agent: String,
        text: String,
    },
    /// The model's turn is complete.
    ModelResponse {
        agent: String,
        turn: u32,
        finish_reason: Option<String>,
        usage: Usage,
        cost_usd: f64,
        request_id: Option<String>,
        tool_calls: usize,
    },
    /// A request failed and will be retried after `delay_ms`.
    Retry {
        agent: String,
        attempt: u32,
        max_attempts: u32,
        delay_ms: u64,
        error: String,
        request_id: Option<String>,
    },
    ToolCall {
        agent: String,
        id: String,
        name: String,
        input: Value,
        /// How the call was read: `native`, `content-json` (fallback) or `schema`.
        via: &'static str,
    },
    ToolResult {
        agent: String,
        id: String,
        name: String,
        is_error: bool,
        content: String,
        truncated: bool,
        duration_ms: u64,
    },
    /// The gates' verdict on a tool call's planned file changes.
    Gate {
        agent: String,
        id: String,
        #[serde(flatten)]
        record: crate::agent_loop::GateRecord,
    },
    /// A high-risk change waits for a decision.
    ApprovalRequested {
        agent: String,
        request: crate::approval::ApprovalRequest,
    },
    ApprovalDecided {
        agent: String,
        id: String,
        decision: crate::approval::ApprovalDecision,
    },
    /// Something the user should know that does not stop the run.
    Warning {
        agent: String,
        message: String,
    },
    /// An agent run ended with its final answer.
    AgentFinished {
        agent: String,
        depth: u32,
        turns: u32,
        text: String,
    },
}

/// The sending side of the event channel; sending never blocks and never fails the run.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx: Some(tx) }, rx)
    }

    /// A sink that drops everything (benchmarks, tests that do not look).
    pub fn discard() -> Self {
        Self { tx: None }
    }

    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}
