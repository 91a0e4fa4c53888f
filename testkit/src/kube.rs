//! A **fake** Kubernetes API server on 127.0.0.1: discovery (`/api`, `/apis`, resource lists),
//! get/list, server-side apply (`PATCH` with `application/apply-patch+yaml`, `dryRun=All`,
//! `fieldManager`, `force`), delete, and `Status` errors — the wire protocol kube-rs and
//! kubectl speak. Objects live in memory. A fake controller marks workloads rolled out at once
//! (or never, with [`FakeKubeServer::stall_rollouts`]). It is not a cluster: no admission, no
//! defaulting beyond `metadata`, and apply merges objects field by field instead of tracking
//! field ownership.

use crate::http::{RawRequest, read_request, respond};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// (group, version, kind, plural, namespaced)
type Resource = (&'static str, &'static str, &'static str, &'static str, bool);

const RESOURCES: &[Resource] = &[
    ("", "v1", "Namespace", "namespaces", false),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("", "v1", "Pod", "pods", true),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("", "v1", "ResourceQuota", "resourcequotas", true),
    ("batch", "v1", "Job", "jobs", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
    ),
    (
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        "servicemonitors",
        true,
    ),
    (
        "argoproj.io",
        "v1alpha1",
        "Application",
        "applications",
        true,
    ),
];

/// The time the fake writes into `managedFields` and `creationTimestamp`.
pub const FAKE_TIME: &str = "2026-11-26T12:00:00Z";

#[derive(Default)]
struct State {
    /// `group/version/plural/namespace/name` → object.
    objects: BTreeMap<String, Value>,
    requests: Vec<RawRequest>,
    next_version: u64,
    stalled: bool,
}

pub struct FakeKubeServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKubeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(group: &str, version: &str, plural: &str, ns: &str, name: &str) -> String {
    format!("{group}/{version}/{plural}/{ns}/{name}")
}

fn resource_of(api_version: &str, kind: &str) -> Option<&'static Resource> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    RESOURCES
        .iter()
        .find(|r| r.0 == group && r.1 == version && r.2 == kind)
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

impl FakeKubeServer {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            next_version: 1000,
            ..State::default()
        }));
        let shared = state.clone();
        let (addr, task) = crate::http::serve(move |mut stream| {
            let state = shared.clone();
            async move {
                let Ok(Some(request)) = read_request(&mut stream).await else {
                    return;
                };
                let (code, body) = handle(&state, &request);
                state.lock().unwrap().requests.push(request);
                let bytes = serde_json::to_vec(&body).unwrap();
                let _ = respond(&mut stream, code, "application/json", &bytes).await;
            }
        })
        .await;
        Self { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig with `context` pointing here and a current-context (`decoy`) that
    /// points at a closed port: a tool that used the current context would fail.
    pub fn kubeconfig(&self, dir: &Path, context: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: decoy\nclusters:\n- name: fake\n  cluster:\n    server: {}\n- name: decoy\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: {context}\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n- name: decoy\n  context:\n    cluster: decoy\n    user: fake\nusers:\n- name: fake\n  user:\n    token: fake-token-not-secret\n",
            self.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Stores an object as if applied by `manager` (`kubectl-client-side-apply`, …).
    pub fn insert(&self, mut obj: Value, manager: &str) {
        let mut s = self.state.lock().unwrap();
        let (k, _) = object_key(&obj).unwrap();
        s.next_version += 1;
        stamp(&mut obj, None, manager, "Update", s.next_version);
        controller(&mut obj, s.stalled);
        s.objects.insert(k, obj);
    }

    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let r = resource_of(api_version, kind)?;
        let ns = if r.4 { ns } else { "" };
        self.state
            .lock()
            .unwrap()
            .objects
            .get(&key(r.0, r.1, r.3, ns, name))
            .cloned()
    }

    pub fn objects(&self) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .values()
            .cloned()
            .collect()
    }

    pub fn requests(&self) -> Vec<RawRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// From now on, workloads never finish rolling out.
    pub fn stall_rollouts(&self) {
        self.state.lock().unwrap().stalled = true;
    }
}

