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
use std::sync::LazyLock;
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
    let hits = fields.iter().filter(|f| in_scope(f, app, env)).filter(|f| {
        let text = format!("{}/{}:{}={}", f.kind, f.name, f.path, f.value).to_ascii_lowercase();
        words.iter().all(|w| text.contains(w.as_str()))
    });
    group(hits)
}

/// Whether `f` renders in an overlay whose path has the folder `app` and `env` (when given).
fn in_scope(f: &Field, app: Option<&str>, env: Option<&str>) -> bool {
    let parts: Vec<&str> = f.overlay.split('/').collect();
    app.is_none_or(|a| parts.contains(&a)) && env.is_none_or(|e| parts.contains(&e))
}

/// Words of a request that say nothing about which field is meant.
const FILLER: &[&str] = &[
    "the",
    "and",
    "for",
    "set",
    "sets",
    "every",
    "all",
    "each",
    "environment",
    "environments",
    "env",
    "envs",
    "with",
    "what",
    "which",
    "where",
    "how",
    "much",
    "many",
    "does",
    "did",
    "are",
    "is",
    "was",
    "its",
    "their",
    "our",
    "from",
    "into",
    "only",
    "keep",
    "keeps",
    "stay",
    "stays",
    "not",
    "change",
    "changes",
    "make",
    "please",
    "value",
    "values",
    "use",
    "uses",
    "get",
    "gets",
    "there",
    "this",
    "that",
    "them",
    "then",
    "than",
    "but",
    "both",
    "app",
    "apps",
    "new",
    "run",
    "runs",
    "give",
    "given",
    "should",
    "must",
    "can",
    "could",
    "would",
    "will",
    "you",
    "your",
    "overlay",
    "overlays",
    "currently",
    "now",
    "have",
    "has",
    "lower",
    "raise",
    "increase",
    "decrease",
    "bump",
    "update",
    "add",
    "remove",
    "everywhere",
    "same",
    "tell",
    "show",
];

/// Field words a person uses for a field whose path says it otherwise.
const SYNONYMS: &[(&str, &str)] = &[
    ("tag", "image"),
    ("release", "image"),
    ("scale", "replicas"),
    ("instances", "replicas"),
    ("pods", "replicas"),
    ("disk", "storage"),
    ("volume", "storage"),
    ("size", "storage"),
    ("ram", "memory"),
    ("chart", "version"),
];

/// The fields a free-text request is most likely about, best first, at most `limit` groups:
/// a field path must hold a word of the request (or its synonym), and when the request names
/// rendered objects (`web`, `postgres`), their name too. What a small model gets before its
/// first step, so it copies a path instead of guessing one.
pub fn relevant(fields: &[Field], request: &str, limit: usize) -> Vec<Found> {
    let lower = request.to_ascii_lowercase();
    let mut words: Vec<String> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-').to_string())
        .filter(|w| w.len() >= 3 && !FILLER.contains(&w.as_str()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    words.sort();
    words.dedup();
    // Environments (an overlay's last folder) narrow nothing here: every overlay's value is
    // shown. Nor are they part of an object's name (`prometheus-staging`).
    let envs: BTreeSet<String> = fields
        .iter()
        .filter_map(|f| f.overlay.rsplit('/').next())
        .map(str::to_ascii_lowercase)
        .collect();
    let names: BTreeSet<String> = fields
        .iter()
        .flat_map(|f| f.name.split('-').map(str::to_ascii_lowercase))
        .filter(|t| !envs.contains(t))
        .collect();
    let words: Vec<String> = words.into_iter().filter(|w| !envs.contains(w)).collect();
    let named: Vec<&String> = words.iter().filter(|w| names.contains(*w)).collect();
    let field_words: Vec<String> = words
        .iter()
        .filter(|w| !names.contains(*w))
        .flat_map(|w| {
            let one = w.strip_suffix('s').unwrap_or(w);
            let mut out = vec![one.to_string()];
            out.extend(
                SYNONYMS
                    .iter()
                    .filter(|(from, _)| one == *from)
                    .map(|(_, to)| to.to_string()),
            );
            out
        })
        .filter(|w| w.len() >= 3)
        .collect();
    if field_words.is_empty() {
        return Vec::new();
    }
    let score = |f: &Field| -> usize {
        let path = f.path.to_ascii_lowercase();
        // Labels and annotations hold every name; they answer few questions.
        if path.starts_with("metadata.labels") || path.starts_with("metadata.annotations") {
            return 0;
        }
        let in_path = field_words
            .iter()
            .filter(|w| path.contains(w.as_str()))
            .count();
        if in_path == 0 {
            return 0;
        }
        let name = f.name.to_ascii_lowercase();
        let in_name = named.iter().filter(|w| name.contains(w.as_str())).count();
        if !named.is_empty() && in_name == 0 && !path.contains(named[0].as_str()) {
            return 0;
        }
        in_path * 3 + in_name * 2
    };
    let mut scored: BTreeMap<usize, Vec<&Field>> = BTreeMap::new();
    for f in fields {
        let s = score(f);
        if s > 0 {
            scored.entry(s).or_default().push(f);
        }
    }
    let mut out: Vec<Found> = Vec::new();
    for (_, hits) in scored.into_iter().rev() {
        for found in group(hits.into_iter()) {
            if !out.iter().any(|o| o.set == found.set) {
                out.push(found);
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    out.truncate(limit);
    out
}

/// What kind of value a text is, to find the new value in a request: a count, a version,
/// or a quantity with its unit class.
fn shape(value: &str) -> Option<String> {
    static VERSION: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"^\d+(\.\d+)+([-+][\w.]+)?$").ok());
    static QUANTITY: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"^\d+(\.\d+)?([A-Za-z]+)$").ok());
    if value.chars().all(|c| c.is_ascii_digit()) && !value.is_empty() {
        return Some("count".into());
    }
    if VERSION.as_ref()?.is_match(value.trim_start_matches('v')) {
        return Some("version".into());
    }
    static HOST: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$").ok()
    });
    if HOST.as_ref()?.is_match(value) && value.chars().any(|c| c.is_ascii_lowercase()) {
        return Some("host".into());
    }
    let unit = QUANTITY
        .as_ref()?
        .captures(value)?
        .get(2)?
        .as_str()
        .to_string();
    Some(match unit.as_str() {
        "Ki" | "Mi" | "Gi" | "Ti" | "K" | "M" | "G" | "T" => "bytes".into(),
        other => format!("unit:{other}"),
    })
}

