//! Ready-to-copy steps for requests that have no path to find: `create_app` for a new app, and
//! `harmonize` for what no overlay has yet — a label on
//! every object, a container's resource requests and limits — read off the request where it
//! says so unambiguously: the app (a folder of the overlay paths the request names), the
//! environments, the label or the quantities. A small model that cannot find a path for a
//! value that does not exist copies these instead. Nothing is suggested when anything is
//! unclear; the request then goes to the model as written.

use crate::find::{Field, envs_named, group, sentences};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// The harmonize arguments that make an "add" request, in order (empty: none fits).
pub fn adds(fields: &[Field], request: &str) -> Vec<Value> {
    let overlays: BTreeSet<&str> = fields.iter().map(|f| f.overlay.as_str()).collect();
    let Some(app) = app_named(&overlays, request) else {
        return Vec::new();
    };
    let in_app: BTreeSet<&str> = overlays
        .iter()
        .copied()
        .filter(|o| o.split('/').any(|p| p == app))
        .collect();
    let envs: BTreeSet<&str> = in_app.iter().filter_map(|o| o.rsplit('/').next()).collect();
    let Some(env) = envs_named(request, &envs) else {
        return Vec::new();
    };
    // With one overlay, its last folder is the app itself, not an environment.
    let env = if in_app.len() == 1 { Vec::new() } else { env };
    let mut out = Vec::new();
    if let Some((key, value)) = label(request) {
        out.push(json!({"set": format!("label:{key}={value}"), "app": app, "env": env}));
        return out;
    }
    let quantities = resources(request);
    if quantities.is_empty() {
        return out;
    }
    let Some(container) = container(fields, &in_app, request) else {
        return out;
    };
    for (class, resource, quantity) in quantities {
        out.push(json!({
            "set": format!("{container}.resources.{class}.{resource}={quantity}"),
            "app": app,
            "env": env,
        }));
    }
    out
}

/// The `create_app` arguments a request to scaffold an app gives: its name ("called X",
/// "named X"), namespace, image (a whole reference), the template its words point to, and the
/// environments it names of `known` (not those it rules out: "no prod yet"). `None` without a
/// name.
pub fn create(request: &str, overlays: &BTreeSet<&str>) -> Option<Value> {
    let known: BTreeSet<&str> = overlays
        .iter()
        .filter_map(|o| o.rsplit('/').next())
        .collect();
    let lower = request.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &[&str]| words.iter().any(|x| w.contains(x));
    // A new app, not something new in an app that exists ("a NetworkPolicy named …").
    let new_app = has(&["scaffold", "create", "new", "bootstrap", "onboard"])
        && has(&[
            "app",
            "service",
            "application",
            "database",
            "db",
            "microservice",
        ])
        && !has(&[
            "overlay",
            "overlays",
            "patch",
            "label",
            "labels",
            "networkpolicy",
            "configmap",
            "ingress",
            "hpa",
            "pdb",
            "cronjob",
            "job",
        ]);
    if !new_app {
        return None;
    }
    static NAME: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(?:called|named)\s+`?([a-z0-9][a-z0-9-]*[a-z0-9])`?").ok()
    });
    // "namespace shop" first, then "the shop namespace".
    static NAMESPACE: LazyLock<[Option<regex::Regex>; 2]> = LazyLock::new(|| {
        [
            regex::Regex::new(r"(?i)\bnamespace\s+`?([a-z0-9][a-z0-9-]*[a-z0-9])`?").ok(),
            regex::Regex::new(r"(?i)\b([a-z0-9][a-z0-9-]*)`?\s+namespace\b").ok(),
        ]
    });
    static IMAGE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"\b([a-z0-9][a-z0-9.-]*(?::\d+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+)").ok()
    });
    let app = NAME
        .as_ref()?
        .captures(request)?
        .get(1)?
        .as_str()
        .to_ascii_lowercase();
    if overlays.iter().any(|o| o.split('/').any(|p| p == app)) {
        return None;
    }
    let mut args = serde_json::Map::new();
    args.insert("app".into(), Value::String(app.clone()));
    let namespace = NAMESPACE
        .iter()
        .flatten()
        .find_map(|r| r.captures(request)?.get(1))
        .map(|m| m.as_str().to_ascii_lowercase())
        .filter(|n| !matches!(n.as_str(), "the" | "a" | "its" | "own" | "new" | "in"))
        .unwrap_or_else(|| app.clone());
    args.insert("namespace".into(), Value::String(namespace));
    if let Some(image) = IMAGE
        .as_ref()
        .and_then(|r| r.captures(request))
        .and_then(|c| c.get(1))
    {
        args.insert(
            "image".into(),
            Value::String(image.as_str().trim_end_matches(['.', ',']).to_string()),
        );
    }
    if has(&["postgres", "postgresql", "database", "db", "statefulset"]) {
        args.insert("template".into(), json!("postgres-statefulset"));
    } else if has(&["stateless", "web", "http", "api", "service"]) {
        args.insert("template".into(), json!("web-service"));
    }
    // Environments it names, except right after "no"/"not"/"without"/"except".
    let negated = |i: usize| {
        words[i.saturating_sub(2)..i]
            .iter()
            .any(|w| matches!(*w, "no" | "not" | "without" | "except" | "excluding"))
    };
    let mut envs: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if let Some(env) = known.iter().find(|e| e.eq_ignore_ascii_case(w))
            && !negated(i)
            && !envs.contains(env)
        {
            envs.push(env);
        }
    }
    if !envs.is_empty() {
        args.insert("envs".into(), json!(envs));
    }
    Some(Value::Object(args))
}

