//! Memory files and rules on the bundled example, against a **fake** model: the main agent's
//! first request carries `CLAUDE.md` and what it imports (not its HTML comment), a rule with
//! `paths:` joins only once a matching file is read, and subagents do not get the memory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use common::{calls, platform, run_with, stderr, text};
use serde_json::Value;

fn system_of(body: &Value) -> String {
    body["messages"][0]["content"].as_str().unwrap().to_string()
}

fn tool_results(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_md_and_its_import_reach_the_main_agent_and_a_rule_joins_on_read() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        calls(&[(
            "r1",
            "Read",
            r#"{"file_path": "apps/web/overlays/dev/replicas.yaml"}"#,
        )]),
        calls(&[(
            "r2",
            "Read",
            r#"{"file_path": "apps/web/overlays/prod/replicas.yaml"}"#,
        )]),
        calls(&[(
            "r3",
            "Read",
            r#"{"file_path": "apps/web/overlays/prod/kustomization.yaml"}"#,
        )]),
        text("web runs 4 replicas in prod"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "general-purpose",
            "how many replicas in prod?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.requests();
    let system = system_of(&requests[0].body);
    assert!(system.contains("## CLAUDE.md"), "{system}");
    assert!(
        system.contains("Argo CD Applications for each cluster"),
        "{system}"
    );
    // The import, after the file that imports it.
    assert!(system.contains("## docs/conventions.md"), "{system}");
    assert!(system.find("## CLAUDE.md").unwrap() < system.find("## docs/conventions.md").unwrap());
    assert!(
        !system.contains("Notes for people only"),
        "comments are stripped: {system}"
    );
    // The prod rule is not memory: it waits for a prod file.
    assert!(!system.contains("keep at least 3 replicas"), "{system}");

    // After the dev Read: no rule. After the prod Read: the rule, once.
    let after_dev = tool_results(&requests[1].body);
    assert!(!after_dev[0].contains("[Rule"), "{after_dev:?}");
    let after_prod = tool_results(&requests[2].body);
    assert!(
        after_prod[1].contains(
            "[Rule .claude/rules/prod-overlays.md applies to apps/web/overlays/prod/replicas.yaml"
        ) && after_prod[1].contains("keep at least 3 replicas"),
        "{after_prod:?}"
    );
    let after_second_prod = tool_results(&requests[3].body);
    assert!(
        !after_second_prod[2].contains("[Rule"),
        "delivered once: {after_second_prod:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_does_not_get_the_memory() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        calls(&[(
            "a1",
            "Agent",
            r#"{"subagent_type": "platform-reviewer", "description": "review", "prompt": "review web prod"}"#,
        )]),
        text("looks fine"),
        text("done"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--agent", "general-purpose", "review web"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.requests();
    assert!(system_of(&requests[0].body).contains("## CLAUDE.md"));
    let sub = system_of(&requests[1].body);
    assert!(sub.starts_with("You review one application"), "{sub}");
    assert!(!sub.contains("## CLAUDE.md"), "{sub}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_import_is_a_warning_naming_the_file() {
    let sb = platform();
    sb.write("CLAUDE.md", "See @docs/nope.md\n");
    let server = FakeModelServer::start(vec![text("ok")]).await;
    let out = run_with(&sb, &server, &["run", "--agent", "general-purpose", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CLAUDE.md: import @docs/nope.md does not exist"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_imported_memory_never_reach_the_model() {
    let sb = platform();
    sb.write("CLAUDE.md", "Reference: @k/db.json and @k/flow.yaml\n");
    sb.write(
        "k/db.json",
        r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"conn": "MARK_S_JSON_value"}}"#,
    );
    sb.write(
        "k/flow.yaml",
        "{apiVersion: v1, kind: Secret, metadata: {name: f}, stringData: {conn: MARK_S_FLOW_value}}\n",
    );
    let server = FakeModelServer::start(vec![text("ok")]).await;
    let out = run_with(&sb, &server, &["run", "--agent", "general-purpose", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let body = server.requests()[0].body.to_string();
    assert!(body.contains("## k/db.json"), "the import is there");
    assert!(!body.contains("MARK_S_JSON_value"), "{body}");
    assert!(!body.contains("MARK_S_FLOW_value"), "{body}");
}
