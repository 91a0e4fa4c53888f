//! What harmonize does when the value is set nowhere yet:
//! - a label on every object of an overlay (`label:KEY=VALUE`): a kustomization `labels:` entry,
//!   which — unlike `commonLabels` — leaves selectors and pod templates alone;
//! - a field an object does not have yet (a container's `resources`, an annotation): a
//!   strategic-merge patch file in the overlay, listed under its `patches:`.
//!
//! Both write only in the leaf overlay's own folder, which no other overlay reads, so nothing
//! outside the environments asked for changes. The runtime gates the result (re-render, schema,
//! policies, risk, approval) like any other change.

use crate::file_change::FileChange;
use crate::harmonize::{Seg, Target, rel_of};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A leaf overlay in scope, with what it renders now.
pub struct Leaf<'a> {
    pub dir: &'a Path,
    /// Relative to the repository.
    pub rel: String,
    pub objects: &'a [Value],
    /// The files its render reads (own files and bases).
    pub inputs: &'a [PathBuf],
}

/// Targets and file changes to merge into a harmonize plan.
#[derive(Debug, Default)]
pub struct Added {
    pub targets: Vec<Target>,
    pub changes: Vec<FileChange>,
}

/// Adds `key: value` to the labels of every object each leaf renders.
pub fn labels(root: &Path, leaves: &[Leaf], key: &str, value: &str) -> Added {
    let mut added = Added::default();
    for leaf in leaves {
        let values: Vec<Option<&str>> = leaf
            .objects
            .iter()
            .map(|o| o["metadata"]["labels"][key].as_str())
            .collect();
        let mut before: Vec<&str> = values.iter().map(|v| v.unwrap_or("(none)")).collect();
        before.sort();
        before.dedup();
        let mut target = Target {
            overlay: leaf.rel.clone(),
            object: format!("{} objects", leaf.objects.len()),
            before: before.join(", "),
            after: value.to_string(),
            status: "change",
            file: None,
            line: None,
            reason: None,
        };
        if !values.is_empty() && values.iter().all(|v| *v == Some(value)) {
            target.status = "already";
            added.targets.push(target);
            continue;
        }
        let Some(file) = crate::kustomize::kustomization_file(leaf.dir) else {
            target.status = "refused";
            target.reason = Some(format!("{} has no kustomization file", leaf.rel));
            added.targets.push(target);
            continue;
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                target.status = "refused";
                target.reason = Some(format!("{}: {e}", rel_of(root, &file)));
                added.targets.push(target);
                continue;
            }
        };
        let item = [
            "- pairs:".to_string(),
            format!("    {}: {}", yaml_scalar(key), yaml_scalar(value)),
        ];
        match add_list_item(&text, "labels", &item) {
            Some((after, line)) => {
                target.file = Some(rel_of(root, &file));
                target.line = Some(line);
                added.changes.push(FileChange {
                    path: file.clone(),
                    rel: rel_of(root, &file),
                    before: Some(text),
                    after: Some(after),
                });
            }
            None => {
                target.status = "refused";
                target.reason = Some(format!(
                    "{} writes `labels:` in flow style; add the label there with Edit",
                    rel_of(root, &file)
                ));
            }
        }
        added.targets.push(target);
    }
    added
}

/// Adds a field that the rendered objects of each leaf do not have, as a strategic-merge
/// patch in the leaf's folder. `objects(leaf)` are the leaf's objects harmonize matched by
/// kind and name.
pub fn field(
    root: &Path,
    leaves: &[(Leaf, Vec<&Value>)],
    path: &[Seg],
    value: &str,
) -> Result<Added, String> {
    let mut added = Added::default();
    for (leaf, objects) in leaves {
        for object in objects {
            let kind = object["kind"].as_str().unwrap_or("?");
            let rendered = object["metadata"]["name"].as_str().unwrap_or("?");
            let mut target = Target {
                overlay: leaf.rel.clone(),
                object: format!("{kind}/{rendered}"),
                before: "(not set)".into(),
                after: value.to_string(),
                status: "change",
                file: None,
                line: None,
                reason: None,
            };
            match patch_for(root, leaf, object, path, value) {
                Ok((changes, file)) => {
                    if changes
                        .iter()
                        .any(|c| added.changes.iter().any(|a| a.path == c.path))
                    {
                        return Err(format!(
                            "{} renders several objects that match; name one exactly (KIND/NAME as rendered)",
                            leaf.rel
                        ));
                    }
                    target.file = Some(file);
                    added.changes.extend(changes);
                }
                Err(reason) => {
                    target.status = "refused";
                    target.reason = Some(reason);
                }
            }
            added.targets.push(target);
        }
    }
    Ok(added)
}

