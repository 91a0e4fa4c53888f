//! Compliance as code: rules checked on rendered manifests, configurable in agentops.toml.
//!
//! ```toml
//! [policy]
//! approved_registries = ["registry.example.com/", "quay.io/prometheus/"]
//! required_labels = ["app.kubernetes.io/name"]
//! [policy.severity]          # error | warn | off
//! resource-limits = "error"
//! ```
//!
//! Rules: `schema` (the object matches its Kubernetes or CRD schema, unknown fields
//! included), `schema-unknown-kind` (no schema is held for it), `resource-limits` (every container has `resources.limits`), `approved-registries`
//! (images start with an approved prefix; off while the list is empty),
//! `namespace-networkpolicy` (every namespace with workloads in the bundle has a
//! NetworkPolicy in it), `required-labels` (on every object; off while the list is empty),
//! `kustomize-deprecation` (kustomize's own deprecation warnings).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Off,
    Warn,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Off => "off",
            Severity::Warn => "warn",
            Severity::Error => "error",
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub approved_registries: Vec<String>,
    pub required_labels: Vec<String>,
    /// Per-rule severity overrides.
    pub severity: BTreeMap<String, Severity>,
    /// Overrides for some overlays only; the last matching scope wins.
    pub scope: Vec<PolicyScope>,
}

/// `[[policy.scope]]`: severities for overlays matching `paths` (globs relative to the
/// validated folder) and/or `envs` (a folder name in the overlay's path, e.g. `prod`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyScope {
    pub paths: Vec<String>,
    pub envs: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
}

impl PolicyScope {
    fn matches(&self, file: &str) -> bool {
        let path_ok = self.paths.is_empty()
            || self
                .paths
                .iter()
                .any(|p| globset::Glob::new(p).is_ok_and(|g| g.compile_matcher().is_match(file)));
        let env_ok = self.envs.is_empty()
            || file
                .split('/')
                .any(|part| self.envs.iter().any(|e| e == part));
        path_ok && env_ok
    }
}

pub const RULES: &[(&str, Severity)] = &[
    ("schema", Severity::Error),
    ("schema-unknown-kind", Severity::Warn),
    ("resource-limits", Severity::Error),
    ("approved-registries", Severity::Error),
    ("namespace-networkpolicy", Severity::Warn),
    ("required-labels", Severity::Warn),
    ("kustomize-deprecation", Severity::Warn),
    ("argocd-app-path", Severity::Error),
];

impl PolicyConfig {
    /// The severity of `rule` for findings in overlay `file`, scopes applied.
    pub fn severity_for(&self, rule: &str, file: &str) -> Severity {
        self.scope
            .iter()
            .rev()
            .filter(|s| s.matches(file))
            .find_map(|s| s.severity.get(rule).copied())
            .unwrap_or_else(|| self.severity(rule))
    }

    pub fn severity(&self, rule: &str) -> Severity {
        if let Some(s) = self.severity.get(rule) {
            return *s;
        }
        match rule {
            "approved-registries" if self.approved_registries.is_empty() => Severity::Off,
            "required-labels" if self.required_labels.is_empty() => Severity::Off,
            _ => RULES
                .iter()
                .find(|(r, _)| *r == rule)
                .map_or(Severity::Warn, |(_, s)| *s),
        }
    }
}

/// One policy finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// The overlay (folder) whose render produced the object.
    pub file: String,
    /// `Kind/namespace/name` (namespace left out for cluster-scoped objects).
    pub object: String,
    pub message: String,
}

