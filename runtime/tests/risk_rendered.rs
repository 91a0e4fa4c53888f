//! Risk from real renders: the example repository's overlays rendered with `kubectl kustomize`
//! before and after an edit, then classified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_runtime::gates::parse_objects;
use agentops_runtime::risk::{Level, classify};
use agentops_testkit::copy_dir;
use agentops_tools::kustomize::render;
use std::path::Path;
use std::time::Duration;

async fn objects(dir: &Path) -> Vec<serde_json::Value> {
    parse_objects(&render(dir, Duration::from_secs(60)).await.unwrap()).unwrap()
}

#[tokio::test]
async fn edits_to_the_example_are_classified_from_their_render() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/platform"),
        &repo,
    );
    let web_dev = repo.join("apps/web/overlays/dev");
    let before = objects(&web_dev).await;

    // A replica change in dev: low.
    std::fs::write(
        web_dev.join("replicas.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
    )
    .unwrap();
    let after = objects(&web_dev).await;
    let a = classify(&before, &after, Some("dev"));
    assert_eq!(a.level, Level::Low, "{a:?}");
    assert_eq!(a.changes.len(), 1);

    // Dropping the PodDisruptionBudget from the base deletes it in every overlay: high.
    let base = repo.join("apps/web/base/kustomization.yaml");
    let text = std::fs::read_to_string(&base).unwrap();
    std::fs::write(&base, text.replace("  - pdb.yaml\n", "")).unwrap();
    let pruned = objects(&web_dev).await;
    let a = classify(&after, &pruned, Some("dev"));
    assert_eq!(a.level, Level::High);
    assert_eq!(a.reasons, ["deletes PodDisruptionBudget/web-dev/web"]);

    // Growing postgres's volume claim template in prod: high for three reasons.
    let pg_prod = repo.join("apps/postgres/overlays/prod");
    let before = objects(&pg_prod).await;
    let storage = pg_prod.join("storage.yaml");
    let text = std::fs::read_to_string(&storage).unwrap();
    std::fs::write(&storage, text.replace("storage: 100Gi", "storage: 200Gi")).unwrap();
    let after = objects(&pg_prod).await;
    let a = classify(&before, &after, Some("prod"));
    assert_eq!(a.level, Level::High);
    assert_eq!(
        a.reasons,
        [
            "changes StatefulSet/data-prod/postgres (a StatefulSet always needs approval)",
            "changes immutable field /spec/volumeClaimTemplates of StatefulSet/data-prod/postgres: the object must be deleted and recreated",
            "targets production (prod)",
        ]
    );
}