/// Whether harmonize may add `path` to `object`: the object with the field must still fit
/// its kind's Kubernetes schema, so a mistyped path (`spec.retention` for a container flag) is
/// answered with the paths that exist instead of becoming a patch. Kinds agentops has no
/// schema for (CRDs) get only labels and annotations added.
pub fn addable(object: &Value, path: &[Seg], value: &str) -> Result<(), String> {
    let kind = object["kind"].as_str().unwrap_or("?");
    let body = build(Some(object), path, typed(path, value))?;
    let mut merged = object.clone();
    merge(&mut merged, body);
    let store = crate::schema::SchemaStore::builtin()?;
    let metadata = matches!(
        path,
        [Seg::Key(m), Seg::Key(l), ..] if m == "metadata" && (l == "labels" || l == "annotations")
    );
    match store.check(&merged) {
        crate::schema::SchemaCheck::Valid => Ok(()),
        crate::schema::SchemaCheck::UnknownKind(_) if metadata => Ok(()),
        crate::schema::SchemaCheck::UnknownKind(key) => Err(format!(
            "{key} has no schema here, so harmonize only changes values its overlays already set"
        )),
        crate::schema::SchemaCheck::Invalid(problems) => Err(format!(
            "{kind} has no such field ({})",
            problems.first().map_or("", String::as_str)
        )),
    }
}

/// Overrides, in this overlay only, a field that a base shared with overlays outside the
/// request sets: a patch in the overlay, as a person would write. A kind without a schema
/// (a CRD) is patched as a JSON merge patch, which replaces whole lists, so only paths
/// without list items are overridden there.
pub fn override_field(
    root: &Path,
    leaf: &Leaf,
    object: &Value,
    path: &[Seg],
    value: &str,
) -> Result<(Vec<FileChange>, String), String> {
    if path.iter().any(|s| matches!(s, Seg::Flag(_))) {
        return Err(
            "a `--flag` argument cannot be overridden by a patch of one item; give the overlay a patch of the container's args with Edit".into(),
        );
    }
    let known = crate::schema::SchemaStore::builtin()
        .is_ok_and(|s| !matches!(s.check(object), crate::schema::SchemaCheck::UnknownKind(_)));
    if !known && path.iter().any(|s| !matches!(s, Seg::Key(_))) {
        return Err(
            "a patch of a kind without a schema replaces whole lists; give the overlay its own patch with Edit".into(),
        );
    }
    patch_for(root, leaf, object, path, value)
}

/// Overrides, in this overlay only, the tag of an image a shared base sets: an `images:`
/// entry in the overlay's kustomization.
pub fn override_image(
    root: &Path,
    dir: &Path,
    image: &str,
    tag: &str,
) -> Result<(FileChange, String), String> {
    let kfile = crate::kustomize::kustomization_file(dir)
        .ok_or_else(|| format!("{} has no kustomization file", rel_of(root, dir)))?;
    let text =
        std::fs::read_to_string(&kfile).map_err(|e| format!("{}: {e}", rel_of(root, &kfile)))?;
    let item = [
        format!("- name: {}", yaml_scalar(image)),
        format!("  newTag: {}", yaml_scalar(tag)),
    ];
    let (after, _) = add_list_item(&text, "images", &item).ok_or_else(|| {
        format!(
            "{} writes `images:` in flow style; add the image there with Edit",
            rel_of(root, &kfile)
        )
    })?;
    let rel = rel_of(root, &kfile);
    Ok((
        FileChange {
            path: kfile,
            rel: rel.clone(),
            before: Some(text),
            after: Some(after),
        },
        rel,
    ))
}

