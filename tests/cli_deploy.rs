//! `agentops deploy` against the **fake** Kubernetes API server of agentops-testkit (its
//! controller finishes rollouts, or stalls them on demand) with real `kubectl kustomize`:
//! promotion approvals, resume where it stopped, and rollback on a failed verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::kube::FakeKubeServer;
use common::{Sandbox, platform, stderr};

async fn cluster_for(sb: &Sandbox) -> FakeKubeServer {
    let cluster = FakeKubeServer::start().await;
    let kubeconfig = cluster.kubeconfig(&sb.home(), "fake");
    sb.write(
        "agentops.toml",
        format!("[kubernetes]\nkubeconfig = \"{}\"\n", kubeconfig.display()),
    );
    cluster
}

fn replicas(cluster: &FakeKubeServer, ns: &str) -> Option<u64> {
    cluster
        .get("apps/v1", "Deployment", ns, "web")
        .and_then(|d| d["spec"]["replicas"].as_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_needs_approval_and_the_rollout_resumes_where_it_stopped() {
    let sb = platform();
    let cluster = cluster_for(&sb).await;
    let base = [
        "deploy",
        "web",
        "--envs",
        "dev,staging",
        "--context",
        "dev=fake",
        "--context",
        "staging=fake",
        "--format",
        "json",
        // A first deploy creates NetworkPolicies: high risk, approved by rule here.
        "--approve",
        "kind=NetworkPolicy",
    ];
    // dev deploys and verifies; staging is a promotion: nobody approved it → exit 3.
    let out = sb.run(&base);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let r = common::json(&out);
    assert_eq!(r["outcome"], "approval_required");
    assert_eq!(
        r["deploy"]["done"],
        serde_json::json!(["dev"]),
        "{}",
        stderr(&out)
    );
    assert_eq!(r["deploy"]["stopped_at"], "staging");
    let reasons = r["deploy"]["pending"]["units"].to_string();
    assert!(
        reasons.contains("promotes web from dev to staging"),
        "{reasons}"
    );
    assert_eq!(replicas(&cluster, "web-dev"), Some(1));
    assert_eq!(replicas(&cluster, "web-staging"), None, "staging untouched");

    // The next day: resume the session with the promotion approved; dev is not redone.
    let requests_before = cluster.requests().len();
    let session = r["session_id"].as_str().unwrap().to_string();
    let mut resume: Vec<&str> = base.to_vec();
    resume.extend([
        "--resume",
        &session,
        "--approve",
        "reason=promotion,env=staging",
    ]);
    let out = sb.run(&resume);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = common::json(&out);
    assert_eq!(r["outcome"], "deployed");
    assert_eq!(r["deploy"]["done"], serde_json::json!(["dev", "staging"]));
    assert_eq!(r["session_id"], session.as_str());
    assert_eq!(replicas(&cluster, "web-staging"), Some(2));
    let dev_patches = cluster
        .requests()
        .iter()
        .skip(requests_before)
        .filter(|q| q.method == "PATCH" && q.path().contains("/namespaces/web-dev/"))
        .count();
    assert_eq!(dev_patches, 0, "dev was verified before: not applied again");
    // Every step is in the session log.
    let log = std::fs::read_to_string(
        sb.repo()
            .join(format!(".agentops/sessions/{session}.jsonl")),
    )
    .unwrap();
    for step in [
        "\"step\":\"validate\"",
        "\"step\":\"plan\"",
        "\"step\":\"approve\"",
        "\"step\":\"apply\"",
        "\"step\":\"verify\"",
    ] {
        assert!(log.contains(step), "{step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_does_not_finish_is_rolled_back() {
    let sb = platform();
    let cluster = cluster_for(&sb).await;
    let deploy = [
        "deploy",
        "web",
        "--envs",
        "dev",
        "--context",
        "dev=fake",
        "--rollout-timeout",
        "2",
        "--format",
        "json",
        "--approve",
        "kind=NetworkPolicy",
    ];
    let out = sb.run(&deploy);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(replicas(&cluster, "web-dev"), Some(1));
    // A change whose rollout never completes.
    let file = sb.repo().join("apps/web/overlays/dev/replicas.yaml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("replicas: 1", "replicas: 4");
    std::fs::write(&file, text).unwrap();
    cluster.stall_rollouts();
    let out = sb.run(&deploy);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = common::json(&out);
    assert_eq!(r["outcome"], "rolled_back");
    let detail = r["deploy"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("did not finish rolling out within 2s"),
        "{detail}"
    );
    assert!(
        detail.contains("Deployment/web-dev/web restored"),
        "{detail}"
    );
    assert_eq!(
        replicas(&cluster, "web-dev"),
        Some(1),
        "back to what ran before"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlays_argo_cd_manages_are_synced_through_it_and_verified_by_its_health() {
    use agentops_testkit::argocd::{FakeArgoCd, Managed};
    use serde_json::json;
    let sb = platform();
    let argo = FakeArgoCd::start("test-token").await;
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web-dev"}, "spec": {"replicas": 1}});
    let mut live = target.clone();
    live["spec"]["replicas"] = json!(3);
    argo.add_app(
        "web-dev",
        "nonprod",
        "dev",
        vec![Managed {
            target: Some(target),
            live: Some(live),
        }],
    );
    sb.write(
        "agentops.toml",
        format!(
            "[argocd]\nserver = \"{}\"\ntoken_env = \"DEPLOY_TEST_ARGO_TOKEN\"\n",
            argo.url()
        ),
    );
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("agentops"))
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .env("DEPLOY_TEST_ARGO_TOKEN", "test-token")
        .env_remove("ARGOCD_SERVER")
        .args(["deploy", "web", "--envs", "dev", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&out),
        stderr(&out)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["outcome"], "deployed", "{r:#}");
    // No kube context was needed: the Application argocd/nonprod/web-dev.yaml deploys the
    // overlay, so it was synced through Argo CD, and its status is now Synced and Healthy.
    assert!(
        argo.requests()
            .iter()
            .any(|q| q.method == "POST" && q.path().ends_with("/applications/web-dev/sync")),
        "no sync request"
    );
    assert_eq!(
        argo.app("web-dev").unwrap()["status"]["sync"]["status"],
        "Synced"
    );
}
