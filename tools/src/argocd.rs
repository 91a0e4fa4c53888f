//! Typed Argo CD tools over its REST API: `argocd_app_get`, `argocd_app_diff` and
//! `argocd_app_sync`. The server and token come from configuration (`[argocd]` in
//! agentops.toml, or `ARGOCD_SERVER` / `ARGOCD_AUTH_TOKEN` as the argocd CLI reads them); the
//! token never appears in output or logs. A sync is planned from the application's managed
//! resources (live vs target) so the runtime can classify and approve it first.

use crate::kube::{normalize, object_diff};
use crate::redact::redact_text;
use crate::tool::{MutationPlan, PlanFuture, Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write as _;

pub use crate::tool::ArgoCdEndpoint;

#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    #[error(
        "no Argo CD server is configured: set [argocd] server and token_env in agentops.toml, or ARGOCD_SERVER and ARGOCD_AUTH_TOKEN"
    )]
    NotConfigured,
    #[error("Argo CD {status}: {message}")]
    Api { status: u16, message: String },
    #[error("cannot reach Argo CD at {server}: {message}")]
    Transport { server: String, message: String },
}

impl ArgoError {
    /// What kind of failure this is (deploy retries `transient` ones).
    pub fn kind(&self) -> crate::tool::ErrorKind {
        use crate::tool::ErrorKind;
        match self {
            ArgoError::NotConfigured => ErrorKind::Invalid,
            ArgoError::Api { status, .. } => ErrorKind::from_status(*status),
            ArgoError::Transport { .. } => ErrorKind::Transient,
        }
    }
}

impl From<ArgoError> for crate::tool::ToolError {
    fn from(e: ArgoError) -> Self {
        crate::tool::ToolError::new(e.kind(), e.to_string())
    }
}

async fn call(
    ctx: &ToolContext,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ArgoError> {
    let endpoint = ctx.argocd.as_ref().ok_or(ArgoError::NotConfigured)?;
    let transport = |message: String| ArgoError::Transport {
        server: endpoint.server.clone(),
        message,
    };
    let client = crate::http::client(ctx.timeout.max(std::time::Duration::from_secs(30)))
        .map_err(transport)?;
    let url = format!("{}{path}", endpoint.server.trim_end_matches('/'));
    let mut request = client.request(method, &url).bearer_auth(&endpoint.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| transport(e.to_string()))?;
    let status = response.status().as_u16();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let message = value["message"]
            .as_str()
            .or(value["error"].as_str())
            .unwrap_or("no message")
            .to_string();
        return Err(ArgoError::Api { status, message });
    }
    Ok(value)
}

fn app_path(app: &str, app_namespace: Option<&str>, suffix: &str) -> String {
    let name: String = app
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .collect();
    let query = app_namespace
        .map(|n| {
            format!(
                "?appNamespace={}",
                n.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect::<String>()
            )
        })
        .unwrap_or_default();
    format!("/api/v1/applications/{name}{suffix}{query}")
}

/// Input of `argocd_app_get` and `argocd_app_diff`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    /// The Application's name.
    pub app: String,
    /// The namespace the Application lives in, when not Argo CD's own.
    #[serde(default)]
    pub app_namespace: Option<String>,
}

pub struct ArgoAppGetTool;

impl TypedTool for ArgoAppGetTool {
    type Input = AppInput;
    const NAME: &'static str = "argocd_app_get";
    const DESCRIPTION: &'static str = "An Argo CD Application's sync and health status, revision, source and destination, and conditions.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: AppInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            match call(
                &ctx,
                reqwest::Method::GET,
                &app_path(&input.app, input.app_namespace.as_deref(), ""),
                None,
            )
            .await
            {
                Ok(app) => ToolOutput::ok(describe_app(&app)),
                Err(e) => ToolOutput::failed(e.kind(), e.to_string()),
            }
        })
    }
}

