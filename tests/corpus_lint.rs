//! `agentops lint` over the shared corpus of 150 real agent and command files written by
//! others: everything loads, nothing is an error, every file gets the kind its source says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{agentops, claude_md, json, stderr};
use std::collections::BTreeMap;

/// `owner/repo` + path → kind, from the corpus's SOURCES.tsv.
fn expected_kinds() -> BTreeMap<String, String> {
    let tsv = std::fs::read_to_string(claude_md().join("SOURCES.tsv")).unwrap();
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let folder = cols[0].replace('/', "__");
            (format!("{folder}/{}", cols[2]), cols[4].to_string())
        })
        .collect()
}

#[test]
fn lint_loads_all_150_corpus_files_without_errors() {
    let corpus = claude_md();
    let home = tempfile::tempdir().unwrap();
    let out = agentops(&corpus, home.path(), &["lint", ".", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let summary = &report["summary"];
    assert_eq!(summary["files"], 150, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    assert_eq!(summary["skipped"], 0, "{summary}");
    assert_eq!(summary["agents"], 73);
    assert_eq!(summary["commands"], 77);
    // Warnings are expected (legacy tool names, unknown keys, invalid YAML read leniently).
    assert!(summary["warnings"].as_u64().unwrap() > 0);

    let expected = expected_kinds();
    assert_eq!(expected.len(), 150);
    for file in report["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap().trim_start_matches("./");
        let want = expected
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in SOURCES.tsv"));
        assert_eq!(file["kind"], want.as_str(), "{path}");
        assert!(
            file["name"].as_str().is_some_and(|n| !n.is_empty()),
            "{path}"
        );
        for w in file["warnings"].as_array().unwrap() {
            assert!(w["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
}

#[test]
fn lint_text_names_file_and_line() {
    let corpus = claude_md();
    let home = tempfile::tempdir().unwrap();
    let out = agentops(
        &corpus,
        home.path(),
        &[
            "lint",
            "VoltAgent__awesome-claude-code-subagents/categories/04-quality-security/gdpr-ccpa-compliance.md",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = common::stdout(&out);
    assert!(
        text.contains("gdpr-ccpa-compliance.md:3: warning: frontmatter is not valid YAML"),
        "{text}"
    );
    assert!(
        text.contains("1 file(s): 1 agent(s), 0 command(s)"),
        "{text}"
    );
}

#[test]
fn seed_platform_pack_lists_three_agents_and_two_commands() {
    let seed = claude_md().join("boshu2__12-factor-agentops/examples/platform-engineering");
    let home = tempfile::tempdir().unwrap();
    let out = agentops(
        &seed,
        home.path(),
        &["agents", "list", "--json", "--source", "project"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let agents = json(&out);
    let names: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "infrastructure-create",
            "infrastructure-drift",
            "infrastructure-harmonize"
        ]
    );

    let out = agentops(
        &seed,
        home.path(),
        &["commands", "list", "--json", "--source", "project"],
    );
    let commands = json(&out);
    let names: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deploy-infra", "validate-infra"]);

    // Without the filter the builtins are listed too, after the project's.
    let out = agentops(&seed, home.path(), &["agents", "list", "--json"]);
    let all = json(&out);
    let last = all.as_array().unwrap().last().unwrap();
    assert_eq!(last["source"], "builtin");
}
