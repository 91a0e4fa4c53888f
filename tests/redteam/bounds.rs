//! Unbounded runs: a model going round in circles, or one that keeps the server busy, is
//! stopped by default limits (exit 5), never by the turn limit alone.

use crate::common::{calls, platform, result_of, run_with, stderr};
use agentops_testkit::FakeModelServer;

fn read(id: &str, path: &str) -> agentops_testkit::Reply {
    calls(&[(id, "Read", &format!(r#"{{"file_path": "{path}"}}"#))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_between_two_failing_calls_stops_as_stuck() {
    let sb = platform();
    let script = (0..30)
        .map(|i| {
            read(
                &format!("c{i}"),
                if i % 2 == 0 {
                    "nope/a.yaml"
                } else {
                    "nope/b.yaml"
                },
            )
        })
        .collect();
    let server = FakeModelServer::start(script).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "read the config"],
    );
    let result = result_of(&out);
    assert_eq!(result["outcome"], "stuck", "{result:#}\n{}", stderr(&out));
    assert_eq!(out.status.code(), Some(5));
    assert!(
        result["error"].as_str().unwrap().contains("nope/a.yaml"),
        "the result names the repeated calls: {result:#}"
    );
    // Two failing calls, then three rounds repeating them: five requests, not thirty.
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegation_storms_meet_the_request_and_subagent_caps() {
    let sb = platform();
    sb.write(
        "agentops.toml",
        "[limits]\nmax_requests = 12\nmax_subagents_per_turn = 2\n",
    );
    // Every reply asks for three subagents with fresh arguments.
    let script = (0..40)
        .map(|i| {
            let call = |n: usize| {
                (
                    format!("c{i}-{n}"),
                    format!(r#"{{"subagent_type": "platform-reviewer", "description": "task {i}-{n}", "prompt": "review {i}-{n}"}}"#),
                )
            };
            let list: Vec<(String, String)> = (0..3).map(call).collect();
            let refs: Vec<(&str, &str, &str)> = list
                .iter()
                .map(|(id, a)| (id.as_str(), "Agent", a.as_str()))
                .collect();
            calls(&refs)
        })
        .collect();
    let server = FakeModelServer::start(script).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--agent",
            "general-purpose",
            "review everything",
        ],
    );
    let result = result_of(&out);
    assert_eq!(out.status.code(), Some(5), "{result:#}\n{}", stderr(&out));
    assert_eq!(result["outcome"], "limit", "{result:#}");
    assert_eq!(result["stop"]["kind"], "requests", "{result:#}");
    assert_eq!(server.requests().len(), 12);
    // The third Agent call of the first turn was refused, not started.
    let first_results: Vec<String> = server.requests()[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        first_results
            .iter()
            .all(|c| !c.contains("subagents a turn")),
        "a subagent's first request has no tool results yet"
    );
    let main_second = server
        .requests()
        .iter()
        .find(|r| {
            r.body["messages"].as_array().unwrap().iter().any(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("subagents a turn")
            })
        })
        .is_some();
    assert!(main_second, "the third subagent of a turn was refused");
}