/// The `add_object` arguments for a request to add a NetworkPolicy that denies traffic: its
/// name ("named X"), the overlay (a path the request gives, or the app and the one
/// environment it names), the pods it selects (`app: web` or `app=web` in the request) and the
/// directions it denies (egress, ingress, or both for "all traffic"). A deny-all policy has
/// no rules. `None` when any part is unclear.
pub fn network_policy(request: &str, overlays: &BTreeSet<&str>) -> Option<Value> {
    static NAME: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(?:called|named)\s+`?([a-z0-9][a-z0-9.-]*[a-z0-9])`?").ok()
    });
    static SELECTOR: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(
            r"\(?\b([a-z0-9][a-z0-9./-]*)\s*(?::|=)\s*([A-Za-z0-9][A-Za-z0-9._-]*)\)?",
        )
        .ok()
    });
    let lower = request.to_ascii_lowercase();
    let policy = lower.contains("networkpolicy") || lower.contains("network policy");
    let denies = ["deny", "denies", "denying", "block", "blocks"]
        .iter()
        .any(|w| {
            lower
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|x| x == *w)
        });
    if !(policy && denies) {
        return None;
    }
    let mut types = Vec::new();
    if lower.contains("ingress") || lower.contains("all traffic") {
        types.push("Ingress");
    }
    if lower.contains("egress") || lower.contains("all traffic") {
        types.push("Egress");
    }
    if types.is_empty() {
        return None;
    }
    let name = NAME
        .as_ref()?
        .captures(request)?
        .get(1)?
        .as_str()
        .to_string();
    // The overlay: a path the request gives, else the app and the one environment it names.
    let mut given: Vec<&str> = overlays
        .iter()
        .copied()
        .filter(|o| {
            request.match_indices(*o).any(|(at, _)| {
                request[at + o.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            })
        })
        .collect();
    if given.is_empty()
        && let Some(app) = app_named(overlays, request)
    {
        let in_app: BTreeSet<&str> = overlays
            .iter()
            .copied()
            .filter(|o| o.split('/').any(|p| p == app))
            .collect();
        let words: BTreeSet<String> = lower
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .map(str::to_string)
            .collect();
        let envs: Vec<&str> = in_app
            .iter()
            .filter_map(|o| o.rsplit('/').next())
            .filter(|e| words.contains(&e.to_ascii_lowercase()))
            .collect();
        if let [env] = envs[..] {
            given = in_app
                .into_iter()
                .filter(|o| o.rsplit('/').next() == Some(env))
                .collect();
        }
    }
    let [path] = given[..] else {
        return None;
    };
    let selectors: Vec<(String, String)> = pairs(SELECTOR.as_ref()?, request)
        .into_iter()
        .filter(|(k, _)| !k.contains('/') || k.contains('.'))
        .collect();
    let [(key, value)] = &selectors[..] else {
        return None;
    };
    let manifest = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\nspec:\n  podSelector:\n    matchLabels:\n      {}: {}\n  policyTypes:\n{}",
        crate::add::yaml_scalar(key),
        crate::add::yaml_scalar(value),
        types
            .iter()
            .map(|t| format!("    - {t}\n"))
            .collect::<String>()
    );
    Some(json!({"path": path, "manifest": manifest}))
}

