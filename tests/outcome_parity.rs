//! One core, thin front ends: the same scripted session (a **fake** model server) driven
//! through `agentops run` and through the REPL in line mode ends in the same result object —
//! outcome, exit code, gates, approvals, denials, answer — because both build it with the
//! runtime's `outcome` module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::{FakeModelServer, Reply};
use common::{calls, model_cmd, platform, run_with, scale_prod, stderr, text};
use serde_json::Value;
use std::path::Path;

/// The last `result` line of every session log in `dir` (one session expected).
fn logged_result(dir: &Path) -> Value {
    let logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    let mut result = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|v| v["type"] == "result")
        .unwrap_or_else(|| panic!("no result in {text}"));
    // What differs by nature between two runs.
    for key in ["session_id", "duration_ms", "ts"] {
        result.as_object_mut().unwrap().remove(key);
    }
    result
}

/// Runs `script` once through `run` and once through the REPL; returns both results.
async fn both(script: impl Fn() -> Vec<Reply>, prompt: &str) -> (Value, Value) {
    let sb = platform();
    let server = FakeModelServer::start(script()).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "--sessions-dir",
            "run-sessions",
            "run",
            "--output-format",
            "json",
            prompt,
        ],
    );
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let from_run = logged_result(&sb.repo().join("run-sessions"));

    let sb = platform();
    let server = FakeModelServer::start(script()).await;
    let mut child = model_cmd(&sb, &server, &["--sessions-dir", "repl-sessions"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{prompt}\n").as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_repl = logged_result(&sb.repo().join("repl-sessions"));
    (from_run, from_repl)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_production_change_is_approval_required_in_both() {
    let (run, repl) = both(
        || vec![scale_prod(), text("never")],
        "scale web in prod to 6",
    )
    .await;
    assert_eq!(run["outcome"], "approval_required", "{run:#}");
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["gates"][0]["outcome"], "pending");
    assert_eq!(run, repl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_tool_call_is_denied_in_both() {
    // `git push` is allowed by no rule: refused, and the run is not a clean success.
    let script = || {
        vec![
            calls(&[("c1", "Bash", r#"{"command": "git push origin main"}"#)]),
            text("I could not push."),
        ]
    };
    let (run, repl) = both(script, "push it").await;
    assert_eq!(run["outcome"], "denied", "{run:#}");
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["permission_denials"][0]["tool"], "Bash");
    assert_eq!(run["result"], "I could not push.");
    assert_eq!(run, repl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_answer_is_success_in_both() {
    let (run, repl) = both(|| vec![text("Three replicas.")], "how many replicas?").await;
    assert_eq!(run["outcome"], "success", "{run:#}");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["result"], "Three replicas.");
    assert_eq!(run, repl);
}
