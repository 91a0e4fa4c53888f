//! A few lines per rendered object with what a reviewer asks first: replicas, each container's
//! image and resources (saying so when limits are missing), storage, service ports, selectors.
//! What a small model gets before it reviews or explains an overlay, so it quotes facts instead
//! of reading hundreds of YAML lines. Secret values never appear: a Secret shows its keys only.

use serde_json::Value;

/// One line per object (at most `limit` objects), `- Kind/name (namespace ns): facts`.
pub fn digest(objects: &[Value], limit: usize) -> String {
    let mut out = String::new();
    for object in objects.iter().take(limit) {
        let kind = object["kind"].as_str().unwrap_or("?");
        let name = object["metadata"]["name"].as_str().unwrap_or("?");
        let mut facts: Vec<String> = Vec::new();
        let spec = &object["spec"];
        if let Some(n) = spec["replicas"].as_u64() {
            facts.push(format!("replicas {n}"));
        }
        let pod = if spec["jobTemplate"].is_object() {
            &spec["jobTemplate"]["spec"]["template"]["spec"]
        } else if kind == "Pod" {
            spec
        } else {
            &spec["template"]["spec"]
        };
        for key in ["initContainers", "containers"] {
            for c in pod[key].as_array().into_iter().flatten() {
                facts.push(container(c, key == "initContainers"));
            }
        }
        for claim in spec["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            facts.push(format!(
                "volumeClaimTemplate {} {}",
                claim["metadata"]["name"].as_str().unwrap_or("?"),
                claim["spec"]["resources"]["requests"]["storage"]
                    .as_str()
                    .unwrap_or("(no size)")
            ));
        }
        match kind {
            "PersistentVolumeClaim" => facts.push(format!(
                "storage {}",
                spec["resources"]["requests"]["storage"]
                    .as_str()
                    .unwrap_or("(no size)")
            )),
            "Service" => {
                let ports: Vec<String> = spec["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["port"].as_u64().map(|n| n.to_string()))
                    .collect();
                facts.push(format!(
                    "type {}, ports {}",
                    spec["type"].as_str().unwrap_or("ClusterIP"),
                    ports.join(", ")
                ));
            }
            "NetworkPolicy" => facts.push(format!(
                "podSelector {}, policyTypes {}",
                compact(&spec["podSelector"]),
                compact(&spec["policyTypes"])
            )),
            "Secret" => {
                let keys: Vec<&str> = ["data", "stringData"]
                    .iter()
                    .filter_map(|k| object[*k].as_object())
                    .flat_map(|m| m.keys().map(String::as_str))
                    .collect();
                facts.push(format!("keys {} (values not shown)", keys.join(", ")));
            }
            "ConfigMap" => {
                let keys: Vec<&str> = object["data"]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys().map(String::as_str))
                    .collect();
                facts.push(format!("keys {}", keys.join(", ")));
            }
            "PodDisruptionBudget" => {
                for k in ["minAvailable", "maxUnavailable"] {
                    if !spec[k].is_null() {
                        facts.push(format!("{k} {}", compact(&spec[k])));
                    }
                }
            }
            _ => {}
        }
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .map(|ns| format!(" (namespace {ns})"))
            .unwrap_or_default();
        out.push_str(&format!("- {kind}/{name}{namespace}"));
        if !facts.is_empty() {
            out.push_str(": ");
            out.push_str(&facts.join("; "));
        }
        out.push('\n');
    }
    if objects.len() > limit {
        out.push_str(&format!("- … and {} more objects\n", objects.len() - limit));
    }
    out
}

fn container(c: &Value, init: bool) -> String {
    let resources = |class: &str| -> Option<String> {
        let map = c["resources"][class].as_object()?;
        (!map.is_empty()).then(|| {
            map.iter()
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    format!(
        "{}container {} image {}, requests {}, limits {}",
        if init { "init " } else { "" },
        c["name"].as_str().unwrap_or("?"),
        c["image"].as_str().unwrap_or("(none)"),
        resources("requests").unwrap_or_else(|| "(none)".into()),
        resources("limits").unwrap_or_else(|| "NONE (no resources.limits)".into()),
    )
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_digest_says_what_a_reviewer_asks_first_and_no_secret_value() {
        let objects = vec![
            json!({"kind": "StatefulSet", "metadata": {"name": "postgres-prod", "namespace": "data-prod"},
                "spec": {"replicas": 1, "template": {"spec": {"containers": [
                    {"name": "postgres", "image": "postgres:16.4", "resources": {"requests": {"cpu": "250m"}}}
                ]}}, "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"resources": {"requests": {"storage": "100Gi"}}}}]}}),
            json!({"kind": "Secret", "metadata": {"name": "creds"}, "data": {"password": "aHVudGVyMg=="}}),
        ];
        let text = digest(&objects, 10);
        assert!(text.contains("- StatefulSet/postgres-prod (namespace data-prod): replicas 1; container postgres image postgres:16.4, requests cpu=250m, limits NONE (no resources.limits); volumeClaimTemplate data 100Gi\n"), "{text}");
        assert!(
            text.contains("- Secret/creds: keys password (values not shown)"),
            "{text}"
        );
        assert!(!text.contains("aHVudGVyMg"), "{text}");
        assert!(digest(&objects, 1).contains("… and 1 more objects"));
    }
}
