//! Typed Kubernetes tools over kube-rs: `kubectl_get`, `kubectl_diff`, `kubectl_apply`
//! (server-side apply, always dry-run first) and `kubectl_rollout_status`. Every call names
//! its kubeconfig context: the ambient current-context is never used, so an agent cannot
//! reach a cluster nobody asked for. Applies use the field manager `agentops/<agent>`; Secret
//! values are redacted in everything returned.

use crate::edit::unified_diff;
use crate::kustomize::{parse_objects, render};
use crate::path::{confine, display};
use crate::redact::redact_text;
use crate::tool::{ErrorKind, MutationPlan, PlanFuture, Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("context `{context}` is not in the kubeconfig; contexts there: {available}")]
    UnknownContext { context: String, available: String },
    #[error("`{0}` is not a kind agentops knows; give api_version too (e.g. `apps/v1`)")]
    UnknownKind(String),
    #[error("{message}")]
    Api { kind: ErrorKind, message: String },
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    RolloutTimeout(String),
}

/// Where cluster tools find their kubeconfig.
///
/// A run takes a [`KubeconfigSource::snapshot`] when it starts: a kubeconfig changed during
/// the run (it is a control file; a person may approve the change) takes effect from the next
/// run, never within the one that changed it — its `exec` plugin cannot be swapped in mid-run.
#[derive(Debug, Clone, Default)]
pub enum KubeconfigSource {
    /// `$KUBECONFIG`, else `~/.kube/config`, read when a cluster tool runs.
    #[default]
    Ambient,
    /// This file, read when a cluster tool runs.
    File(std::path::PathBuf),
    /// Read once, when the run started (or why it could not be read).
    Snapshot(std::sync::Arc<Result<Kubeconfig, String>>),
}

impl KubeconfigSource {
    /// Reads `path` (`None`: `$KUBECONFIG`, else `~/.kube/config`) now, and keeps that copy.
    pub fn snapshot(path: Option<&std::path::Path>) -> Self {
        let read = match path {
            Some(p) => Kubeconfig::read_from(p),
            None => Kubeconfig::read(),
        }
        .map_err(|e| e.to_string());
        Self::Snapshot(std::sync::Arc::new(read))
    }

    fn load(&self) -> Result<Kubeconfig, KubeError> {
        match self {
            Self::Ambient => Kubeconfig::read().map_err(|e| KubeError::Kubeconfig(e.to_string())),
            Self::File(p) => {
                Kubeconfig::read_from(p).map_err(|e| KubeError::Kubeconfig(e.to_string()))
            }
            Self::Snapshot(read) => match read.as_ref() {
                Ok(k) => Ok(k.clone()),
                Err(e) => Err(KubeError::Kubeconfig(format!(
                    "{e} (read when the run started)"
                ))),
            },
        }
    }
}

