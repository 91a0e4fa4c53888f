//! `agentops run` end to end against a **fake** model server: output formats, routing of
//! `/commands` to their agent, and the exit codes of DESIGN.md §4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::sse::{self, Quirks};
use agentops_testkit::{FakeModelServer, Reply};
use common::{Sandbox, platform, run_with, scale_prod, stderr, stdout, text};
use serde_json::Value;
use std::process::Output;

fn lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        "apps/web/deployment.yaml",
        "kind: Deployment\nreplicas: 2\n",
    );
    sb.write(
        ".claude/agents/reader.md",
        "---\nname: reader\ndescription: reads files\ntools: Read\n---\nYou read files.\n",
    );
    sb.write(
        ".claude/commands/count.md",
        "---\ndescription: count replicas\nagent: reader\n---\nHow many replicas in $1?\n",
    );
    sb
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_output_streams_the_answer() {
    let sb = sandbox();
    let server = FakeModelServer::start(vec![text("Two replicas.")]).await;
    let out = run_with(&sb, &server, &["run", "how", "many", "replicas?"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Two replicas.\n");
    let body = &server.requests()[0].body;
    assert_eq!(body["messages"][1]["content"], "how many replicas?");
    // The builtin main agent, with the environment in its system prompt.
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("general-purpose agent"), "{system}");
    assert!(system.contains("# Environment\n- Repository: "), "{system}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_command_runs_as_its_agent_with_tools_and_stream_json_ends_with_one_result() {
    let sb = sandbox();
    let server = FakeModelServer::start(vec![
        Reply::sse(sse::openai_tool_calls(
            &[("c1", "Read", r#"{"file_path": "apps/web/deployment.yaml"}"#)],
            10,
            5,
            Quirks::default(),
        )),
        text("web has 2 replicas"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "stream-json", "/count", "web"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = lines(&out);
    let results: Vec<&Value> = events.iter().filter(|e| e["type"] == "result").collect();
    assert_eq!(results.len(), 1);
    assert_eq!(events.last().unwrap()["type"], "result");
    let result = results[0];
    assert_eq!(result["outcome"], "success");
    assert_eq!(result["exit_code"], 0);
    assert_eq!(result["result"], "web has 2 replicas");
    assert_eq!(result["turns"], 2);
    assert_eq!(result["usage"]["input_tokens"], 20);
    assert!(result["session_id"].as_str().unwrap().starts_with("run-"));
    assert_eq!(events[0]["type"], "agent_started");
    assert_eq!(events[0]["agent"], "reader");
    assert_eq!(events[0]["tools"], serde_json::json!(["Read"]));
    let tool_result = events.iter().find(|e| e["type"] == "tool_result").unwrap();
    assert!(
        tool_result["content"]
            .as_str()
            .unwrap()
            .contains("replicas: 2")
    );
    assert_eq!(
        server.requests()[0].body["messages"][1]["content"],
        "How many replicas in web?\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_is_one_result_object() {
    let sb = sandbox();
    let server = FakeModelServer::start(vec![text("ok")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "--agent", "reader", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = lines(&out);
    assert_eq!(all.len(), 1);
    for key in [
        "outcome",
        "exit_code",
        "session_id",
        "turns",
        "usage",
        "cost_usd",
        "duration_ms",
        "permission_denials",
        "gates",
        "pending_approvals",
        "result",
    ] {
        assert!(all[0].get(key).is_some(), "missing {key}: {}", all[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failure_after_retries_exits_4_with_a_report() {
    let sb = sandbox();
    sb.write(
        "agentops.toml",
        "[providers.fake]\nattempts = 2\nretry_base_ms = 5\nretry_max_ms = 10\n",
    );
    let server = FakeModelServer::start(vec![Reply::error(503, &[]), Reply::error(503, &[])]).await;
    let out = run_with(&sb, &server, &["run", "--output-format", "json", "hi"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let result = &lines(&out)[0];
    assert_eq!(result["outcome"], "error");
    assert_eq!(result["exit_code"], 4);
    assert_eq!(result["attempts"], 2);
    assert_eq!(result["request_id"], "req-fake-503");
    assert!(result["error"].as_str().unwrap().contains("HTTP 503"));

    let server = FakeModelServer::start(vec![Reply::error(503, &[]), Reply::error(503, &[])]).await;
    let out = run_with(&sb, &server, &["run", "hi"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("attempt 1/2 failed (HTTP 503"), "{err}");
    assert!(
        err.contains("model request failed after 2 attempt(s)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_and_turn_limits_exit_5() {
    let sb = sandbox();
    sb.write(
        "agentops.toml",
        "[prices.fake-model]\ninput = 1000.0\noutput = 1000.0\n",
    );
    let server = FakeModelServer::start(vec![
        Reply::sse(sse::openai_tool_calls(
            &[("c1", "Read", r#"{"file_path": "apps/web/deployment.yaml"}"#)],
            10,
            5,
            Quirks::default(),
        )),
        text("never"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--max-budget-usd",
            "0.001",
            "hi",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let result = &lines(&out)[0];
    assert_eq!(result["outcome"], "limit");
    assert_eq!(result["stop"]["kind"], "budget");
    assert!((result["cost_usd"].as_f64().unwrap() - 0.015).abs() < 1e-9);

    let server = FakeModelServer::start(vec![Reply::sse(sse::openai_tool_calls(
        &[("c1", "Read", r#"{"file_path": "apps/web/deployment.yaml"}"#)],
        10,
        5,
        Quirks::default(),
    ))])
    .await;
    let out = run_with(&sb, &server, &["run", "--max-turns", "1", "hi"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("stopped at the turn limit (1)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_provider_configured_is_a_usage_error_naming_what_to_set() {
    let sb = sandbox();
    let out = assert_cmd::Command::cargo_bin("agentops")
        .unwrap()
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .env_remove("AGENTOPS_BASE_URL")
        .env_remove("AGENTOPS_PROVIDER")
        .env_remove("AGENTOPS_MODEL")
        .env_remove("AGENTOPS_CACHE")
        .args(["run", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Nothing configured and no local model installed under this home: both ways out.
    assert!(
        stderr(&out).contains("set AGENTOPS_BASE_URL")
            && stderr(&out).contains("`agentops model install`"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_agent_is_a_usage_error() {
    let sb = sandbox();
    let server = FakeModelServer::start(vec![]).await;
    let out = run_with(&sb, &server, &["run", "--agent", "nobody", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no agent named `nobody`"),
        "{}",
        stderr(&out)
    );
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_shows_provider_tool_mode_and_tool_calls() {
    let sb = sandbox();
    sb.write(
        "agentops.toml",
        "[providers.small]\ntool_mode = \"schema\"\n",
    );
    let server = FakeModelServer::start(vec![
        text(r#"{"tool": "Read", "arguments": {"file_path": "apps/web/deployment.yaml"}}"#),
        text(r#"{"tool": "final_answer", "text": "two"}"#),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["-v", "run", "--agent", "reader", "replicas?"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "two\n");
    let err = stderr(&out);
    assert!(err.contains("tool mode schema"), "{err}");
    assert!(
        err.contains("@reader on fake-model (schema), tools: Read"),
        "{err}"
    );
    assert!(
        err.contains("reader → Read {\"file_path\":\"apps/web/deployment.yaml\"} [schema]"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_is_retried_then_exits_4() {
    let sb = sandbox();
    sb.write(
        "agentops.toml",
        "[providers.fake]\nattempts = 2\nretry_base_ms = 5\nretry_max_ms = 10\ntimeout_secs = 1\n",
    );
    let truncated = Reply::sse(sse::openai_text(
        "cut sho",
        1,
        1,
        Quirks {
            truncate: true,
            ..Quirks::default()
        },
    ));
    let faults = [
        ("429", Reply::error(429, &[("retry-after", "0")])),
        ("500", Reply::error(500, &[])),
        (
            "timeout",
            text("late").delayed(std::time::Duration::from_millis(2500)),
        ),
        ("reset", Reply::Drop),
        ("truncated", truncated),
    ];
    for (name, fault) in faults {
        // Retried once and recovered: exit 0.
        let server = FakeModelServer::start(vec![fault.clone(), text("fine")]).await;
        let out = run_with(&sb, &server, &["run", "hi"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("attempt 1/2 failed"),
            "{name}: {}",
            stderr(&out)
        );
        // Failing every attempt: escalated, exit 4, one result object.
        let server = FakeModelServer::start(vec![fault.clone(), fault]).await;
        let out = run_with(
            &sb,
            &server,
            &["run", "--output-format", "stream-json", "hi"],
        );
        assert_eq!(out.status.code(), Some(4), "{name}: {}", stderr(&out));
        let events = lines(&out);
        assert_eq!(
            events.iter().filter(|e| e["type"] == "result").count(),
            1,
            "{name}"
        );
        assert_eq!(
            events.iter().filter(|e| e["type"] == "retry").count(),
            1,
            "{name}"
        );
        assert_eq!(events.last().unwrap()["attempts"], 2, "{name}");
        assert_eq!(server.requests().len(), 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_calls_go_through_permission_rules_and_denials_are_never_exit_0() {
    let sb = sandbox();
    sb.trust();
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"allow": ["Bash(ls:*)"], "deny": ["Bash(rm:*)"]}}"#,
    );
    sb.write(
        ".claude/agents/shell.md",
        "---\nname: shell\ndescription: runs commands\ntools: Bash\n---\nRun commands.\n",
    );
    let server = FakeModelServer::start(vec![
        Reply::sse(sse::openai_tool_calls(
            &[
                ("a", "Bash", r#"{"command": "ls apps"}"#),
                ("b", "Bash", r#"{"command": "ls apps && rm -rf apps"}"#),
                ("c", "Bash", r#"{"command": "touch pwned"}"#),
            ],
            10,
            5,
            Quirks::default(),
        )),
        text("done"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--agent",
            "shell",
            "clean up",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let result = &lines(&out)[0];
    assert_eq!(result["outcome"], "denied");
    let denials = result["permission_denials"].as_array().unwrap();
    assert_eq!(denials.len(), 2, "{denials:?}");
    assert!(
        denials[0]["reason"]
            .as_str()
            .unwrap()
            .contains("`rm -rf apps` is denied by `Bash(rm:*)`"),
        "{denials:?}"
    );
    assert!(
        denials[1]["reason"]
            .as_str()
            .unwrap()
            .contains("nobody can approve"),
        "{denials:?}"
    );
    // The allowed call ran; the others did not.
    assert!(sb.repo().join("apps").is_dir());
    assert!(!sb.repo().join("pwned").exists());
    let results: Vec<(String, String)> = server.requests()[1].body["messages"]
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
        .collect();
    assert!(results[0].1.contains("web"), "{results:?}");
    assert!(results[1].1.starts_with("permission denied"), "{results:?}");

    // --allowed-tools lets the same command through.
    let server = FakeModelServer::start(vec![
        Reply::sse(sse::openai_tool_calls(
            &[("c", "Bash", r#"{"command": "touch made"}"#)],
            10,
            5,
            Quirks::default(),
        )),
        text("done"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--allowed-tools",
            "Bash(touch:*)",
            "--agent",
            "shell",
            "make it",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(sb.repo().join("made").exists());
}

#[test]
fn denied_command_snippets_do_not_run() {
    let sb = sandbox();
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"deny": ["Bash(touch:*)"]}}"#,
    );
    sb.write(".claude/commands/bad.md", "Here: !`touch evil`\n");
    let out = sb.run(&["commands", "render", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not run: `touch evil` is denied by `Bash(touch:*)`"),
        "{}",
        stderr(&out)
    );
    assert!(!sb.repo().join("evil").exists());
}

/// examples/platform in a sandbox, with file edits allowed (gates and approvals still apply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_risk_change_without_approval_exits_3_with_the_pending_change() {
    let sb = platform();
    let before =
        std::fs::read_to_string(sb.repo().join("apps/web/overlays/prod/replicas.yaml")).unwrap();
    assert!(before.contains("replicas: 4\n"), "{before}");
    let server = FakeModelServer::start(vec![scale_prod(), text("never")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "scale web in prod to 4"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["outcome"], "approval_required");
    assert_eq!(result["exit_code"], 3);
    let pending = &result["pending_approvals"][0];
    assert_eq!(pending["files"][0], "apps/web/overlays/prod/replicas.yaml");
    assert_eq!(
        pending["units"][0]["reasons"][0]["message"],
        "targets production (prod)"
    );
    assert!(
        pending["diff"].as_str().unwrap().contains("+  replicas: 6"),
        "{pending}"
    );
    assert_eq!(result["gates"][0]["outcome"], "pending");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join("apps/web/overlays/prod/replicas.yaml")).unwrap(),
        before
    );

    // The run is recorded: listed with its outcome and pending approval, shown by id prefix.
    let session = result["session_id"].as_str().unwrap().to_string();
    let out = sb.run(&["sessions", "list", "--json"]);
    let listed = common::json(&out);
    assert_eq!(listed[0]["id"], session.as_str());
    assert_eq!(listed[0]["outcome"], "approval_required");
    assert_eq!(listed[0]["pending_approvals"][0], pending["id"]);
    let out = sb.run(&["sessions", "show", &session[..12]]);
    let shown = stdout(&out);
    assert!(shown.contains("approval needed: apr-"), "{shown}");
    assert!(
        shown.contains("result: approval_required (exit 3)"),
        "{shown}"
    );

    // The same change with an approval for exactly it goes through.
    let id = pending["id"].as_str().unwrap().to_string();
    let server = FakeModelServer::start(vec![scale_prod(), text("scaled")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--approve",
            &format!("id={id}"),
            "scale web in prod to 4",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["outcome"], "success");
    assert_eq!(result["approvals"][0]["decision"], "granted");
    assert!(
        std::fs::read_to_string(sb.repo().join("apps/web/overlays/prod/replicas.yaml"))
            .unwrap()
            .contains("replicas: 6")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_rules_refuse_and_bad_approval_rules_are_usage_errors() {
    let sb = platform();
    sb.write(
        "approvals.toml",
        "[[approve]]\nenv = \"dev\"\n\n[[deny]]\nenv = \"prod\"\n",
    );
    let server = FakeModelServer::start(vec![scale_prod(), text("it was denied")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--approval-policy",
            "approvals.toml",
            "scale",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["outcome"], "denied");
    assert_eq!(result["approvals"][0]["decision"], "denied");

    let out = run_with(&sb, &server, &["run", "--approve", "kind=*", "scale"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("would approve every high-risk change"),
        "{}",
        stderr(&out)
    );
}

/// At a terminal (a pty from util-linux `script`), a high-risk change is shown with its
/// reasons and diff and a person's `y` approves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_terminal_a_person_approves_the_change() {
    let sb = platform();
    let (code, shown) = at_terminal(&sb, "n\n").await;
    assert_eq!(code, Some(3), "a person said no: {shown}");
    assert!(
        shown.contains(r#"{"decision":"denied","by":"a person at the terminal"}"#),
        "{shown}"
    );
    assert!(
        std::fs::read_to_string(sb.repo().join("apps/web/overlays/prod/replicas.yaml"))
            .unwrap()
            .contains("replicas: 4")
    );
    let (code, shown) = at_terminal(&sb, "y\n").await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("apps/web/overlays/prod: targets production (prod)"),
        "{shown}"
    );
    assert_eq!(
        shown.matches("targets production (prod)").count(),
        1,
        "shown once: {shown}"
    );
    assert!(
        shown.contains("+  replicas: 6") && shown.contains("Make this change? [y/N]"),
        "{shown}"
    );
    assert!(
        std::fs::read_to_string(sb.repo().join("apps/web/overlays/prod/replicas.yaml"))
            .unwrap()
            .contains("replicas: 6")
    );
}

/// Runs `agentops run` in a pty with `answer` typed, returns the exit code and what it showed.
async fn at_terminal(sb: &Sandbox, answer: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    let server = FakeModelServer::start(vec![scale_prod(), text("done")]).await;
    let bin = assert_cmd::cargo::cargo_bin("agentops");
    let mut child = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} run scale web in prod", bin.display()),
            "/dev/null",
        ])
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .env("AGENTOPS_BASE_URL", server.base_url())
        .env("AGENTOPS_MODEL", "fake-model")
        .env_remove("AGENTOPS_PROVIDER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_is_recorded_and_a_torn_last_line_is_dropped_with_a_warning() {
    let sb = sandbox();
    let server = FakeModelServer::start(vec![text("Two replicas.")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "how many replicas?"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = serde_json::from_str::<Value>(stdout(&out).trim()).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = sb.repo().join(format!(".agentops/sessions/{id}.jsonl"));
    let log = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["format_version"], 1);
    assert_eq!(lines[0]["agent"], "general-purpose");
    assert_eq!(lines[0]["prompt"], "how many replicas?");
    assert!(lines.iter().any(|l| l["type"] == "model_response"));
    assert_eq!(lines.last().unwrap()["type"], "result");
    // State stays out of commits; only the team's learnings may go in.
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(".agentops/.gitignore")).unwrap(),
        "*\n!learnings.md\n"
    );

    // A process killed mid-write leaves half a line: the session stays readable.
    std::fs::write(&path, format!("{log}{{\"type\":\"text_del")).unwrap();
    let out = sb.run(&["sessions", "show", &id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dropped a torn last line"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        common::json(&out)["events"].as_array().unwrap().len(),
        lines.len() - 1
    );
    let out = sb.run(&["sessions", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no session `nope`"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_states_what_changed_whatever_the_answer_claims() {
    // The model claims a change it never made: the facts say nothing changed.
    let sb = common::platform();
    let claim = common::text("The web container now has an HTTP readiness probe in both variants.");
    let result = common::scripted_run(&sb, vec![claim], &["add a readiness probe to web"]).await;
    assert_eq!(result["outcome"], "success");
    assert_eq!(result["changes"], serde_json::json!([]), "{result:#}");
    assert_eq!(result["summary"], "no change was made");

    // A real edit is listed with the tool that made it.
    let edit = serde_json::json!({
        "file_path": "apps/web/overlays/dev/replicas.yaml",
        "old_string": "replicas: 1\n",
        "new_string": "replicas: 2\n",
    });
    let replies = vec![
        common::calls(&[("c1", "Edit", &edit.to_string())]),
        common::text("done"),
    ];
    let result = common::scripted_run(&sb, replies, &["scale web dev to 2"]).await;
    assert_eq!(
        result["changes"],
        serde_json::json!([{"kind": "file", "what": "apps/web/overlays/dev/replicas.yaml", "tool": "Edit", "agent": "general-purpose"}]),
        "{result:#}"
    );
    assert!(
        result["summary"]
            .as_str()
            .unwrap()
            .starts_with("1 file(s) written: apps/web/overlays/dev/replicas.yaml"),
        "{result:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_find_tool_answers_where_a_value_is_set_with_copyable_paths() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        common::calls(&[("f1", "find", r#"{"query": "retention"}"#)]),
        text("found"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "where is the retention set?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let told = server.requests()[1].body["messages"].to_string();
    assert!(
        told.contains("Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]="),
        "{told}"
    );
    assert!(
        told.contains("apps/prometheus/overlays/prod: 15d"),
        "{told}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_path_with_an_app_and_env_is_told_the_call_that_validates_them() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        common::calls(&[(
            "v1",
            "validate",
            r#"{"path": "argocd/nonprod/web-dev.yaml", "app": "web", "env": "dev"}"#,
        )]),
        text("ok"),
    ])
    .await;
    run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "validate web dev"],
    );
    let told = server.requests()[1].body["messages"].to_string();
    // Not widened by the tool itself (the rules saw only that path): the call to make.
    assert!(
        told.contains(r#"To validate that app/env wherever it is, call validate with no path: {\"app\":\"web\",\"env\":\"dev\"}."#),
        "{told}"
    );
    assert!(!told.contains("ok      apps/web/overlays/dev"), "{told}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_no_kustomization_is_answered_with_the_nearest_ones() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        common::calls(&[("v1", "validate", r#"{"path": "apps/webapp/overlays/prod"}"#)]),
        text("ok"),
    ])
    .await;
    run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "validate webapp prod"],
    );
    let told = server.requests()[1].body["messages"].to_string();
    assert!(
        told.contains("no kustomization found under apps/webapp/overlays/prod"),
        "{told}"
    );
    let listed = told
        .split("Kustomization folders here: ")
        .nth(1)
        .unwrap_or_default();
    assert!(
        listed.starts_with("apps/web/overlays/prod") || listed.contains("overlays/prod"),
        "{told}"
    );
}

/// The first request of each builtin agent in schema mode, in estimated tokens (4 characters
/// a token): what a small local model must read before its first step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_agents_make_a_small_first_request_in_schema_mode() {
    let sb = platform();
    let mut sizes = Vec::new();
    for agent in [
        "general-purpose",
        "infrastructure-harmonize",
        "infrastructure-create",
        "infrastructure-drift",
    ] {
        let server =
            FakeModelServer::start(vec![text("{\"tool\": \"final_answer\", \"text\": \"ok\"}")])
                .await;
        schema_mode(&sb, &server);
        let out = run_with(
            &sb,
            &server,
            &["run", "--output-format", "json", "--agent", agent, "hello"],
        );
        assert_eq!(out.status.code(), Some(0), "{agent}: {}", stderr(&out));
        let body = &server.requests()[0].body;
        let chars: usize = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or("").len())
            .sum();
        // The tools are still all there, one line each, with their arguments.
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(
            system.contains("- Read(file_path: string)"),
            "{agent}: {system}"
        );
        sizes.push((agent, chars / 4));
    }
    eprintln!("first-request prompt (estimated tokens): {sizes:?}");
    assert!(sizes[0].1 < 1500, "general-purpose: {sizes:?}");
    assert!(sizes.iter().all(|(_, t)| *t < 2000), "{sizes:?}");
}

/// The events of a stream-json run's stdout.
fn events_of(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_is_routed_to_the_agent_that_fits() {
    let sb = platform();
    // The request names an agent's job: chosen by its words, no model call spent on it.
    let server = FakeModelServer::start_scripting_routes(vec![text("done")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "stream-json",
            "harmonize the prometheus retention to 30d",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = events_of(&out);
    let routed = events.iter().find(|e| e["type"] == "routed").unwrap();
    assert_eq!(routed["agent"], "infrastructure-harmonize", "{routed}");
    assert_eq!(routed["by"], "words");
    assert_eq!(server.requests().len(), 1, "no router request");

    // Nothing in the words: one schema-constrained call whose answer must be an agent's name.
    let server = FakeModelServer::start_scripting_routes(vec![
        text(r#"{"agent": "infrastructure-drift", "why": "compares Git with the cluster"}"#),
        text("done"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "stream-json",
            "is everything fine?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let router = &server.requests()[0].body;
    let names = &router["response_format"]["json_schema"]["schema"]["properties"]["agent"]["enum"];
    for name in [
        "general-purpose",
        "infrastructure-drift",
        "infrastructure-harmonize",
    ] {
        assert!(
            names.as_array().unwrap().iter().any(|n| n == name),
            "{names}"
        );
    }
    let events = events_of(&out);
    let routed = events.iter().find(|e| e["type"] == "routed").unwrap();
    assert_eq!(routed["agent"], "infrastructure-drift");
    assert_eq!(routed["by"], "model");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "agent_started" && e["agent"] == "infrastructure-drift")
    );

    // A reply that names no agent: the main agent, said so. Text output shows the choice.
    let server =
        FakeModelServer::start_scripting_routes(vec![text("drift, probably"), text("done")]).await;
    let out = run_with(&sb, &server, &["run", "is everything fine?"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("routed to general-purpose (by fallback"),
        "{}",
        stderr(&out)
    );
    // A small model (schema mode) is not asked to route: what no name or description settles
    // goes to the main agent, and the first request is the agent's own.
    let server = FakeModelServer::start_scripting_routes(vec![text(
        "{\"tool\": \"final_answer\", \"text\": \"done\"}",
    )])
    .await;
    schema_mode(&sb, &server);
    let out = run_with(
        &sb,
        &server,
        &["run", "How much storage does postgres get in staging?"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("routed to general-purpose (by fallback: no agent's name or description clearly fits, and a small model (schema tool mode) is not asked to choose)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.requests().len(), 1, "no router request");
    std::fs::remove_file(sb.repo().join("agentops.toml")).unwrap();
    // An explicit agent is never routed.
    let server = FakeModelServer::start_scripting_routes(vec![text("done")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--agent", "general-purpose", "harmonize it"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("routed to"), "{}", stderr(&out));
}

/// A small model (schema mode) starts from facts, not a guess: its first request carries the
/// rendered fields the request is about, as harmonize paths with each overlay's value and the
/// line that sets it. Not in native mode, and not where a Read deny rule covers the repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_model_gets_the_fields_the_request_is_about_before_its_first_step() {
    let sb = platform();
    let answer = || text("{\"tool\": \"final_answer\", \"text\": \"ok\"}");
    let prompt = "Lower the Prometheus retention in dev to 3d";
    let first_user = |server: &FakeModelServer| -> String {
        server.requests()[0].body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| m["content"].as_str().unwrap_or("").to_string())
            .collect()
    };
    // Answering at once, with a step suggested, earns one reminder (a second request).
    let server = FakeModelServer::start(vec![answer(), answer()]).await;
    schema_mode(&sb, &server);
    let out = run_with(&sb, &server, &["run", "--agent", "general-purpose", prompt]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 2);
    let user = first_user(&server);
    assert!(user.starts_with(prompt), "{user}");
    assert!(
        user.contains("- `Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]="),
        "{user}"
    );
    assert!(
        user.contains(
            "apps/prometheus/overlays/dev: 7d  (set at apps/prometheus/overlays/dev/retention.yaml:"
        ),
        "{user}"
    );
    assert!(
        user.contains("apps/prometheus/overlays/prod: 15d"),
        "{user}"
    );
    // The step, filled in from the request: the new value and the one environment it names.
    assert!(
        user.contains(r#"this step makes it: {"tool": "harmonize", "arguments": {"set":"Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=3d","env":["dev"]}}"#),
        "{user}"
    );
    // Fields the request is not about stay out.
    assert!(!user.contains("Deployment/web"), "{user}");

    // A question gets the values to quote, and no step that changes them.
    let server = FakeModelServer::start(vec![answer()]).await;
    schema_mode(&sb, &server);
    let question = "How many replicas does web run in prod? Do not change anything.";
    let out = run_with(
        &sb,
        &server,
        &["run", "--agent", "general-purpose", question],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let user = first_user(&server);
    assert!(
        user.contains("found for this question: answer with these values.]"),
        "{user}"
    );
    assert!(user.contains("apps/web/overlays/prod: 4"), "{user}");
    assert!(!user.contains("harmonize"), "{user}");

    // A Read deny inside the repository: find may not show every overlay, so no facts.
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"deny": ["Read(./apps/postgres/**)"]}}"#,
    );
    let server = FakeModelServer::start(vec![answer()]).await;
    schema_mode(&sb, &server);
    let out = run_with(&sb, &server, &["run", "--agent", "general-purpose", prompt]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(first_user(&server), prompt);
    std::fs::remove_file(sb.repo().join(".claude/settings.json")).unwrap();
    std::fs::remove_file(sb.repo().join("agentops.toml")).unwrap();

    // Native tool calling (a model that needs no help): the prompt as typed.
    let server = FakeModelServer::start(vec![text("ok")]).await;
    let out = run_with(&sb, &server, &["run", "--agent", "general-purpose", prompt]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(first_user(&server), prompt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_mode_answer_cut_off_by_max_tokens_is_its_text_not_raw_json() {
    let sb = platform();
    let cut = r#"{"tool": "final_answer", "text": "The web app runs 4 replicas in prod and"#;
    let server = FakeModelServer::start(vec![text(cut)]).await;
    schema_mode(&sb, &server);
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--agent",
            "general-purpose",
            "how many replicas in prod?",
        ],
    );
    let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        result["result"], "The web app runs 4 replicas in prod and",
        "{result:#}"
    );
}

/// The repository's agentops.toml: the fake `server` in schema tool mode.
fn schema_mode(sb: &Sandbox, server: &FakeModelServer) {
    sb.write(
        "agentops.toml",
        format!(
            "[model]\nprovider = \"l\"\nname = \"local\"\n[providers.l]\nbase_url = \"{}\"\ntool_mode = \"schema\"\n",
            server.base_url()
        ),
    );
}

/// The user messages of request `n` to the fake model, joined.
fn users_of(server: &FakeModelServer, n: usize) -> String {
    server.requests()[n].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A small model that claims a change without making it is sent back once with the step the
/// request spells out; its call that leaves out what the request said (the app of a label) is
/// completed from that step, said in an event, and still gated and approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_models_incomplete_call_is_completed_from_the_request() {
    let sb = platform();
    let step = |s: &str| text(s);
    let server = FakeModelServer::start(vec![
        step(r#"{"tool": "final_answer", "text": "Every object of web now has the label."}"#),
        step(r#"{"tool": "harmonize", "arguments": {"set": "label:cost-center=cc-4120", "env": []}}"#),
        step(r#"{"tool": "final_answer", "text": "Labelled."}"#),
    ])
    .await;
    schema_mode(&sb, &server);
    let prompt = "Add the label cost-center=cc-4120 to the metadata of every object of the web app, in all environments.";
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--allowed-tools",
            "harmonize",
            "--approve",
            "env=prod",
            "--approve",
            "kind=NetworkPolicy",
            prompt,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let first = users_of(&server, 0);
    assert!(
        first.contains(r#"{"tool": "harmonize", "arguments": {"app":"web","env":[],"set":"label:cost-center=cc-4120"}}"#)
            || first.contains(r#""set":"label:cost-center=cc-4120""#),
        "{first}"
    );
    let second = users_of(&server, 1);
    assert!(second.contains("nothing has been changed yet"), "{second}");
    assert!(
        stderr(&out)
            .contains(r#"harmonize: filled in from the request what the call left out: app="web""#),
        "{}",
        stderr(&out)
    );
    for env in ["dev", "staging", "prod"] {
        let k = std::fs::read_to_string(
            sb.repo()
                .join(format!("apps/web/overlays/{env}/kustomization.yaml")),
        )
        .unwrap();
        assert!(k.contains("cost-center: cc-4120"), "{env}: {k}");
    }
    let prometheus = std::fs::read_to_string(
        sb.repo()
            .join("apps/prometheus/overlays/prod/kustomization.yaml"),
    )
    .unwrap();
    assert!(!prometheus.contains("cost-center"));

    // A scaffold: the environments the request names (not the one it rules out) and the
    // template its words point to, which the call left out.
    let server = FakeModelServer::start(vec![
        step(r#"{"tool": "create_app", "arguments": {"app": "orders-db", "namespace": "orders"}}"#),
        step(r#"{"tool": "final_answer", "text": "Created."}"#),
    ])
    .await;
    schema_mode(&sb, &server);
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "infrastructure-create",
            "--allowed-tools",
            "create_app",
            "--approve",
            "kind=StatefulSet",
            "--approve",
            "kind=NetworkPolicy",
            "Create a PostgreSQL database app called orders-db in namespace orders, for dev and staging only (no prod yet).",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(sb.repo().join("apps/orders-db/overlays/staging").is_dir());
    assert!(!sb.repo().join("apps/orders-db/overlays/prod").exists());
    let base =
        std::fs::read_to_string(sb.repo().join("apps/orders-db/base/kustomization.yaml")).unwrap();
    assert!(base.contains("statefulset"), "{base}");
}

/// A reviewer starts from the overlay's render and its policy findings, not from raw YAML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_gets_the_digest_and_policy_findings_of_the_overlay_it_reviews() {
    let sb = platform();
    // Drop prod's limits, as a careless patch would.
    sb.write(
        "apps/web/overlays/prod/no-limits.yaml",
        "- op: remove\n  path: /spec/template/spec/containers/0/resources/limits\n",
    );
    let k = std::fs::read_to_string(sb.repo().join("apps/web/overlays/prod/kustomization.yaml"))
        .unwrap();
    sb.write(
        "apps/web/overlays/prod/kustomization.yaml",
        format!(
            "{k}  - path: no-limits.yaml\n    target:\n      kind: Deployment\n      name: web\n"
        ),
    );
    let server =
        FakeModelServer::start(vec![text(r#"{"tool": "final_answer", "text": "ok"}"#)]).await;
    schema_mode(&sb, &server);
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "platform-reviewer",
            "Review apps/web/overlays/prod before it ships.",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let user = users_of(&server, 0);
    assert!(
        user.contains("[agentops: what apps/web/overlays/prod renders now"),
        "{user}"
    );
    assert!(
        user.contains("container web image registry.example.com/storefront/web:")
            && user.contains("limits NONE (no resources.limits)"),
        "{user}"
    );
    assert!(user.contains("[resource-limits]"), "{user}");
    // Only the overlay it names.
    assert!(!user.contains("apps/web/overlays/dev renders"), "{user}");
}

/// A deny-all NetworkPolicy for one overlay: the first request carries the add_object step
/// read off the request; the object is a file of its own listed in that overlay only, and a
/// NetworkPolicy waits for approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_network_policy_is_added_to_one_overlay_through_the_gates() {
    let sb = platform();
    let prompt = "Add a NetworkPolicy named web-deny-egress to the web app's dev overlay only (apps/web/overlays/dev): it selects the web pods (app: web) and denies all their egress traffic.";
    let manifest = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web-deny-egress\nspec:\n  podSelector:\n    matchLabels:\n      app: web\n  policyTypes:\n    - Egress\n";
    let call = serde_json::json!({"tool": "add_object", "arguments": {"path": "apps/web/overlays/dev", "manifest": manifest}}).to_string();
    let dev = sb.repo().join("apps/web/overlays/dev/kustomization.yaml");
    let before = std::fs::read_to_string(&dev).unwrap();
    for (approve, code) in [(None, 3), (Some("kind=NetworkPolicy"), 0)] {
        let server = FakeModelServer::start(vec![
            text(&call),
            text(r#"{"tool": "final_answer", "text": "done"}"#),
        ])
        .await;
        schema_mode(&sb, &server);
        let mut args = vec!["run", "--allowed-tools", "add_object"];
        if let Some(rule) = approve {
            args.extend(["--approve", rule]);
        }
        args.push(prompt);
        let out = run_with(&sb, &server, &args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let first = users_of(&server, 0);
        assert!(
            first.contains(r#"this step adds it: {"tool": "add_object", "arguments": {"path":"apps/web/overlays/dev","manifest":"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy"#),
            "{first}"
        );
        if approve.is_none() {
            assert_eq!(std::fs::read_to_string(&dev).unwrap(), before);
        }
    }
    let k = std::fs::read_to_string(&dev).unwrap();
    assert!(k.contains("- networkpolicy-web-deny-egress.yaml"), "{k}");
    let render = |env: &str| common::kustomize(&sb, &format!("apps/web/overlays/{env}"));
    assert!(
        render("dev").contains("name: web-deny-egress\n  namespace: web-dev"),
        "{}",
        render("dev")
    );
    assert!(!render("staging").contains("web-deny-egress"));
    assert!(!render("prod").contains("web-deny-egress"));
}

/// "Do not change anything": the run is offered read-only tools only, whatever the agent has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_forbids_changes_gets_read_only_tools() {
    let sb = platform();
    let offered = |server: &FakeModelServer| -> Vec<String> {
        server.requests()[0].body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
            .collect()
    };
    let server = FakeModelServer::start(vec![text("4")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "general-purpose",
            "How many replicas does web run in prod? Do not change anything.",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tools = offered(&server);
    assert!(
        tools.contains(&"Read".to_string()) && tools.contains(&"find".to_string()),
        "{tools:?}"
    );
    for write in [
        "Edit",
        "Write",
        "Bash",
        "harmonize",
        "add_object",
        "create_app",
        "git_commit",
        "Agent",
    ] {
        assert!(
            !tools.contains(&write.to_string()),
            "{write} offered: {tools:?}"
        );
    }
    let server = FakeModelServer::start(vec![text("ok")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "general-purpose",
            "How many replicas does web run in prod?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(offered(&server).contains(&"harmonize".to_string()));
}
