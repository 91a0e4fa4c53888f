//! `agentops create` with no model, on a copy of examples/platform with real
//! `kubectl kustomize`: the files (snapshot), the gates and approvals around them, and that
//! every environment builds and validates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{platform, stderr, stdout};

#[test]
fn create_demo_passes_validate_and_builds_in_every_environment() {
    let sb = platform();
    let args = ["create", "demo", "--namespace", "demo"];
    // NetworkPolicies and prod are high risk: without approval nothing is written (exit 3).
    let out = sb.run(&args);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!sb.repo().join("apps/demo").exists());
    assert!(
        stderr(&out).contains("--approve id=apr-"),
        "{}",
        stderr(&out)
    );

    let mut approved = args.to_vec();
    approved.extend([
        "--approve",
        "kind=NetworkPolicy",
        "--approve",
        "env=prod",
        "--format",
        "json",
    ]);
    let out = sb.run(&approved);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = common::json(&out);
    assert_eq!(report["outcome"], "written");
    // Conventions come from the repository's own Argo CD Applications.
    assert_eq!(
        report["conventions"]["repo_url"],
        "https://git.example.com/platform/infrastructure.git"
    );
    assert_eq!(report["conventions"]["project"], "platform");
    let files: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(files.len(), 15);

    // Snapshot of every file created.
    let mut all = String::new();
    for f in &files {
        all.push_str(&format!(
            "=== {f}\n{}",
            std::fs::read_to_string(sb.repo().join(f)).unwrap()
        ));
    }
    insta::assert_snapshot!("create_demo_web_service", all);

    // Every gate passes on the whole repository afterwards.
    let out = sb.run(&["validate", "--app", "demo", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v = common::json(&out);
    assert_eq!(v["summary"]["overlays"], 4);
    assert_eq!(v["summary"]["errors"], 0);
    assert_eq!(v["summary"]["warnings"], 0);
    let out = sb.run(&["validate", "argocd"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // kubectl kustomize builds every environment, with the environment's namespace and size.
    for (env, replicas) in [("dev", 1), ("staging", 2), ("prod", 3)] {
        let dir = sb.repo().join(format!("apps/demo/overlays/{env}"));
        let out = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{env}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = String::from_utf8_lossy(&out.stdout);
        assert!(yaml.contains(&format!("namespace: demo-{env}")), "{yaml}");
        assert!(yaml.contains(&format!("replicas: {replicas}")), "{yaml}");
        assert!(yaml.contains("kind: NetworkPolicy"), "{yaml}");
    }

    // Never over an existing app.
    let out = sb.run(&approved);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("apps/demo exists already"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn templates_are_listed_and_a_statefulset_template_needs_its_own_approval() {
    let sb = platform();
    let out = sb.run(&["create", "--list-templates"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("postgres-statefulset"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("web-service"), "{}", stdout(&out));
    // Approving NetworkPolicies and prod is not enough for a StatefulSet.
    let out = sb.run(&[
        "create",
        "orders-db",
        "--namespace",
        "orders",
        "--template",
        "postgres-statefulset",
        "--approve",
        "kind=NetworkPolicy",
        "--approve",
        "env=prod",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report = common::json(&out);
    assert_eq!(report["outcome"], "approval_required");
    assert!(!sb.repo().join("apps/orders-db").exists());
    let out = sb.run(&[
        "create",
        "orders-db",
        "--namespace",
        "orders",
        "--template",
        "postgres-statefulset",
        "--approve",
        "kind=NetworkPolicy",
        "--approve",
        "kind=StatefulSet",
        "--approve",
        "env=prod",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let storage =
        std::fs::read_to_string(sb.repo().join("apps/orders-db/overlays/prod/storage.yaml"))
            .unwrap();
    assert!(storage.contains("value: 50Gi"), "{storage}");
    let out = sb.run(&["validate", "--app", "orders-db"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