/// What the kubeconfig says about `context`: its API server and namespace.
pub fn cluster_facts(ctx: &ToolContext, context: &str) -> crate::tool::ClusterFacts {
    let mut facts = crate::tool::ClusterFacts {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let Ok(config) = ctx.kubeconfig.load() else {
        return facts;
    };
    let Some(named) = config.contexts.iter().find(|c| c.name == context) else {
        return facts;
    };
    let Some(c) = named.context.as_ref() else {
        return facts;
    };
    facts.namespace = c.namespace.clone();
    facts.server = config
        .clusters
        .iter()
        .find(|k| k.name == c.cluster)
        .and_then(|k| k.cluster.as_ref()?.server.clone());
    facts
}

/// The programs (command and arguments) the `exec` plugins of the kubeconfig at `path` run.
pub fn exec_commands(path: &std::path::Path) -> Vec<Vec<String>> {
    let Ok(config) = Kubeconfig::read_from(path) else {
        return Vec::new();
    };
    config
        .auth_infos
        .iter()
        .filter_map(|u| u.auth_info.as_ref()?.exec.as_ref())
        .filter_map(|e| {
            let mut words = vec![e.command.clone()?];
            words.extend(e.args.clone().unwrap_or_default());
            Some(words)
        })
        .collect()
}

impl KubeError {
    fn not_found(message: String) -> Self {
        KubeError::Api {
            kind: ErrorKind::NotFound,
            message,
        }
    }

    /// What kind of failure this is (deploy retries `transient` ones).
    pub fn kind(&self) -> ErrorKind {
        match self {
            KubeError::Kubeconfig(_) | KubeError::UnknownContext { .. } => ErrorKind::Invalid,
            KubeError::UnknownKind(_) | KubeError::Input(_) => ErrorKind::Invalid,
            KubeError::Api { kind, .. } => *kind,
            KubeError::RolloutTimeout(_) => ErrorKind::Failed,
        }
    }

    /// The same error with `what` in front of its message (its kind kept).
    fn context(self, what: impl std::fmt::Display) -> Self {
        let kind = self.kind();
        KubeError::Api {
            kind,
            message: format!("{what}: {self}"),
        }
    }
}

impl From<KubeError> for ToolOutput {
    fn from(e: KubeError) -> Self {
        ToolOutput::failed(e.kind(), e.to_string())
    }
}

impl From<KubeError> for crate::ToolError {
    fn from(e: KubeError) -> Self {
        crate::ToolError::new(e.kind(), e.to_string())
    }
}

fn api_error(e: kube::Error) -> KubeError {
    match e {
        kube::Error::Api(s) => KubeError::Api {
            kind: ErrorKind::from_status(s.code),
            message: format!("{} {}: {}", s.code, s.reason, s.message),
        },
        // Anything below HTTP — connection refused or reset, TLS, a timeout — may pass.
        kube::Error::HyperError(_) | kube::Error::Service(_) => KubeError::Api {
            kind: ErrorKind::Transient,
            message: e.to_string(),
        },
        other => KubeError::Api {
            kind: ErrorKind::Failed,
            message: other.to_string(),
        },
    }
}

/// A client for exactly `context` of the kubeconfig.
pub async fn client(ctx: &ToolContext, context: &str) -> Result<kube::Client, KubeError> {
    if context.trim().is_empty() {
        return Err(KubeError::Input(
            "name the kubeconfig context to use; agentops never falls back to the current context"
                .into(),
        ));
    }
    let kubeconfig = ctx.kubeconfig.load()?;
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        return Err(KubeError::UnknownContext {
            context: context.to_string(),
            available: kubeconfig
                .contexts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| KubeError::Kubeconfig(e.to_string()))?;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(ctx.timeout.max(Duration::from_secs(10)));
    kube::Client::try_from(config).map_err(api_error)
}

/// Common kinds and short names → (apiVersion, Kind).
const KINDS: &[(&str, &str, &[&str])] = &[
    ("v1", "Namespace", &["ns", "namespaces"]),
    ("v1", "ConfigMap", &["cm", "configmaps"]),
    ("v1", "Secret", &["secrets"]),
    ("v1", "Service", &["svc", "services"]),
    ("v1", "ServiceAccount", &["sa", "serviceaccounts"]),
    (
        "v1",
        "PersistentVolumeClaim",
        &["pvc", "persistentvolumeclaims"],
    ),
    ("v1", "PersistentVolume", &["pv", "persistentvolumes"]),
    ("v1", "Pod", &["po", "pods"]),
    ("v1", "Node", &["no", "nodes"]),
    ("v1", "ResourceQuota", &["quota", "resourcequotas"]),
    ("v1", "LimitRange", &["limits", "limitranges"]),
    ("v1", "Event", &["ev", "events"]),
    ("apps/v1", "Deployment", &["deploy", "deployments"]),
    ("apps/v1", "StatefulSet", &["sts", "statefulsets"]),
    ("apps/v1", "DaemonSet", &["ds", "daemonsets"]),
    ("apps/v1", "ReplicaSet", &["rs", "replicasets"]),
    ("batch/v1", "Job", &["jobs"]),
    ("batch/v1", "CronJob", &["cj", "cronjobs"]),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &["netpol", "networkpolicies"],
    ),
    ("networking.k8s.io/v1", "Ingress", &["ing", "ingresses"]),
    (
        "policy/v1",
        "PodDisruptionBudget",
        &["pdb", "poddisruptionbudgets"],
    ),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        &["hpa", "horizontalpodautoscalers"],
    ),
    ("rbac.authorization.k8s.io/v1", "Role", &["roles"]),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &["rolebindings"],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        &["clusterroles"],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        &["clusterrolebindings"],
    ),
    (
        "storage.k8s.io/v1",
        "StorageClass",
        &["sc", "storageclasses"],
    ),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        &["crd", "crds", "customresourcedefinitions"],
    ),
    (
        "argoproj.io/v1alpha1",
        "Application",
        &["app", "apps", "applications"],
    ),
    (
        "argoproj.io/v1alpha1",
        "AppProject",
        &["appproj", "appprojects"],
    ),
];

