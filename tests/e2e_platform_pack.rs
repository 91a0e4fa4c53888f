//! The platform pack end to end with a **fake** model server (scripted replies) and the real
//! gates (`kubectl kustomize`), approvals, session log and git: `/infrastructure-create`
//! scaffolds a PostgreSQL StatefulSet, stops for approval (exit 3), and a later
//! `--resume --approve` makes the change, validates it and commits it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use agentops_testkit::git;
use common::{calls, platform, result_of, run_with, stderr, text};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infrastructure_create_is_gated_stops_for_the_statefulset_and_commits_after_approval() {
    let sb = platform();
    let repo = sb.repo();
    std::fs::remove_dir_all(repo.join(".git")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Platform Bot"]);
    git(&repo, &["config", "user.email", "bot@example.com"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "chore: the platform repo"]);

    // Day 1: the agent asks for the scaffold; the StatefulSet (and prod) need approval.
    let create =
        json!({"app": "orders-db", "namespace": "orders", "template": "postgres-statefulset"});
    let server = FakeModelServer::start(vec![
        calls(&[("c1", "create_app", &create.to_string())]),
        text("never"),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "/infrastructure-create",
            "orders-db",
            "orders",
            "postgres-statefulset",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let day1 = result_of(&out);
    assert_eq!(day1["outcome"], "approval_required");
    let pending = &day1["pending_approvals"][0];
    assert_eq!(pending["tool"], "create_app");
    assert_eq!(pending["agent"], "infrastructure-create");
    let reasons = pending.to_string();
    assert!(
        reasons.contains("a StatefulSet always needs approval"),
        "{reasons}"
    );
    assert!(
        !repo.join("apps/orders-db").exists(),
        "nothing written before approval"
    );
    // The command ran as its agent, offered the pack's tools.
    let offered: Vec<String> = server.requests()[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        offered.contains(&"create_app".to_string()) && offered.contains(&"git_commit".to_string()),
        "{offered:?}"
    );
    let system = server.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("You create new applications"), "{system}");

    // Day 2: approved by rules; the pending scaffold is made, validated, committed.
    let session = day1["session_id"].as_str().unwrap().to_string();
    let commit = json!({"message": "feat(apps): add orders-db (postgres-statefulset) for dev, staging, prod"});
    let server = FakeModelServer::start(vec![
        calls(&[("v1", "validate", r#"{"app": "orders-db"}"#)]),
        calls(&[("g1", "git_commit", &commit.to_string())]),
        text("Created orders-db: base, 3 overlays, 3 Argo CD Applications; committed."),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--resume",
            &session,
            "--approve",
            "kind=StatefulSet",
            "--approve",
            "kind=NetworkPolicy",
            "--approve",
            "env=prod",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let day2 = result_of(&out);
    assert_eq!(day2["outcome"], "success", "{day2}");
    let outcomes: Vec<&str> = day2["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["written", "committed"]);
    // What the model was told about the pending change.
    let first = server.requests()[0].body["messages"]
        .as_array()
        .unwrap()
        .clone();
    let told = first.last().unwrap()["content"].as_str().unwrap();
    assert!(
        told.contains("(create_app") && told.contains("): done"),
        "{told}"
    );

    // The commit holds the scaffold, with the session's trailers, and the tree is clean.
    let log = git(&repo, &["log", "-1", "--format=%s%n%b"]);
    assert!(log.starts_with("feat(apps): add orders-db"), "{log}");
    assert!(
        log.contains(&format!("Agentops-Session: {session}")),
        "{log}"
    );
    assert!(
        log.contains("Agentops-Agent: infrastructure-create"),
        "{log}"
    );
    let files = git(&repo, &["show", "--name-only", "--format=", "HEAD"]);
    assert!(
        files.contains("apps/orders-db/base/statefulset.yaml"),
        "{files}"
    );
    assert!(files.contains("argocd/prod/orders-db-prod.yaml"), "{files}");
    assert_eq!(
        git(&repo, &["status", "--porcelain", "--", "apps", "argocd"]),
        ""
    );
    let out = sb.run(&["validate", "--app", "orders-db"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lessons_an_agent_records_come_back_as_its_checklist_next_time() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        calls(&[(
            "l1",
            "learn",
            r#"{"lesson": "The prod overlay of web pins its image tag in kustomization.yaml, not the patch.", "kind": "convention"}"#,
        )]),
        text("Noted."),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--agent",
            "infrastructure-harmonize",
            "how is the web tag set in prod?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The model only proposes: nothing reaches later instructions until a person accepts it.
    assert!(!sb.repo().join(".agentops/learnings.md").exists());
    let out = sb.run(&["learnings", "review"]);
    assert!(
        common::stdout(&out).contains("infrastructure-harmonize convention: The prod overlay"),
        "{}",
        common::stdout(&out)
    );
    let out = sb.run(&["learnings", "review", "--accept-all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = std::fs::read_to_string(sb.repo().join(".agentops/learnings.md")).unwrap();
    assert!(
        file.contains("## infrastructure-harmonize\n- [ ] "),
        "{file}"
    );
    assert!(
        file.contains("convention: The prod overlay of web pins its image tag"),
        "{file}"
    );
    // The team can commit it: the state folder's .gitignore lets it through.
    let ignore = std::fs::read_to_string(sb.repo().join(".agentops/.gitignore")).unwrap();
    assert!(ignore.contains("!learnings.md"), "{ignore}");

    // Next time the same agent runs, the lesson is in its instructions; another agent's are not.
    let server = FakeModelServer::start(vec![text("ok"), text("ok")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--agent",
            "infrastructure-harmonize",
            "set web replicas to 3",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let system = server.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("# Learnings from earlier runs in this repository"),
        "{system}"
    );
    assert!(
        system.contains("pins its image tag in kustomization.yaml"),
        "{system}"
    );
    let out = run_with(
        &sb,
        &server,
        &["run", "--agent", "infrastructure-create", "hi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let system = server.requests()[1].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!system.contains("Learnings from earlier runs"), "{system}");
}
