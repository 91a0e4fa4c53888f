//! Rules judge the real operation (issue "Unskippable gates, part 2"): resolved paths, rule
//! families, approval rules that answer only what they name, commits of unapproved content.

use crate::common::{Sandbox, calls, platform, result_of, run_with, stderr, text};
use agentops_testkit::{FakeModelServer, git};
use serde_json::{Value, json};

fn call(name: &str, args: Value) -> agentops_testkit::Reply {
    calls(&[("c1", name, &args.to_string())])
}

fn with_settings(settings: &str) -> Sandbox {
    let sb = platform();
    sb.write(".claude/settings.local.json", settings);
    sb
}

async fn run(sb: &Sandbox, first: agentops_testkit::Reply, extra: &[&str]) -> (Value, Value) {
    let server = FakeModelServer::start(vec![first, text("done")]).await;
    let mut args = vec!["run", "--output-format", "json"];
    args.extend_from_slice(extra);
    args.push("go");
    let out = run_with(sb, &server, &args);
    let told = server
        .requests()
        .get(1)
        .map(|r| r.body["messages"].clone())
        .unwrap_or(Value::Null);
    let result = result_of(&out);
    assert_eq!(
        out.status.code(),
        result["exit_code"].as_i64().map(|c| c as i32),
        "{}",
        stderr(&out)
    );
    (result, told)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_rule_does_not_reach_through_a_symlink() {
    let sb = with_settings(r#"{"permissions": {"allow": ["Write(./apps/**)"]}}"#);
    std::os::unix::fs::symlink("../.claude", sb.repo().join("apps/cfg")).unwrap();
    let before = std::fs::read_to_string(sb.repo().join(".claude/settings.local.json")).unwrap();
    let write = json!({"file_path": "apps/cfg/settings.local.json", "content": "{\"permissions\": {\"allow\": [\"Bash\"]}}"});
    let (result, _) = run(&sb, call("Write", write), &["--approve", "reason=control"]).await;
    assert_eq!(result["outcome"], "denied", "{result:#}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(".claude/settings.local.json")).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_deny_covers_grep_blame_and_symlinks() {
    let canary = "canary-7f3e9a1c";
    for (tool, args) in [
        ("Grep", json!({"pattern": "canary", "path": "."})),
        ("git_blame", json!({"file_path": "secrets/db.txt"})),
        ("Read", json!({"file_path": "docs/s/db.txt"})),
        ("kustomize_build", json!({"path": "secrets"})),
        // find renders and shows every overlay: any Read deny in the repository covers it.
        ("find", json!({"query": "canary"})),
    ] {
        let sb = with_settings(r#"{"permissions": {"deny": ["Read(./secrets/**)"]}}"#);
        sb.write("secrets/db.txt", format!("password={canary}\n"));
        std::fs::create_dir_all(sb.repo().join("docs")).unwrap();
        std::os::unix::fs::symlink("../secrets", sb.repo().join("docs/s")).unwrap();
        let (result, told) = run(&sb, call(tool, args.clone()), &[]).await;
        assert_eq!(result["outcome"], "denied", "{tool}: {result:#}");
        assert!(
            !told.to_string().contains(canary),
            "{tool} showed it: {told}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_deny_stops_write_of_the_same_file() {
    let sb = with_settings(
        r#"{"permissions": {"allow": ["Write", "Edit"], "deny": ["Edit(./argocd/**)"]}}"#,
    );
    let target = "argocd/prod/web-prod.yaml";
    let before = std::fs::read_to_string(sb.repo().join(target)).unwrap_or_default();
    let (result, _) = run(
        &sb,
        call(
            "Write",
            json!({"file_path": target, "content": "kind: Nothing\n"}),
        ),
        &[],
    )
    .await;
    assert_eq!(result["outcome"], "denied", "{result:#}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(target)).unwrap_or_default(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_rule_alone_does_not_approve_production() {
    let sb = platform();
    let path = "apps/web/base/networkpolicy.yaml";
    let before = std::fs::read_to_string(sb.repo().join(path)).unwrap();
    let edit = json!({"file_path": path, "old_string": "port: 8080", "new_string": "port: 9090"});
    let (result, _) = run(
        &sb,
        call("Edit", edit),
        &["--approve", "kind=NetworkPolicy"],
    )
    .await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(path)).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committing_unapproved_high_risk_content_asks_first() {
    let sb = platform();
    std::fs::remove_dir_all(sb.repo().join(".git")).unwrap();
    git(&sb.repo(), &["init", "-q", "-b", "main"]);
    git(&sb.repo(), &["add", "-A"]);
    git(&sb.repo(), &["commit", "-q", "-m", "feat: platform"]);
    let head = git(&sb.repo(), &["rev-parse", "HEAD"]);
    // A production change in the working tree that nobody approved (made outside agentops).
    let prod = sb.repo().join("apps/web/overlays/prod/replicas.yaml");
    let text = std::fs::read_to_string(&prod)
        .unwrap()
        .replace("replicas: 4", "replicas: 9");
    std::fs::write(&prod, text).unwrap();
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["git_commit"]}}"#,
    );
    let (result, _) = run(
        &sb,
        call("git_commit", json!({"message": "chore: scale prod"})),
        &[],
    )
    .await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(git(&sb.repo(), &["rev-parse", "HEAD"]), head, "committed");
}

/// An `Edit(...)` deny rule covers a file whichever tool would change it: harmonize,
/// add_object and create_app plan their files and each is checked as an edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_change_tools_follow_edit_deny_rules() {
    let sb = platform();
    sb.write(
        ".claude/settings.json",
        r#"{"permissions": {"deny": ["Edit(./apps/prometheus/**)", "Write(./apps/web/overlays/dev/**)"]}}"#,
    );
    let retention = "apps/prometheus/overlays/dev/retention.yaml";
    let dev = "apps/web/overlays/dev/kustomization.yaml";
    let before: Vec<String> = [retention, dev]
        .iter()
        .map(|f| std::fs::read_to_string(sb.repo().join(f)).unwrap())
        .collect();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n";
    let server = FakeModelServer::start(vec![
        calls(&[(
            "h1",
            "harmonize",
            r#"{"set": "Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=1d", "env": ["dev"]}"#,
        )]),
        calls(&[(
            "a1",
            "add_object",
            &serde_json::json!({"path": "apps/web/overlays/dev", "manifest": manifest}).to_string(),
        )]),
        text("done"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--trust-repo",
            "--allowed-tools",
            "harmonize,add_object",
            "shorten retention",
        ],
    );
    assert_ne!(out.status.code(), Some(101));
    let told = server.requests()[2].body["messages"].to_string();
    assert!(
        told.contains(
            "harmonize would change apps/prometheus/overlays/dev/retention.yaml, and denied by"
        ),
        "{told}"
    );
    assert!(
        told.contains("add_object would change apps/web/overlays/dev/"),
        "{told}"
    );
    for (f, b) in [retention, dev].iter().zip(&before) {
        assert_eq!(
            &std::fs::read_to_string(sb.repo().join(f)).unwrap(),
            b,
            "{f}"
        );
    }
    assert!(
        !sb.repo()
            .join("apps/web/overlays/dev/configmap-extra.yaml")
            .exists()
    );
}