/// A request's sentences: split at `.`, `;`, `!`, `?` before a space or the end, and at new
/// lines (so `1.10.0` stays whole).
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    static END: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"[.;!?](\s|$)|\n").ok());
    match END.as_ref() {
        Some(end) => end.split(text).filter(|s| !s.trim().is_empty()).collect(),
        None => vec![text],
    }
}

/// A harmonize call for the best of `found`, filled in from the request where it says so
/// unambiguously: the new value (the one word of the request shaped like the current values)
/// and the environments (those the request's first sentence naming any names, unless it says
/// every/all). `None` when the value cannot be read off the request.
pub fn suggested_call(found: &[Found], request: &str) -> Option<String> {
    let first = found.first()?;
    // A container image: the image form also follows kustomize's `images:` overrides.
    let best = if first.set.ends_with(".image") {
        found
            .iter()
            .find(|f| f.set.starts_with("image:"))
            .unwrap_or(first)
    } else {
        first
    };
    let shapes: BTreeSet<String> = best.values.values().filter_map(|v| shape(v)).collect();
    let [wanted] = shapes.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    // The first sentence that holds a value of that shape must hold just one new one (`3` in
    // "run 3 replicas in staging. Production keeps its 6."; `1.5.0` in "upgrade to
    // openldap:1.5.0 (staging stays on 1.1.11)", where 1.1.11 is what overlays have now).
    let current: BTreeSet<&str> = best.values.values().map(String::as_str).collect();
    let value = sentences(request).into_iter().find_map(|sentence| {
        let values: BTreeSet<&str> = sentence
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '"' | '\'' | '`'))
            .map(|t| t.trim_end_matches([':', '.']))
            // An image reference as written: its tag.
            .map(|t| match t.rsplit_once(':') {
                Some((name, tag)) if name.contains('/') && !tag.contains('/') => tag,
                _ => t,
            })
            .filter(|t| shape(t).as_ref() == Some(wanted))
            .collect();
        (!values.is_empty()).then_some(values)
    })?;
    let new: Vec<&str> = value
        .iter()
        .copied()
        .filter(|v| !current.contains(v))
        .collect();
    let envs: BTreeSet<&str> = best
        .values
        .keys()
        .filter_map(|o| o.rsplit('/').next())
        .collect();
    let named = envs_named(request, &envs)?;
    // The one value overlays do not hold yet counts only where the request names the
    // environments ("from 2 to 3 replicas" says nothing about which).
    let value = match (&value.iter().collect::<Vec<_>>()[..], &new[..]) {
        ([one], _) => **one,
        (_, [one]) if !named.is_empty() => *one,
        _ => return None,
    };
    let call = serde_json::json!({"set": format!("{}={value}", best.set), "env": named});
    Some(call.to_string())
}

