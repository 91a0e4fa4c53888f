//! "Where is X set?": every rendered field whose path or value matches a few words, as paths a
//! model can copy straight into `harmonize` (`Kind/name:path=VALUE`, `image:NAME=TAG`), with
//! their value in each overlay and the source lines that hold it. Read-only.
//!
//! The same search feeds harmonize's errors: a path that renders nothing is answered with the
//! objects and fields that do render.

use crate::kustomize::{find_kustomizations, input_files, kustomization_file, parse_objects};
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One rendered field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The leaf overlay (relative folder).
    pub overlay: String,
    pub kind: String,
    /// As rendered (with any name prefix or suffix).
    pub name: String,
    /// Harmonize syntax: `spec.template.spec.containers[web].image`.
    pub path: String,
    pub value: String,
}

/// Leaf kustomizations of `root` (those no other kustomization reads), sorted.
pub fn leaves(root: &Path) -> Vec<PathBuf> {
    let all = find_kustomizations(root);
    let inputs: BTreeMap<PathBuf, Vec<PathBuf>> =
        all.iter().map(|k| (k.clone(), input_files(k))).collect();
    leaves_among(&all, &inputs).into_iter().cloned().collect()
}

/// The kustomizations of `all` whose kustomization file no other one's `inputs` read.
pub fn leaves_among<'a>(
    all: &'a [PathBuf],
    inputs: &BTreeMap<PathBuf, Vec<PathBuf>>,
) -> Vec<&'a PathBuf> {
    let used: BTreeSet<&PathBuf> = inputs
        .iter()
        .flat_map(|(k, files)| {
            files
                .iter()
                .filter(move |f| f.parent() != Some(k.as_path()))
        })
        .collect();
    all.iter()
        .filter(|k| kustomization_file(k).is_none_or(|f| !used.contains(&f)))
        .collect()
}

/// Every scalar field of `objects` (rendered by `overlay`), Secrets left out.
pub fn fields_of(overlay: &str, objects: &[Value]) -> Vec<Field> {
    let mut out = Vec::new();
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or("?").to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        // Secret values never become search results.
        if kind == "Secret" {
            continue;
        }
        let mut paths = Vec::new();
        walk(object, String::new(), &mut paths);
        for (path, value) in paths {
            out.push(Field {
                overlay: overlay.to_string(),
                kind: kind.clone(),
                name: name.clone(),
                path,
                value,
            });
        }
    }
    out
}

/// What to tell a model whose harmonize path for `kind`/`name` … `last_key` rendered nothing:
/// the objects of that kind, and copyable paths whose last key is `last_key` (or, for an
/// image, the images that render).
pub fn suggest(root: &Path, fields: &[Field], kind: &str, name: &str, last_key: &str) -> String {
    let mut out = String::new();
    let objects: BTreeSet<String> = fields
        .iter()
        .filter(|f| f.kind.eq_ignore_ascii_case(kind) || f.name.contains(name))
        .map(|f| format!("{}/{}", f.kind, f.name))
        .collect();
    if !objects.is_empty() {
        let shown: Vec<String> = objects.into_iter().take(12).collect();
        out.push_str(&format!(
            "Rendered objects of that kind or name: {}.\n",
            shown.join(", ")
        ));
    }
    let key = last_key.trim_start_matches("--");
    let mut found = if key.is_empty() {
        Vec::new()
    } else {
        search(fields, key, None, None)
    };
    if found.is_empty() && !name.is_empty() {
        found = search(fields, name, None, None);
    }
    if found.is_empty() {
        out.push_str(
            "Call `find` with one word of the field (e.g. `replicas`, `retention`, `version`, `image`) to list paths that render. A chart version is `HelmRelease/NAME:spec.chart.spec.version=X`, an image tag `image:NAME=TAG`.\n",
        );
    } else {
        out.push_str("Paths that do render (copy one, with the new value):\n");
        out.push_str(&describe(root, &found, 8));
    }
    out
}

/// Every scalar field of every object each leaf renders.
pub async fn rendered_fields(root: &Path, timeout: Duration) -> Vec<Field> {
    let leaves = leaves(root);
    let renders =
        futures_util::future::join_all(leaves.iter().map(|k| crate::kustomize::render(k, timeout)))
            .await;
    let mut out = Vec::new();
    for (leaf, rendered) in leaves.iter().zip(renders) {
        let overlay = leaf
            .strip_prefix(root)
            .unwrap_or(leaf)
            .display()
            .to_string();
        let Ok(objects) = rendered.and_then(|y| parse_objects(&y)) else {
            continue;
        };
        out.extend(fields_of(&overlay, &objects));
    }
    out
}

