//! Loading definitions: discovery + parsing of 1,000 generated agent and command files
//! (goal: < 100 ms), and expansion of one command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_commands::{Arguments, ExpandOptions, NoShell};
use criterion::{Criterion, criterion_group, criterion_main};
use std::fs;
use std::hint::black_box;
use std::path::Path;

/// Writes 500 agents and 500 commands shaped like the real corpus: long descriptions, tool
/// lists with rules, a few kilobytes of prompt, some needing the lenient YAML fallback.
fn generate(root: &Path) {
    fs::create_dir_all(root.join(".git")).unwrap();
    let body = "## Role\n\nYou keep the platform healthy. Check overlays, render them, compare environments.\n\n".repeat(30);
    for i in 0..500 {
        let dir = root.join(format!(".claude/agents/team{}", i % 10));
        fs::create_dir_all(&dir).unwrap();
        let description = if i % 5 == 0 {
            // Unquoted `: ` — strict YAML rejects it, the fallback reads it.
            format!("Use when: agent {i} is needed. Triggers on: drift, overlays")
        } else {
            format!("\"Agent {i} for Kubernetes overlays, Argo CD applications and drift checks\"")
        };
        fs::write(
            dir.join(format!("agent-{i}.md")),
            format!("---\nname: agent-{i}\ndescription: {description}\ntools: Read, Grep, Glob, Bash(kubectl get:*), Task\nmodel: sonnet\ncolor: blue\n---\n{body}"),
        )
        .unwrap();
    }
    for i in 0..500 {
        let dir = root.join(format!(".claude/commands/ns{}", i % 10));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(format!("cmd-{i}.md")),
            format!("---\ndescription: Command {i}\nargument-hint: [app] [env]\nallowed-tools: Bash(git diff:*), Read\n---\nRun for $1 in $2.\n{body}"),
        )
        .unwrap();
    }
}

fn bench_load(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    generate(&root);
    let home = root.join("no-home");
    let agents = agentops_agents::discover(&root, Some(&home));
    let commands = agentops_commands::discover(&root, Some(&home));
    assert_eq!(agents.items.len(), 501, "500 generated + 1 builtin");
    assert_eq!(commands.items.len(), 501, "500 generated + 1 builtin");

    c.bench_function("discover_and_parse_1000_definitions", |b| {
        b.iter(|| {
            let agents = agentops_agents::discover(black_box(&root), Some(&home));
            let commands = agentops_commands::discover(black_box(&root), Some(&home));
            black_box((agents.items.len(), commands.items.len()))
        })
    });

    let cmd = commands.get("ns3:cmd-3").unwrap();
    let options = ExpandOptions {
        positional_base: 1,
        root: root.clone(),
        cwd: root.clone(),
        session_id: None,
    };
    let args = Arguments::parse("web prod");
    c.bench_function("expand_command", |b| {
        b.iter(|| agentops_commands::expand(black_box(cmd), &args, &options, &NoShell).unwrap())
    });
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