fn gvk(kind: &str, api_version: Option<&str>) -> Result<GroupVersionKind, KubeError> {
    let known = KINDS.iter().find(|(_, k, short)| {
        k.eq_ignore_ascii_case(kind) || short.iter().any(|s| s.eq_ignore_ascii_case(kind))
    });
    let (api, kind) = match (api_version, known) {
        (Some(api), Some((_, k, _))) => (api.to_string(), (*k).to_string()),
        (Some(api), None) => (api.to_string(), kind.to_string()),
        (None, Some((api, k, _))) => ((*api).to_string(), (*k).to_string()),
        (None, None) => return Err(KubeError::UnknownKind(kind.to_string())),
    };
    let (group, version) = api.split_once('/').unwrap_or(("", api.as_str()));
    Ok(GroupVersionKind::gvk(group, version, &kind))
}

async fn resource(
    client: &kube::Client,
    gvk: &GroupVersionKind,
) -> Result<(ApiResource, bool), KubeError> {
    let (ar, caps) = kube::discovery::pinned_kind(client, gvk)
        .await
        .map_err(|e| api_error(e).context(gvk.api_version()))?;
    Ok((ar, caps.scope == kube::discovery::Scope::Namespaced))
}

/// The API of an object's kind, in its namespace.
async fn api_of(client: &kube::Client, obj: &Value) -> Result<Api<DynamicObject>, KubeError> {
    let gvk = gvk(
        obj["kind"].as_str().unwrap_or(""),
        obj["apiVersion"].as_str(),
    )?;
    let (ar, namespaced) = resource(client, &gvk).await?;
    Ok(api_for(
        client,
        &ar,
        namespaced,
        obj["metadata"]["namespace"].as_str(),
    ))
}

fn api_for(
    client: &kube::Client,
    ar: &ApiResource,
    namespaced: bool,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    match (namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
        (true, None) => Api::default_namespaced_with(client.clone(), ar),
        (false, _) => Api::all_with(client.clone(), ar),
    }
}

/// An object without what the server adds (status, managedFields, uid, resourceVersion,
/// generation, creationTimestamp, last-applied annotation): what Git can be compared with.
pub fn normalize(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(k);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove("kubectl.kubernetes.io/last-applied-configuration");
            ann.remove("deployment.kubernetes.io/revision");
        }
        if meta
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(serde_json::Map::is_empty)
        {
            meta.remove("annotations");
        }
    }
    v
}

fn yaml(v: &Value) -> String {
    redact_text(&serde_saphyr::to_string(v).unwrap_or_default())
}

