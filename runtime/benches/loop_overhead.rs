//! Runtime overhead per tool call, without model or tool time: an in-process provider answers
//! instantly with a scripted tool call, and the tool does nothing. What is left is the loop's
//! own work: request building, argument parsing and schema validation, events, result capping
//! and conversation bookkeeping. Goal: < 1 ms per call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_agents::{AgentDefinition, Origin, Source};
use agentops_runtime::config::{ProviderKind, ToolMode};
use agentops_runtime::model::retry::RetryPolicy;
use agentops_runtime::model::{
    ChatRequest, DeltaFn, ModelTurn, Provider, ProviderError, ToolCall, Usage,
};
use agentops_runtime::{Engine, EventSink};
use agentops_tools::ToolRegistry;
use agentops_tools::tool::{Risk, Tool, ToolContext, ToolOutput};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const CALLS: u32 = 50;

/// Calls `noop` on every turn until `CALLS` calls, then answers.
struct InstantProvider {
    turn: AtomicU32,
}

impl Provider for InstantProvider {
    fn complete<'a>(
        &'a self,
        _r: &'a ChatRequest,
        _d: DeltaFn<'a>,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>> {
        let n = self.turn.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let usage = Usage {
                input_tokens: 100,
                output_tokens: 10,
            };
            if n < CALLS {
                Ok(ModelTurn {
                    tool_calls: vec![ToolCall {
                        id: format!("c{n}"),
                        name: "noop".into(),
                        arguments: format!("{{\"path\": \"apps/web/overlays/prod\", \"n\": {n}}}"),
                    }],
                    finish_reason: Some("tool_calls".into()),
                    usage,
                    ..ModelTurn::default()
                })
            } else {
                Ok(ModelTurn {
                    text: "done".into(),
                    finish_reason: Some("stop".into()),
                    usage,
                    ..ModelTurn::default()
                })
            }
        })
    }
}

struct Noop;

impl Tool for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn description(&self) -> &'static str {
        "does nothing"
    }
    fn input_schema(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string"}, "n": {"type": "integer"}}, "required": ["path"], "additionalProperties": false})
    }
    fn risk(&self) -> Risk {
        Risk::ReadOnly
    }
    fn run<'a>(&'a self, _input: Value, _ctx: &'a ToolContext) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async { ToolOutput::ok("ok") })
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let agent = AgentDefinition::parse(
        "---\nname: bench\ndescription: bench\ntools: noop\n---\nYou benchmark.\n",
        &Origin::new(Source::Builtin, "bench.md"),
    )
    .unwrap();
    let mut tools = ToolRegistry::default();
    tools.register(Arc::new(Noop));
    let root = std::env::temp_dir();
    let make = || {
        let (sink, rx) = EventSink::channel();
        let engine = Engine::builder(
            agentops_runtime::providers::ResolvedProvider {
                provider: Arc::new(InstantProvider {
                    turn: AtomicU32::new(0),
                }),
                name: "instant".into(),
                kind: ProviderKind::Openai,
                tool_mode: ToolMode::Native,
                temperature: None,
                max_tokens: None,
                retry: RetryPolicy::default(),
                model: "m".into(),
                base_url: String::new(),
            },
            ToolContext {
                root: root.clone(),
                cwd: root.clone(),
                timeout: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .tools(tools.clone())
        .events(sink)
        .limits(agentops_runtime::config::Limits {
            max_turns: CALLS + 1,
            ..Default::default()
        })
        .build();
        (engine, rx)
    };
    let mut group = c.benchmark_group("agent_loop");
    group.throughput(criterion::Throughput::Elements(u64::from(CALLS)));
    group.bench_function("overhead_per_tool_call_x50", |b| {
        b.iter(|| {
            // The receiver lives through the run, so events are really queued.
            let (engine, mut rx) = make();
            let run = rt.block_on(engine.run(&agent, "go", None)).unwrap();
            assert_eq!(run.text, "done");
            let mut events = 0;
            while rx.try_recv().is_ok() {
                events += 1;
            }
            assert!(events > 4 * CALLS);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
