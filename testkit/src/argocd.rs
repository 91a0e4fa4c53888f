//! A **fake** Argo CD API server on 127.0.0.1: `GET /api/v1/applications/{name}`,
//! `GET /api/v1/applications/{name}/managed-resources` and `POST .../sync`, with bearer-token
//! auth, in the shapes of Argo CD's REST API (states as JSON strings, as Argo CD sends them).
//! A sync makes every live state equal its target and prunes what `requiresPruning`.

use crate::http::{RawRequest, read_request, respond};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One managed resource: its target (Git) and live (cluster) state.
#[derive(Debug, Clone)]
pub struct Managed {
    pub target: Option<Value>,
    pub live: Option<Value>,
}

#[derive(Default)]
struct State {
    apps: BTreeMap<String, (Value, Vec<Managed>)>,
    requests: Vec<RawRequest>,
}

pub struct FakeArgoCd {
    addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeArgoCd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeArgoCd {
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let expected = format!("Bearer {token}");
        let (addr, task) = crate::http::serve(move |mut stream| {
            let state = shared.clone();
            let expected = expected.clone();
            async move {
                let Ok(Some(request)) = read_request(&mut stream).await else {
                    return;
                };
                let (code, body) = if request.header("authorization") == Some(expected.as_str()) {
                    handle(&state, &request)
                } else {
                    (401, json!({"error": "invalid session: token is invalid", "code": 16, "message": "invalid session: token is invalid"}))
                };
                state.lock().unwrap().requests.push(request);
                let bytes = serde_json::to_vec(&body).unwrap();
                let _ = respond(&mut stream, code, "application/json", &bytes).await;
            }
        })
        .await;
        Self {
            addr,
            token: token.to_string(),
            state,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Adds an Application deploying to `namespace` of cluster `cluster` with these resources.
    pub fn add_app(&self, name: &str, cluster: &str, namespace: &str, resources: Vec<Managed>) {
        let synced = resources.iter().all(|m| m.target == m.live);
        let app = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default",
                "source": {"repoURL": "https://git.example.com/platform.git", "path": format!("apps/web/overlays/{namespace}"), "targetRevision": "main"},
                "destination": {"name": cluster, "namespace": namespace}},
            "status": {"sync": {"status": if synced { "Synced" } else { "OutOfSync" }, "revision": "4f1c2e9"},
                "health": {"status": "Healthy"}, "resources": []}
        });
        self.state
            .lock()
            .unwrap()
            .apps
            .insert(name.to_string(), (app, resources));
    }

    pub fn app(&self, name: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .apps
            .get(name)
            .map(|(a, _)| a.clone())
    }

    pub fn requests(&self) -> Vec<RawRequest> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn id(obj: &Value) -> (String, String, String, String) {
    let api = obj["apiVersion"].as_str().unwrap_or("");
    let group = api.split_once('/').map_or("", |(g, _)| g).to_string();
    (
        group,
        obj["kind"].as_str().unwrap_or("").to_string(),
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

fn handle(state: &Arc<Mutex<State>>, req: &RawRequest) -> (u16, Value) {
    let parts: Vec<&str> = req.path().split('/').filter(|p| !p.is_empty()).collect();
    let not_found = |name: &str| {
        (
            404,
            json!({"error": format!("applications.argoproj.io \"{name}\" not found"), "code": 5,
            "message": format!("applications.argoproj.io \"{name}\" not found")}),
        )
    };
    let mut s = state.lock().unwrap();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["api", "v1", "applications", name]) => match s.apps.get(*name) {
            Some((app, _)) => (200, app.clone()),
            None => not_found(name),
        },
        ("GET", ["api", "v1", "applications", name, "managed-resources"]) => {
            match s.apps.get(*name) {
                Some((_, resources)) => {
                    let items: Vec<Value> = resources
                    .iter()
                    .map(|m| {
                        let obj = m.target.as_ref().or(m.live.as_ref()).cloned().unwrap_or(Value::Null);
                        let (group, kind, namespace, name) = id(&obj);
                        let state = |v: &Option<Value>| v.as_ref().map_or("null".to_string(), Value::to_string);
                        json!({"group": group, "kind": kind, "namespace": namespace, "name": name,
                            "targetState": state(&m.target), "liveState": state(&m.live),
                            "normalizedLiveState": state(&m.live), "predictedLiveState": state(&m.target),
                            "requiresPruning": m.target.is_none()})
                    })
                    .collect();
                    (200, json!({"items": items}))
                }
                None => not_found(name),
            }
        }
        ("POST", ["api", "v1", "applications", name, "sync"]) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let Some((app, resources)) = s.apps.get_mut(*name) else {
                return not_found(name);
            };
            let prune = body["prune"].as_bool().unwrap_or(false);
            if body["dryRun"].as_bool() != Some(true) {
                resources.retain(|m| m.target.is_some() || !prune);
                for m in resources.iter_mut() {
                    if m.target.is_some() {
                        m.live = m.target.clone();
                    }
                }
                let synced = resources.iter().all(|m| m.target == m.live);
                app["status"]["sync"]["status"] =
                    json!(if synced { "Synced" } else { "OutOfSync" });
                app["status"]["operationState"] = json!({"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                    "syncResult": {"revision": body["revision"].as_str().unwrap_or("4f1c2e9")}});
            }
            (200, app.clone())
        }
        _ => (
            404,
            json!({"error": "Not Found", "code": 5, "message": "Not Found"}),
        ),
    }
}