fn object_key(obj: &Value) -> Option<(String, &'static Resource)> {
    let r = resource_of(obj["apiVersion"].as_str()?, obj["kind"].as_str()?)?;
    let ns = if r.4 {
        obj["metadata"]["namespace"].as_str().unwrap_or("default")
    } else {
        ""
    };
    Some((key(r.0, r.1, r.3, ns, obj["metadata"]["name"].as_str()?), r))
}

/// Server-side fields: uid, resourceVersion, generation, creationTimestamp, managedFields.
fn stamp(obj: &mut Value, old: Option<&Value>, manager: &str, operation: &str, version: u64) {
    let spec_changed = old.is_none_or(|o| o.get("spec") != obj.get("spec"));
    let api = obj["apiVersion"].clone();
    let meta = obj["metadata"].as_object_mut().unwrap();
    let old_meta = old.map(|o| o["metadata"].clone()).unwrap_or(Value::Null);
    meta.insert(
        "uid".into(),
        old_meta
            .get("uid")
            .cloned()
            .unwrap_or_else(|| json!(format!("uid-{version}"))),
    );
    meta.insert("resourceVersion".into(), json!(version.to_string()));
    meta.insert(
        "creationTimestamp".into(),
        old_meta
            .get("creationTimestamp")
            .cloned()
            .unwrap_or(json!(FAKE_TIME)),
    );
    let generation = old_meta
        .get("generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        + i64::from(spec_changed);
    meta.insert("generation".into(), json!(generation.max(1)));
    let mut managed: Vec<Value> = old_meta
        .get("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    managed.retain(|m| m["manager"] != manager);
    managed.push(json!({"manager": manager, "operation": operation,
        "apiVersion": api, "time": FAKE_TIME,
        "fieldsType": "FieldsV1", "fieldsV1": {}}));
    meta.insert("managedFields".into(), Value::Array(managed));
}

/// The fake controller: workloads report their rollout done (unless stalled).
fn controller(obj: &mut Value, stalled: bool) {
    let kind = obj["kind"].as_str().unwrap_or("");
    if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet") {
        return;
    }
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let generation = obj["metadata"]["generation"].clone();
    let ready = if stalled { 0 } else { replicas };
    obj["status"] = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": ready,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": ready,
        "numberReady": ready,
        "desiredNumberScheduled": replicas,
        "updatedNumberScheduled": ready,
        "numberAvailable": ready,
    });
}

/// Applied fields win; objects merge key by key; lists are replaced.
fn merge(base: &mut Value, applied: &Value) {
    match (base, applied) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in a {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, a) => *b = a.clone(),
    }
}