fn id(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or("?");
    let name = obj["metadata"]["name"].as_str().unwrap_or("?");
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn field_manager(ctx: &ToolContext) -> String {
    let agent = if ctx.agent.is_empty() {
        "agentops"
    } else {
        ctx.agent.as_str()
    };
    let m = format!("agentops/{agent}");
    m.chars().take(128).collect()
}

// ---------------------------------------------------------------------------------------------

/// Input of `kubectl_get`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubectlGetInput {
    /// The kubeconfig context (cluster) to read; required.
    pub context: String,
    /// Kind or short name: `Deployment`, `deploy`, `cm`, `Application`, ...
    pub kind: String,
    /// One object; leave out to list.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace (default: the context's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// For kinds agentops does not know: `group/version`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// For lists: `app=web,tier!=cache`.
    #[serde(default)]
    pub label_selector: Option<String>,
}

pub struct KubectlGetTool;

impl TypedTool for KubectlGetTool {
    type Input = KubectlGetInput;
    const NAME: &'static str = "kubectl_get";
    const DESCRIPTION: &'static str = "Read live objects from a cluster (one by name, or a list) as YAML, in a named kubeconfig context. Status is kept; managedFields are summarised; Secret values are redacted.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: KubectlGetInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            match get(&ctx, &input).await {
                Ok(text) => ToolOutput::ok(text),
                Err(e) => ToolOutput::from(e),
            }
        })
    }
}

/// `metadata.managedFields` as one line per manager (who changed it, how, when).
fn managers_line(obj: &Value) -> Option<String> {
    let list = obj["metadata"]["managedFields"].as_array()?;
    let parts: Vec<String> = list
        .iter()
        .map(|m| {
            format!(
                "{} ({} {})",
                m["manager"].as_str().unwrap_or("?"),
                m["operation"].as_str().unwrap_or("?"),
                m["time"].as_str().unwrap_or("?")
            )
        })
        .collect();
    Some(format!("# managers: {}", parts.join(", ")))
}

async fn get(ctx: &ToolContext, input: &KubectlGetInput) -> Result<String, KubeError> {
    let client = client(ctx, &input.context).await?;
    let gvk = gvk(&input.kind, input.api_version.as_deref())?;
    let (ar, namespaced) = resource(&client, &gvk).await?;
    let api = api_for(&client, &ar, namespaced, input.namespace.as_deref());
    let show = |obj: &DynamicObject| -> String {
        let v = serde_json::to_value(obj).unwrap_or(Value::Null);
        let mut shown = v.clone();
        if let Some(meta) = shown.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        let mut out = managers_line(&v)
            .map(|l| format!("{l}\n"))
            .unwrap_or_default();
        out.push_str(&yaml(&shown));
        out
    };
    match &input.name {
        Some(name) => match api.get_opt(name).await.map_err(api_error)? {
            Some(obj) => Ok(show(&obj)),
            None => Err(KubeError::not_found(format!(
                "{} {name} not found in context {}{}",
                gvk.kind,
                input.context,
                input
                    .namespace
                    .as_deref()
                    .map(|n| format!(", namespace {n}"))
                    .unwrap_or_default()
            ))),
        },
        None => {
            let mut params = ListParams::default();
            if let Some(sel) = &input.label_selector {
                params = params.labels(sel);
            }
            let list = api.list(&params).await.map_err(api_error)?;
            if list.items.is_empty() {
                return Ok(format!("no {} found\n", gvk.kind));
            }
            Ok(list
                .items
                .iter()
                .map(|o| format!("---\n{}", show(o)))
                .collect())
        }
    }
}