/// Scalar leaves of `v` under `prefix`, in harmonize's path syntax: list items with a `name`
/// as `[name]`, `--flag=value` strings as `[--flag]`, other items by index.
fn walk(v: &Value, prefix: String, out: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if prefix.is_empty() && (k == "status" || k == "apiVersion") {
                    continue;
                }
                walk(item, join(k), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let sel = match item {
                    Value::Object(m) => match m.get("name").and_then(Value::as_str) {
                        Some(n) => format!("[{n}]"),
                        None => format!("[{i}]"),
                    },
                    Value::String(s) if s.starts_with('-') && s.contains('=') => {
                        if let Some((flag, value)) = s.split_once('=') {
                            out.push((format!("{prefix}[{flag}]"), value.to_string()));
                        }
                        continue;
                    }
                    _ => format!("[{i}]"),
                };
                walk(item, format!("{prefix}{sel}"), out);
            }
        }
        Value::String(s) => out.push((prefix, s.clone())),
        Value::Number(n) => out.push((prefix, n.to_string())),
        Value::Bool(b) => out.push((prefix, b.to_string())),
        Value::Null => {}
    }
}

/// The name every rendered name shares (`web` for `dev-web`, `web-prod`), if any.
fn common_name(names: &BTreeSet<&str>) -> Option<String> {
    let tokens: Vec<Vec<&str>> = names.iter().map(|n| n.split('-').collect()).collect();
    let first = tokens.first()?;
    let shortest = tokens.iter().map(Vec::len).min()?;
    let prefix = (0..shortest)
        .take_while(|i| tokens.iter().all(|t| t[*i] == first[*i]))
        .count();
    let suffix = (0..shortest)
        .take_while(|i| {
            tokens
                .iter()
                .all(|t| t[t.len() - 1 - i] == first[first.len() - 1 - i])
        })
        .count();
    let name = if prefix >= suffix {
        first[..prefix].join("-")
    } else {
        first[first.len() - suffix..].join("-")
    };
    (!name.is_empty()).then_some(name)
}

/// One result: a copyable harmonize path and where it renders.
#[derive(Debug, Clone)]
pub struct Found {
    /// `Kind/name:path` (append `=VALUE`) or `image:NAME` (append `=TAG`).
    pub set: String,
    /// Overlay → current value.
    pub values: BTreeMap<String, String>,
}

/// Fields whose `Kind/name:path=value` text holds every word of `query` (case-insensitive),
/// grouped by what harmonize would set, limited to overlays whose path contains `app`/`env`.
pub fn search(fields: &[Field], query: &str, app: Option<&str>, env: Option<&str>) -> Vec<Found> {
    let words: Vec<String> = query
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let wanted = |f: &Field| {
        let parts: Vec<&str> = f.overlay.split('/').collect();
        app.is_none_or(|a| parts.contains(&a)) && env.is_none_or(|e| parts.contains(&e))
    };
    let mut groups: BTreeMap<(String, String), Vec<&Field>> = BTreeMap::new();
    for f in fields.iter().filter(|f| wanted(f)) {
        let text = format!("{}/{}:{}={}", f.kind, f.name, f.path, f.value).to_ascii_lowercase();
        if words.iter().all(|w| text.contains(w.as_str())) {
            groups
                .entry((f.kind.clone(), f.path.clone()))
                .or_default()
                .push(f);
        }
    }
    let mut out = Vec::new();
    for ((kind, path), hits) in groups {
        // One group per object name that harmonize can address across overlays.
        let names: BTreeSet<&str> = hits.iter().map(|f| f.name.as_str()).collect();
        let common = common_name(&names);
        let mut by_name: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for f in &hits {
            let name = common.clone().unwrap_or_else(|| f.name.clone());
            by_name
                .entry(name)
                .or_default()
                .insert(f.overlay.clone(), f.value.clone());
        }
        for (name, values) in by_name {
            out.push(Found {
                set: format!("{kind}/{name}:{path}"),
                values,
            });
        }
        // A container image: the image form sets its tag everywhere it is used.
        if path.ends_with(".image") || path.ends_with("].image") {
            let mut images: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for f in &hits {
                if let Some((image, tag)) = f.value.rsplit_once(':')
                    && !tag.contains('/')
                {
                    images
                        .entry(image.to_string())
                        .or_default()
                        .insert(f.overlay.clone(), tag.to_string());
                }
            }
            for (image, values) in images {
                out.push(Found {
                    set: format!("image:{image}"),
                    values,
                });
            }
        }
    }
    out
}