/// The patch file (new or merged into the one an earlier add wrote) and, when it is new to
/// the kustomization, the kustomization's `patches:` entry.
fn patch_for(
    root: &Path,
    leaf: &Leaf,
    object: &Value,
    path: &[Seg],
    value: &str,
) -> Result<(Vec<FileChange>, String), String> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let rendered = object["metadata"]["name"].as_str().unwrap_or_default();
    let body = build(Some(object), path, typed(path, value))?;
    let name = source_name(leaf, kind, rendered);
    // The file is named after the object.
    let stem = file_stem(&name);
    let topic = topic(path);
    let kfile = crate::kustomize::kustomization_file(leaf.dir)
        .ok_or_else(|| format!("{} has no kustomization file", leaf.rel))?;
    let ktext = std::fs::read_to_string(&kfile).map_err(|e| format!("{}: {e}", leaf.rel))?;
    // Ours from an earlier add (same object), or a fresh name.
    let mut chosen = None;
    for candidate in [
        format!("{stem}-{topic}.yaml"),
        format!("{stem}-{topic}-patch.yaml"),
        format!("{stem}-{topic}-agentops.yaml"),
    ] {
        let file = leaf.dir.join(&candidate);
        match std::fs::read_to_string(&file) {
            Err(_) if !file.exists() => {
                chosen = Some((candidate, file, None));
                break;
            }
            Err(_) => continue,
            Ok(text) => {
                let Ok(docs) = crate::kustomize::parse_objects(&text) else {
                    continue;
                };
                if let [doc] = &docs[..]
                    && doc["kind"].as_str() == Some(kind)
                    && doc["metadata"]["name"].as_str() == Some(name.as_str())
                    && ktext.contains(&candidate)
                {
                    chosen = Some((candidate, file, Some((text, doc.clone()))));
                    break;
                }
            }
        }
    }
    let (file_name, file, existing) = chosen.ok_or_else(|| {
        format!(
            "{} already has files named like {stem}-{topic}*.yaml that are not this patch; add the field with Edit",
            leaf.rel
        )
    })?;
    let (before, mut doc) = match existing {
        Some((text, doc)) => (Some(text), doc),
        None => {
            let mut doc = Map::new();
            doc.insert("apiVersion".into(), object["apiVersion"].clone());
            doc.insert("kind".into(), Value::String(kind.to_string()));
            let mut meta = Map::new();
            meta.insert("name".into(), Value::String(name));
            doc.insert("metadata".into(), Value::Object(meta));
            (None, Value::Object(doc))
        }
    };
    merge(&mut doc, body);
    let text = serde_saphyr::to_string(&doc).map_err(|e| format!("writing the patch: {e}"))?;
    let rel = rel_of(root, &file);
    let mut changes = vec![FileChange {
        path: file,
        rel: rel.clone(),
        before,
        after: Some(text),
    }];
    if !ktext.contains(&file_name) {
        let (after, _) = add_list_item(&ktext, "patches", &[format!("- path: {file_name}")])
            .ok_or_else(|| {
                format!(
                    "{} writes `patches:` in flow style; list {file_name} there with Edit",
                    rel_of(root, &kfile)
                )
            })?;
        changes.push(FileChange {
            path: kfile.clone(),
            rel: rel_of(root, &kfile),
            before: Some(ktext),
            after: Some(after),
        });
    }
    Ok((changes, rel))
}