/// The live objects of every (kind, namespace) that `desired` has, in `context`: what drift
/// compares with (and where objects that are not in Git show up).
pub async fn live_objects(
    ctx: &ToolContext,
    context: &str,
    desired: &[Value],
) -> Result<Vec<Value>, KubeError> {
    let client = client(ctx, context).await?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for obj in desired {
        let (Some(api_version), Some(kind)) = (obj["apiVersion"].as_str(), obj["kind"].as_str())
        else {
            continue;
        };
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
        if !seen.insert((api_version.to_string(), kind.to_string(), ns.clone())) {
            continue;
        }
        let (ar, namespaced) = resource(&client, &gvk(kind, Some(api_version))?).await?;
        let api = api_for(&client, &ar, namespaced, ns.as_deref());
        let list = api.list(&ListParams::default()).await.map_err(api_error)?;
        out.extend(
            list.items
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok()),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

/// Input of `kubectl_diff` and `kubectl_apply`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubectlApplyInput {
    /// The kubeconfig context (cluster); required.
    pub context: String,
    /// A kustomization folder of the repository (rendered with kustomize).
    pub path: String,
    /// Namespace for objects that name none (default: the context's).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// One object of a server-side dry run.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub id: String,
    pub live: Option<Value>,
    pub after: Value,
}

/// Renders `path` and server-side-applies every object with `dryRun=All`.
pub async fn dry_run(
    ctx: &ToolContext,
    input: &KubectlApplyInput,
) -> Result<(String, Vec<DryRun>), KubeError> {
    let dir =
        confine(&ctx.root, &ctx.cwd, &input.path).map_err(|e| KubeError::Input(e.to_string()))?;
    let rel = display(&ctx.root, &dir);
    let rendered = render(&dir, ctx.timeout.max(Duration::from_secs(60)))
        .await
        .map_err(|e| KubeError::Input(format!("{rel} does not build: {e}")))?;
    let objects = parse_objects(&rendered).map_err(|e| KubeError::Input(format!("{rel}: {e}")))?;
    let client = client(ctx, &input.context).await?;
    let manager = field_manager(ctx);
    let mut resources: BTreeMap<String, (ApiResource, bool)> = BTreeMap::new();
    let mut out = Vec::new();
    for obj in objects {
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let gvk = gvk(&kind, Some(&api_version))?;
        let key = format!("{api_version}/{kind}");
        let (ar, namespaced) = match resources.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = resource(&client, &gvk).await?;
                resources.insert(key, r.clone());
                r
            }
        };
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .map(str::to_string)
            .or_else(|| input.namespace.clone());
        let api = api_for(&client, &ar, namespaced, ns.as_deref());
        let live = api.get_opt(&name).await.map_err(api_error)?;
        let params = PatchParams::apply(&manager).force().dry_run();
        let after = api
            .patch(&name, &params, &Patch::Apply(&obj))
            .await
            .map_err(|e| api_error(e).context(format!("dry run of {}", id(&obj))))?;
        out.push(DryRun {
            id: id(&obj),
            live: live.map(|l| serde_json::to_value(l).unwrap_or(Value::Null)),
            after: serde_json::to_value(after).unwrap_or(Value::Null),
        });
    }
    Ok((rel, out))
}

/// A unified diff of one object, live against desired, both normalised and Secret values
/// redacted (`None`: absent on that side).
pub fn object_diff(id: &str, live: Option<&Value>, desired: Option<&Value>) -> String {
    let text = |v: Option<&Value>| v.map(|v| yaml(&normalize(v))).unwrap_or_default();
    unified_diff(
        &text(live),
        &text(desired),
        &format!("live/{id}"),
        &format!("git/{id}"),
    )
}

fn diff_text(runs: &[DryRun]) -> String {
    runs.iter()
        .map(|r| object_diff(&r.id, r.live.as_ref(), Some(&r.after)))
        .collect()
}

pub struct KubectlDiffTool;

impl TypedTool for KubectlDiffTool {
    type Input = KubectlApplyInput;
    const NAME: &'static str = "kubectl_diff";
    const DESCRIPTION: &'static str = "What applying a kustomization folder would change in a cluster (a named context): a server-side dry run of every rendered object, diffed against the live objects. Changes nothing.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: KubectlApplyInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            match dry_run(&ctx, &input).await {
                Ok((rel, runs)) => {
                    let text = diff_text(&runs);
                    if text.is_empty() {
                        ToolOutput::ok(format!(
                            "{rel}: no changes in context {} ({} objects)",
                            input.context,
                            runs.len()
                        ))
                    } else {
                        ToolOutput::ok(text)
                    }
                }
                Err(e) => ToolOutput::from(e),
            }
        })
    }
}