/// The environments (of `envs`) a request means: none (= every one) when it says every/all,
/// else those its first sentence naming any names.
pub(crate) fn envs_named<'a>(request: &str, envs: &BTreeSet<&'a str>) -> Option<Vec<&'a str>> {
    let lower = request.to_ascii_lowercase();
    let every = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| matches!(w, "every" | "all" | "everywhere" | "each"));
    if every {
        return Some(Vec::new());
    }
    let mut left_alone: BTreeSet<&'a str> = BTreeSet::new();
    let named = sentences(&lower)
        .into_iter()
        .map(|sentence| {
            // Brackets and colons end a list of environments: in "in prod (staging stays on
            // 1.8.2)" prod is not one of those that stay. `(` becomes a word of its own.
            let marked = sentence.replace(['(', ')', ':'], " ( ");
            let words: Vec<&str> = marked
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '('))
                .filter(|w| !w.is_empty())
                .collect();
            // Named to be left alone: "staging stays on 1.1.11", "not prod", "except dev".
            // The word after a list of environments ("dev, staging and prod stay").
            let after_list = |i: usize| {
                words[i + 1..]
                    .iter()
                    .find(|w| {
                        !(matches!(**w, "and" | "or" | "nor")
                            || envs.iter().any(|e| e.eq_ignore_ascii_case(w)))
                    })
                    .copied()
            };
            let kept = |i: usize| {
                after_list(i).is_some_and(|w| {
                    matches!(
                        w,
                        "stays"
                            | "stay"
                            | "keeps"
                            | "keep"
                            | "remains"
                            | "remain"
                            | "unchanged"
                            | "untouched"
                    )
                }) || words[i.saturating_sub(2)..i]
                    .iter()
                    .any(|w| matches!(*w, "not" | "no" | "except" | "excluding" | "without"))
            };
            for e in envs {
                if words
                    .iter()
                    .enumerate()
                    .any(|(i, w)| w.eq_ignore_ascii_case(e) && kept(i))
                {
                    left_alone.insert(e);
                }
            }
            envs.iter()
                .copied()
                .filter(|e| {
                    words
                        .iter()
                        .enumerate()
                        .any(|(i, w)| w.eq_ignore_ascii_case(e) && !kept(i))
                })
                .collect::<Vec<_>>()
        })
        .find(|named| !named.is_empty());
    match named {
        Some(named) => Some(named),
        // Only named to be left alone: every other one (none left: no environment, so no
        // step — an empty list would mean every one).
        None if !left_alone.is_empty() => Some(
            envs.iter()
                .copied()
                .filter(|e| !left_alone.contains(e))
                .collect::<Vec<_>>(),
        )
        .filter(|rest| !rest.is_empty()),
        None => Some(Vec::new()),
    }
}