/// The name the object has in the files the leaf reads (before a `namePrefix`/`nameSuffix`):
/// the name a patch must use.
fn source_name(leaf: &Leaf, kind: &str, rendered: &str) -> String {
    let mut best: Option<String> = None;
    for file in leaf.inputs {
        if !file
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(docs) = crate::kustomize::parse_objects(&text) else {
            continue;
        };
        for doc in docs {
            if doc["kind"].as_str() != Some(kind) {
                continue;
            }
            let Some(name) = doc["metadata"]["name"].as_str() else {
                continue;
            };
            if name == rendered {
                return name.to_string();
            }
            if rendered.contains(name) && best.as_ref().is_none_or(|b| name.len() > b.len()) {
                best = Some(name.to_string());
            }
        }
    }
    best.unwrap_or_else(|| rendered.to_string())
}

/// What the patch is about, for its file name: the first key after the last list item
/// (`resources` for `…containers[web].resources.limits.cpu`), else the second key.
fn topic(path: &[Seg]) -> String {
    let last_item = path
        .iter()
        .rposition(|s| !matches!(s, Seg::Key(_)))
        .map_or(0, |i| i + 1);
    let keys: Vec<&str> = path[last_item..]
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let word = match (last_item, &keys[..]) {
        (0, [_, second, ..]) => second,
        (_, [first, ..]) => first,
        _ => &"field",
    };
    file_stem(word)
}

/// A file name made of `text`: lower-case letters, digits and `-` only, so no name from a
/// manifest (`../x`) can place a file outside the folder.
fn file_stem(text: &str) -> String {
    let stem: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    stem.trim_matches('-').to_string()
}

/// The value as YAML should hold it: a whole number or boolean where Kubernetes expects one,
/// text where it must be text (labels, annotations, data, env values).
fn typed(path: &[Seg], value: &str) -> Value {
    let text_only = path.iter().any(|s| {
        matches!(s, Seg::Key(k) if matches!(k.as_str(), "labels" | "annotations" | "data" | "stringData" | "env" | "value"))
    });
    if !text_only {
        if let Ok(n) = value.parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(b) = value.parse::<bool>() {
            return Value::Bool(b);
        }
    }
    Value::String(value.to_string())
}

/// The patch body for `path` (the rendered `at` shows which list items exist): mappings down
/// to the value, list items by name.
fn build(at: Option<&Value>, path: &[Seg], value: Value) -> Result<Value, String> {
    let Some((seg, rest)) = path.split_first() else {
        return Ok(value);
    };
    if let Some(here) = at
        && !here.is_null()
        && !(here.is_object() || here.is_array())
    {
        return Err(String::from(
            "the path goes below a value that is neither a mapping nor a list",
        ));
    }
    match seg {
        Seg::Key(k) => {
            let child = at.and_then(|a| a.get(k.as_str()));
            let mut map = Map::new();
            map.insert(k.clone(), build(child, rest, value)?);
            Ok(Value::Object(map))
        }
        Seg::Select {
            field,
            value: wanted,
        } if field == "name" => item_by_name(at, wanted, rest, value),
        Seg::Select { field, .. } => Err(format!(
            "a patch can only reach list items by name; `[{field}=…]` is not a name"
        )),
        Seg::Index(n) => {
            let name = at
                .and_then(|a| a.get(*n))
                .and_then(|item| item["name"].as_str())
                .ok_or_else(|| {
                    format!("list item {n} has no name; a patch can only reach list items by name")
                })?;
            item_by_name(at, name, rest, value)
        }
        Seg::Flag(flag) => Err(format!(
            "`{flag}` is not in the args yet; harmonize changes flags that are there. Add it with Edit to the container's args in the overlay's patch"
        )),
    }
}