/// The folder of the overlay paths that the request names and that narrows the most: `web`
/// in "the web app", `helloWorld` in "In examples/helloWorld" (not `examples`). `None` when
/// no named folder narrows the overlays.
fn app_named<'a>(overlays: &BTreeSet<&'a str>, request: &str) -> Option<&'a str> {
    let words: BTreeSet<String> = request
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map(str::to_ascii_lowercase)
        .collect();
    let mut counts: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
    for overlay in overlays {
        let parts: Vec<&str> = overlay.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            if words.contains(&part.to_ascii_lowercase()) {
                let entry = counts.entry(part).or_insert((0, false));
                entry.0 += 1;
                entry.1 |= i + 1 == parts.len() && parts.len() > 1;
            }
        }
    }
    counts
        .into_iter()
        .filter(|(_, (n, _))| *n < overlays.len() || overlays.len() == 1)
        // A folder that is nowhere an environment first, then the one in fewest overlays.
        .min_by_key(|(_, (n, last))| (*last, *n))
        .map(|(part, _)| part)
}

/// Every `(KEY, VALUE)` the two groups of `pattern` capture in `text`.
fn pairs(pattern: &regex::Regex, text: &str) -> Vec<(String, String)> {
    pattern
        .captures_iter(text)
        .filter_map(|c| {
            Some((
                c.get(1)?.as_str().to_string(),
                c.get(2)?.as_str().to_string(),
            ))
        })
        .collect()
}

/// `KEY=VALUE` of a request about a label (`the label cost-center=cc-4120`).
fn label(request: &str) -> Option<(String, String)> {
    static PAIR: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"([A-Za-z0-9][A-Za-z0-9._/-]*)\s*=\s*([A-Za-z0-9][A-Za-z0-9._-]*)").ok()
    });
    let lower = request.to_ascii_lowercase();
    if !lower.contains("label") {
        return None;
    }
    match &pairs(PAIR.as_ref()?, request)[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// `(requests|limits, cpu|memory, quantity)` the request gives: a quantity's resource from its
/// unit (bytes: memory; `m` or a plain number next to "cpu": cpu), its class from the nearest
/// "request"/"limit" before it in the sentence (else after it).
fn resources(request: &str) -> Vec<(&'static str, &'static str, String)> {
    static QUANTITY: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"^(\d+(\.\d+)?)(m|Ki|Mi|Gi|Ti|K|M|G)?$").ok());
    let Some(quantity) = QUANTITY.as_ref() else {
        return Vec::new();
    };
    let mut out: Vec<(&'static str, &'static str, String)> = Vec::new();
    for sentence in sentences(request) {
        let words: Vec<&str> = sentence
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '"' | '\'' | '`'))
            .map(|w| w.trim_end_matches([':', '.', ';']))
            .filter(|w| !w.is_empty())
            .collect();
        let class_of = |w: &str| {
            let w = w.to_ascii_lowercase();
            if w.starts_with("request") {
                Some("requests")
            } else if w.starts_with("limit") {
                Some("limits")
            } else {
                None
            }
        };
        let cpu_word = |w: &str| {
            matches!(
                w.to_ascii_lowercase().as_str(),
                "cpu" | "cpus" | "core" | "cores"
            )
        };
        for (i, word) in words.iter().enumerate() {
            let Some(c) = quantity.captures(word) else {
                continue;
            };
            let resource = match c.get(3).map(|u| u.as_str()) {
                Some("m") => "cpu",
                Some(_) => "memory",
                None => {
                    let near = |j: usize| words.get(j).is_some_and(|w| cpu_word(w));
                    if i > 0 && near(i - 1) || near(i + 1) {
                        "cpu"
                    } else {
                        continue;
                    }
                }
            };
            let class = words[..i]
                .iter()
                .rev()
                .find_map(|w| class_of(w))
                .or_else(|| words[i + 1..].iter().find_map(|w| class_of(w)));
            let Some(class) = class else {
                continue;
            };
            if !out.iter().any(|(c, r, _)| *c == class && *r == resource) {
                out.push((class, resource, word.to_string()));
            }
        }
    }
    out
}