/// The destination of an Application as one string (`cluster/namespace`).
fn destination(app: &Value) -> String {
    let d = &app["spec"]["destination"];
    let cluster = d["name"].as_str().or(d["server"].as_str()).unwrap_or("?");
    format!("{cluster}/{}", d["namespace"].as_str().unwrap_or(""))
}

fn describe_app(app: &Value) -> String {
    let s = |p: &str| {
        app.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    let mut out = format!(
        "application {}: sync {} at {}, health {}\nsource {} path {} revision {}\ndestination {}\n",
        s("/metadata/name"),
        s("/status/sync/status"),
        s("/status/sync/revision"),
        s("/status/health/status"),
        s("/spec/source/repoURL"),
        s("/spec/source/path"),
        s("/spec/source/targetRevision"),
        destination(app)
    );
    if let Some(op) = app.pointer("/status/operationState") {
        let _ = writeln!(
            out,
            "last operation: {} {}",
            op["phase"].as_str().unwrap_or("-"),
            op["message"].as_str().unwrap_or("")
        );
    }
    for c in app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "condition {}: {}",
            c["type"].as_str().unwrap_or("?"),
            c["message"].as_str().unwrap_or("")
        );
    }
    redact_text(&out)
}

/// One managed resource's live and target state (normalised), `None` where absent.
#[derive(Debug, Clone)]
pub struct ResourceState {
    pub id: String,
    pub live: Option<Value>,
    pub target: Option<Value>,
    pub requires_pruning: bool,
}

fn parse_state(v: &Value) -> Option<Value> {
    let text = v.as_str()?;
    let parsed: Value = serde_json::from_str(text).ok()?;
    (!parsed.is_null()).then(|| normalize(&parsed))
}

pub async fn managed_resources(
    ctx: &ToolContext,
    input: &AppInput,
) -> Result<Vec<ResourceState>, ArgoError> {
    let v = call(
        ctx,
        reqwest::Method::GET,
        &app_path(
            &input.app,
            input.app_namespace.as_deref(),
            "/managed-resources",
        ),
        None,
    )
    .await?;
    Ok(v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let ns = item["namespace"].as_str().unwrap_or("");
            let id = format!(
                "{}/{}{}",
                item["kind"].as_str().unwrap_or("?"),
                if ns.is_empty() {
                    String::new()
                } else {
                    format!("{ns}/")
                },
                item["name"].as_str().unwrap_or("?")
            );
            ResourceState {
                id,
                live: parse_state(&item["normalizedLiveState"])
                    .or_else(|| parse_state(&item["liveState"])),
                target: parse_state(&item["targetState"]),
                requires_pruning: item["requiresPruning"].as_bool().unwrap_or(false),
            }
        })
        .collect())
}

fn diff_text(states: &[ResourceState], prune: bool) -> String {
    let mut out = String::new();
    for r in states {
        if r.requires_pruning && !prune {
            let _ = writeln!(
                out,
                "# {} is not in Git (a sync with prune would delete it)",
                r.id
            );
            continue;
        }
        out.push_str(&object_diff(&r.id, r.live.as_ref(), r.target.as_ref()));
    }
    out
}

pub struct ArgoAppDiffTool;

impl TypedTool for ArgoAppDiffTool {
    type Input = AppInput;
    const NAME: &'static str = "argocd_app_diff";
    const DESCRIPTION: &'static str = "What an Argo CD Application would change on sync: each managed resource's live state against its Git target, and what a prune would delete. Changes nothing.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: AppInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            match managed_resources(&ctx, &input).await {
                Ok(states) => {
                    let text = diff_text(&states, false);
                    if text.is_empty() {
                        ToolOutput::ok(format!(
                            "{}: in sync ({} resources)",
                            input.app,
                            states.len()
                        ))
                    } else {
                        ToolOutput::ok(text)
                    }
                }
                Err(e) => ToolOutput::failed(e.kind(), e.to_string()),
            }
        })
    }
}

