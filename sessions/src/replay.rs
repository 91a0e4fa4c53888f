//! Replaying a session log: the main agent's conversation, the approvals still pending, and
//! what the runs cost, rebuilt from the events alone (DESIGN.md §2 step 5).
//!
//! The log stays the only truth: nothing is kept beside it. A process killed mid-turn leaves
//! tool calls without results; replay closes each with an "interrupted" result so the
//! conversation is valid for every provider and the model knows the effect is unknown.

use serde_json::{Value, json};

/// What a session log says about where work stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// The main agent's conversation (role-tagged messages, no system prompt), after the last
    /// compaction.
    pub messages: Vec<Value>,
    /// Approval requests nobody decided yet (oldest first).
    pub pending: Vec<Value>,
    /// Tool calls that never got a result (the process stopped while they ran).
    pub interrupted_calls: Vec<String>,
    /// Runs recorded (each ends with a `result` event; a killed run has none).
    pub runs: usize,
    pub finished_runs: usize,
    pub cost_usd: f64,
    /// The last run's outcome (`None` when it did not finish).
    pub last_outcome: Option<String>,
    /// The main agent's last final answer.
    pub last_answer: Option<String>,
    /// Unix milliseconds of the last event that carries a time.
    pub last_ts: Option<u64>,
}

/// What a tool call without a result gets on replay.
pub const INTERRUPTED: &str = "interrupted: agentops stopped before this call finished, so its effect (if any) is unknown; check the current state before repeating it";

pub fn replay(events: &[Value]) -> Replay {
    let mut r = Replay::default();
    let mut pending: Vec<(String, Value)> = Vec::new();
    let mut in_run = false;
    let mut calls = OpenCalls::default();
    for e in events {
        if let Some(ts) = e["ts"].as_u64() {
            r.last_ts = Some(ts);
        }
        match e["type"].as_str().unwrap_or("") {
            "message" => {
                let m = &e["message"];
                if m["role"] == "tool" {
                    let id = m["call_id"].as_str().unwrap_or("");
                    calls.open.retain(|(o, _)| o != id);
                } else {
                    calls.close(&mut r);
                }
                if m["role"] == "assistant"
                    && let Some(list) = m["tool_calls"].as_array()
                {
                    calls.start(e["agent"].as_str().unwrap_or(""), list);
                }
                r.messages.push(m.clone());
            }
            // A result the process finished but did not get to add to the conversation.
            "tool_result" => calls.result(e),
            "compacted" => {
                if let Some(messages) = e["messages"].as_array() {
                    r.messages = messages.clone();
                    calls = OpenCalls::default();
                }
            }
            "approval_requested" => {
                let request = &e["request"];
                if let Some(id) = request["id"].as_str() {
                    pending.retain(|(p, _)| p != id);
                    pending.push((id.to_string(), request.clone()));
                }
            }
            "approval_decided" => {
                let decided = e["decision"]["decision"].as_str() != Some("unanswered");
                if decided && let Some(id) = e["id"].as_str() {
                    pending.retain(|(p, _)| p != id);
                }
            }
            "agent_started" if e["depth"] == 0 && !in_run => {
                in_run = true;
                r.runs += 1;
            }
            "agent_finished" if e["depth"] == 0 => {
                if let Some(text) = e["text"].as_str().filter(|t| !t.trim().is_empty()) {
                    r.last_answer = Some(text.to_string());
                }
            }
            "result" => {
                if !in_run {
                    // A run that stopped before its agent started (e.g. a provider error).
                    r.runs += 1;
                }
                in_run = false;
                r.finished_runs += 1;
                r.cost_usd += e["cost_usd"].as_f64().unwrap_or(0.0);
                r.last_outcome = e["outcome"].as_str().map(str::to_string);
            }
            "resumed" => {
                if in_run {
                    // The run before was killed: it has no result.
                    r.last_outcome = None;
                }
                in_run = false;
            }
            _ => {}
        }
    }
    calls.close(&mut r);
    if in_run {
        r.last_outcome = None;
    }
    r.pending = pending.into_iter().map(|(_, v)| v).collect();
    r
}

/// The tool calls of the last assistant turn that have no result message yet.
#[derive(Default)]
struct OpenCalls {
    agent: String,
    open: Vec<(String, String)>,
    results: Vec<(String, Value, bool)>,
}

