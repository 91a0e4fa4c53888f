//! Production is known from facts, not guessed from folder names: the Argo CD Application
//! that deploys an overlay, an Application's destination after an edit, words in names.

use crate::common::{calls, platform, scripted_run, text};
use serde_json::json;

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  labels:\n    app.kubernetes.io/name: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: shop\n  template:\n    metadata:\n      labels:\n        app: shop\n        app.kubernetes.io/name: shop\n    spec:\n      containers:\n        - name: shop\n          image: registry.example.com/storefront/shop:1.0.0\n          resources:\n            limits:\n              cpu: 100m\n              memory: 128Mi\n";

async fn edit(sb: &crate::common::Sandbox, path: &str, old: &str, new: &str) -> serde_json::Value {
    let args = json!({"file_path": path, "old_string": old, "new_string": new});
    let replies = vec![calls(&[("c1", "Edit", &args.to_string())]), text("done")];
    scripted_run(sb, replies, &["change it"]).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_what_an_application_deploys_is_its_own_reason() {
    // Pointing the dev Application at the prod overlay: not production by any name in it,
    // but it changes what it deploys. Broad rules do not answer it.
    let sb = platform();
    let path = "argocd/nonprod/web-dev.yaml";
    let before = std::fs::read_to_string(sb.repo().join(path)).unwrap();
    let args = json!({"file_path": path, "old_string": "path: apps/web/overlays/dev", "new_string": "path: apps/web/overlays/staging"});
    let edit = || vec![calls(&[("c1", "Edit", &args.to_string())]), text("done")];
    let broad = [
        "--approve",
        "path=argocd/**",
        "--approve",
        "env=dev",
        "repoint it",
    ];
    let result = scripted_run(&sb, edit(), &broad).await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    let reasons = result["pending_approvals"][0]["units"][0]["reasons"].to_string();
    assert!(reasons.contains("\"destination\""), "{reasons}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(path)).unwrap(),
        before
    );
    // `reason=destination` answers it.
    let result = scripted_run(
        &sb,
        edit(),
        &["--approve", "reason=destination", "repoint it"],
    )
    .await;
    assert_eq!(result["outcome"], "success", "{result:#}");
    assert!(
        std::fs::read_to_string(sb.repo().join(path))
            .unwrap()
            .contains("overlays/staging")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environments_table_and_flux_kustomizations_place_overlays() {
    // `apps/shop/live` says nothing by its name; a Flux Kustomization kept in the production
    // cluster's folder deploys it.
    let sb = platform();
    sb.write("apps/shop/live/deployment.yaml", DEPLOYMENT);
    sb.write(
        "apps/shop/live/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    sb.write(
        "clusters/production/shop.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: shop\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/shop/live\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    );
    let path = "apps/shop/live/deployment.yaml";
    let result = edit(&sb, path, "replicas: 2", "replicas: 3").await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(
        result["pending_approvals"][0]["units"][0]["reasons"][0]["code"],
        "production"
    );

    // The table names a folder production whatever deploys it, with its own name.
    let sb = platform();
    sb.write("apps/shop/blue/deployment.yaml", DEPLOYMENT);
    sb.write(
        "apps/shop/blue/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    sb.write(
        "agentops.toml",
        "[environments.live]\nproduction = true\npaths = [\"apps/*/blue\"]\n",
    );
    let path = "apps/shop/blue/deployment.yaml";
    let before = std::fs::read_to_string(sb.repo().join(path)).unwrap();
    let result = edit(&sb, path, "replicas: 2", "replicas: 3").await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    let unit = &result["pending_approvals"][0]["units"][0];
    assert_eq!(unit["environment"], "live", "{unit:#}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(path)).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_application_cannot_vouch_for_an_unknown_cluster() {
    // A dev-sounding Application pointed at a cluster nothing places would make that cluster
    // "dev" for later cluster changes: it needs `reason=destination`.
    let sb = platform();
    let path = "argocd/nonprod/tools-dev.yaml";
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: tools-dev\n  namespace: argocd\n  labels:\n    environment: dev\nspec:\n  project: platform\n  source:\n    repoURL: https://git.example.com/platform/infrastructure.git\n    targetRevision: main\n    path: apps/web/overlays/dev\n  destination:\n    server: https://10.20.0.1:6443\n    namespace: tools-dev\n";
    let args = json!({"file_path": path, "content": app});
    let replies = vec![calls(&[("c1", "Write", &args.to_string())]), text("done")];
    let result = scripted_run(&sb, replies, &["--approve", "env=dev", "add it"]).await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    let reasons = result["pending_approvals"][0]["units"][0]["reasons"].to_string();
    assert!(reasons.contains("places yet"), "{reasons}");
    assert!(!sb.repo().join(path).exists());
}