pub struct KubectlApplyTool;

impl TypedTool for KubectlApplyTool {
    type Input = KubectlApplyInput;
    const NAME: &'static str = "kubectl_apply";
    const DESCRIPTION: &'static str = "Apply a kustomization folder to a cluster (a named context) with server-side apply, field manager agentops/<agent>. Every object is dry-run first; the gates run on the folder and high-risk changes need approval.";
    const RISK: Risk = Risk::Mutate;
    fn call(&self, input: KubectlApplyInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            match apply(&ctx, &input).await {
                Ok(text) => ToolOutput::ok(text),
                Err(e) => ToolOutput::from(e),
            }
        })
    }
    fn plan_mutation(
        &self,
        input: KubectlApplyInput,
        ctx: &ToolContext,
    ) -> Option<PlanFuture<'static>> {
        let ctx = ctx.clone();
        Some(Box::pin(async move {
            let (rel, runs) = dry_run(&ctx, &input).await.map_err(ToolOutput::from)?;
            Ok(MutationPlan {
                target: format!("context {}", input.context),
                source: Some(rel),
                cluster: cluster_facts(&ctx, &input.context),
                before: runs
                    .iter()
                    .filter_map(|r| r.live.as_ref().map(normalize))
                    .collect(),
                after: runs.iter().map(|r| normalize(&r.after)).collect(),
                diff: diff_text(&runs),
            })
        }))
    }
}

async fn apply(ctx: &ToolContext, input: &KubectlApplyInput) -> Result<String, KubeError> {
    // Dry run everything first: one refused object stops the apply before anything changes.
    let (rel, runs) = dry_run(ctx, input).await?;
    let client = client(ctx, &input.context).await?;
    let manager = field_manager(ctx);
    let mut out = format!("applied {rel} to context {} as {manager}:\n", input.context);
    for r in &runs {
        let obj = &r.after;
        let api = api_of(&client, obj).await?;
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        let desired = normalize(obj);
        api.patch(
            name,
            &PatchParams::apply(&manager).force(),
            &Patch::Apply(&desired),
        )
        .await
        .map_err(|e| {
            api_error(e).context(format!(
                "apply of {} failed after {} objects",
                r.id,
                out.lines().count() - 1
            ))
        })?;
        let verb = match &r.live {
            None => "created",
            Some(l) if normalize(l) == desired => "unchanged",
            Some(_) => "configured",
        };
        let _ = writeln!(out, "  {} {verb}", r.id);
    }
    Ok(out)
}

/// Puts objects back as they were (a rollback): each of `previous` is applied again (server-side,
/// forced, as this agent's field manager), and each of `created` — objects that did not exist
/// before — is deleted. Returns what was done, one line per object.
pub async fn restore(
    ctx: &ToolContext,
    context: &str,
    previous: &[Value],
    created: &[Value],
) -> Result<String, KubeError> {
    let client = client(ctx, context).await?;
    let manager = field_manager(ctx);
    let mut out = String::new();
    for (obj, delete) in previous
        .iter()
        .map(|o| (o, false))
        .chain(created.iter().map(|o| (o, true)))
    {
        let api = api_of(&client, obj).await?;
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        if delete {
            api.delete(name, &Default::default())
                .await
                .map_err(|e| api_error(e).context(format!("delete of {}", id(obj))))?;
            let _ = writeln!(out, "  {} deleted", id(obj));
        } else {
            let desired = normalize(obj);
            api.patch(
                name,
                &PatchParams::apply(&manager).force(),
                &Patch::Apply(&desired),
            )
            .await
            .map_err(|e| api_error(e).context(format!("restore of {}", id(obj))))?;
            let _ = writeln!(out, "  {} restored", id(obj));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

/// Input of `kubectl_rollout_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutInput {
    /// The kubeconfig context (cluster); required.
    pub context: String,
    /// Deployment, StatefulSet or DaemonSet.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// How long to wait (default 120, at most 900).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

pub struct KubectlRolloutStatusTool;

impl TypedTool for KubectlRolloutStatusTool {
    type Input = RolloutInput;
    const NAME: &'static str = "kubectl_rollout_status";
    const DESCRIPTION: &'static str = "Wait until a Deployment, StatefulSet or DaemonSet has rolled out (observed generation, updated and available replicas), or time out with its last status.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: RolloutInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            match rollout(&ctx, &input).await {
                Ok(text) => ToolOutput::ok(text),
                Err(e) => ToolOutput::from(e),
            }
        })
    }
}

