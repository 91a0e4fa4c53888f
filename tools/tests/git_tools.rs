//! The git tools on real repositories (libgit2), cross-checked with the `git` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_testkit::git;
use agentops_tools::{ToolContext, ToolRegistry};
use serde_json::{Value, json};
use std::path::Path;

struct Repo {
    _tmp: tempfile::TempDir,
    ctx: ToolContext,
    tools: ToolRegistry,
}

impl Repo {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.name", "Alice"]);
        git(&root, &["config", "user.email", "alice@example.com"]);
        std::fs::create_dir_all(root.join("apps/web")).unwrap();
        std::fs::write(
            root.join("apps/web/deployment.yaml"),
            "kind: Deployment\nreplicas: 2\n",
        )
        .unwrap();
        std::fs::write(
            root.join("apps/web/secret.yaml"),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n",
        )
        .unwrap();
        git(&root, &["add", "."]);
        git(&root, &["commit", "-q", "-m", "feat(web): first"]);
        Self {
            _tmp: tmp,
            ctx: ToolContext {
                cwd: root.clone(),
                root,
                timeout: std::time::Duration::from_secs(10),
                session_id: "run-abc".into(),
                agent: "platform-reviewer".into(),
                kubeconfig: Default::default(),
                argocd: None,
                sandbox: None,
                secrets: Default::default(),
            },
            tools: ToolRegistry::builtin(),
        }
    }

    fn root(&self) -> &Path {
        &self.ctx.root
    }

    async fn call(&self, name: &str, input: Value) -> (bool, String) {
        let out = self.tools.get(name).unwrap().run(input, &self.ctx).await;
        (out.is_error, out.content)
    }
}

#[tokio::test]
async fn status_diff_log_and_blame_describe_the_repository() {
    let r = Repo::new();
    std::fs::write(
        r.root().join("apps/web/deployment.yaml"),
        "kind: Deployment\nreplicas: 5\n",
    )
    .unwrap();
    std::fs::write(r.root().join("apps/web/new.yaml"), "kind: ConfigMap\n").unwrap();
    let (err, status) = r.call("git_status", json!({})).await;
    assert!(!err, "{status}");
    assert!(status.starts_with("branch main at "), "{status}");
    assert!(
        status.contains("unstaged:\n  M apps/web/deployment.yaml"),
        "{status}"
    );
    assert!(
        status.contains("untracked:\n  ? apps/web/new.yaml"),
        "{status}"
    );

    let (_, diff) = r
        .call("git_diff", json!({"path": "apps/web/deployment.yaml"}))
        .await;
    assert!(diff.contains("-replicas: 2\n+replicas: 5\n"), "{diff}");
    assert!(
        !diff.contains("new.yaml"),
        "pathspec limits the diff: {diff}"
    );

    let (_, log) = r.call("git_log", json!({"path": "apps/web"})).await;
    assert!(
        log.contains("Alice <alice@example.com> feat(web): first"),
        "{log}"
    );
    let (_, none) = r.call("git_log", json!({"path": "apps/db"})).await;
    assert_eq!(none, "no matching commits\n");

    let (_, blame) = r
        .call(
            "git_blame",
            json!({"file_path": "apps/web/deployment.yaml"}),
        )
        .await;
    let lines: Vec<&str> = blame.lines().collect();
    assert!(
        lines[0].contains("(Alice 20") && lines[0].ends_with("1: kind: Deployment"),
        "{blame}"
    );
    assert!(lines[1].starts_with("00000000 (not committed"), "{blame}");
}