fn item_by_name(
    at: Option<&Value>,
    name: &str,
    rest: &[Seg],
    value: Value,
) -> Result<Value, String> {
    let items = at.and_then(Value::as_array);
    let item = items
        .into_iter()
        .flatten()
        .find(|i| i["name"].as_str() == Some(name))
        .ok_or_else(|| {
            let names: Vec<&str> = items
                .into_iter()
                .flatten()
                .filter_map(|i| i["name"].as_str())
                .collect();
            format!(
                "no list item is named `{name}`; the items are: {}",
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?;
    if !matches!(rest.first(), Some(Seg::Key(_))) {
        return Err(format!(
            "after `[{name}]` the path must name a field of the item"
        ));
    }
    let mut entry = Map::new();
    entry.insert("name".into(), Value::String(name.to_string()));
    if let Value::Object(fields) = build(Some(item), rest, value)? {
        entry.extend(fields);
    }
    Ok(Value::Array(vec![Value::Object(entry)]))
}

/// Merges a patch body into a patch document: mappings key by key, lists of named items by
/// name, anything else replaced.
fn merge(into: &mut Value, add: Value) {
    match (into, add) {
        (Value::Object(have), Value::Object(add)) => {
            for (k, v) in add {
                match have.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        have.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(have), Value::Array(add)) => {
            for item in add {
                let name = item["name"].as_str().map(str::to_string);
                match have
                    .iter_mut()
                    .find(|h| name.is_some() && h["name"].as_str() == name.as_deref())
                {
                    Some(existing) => merge(existing, item),
                    None => have.push(item),
                }
            }
        }
        (into, add) => *into = add,
    }
}

/// A YAML scalar for a key or value: plain when YAML reads it back as the same text,
/// double-quoted otherwise.
pub fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && text.parse::<f64>().is_err()
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
    }
}

/// `text` with `item` (lines relative to the list's indentation, the first starting `- `)
/// added at the end of the top-level list `key`, or a new `key:` list at the end of the file;
/// with the 1-based line of the item. `None` when `key` is written in flow style.
pub fn add_list_item(text: &str, key: &str, item: &[String]) -> Option<(String, usize)> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let head = lines.iter().position(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|r| {
                let r = r.trim();
                r.is_empty() || r.starts_with('#') || r == "[]"
            })
    });
    let flow = lines.iter().any(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|r| {
                let r = r.trim();
                !(r.is_empty() || r.starts_with('#') || r == "[]")
            })
    });
    if flow {
        return None;
    }
    let (at, indent) = match head {
        Some(h) => {
            if lines[h].trim_end().ends_with("[]") {
                lines[h] = format!("{key}:");
            }
            let mut last = h;
            let mut indent = None;
            for (j, l) in lines.iter().enumerate().skip(h + 1) {
                let t = l.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                let n = l.len() - t.len();
                if n == 0 && !t.starts_with('-') {
                    break;
                }
                if indent.is_none() && t.starts_with('-') {
                    indent = Some(n);
                }
                last = j;
            }
            (last + 1, indent.unwrap_or_else(|| list_indent(&lines)))
        }
        None => {
            while lines.last().is_some_and(|l| l.trim().is_empty()) {
                lines.pop();
            }
            lines.push(format!("{key}:"));
            (lines.len(), list_indent(&lines))
        }
    };
    let pad = " ".repeat(indent);
    for (i, l) in item.iter().enumerate() {
        lines.insert(at + i, format!("{pad}{l}"));
    }
    let mut out = lines.join(eol);
    out.push_str(eol);
    Some((out, at + 1))
}

/// How far the file indents the items of its top-level lists (0 when it has none).
fn list_indent(lines: &[String]) -> usize {
    lines
        .windows(2)
        .find_map(|w| {
            let key = !w[0].starts_with([' ', '-', '#']) && w[0].trim_end().ends_with(':');
            let t = w[1].trim_start();
            (key && t.starts_with("- ")).then(|| w[1].len() - t.len())
        })
        .unwrap_or(0)
}

/// Input of [`AddObjectTool`].
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct AddObjectInput {
    /// The kustomization folder that gets the object, e.g. `apps/web/overlays/dev`.
    pub path: String,
    /// The object as YAML (one document with apiVersion, kind, metadata.name).
    pub manifest: String,
}

/// Adds one new object to a kustomization: a file of its own in the folder
/// (`<kind>-<name>.yaml`) listed under `resources:`. Only that overlay (and those built on
/// it) renders it; the runtime gates the result, and high-risk kinds need approval.
pub struct AddObjectTool;

