//! Skills (`.claude/skills/<name>/SKILL.md`) on the bundled example, against a **fake** model:
//! listed to the model by name and description, loaded only when the model calls `Skill`,
//! governed by `Skill(name)` rules, and never a way to run shell snippets with the model's
//! arguments. As slash commands they expand like command files and win over one of the same
//! name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use common::{calls, platform, run_with, stderr, stdout, text};
use serde_json::Value;

const BODY_ONLY: &str = "List every field whose value differs";

fn skill_tool(body: &Value) -> Option<Value> {
    body["tools"]
        .as_array()?
        .iter()
        .find(|t| t["function"]["name"] == "Skill")
        .cloned()
}

fn last_tool_result(body: &Value) -> String {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_sees_names_and_the_body_loads_only_when_called() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        calls(&[(
            "s1",
            "Skill",
            r#"{"skill": "overlay-diff", "args": "web dev prod"}"#,
        )]),
        text("replicas differ: 1 → 4"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "general-purpose",
            "how do web dev and prod differ?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.requests();
    let first = &requests[0].body;
    let tool = skill_tool(first).expect("the Skill tool is offered");
    let description = tool["function"]["description"].as_str().unwrap();
    assert!(
        description.contains("- overlay-diff: Compare one app's rendered manifests")
            && description.contains("Use when: someone asks how two environments"),
        "{description}"
    );
    assert!(
        !first.to_string().contains(BODY_ONLY),
        "the body is not in the first request"
    );
    let result = last_tool_result(&requests[1].body);
    assert!(
        result.starts_with("Base directory for this skill: .claude/skills/overlay-diff"),
        "{result}"
    );
    assert!(
        result.contains("Compare `web` between `dev` and `prod`"),
        "{result}"
    );
    assert!(result.contains(BODY_ONLY), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skill_rules_deny_and_a_model_invoked_skill_runs_no_shell() {
    let sb = platform();
    sb.write(
        ".claude/skills/cleanup/SKILL.md",
        "---\ndescription: Tidy the repository\n---\nRun this first: !`touch pwned-$1`\nThen report.\n",
    );
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"deny": ["Skill(overlay-diff)"]}}"#,
    );
    let server = FakeModelServer::start(vec![
        calls(&[("s1", "Skill", r#"{"skill": "overlay-diff"}"#)]),
        calls(&[(
            "s2",
            "Skill",
            r#"{"skill": "cleanup", "args": "x; touch pwned-too"}"#,
        )]),
        calls(&[("s3", "Skill", r#"{"skill": "nope"}"#)]),
        text("done"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--agent", "general-purpose", "tidy up"],
    );
    let requests = server.requests();
    let denied = last_tool_result(&requests[1].body);
    assert!(
        denied.contains("denied by `Skill(overlay-diff)`"),
        "{denied}"
    );
    let cleanup = last_tool_result(&requests[2].body);
    assert!(
        cleanup.contains("[not run when the model invokes a skill: `touch pwned-x;`"),
        "{cleanup}"
    );
    let entries: Vec<String> = std::fs::read_dir(sb.repo())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !entries.iter().any(|n| n.starts_with("pwned")),
        "{entries:?}"
    );
    let unknown = last_tool_result(&requests[3].body);
    assert!(
        unknown.contains("no skill named `nope`; the skills are: cleanup, overlay-diff"),
        "{unknown}"
    );
    // The deny was recorded as a refusal.
    assert!(stdout(&out).contains("done"), "{}", stdout(&out));
}

#[test]
fn as_slash_commands_skills_expand_win_and_can_be_hidden() {
    let sb = platform();
    sb.write(
        ".claude/commands/overlay-diff.md",
        "---\ndescription: the old command\n---\nOLD COMMAND $ARGUMENTS\n",
    );
    sb.write(
        ".claude/skills/platform/rollout/SKILL.md",
        "---\ndescription: Roll out\nuser-invocable: no\n---\nSkill dir ${CLAUDE_SKILL_DIR}, app $1\n",
    );
    sb.write(".claude/skills/platform/rollout/notes.md", "not a skill\n");
    let render = common::agentops(
        &sb.repo(),
        &sb.home(),
        &["commands", "render", "overlay-diff", "web", "dev", "prod"],
    );
    assert_eq!(render.status.code(), Some(0), "{}", stderr(&render));
    assert!(stdout(&render).contains("Compare `web` between `dev` and `prod`"));
    assert!(!stdout(&render).contains("OLD COMMAND"));

    let list = common::agentops(&sb.repo(), &sb.home(), &["commands", "list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout(&list)).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"platform:rollout"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("notes")), "{names:?}");

    let hidden = common::agentops(
        &sb.repo(),
        &sb.home(),
        &["commands", "render", "platform:rollout", "web"],
    );
    assert_eq!(hidden.status.code(), Some(2), "{}", stdout(&hidden));
    assert!(
        stderr(&hidden).contains("only the model may use"),
        "{}",
        stderr(&hidden)
    );
}
