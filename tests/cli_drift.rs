//! `agentops drift --live DIR` on examples/platform's prometheus dev overlay. The live export
//! is made from a real `kubectl kustomize` render the way a cluster would return it (server
//! fields, status, defaulted fields, managedFields of the Argo CD controller), then edited as
//! people do: replicas changed by `kubectl edit`, a label added by `kubectl label`, a ConfigMap
//! deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, json, stderr, stdout};
use serde_json::{Value, json};
use std::path::Path;

fn rendered(repo: &Path) -> Vec<Value> {
    let out = std::process::Command::new("kubectl")
        .args(["kustomize"])
        .arg(repo.join("apps/prometheus/overlays/dev"))
        .output()
        .unwrap();
    assert!(out.status.success());
    agentops_tools::kustomize::parse_objects(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

/// What the API server returns for an object Argo CD applied.
fn as_live(mut obj: Value, i: usize) -> Value {
    let meta = obj["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!(format!("0000-{i}")));
    meta.insert("resourceVersion".into(), json!(format!("{}", 1000 + i)));
    meta.insert("creationTimestamp".into(), json!("2026-11-20T09:00:00Z"));
    meta.insert("generation".into(), json!(1));
    meta.insert(
        "managedFields".into(),
        json!([{"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T09:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}}}]),
    );
    if obj["kind"] == "Deployment" {
        obj["spec"]["revisionHistoryLimit"] = json!(10);
        obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        obj["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] =
            json!("/dev/termination-log");
        obj["status"] = json!({"replicas": 1, "availableReplicas": 1});
    }
    obj
}

fn write_live(dir: &Path, objects: &[Value]) {
    std::fs::create_dir_all(dir).unwrap();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    // `kubectl get -o json` output (the YAML form reads the same way).
    std::fs::write(
        dir.join("monitoring-dev.json"),
        serde_json::to_string_pretty(&list).unwrap(),
    )
    .unwrap();
}

#[test]
fn identical_live_state_has_no_drift_and_edits_are_reported_with_their_managers() {
    let sb = Sandbox::new();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &sb.repo(),
    );
    let live: Vec<Value> = rendered(&sb.repo())
        .into_iter()
        .enumerate()
        .map(|(i, o)| as_live(o, i))
        .collect();
    let dir = sb.repo().join("../live");
    write_live(&dir, &live);
    let args = [
        "drift",
        "--app",
        "prometheus",
        "--env",
        "dev",
        "--live",
        "../live",
        "--format",
        "json",
    ];
    let out = sb.run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let r = json(&out);
    assert_eq!(r["summary"]["drifted"], 0, "{r}");
    assert_eq!(r["summary"]["objects"], 7);

    // People at work on the cluster.
    let mut edited: Vec<Value> = Vec::new();
    for mut o in live {
        match (
            o["kind"].as_str().unwrap(),
            o["metadata"]["name"].as_str().unwrap(),
        ) {
            ("ConfigMap", _) => continue,
            ("Deployment", _) => {
                o["spec"]["replicas"] = json!(3);
                o["metadata"]["managedFields"].as_array_mut().unwrap().push(
                    json!({"manager": "kubectl-edit",
                    "operation": "Update", "time": "2026-11-25T22:14:03Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
                );
            }
            ("Service", _) => {
                o["metadata"]["labels"]["hotfix"] = json!("true");
                o["metadata"]["managedFields"].as_array_mut().unwrap().push(
                    json!({"manager": "kubectl-label",
                    "operation": "Update", "time": "2026-11-26T07:02:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:hotfix": {}}}}}),
                );
            }
            _ => {}
        }
        edited.push(o);
    }
    write_live(&dir, &edited);
    let out = sb.run(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "drift exits 1: {}",
        stderr(&out)
    );
    let r = json(&out);
    assert_eq!(r["summary"]["drifted"], 3, "{r:#}");
    let drift = r["overlays"][0]["drift"].as_array().unwrap();
    let find = |status: &str| {
        drift
            .iter()
            .find(|d| d["status"] == status)
            .unwrap_or_else(|| panic!("{status}: {drift:?}"))
    };
    let missing = find("missing_in_cluster");
    assert_eq!(
        missing["object"],
        "ConfigMap/monitoring-dev/prometheus-config-dev"
    );
    let changed: Vec<&Value> = drift.iter().filter(|d| d["status"] == "changed").collect();
    assert_eq!(changed.len(), 2);
    let replicas = &changed
        .iter()
        .find(|d| d["object"] == "Deployment/monitoring-dev/prometheus-dev")
        .unwrap()["fields"];
    assert_eq!(
        replicas.as_array().unwrap().len(),
        1,
        "defaulted fields are not drift: {replicas}"
    );
    assert_eq!(replicas[0]["path"], ".spec.replicas");
    assert_eq!(
        (replicas[0]["git"].clone(), replicas[0]["live"].clone()),
        (json!(1), json!(3))
    );
    assert!(
        replicas[0]["managers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "kubectl-edit" && m["time"] == "2026-11-25T22:14:03Z")
    );
    let label = &changed
        .iter()
        .find(|d| d["object"] == "Service/monitoring-dev/prometheus-dev")
        .unwrap()["fields"][0];
    assert_eq!(label["path"], ".metadata.labels.hotfix");
    assert_eq!(label["managers"][0]["manager"], "kubectl-label");
    // Capturing into Git: a patch with the cluster's values.
    let patch = r["overlays"][0]["capture_patch"].as_str().unwrap();
    assert!(
        patch.contains("replicas: 3") && patch.contains("hotfix: 'true'")
            || patch.contains("hotfix: \"true\""),
        "{patch}"
    );
    assert!(
        r["note"].as_str().unwrap().contains("not a person")
            || r["note"].as_str().unwrap().contains("audit log")
    );

    let text = sb.run(&args[..args.len() - 2]);
    let shown = stdout(&text);
    assert!(
        shown.contains("    .spec.replicas: git 1 → live 3  by argocd-controller")
            || shown.contains("by kubectl-edit (Update 2026-11-25T22:14:03Z)"),
        "{shown}"
    );

    // The Application that deploys the overlay tells Argo CD what to ignore; drift honours it:
    // replicas by JSON pointer (an HPA owns them), the label by its manager.
    let app = sb.repo().join("argocd/nonprod/prometheus-dev.yaml");
    let mut text = std::fs::read_to_string(&app).unwrap();
    text.push_str(
        "  ignoreDifferences:\n    - group: apps\n      kind: Deployment\n      jsonPointers:\n        - /spec/replicas\n    - group: \"\"\n      kind: Service\n      managedFieldsManagers:\n        - kubectl-label\n",
    );
    std::fs::write(&app, text).unwrap();
    let out = sb.run(&args);
    let r = json(&out);
    assert_eq!(r["summary"]["ignored"], 2, "{r:#}");
    assert_eq!(
        r["summary"]["drifted"], 1,
        "only the missing ConfigMap is left: {r:#}"
    );
    assert_eq!(r["overlays"][0]["drift"][0]["status"], "missing_in_cluster");
    assert_eq!(out.status.code(), Some(1));
}

/// `--context`: the live objects come from a cluster (the **fake** API server of
/// agentops-testkit), read with the named context only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_against_a_cluster_context() {
    let sb = Sandbox::new();
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &sb.repo(),
    );
    let cluster = agentops_testkit::kube::FakeKubeServer::start().await;
    let kubeconfig = cluster.kubeconfig(&sb.home(), "dev-cluster");
    sb.write(
        "agentops.toml",
        format!("[kubernetes]\nkubeconfig = \"{}\"\n", kubeconfig.display()),
    );
    for mut obj in rendered(&sb.repo()) {
        if obj["kind"] == "Deployment" {
            obj["spec"]["replicas"] = json!(2);
        }
        if obj["kind"] != "ConfigMap" {
            cluster.insert(obj, "argocd-controller");
        }
    }
    let out = sb.run(&[
        "drift",
        "--app",
        "prometheus",
        "--env",
        "dev",
        "--context",
        "dev-cluster",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    let drift = r["overlays"][0]["drift"].as_array().unwrap();
    let summary: Vec<(String, String)> = drift
        .iter()
        .map(|d| {
            (
                d["object"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "ConfigMap/monitoring-dev/prometheus-config-dev".to_string(),
                "missing_in_cluster".to_string()
            ),
            (
                "Deployment/monitoring-dev/prometheus-dev".to_string(),
                "changed".to_string()
            ),
        ]
    );
    let out = sb.run(&["drift", "--context", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("context `nope` is not in the kubeconfig"),
        "{}",
        stderr(&out)
    );
}
