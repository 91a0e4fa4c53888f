//! Resuming a long session: a 10,000-event log written by the real recorder (user prompts,
//! streamed text, tool calls with ~1 KB results, gates, approvals), then read back, replayed
//! into typed messages and pending approvals, and reopened for appending — what
//! `agentops run --resume ID` does before the first model call. Target: < 200 ms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_runtime::Event;
use agentops_runtime::config::ToolMode;
use agentops_runtime::model::{Message, ToolCall, Usage};
use agentops_runtime::session::{self, SessionRecorder};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const EVENTS: usize = 10_000;

fn write_session(root: &std::path::Path) -> std::path::PathBuf {
    let mut header = session::SessionHeader::new(root, session::FrontEnd::Run, "general-purpose");
    header.model = Some("m".into());
    let mut rec = SessionRecorder::create(root, None, "run-bench", &header).unwrap();
    let agent = "general-purpose".to_string();
    let result = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n".repeat(16);
    let mut n = 0;
    let mut turn = 0;
    while n < EVENTS {
        turn += 1;
        let id = format!("call_{turn}");
        let events = vec![
            Event::Message {
                agent: agent.clone(),
                message: Message::User {
                    content: format!("step {turn}: check the web overlay"),
                },
            },
            Event::ModelRequest {
                agent: agent.clone(),
                turn,
                attempt: 1,
                model: "m".into(),
                tool_mode: ToolMode::Native,
            },
            Event::TextDelta {
                agent: agent.clone(),
                text: "Reading the overlay".into(),
            },
            Event::ModelResponse {
                agent: agent.clone(),
                turn,
                finish_reason: Some("tool_calls".into()),
                usage: Usage {
                    input_tokens: 1000,
                    output_tokens: 50,
                },
                cost_usd: 0.001,
                request_id: None,
                tool_calls: 1,
            },
            Event::Message {
                agent: agent.clone(),
                message: Message::Assistant {
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: id.clone(),
                        name: "Read".into(),
                        arguments: r#"{"file_path":"apps/web/base/deployment.yaml"}"#.into(),
                    }],
                },
            },
            Event::ToolCall {
                agent: agent.clone(),
                id: id.clone(),
                name: "Read".into(),
                input: json!({"file_path": "apps/web/base/deployment.yaml"}),
                via: agentops_runtime::events::CallVia::Native,
            },
            Event::ToolResult {
                agent: agent.clone(),
                id: id.clone(),
                name: "Read".into(),
                is_error: false,
                content: result.clone(),
                truncated: false,
                duration_ms: 3,
            },
            Event::Message {
                agent: agent.clone(),
                message: Message::Tool {
                    call_id: id.clone(),
                    name: "Read".into(),
                    content: result.clone(),
                    is_error: false,
                },
            },
        ];
        for e in &events {
            rec.record(e).unwrap();
        }
        n += events.len();
    }
    rec.path.clone()
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_session(tmp.path());
    let size = std::fs::metadata(&path).unwrap().len();
    let events = session::read_log(&path).unwrap().events.len();
    eprintln!(
        "session log: {events} events, {:.1} MB",
        size as f64 / 1_048_576.0
    );
    c.bench_function(
        "resume a 10,000-event session (read, replay, reopen)",
        |b| {
            b.iter(|| {
                let (recorder, log) = SessionRecorder::resume(&path).unwrap();
                let r = session::resumption(&log);
                assert!(r.messages.len() > 3000);
                drop(recorder);
                r
            })
        },
    );
    c.bench_function("list sessions (index warm)", |b| {
        let dir = session::sessions_dir(tmp.path());
        let _ = session::list(&dir);
        b.iter(|| session::list(&dir))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
