//! Production is known from facts, not guessed from folder names: the Argo CD Application
//! that deploys an overlay, an Application's destination after an edit, words in names.

use crate::common::{calls, platform, result_of, run_with, stderr, text};
use agentops_testkit::FakeModelServer;
use serde_json::json;

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  labels:\n    app.kubernetes.io/name: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: shop\n  template:\n    metadata:\n      labels:\n        app: shop\n        app.kubernetes.io/name: shop\n    spec:\n      containers:\n        - name: shop\n          image: registry.example.com/storefront/shop:1.0.0\n          resources:\n            limits:\n              cpu: 100m\n              memory: 128Mi\n";

async fn edit(sb: &crate::common::Sandbox, path: &str, old: &str, new: &str) -> serde_json::Value {
    let args = json!({"file_path": path, "old_string": old, "new_string": new});
    let server = FakeModelServer::start(vec![
        calls(&[("c1", "Edit", &args.to_string())]),
        text("done"),
    ])
    .await;
    let out = run_with(
        sb,
        &server,
        &["run", "--output-format", "json", "change it"],
    );
    let result = result_of(&out);
    assert_eq!(
        out.status.code(),
        result["exit_code"].as_i64().map(|c| c as i32),
        "{}",
        stderr(&out)
    );
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlay_the_prod_application_deploys_is_production_whatever_its_folder() {
    let sb = platform();
    sb.write("apps/shop/envs/live/deployment.yaml", DEPLOYMENT);
    sb.write(
        "apps/shop/envs/live/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    sb.write(
        "argocd/prod/shop.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/platform.git\n    targetRevision: main\n    path: apps/shop/envs/live\n  destination:\n    server: https://prod.k8s.example.com\n    namespace: shop-production\n",
    );
    let path = "apps/shop/envs/live/deployment.yaml";
    let before = std::fs::read_to_string(sb.repo().join(path)).unwrap();
    let result = edit(&sb, path, "replicas: 2", "replicas: 3").await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(path)).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonprod_application_pointed_at_production_is_production() {
    let sb = platform();
    let path = "argocd/nonprod/web-dev.yaml";
    let before = std::fs::read_to_string(sb.repo().join(path)).unwrap();
    let result = edit(&sb, path, "namespace: web-dev", "namespace: web-prod").await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(path)).unwrap(),
        before
    );
}
