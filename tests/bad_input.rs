//! Bad input never panics: a directory, a binary file, invalid UTF-8, a 10 MB file and a
//! symlink loop each give a clear warning or error naming the file, and the good files
//! beside them still load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, json, stderr, stdout};

const GOOD: &str = "---\nname: good\ndescription: a good agent\n---\nBody\n";

fn lint_one(sb: &Sandbox, rel: &str) -> serde_json::Value {
    let out = sb.run(&["lint", "--json", rel]);
    json(&out)["files"][0].clone()
}

#[test]
fn a_directory_named_like_a_definition() {
    let sb = Sandbox::new();
    sb.write(".claude/agents/good.md", GOOD);
    std::fs::create_dir_all(sb.repo().join(".claude/agents/folder.md")).unwrap();
    let out = sb.run(&["agents", "list", "--json", "--source", "project"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    assert!(
        stderr(&out).contains("folder.md: warning: is a directory named like a markdown file"),
        "{}",
        stderr(&out)
    );

    // Linting the parent reports it; linting it directly scans it as the folder it is.
    let out = sb.run(&["lint", "--json", ".claude/agents"]);
    let report = json(&out);
    let folder = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("folder.md"))
        .unwrap();
    assert_eq!(folder["kind"], "skipped");
    assert_eq!(folder["warnings"][0]["code"], "is-directory");
    let f = lint_one(&sb, ".claude/agents/folder.md");
    assert_eq!(f["kind"], "skipped");
    assert_eq!(f["warnings"][0]["code"], "empty-folder");
}

#[test]
fn a_binary_file() {
    let sb = Sandbox::new();
    sb.write(".claude/agents/good.md", GOOD);
    sb.write(
        ".claude/agents/logo.md",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".as_slice(),
    );
    let out = sb.run(&["agents", "list", "--json", "--source", "project"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)[0]["name"], "good");
    assert!(
        stderr(&out).contains("logo.md: error: looks binary"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["lint", ".claude/agents"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "binary definitions are lint errors"
    );
    assert!(
        stdout(&out).contains("logo.md: error: looks binary (it contains NUL bytes)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn invalid_utf8() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/agents/latin1.md",
        b"---\nname: latin1\ndescription: caf\xe9 agent\n---\nBody\n".as_slice(),
    );
    let f = lint_one(&sb, ".claude/agents/latin1.md");
    assert_eq!(f["kind"], "agent");
    assert_eq!(f["name"], "latin1");
    assert_eq!(f["warnings"][0]["code"], "invalid-utf8");
    assert_eq!(f["warnings"][0]["line"], 3);
    let out = sb.run(&["agents", "show", "latin1", "--json"]);
    assert_eq!(json(&out)["description"], "caf\u{fffd} agent");
}

#[test]
fn a_ten_megabyte_file() {
    let sb = Sandbox::new();
    sb.write(".claude/agents/good.md", GOOD);
    let mut big = String::from("---\nname: big\ndescription: huge\n---\n");
    while big.len() < 10 * 1024 * 1024 {
        big.push_str("All work and no play makes a very long prompt.\n");
    }
    sb.write(".claude/agents/big.md", big);
    let out = sb.run(&["agents", "list", "--json", "--source", "project"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    assert!(
        stderr(&out).contains("big.md: error: is 10"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("over the 1048576-byte limit"),
        "{}",
        stderr(&out)
    );
    let f = lint_one(&sb, ".claude/agents/big.md");
    assert_eq!(f["errors"][0]["code"], "too-large");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop() {
    let sb = Sandbox::new();
    sb.write(".claude/agents/good.md", GOOD);
    let agents = sb.repo().join(".claude/agents");
    std::fs::create_dir_all(agents.join("nested")).unwrap();
    std::os::unix::fs::symlink(&agents, agents.join("nested/back")).unwrap();
    // And a link that points at itself.
    std::os::unix::fs::symlink(agents.join("self.md"), agents.join("self.md")).unwrap();
    let out = sb.run(&["agents", "list", "--json", "--source", "project"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    let err = stderr(&out);
    assert!(err.contains("symbolic link loop"), "{err}");
    assert!(err.contains("self.md"), "{err}");

    let out = sb.run(&["lint", "--json", ".claude/agents"]);
    let report = json(&out);
    assert_eq!(report["summary"]["agents"], 1);
    assert!(report["summary"]["warnings"].as_u64().unwrap() >= 1);
}

#[test]
fn malformed_frontmatter_is_read_leniently() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/agents/odd.md",
        "---\nname: odd\ndescription: Use when: things break: badly\ntools: [Read, Grep\n---\nBody\n",
    );
    let f = lint_one(&sb, ".claude/agents/odd.md");
    assert_eq!(f["kind"], "agent");
    assert_eq!(f["errors"].as_array().unwrap().len(), 0);
    assert_eq!(f["warnings"][0]["code"], "yaml-fallback");
    let out = sb.run(&["agents", "show", "odd", "--json"]);
    let a = json(&out);
    assert_eq!(a["description"], "Use when: things break: badly");
    assert_eq!(a["tools"][0]["name"], "Read");
    assert_eq!(a["tools"][1]["name"], "Grep");
}

#[test]
fn an_empty_definition_is_an_error() {
    let sb = Sandbox::new();
    sb.write(
        ".claude/commands/empty.md",
        "---\ndescription: nothing\n---\n\n",
    );
    let out = sb.run(&["lint"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("empty.md: error: command has no prompt body"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_path() {
    let sb = Sandbox::new();
    let out = sb.run(&["lint", "nope.md"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("nope.md: error: no such file or folder"),
        "{}",
        stdout(&out)
    );
}