/// The lines under `overlay`'s inputs that hold `value` (`file:line: text`), at most `limit`.
pub fn source_lines(root: &Path, overlay: &str, value: &str, limit: usize) -> Vec<String> {
    if value.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for file in input_files(&root.join(overlay)) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.contains(value) {
                let rel = file
                    .strip_prefix(root)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                out.push(format!("{rel}:{}: {}", i + 1, line.trim()));
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}

/// Text for a model: each found path, ready to copy, with values and source lines.
pub fn describe(root: &Path, found: &[Found], limit: usize) -> String {
    let mut out = String::new();
    for f in found.iter().take(limit) {
        let values: BTreeSet<&String> = f.values.values().collect();
        let example = values.iter().next().map_or("VALUE", |v| v.as_str());
        out.push_str(&format!("- `{}={example}`\n", f.set));
        for (overlay, value) in &f.values {
            out.push_str(&format!("    {overlay}: {value}"));
            if let Some(line) = source_lines(root, overlay, value, 1).first() {
                out.push_str(&format!("  (set at {line})"));
            }
            out.push('\n');
        }
    }
    if found.len() > limit {
        out.push_str(&format!(
            "… and {} more; add words to narrow the search\n",
            found.len() - limit
        ));
    }
    out
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FindInput {
    /// Words that the field's path or value contains, e.g. `retention`, `chart version`,
    /// `podinfo image`, `replicas web`.
    pub query: String,
    /// Only overlays whose path has this folder (an app).
    #[serde(default)]
    pub app: Option<String>,
    /// Only this environment (a folder name in the overlay path).
    #[serde(default)]
    pub env: Option<String>,
}

pub struct FindTool;

impl TypedTool for FindTool {
    type Input = FindInput;
    const NAME: &'static str = "find";
    const DESCRIPTION: &'static str = "Where is a value set? Searches every rendered overlay for fields whose path or value contains the words of `query`; returns paths ready for `harmonize` (`Kind/name:path=VALUE`, `image:NAME=TAG`), each overlay's current value and the source line that sets it.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: FindInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            let root = ctx.root.canonicalize().unwrap_or(ctx.root.clone());
            let fields = rendered_fields(&root, ctx.timeout).await;
            let found = search(
                &fields,
                &input.query,
                input.app.as_deref(),
                input.env.as_deref(),
            );
            if found.is_empty() {
                let kinds: BTreeSet<String> = fields
                    .iter()
                    .map(|f| format!("{}/{}", f.kind, f.name))
                    .collect();
                let shown: Vec<String> = kinds.into_iter().take(30).collect();
                return ToolOutput::error(format!(
                    "no rendered field matches `{}`. Try one word of the field's name (e.g. `replicas`, `retention`, `version`, `image`). Rendered objects: {}",
                    input.query,
                    shown.join(", ")
                ));
            }
            let text = describe(&root, &found, 15);
            ToolOutput::ok(ctx.secrets.redact_text(&format!(
                "{} path(s) for `{}` (copy one into harmonize's `set`, with the new value):\n{text}",
                found.len(),
                input.query
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(overlay: &str, kind: &str, name: &str, path: &str, value: &str) -> Field {
        Field {
            overlay: overlay.into(),
            kind: kind.into(),
            name: name.into(),
            path: path.into(),
            value: value.into(),
        }
    }

    #[test]
    fn paths_use_harmonize_syntax() {
        let obj = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "prom", "image": "prom/prometheus:v2", "args": ["--storage.tsdb.retention.time=15d", "--web"]}
        ]}}}});
        let mut out = Vec::new();
        walk(&obj, String::new(), &mut out);
        assert!(out.contains(&(
            "spec.template.spec.containers[prom].args[--storage.tsdb.retention.time]".into(),
            "15d".into()
        )));
        assert!(out.contains(&(
            "spec.template.spec.containers[prom].image".into(),
            "prom/prometheus:v2".into()
        )));
    }

    #[test]
    fn results_group_by_the_name_every_overlay_shares() {
        let fields = vec![
            field(
                "apps/podinfo/dev",
                "HelmRelease",
                "dev-podinfo",
                "spec.chart.spec.version",
                "6.5.0",
            ),
            field(
                "apps/podinfo/prod",
                "HelmRelease",
                "prod-podinfo",
                "spec.chart.spec.version",
                "6.4.0",
            ),
            field(
                "apps/podinfo/prod",
                "HelmRelease",
                "prod-podinfo",
                "spec.interval",
                "5m",
            ),
        ];
        let found = search(&fields, "chart version", None, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].set, "HelmRelease/podinfo:spec.chart.spec.version");
        assert_eq!(found[0].values.len(), 2);
        assert!(
            search(&fields, "chart version", None, Some("dev"))[0]
                .values
                .len()
                == 1
        );
        let images = search(
            &[field(
                "a/dev",
                "Deployment",
                "web",
                "spec.template.spec.containers[web].image",
                "reg/web:1.2",
            )],
            "web image",
            None,
            None,
        );
        assert!(
            images.iter().any(|f| f.set == "image:reg/web"),
            "{images:?}"
        );
    }
}