/// Input of `argocd_app_sync`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    pub app: String,
    #[serde(default)]
    pub app_namespace: Option<String>,
    /// Delete resources that are no longer in Git.
    #[serde(default)]
    pub prune: bool,
    /// A Git revision to sync to (default: the Application's target revision).
    #[serde(default)]
    pub revision: Option<String>,
}

pub struct ArgoAppSyncTool;

impl TypedTool for ArgoAppSyncTool {
    type Input = SyncInput;
    const NAME: &'static str = "argocd_app_sync";
    const DESCRIPTION: &'static str = "Sync an Argo CD Application (optionally with prune, or to a revision). Planned from its diff first: prunes, high-risk kinds and production destinations need approval.";
    const RISK: Risk = Risk::Mutate;
    fn call(&self, input: SyncInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            let mut body = json!({"prune": input.prune, "dryRun": false});
            if let Some(rev) = &input.revision {
                body["revision"] = json!(rev);
            }
            let path = app_path(&input.app, input.app_namespace.as_deref(), "/sync");
            match call(&ctx, reqwest::Method::POST, &path, Some(body)).await {
                Ok(app) => ToolOutput::ok(format!(
                    "sync requested for {}\n{}",
                    input.app,
                    describe_app(&app)
                )),
                Err(e) => ToolOutput::failed(e.kind(), e.to_string()),
            }
        })
    }
    fn plan_mutation(&self, input: SyncInput, ctx: &ToolContext) -> Option<PlanFuture<'static>> {
        let ctx = ctx.clone();
        Some(Box::pin(async move {
            let err = |e: ArgoError| ToolOutput::failed(e.kind(), e.to_string());
            let app_input = AppInput {
                app: input.app.clone(),
                app_namespace: input.app_namespace.clone(),
            };
            let app = call(
                &ctx,
                reqwest::Method::GET,
                &app_path(&input.app, input.app_namespace.as_deref(), ""),
                None,
            )
            .await
            .map_err(err)?;
            let states = managed_resources(&ctx, &app_input).await.map_err(err)?;
            // Without prune, resources missing from Git stay: they are neither before nor after.
            let kept = |r: &&ResourceState| !r.requires_pruning || input.prune;
            Ok(MutationPlan {
                target: format!("argocd app {} -> {}", input.app, destination(&app)),
                source: None,
                cluster: crate::tool::ClusterFacts {
                    context: None,
                    server: app["spec"]["destination"]["server"]
                        .as_str()
                        .map(str::to_string),
                    name: app["spec"]["destination"]["name"]
                        .as_str()
                        .map(str::to_string),
                    namespace: app["spec"]["destination"]["namespace"]
                        .as_str()
                        .map(str::to_string),
                },
                before: states
                    .iter()
                    .filter(kept)
                    .filter_map(|r| r.live.clone())
                    .collect(),
                after: states
                    .iter()
                    .filter(kept)
                    .filter_map(|r| r.target.clone())
                    .collect(),
                diff: diff_text(&states, input.prune),
            })
        }))
    }
}
/// An Application's sync status, health status and synced revision.
pub async fn app_status(
    ctx: &ToolContext,
    app: &str,
) -> Result<(String, String, String), ArgoError> {
    let v = call(ctx, reqwest::Method::GET, &app_path(app, None, ""), None).await?;
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok((
        s("/status/sync/status"),
        s("/status/health/status"),
        s("/status/sync/revision"),
    ))
}

/// Every Argo CD `Application` in the repository's YAML files, with the file it is in
/// (skips [`crate::kustomize::SKIP_DIRS`]; files that do not parse are passed over).
pub fn applications_in(root: &std::path::Path) -> Vec<(std::path::PathBuf, Value)> {
    let mut out = Vec::new();
    for entry in crate::kustomize::yaml_files(root) {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if !text.contains("kind: Application") {
            continue;
        }
        let Ok(objects) = crate::kustomize::parse_objects(&text) else {
            continue;
        };
        for o in objects {
            if o["kind"] == "Application"
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("argoproj.io/"))
            {
                out.push((entry.path().to_path_buf(), o));
            }
        }
    }
    out
}