// Long on purpose: one match over the fake API server's routes (discovery, get, list,
// dry-run and server-side apply, delete), so a test reader sees the whole route table at once.
fn handle(state: &Arc<Mutex<State>>, req: &RawRequest) -> (u16, Value) {
    let path = req.path().trim_end_matches('/').to_string();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["api"] => {
            return (
                200,
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
            );
        }
        ["apis"] => {
            let mut groups: Vec<&str> = RESOURCES
                .iter()
                .map(|r| r.0)
                .filter(|g| !g.is_empty())
                .collect();
            groups.sort_unstable();
            groups.dedup();
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let v = RESOURCES
                        .iter()
                        .find(|r| r.0 == *g)
                        .map(|r| r.1)
                        .unwrap_or("v1");
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "preferredVersion": &gv, "versions": [&gv]})
                })
                .collect();
            return (
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            );
        }
        ["version"] => {
            return (
                200,
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake"}),
            );
        }
        _ => {}
    }
    // /api/v1/... or /apis/{group}/{version}/...
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return status(
                404,
                "NotFound",
                &format!("the server could not find the requested resource ({path})"),
            );
        }
    };
    if rest.is_empty() {
        let resources: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.0 == group && r.1 == version)
            .map(|r| json!({"name": r.3, "singularName": r.2.to_lowercase(), "namespaced": r.4, "kind": r.2,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}))
            .collect();
        if resources.is_empty() {
            return status(404, "NotFound", &format!("no API group {group}/{version}"));
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        return (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        );
    }
    let (ns, plural, name) = match rest {
        ["namespaces", ns, plural] => (*ns, *plural, None),
        ["namespaces", ns, plural, name] => (*ns, *plural, Some(*name)),
        [plural] => ("", *plural, None),
        [plural, name] => ("", *plural, Some(*name)),
        _ => return status(404, "NotFound", "unknown path"),
    };
    // `/api/v1/namespaces/NAME` is the namespace itself.
    let (ns, plural, name) = if rest.len() == 2 && rest[0] == "namespaces" {
        ("", "namespaces", Some(rest[1]))
    } else {
        (ns, plural, name)
    };
    let Some(r) = RESOURCES
        .iter()
        .find(|r| r.0 == group && r.1 == version && r.3 == plural)
    else {
        return status(
            404,
            "NotFound",
            &format!("the server doesn't have a resource type \"{plural}\""),
        );
    };
    let ns = if r.4 { ns } else { "" };
    let mut s = state.lock().unwrap();
    match (req.method.as_str(), name) {
        ("GET", None) => {
            let prefix = if ns.is_empty() && r.4 {
                format!("{group}/{version}/{plural}/")
            } else {
                key(group, version, plural, ns, "")
            };
            let items: Vec<Value> = s
                .objects
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.clone())
                .collect();
            let api = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            (
                200,
                json!({"kind": format!("{}List", r.2), "apiVersion": api,
                "metadata": {"resourceVersion": s.next_version.to_string()}, "items": items}),
            )
        }
        ("GET", Some(name)) => match s.objects.get(&key(group, version, plural, ns, name)) {
            Some(obj) => (200, obj.clone()),
            None => status(
                404,
                "NotFound",
                &format!("{plural}.{group} \"{name}\" not found"),
            ),
        },
        ("DELETE", Some(name)) => match s.objects.remove(&key(group, version, plural, ns, name)) {
            Some(obj) => (200, obj),
            None => status(
                404,
                "NotFound",
                &format!("{plural}.{group} \"{name}\" not found"),
            ),
        },
        ("PATCH", Some(name)) => {
            let content_type = req.header("content-type").unwrap_or("");
            if !content_type.starts_with("application/apply-patch") {
                return status(
                    415,
                    "UnsupportedMediaType",
                    "the fake only supports server-side apply",
                );
            }
            let Some(manager) = req.query("fieldManager") else {
                return status(422, "Invalid", "PATCH with apply requires fieldManager");
            };
            let Ok(applied) = serde_json::from_slice::<Value>(&req.body) else {
                return status(400, "BadRequest", "the apply body is not JSON");
            };
            if applied["metadata"]["name"] != name || applied["kind"] != r.2 {
                return status(
                    400,
                    "BadRequest",
                    "the body's name or kind does not match the URL",
                );
            }
            let k = key(group, version, plural, ns, name);
            let old = s.objects.get(&k).cloned();
            if let Some(o) = &old
                && req.query("force").as_deref() != Some("true")
            {
                let others: Vec<&str> = o["metadata"]["managedFields"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(|m| m["manager"].as_str())
                            .filter(|m| *m != manager)
                            .collect()
                    })
                    .unwrap_or_default();
                if !others.is_empty() {
                    return status(
                        409,
                        "Conflict",
                        &format!(
                            "Apply failed with conflicts: fields are managed by {}",
                            others.join(", ")
                        ),
                    );
                }
            }
            let mut obj = old
                .clone()
                .unwrap_or_else(|| json!({"metadata": Map::new()}));
            merge(&mut obj, &applied);
            if r.4 {
                obj["metadata"]["namespace"] = json!(ns);
            }
            let version_n = s.next_version + 1;
            stamp(&mut obj, old.as_ref(), &manager, "Apply", version_n);
            controller(&mut obj, s.stalled);
            if req.query("dryRun").as_deref() != Some("All") {
                s.next_version = version_n;
                s.objects.insert(k, obj.clone());
            }
            (if old.is_some() { 200 } else { 201 }, obj)
        }
        _ => status(
            405,
            "MethodNotAllowed",
            &format!("{} is not supported by the fake", req.method),
        ),
    }
}