/// Whether a workload's status says its rollout is complete, and a one-line summary.
pub fn rollout_done(obj: &Value) -> (bool, String) {
    let kind = obj["kind"].as_str().unwrap_or("");
    let n = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let generation = n("/metadata/generation");
    let observed = n("/status/observedGeneration");
    let (want, updated, available) = if kind == "DaemonSet" {
        (
            n("/status/desiredNumberScheduled"),
            n("/status/updatedNumberScheduled"),
            n("/status/numberAvailable"),
        )
    } else {
        let want = obj
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let ready = if kind == "StatefulSet" {
            n("/status/readyReplicas")
        } else {
            n("/status/availableReplicas")
        };
        (want, n("/status/updatedReplicas"), ready)
    };
    let done = observed >= generation && updated >= want && available >= want;
    (
        done,
        format!(
            "generation {observed}/{generation}, {updated}/{want} updated, {available}/{want} available"
        ),
    )
}

async fn rollout(ctx: &ToolContext, input: &RolloutInput) -> Result<String, KubeError> {
    let gvk = gvk(&input.kind, None)?;
    if !matches!(
        gvk.kind.as_str(),
        "Deployment" | "StatefulSet" | "DaemonSet"
    ) {
        return Err(KubeError::Input(format!(
            "{} has no rollout; use Deployment, StatefulSet or DaemonSet",
            gvk.kind
        )));
    }
    let client = client(ctx, &input.context).await?;
    let (ar, namespaced) = resource(&client, &gvk).await?;
    let api = api_for(&client, &ar, namespaced, input.namespace.as_deref());
    let limit = Duration::from_secs(input.timeout_secs.unwrap_or(120).clamp(1, 900));
    let started = Instant::now();
    loop {
        let obj = api.get(&input.name).await.map_err(api_error)?;
        let (done, summary) = rollout_done(&serde_json::to_value(&obj).unwrap_or(Value::Null));
        if done {
            return Ok(format!("{} {} rolled out: {summary}", gvk.kind, input.name));
        }
        if started.elapsed() >= limit {
            return Err(KubeError::RolloutTimeout(format!(
                "{} {} did not finish rolling out within {}s: {summary}",
                gvk.kind,
                input.name,
                limit.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_resolve_by_name_short_name_or_api_version() {
        assert_eq!(gvk("deploy", None).unwrap().api_version(), "apps/v1");
        assert_eq!(
            gvk("Application", None).unwrap().api_version(),
            "argoproj.io/v1alpha1"
        );
        assert_eq!(
            gvk("Widget", Some("example.com/v1")).unwrap().kind,
            "Widget"
        );
        assert!(gvk("Widget", None).is_err());
    }

    #[test]
    fn normalizing_drops_what_the_server_adds() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "u", "resourceVersion": "9",
            "managedFields": [], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"k": "v"}, "status": {}});
        assert_eq!(
            normalize(&live),
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn rollout_needs_the_observed_generation_and_every_replica() {
        let mut d = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "updatedReplicas": 3, "availableReplicas": 3}});
        assert!(!rollout_done(&d).0);
        d["status"]["observedGeneration"] = json!(2);
        assert!(rollout_done(&d).0);
        d["status"]["availableReplicas"] = json!(2);
        assert!(!rollout_done(&d).0);
    }
}
