//! The agent loop against a **fake** OpenAI-compatible server (agentops-testkit): multi-step
//! tool use, delegation, every fault kind, budgets, and the small-model tool paths. The fake
//! is scripted and deterministic; the real-model test lives in tests/real_model.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_agents::{AgentDefinition, Origin, Source};
use agentops_runtime::config::{Limits, Price, ProviderKind, ToolMode};
use agentops_runtime::model::anthropic::AnthropicProvider;
use agentops_runtime::model::openai::OpenAiProvider;
use agentops_runtime::model::retry::RetryPolicy;
use agentops_runtime::{Engine, Event, EventSink, RunError, Stop};
use agentops_testkit::sse::{self, Quirks};
use agentops_testkit::{FakeModelServer, Reply};
use agentops_tools::{ToolContext, ToolRegistry};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const Q: Quirks = Quirks::NONE;

fn agent(text: &str) -> AgentDefinition {
    AgentDefinition::parse(text, &Origin::new(Source::Project, "t.md")).unwrap()
}

fn main_agent() -> AgentDefinition {
    agent(
        "---\nname: main\ndescription: The main agent\ntools: Read, Glob, Grep, Agent\n---\nYou are the main agent.\n",
    )
}

fn reviewer() -> AgentDefinition {
    agent(
        "---\nname: reviewer\ndescription: Reviews Kubernetes overlays for missing resource limits\ntools: Read, Grep\n---\nYou review overlays.\n",
    )
}

struct Fixture {
    _tmp: tempfile::TempDir,
    _scratch: tempfile::TempDir,
    server: FakeModelServer,
    engine: Engine,
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    root: std::path::PathBuf,
    provider: agentops_runtime::providers::ResolvedProvider,
    ctx: ToolContext,
    sink: EventSink,
}

impl Fixture {
    async fn new(script: Vec<Reply>) -> Self {
        Self::with(script, ToolMode::Native, Duration::from_secs(5)).await
    }

    async fn with(script: Vec<Reply>, mode: ToolMode, timeout: Duration) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("apps/web")).unwrap();
        std::fs::write(
            root.join("apps/web/deployment.yaml"),
            "kind: Deployment\nreplicas: 3\n",
        )
        .unwrap();
        let server = FakeModelServer::start(script).await;
        let provider =
            OpenAiProvider::new(&server.base_url(), Some("test-key".into()), timeout).unwrap();
        let (sink, events) = EventSink::channel();
        let provider = agentops_runtime::providers::ResolvedProvider {
            provider: Arc::new(provider),
            name: "fake".into(),
            kind: ProviderKind::Openai,
            tool_mode: mode,
            temperature: None,
            max_tokens: None,
            retry: RetryPolicy {
                attempts: 3,
                base: Duration::from_millis(5),
                max: Duration::from_millis(20),
            },
            model: "fake-model".into(),
            base_url: String::new(),
        };
        let scratch = tempfile::tempdir().unwrap();
        let ctx = ToolContext {
            root: root.clone(),
            cwd: root.clone(),
            timeout: Duration::from_secs(10),
            sandbox: agentops_tools::sandbox::SandboxConfig::probe(scratch.path(), false).ok(),
            ..Default::default()
        };
        let engine = Self::builder(&provider, &ctx, &sink).build();
        Self {
            _tmp: tmp,
            _scratch: scratch,
            root,
            server,
            engine,
            events,
            provider,
            ctx,
            sink,
        }
    }

    fn builder(
        provider: &agentops_runtime::providers::ResolvedProvider,
        ctx: &ToolContext,
        sink: &EventSink,
    ) -> agentops_runtime::EngineBuilder {
        Engine::builder(provider.clone(), ctx.clone())
            .tools(ToolRegistry::builtin())
            .events(sink.clone())
            .agents(vec![main_agent(), reviewer()])
    }

    /// Builds the engine again, changed by `f` (limits, prices).
    fn configure(
        &mut self,
        f: impl FnOnce(agentops_runtime::EngineBuilder) -> agentops_runtime::EngineBuilder,
    ) {
        self.engine = f(Self::builder(&self.provider, &self.ctx, &self.sink)).build();
    }

    fn drain(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }
}

