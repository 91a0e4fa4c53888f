//! Drift: Git's desired state (each overlay rendered) against what runs (an export of
//! `kubectl get -o yaml`, or a cluster). Objects are normalised as Argo CD does — status,
//! managedFields, uid, resourceVersion, generation, creationTimestamp and the last-applied
//! annotation dropped, and only the fields Git sets compared (the API server defaults the
//! rest) — except labels and annotations, where an extra key in the cluster is drift too.
//! Every drifted field is attributed from `managedFields` (manager, operation, time); a
//! manager is a client name such as `kubectl-edit`, not a person, and the report says so.

use crate::gates::parse_objects;
use crate::review::environment_of;
use crate::risk::identity;
use agentops_tools::kube::normalize;
use agentops_tools::kustomize::{find_kustomizations, render};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Who last wrote a field, from `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manager {
    pub manager: String,
    pub operation: String,
    pub time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDrift {
    /// `.spec.replicas`, `.metadata.labels.team`
    pub path: String,
    /// The value in Git (`null`: Git does not set it).
    pub git: Value,
    /// The value in the cluster (`null`: not there).
    pub live: Value,
    /// The managers whose fields include this one (empty: none claims it).
    pub managers: Vec<Manager>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    Changed,
    MissingInCluster,
    NotInGit,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectDrift {
    /// `Kind/namespace/name`
    pub object: String,
    pub status: DriftKind,
    pub fields: Vec<FieldDrift>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverlayDrift {
    pub path: String,
    pub environment: Option<String>,
    pub objects: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub drift: Vec<ObjectDrift>,
    /// A strategic-merge patch that would capture the cluster's values into this overlay.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub capture_patch: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DriftSummary {
    pub overlays: usize,
    pub objects: usize,
    pub drifted: usize,
    pub failed: usize,
    /// Drifted fields left out by an Application's `ignoreDifferences`.
    pub ignored: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub overlays: Vec<OverlayDrift>,
    pub summary: DriftSummary,
    pub note: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub const ATTRIBUTION_NOTE: &str = "managers are the client names the API server recorded (kubectl-edit, argocd-controller, helm); who ran them, and from where, is not recorded in the object — the cluster's audit log has that";

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        self.summary.drifted > 0 || self.summary.failed > 0
    }

    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for o in &self.overlays {
            if let Some(e) = &o.error {
                let _ = writeln!(
                    out,
                    "FAILED  {}: {}",
                    o.path,
                    e.lines().next().unwrap_or("")
                );
                continue;
            }
            if o.drift.is_empty() {
                let _ = writeln!(out, "in sync {} ({} objects)", o.path, o.objects);
                continue;
            }
            let _ = writeln!(
                out,
                "DRIFT   {} ({} of {} objects)",
                o.path,
                o.drift.len(),
                o.objects
            );
            for d in &o.drift {
                let what = match d.status {
                    DriftKind::Changed => "changed in the cluster",
                    DriftKind::MissingInCluster => "missing in the cluster",
                    DriftKind::NotInGit => "in the cluster, not in Git",
                };
                let _ = writeln!(out, "  {} {what}", d.object);
                for f in &d.fields {
                    let who: Vec<String> = f
                        .managers
                        .iter()
                        .map(|m| {
                            format!(
                                "{} ({}{})",
                                m.manager,
                                m.operation,
                                m.time
                                    .as_deref()
                                    .map(|t| format!(" {t}"))
                                    .unwrap_or_default()
                            )
                        })
                        .collect();
                    let _ = writeln!(
                        out,
                        "    {}: git {} → live {}{}",
                        f.path,
                        f.git,
                        f.live,
                        if who.is_empty() {
                            String::new()
                        } else {
                            format!("  by {}", who.join(", "))
                        }
                    );
                }
            }
            let _ = writeln!(
                out,
                "  fix: sync from Git (argocd app sync / kubectl apply), or capture into Git with this patch in {}:",
                o.path
            );
            for line in o.capture_patch.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "{} overlay(s), {} objects, {} drifted, {} failed to render{}",
            s.overlays,
            s.objects,
            s.drifted,
            s.failed,
            if s.ignored > 0 {
                format!(", {} field(s) ignored by ignoreDifferences", s.ignored)
            } else {
                String::new()
            }
        );
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        let _ = writeln!(out, "note: {}", self.note);
        out
    }
}

/// Where the live state comes from.
pub enum Live {
    /// Files of `kubectl get -o yaml` output (single objects or `List`s), searched recursively.
    Dir(PathBuf),
    /// A cluster: the kubeconfig `context` (never the current one), read with `ctx`.
    Cluster {
        ctx: Box<agentops_tools::ToolContext>,
        context: String,
    },
}

fn display(obj: &Value) -> String {
    crate::policy::object_id(obj)
}

/// Reads every object of a `--live` folder (Lists unpacked).
pub fn read_live_dir(dir: &Path) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_str().unwrap_or("");
        if !(entry.file_type().is_file()
            && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")))
        {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        let docs = parse_objects(&text).map_err(|e| format!("{}: {e}", entry.path().display()))?;
        for doc in docs {
            match doc["items"].as_array() {
                Some(items) if doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) => {
                    out.extend(items.iter().cloned())
                }
                _ => out.push(doc),
            }
        }
    }
    Ok(out)
}

/// Objects a cluster makes by itself, never drift.
fn cluster_made(obj: &Value) -> bool {
    let kind = obj["kind"].as_str().unwrap_or("");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    matches!(
        kind,
        "Pod"
            | "ReplicaSet"
            | "Event"
            | "Endpoints"
            | "EndpointSlice"
            | "ControllerRevision"
            | "Lease"
    ) || (kind == "ConfigMap" && name == "kube-root-ca.crt")
        || (kind == "ServiceAccount" && name == "default")
        || obj["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|o| !o.is_empty())
}

/// Labels and annotations the cluster or tools add, never drift.
fn system_key(key: &str) -> bool {
    key.starts_with("kubectl.kubernetes.io/")
        || key.starts_with("deployment.kubernetes.io/")
        || key.starts_with("argocd.argoproj.io/")
        || key == "kubernetes.io/metadata.name"
        || key.starts_with("pv.kubernetes.io/")
        || key.starts_with("volume.")
}

fn pointer_to_path(parts: &[String]) -> String {
    parts.iter().map(|p| format!(".{p}")).collect()
}

/// Drifted fields: (path, value in Git, value live).
type FieldDiffs = Vec<(Vec<String>, Value, Value)>;

/// Fields of `git` whose value differs in `live`; extra labels/annotations in `live` too.
fn compare(
    git: &Value,
    live: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value, Value)>,
) {
    let in_metadata_map = path.len() == 2
        && path[0] == "metadata"
        && (path[1] == "labels" || path[1] == "annotations");
    match (git, live) {
        (Value::Object(g), Value::Object(l)) => {
            for (k, gv) in g {
                if in_metadata_map && system_key(k) {
                    continue;
                }
                path.push(k.clone());
                match l.get(k) {
                    Some(lv) => compare(gv, lv, path, out),
                    None => out.push((path.clone(), gv.clone(), Value::Null)),
                }
                path.pop();
            }
            if in_metadata_map {
                for (k, lv) in l {
                    if !g.contains_key(k) && !system_key(k) {
                        path.push(k.clone());
                        out.push((path.clone(), Value::Null, lv.clone()));
                        path.pop();
                    }
                }
            }
        }
        (Value::Array(g), Value::Array(l)) if g.len() == l.len() => {
            for (i, (gv, lv)) in g.iter().zip(l).enumerate() {
                path.push(i.to_string());
                compare(gv, lv, path, out);
                path.pop();
            }
        }
        (Value::Number(g), Value::String(l)) | (Value::String(l), Value::Number(g))
            if g.to_string() == *l => {}
        (g, l) if g == l => {}
        _ => out.push((path.clone(), git.clone(), live.clone())),
    }
}

/// The managers whose `fieldsV1` include `path` (list items matched by position or key).
fn managers_of(live: &Value, path: &[String]) -> Vec<Manager> {
    let mut out = Vec::new();
    for m in live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let mut node = &m["fieldsV1"];
        let mut claimed = true;
        for part in path {
            let key = format!("f:{part}");
            if let Some(next) = node.get(&key) {
                node = next;
                continue;
            }
            // List items: `k:{...}` or `i:N`; any item entry under this list counts.
            if let Some(obj) = node.as_object()
                && let Some((_, next)) = obj
                    .iter()
                    .find(|(k, _)| k.starts_with("k:") || k == &&format!("i:{part}"))
            {
                node = next;
                continue;
            }
            claimed = false;
            break;
        }
        if claimed {
            out.push(Manager {
                manager: m["manager"].as_str().unwrap_or("?").to_string(),
                operation: m["operation"].as_str().unwrap_or("?").to_string(),
                time: m["time"].as_str().map(str::to_string),
            });
        }
    }
    out
}

/// A strategic-merge patch holding the cluster's values of the drifted fields.
fn capture_patch(drift: &[(Value, FieldDiffs)]) -> String {
    let mut docs = Vec::new();
    for (git, fields) in drift {
        let mut patch = Value::Object(Map::new());
        patch["apiVersion"] = git["apiVersion"].clone();
        patch["kind"] = git["kind"].clone();
        patch["metadata"] = serde_json::json!({"name": git["metadata"]["name"]});
        for (path, _, live) in fields {
            if path.iter().any(|p| p.parse::<usize>().is_ok()) {
                continue; // list items: capture by hand (strategic merge keys vary by field)
            }
            let mut node = &mut patch;
            for (i, part) in path.iter().enumerate() {
                if i + 1 == path.len() {
                    node[part.as_str()] = live.clone();
                } else {
                    if !node[part.as_str()].is_object() {
                        node[part.as_str()] = Value::Object(Map::new());
                    }
                    node = &mut node[part.as_str()];
                }
            }
        }
        docs.push(serde_saphyr::to_string(&patch).unwrap_or_default());
    }
    docs.join("---\n")
}

pub struct DriftOptions {
    pub app: Option<String>,
    pub env: Option<String>,
    pub timeout: Duration,
}

/// The overlays to compare: those under an `overlays/` folder (deployed things), or every
/// kustomization when a repository has none.
fn targets(root: &Path, options: &DriftOptions) -> Vec<PathBuf> {
    let all = find_kustomizations(root);
    let rel = |d: &Path| d.strip_prefix(root).unwrap_or(d).display().to_string();
    let overlays: Vec<PathBuf> = all
        .iter()
        .filter(|d| rel(d).split('/').any(|p| p == "overlays"))
        .cloned()
        .collect();
    let chosen = if overlays.is_empty() { all } else { overlays };
    chosen
        .into_iter()
        .filter(|d| {
            let r = rel(d);
            let parts: Vec<&str> = r.split('/').collect();
            options.app.as_deref().is_none_or(|a| parts.contains(&a))
                && options.env.as_deref().is_none_or(|e| parts.contains(&e))
        })
        .collect()
}

/// One `ignoreDifferences` entry of the Argo CD Application that deploys an overlay.
#[derive(Debug, Clone, PartialEq)]
struct IgnoreRule {
    group: String,
    kind: String,
    name: Option<String>,
    namespace: Option<String>,
    /// Field paths (`*` matches any list index).
    paths: Vec<Vec<String>>,
    managers: Vec<String>,
}

impl IgnoreRule {
    fn from_value(v: &Value, warnings: &mut Vec<String>, app: &str) -> Self {
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut paths: Vec<Vec<String>> = strings("jsonPointers")
            .iter()
            .map(|p| {
                p.trim_start_matches('/')
                    .split('/')
                    .map(|s| s.replace("~1", "/").replace("~0", "~"))
                    .collect()
            })
            .collect();
        for jq in strings("jqPathExpressions") {
            // Simple paths only: `.spec.replicas`, `.spec.template.spec.containers[].image`.
            let simple = jq.starts_with('.')
                && jq[1..]
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']'));
            if simple {
                paths.push(
                    jq[1..]
                        .split('.')
                        .flat_map(|part| match part.strip_suffix("[]") {
                            Some(key) => vec![key.to_string(), "*".to_string()],
                            None => vec![part.to_string()],
                        })
                        .collect(),
                );
            } else {
                warnings.push(format!(
                    "{app}: jqPathExpression `{jq}` is not a simple path; it is not applied (use jsonPointers)"
                ));
            }
        }
        Self {
            group: v["group"].as_str().unwrap_or("").to_string(),
            kind: v["kind"].as_str().unwrap_or("").to_string(),
            name: v["name"].as_str().map(str::to_string),
            namespace: v["namespace"].as_str().map(str::to_string),
            paths,
            managers: strings("managedFieldsManagers"),
        }
    }

    fn applies_to(&self, obj: &Value) -> bool {
        let api = obj["apiVersion"].as_str().unwrap_or("");
        let group = api.rsplit_once('/').map_or("", |(g, _)| g);
        (self.kind.is_empty() || self.kind == "*" || obj["kind"].as_str() == Some(&self.kind))
            && (self.group == "*" || self.group == group)
            && self
                .name
                .as_deref()
                .is_none_or(|n| obj["metadata"]["name"].as_str() == Some(n))
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| obj["metadata"]["namespace"].as_str() == Some(n))
    }

    fn ignores(&self, path: &[String], managers: &[Manager]) -> bool {
        let under = |rule: &Vec<String>| {
            rule.len() <= path.len() && rule.iter().zip(path).all(|(r, p)| r == "*" || r == p)
        };
        self.paths.iter().any(under)
            || (!managers.is_empty() && managers.iter().all(|m| self.managers.contains(&m.manager)))
    }
}

/// The `ignoreDifferences` of the Applications in the repository, by the overlay path they
/// deploy (`spec.source.path`, or each of `spec.sources[].path`).
fn ignore_rules(root: &Path, warnings: &mut Vec<String>) -> BTreeMap<String, Vec<IgnoreRule>> {
    let mut out: BTreeMap<String, Vec<IgnoreRule>> = BTreeMap::new();
    for (_, app) in agentops_tools::argocd::applications_in(root) {
        let spec = &app["spec"];
        let Some(list) = spec["ignoreDifferences"].as_array() else {
            continue;
        };
        let name = app["metadata"]["name"].as_str().unwrap_or("?").to_string();
        let rules: Vec<IgnoreRule> = list
            .iter()
            .map(|v| IgnoreRule::from_value(v, warnings, &name))
            .collect();
        let mut paths: Vec<&str> = spec["source"]["path"].as_str().into_iter().collect();
        if let Some(sources) = spec["sources"].as_array() {
            paths.extend(sources.iter().filter_map(|s| s["path"].as_str()));
        }
        for p in paths {
            out.entry(p.trim_end_matches('/').trim_start_matches("./").to_string())
                .or_default()
                .extend(rules.iter().cloned());
        }
    }
    out
}

/// Renders each target overlay and compares it with `live`.
///
/// Long on purpose: render, match objects, diff them with the Applications'
/// `ignoreDifferences`, and attribute each change (managers, who and when) in one pass.
pub async fn drift(
    root: &Path,
    live: &Live,
    options: &DriftOptions,
) -> Result<DriftReport, String> {
    let dirs = targets(root, options);
    let renders =
        futures_util::future::join_all(dirs.iter().map(|d| render(d, options.timeout))).await;
    let rendered: Vec<Result<Vec<Value>, String>> = renders
        .into_iter()
        .map(|r| r.and_then(|y| parse_objects(&y)))
        .collect();
    let live_objects = match live {
        Live::Dir(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || read_live_dir(&dir))
                .await
                .map_err(|e| e.to_string())??
        }
        Live::Cluster { ctx, context } => {
            let desired: Vec<Value> = rendered.iter().flatten().flatten().cloned().collect();
            agentops_tools::kube::live_objects(ctx, context, &desired)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let live_by_id: BTreeMap<String, &Value> = live_objects
        .iter()
        .filter_map(|o| identity(o).map(|id| (id, o)))
        .collect();
    let mut warnings = Vec::new();
    let ignores = ignore_rules(root, &mut warnings);
    let mut report = DriftReport {
        overlays: Vec::new(),
        summary: DriftSummary::default(),
        note: ATTRIBUTION_NOTE,
        warnings,
    };
    for (dir, rendered) in dirs.iter().zip(rendered) {
        let path = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
        let environment = environment_of(&path);
        let desired = match rendered {
            Ok(d) => d,
            Err(e) => {
                report.summary.failed += 1;
                report.overlays.push(OverlayDrift {
                    path,
                    environment,
                    objects: 0,
                    error: Some(e),
                    drift: Vec::new(),
                    capture_patch: String::new(),
                });
                continue;
            }
        };
        let mut drift = Vec::new();
        let mut captured = Vec::new();
        let desired_ids: BTreeSet<String> = desired.iter().filter_map(identity).collect();
        let namespaces: BTreeSet<&str> = desired
            .iter()
            .filter_map(|o| o["metadata"]["namespace"].as_str())
            .collect();
        let kinds: BTreeSet<&str> = desired.iter().filter_map(|o| o["kind"].as_str()).collect();
        for git in &desired {
            let Some(id) = identity(git) else { continue };
            let Some(live) = live_by_id.get(&id) else {
                drift.push(ObjectDrift {
                    object: display(git),
                    status: DriftKind::MissingInCluster,
                    fields: Vec::new(),
                });
                continue;
            };
            let mut fields = Vec::new();
            compare(
                &normalize(git),
                &normalize(live),
                &mut Vec::new(),
                &mut fields,
            );
            // What the Application deploying this overlay tells Argo CD to ignore.
            let rules: Vec<&IgnoreRule> = ignores
                .get(&path)
                .map(|r| r.iter().filter(|r| r.applies_to(git)).collect())
                .unwrap_or_default();
            let before = fields.len();
            fields.retain(|(p, _, _)| !rules.iter().any(|r| r.ignores(p, &managers_of(live, p))));
            report.summary.ignored += before - fields.len();
            if fields.is_empty() {
                continue;
            }
            drift.push(ObjectDrift {
                object: display(git),
                status: DriftKind::Changed,
                fields: fields
                    .iter()
                    .map(|(p, g, l)| FieldDrift {
                        path: pointer_to_path(p),
                        git: g.clone(),
                        live: l.clone(),
                        managers: managers_of(live, p),
                    })
                    .collect(),
            });
            captured.push((git.clone(), fields));
        }
        for (id, live) in &live_by_id {
            let ns = live["metadata"]["namespace"].as_str().unwrap_or("");
            let kind = live["kind"].as_str().unwrap_or("");
            if !desired_ids.contains(id)
                && namespaces.contains(ns)
                && kinds.contains(kind)
                && !cluster_made(live)
            {
                drift.push(ObjectDrift {
                    object: display(live),
                    status: DriftKind::NotInGit,
                    fields: vec![FieldDrift {
                        path: ".".into(),
                        git: Value::Null,
                        live: Value::Null,
                        managers: managers_of(live, &[]),
                    }],
                });
            }
        }
        report.summary.objects += desired.len();
        report.summary.drifted += drift.len();
        report.overlays.push(OverlayDrift {
            path,
            environment,
            objects: desired.len(),
            error: None,
            drift,
            capture_patch: capture_patch(&captured),
        });
    }
    report.summary.overlays = report.overlays.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_fields_git_sets_count_but_extra_labels_do() {
        let git =
            json!({"metadata": {"name": "a", "labels": {"app": "web"}}, "spec": {"replicas": 2}});
        let live = json!({"metadata": {"name": "a", "labels": {"app": "web", "hotfix": "true", "kubectl.kubernetes.io/x": "y"}},
            "spec": {"replicas": 2, "revisionHistoryLimit": 10}});
        let mut out = Vec::new();
        compare(&git, &live, &mut Vec::new(), &mut out);
        assert_eq!(
            out,
            vec![(
                vec!["metadata".to_string(), "labels".into(), "hotfix".into()],
                Value::Null,
                json!("true")
            )]
        );
    }

    #[test]
    fn managers_are_found_by_field_path() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "argocd-controller", "operation": "Apply", "time": "t1", "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "time": "t2", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]}});
        let who = managers_of(&live, &["spec".into(), "replicas".into()]);
        assert_eq!(
            who.iter().map(|m| m.manager.as_str()).collect::<Vec<_>>(),
            ["argocd-controller", "kubectl-edit"]
        );
        assert!(managers_of(&live, &["spec".into(), "paused".into()]).is_empty());
    }
}

/// Input of the `drift` tool.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftInput {
    /// Only this app (a folder name in the overlay's path).
    #[serde(default)]
    pub app: Option<String>,
    /// Only this environment.
    #[serde(default)]
    pub env: Option<String>,
    /// A folder of the repository holding `kubectl get -o yaml` exports.
    #[serde(default)]
    pub live: Option<String>,
    /// A kubeconfig context to read the live objects from.
    #[serde(default)]
    pub context: Option<String>,
}

/// Drift as a read-only tool for agents.
pub struct DriftTool;

impl agentops_tools::tool::TypedTool for DriftTool {
    type Input = DriftInput;
    const NAME: &'static str = "drift";
    const DESCRIPTION: &'static str = "Compare Git's rendered overlays with the live state (`live`: a folder of kubectl get -o yaml exports in the repository, or `context`: a kubeconfig context): changed fields with their managers, objects missing in the cluster or not in Git, and a patch to capture the cluster's values into Git.";
    const RISK: agentops_tools::Risk = agentops_tools::Risk::ReadOnly;
    fn call(
        &self,
        input: DriftInput,
        ctx: &agentops_tools::ToolContext,
    ) -> futures_util::future::BoxFuture<'static, agentops_tools::ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            use agentops_tools::ToolOutput;
            let live = match (input.live, input.context) {
                (Some(dir), _) => match agentops_tools::path::confine(&ctx.root, &ctx.cwd, &dir) {
                    Ok(p) => Live::Dir(p),
                    Err(e) => return ToolOutput::error(e.to_string()),
                },
                (None, Some(context)) => Live::Cluster {
                    ctx: Box::new(ctx.clone()),
                    context,
                },
                (None, None) => {
                    return ToolOutput::error(
                        "give `live` (a folder of exports) or `context` (a kubeconfig context)",
                    );
                }
            };
            let options = DriftOptions {
                app: input.app,
                env: input.env,
                timeout: ctx.timeout.max(Duration::from_secs(60)),
            };
            match drift(&ctx.root, &live, &options).await {
                Ok(report) => ToolOutput::ok(report.to_text()),
                Err(e) => ToolOutput::error(e),
            }
        })
    }
}
