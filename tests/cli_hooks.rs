//! Hooks in Claude Code's format (`.claude/settings.json`), end to end against a **fake** model
//! server: exit 2 blocks and the model reads why, JSON permission answers never beat a deny
//! rule or a high-risk approval, prompt and stop hooks, and every hook run is in the session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use common::{Sandbox, calls, platform, result_of, run_with, scale_prod, stderr, text};
use serde_json::{Value, json};

fn settings(sb: &Sandbox, hooks: Value) {
    sb.write(".claude/settings.json", json!({"hooks": hooks}).to_string());
}

fn scale_dev() -> agentops_testkit::Reply {
    let args = json!({
        "file_path": "apps/web/overlays/dev/replicas.yaml",
        "old_string": "replicas: 1\n",
        "new_string": "replicas: 2\n",
    });
    calls(&[("e1", "Edit", &args.to_string())])
}

/// The tool message the model got back for call `id` in request `i`.
fn tool_reply(server: &FakeModelServer, i: usize, id: &str) -> String {
    server.requests()[i].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
        .unwrap_or_else(|| panic!("no tool message {id}"))["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_tool_use_hook_that_exits_2_blocks_the_call_and_the_model_sees_why() {
    let sb = platform();
    settings(
        &sb,
        json!({"PreToolUse": [{"matcher": "Edit|Write", "hooks": [{"type": "command",
            "command": "cat > .hook-input.json; echo 'change freeze until Monday (CHG-42)' >&2; exit 2"}]}]}),
    );
    let dev = sb.repo().join("apps/web/overlays/dev/replicas.yaml");
    let before = std::fs::read_to_string(&dev).unwrap();
    let server = FakeModelServer::start(vec![scale_dev(), text("Blocked by the freeze.")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "scale web dev to 2"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "a blocked call is never exit 0: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&dev).unwrap(),
        before,
        "nothing written"
    );
    let seen = tool_reply(&server, 1, "e1");
    assert!(
        seen.contains("blocked by a PreToolUse hook: change freeze until Monday (CHG-42)"),
        "{seen}"
    );
    let result = result_of(&out);
    assert_eq!(result["outcome"], "denied");
    assert!(
        result["permission_denials"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("CHG-42")
    );
    // The hook got Claude Code's input on stdin.
    let input: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.repo().join(".hook-input.json")).unwrap())
            .unwrap();
    assert_eq!(input["hook_event_name"], "PreToolUse");
    assert_eq!(input["tool_name"], "Edit");
    assert_eq!(input["tool_input"]["new_string"], "replicas: 2\n");
    assert_eq!(input["session_id"], result["session_id"]);
    assert!(
        input["transcript_path"]
            .as_str()
            .unwrap()
            .ends_with(".jsonl")
    );
    // And the run is in the session log.
    let id = result["session_id"].as_str().unwrap();
    let log =
        std::fs::read_to_string(sb.repo().join(format!(".agentops/sessions/{id}.jsonl"))).unwrap();
    assert!(
        log.contains(r#""type":"hook""#) && log.contains(r#""blocked":true"#),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_allow_never_beats_a_deny_rule_or_a_high_risk_approval() {
    let sb = platform();
    let allow = r#"echo '{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow", "permissionDecisionReason": "hook says fine"}}'"#;
    settings(
        &sb,
        json!({"PreToolUse": [{"hooks": [{"type": "command", "command": allow}]}]}),
    );
    // A production change still stops for approval.
    let server = FakeModelServer::start(vec![scale_prod(), text("never")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "scale prod"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(result_of(&out)["outcome"], "approval_required");
    // A deny rule still refuses.
    let server = FakeModelServer::start(vec![scale_dev(), text("ok")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--disallowed-tools",
            "Edit",
            "scale dev",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(tool_reply(&server, 1, "e1").contains("permission denied"));
    // But it answers an `ask` (Bash without a rule needs a person; the hook stands in).
    let server = FakeModelServer::start(vec![
        calls(&[("b1", "Bash", r#"{"command": "echo hello-from-bash"}"#)]),
        text("ok"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "say hello"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(tool_reply(&server, 1, "b1").contains("hello-from-bash"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_stop_and_post_tool_use_hooks() {
    let sb = platform();
    settings(
        &sb,
        json!({
            "UserPromptSubmit": [{"hooks": [{"type": "command",
                "command": "if grep -q 'delete prod' ; then echo 'not from an agent' >&2; exit 2; fi; echo 'Context: change window is open.'"}]}],
            "Stop": [{"hooks": [{"type": "command",
                "command": "if grep -q '\"stop_hook_active\":false'; then echo 'run validate before you finish' >&2; exit 2; fi"}]}],
            "PostToolUse": [{"matcher": "Read", "hooks": [{"type": "command",
                "command": "echo '{\"decision\": \"block\", \"reason\": \"this file is generated; edit the template\"}'"}]}]
        }),
    );
    // A refused prompt: no model call at all, exit 3.
    let server = FakeModelServer::start(vec![text("never")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "please delete prod"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let result = result_of(&out);
    assert_eq!(result["stop"]["kind"], "hook");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("not from an agent")
    );
    assert!(server.requests().is_empty());

    // Context is added to the prompt; a Stop hook sends the agent back once; PostToolUse
    // feedback reaches the model with the result.
    let server = FakeModelServer::start(vec![
        calls(&[(
            "r1",
            "Read",
            r#"{"file_path": "apps/web/overlays/dev/replicas.yaml"}"#,
        )]),
        text("Done."),
        text("Validated, done."),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "check dev"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let first_user = reqs[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        first_user.contains("Context: change window is open."),
        "{first_user}"
    );
    let read = tool_reply(&server, 1, "r1");
    assert!(read.contains("replicas: 1"), "{read}");
    assert!(
        read.contains("[PostToolUse hook] this file is generated; edit the template"),
        "{read}"
    );
    let last = reqs[2].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["content"],
        "[Stop hook] run validate before you finish"
    );
    assert_eq!(result_of(&out)["result"], "Validated, done.");
}