impl AddObjectTool {
    fn planned(input: &AddObjectInput, root: &Path, cwd: &Path) -> Result<Vec<FileChange>, String> {
        let root = root
            .canonicalize()
            .map_err(|e| format!("{}: {e}", root.display()))?;
        let dir = crate::path::confine(&root, cwd, &input.path).map_err(|e| e.to_string())?;
        let kfile = crate::kustomize::kustomization_file(&dir).ok_or_else(|| {
            format!(
                "{} is not a kustomization folder. Kustomization folders here: {}",
                input.path,
                crate::kustomize::nearest_kustomizations(&root, &input.path, 8).join(", ")
            )
        })?;
        // The model's text: parsed with serde-saphyr's default budget (no alias bombs).
        let objects: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&input.manifest)
            .map_err(|e| format!("the manifest is not YAML: {}", e.without_snippet()))?;
        let objects: Vec<serde_json::Value> =
            objects.into_iter().filter(Value::is_object).collect();
        let [object] = &objects[..] else {
            return Err(format!(
                "the manifest holds {} objects; add one object per call",
                objects.len()
            ));
        };
        let (Some(kind), Some(name), Some(_)) = (
            object["kind"].as_str(),
            object["metadata"]["name"].as_str(),
            object["apiVersion"].as_str(),
        ) else {
            return Err("the manifest needs apiVersion, kind and metadata.name".into());
        };
        if kind.ends_with("List") || object.get("items").is_some() {
            return Err("the manifest is a list; add one object per call".into());
        }
        if kind == "Secret" {
            return Err(
                "agentops does not write Secrets: create them through the team's secret manager (or a secretGenerator whose input stays out of Git)".into(),
            );
        }
        if let Ok(store) = crate::schema::SchemaStore::builtin()
            && let crate::schema::SchemaCheck::Invalid(problems) = store.check(object)
        {
            return Err(format!(
                "the {kind} does not fit its schema: {}",
                problems.join("; ")
            ));
        }
        let file_name = format!("{}.yaml", file_stem(&format!("{kind}-{name}")));
        let file = dir.join(&file_name);
        if file.exists() {
            return Err(format!(
                "{} already exists; change it with Edit",
                rel_of(&root, &file)
            ));
        }
        let ktext = std::fs::read_to_string(&kfile)
            .map_err(|e| format!("{}: {e}", rel_of(&root, &kfile)))?;
        let (after, _) = add_list_item(&ktext, "resources", &[format!("- {file_name}")])
            .ok_or_else(|| {
                format!(
                    "{} writes `resources:` in flow style; list {file_name} there with Edit",
                    rel_of(&root, &kfile)
                )
            })?;
        let text =
            serde_saphyr::to_string(object).map_err(|e| format!("writing {file_name}: {e}"))?;
        Ok(vec![
            FileChange {
                rel: rel_of(&root, &file),
                path: file,
                before: None,
                after: Some(text),
            },
            FileChange {
                rel: rel_of(&root, &kfile),
                path: kfile,
                before: Some(ktext),
                after: Some(after),
            },
        ])
    }
}

impl crate::tool::TypedTool for AddObjectTool {
    type Input = AddObjectInput;
    const NAME: &'static str = "add_object";
    const DESCRIPTION: &'static str = "Add one new object (e.g. a NetworkPolicy) to a kustomization folder: writes <kind>-<name>.yaml there and lists it under resources. Only that overlay renders it. Gated like Write; high-risk kinds need approval.";
    const RISK: crate::tool::Risk = crate::tool::Risk::Write;

