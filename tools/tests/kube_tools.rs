//! The kube-backed tools against a **fake** Kubernetes API server (agentops-testkit) that
//! speaks the real wire protocol; real `kubectl` reads the same fake as a second client, and
//! real `kubectl kustomize` renders examples/platform.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_testkit::kube::FakeKubeServer;
use agentops_tools::{ToolContext, ToolRegistry};
use serde_json::{Value, json};
use std::path::Path;

struct Fixture {
    _tmp: tempfile::TempDir,
    server: FakeKubeServer,
    ctx: ToolContext,
    tools: ToolRegistry,
}

impl Fixture {
    async fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let server = FakeKubeServer::start().await;
        let kubeconfig = server.kubeconfig(tmp.path(), "fake-dev");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/platform")
            .canonicalize()
            .unwrap();
        Self {
            _tmp: tmp,
            server,
            ctx: ToolContext {
                cwd: root.clone(),
                root,
                timeout: std::time::Duration::from_secs(30),
                session_id: "run-1".into(),
                agent: "deployer".into(),
                kubeconfig: agentops_tools::kube::KubeconfigSource::File(kubeconfig),
                argocd: None,
                sandbox: None,
                secrets: Default::default(),
            },
            tools: ToolRegistry::builtin(),
        }
    }

    async fn call(&self, name: &str, input: Value) -> (bool, String) {
        let out = self.tools.get(name).unwrap().run(input, &self.ctx).await;
        (out.is_error, out.content)
    }
}

fn deployment(replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web-dev", "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.example.com/storefront/web:1.8.2"}]}}}})
}

#[tokio::test]
async fn get_uses_the_named_context_never_the_current_one() {
    let f = Fixture::new().await;
    f.server.insert(deployment(2), "kubectl-client-side-apply");
    let (err, text) = f
        .call(
            "kubectl_get",
            json!({"context": "fake-dev", "kind": "deploy", "name": "web", "namespace": "web-dev"}),
        )
        .await;
    assert!(!err, "{text}");
    assert!(
        text.starts_with("# managers: kubectl-client-side-apply (Update 2026-11-26T12:00:00Z)"),
        "{text}"
    );
    assert!(text.contains("replicas: 2"), "{text}");
    // The current context of the kubeconfig is a decoy on a closed port: naming no context,
    // or one that does not exist, is refused before any connection.
    let (err, text) = f
        .call("kubectl_get", json!({"context": "", "kind": "deploy"}))
        .await;
    assert!(
        err && text.contains("never falls back to the current context"),
        "{text}"
    );
    let (err, text) = f
        .call("kubectl_get", json!({"context": "prod", "kind": "deploy"}))
        .await;
    assert!(
        err && text
            .contains("context `prod` is not in the kubeconfig; contexts there: fake-dev, decoy"),
        "{text}"
    );
    let (err, text) = f
        .call("kubectl_get", json!({"context": "fake-dev", "kind": "deploy", "name": "nope", "namespace": "web-dev"}))
        .await;
    assert!(err && text.contains("Deployment nope not found"), "{text}");
}

#[tokio::test]
async fn secrets_read_from_the_cluster_are_redacted() {
    let f = Fixture::new().await;
    f.server.insert(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "web-dev"},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "hunter2"}}),
        "kubectl",
    );
    let (err, text) = f
        .call(
            "kubectl_get",
            json!({"context": "fake-dev", "kind": "secret", "namespace": "web-dev"}),
        )
        .await;
    assert!(!err, "{text}");
    assert!(
        !text.contains("aHVudGVyMg==") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(text.contains("password: <redacted>"), "{text}");
}

#[tokio::test]
async fn diff_is_a_server_side_dry_run_and_changes_nothing() {
    let f = Fixture::new().await;
    f.server.insert(deployment(5), "kubectl-edit");
    let before = f.server.objects().len();
    let (err, text) = f
        .call(
            "kubectl_diff",
            json!({"context": "fake-dev", "path": "apps/web/overlays/dev"}),
        )
        .await;
    assert!(!err, "{text}");
    assert!(text.contains("--- live/Deployment/web-dev/web"), "{text}");
    assert!(text.contains("-  replicas: 5\n+  replicas: 1"), "{text}");
    assert!(
        text.contains("+++ git/Service/web-dev/web"),
        "new objects show whole: {text}"
    );
    assert_eq!(f.server.objects().len(), before, "a dry run stores nothing");
    let patches: Vec<_> = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert!(!patches.is_empty());
    for p in patches {
        assert_eq!(p.query("dryRun").as_deref(), Some("All"), "{}", p.target);
        assert_eq!(
            p.query("fieldManager").as_deref(),
            Some("agentops/deployer")
        );
    }
}

// Multi-threaded: the blocking kubectl call must not stop the fake from serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_dry_runs_then_applies_with_agentops_as_field_manager() {
    let f = Fixture::new().await;
    let (err, text) = f
        .call(
            "kubectl_apply",
            json!({"context": "fake-dev", "path": "apps/web/overlays/dev"}),
        )
        .await;
    assert!(!err, "{text}");
    assert!(text.contains("Deployment/web-dev/web created"), "{text}");
    let live = f
        .server
        .get("apps/v1", "Deployment", "web-dev", "web")
        .unwrap();
    assert_eq!(live["spec"]["replicas"], 1);
    assert_eq!(
        live["metadata"]["managedFields"][0]["manager"],
        "agentops/deployer"
    );
    // Every object was dry-run before the first real apply.
    let patches: Vec<_> = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    let first_real = patches
        .iter()
        .position(|p| p.query("dryRun").is_none())
        .unwrap();
    assert_eq!(first_real, patches.len() / 2, "all dry runs come first");
    let (err, text) = f
        .call(
            "kubectl_apply",
            json!({"context": "fake-dev", "path": "apps/web/overlays/dev"}),
        )
        .await;
    assert!(
        !err && text.contains("Deployment/web-dev/web unchanged"),
        "{text}"
    );

    // Real kubectl, a second client of the same fake, sees what was applied.
    let out = std::process::Command::new("kubectl")
        .args(["--kubeconfig"])
        .arg(match &f.ctx.kubeconfig {
            agentops_tools::kube::KubeconfigSource::File(p) => p.clone(),
            other => panic!("the fixture names a file: {other:?}"),
        })
        .args([
            "--context",
            "fake-dev",
            "get",
            "deployment",
            "web",
            "-n",
            "web-dev",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["spec"]["replicas"], 1, "{seen}");
    assert_eq!(seen["metadata"]["uid"], live["metadata"]["uid"], "{seen}");
}

#[tokio::test]
async fn rollout_status_waits_and_times_out_with_the_last_status() {
    let f = Fixture::new().await;
    f.server.insert(deployment(3), "kubectl");
    let (err, text) = f
        .call("kubectl_rollout_status", json!({"context": "fake-dev", "kind": "Deployment", "name": "web", "namespace": "web-dev"}))
        .await;
    assert!(
        !err && text.contains("rolled out: generation 1/1, 3/3 updated, 3/3 available"),
        "{text}"
    );
    f.server.stall_rollouts();
    f.server.insert(deployment(4), "kubectl");
    let (err, text) = f
        .call("kubectl_rollout_status", json!({"context": "fake-dev", "kind": "deploy", "name": "web", "namespace": "web-dev", "timeout_secs": 1}))
        .await;
    assert!(
        err && text.contains("did not finish rolling out within 1s")
            && text.contains("0/4 available"),
        "{text}"
    );
}
