//! `agentops init`: writes the platform pack into a repository and never overwrites a file the
//! user changed unless told to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, stderr};

#[test]
fn init_writes_the_pack_keeps_user_files_and_what_it_writes_loads_and_lints() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/validate-infra.md",
        "my own validate command\n",
    );
    let out = sb.run(&["init", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = common::json(&out);
    let status = |path: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in {report}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status(".claude/agents/infrastructure-create.md"), "created");
    assert_eq!(status(".claude/commands/deploy-infra.md"), "created");
    assert_eq!(
        status("templates/postgres-statefulset/base/statefulset.yaml"),
        "created"
    );
    assert_eq!(status("agentops.toml"), "created");
    assert_eq!(
        status(".claude/commands/validate-infra.md"),
        "kept (yours differs)"
    );
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(".claude/commands/validate-infra.md")).unwrap(),
        "my own validate command\n"
    );
    // What it wrote is valid: the files lint clean, agentops.toml loads, the agents are the
    // project's now, and the templates are the repository's.
    let out = sb.run(&["lint", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    let out = sb.run(&["agents", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let agents = common::json(&out);
    let create = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "infrastructure-create")
        .unwrap();
    assert_eq!(create["source"], "project");
    let out = sb.run(&["create", "--list-templates"]);
    assert!(
        common::stdout(&out).contains("postgres-statefulset     project"),
        "{}",
        common::stdout(&out)
    );

    // A second run changes nothing; --force puts the pack's version back.
    let out = sb.run(&["init", "--json"]);
    let again = common::json(&out);
    assert!(
        again["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] != "created")
    );
    let out = sb.run(&["init", "--force", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let forced =
        std::fs::read_to_string(sb.repo().join(".claude/commands/validate-infra.md")).unwrap();
    assert!(forced.contains("Run the `validate` tool"), "{forced}");
}