    fn call(
        &self,
        input: AddObjectInput,
        ctx: &crate::tool::ToolContext,
    ) -> futures_util::future::BoxFuture<'static, crate::tool::ToolOutput> {
        // Only reached outside the gated runtime: show the plan, change nothing.
        let planned = Self::planned(&input, &ctx.root, &ctx.cwd);
        Box::pin(async move {
            match planned {
                Ok(changes) => crate::tool::ToolOutput::ok(
                    changes.iter().map(FileChange::diff).collect::<String>(),
                ),
                Err(e) => crate::tool::ToolOutput::error(e),
            }
        })
    }

    fn plan(
        &self,
        input: &AddObjectInput,
        ctx: &crate::tool::ToolContext,
    ) -> Option<Result<Vec<FileChange>, crate::tool::ToolOutput>> {
        Some(Self::planned(input, &ctx.root, &ctx.cwd).map_err(crate::tool::ToolOutput::error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_item_goes_at_the_end_of_its_list_with_the_file_indentation() {
        let text = "resources:\n  - ../../base\npatches:\n  - path: a.yaml\n    target:\n      kind: Deployment\nnamePrefix: x-\n";
        let (out, line) = add_list_item(text, "patches", &["- path: b.yaml".into()]).unwrap();
        assert_eq!(
            out,
            "resources:\n  - ../../base\npatches:\n  - path: a.yaml\n    target:\n      kind: Deployment\n  - path: b.yaml\nnamePrefix: x-\n"
        );
        assert_eq!(line, 7);
        // No such list yet: a new one at the end, indented like the file's other lists.
        let (out, line) =
            add_list_item(text, "labels", &["- pairs:".into(), "    a: b".into()]).unwrap();
        assert!(
            out.ends_with("namePrefix: x-\nlabels:\n  - pairs:\n      a: b\n"),
            "{out}"
        );
        assert_eq!(line, 9);
        // Items at column 0, and an empty flow list.
        let (out, _) = add_list_item(
            "resources:\n- a.yaml\npatches: []\n",
            "patches",
            &["- path: b.yaml".into()],
        )
        .unwrap();
        assert_eq!(out, "resources:\n- a.yaml\npatches:\n- path: b.yaml\n");
        assert!(
            add_list_item(
                "patches: [{path: a.yaml}]\n",
                "patches",
                &["- path: b.yaml".into()]
            )
            .is_none()
        );
    }

    #[test]
    fn scalars_are_quoted_only_when_yaml_would_read_them_otherwise() {
        assert_eq!(yaml_scalar("cc-4120"), "cc-4120");
        assert_eq!(
            yaml_scalar("app.kubernetes.io/team"),
            "app.kubernetes.io/team"
        );
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar("4120"), "\"4120\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
    }

    #[test]
    fn a_patch_body_reaches_list_items_by_name_and_says_which_exist() {
        let object = serde_json::json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar"}, {"name": "ldap", "image": "x"}
        ]}}}});
        let path = crate::harmonize::SetSpec::parse(
            "Deployment/ldap:spec.template.spec.containers[ldap].resources.limits.cpu=500m",
        )
        .unwrap();
        let crate::harmonize::SetTarget::Field { path, .. } = path.target else {
            panic!("a field")
        };
        let body = build(Some(&object), &path, typed(&path, "500m")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"spec": {"template": {"spec": {"containers": [
                {"name": "ldap", "resources": {"limits": {"cpu": "500m"}}}
            ]}}}})
        );
        assert_eq!(topic(&path), "resources");
        let mut doc = serde_json::json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "ldap", "resources": {"requests": {"cpu": "100m"}}}
        ]}}}});
        merge(&mut doc, body);
        assert_eq!(
            doc["spec"]["template"]["spec"]["containers"][0]["resources"],
            serde_json::json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "500m"}})
        );
        let wrong = crate::harmonize::SetSpec::parse(
            "Deployment/ldap:spec.template.spec.containers[web].resources.limits.cpu=1",
        )
        .unwrap();
        let crate::harmonize::SetTarget::Field { path, .. } = wrong.target else {
            panic!("a field")
        };
        let err = build(Some(&object), &path, Value::from(1)).unwrap_err();
        assert!(err.contains("sidecar, ldap"), "{err}");
        // Replicas are numbers, label values text.
        assert_eq!(typed(&[Seg::Key("replicas".into())], "3"), Value::from(3));
        assert_eq!(
            typed(
                &[
                    Seg::Key("metadata".into()),
                    Seg::Key("labels".into()),
                    Seg::Key("x".into())
                ],
                "3"
            ),
            Value::from("3")
        );
    }
}
