//! `agentops commands render`: the exact prompt a command expands to, with real shell
//! pre-execution and real files; failures name the file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, json, stderr, stdout};

const FIXTURE: &str = "---
description: Fixture for expansion
argument-hint: <first> <second>
---
All: $ARGUMENTS
First: $1 Second: $2
Shell: !`echo hi`
File: @notes/hello.txt
Money: \\$5, not an argument: $0
";

#[test]
fn render_expands_arguments_shell_and_files_exactly() {
    let sb = Sandbox::new();
    sb.write(".claude/commands/fixture.md", FIXTURE);
    sb.write("notes/hello.txt", "hello from a file\n");
    let out = sb.run(&["commands", "render", "fixture", "alpha", "beta gamma"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "All: alpha \"beta gamma\"
First: alpha Second: beta gamma
Shell: hi
File: <file path=\"notes/hello.txt\">
hello from a file
</file>
Money: $5, not an argument: $0
"
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn render_json_reports_snippets_and_files() {
    let sb = Sandbox::new();
    sb.write(".claude/commands/fixture.md", FIXTURE);
    sb.write("notes/hello.txt", "hello from a file\n");
    let out = sb.run(&["commands", "render", "/fixture", "--json", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["name"], "fixture");
    assert_eq!(v["shell"][0]["line"], 7);
    assert_eq!(v["shell"][0]["command"], "echo hi");
    assert_eq!(v["inlined"][0], "notes/hello.txt");
    // $2 was not given: empty, with a warning naming the line and the usage.
    assert_eq!(v["warnings"][0]["code"], "missing-argument");
    assert_eq!(v["warnings"][0]["line"], 6);
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/fixture <first> <second>")
    );
    assert!(
        v["prompt"]
            .as_str()
            .unwrap()
            .contains("First: a Second: \n")
    );
}

#[test]
fn failing_shell_snippet_aborts_with_file_and_line() {
    let sb = Sandbox::new();
    let path = sb.write(
        ".claude/commands/broken.md",
        "---\ndescription: broken\n---\nBefore\n\nStatus: !`false`\n",
    );
    let out = sb.run(&["commands", "render", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "no partial prompt is printed");
    let err = stderr(&out);
    let canonical = path.canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "{}:6: `false` failed (exit code 1)",
            canonical.display()
        )),
        "{err}"
    );
}

#[test]
fn failing_bang_block_names_its_opening_line_and_stderr() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/block.md",
        "Context:\n```!\necho partial\necho oops >&2\nexit 4\n```\n",
    );
    let out = sb.run(&["commands", "render", "block"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("block.md:2: "), "{err}");
    assert!(err.contains("exit code 4"), "{err}");
    assert!(err.contains("oops"), "{err}");
}

#[test]
fn bang_block_output_replaces_the_block() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/block.md",
        "Context:\n```!\necho one\necho two\n```\nEnd $ARGUMENTS\n",
    );
    let out = sb.run(&["commands", "render", "block", "x"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Context:\none\ntwo\nEnd x\n");
}

#[test]
fn prose_exclamation_marks_do_not_run_anything() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/prose.md",
        "Look for `npm ERR!`, `pip failed` and wow!`rm -rf x` in the log.\n",
    );
    let out = sb.run(&["commands", "render", "prose"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Look for `npm ERR!`, `pip failed` and wow!`rm -rf x` in the log.\n"
    );
}

#[test]
fn shell_output_is_not_scanned_again() {
    let sb = Sandbox::new();
    sb.write("secret.txt", "inlined?\n");
    sb.write(
        ".claude/commands/once.md",
        "Out: !`printf '@secret.txt and !\\x60echo nested\\x60 and %s' $1`\n",
    );
    let out = sb.run(&["commands", "render", "once", "ARG"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // $1 inside the snippet was substituted before it ran; its output is copied verbatim.
    assert_eq!(
        stdout(&out),
        "Out: @secret.txt and !`echo nested` and ARG\n"
    );
}

#[test]
fn arguments_line_is_appended_when_no_placeholder() {
    let sb = Sandbox::new();
    sb.write(".claude/commands/plain.md", "Check the cluster.\n");
    let out = sb.run(&["commands", "render", "plain", "--app", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Check the cluster.\n\nARGUMENTS: --app web\n");
}

#[test]
fn named_arguments_and_zero_based_positionals_from_config() {
    let sb = Sandbox::new();
    sb.write("agentops.toml", "[commands]\npositional_base = 0\n");
    sb.write(
        ".claude/commands/deploy.md",
        "---\narguments: [app, env]\n---\nDeploy $app to $env ($0/$1, all: $ARGUMENTS[1])\n",
    );
    let out = sb.run(&["commands", "render", "deploy", "web", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Deploy web to prod (web/prod, all: prod)\n");
}

#[test]
fn at_paths_outside_the_repo_are_refused() {
    let sb = Sandbox::new();
    std::fs::write(sb.dir.path().join("outside.txt"), "TOP SECRET").unwrap();
    sb.write(".claude/commands/leak.md", "Read @../outside.txt please\n");
    let out = sb.run(&["commands", "render", "leak"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Read @../outside.txt please\n");
    assert!(!stdout(&out).contains("TOP SECRET"));
    assert!(
        stderr(&out).contains("resolves outside the repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn shell_snippet_timeout_is_reported() {
    let sb = Sandbox::new();
    sb.write("agentops.toml", "[commands]\nshell_timeout_secs = 1\n");
    sb.write(".claude/commands/slow.md", "Wait: !`sleep 20`\n");
    let started = std::time::Instant::now();
    let out = sb.run(&["commands", "render", "slow"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("slow.md:1: `sleep 20` failed (timed out)"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[test]
fn config_errors_exit_2_with_file_and_line() {
    let sb = Sandbox::new();
    sb.write("agentops.toml", "[commands]\npositional_bse = 0\n");
    let out = sb.run(&["commands", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("agentops.toml:2: unknown field `positional_bse`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn readme_main_job_renders_the_example_overlay() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform");
    let home = tempfile::tempdir().unwrap();
    let out = common::agentops(
        &repo,
        home.path(),
        &["commands", "render", "review-overlay", "web", "prod"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // Real `kubectl kustomize` output: the prod overlay's namespace, replicas and image tag.
    assert!(text.contains("namespace: web-prod"), "{text}");
    assert!(text.contains("replicas: 4"), "{text}");
    assert!(
        text.contains("image: registry.example.com/storefront/web:1.8.2"),
        "{text}"
    );
    assert!(
        text.contains(
            "<file path=\"examples/platform/apps/web/overlays/prod/kustomization.yaml\">"
        ),
        "{text}"
    );
}

#[test]
fn secrets_in_inlined_files_and_snippet_output_are_redacted() {
    let sb = Sandbox::new();
    sb.write(
        "apps/db/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-hunter2\n",
    );
    sb.write(
        ".claude/commands/show.md",
        "File:\n@apps/db/secret.yaml\nShell:\n!`cat apps/db/secret.yaml`\n",
    );
    let out = sb.run(&["commands", "render", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(text.matches("password: <redacted>").count(), 2, "{text}");
}