impl OpenCalls {
    fn start(&mut self, agent: &str, list: &[Value]) {
        self.agent = agent.to_string();
        self.results.clear();
        self.open = list
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or("").to_string(),
                    c["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
    }

    fn result(&mut self, e: &Value) {
        let id = e["id"].as_str().unwrap_or("");
        if e["agent"].as_str() == Some(self.agent.as_str())
            && self.open.iter().any(|(o, _)| o == id)
        {
            self.results
                .push((id.to_string(), e["content"].clone(), e["is_error"] == true));
        }
    }

    /// Gives every open call its recorded result, or "interrupted" when it never finished.
    fn close(&mut self, r: &mut Replay) {
        for (id, name) in self.open.drain(..) {
            let found = self.results.iter().find(|(rid, _, _)| *rid == id);
            let (content, is_error) = match found {
                Some((_, content, is_error)) => (content.clone(), *is_error),
                None => {
                    r.interrupted_calls.push(id.clone());
                    (Value::from(INTERRUPTED), true)
                }
            };
            r.messages.push(
                json!({"role": "tool", "call_id": id, "name": name, "content": content, "is_error": is_error}),
            );
        }
        self.results.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(m: Value) -> Value {
        json!({"type": "message", "agent": "a", "message": m})
    }

    #[test]
    fn rebuilds_messages_pending_approvals_and_runs() {
        let events = vec![
            json!({"type": "agent_started", "depth": 0, "ts": 1}),
            msg(json!({"role": "user", "content": "scale db"})),
            msg(
                json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "Edit", "arguments": "{}"}]}),
            ),
            json!({"type": "approval_requested", "request": {"id": "apr-1", "tool": "Edit"}}),
            json!({"type": "approval_decided", "id": "apr-1", "decision": {"decision": "unanswered", "unmatched": []}}),
            msg(
                json!({"role": "tool", "call_id": "c1", "name": "Edit", "content": "pending", "is_error": true}),
            ),
            json!({"type": "agent_finished", "depth": 0, "text": "waiting"}),
            json!({"type": "result", "outcome": "approval_required", "cost_usd": 0.5, "ts": 9}),
        ];
        let r = replay(&events);
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.pending.len(), 1);
        assert_eq!(r.pending[0]["id"], "apr-1");
        assert_eq!(r.runs, 1);
        assert_eq!(r.last_outcome.as_deref(), Some("approval_required"));
        assert_eq!(r.last_answer.as_deref(), Some("waiting"));
        assert_eq!(r.last_ts, Some(9));
        assert!(r.interrupted_calls.is_empty());

        // The next run grants it: no longer pending.
        let mut more = events;
        more.push(json!({"type": "resumed"}));
        more.push(json!({"type": "approval_requested", "request": {"id": "apr-1"}}));
        more.push(json!({"type": "approval_decided", "id": "apr-1", "decision": {"decision": "granted", "by": "rule"}}));
        assert!(replay(&more).pending.is_empty());
    }

    #[test]
    fn calls_cut_off_by_a_kill_get_an_interrupted_result_and_the_run_has_no_outcome() {
        let events = vec![
            json!({"type": "agent_started", "depth": 0}),
            msg(json!({"role": "user", "content": "go"})),
            msg(
                json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "Read", "arguments": "{}"}, {"id": "c2", "name": "Bash", "arguments": "{}"}]}),
            ),
            json!({"type": "tool_result", "agent": "a", "id": "c1", "content": "x", "is_error": false}),
            // A subagent's result with the same id is not the main agent's.
            json!({"type": "tool_result", "agent": "sub", "id": "c2", "content": "y", "is_error": false}),
        ];
        let r = replay(&events);
        assert_eq!(r.interrupted_calls, vec!["c2".to_string()]);
        assert_eq!(r.messages[2]["content"], "x", "the recorded result is used");
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[3]["call_id"], "c2");
        assert_eq!(r.messages[3]["content"], INTERRUPTED);
        assert_eq!(r.last_outcome, None);
        assert_eq!(r.finished_runs, 0);
    }

    #[test]
    fn compaction_replaces_what_came_before() {
        let events = vec![
            msg(json!({"role": "user", "content": "one"})),
            msg(json!({"role": "assistant", "content": "two"})),
            json!({"type": "compacted", "messages": [{"role": "user", "content": "summary"}]}),
            msg(json!({"role": "user", "content": "three"})),
        ];
        let r = replay(&events);
        let contents: Vec<&str> = r
            .messages
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(contents, ["summary", "three"]);
    }
}
