//! The Argo CD tools against a **fake** Argo CD API server (agentops-testkit) speaking its
//! REST shapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_testkit::argocd::{FakeArgoCd, Managed};
use agentops_tools::argocd::ArgoCdEndpoint;
use agentops_tools::{ToolContext, ToolRegistry};
use serde_json::{Value, json};

fn deployment(replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "web"},
        "spec": {"replicas": replicas}})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "web"}, "data": {"k": "v"}})
}

async fn fixture(token: &str) -> (FakeArgoCd, ToolContext) {
    let server = FakeArgoCd::start("s3cr3t-token").await;
    server.add_app(
        "web-prod",
        "prod-eu",
        "web",
        vec![
            Managed {
                target: Some(deployment(4)),
                live: Some(deployment(3)),
            },
            Managed {
                target: Some(configmap("web-config")),
                live: Some(configmap("web-config")),
            },
            Managed {
                target: None,
                live: Some(configmap("old-config")),
            },
        ],
    );
    let ctx = ToolContext {
        argocd: Some(ArgoCdEndpoint {
            server: server.url(),
            token: token.into(),
        }),
        ..ToolContext::default()
    };
    (server, ctx)
}

async fn call(ctx: &ToolContext, name: &str, input: Value) -> (bool, String) {
    let out = ToolRegistry::builtin()
        .get(name)
        .unwrap()
        .run(input, ctx)
        .await;
    (out.is_error, out.content)
}

#[tokio::test]
async fn get_and_diff_read_the_application() {
    let (server, ctx) = fixture("s3cr3t-token").await;
    let (err, text) = call(&ctx, "argocd_app_get", json!({"app": "web-prod"})).await;
    assert!(!err, "{text}");
    assert!(
        text.starts_with("application web-prod: sync OutOfSync at 4f1c2e9, health Healthy"),
        "{text}"
    );
    assert!(text.contains("destination prod-eu/web"), "{text}");
    let (err, text) = call(&ctx, "argocd_app_diff", json!({"app": "web-prod"})).await;
    assert!(!err, "{text}");
    assert!(text.contains("-  replicas: 3\n+  replicas: 4"), "{text}");
    assert!(
        !text.contains("web-config"),
        "unchanged resources are not shown: {text}"
    );
    assert!(
        text.contains("ConfigMap/web/old-config is not in Git (a sync with prune would delete it)"),
        "{text}"
    );
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "diff changes nothing"
    );
    let (err, text) = call(&ctx, "argocd_app_get", json!({"app": "nope"})).await;
    assert!(
        err && text.contains("Argo CD 404") && text.contains("\"nope\" not found"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_tokens_and_missing_configuration_are_clear_errors_that_never_show_the_token() {
    let (_server, ctx) = fixture("wrong-token").await;
    let (err, text) = call(&ctx, "argocd_app_get", json!({"app": "web-prod"})).await;
    assert!(
        err && text.contains("Argo CD 401") && !text.contains("wrong-token"),
        "{text}"
    );
    assert!(
        !format!("{ctx:?}").contains("wrong-token"),
        "Debug hides the token"
    );
    let (err, text) = call(
        &ToolContext::default(),
        "argocd_app_get",
        json!({"app": "web-prod"}),
    )
    .await;
    assert!(
        err && text.contains("ARGOCD_SERVER and ARGOCD_AUTH_TOKEN"),
        "{text}"
    );
}

#[tokio::test]
async fn sync_is_planned_from_the_diff_before_it_runs() {
    let (server, ctx) = fixture("s3cr3t-token").await;
    let tool = ToolRegistry::builtin()
        .get("argocd_app_sync")
        .unwrap()
        .clone();
    let input = json!({"app": "web-prod", "prune": true});
    let plan = tool.plan_mutation(&input, &ctx).unwrap().await.unwrap();
    assert_eq!(plan.target, "argocd app web-prod -> prod-eu/web");
    assert_eq!(plan.before.len(), 3);
    assert_eq!(plan.after.len(), 2, "the pruned ConfigMap is gone after");
    assert!(
        server.requests().iter().all(|r| r.method == "GET"),
        "planning changes nothing"
    );
    let out = tool.run(input, &ctx).await;
    assert!(!out.is_error, "{}", out.content);
    assert!(
        out.content.contains("sync Synced") && out.content.contains("last operation: Succeeded"),
        "{}",
        out.content
    );
    let sync = server
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(sync.path(), "/api/v1/applications/web-prod/sync");
    assert_eq!(
        serde_json::from_slice::<Value>(&sync.body).unwrap()["prune"],
        true
    );
}