fn text(s: &str) -> Reply {
    Reply::sse(sse::openai_text(s, 100, 20, Q))
}

fn calls(c: &[(&str, &str, &str)]) -> Reply {
    Reply::sse(sse::openai_tool_calls(c, 100, 20, Q))
}

fn tool_messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn three_step_tool_run_completes() {
    let mut f = Fixture::new(vec![
        calls(&[("c1", "Glob", r#"{"pattern": "apps/**/*.yaml"}"#)]),
        calls(&[("c2", "Read", r#"{"file_path": "apps/web/deployment.yaml"}"#)]),
        text("The web Deployment runs 3 replicas."),
    ])
    .await;
    let run = f
        .engine
        .run(&main_agent(), "How many replicas does web run?", None)
        .await
        .unwrap();
    assert_eq!(run.stop, Stop::Final);
    assert_eq!(run.text, "The web Deployment runs 3 replicas.");
    assert_eq!(run.turns, 3);

    let reqs = f.server.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer test-key"));
    let body = &reqs[0].body;
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You are the main agent.")
    );
    let offered: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        offered,
        ["Read", "Glob", "Grep", "Agent"],
        "only the agent's tools"
    );
    assert_eq!(
        tool_messages(&reqs[1].body),
        [("c1".to_string(), "apps/web/deployment.yaml".to_string())]
    );
    let read = tool_messages(&reqs[2].body);
    assert_eq!(read.len(), 2);
    assert!(read[1].1.contains("replicas: 3"), "{read:?}");
    // The assistant's tool call is sent back with its exact arguments.
    let assistant = reqs[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap()
        .clone();
    assert_eq!(
        assistant["tool_calls"][0]["function"]["arguments"],
        r#"{"pattern": "apps/**/*.yaml"}"#
    );

    let events = f.drain();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::AgentStarted { .. } => "start",
            Event::ModelRequest { .. } => "request",
            Event::TextDelta { .. } => "delta",
            Event::ModelResponse { .. } => "response",
            Event::ToolCall { .. } => "call",
            Event::ToolResult { .. } => "result",
            Event::AgentFinished { .. } => "finish",
            // The conversation as resume replays it: calls are logged before they run.
            Event::Message { message, .. } => match message {
                agentops_runtime::model::Message::User { .. } => "user",
                agentops_runtime::model::Message::Assistant { .. } => "assistant",
                agentops_runtime::model::Message::Tool { .. } => "tool",
                agentops_runtime::model::Message::System { .. } => "system",
            },
            _ => "other",
        })
        .filter(|k| *k != "delta")
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "user",
            "request",
            "response",
            "assistant",
            "call",
            "result",
            "tool",
            "request",
            "response",
            "assistant",
            "call",
            "result",
            "tool",
            "request",
            "response",
            "assistant",
            "finish"
        ]
    );
    let totals = f.engine.totals();
    assert_eq!(totals.usage.input_tokens, 300);
    assert_eq!(totals.usage.output_tokens, 60);
    assert_eq!(totals.unpriced_models, ["fake-model"]);
}

#[tokio::test]
async fn parallel_tool_calls_keep_their_order() {
    let f = Fixture::new(vec![
        calls(&[
            ("a", "Read", r#"{"file_path": "apps/web/deployment.yaml"}"#),
            ("b", "Glob", r#"{"pattern": "**/*.md"}"#),
        ]),
        text("done"),
    ])
    .await;
    f.engine.run(&main_agent(), "go", None).await.unwrap();
    let msgs = tool_messages(&f.server.requests()[1].body);
    assert_eq!(msgs[0].0, "a");
    assert_eq!(msgs[1].0, "b");
    assert_eq!(msgs[1].1, "no files match `**/*.md`");
}

#[tokio::test]
async fn delegation_by_name_runs_the_subagent_with_its_own_prompt_and_tools() {
    let f = Fixture::new(vec![
        calls(&[("d1", "Task", r#"{"subagent_type": "reviewer", "description": "review web", "prompt": "Check apps/web for limits"}"#)]),
        text("No limits set on web."),
        text("The reviewer says: no limits set on web."),
    ])
    .await;
    let run = f
        .engine
        .run(&main_agent(), "review web", None)
        .await
        .unwrap();
    assert_eq!(run.text, "The reviewer says: no limits set on web.");
    let reqs = f.server.requests();
    assert_eq!(reqs.len(), 3);
    let sub = &reqs[1].body;
    assert!(
        sub["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You review overlays.")
    );
    assert_eq!(sub["messages"][1]["content"], "Check apps/web for limits");
    let sub_tools: Vec<&str> = sub["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(sub_tools, ["Read", "Grep"]);
    assert_eq!(
        tool_messages(&reqs[2].body),
        [("d1".to_string(), "No limits set on web.".to_string())]
    );
}

#[tokio::test]
async fn delegation_by_description_and_depth_limit() {
    let mut f = Fixture::new(vec![
        calls(&[(
            "d1",
            "Agent",
            r#"{"description": "find missing resource limits", "prompt": "Look at overlays"}"#,
        )]),
        text("sub done"),
        text("main done"),
    ])
    .await;
    // No subagent_type: the reviewer is chosen because its description matches the task.
    f.configure(|b| {
        b.limits(Limits {
            max_depth: 1,
            ..Limits::default()
        })
    });
    f.engine.run(&main_agent(), "go", None).await.unwrap();
    let reqs = f.server.requests();
    assert!(
        reqs[1].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You review overlays.")
    );
    let started: Vec<(String, u32)> = f
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            Event::AgentStarted { agent, depth, .. } => Some((agent, depth)),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        [("main".to_string(), 0), ("reviewer".to_string(), 1)]
    );

    // At depth limit 0 nothing is delegated: the Agent tool is not offered.
    let mut f = Fixture::new(vec![text("alone")]).await;
    f.configure(|b| {
        b.limits(Limits {
            max_depth: 0,
            ..Limits::default()
        })
    });
    f.engine.run(&main_agent(), "go", None).await.unwrap();
    let tools: Vec<String> = f.server.requests()[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!tools.contains(&"Agent".to_string()), "{tools:?}");
}

async fn fault_then_success(fault: Reply) -> (Vec<Event>, usize) {
    let mut f = Fixture::with(
        vec![fault, text("recovered")],
        ToolMode::Native,
        Duration::from_millis(400),
    )
    .await;
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    assert_eq!(run.text, "recovered");
    (f.drain(), f.server.requests().len())
}

async fn fault_escalates(fault: Reply) -> agentops_runtime::model::retry::Escalation {
    let f = Fixture::with(
        vec![fault.clone(), fault.clone(), fault],
        ToolMode::Native,
        Duration::from_millis(400),
    )
    .await;
    let err = f.engine.run(&main_agent(), "go", None).await.unwrap_err();
    assert_eq!(f.server.requests().len(), 3, "three attempts");
    let RunError::Provider(esc) = err;
    assert_eq!(esc.attempts, 3);
    esc
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_escalates() {
    let (events, n) = fault_then_success(Reply::error(429, &[("retry-after", "0.05")])).await;
    assert_eq!(n, 2);
    let retry = events
        .iter()
        .find_map(|e| match e {
            Event::Retry {
                delay_ms,
                error,
                request_id,
                ..
            } => Some((*delay_ms, error.clone(), request_id.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        retry.0, 20,
        "Retry-After 50 ms is capped by the policy's 20 ms maximum"
    );
    assert!(retry.1.contains("HTTP 429"));
    assert_eq!(retry.2.as_deref(), Some("req-fake-429"));
    let esc = fault_escalates(Reply::error(429, &[])).await;
    assert_eq!(esc.request_id.as_deref(), Some("req-fake-429"));
}

#[tokio::test]
async fn server_errors_are_retried_then_escalated() {
    assert_eq!(fault_then_success(Reply::error(500, &[])).await.1, 2);
    let esc = fault_escalates(Reply::error(503, &[])).await;
    assert!(
        esc.to_string().contains(
            "after 3 attempt(s): HTTP 503: fake server error 503 (request id req-fake-503)"
        ),
        "{esc}"
    );
}

#[tokio::test]
async fn timeouts_are_retried_then_escalated() {
    let slow = text("too late").delayed(Duration::from_millis(1500));
    assert_eq!(fault_then_success(slow.clone()).await.1, 2);
    let esc = fault_escalates(slow).await;
    assert!(esc.to_string().contains("no data from the server"), "{esc}");
}

#[tokio::test]
async fn connection_resets_are_retried_then_escalated() {
    assert_eq!(fault_then_success(Reply::Drop).await.1, 2);
    let esc = fault_escalates(Reply::Drop).await;
    assert!(esc.last.retryable());
}

#[tokio::test]
async fn truncated_streams_are_retried_then_escalated() {
    let truncated = Reply::sse(sse::openai_text(
        "half an ans",
        10,
        2,
        Quirks {
            truncate: true,
            ..Q
        },
    ));
    assert_eq!(fault_then_success(truncated.clone()).await.1, 2);
    let esc = fault_escalates(truncated).await;
    assert!(
        esc.to_string()
            .contains("stream ended before the reply was complete"),
        "{esc}"
    );
}

#[tokio::test]
async fn a_garbled_chunk_and_a_stream_cut_mid_event_are_retried() {
    // Invalid JSON in one chunk (a proxy that garbles it).
    let mut chunks = sse::openai_text("first try", 10, 2, Q);
    chunks.insert(
        1,
        "data: {\"choices\": [{\"delta\": {\"content\": \"x\"\n\n".into(),
    );
    assert_eq!(fault_then_success(Reply::sse(chunks)).await.1, 2);
    // Cut in the middle of an event, the connection closed normally.
    let mut chunks = sse::openai_text("first try", 10, 2, Q);
    chunks.truncate(2);
    chunks.push("data: {\"choices\": [{\"delta\": {\"cont".into());
    assert_eq!(fault_then_success(Reply::sse(chunks)).await.1, 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let f = Fixture::new(vec![Reply::error(401, &[]), text("never")]).await;
    let RunError::Provider(esc) = f.engine.run(&main_agent(), "go", None).await.unwrap_err();
    assert_eq!(esc.attempts, 1);
    assert_eq!(f.server.requests().len(), 1);
}

#[tokio::test]
async fn malformed_tool_call_json_goes_back_to_the_model() {
    let f = Fixture::new(vec![
        calls(&[("bad", "Read", r#"{"file_path": "apps/web/dep"#)]),
        calls(&[("wrong", "Read", r#"{"path": 7}"#)]),
        calls(&[("nope", "Bash", r#"{"command": "rm -rf /"}"#)]),
        text("I give up."),
    ])
    .await;
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    assert_eq!(run.text, "I give up.");
    let reqs = f.server.requests();
    let last = tool_messages(&reqs[3].body);
    assert!(
        last[0].1.contains("the arguments are not valid JSON"),
        "{last:?}"
    );
    assert!(last[1].1.contains("invalid call of Read"), "{last:?}");
    assert!(last[1].1.contains("file_path"), "{last:?}");
    assert!(
        last[2].1.contains("tool `Bash` is not available here"),
        "{last:?}"
    );
}

#[tokio::test]
async fn budget_cap_stops_the_run() {
    let mut f = Fixture::new(vec![
        calls(&[("c1", "Glob", r#"{"pattern": "*"}"#)]),
        text("never reached"),
    ])
    .await;
    let mut prices = BTreeMap::new();
    prices.insert(
        "fake-model".to_string(),
        Price {
            input: 100.0,
            output: 100.0,
        },
    );
    f.configure(|b| {
        b.prices(agentops_runtime::cost::PriceTable::new(&prices))
            .limits(Limits {
                max_budget_usd: Some(0.01),
                ..Limits::default()
            })
    });
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    // 120 tokens at $100/Mtok = $0.012 ≥ $0.01 after the first turn.
    match run.stop {
        Stop::Budget {
            spent_usd,
            limit_usd,
        } => {
            assert!((spent_usd - 0.012).abs() < 1e-9, "{spent_usd}");
            assert_eq!(limit_usd, 0.01);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.server.requests().len(), 1);
    let _ = f.drain();
}

#[tokio::test]
async fn turn_limit_stops_the_run() {
    let mut f = Fixture::new(vec![
        calls(&[("c1", "Glob", r#"{"pattern": "*"}"#)]),
        calls(&[("c2", "Glob", r#"{"pattern": "*"}"#)]),
    ])
    .await;
    f.configure(|b| {
        b.limits(Limits {
            max_turns: 2,
            ..Limits::default()
        })
    });
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    assert_eq!(run.stop, Stop::TurnLimit { limit: 2 });
    assert_eq!(f.server.remaining(), 0);
    let _ = f.drain();
}

#[tokio::test]
async fn quirky_servers_and_unknown_fields_parse() {
    let quirks = Quirks {
        empty_finish_reason: true,
        no_tool_type: true,
        reasoning: true,
        unknown_fields: true,
        truncate: false,
    };
    let mut f = Fixture::new(vec![
        Reply::sse(sse::openai_tool_calls(
            &[("q1", "Glob", r#"{"pattern": "apps/**"}"#)],
            5,
            5,
            quirks,
        )),
        Reply::sse(sse::openai_text("All fine here.", 5, 5, quirks)),
    ])
    .await;
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    assert_eq!(run.text, "All fine here.");
    assert!(
        f.drain()
            .iter()
            .any(|e| matches!(e, Event::ReasoningDelta { .. }))
    );
}

#[tokio::test]
async fn json_in_content_is_a_tool_call_only_when_it_names_an_offered_tool() {
    let f = Fixture::new(vec![
        text("```json\n{\"name\": \"Read\", \"arguments\": {\"file_path\": \"apps/web/deployment.yaml\"}}\n```"),
        text("```json\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}\n```"),
    ])
    .await;
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    // The first was executed (Read is offered); the second names a tool the agent lacks: text.
    assert!(run.text.contains("\"Bash\""), "{}", run.text);
    // The recognised call goes back in the API's own tool format, so the chat template
    // renders the result the way the model expects.
    let second = &f.server.requests()[1].body;
    let messages = second["messages"].as_array().unwrap();
    let assistant = &messages[messages.len() - 2];
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "Read");
    let result = messages.last().unwrap();
    assert_eq!(result["role"], "tool");
    assert!(result["content"].as_str().unwrap().contains("replicas: 3"));
}

#[tokio::test]
async fn schema_mode_drives_steps_through_response_format() {
    let mut f = Fixture::with(
        vec![
            text(r#"{"tool": "Read", "arguments": {"file_path": "apps/web/deployment.yaml"}}"#),
            text(r#"{"tool": "final_answer", "text": "web runs 3 replicas"}"#),
        ],
        ToolMode::Schema,
        Duration::from_secs(5),
    )
    .await;
    let run = f
        .engine
        .run(&main_agent(), "replicas?", None)
        .await
        .unwrap();
    assert_eq!(run.text, "web runs 3 replicas");
    let first = &f.server.requests()[0].body;
    assert!(
        first.get("tools").is_none(),
        "no native tools in schema mode"
    );
    assert_eq!(first["response_format"]["type"], "json_schema");
    let branches = first["response_format"]["json_schema"]["schema"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(branches.len(), 5, "4 tools + final_answer");
    assert!(
        first["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("final_answer")
    );
    let events = f.drain();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolCall {
            via: agentops_runtime::events::CallVia::Schema,
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::AgentStarted {
            tool_mode: ToolMode::Schema,
            ..
        }
    )));
    // Only the final answer is streamed as text, not the JSON steps.
    let streamed: String = events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, "web runs 3 replicas");
}

#[tokio::test]
async fn schema_mode_leaves_a_just_repeated_tool_out_of_the_next_step() {
    // The local model's loop: the same Grep again and again. After the repeat, the next
    // step's schema cannot express a Grep call, so the model must take another step.
    let read = r#"{"tool": "Grep", "arguments": {"pattern": "replicas"}}"#;
    let f = Fixture::with(
        vec![
            text(read),
            text(read),
            text(r#"{"tool": "final_answer", "text": "3"}"#),
        ],
        ToolMode::Schema,
        Duration::from_secs(5),
    )
    .await;
    let run = f
        .engine
        .run(&main_agent(), "replicas?", None)
        .await
        .unwrap();
    assert_eq!(run.text, "3");
    let offered = |i: usize| -> Vec<String> {
        f.server.requests()[i].body["response_format"]["json_schema"]["schema"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                b["properties"]["tool"]["const"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert!(offered(0).contains(&"Grep".to_string()));
    assert!(
        offered(1).contains(&"Grep".to_string()),
        "one call is not a loop"
    );
    let third = offered(2);
    assert!(!third.contains(&"Grep".to_string()), "{third:?}");
    assert!(third.contains(&"Read".to_string()) && third.contains(&"final_answer".to_string()));
}

#[tokio::test]
async fn long_tool_results_are_capped() {
    let mut f = Fixture::new(vec![
        calls(&[("c1", "Read", r#"{"file_path": "big.txt"}"#)]),
        text("ok"),
    ])
    .await;
    std::fs::write(f.root.join("big.txt"), "line of text\n".repeat(10_000)).unwrap();
    f.configure(|b| {
        b.limits(Limits {
            max_tool_output_bytes: 2000,
            ..Limits::default()
        })
    });
    f.engine.run(&main_agent(), "go", None).await.unwrap();
    let content = &tool_messages(&f.server.requests()[1].body)[0].1;
    assert!(content.len() < 2200, "{}", content.len());
    assert!(content.contains("bytes omitted"));
    assert!(f.drain().iter().any(|e| matches!(
        e,
        Event::ToolResult {
            truncated: true,
            ..
        }
    )));
}

#[tokio::test]
async fn anthropic_messages_with_tool_use() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    std::fs::write(root.join("a.txt"), "alpha\n").unwrap();
    let server = FakeModelServer::start(vec![
        Reply::sse(sse::anthropic(
            "Let me read it.",
            &[("tu1", "Read", r#"{"file_path": "a.txt"}"#)],
            50,
            10,
        )),
        Reply::sse(sse::anthropic("It says alpha.", &[], 70, 5)),
    ])
    .await;
    let provider = AnthropicProvider::new(
        &server.root_url(),
        Some("sk-ant".into()),
        Duration::from_secs(5),
    )
    .unwrap();
    let engine = Engine::builder(
        agentops_runtime::providers::ResolvedProvider {
            provider: Arc::new(provider),
            name: "anthropic".into(),
            kind: ProviderKind::Anthropic,
            tool_mode: ToolMode::Native,
            temperature: None,
            max_tokens: None,
            retry: RetryPolicy::default(),
            model: "claude-sonnet-4-5".into(),
            base_url: String::new(),
        },
        ToolContext {
            root: root.clone(),
            cwd: root,
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
    )
    .tools(ToolRegistry::builtin())
    .events(EventSink::discard())
    .prices(agentops_runtime::cost::PriceTable::new(&BTreeMap::new()))
    .build();
    let a = agent("---\nname: a\ndescription: d\ntools: Read\nmodel: sonnet\n---\nBe brief.\n");
    let run = engine.run(&a, "what is in a.txt?", None).await.unwrap();
    assert_eq!(run.text, "It says alpha.");
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].header("x-api-key"), Some("sk-ant"));
    assert_eq!(reqs[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        reqs[0].body["model"], "claude-sonnet-4-5",
        "alias sonnet resolved"
    );
    assert_eq!(reqs[0].body["system"], "Be brief.");
    let second = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(second[1]["content"][1]["type"], "tool_use");
    assert_eq!(second[2]["content"][0]["type"], "tool_result");
    assert_eq!(second[2]["content"][0]["content"], "     1\talpha\n");
    let totals = engine.totals();
    assert_eq!(totals.usage.input_tokens, 120);
    assert_eq!(totals.usage.output_tokens, 15);
    assert!((totals.cost_usd - (120.0 * 3.0 + 15.0 * 15.0) / 1e6).abs() < 1e-12);
}

#[tokio::test]
async fn an_identical_repeated_call_is_answered_not_rerun() {
    let mut f = Fixture::new(vec![
        calls(&[("r1", "Read", r#"{"file_path": "apps/web/deployment.yaml"}"#)]),
        calls(&[(
            "r2",
            "Read",
            r#"{ "file_path":"apps/web/deployment.yaml" }"#,
        )]),
        text("3 replicas"),
    ])
    .await;
    let run = f.engine.run(&main_agent(), "go", None).await.unwrap();
    assert_eq!(run.text, "3 replicas");
    let executed = f
        .drain()
        .into_iter()
        .filter(|e| matches!(e, Event::ToolResult { .. }))
        .count();
    assert_eq!(executed, 1, "the repeat is not executed again");
    let last = tool_messages(&f.server.requests()[2].body);
    assert!(
        last[1]
            .1
            .contains("was just called with exactly these arguments"),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_secret_value_never_reaches_the_model_or_the_events() {
    const VALUE: &str = "czNjcjN0LXBhc3N3b3Jk"; // base64 of s3cr3t-password
    const PLAIN: &str = "s3cr3t-password";
    let mut f = Fixture::new(vec![
        calls(&[
            ("r", "Read", r#"{"file_path": "apps/db/secret.yaml"}"#),
            ("g", "Grep", r#"{"pattern": "password"}"#),
            ("k", "kustomize_build", r#"{"path": "apps/db"}"#),
            (
                "b",
                "Bash",
                r#"{"command": "cat apps/db/secret.yaml; echo token: abcdefghijklmnop1234"}"#,
            ),
        ]),
        text("done"),
    ])
    .await;
    let root = f.root.clone();
    std::fs::create_dir_all(root.join("apps/db")).unwrap();
    std::fs::write(
        root.join("apps/db/secret.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {VALUE}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("apps/db/kustomization.yaml"),
        format!("resources:\n  - secret.yaml\nsecretGenerator:\n  - name: generated\n    literals:\n      - password={PLAIN}\n"),
    )
    .unwrap();
    let mut permissions = agentops_runtime::permissions::Permissions::default();
    for rule in ["Bash(cat:*)", "Bash(echo:*)"] {
        permissions
            .allow
            .push(agentops_runtime::permissions::Rule::parse(rule, "test"));
    }
    f.configure(|b| b.permissions(permissions));
    let a =
        agent("---\nname: a\ndescription: d\ntools: Read, Grep, kustomize_build, Bash\n---\nx\n");
    f.engine
        .run(&a, "show me the db secret", None)
        .await
        .unwrap();

    // Tool results as the model got them and as the event stream carried them.
    let sent: String = tool_messages(&f.server.requests()[1].body)
        .into_iter()
        .map(|(_, content)| content)
        .collect();
    let events: String = f
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            Event::ToolResult { content, .. } => Some(content),
            _ => None,
        })
        .collect();
    for leaked in [VALUE, PLAIN, "abcdefghijklmnop1234"] {
        assert!(!sent.contains(leaked), "{leaked} reached the model: {sent}");
        assert!(!events.contains(leaked), "{leaked} reached the events");
    }
    // The tools really ran: their redacted results are there.
    let results = tool_messages(&f.server.requests()[1].body);
    assert!(results[0].1.contains("password: <redacted>"), "{results:?}");
    assert!(
        results[1]
            .1
            .contains("apps/db/secret.yaml:6:  password: <redacted>"),
        "{results:?}"
    );
    assert!(
        results[1]
            .1
            .contains("apps/db/kustomization.yaml:6:      - password=<redacted>"),
        "{results:?}"
    );
    assert!(
        results[2].1.contains("name: generated-"),
        "kustomize rendered: {results:?}"
    );
    assert!(results[2].1.contains("password: <redacted>"), "{results:?}");
    assert!(results[3].1.contains("token: <redacted>"), "{results:?}");
}