#[tokio::test]
async fn secret_manifests_never_show_their_values() {
    let r = Repo::new();
    std::fs::write(
        r.root().join("apps/web/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: correct-horse\n",
    )
    .unwrap();
    let (_, diff) = r.call("git_diff", json!({})).await;
    assert!(
        !diff.contains("hunter2") && !diff.contains("correct-horse"),
        "{diff}"
    );
    assert!(
        diff.contains("diff of apps/web/secret.yaml hidden"),
        "{diff}"
    );
    let (_, blame) = r
        .call("git_blame", json!({"file_path": "apps/web/secret.yaml"}))
        .await;
    assert!(
        !blame.contains("correct-horse") && blame.contains("content hidden"),
        "{blame}"
    );
}

#[tokio::test]
async fn commits_are_conventional_and_carry_agentops_trailers() {
    let r = Repo::new();
    std::fs::write(
        r.root().join("apps/web/deployment.yaml"),
        "kind: Deployment\nreplicas: 3\n",
    )
    .unwrap();
    let (err, msg) = r.call("git_commit", json!({"message": "scaled web"})).await;
    assert!(
        err && msg.contains("not a conventional commit message"),
        "{msg}"
    );
    let (err, msg) = r
        .call("git_commit", json!({"message": "feat(web): three replicas for the sale\n\nTraffic doubles on Friday."}))
        .await;
    assert!(!err, "{msg}");
    assert!(
        msg.starts_with("committed ") && msg.contains("(1 file(s))"),
        "{msg}"
    );
    // The real git CLI reads the trailers.
    let trailers = git(
        r.root(),
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Agentops-Session,key=Agentops-Agent)",
        ],
    );
    assert_eq!(
        trailers.trim(),
        "Agentops-Session: run-abc\nAgentops-Agent: platform-reviewer"
    );
    assert_eq!(git(r.root(), &["status", "--porcelain"]), "");
    let (err, msg) = r
        .call("git_commit", json!({"message": "fix: nothing"}))
        .await;
    assert!(err && msg.contains("nothing to commit"), "{msg}");
    // Paths limit what is committed.
    std::fs::write(r.root().join("a.yaml"), "a: 1\n").unwrap();
    std::fs::write(r.root().join("b.yaml"), "b: 1\n").unwrap();
    let (err, msg) = r
        .call(
            "git_commit",
            json!({"message": "chore: a only", "paths": ["a.yaml"]}),
        )
        .await;
    assert!(!err, "{msg}");
    assert_eq!(git(r.root(), &["status", "--porcelain"]), "?? b.yaml\n");
    let (err, msg) = r
        .call(
            "git_commit",
            json!({"message": "chore: x", "paths": ["../outside"]}),
        )
        .await;
    assert!(err && msg.contains("outside the repository"), "{msg}");
}

#[test]
fn head_exports_the_committed_files() {
    let r = Repo::new();
    std::fs::write(r.root().join("apps/web/deployment.yaml"), "changed\n").unwrap();
    let dest = tempfile::tempdir().unwrap();
    assert!(agentops_tools::git::export_head(r.root(), dest.path()).unwrap());
    assert_eq!(
        std::fs::read_to_string(dest.path().join("apps/web/deployment.yaml")).unwrap(),
        "kind: Deployment\nreplicas: 2\n"
    );
}

#[tokio::test]
async fn blame_survives_uncommitted_middle_lines_deleted_lines_and_binary_files() {
    let r = Repo::new();
    let file = r.root().join("apps/web/config.yaml");
    let committed: String = (1..=9).map(|i| format!("line{i}: {i}\n")).collect();
    std::fs::write(&file, &committed).unwrap();
    git(r.root(), &["add", "."]);
    git(r.root(), &["commit", "-q", "-m", "feat(web): config"]);
    // A changed line in the middle, and two lines deleted further down.
    let edited = committed
        .replace("line5: 5\n", "line5: five\n")
        .replace("line7: 7\nline8: 8\n", "");
    std::fs::write(&file, &edited).unwrap();
    let (failed, blame) = r
        .call("git_blame", json!({"file_path": "apps/web/config.yaml"}))
        .await;
    assert!(!failed, "{blame}");
    let lines: Vec<&str> = blame.lines().collect();
    assert_eq!(lines.len(), 7, "{blame}");
    assert!(lines[0].contains("(Alice "), "{blame}");
    assert!(lines[4].starts_with("00000000 (not committed"), "{blame}");
    assert!(
        lines[5].contains("(Alice ") && lines[5].ends_with("line6: 6"),
        "{blame}"
    );

    // A binary file is an error for the model, not a crash.
    std::fs::write(
        r.root().join("apps/web/logo.png"),
        [0x89, 0x50, 0xff, 0xfe, 0x00],
    )
    .unwrap();
    git(r.root(), &["add", "."]);
    git(r.root(), &["commit", "-q", "-m", "feat(web): logo"]);
    let (failed, text) = r
        .call("git_blame", json!({"file_path": "apps/web/logo.png"}))
        .await;
    assert!(failed, "{text}");
}