/// The workload kinds whose pod template is checked, and where the pod spec is.
fn pod_spec(obj: &Value) -> Option<&Value> {
    match obj.get("kind")?.as_str()? {
        "Pod" => obj.get("spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => obj.pointer("/spec/template/spec"),
        "CronJob" => obj.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

pub fn object_id(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Checks the objects one overlay rendered to.
pub fn check(config: &PolicyConfig, file: &str, objects: &[Value]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |rule: &str, object: String, message: String| {
        let severity = config.severity_for(rule, file);
        if severity != Severity::Off {
            out.push(Finding {
                rule: rule.to_string(),
                severity,
                file: file.to_string(),
                object,
                message,
            });
        }
    };
    let mut workload_namespaces = BTreeSet::new();
    let mut policy_namespaces = BTreeSet::new();
    for obj in objects {
        let id = object_id(obj);
        let namespace = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        if obj.get("kind").and_then(Value::as_str) == Some("NetworkPolicy") {
            policy_namespaces.insert(namespace.to_string());
        }
        for label in &config.required_labels {
            if obj
                .pointer("/metadata/labels")
                .and_then(|l| l.get(label))
                .is_none()
            {
                push(
                    "required-labels",
                    id.clone(),
                    format!("label `{label}` is missing"),
                );
            }
        }
        let Some(spec) = pod_spec(obj) else { continue };
        workload_namespaces.insert(namespace.to_string());
        for list in ["initContainers", "containers"] {
            for c in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                let limits = c.pointer("/resources/limits").and_then(Value::as_object);
                if limits.is_none_or(|l| l.is_empty()) {
                    push(
                        "resource-limits",
                        id.clone(),
                        format!(
                            "container `{name}` has no resources.limits; set cpu and memory limits"
                        ),
                    );
                }
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                if !config.approved_registries.is_empty()
                    && !config
                        .approved_registries
                        .iter()
                        .any(|r| image.starts_with(r.as_str()))
                {
                    push(
                        "approved-registries",
                        id.clone(),
                        format!(
                            "container `{name}` uses image `{image}` from a registry not in [policy] approved_registries"
                        ),
                    );
                }
            }
        }
    }
    for ns in workload_namespaces.difference(&policy_namespaces) {
        push(
            "namespace-networkpolicy",
            format!("Namespace/{ns}"),
            format!("namespace `{ns}` runs workloads but this bundle has no NetworkPolicy for it"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(ns: &str, limits: bool, image: &str) -> Value {
        let mut c = json!({"name": "app", "image": image});
        if limits {
            c["resources"] = json!({"limits": {"cpu": "1", "memory": "1Gi"}});
        }
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
               "spec": {"template": {"spec": {"containers": [c]}}}})
    }

    #[test]
    fn limits_registries_networkpolicies_and_labels() {
        let config = PolicyConfig {
            approved_registries: vec!["registry.example.com/".into()],
            required_labels: vec!["team".into()],
            ..PolicyConfig::default()
        };
        let objs = vec![
            deployment("a", false, "docker.io/nginx:1"),
            deployment("b", true, "registry.example.com/web:1"),
            json!({"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "b", "labels": {"team": "x"}}}),
        ];
        let f = check(&config, "apps/web/overlays/dev", &objs);
        let rules: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.rule.as_str(), f.object.as_str()))
            .collect();
        assert_eq!(
            rules,
            [
                ("required-labels", "Deployment/a/web"),
                ("resource-limits", "Deployment/a/web"),
                ("approved-registries", "Deployment/a/web"),
                ("required-labels", "Deployment/b/web"),
                ("namespace-networkpolicy", "Namespace/a"),
            ]
        );
        assert_eq!(f[1].severity, Severity::Error);
        assert_eq!(f[4].severity, Severity::Warn);
    }

    #[test]
    fn scopes_by_path_and_environment() {
        let mut config = PolicyConfig::default();
        config.scope.push(PolicyScope {
            paths: vec!["apps/legacy/**".into()],
            envs: vec![],
            severity: [("resource-limits".to_string(), Severity::Off)].into(),
        });
        config.scope.push(PolicyScope {
            paths: vec![],
            envs: vec!["dev".into()],
            severity: [("resource-limits".to_string(), Severity::Warn)].into(),
        });
        assert_eq!(
            config.severity_for("resource-limits", "apps/web/overlays/prod"),
            Severity::Error
        );
        assert_eq!(
            config.severity_for("resource-limits", "apps/web/overlays/dev"),
            Severity::Warn
        );
        assert_eq!(
            config.severity_for("resource-limits", "apps/legacy/overlays/prod"),
            Severity::Off
        );
        assert_eq!(
            config.severity_for("resource-limits", "apps/legacy/overlays/dev"),
            Severity::Warn,
            "the last match wins"
        );
        let objs = vec![deployment("a", false, "x:1")];
        assert!(
            check(&config, "apps/legacy/overlays/prod", &objs)
                .iter()
                .all(|f| f.rule != "resource-limits")
        );
    }

    #[test]
    fn off_by_default_or_by_config() {
        let mut config = PolicyConfig::default();
        let objs = vec![deployment("a", true, "anything:1")];
        let f = check(&config, "x", &objs);
        assert_eq!(f.len(), 1, "only the NetworkPolicy rule: {f:?}");
        config
            .severity
            .insert("namespace-networkpolicy".into(), Severity::Off);
        assert!(check(&config, "x", &objs).is_empty());
    }
}