/// `KIND/NAME:spec.template.spec.containers[NAME]` of the one container the request means
/// among the app's workloads: the one it names, or the only one.
fn container(fields: &[Field], in_app: &BTreeSet<&str>, request: &str) -> Option<String> {
    let images = fields.iter().filter(|f| {
        in_app.contains(f.overlay.as_str())
            && f.path.ends_with("].image")
            && f.path.contains(".containers[")
    });
    let candidates: Vec<String> = group(images)
        .into_iter()
        .filter_map(|found| found.set.strip_suffix(".image").map(str::to_string))
        .collect();
    let words: BTreeSet<String> = request
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map(str::to_ascii_lowercase)
        .collect();
    let named: Vec<&String> = candidates
        .iter()
        .filter(|c| {
            c.rsplit_once("containers[")
                .and_then(|(_, n)| n.strip_suffix(']'))
                .is_some_and(|n| words.contains(&n.to_ascii_lowercase()))
        })
        .collect();
    match (&named[..], &candidates[..]) {
        ([one], _) => Some((*one).clone()),
        ([], [only]) => Some(only.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(overlay: &str, kind: &str, name: &str, container: &str) -> Field {
        Field {
            overlay: overlay.into(),
            kind: kind.into(),
            name: name.into(),
            path: format!("spec.template.spec.containers[{container}].image"),
            value: "example/x:1".into(),
        }
    }

    fn kustomize_examples() -> Vec<Field> {
        vec![
            image(
                "examples/helloWorld",
                "Deployment",
                "the-deployment",
                "the-container",
            ),
            image(
                "examples/ldap/overlays/production",
                "Deployment",
                "production-ldap",
                "ldap",
            ),
            image(
                "examples/ldap/overlays/staging",
                "Deployment",
                "staging-ldap",
                "ldap",
            ),
            image(
                "examples/multibases/production",
                "Pod",
                "cluster-a-production-myapp-pod",
                "nginx",
            ),
            image(
                "examples/multibases/staging",
                "Pod",
                "cluster-a-staging-myapp-pod",
                "nginx",
            ),
            image(
                "examples/wordpress",
                "Deployment",
                "demo-wordpress",
                "wordpress",
            ),
        ]
    }

    #[test]
    fn a_label_request_becomes_one_label_step_for_the_app_it_names() {
        let steps = adds(
            &kustomize_examples(),
            "In examples/helloWorld, add the label owner=platform-team to every object. Selectors must stay exactly as they are.",
        );
        assert_eq!(
            steps,
            vec![json!({"set": "label:owner=platform-team", "app": "helloWorld", "env": []})]
        );
        let platform = vec![
            image("apps/web/overlays/dev", "Deployment", "web", "web"),
            image("apps/web/overlays/prod", "Deployment", "web", "web"),
            image(
                "apps/postgres/overlays/prod",
                "StatefulSet",
                "postgres",
                "postgres",
            ),
        ];
        let steps = adds(
            &platform,
            "Add the label cost-center=cc-4120 to the metadata of every object of the web app, in all environments.",
        );
        assert_eq!(
            steps,
            vec![json!({"set": "label:cost-center=cc-4120", "app": "web", "env": []})]
        );
        // No app named: nothing to suggest (a label on every object of the repository is not
        // guessed).
        assert!(adds(&platform, "Add the label team=a to everything").is_empty());
    }

    #[test]
    fn a_scaffold_request_fills_in_create_app() {
        let known: BTreeSet<&str> = [
            "apps/web/overlays/dev",
            "apps/web/overlays/staging",
            "apps/web/overlays/prod",
        ]
        .into_iter()
        .collect();
        assert_eq!(
            create(
                "Scaffold a new stateless web service called checkout in namespace shop, image registry.example.com/storefront/checkout:1.0.0, for dev, staging and prod, with an Argo CD Application per environment.",
                &known
            ),
            Some(json!({"app": "checkout", "namespace": "shop",
                "image": "registry.example.com/storefront/checkout:1.0.0",
                "template": "web-service", "envs": ["dev", "staging", "prod"]}))
        );
        assert_eq!(
            create(
                "Create a PostgreSQL database app called orders-db in namespace orders, for dev and staging only (no prod yet), with an Argo CD Application per environment.",
                &known
            ),
            Some(json!({"app": "orders-db", "namespace": "orders",
                "template": "postgres-statefulset", "envs": ["dev", "staging"]}))
        );
        assert_eq!(create("Add an app for billing", &known), None);
        // Something new in an app that exists is not a new app.
        assert_eq!(
            create(
                "Add a NetworkPolicy named web-deny-egress to the web app's dev overlay",
                &known
            ),
            None
        );
        assert_eq!(create("Create a new service named web", &known), None);
    }

    #[test]
    fn a_deny_all_network_policy_request_becomes_one_add_object_step() {
        let overlays: BTreeSet<&str> = [
            "apps/web/overlays/dev",
            "apps/web/overlays/staging",
            "apps/postgres/overlays/dev",
        ]
        .into_iter()
        .collect();
        let step = network_policy(
            "Add a NetworkPolicy named web-deny-egress to the web app's dev overlay only (apps/web/overlays/dev): it selects the web pods (app: web) and denies all their egress traffic.",
            &overlays,
        )
        .unwrap();
        assert_eq!(step["path"], "apps/web/overlays/dev");
        assert_eq!(
            step["manifest"],
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web-deny-egress\nspec:\n  podSelector:\n    matchLabels:\n      app: web\n  policyTypes:\n    - Egress\n"
        );
        // The app and one environment in words do as well as a path.
        let step = network_policy(
            "Block all traffic to the web pods (app=web) in staging with a network policy named web-deny-all",
            &overlays,
        )
        .unwrap();
        assert_eq!(step["path"], "apps/web/overlays/staging");
        assert!(
            step["manifest"]
                .as_str()
                .unwrap()
                .contains("    - Ingress\n    - Egress\n")
        );
        // Which pods is not said: nothing suggested.
        assert!(
            network_policy(
                "Add a NetworkPolicy named x to apps/web/overlays/dev that denies egress",
                &overlays
            )
            .is_none()
        );
    }

    #[test]
    fn requests_and_limits_become_one_step_each_for_the_named_container() {
        let steps = adds(
            &kustomize_examples(),
            "The ldap app in examples/ldap fails the resource-limits policy. Give its ldap container requests of cpu 100m and memory 256Mi and limits of cpu 500m and memory 512Mi, in both staging and production.",
        );
        let sets: Vec<&str> = steps.iter().filter_map(|s| s["set"].as_str()).collect();
        let path = "Deployment/ldap:spec.template.spec.containers[ldap].resources";
        assert_eq!(
            sets,
            vec![
                format!("{path}.requests.cpu=100m"),
                format!("{path}.requests.memory=256Mi"),
                format!("{path}.limits.cpu=500m"),
                format!("{path}.limits.memory=512Mi"),
            ]
        );
        assert_eq!(steps[0]["app"], "ldap");
        assert_eq!(steps[0]["env"], json!(["production", "staging"]));
        // Word order as people write it.
        assert_eq!(
            resources("give web a memory limit of 1Gi and 2 cpu cores as its limit"),
            vec![
                ("limits", "memory", "1Gi".to_string()),
                ("limits", "cpu", "2".to_string())
            ]
        );
        assert!(resources("scale web to 3 replicas").is_empty());
    }
}
