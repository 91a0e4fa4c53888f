//! Settings layers, trust, `--bare`, `--tools`, `--setting-sources`, `--settings`, managed
//! settings and plugins, on a copy of the bundled example against a **fake** model: what the
//! model is offered and what a call is allowed to do are read from the real requests and the
//! real result object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use common::{Sandbox, calls, copy_dir, result_of, run_with, stderr, stdout, text};
use serde_json::Value;
use std::path::Path;

/// An untrusted copy of examples/platform whose repository settings allow Write and Bash and
/// set an `env` variable.
fn untrusted() -> Sandbox {
    let sb = Sandbox::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &sb.repo(),
    );
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Write", "Bash"]}, "env": {"TEAM_NAME": "platform-team"}}"#,
    );
    sb
}

fn write_note() -> agentops_testkit::Reply {
    calls(&[(
        "w1",
        "Write",
        r#"{"file_path": "docs/note.md", "content": "hello\n"}"#,
    )])
}

async fn run(
    sb: &Sandbox,
    first: agentops_testkit::Reply,
    extra: &[&str],
) -> (Value, String, FakeModelServer) {
    let server = FakeModelServer::start(vec![first, text("done")]).await;
    let mut args = vec![
        "run",
        "--output-format",
        "json",
        "--agent",
        "general-purpose",
    ];
    args.extend_from_slice(extra);
    args.push("go");
    let out = run_with(sb, &server, &args);
    (result_of(&out), stderr(&out), server)
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_repository_s_allow_rules_wait_for_trust() {
    let sb = untrusted();
    let (result, err, _) = run(&sb, write_note(), &[]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(!sb.repo().join("docs/note.md").exists());
    assert!(
        err.contains("this repository is not trusted") && err.contains("(Write, Bash)"),
        "{err}"
    );
    let reason = result["permission_denials"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("agentops trust"), "{reason}");

    // --trust-repo applies them for one run.
    let (result, err, _) = run(&sb, write_note(), &["--trust-repo"]).await;
    assert_eq!(result["exit_code"], 0, "{result}\n{err}");
    assert!(!err.contains("not trusted"), "{err}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join("docs/note.md")).unwrap(),
        "hello\n"
    );
    std::fs::remove_file(sb.repo().join("docs/note.md")).unwrap();

    // `agentops trust` keeps it, outside the repository; --revoke takes it back.
    let agentops = |args: &[&str]| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("agentops"))
            .current_dir(sb.repo())
            .env("HOME", sb.home())
            .args(args)
            .output()
            .unwrap()
    };
    let out = agentops(&["trust"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is trusted now") && stdout(&out).contains("(Write, Bash)"),
        "{}",
        stdout(&out)
    );
    assert!(sb.home().join(".config/agentops/trusted.json").is_file());
    assert!(
        stdout(&agentops(&["trust", "--list"]))
            .contains(&*sb.repo().canonicalize().unwrap().to_string_lossy())
    );
    let (result, _, _) = run(&sb, write_note(), &[]).await;
    assert_eq!(result["exit_code"], 0, "{result}");
    assert!(stdout(&agentops(&["trust", "--revoke"])).contains("no longer trusted"));
    std::fs::remove_file(sb.repo().join("docs/note.md")).unwrap();
    let (result, _, _) = run(&sb, write_note(), &[]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_command_s_allowed_tools_are_not_applied() {
    let sb = untrusted();
    sb.write(".claude/settings.local.json", "{}");
    sb.write(
        ".claude/commands/note.md",
        "---\ndescription: Write a note\nallowed-tools: Write\nagent: general-purpose\n---\nWrite a note.\n",
    );
    let server = FakeModelServer::start(vec![write_note(), text("done")]).await;
    let out = run_with(&sb, &server, &["run", "--output-format", "json", "/note"]);
    let result = result_of(&out);
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(
        stderr(&out).contains("the allowed-tools and hooks of /note"),
        "{}",
        stderr(&out)
    );
    let server = FakeModelServer::start(vec![write_note(), text("done")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "--trust-repo", "/note"],
    );
    assert_eq!(result_of(&out)["exit_code"], 0, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_rule_names_warn_and_allow_nothing() {
    let sb = untrusted();
    let (result, err, _) = run(&sb, write_note(), &["--allowed-tools", "*"]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(err.contains("`*`") && err.contains("not applied"), "{err}");
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"deny": ["Raed(./apps/**)"]}, "permisions": {}}"#,
    );
    let (_, err, _) = run(&sb, text("hi"), &["--trust-repo"]).await;
    assert!(
        err.contains("rule `Raed(./apps/**)` names no tool agentops knows"),
        "{err}"
    );
    assert!(err.contains("`permisions` is not a settings key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_restricts_what_exists_and_bare_loads_no_customisation() {
    let sb = untrusted();
    let (_, _, server) = run(&sb, text("hi"), &["--tools", "Read,Grep"]).await;
    let body = &server.requests()[0].body;
    assert_eq!(tool_names(body), ["Read", "Grep"]);

    let (_, _, server) = run(&sb, text("hi"), &[]).await;
    let body = server.requests()[0].body.to_string();
    assert!(
        body.contains("# Platform repository"),
        "memory is loaded normally"
    );
    let (result, err, server) = run(&sb, text("hi"), &["--bare"]).await;
    assert_eq!(result["exit_code"], 0, "{err}");
    let body = server.requests()[0].body.to_string();
    assert!(
        !body.contains("# Platform repository"),
        "no CLAUDE.md with --bare"
    );
    assert!(!tool_names(&server.requests()[0].body).contains(&"Skill".to_string()));
    assert!(!err.contains("not trusted"), "{err}");
    // The repository's agents are not there either.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("agentops"))
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .args(["--bare", "agents", "list", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["source"].as_str())
        .collect();
    assert!(
        !sources.is_empty() && sources.iter().all(|s| *s == "builtin"),
        "{sources:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_sources_cli_settings_and_managed_settings_are_layers() {
    let sb = untrusted();
    sb.trust();
    // Only the user's settings: the repository's allow rule is not read.
    let (result, _, _) = run(&sb, write_note(), &["--setting-sources", "user"]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
    // --settings adds a layer: its deny wins over the repository's allow.
    let (result, _, _) = run(
        &sb,
        write_note(),
        &[
            "--settings",
            r#"{"permissions": {"deny": ["Write(./docs/**)"]}}"#,
        ],
    )
    .await;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(
        result["permission_denials"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("--settings")
    );
    // Managed settings apply even with --bare.
    let managed = sb.home().join("managed.json");
    std::fs::write(&managed, r#"{"permissions": {"deny": ["Read"]}}"#).unwrap();
    let server = FakeModelServer::start(vec![
        calls(&[("r1", "Read", r#"{"file_path": "CLAUDE.md"}"#)]),
        text("done"),
    ])
    .await;
    let out = common::model_cmd(
        &sb,
        &server,
        &[
            "--bare",
            "run",
            "--output-format",
            "json",
            "--agent",
            "general-purpose",
            "go",
        ],
    )
    .env("AGENTOPS_MANAGED_SETTINGS", &managed)
    .stdin(std::process::Stdio::null())
    .output()
    .unwrap();
    let result = result_of(&out);
    let reason = result["permission_denials"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("managed.json"), "{result}");
    let setting_sources = run_with(
        &sb,
        &server,
        &["--setting-sources", "users", "agents", "list"],
    );
    assert_eq!(setting_sources.status.code(), Some(2));
    assert!(stderr(&setting_sources).contains("use a comma list of user, project, local"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_env_reaches_the_shell_only_when_trusted() {
    let sb = untrusted();
    let echo = || calls(&[("b1", "Bash", r#"{"command": "echo team=$TEAM_NAME"}"#)]);
    let (result, _, server) = run(&sb, echo(), &["--trust-repo"]).await;
    assert_eq!(result["exit_code"], 0, "{result}");
    let told = server.requests()[1].body.to_string();
    assert!(told.contains("team=platform-team"), "{told}");
    // Untrusted: Bash itself is not allowed, so nothing runs.
    let (result, _, _) = run(&sb, echo(), &[]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_s_commands_are_namespaced_and_a_broken_one_is_reported() {
    let sb = untrusted();
    sb.write(
        ".claude/plugins/ops/.claude-plugin/plugin.json",
        r#"{"name": "ops-tools", "description": "Ops helpers"}"#,
    );
    sb.write(
        ".claude/plugins/ops/commands/where.md",
        "---\ndescription: Where is a value set\nagent: general-purpose\n---\nFind where $1 is set in every overlay.\n",
    );
    sb.write(
        ".claude/plugins/broken/.claude-plugin/plugin.json",
        r#"{"name": "broken", "agents": 7}"#,
    );
    let server = FakeModelServer::start(vec![text("it is set in base")]).await;
    let out = run_with(&sb, &server, &["run", "/ops-tools:where", "replicas"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let body = server.requests()[0].body.to_string();
    assert!(
        body.contains("Find where replicas is set in every overlay."),
        "{body}"
    );
    assert!(
        stderr(&out).contains(
            "plugins/broken/.claude-plugin/plugin.json: `agents` must be a path or a list of paths"
        ),
        "{}",
        stderr(&out)
    );
    // The plain name resolves when it is unique.
    let server = FakeModelServer::start(vec![text("ok")]).await;
    let out = run_with(&sb, &server, &["run", "/where", "image"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn lint_checks_plugins_skills_memory_rules_and_settings() {
    let sb = untrusted();
    sb.write(
        ".claude/plugins/bad/.claude-plugin/plugin.json",
        r#"{"name": "bad", "skills": 1}"#,
    );
    sb.write(
        ".claude/plugins/good/.claude-plugin/plugin.json",
        r#"{"name": "good", "colour": "red"}"#,
    );
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"allow": ["Bassh"]}}"#,
    );
    sb.write("CLAUDE.md", "# Notes\nSee @docs/missing.md\n");
    sb.write(
        ".claude/skills/broken/SKILL.md",
        "---\ndescription: [unclosed\nuser-invocable: maybe\n---\nBody\n",
    );
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("agentops"))
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .args(["lint"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for expected in [
        "plugins/bad/.claude-plugin/plugin.json",
        "`skills` must be a path or a list of paths",
        "`colour` is not a plugin manifest field",
        "rule `Bassh` names no tool agentops knows",
        "docs/missing.md",
        ".claude/skills/broken/SKILL.md",
        "2 skill(s)",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mode_accept_edits_applies_from_the_user_but_not_from_an_untrusted_repo() {
    // The untrusted repository asks for acceptEdits itself: not applied.
    let sb = untrusted();
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"defaultMode": "acceptEdits"}}"#,
    );
    let (result, _, _) = run(&sb, write_note(), &[]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(!sb.repo().join("docs/note.md").exists());

    // The user's own settings may: Write is accepted, Bash still is not.
    sb.write_home(
        ".claude/settings.json",
        r#"{"permissions": {"defaultMode": "acceptEdits"}}"#,
    );
    let (result, err, _) = run(&sb, write_note(), &[]).await;
    assert_eq!(result["exit_code"], 0, "{result}\n{err}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join("docs/note.md")).unwrap(),
        "hello\n"
    );
    let bash = calls(&[("b1", "Bash", r#"{"command": "touch made-by-bash"}"#)]);
    let (result, _, _) = run(&sb, bash, &[]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(!sb.repo().join("made-by-bash").exists());

    // An explicit ask rule still asks in acceptEdits.
    sb.write_home(
        ".claude/settings.json",
        r#"{"permissions": {"defaultMode": "acceptEdits", "ask": ["Write(./docs/**)"]}}"#,
    );
    std::fs::remove_file(sb.repo().join("docs/note.md")).unwrap();
    let (result, _, _) = run(&sb, write_note(), &[]).await;
    assert_eq!(result["exit_code"], 3, "{result}");
    assert!(!sb.repo().join("docs/note.md").exists());
}
