//! Discovery and precedence: project > user > builtin, nearest project folder first,
//! shadowed definitions reported; namespaced commands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, json, stderr, stdout};

fn agent(name: &str, description: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: {description}\ntools: Read, Grep\nmodel: haiku\n---\nYou are {name}.\n"
    )
}

#[test]
fn project_beats_user_beats_builtin_and_shadows_are_reported() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/agents/deployer.md",
        agent("deployer", "project deployer"),
    );
    sb.write_home(
        ".claude/agents/deployer.md",
        agent("deployer", "user deployer"),
    );
    sb.write_home(".claude/agents/helper.md", agent("helper", "user helper"));
    sb.write(
        ".claude/agents/general.md",
        agent("general-purpose", "my own main agent"),
    );

    let out = sb.run(&["agents", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json(&out);
    // The platform pack's builtin agents are listed too; this test is about the others.
    let rows: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["name"].as_str().unwrap().starts_with("infrastructure-"))
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["source"].as_str().unwrap().to_string(),
                a["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "deployer".into(),
                "project".into(),
                "project deployer".into()
            ),
            (
                "general-purpose".into(),
                "project".into(),
                "my own main agent".into()
            ),
            ("helper".into(), "user".into(), "user helper".into()),
        ]
    );
    let deployer = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "deployer")
        .unwrap();
    assert_eq!(deployer["tools"], serde_json::json!(["Read", "Grep"]));
    assert_eq!(deployer["model"], "haiku");
    assert_eq!(deployer["shadows"][0]["source"], "user");
    let general = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "general-purpose")
        .unwrap();
    assert_eq!(general["shadows"][0]["source"], "builtin");

    let text = stdout(&sb.run(&["agents", "list"]));
    assert!(text.contains("↳ shadows user"), "{text}");
    assert!(
        text.contains("↳ shadows builtin builtin/agents/general-purpose.md"),
        "{text}"
    );
}

#[test]
fn nearest_project_folder_wins_up_to_the_repo_root() {
    let sb = Sandbox::new();
    sb.write(".claude/agents/a.md", agent("a", "root"));
    sb.write("apps/web/.claude/agents/a.md", agent("a", "nested"));
    let out = common::agentops(
        &sb.repo().join("apps/web"),
        &sb.home(),
        &["agents", "show", "a", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let a = json(&out);
    assert_eq!(a["description"], "nested");
    assert!(
        a["shadows"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("repo/.claude/agents/a.md")
    );
}

#[test]
fn agents_show_text_has_fields_warnings_and_prompt() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/agents/legacy.md",
        "---\nname: legacy\ndescription: old style\ntools: Task, LS\ncategory: x\n---\nPrompt body.\n",
    );
    let out = sb.run(&["agents", "show", "legacy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("tools:       Agent, Glob"), "{text}");
    assert!(
        text.contains("legacy.md:4: warning: `tools`: legacy tool name `Task` is read as `Agent`"),
        "{text}"
    );
    assert!(
        text.contains("legacy.md:5: warning: unknown key `category`"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("Prompt body."), "{text}");

    let out = sb.run(&["agents", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no agent named `nope`; available:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn namespaced_commands_resolve_by_full_or_unique_plain_name() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/frontend/component.md",
        "Make component $1\n",
    );
    sb.write(".claude/commands/ops/deploy.md", "Deploy $1\n");
    sb.write(".claude/commands/backend/deploy.md", "Backend deploy $1\n");

    let list = json(&sb.run(&["commands", "list", "--json", "--source", "project"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["backend:deploy", "frontend:component", "ops:deploy"]
    );

    let out = sb.run(&["commands", "render", "component", "Button"]);
    assert_eq!(stdout(&out), "Make component Button\n");
    let out = sb.run(&["commands", "render", "frontend:component", "Nav"]);
    assert_eq!(stdout(&out), "Make component Nav\n");

    let out = sb.run(&["commands", "render", "deploy", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/deploy is ambiguous: it could be /backend:deploy or /ops:deploy"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["commands", "render", "deplo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean"), "{}", stderr(&out));
}

#[test]
fn command_routing_to_an_agent_is_listed() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/audit.md",
        "---\ndescription: audit\nagent: auditor\n---\nAudit $ARGUMENTS\n",
    );
    sb.write(
        ".claude/commands/fork.md",
        "---\ndescription: forked\ncontext: fork\n---\nGo\n",
    );
    let list = json(&sb.run(&["commands", "list", "--json", "--source", "project"]));
    assert_eq!(list[0]["name"], "audit");
    assert_eq!(list[0]["agent"], "auditor");
    assert_eq!(list[1]["agent"], "general-purpose");
    let text = stdout(&sb.run(&["commands", "list"]));
    assert!(text.contains("→ @auditor"), "{text}");
}

#[test]
fn builtins_are_available_everywhere() {
    let sb = Sandbox::new();
    let agents = json(&sb.run(&["agents", "list", "--json"]));
    assert_eq!(agents[0]["name"], "general-purpose");
    assert_eq!(agents[0]["source"], "builtin");
    let commands = json(&sb.run(&["commands", "list", "--json"]));
    assert!(
        commands
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "explain")
    );
}