/// Fields grouped by what harmonize would set: one group per kind, path and the name every
/// overlay's object shares, plus the `image:NAME` form for container images.
pub(crate) fn group<'a>(fields: impl Iterator<Item = &'a Field>) -> Vec<Found> {
    let mut groups: BTreeMap<(String, String), Vec<&Field>> = BTreeMap::new();
    for f in fields {
        groups
            .entry((f.kind.clone(), f.path.clone()))
            .or_default()
            .push(f);
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
    // The overlay's own files first: they win over its bases, as in harmonize.
    let dir = root.join(overlay);
    let own = dir.canonicalize().unwrap_or(dir);
    let mut files = input_files(&own);
    files.sort_by_key(|f| !f.starts_with(&own));
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if holds_value(line, value) {
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

/// Whether `line` holds `value` as a whole value (`replicas: 4`, `--flag=7d`, `"x"`), not as
/// part of another word (`data` in `namespace: data-dev`).
fn holds_value(line: &str, value: &str) -> bool {
    let edge = |c: Option<char>| {
        c.is_none_or(|c| {
            c.is_whitespace()
                || matches!(
                    c,
                    '"' | '\'' | ',' | '=' | ':' | '[' | ']' | '{' | '}' | '#'
                )
        })
    };
    line.match_indices(value).any(|(at, _)| {
        edge(line[..at].chars().next_back()) && edge(line[at + value.len()..].chars().next())
    })
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
            let mut found = search(
                &fields,
                &input.query,
                input.app.as_deref(),
                input.env.as_deref(),
            );
            if found.is_empty() {
                // No field holds every word: the fields that hold most of them.
                let wanted: Vec<Field> = fields
                    .iter()
                    .filter(|f| in_scope(f, input.app.as_deref(), input.env.as_deref()))
                    .cloned()
                    .collect();
                found = relevant(&wanted, &input.query, 15);
            }
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
    fn a_source_line_holds_the_value_whole() {
        assert!(holds_value("  replicas: 4", "4"));
        assert!(holds_value(
            "  value: --storage.tsdb.retention.time=7d",
            "7d"
        ));
        assert!(holds_value(
            "    image: reg/web:1.8.2 # pinned",
            "reg/web:1.8.2"
        ));
        assert!(holds_value("    newTag: \"1.8.2\"", "1.8.2"));
        assert!(!holds_value("namespace: data-dev", "data"));
        assert!(!holds_value("  replicas: 14", "4"));
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
    fn a_request_in_words_finds_the_fields_it_is_about() {
        let mut fields = Vec::new();
        for (env, replicas, tag, days) in [
            ("dev", "1", "1.9.0", "7d"),
            ("staging", "2", "1.8.2", "15d"),
            ("prod", "4", "1.8.2", "15d"),
        ] {
            let overlay = format!("apps/web/overlays/{env}");
            fields.push(field(
                &overlay,
                "Deployment",
                "web",
                "spec.replicas",
                replicas,
            ));
            fields.push(field(
                &overlay,
                "Deployment",
                "web",
                "spec.template.spec.containers[web].image",
                &format!("reg/storefront/web:{tag}"),
            ));
            fields.push(field(
                &overlay,
                "Deployment",
                "web",
                "metadata.labels.app",
                "web",
            ));
            let overlay = format!("apps/prometheus/overlays/{env}");
            fields.push(field(
                &overlay,
                "Deployment",
                &format!("prometheus-{env}"),
                "spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]",
                days,
            ));
            fields.push(field(
                &overlay,
                "Deployment",
                &format!("prometheus-{env}"),
                "spec.replicas",
                "1",
            ));
        }
        let sets = |request: &str| -> Vec<String> {
            relevant(&fields, request, 4)
                .into_iter()
                .map(|f| f.set)
                .collect()
        };
        // A synonym (`scale`) and an environment word; only the object the request names.
        assert_eq!(
            sets("Scale web in staging to 3 replicas."),
            ["Deployment/web:spec.replicas"]
        );
        // `tag` finds the image, in both forms harmonize takes.
        assert_eq!(
            sets("Release web 1.10.0 everywhere: set the web image tag to 1.10.0"),
            [
                "Deployment/web:spec.template.spec.containers[web].image",
                "image:reg/storefront/web"
            ]
        );
        // The name every overlay's object shares, with each overlay's value.
        let found = relevant(&fields, "Lower the Prometheus retention in dev to 3d", 4);
        assert_eq!(
            found[0].set,
            "Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]"
        );
        assert_eq!(found[0].values["apps/prometheus/overlays/dev"], "7d");
        assert_eq!(found.len(), 1, "{found:?}");
        // Nothing a field could be about: no facts rather than noise.
        assert!(sets("hello there").is_empty());
        assert!(sets("What does web do?").is_empty());

        // The call, filled in where the request says it plainly.
        let call = |request: &str| {
            suggested_call(&relevant(&fields, request, 4), request)
                .map(|c| serde_json::from_str::<Value>(&c).unwrap())
        };
        assert_eq!(
            call("Lower the Prometheus retention in dev to 3d. Staging and prod keep theirs."),
            Some(
                json!({"set": "Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=3d", "env": ["dev"]})
            )
        );
        assert_eq!(
            call("Scale web in prod to 6 replicas; dev and staging stay as they are."),
            Some(json!({"set": "Deployment/web:spec.replicas=6", "env": ["prod"]}))
        );
        // An image: the image form, every environment.
        assert_eq!(
            call(
                "Release web 1.10.0 everywhere: set the web image tag to 1.10.0 in dev, staging and prod."
            ),
            Some(json!({"set": "image:reg/storefront/web=1.10.0", "env": []}))
        );
        // The value of the sentence that has one, not a value the request keeps.
        assert_eq!(
            call("Run 3 replicas of web in staging. Production keeps its 6."),
            Some(json!({"set": "Deployment/web:spec.replicas=3", "env": ["staging"]}))
        );
        // Two values of the right shape, or none: no guess.
        assert_eq!(call("Scale web from 2 to 3 replicas"), None);
        // Unless the request names where, and only one of them is new there.
        assert_eq!(
            call("Scale web in staging to 5 replicas instead of 2; prod stays on 4."),
            Some(json!({"set": "Deployment/web:spec.replicas=5", "env": ["staging"]}))
        );
        assert_eq!(
            call(
                "Upgrade the web image to reg/storefront/web:1.10.0 in prod (staging stays on 1.8.2)."
            ),
            Some(json!({"set": "image:reg/storefront/web=1.10.0", "env": ["prod"]}))
        );
        // Every one named only to be left alone: no step (an empty list means all).
        assert_eq!(
            call("Scale web to 3 replicas; dev, staging and prod stay as they are."),
            None
        );
        // Named only to be left alone: every other environment.
        assert_eq!(
            call("Run 3 replicas of web. Prod keeps its own."),
            Some(json!({"set": "Deployment/web:spec.replicas=3", "env": ["dev", "staging"]}))
        );
        assert_eq!(call("Scale web up"), None);
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
