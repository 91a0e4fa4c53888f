//! Harmonize: one value across every overlay that renders it — a field of an object
//! (`Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]`),
//! a replica count, a ConfigMap key, or an image tag (`image:registry/app`).
//!
//! For each leaf kustomization (one no other kustomization builds on) that renders the object,
//! the value is read from the *rendered* output, then the source line that sets it is found:
//! the overlay's own files first (its patches win), then its bases. That one line is edited in
//! place — indentation, quotes and comments kept — so the change is the smallest diff a person
//! would make. A line in a base shared with overlays the filter leaves out, a value no file
//! sets, or two candidate lines are refused with the reason, never guessed. Selectors and other
//! immutable fields are refused. The plan is a list of [`FileChange`]s: the runtime gates it
//! (re-render, schema, policies, rendered diff, risk, approval) before anything is written.

use crate::edit::FileChange;
use crate::kustomize::{find_kustomizations, input_files, parse_objects};
use crate::tool::ToolOutput;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Fields whose change Kubernetes refuses or that break what selects the object.
const IMMUTABLE: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.selector",
    "spec.template.metadata.labels",
    "spec.volumeClaimTemplates",
    "spec.serviceName",
    "spec.clusterIP",
    "spec.clusterIPs",
    "spec.storageClassName",
    "spec.podManagementPolicy",
];

/// What to set: `Kind/name:path=value` or `image:NAME=TAG`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetSpec {
    /// As given, for reports.
    pub text: String,
    pub target: SetTarget,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SetTarget {
    Field {
        object_kind: String,
        name: String,
        path: Vec<Seg>,
    },
    /// The tag of every container image named `image`.
    Image { image: String },
    /// A label on every object an overlay renders (selectors untouched).
    Label { key: String },
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "seg", content = "value", rename_all = "snake_case")]
pub enum Seg {
    Key(String),
    Index(usize),
    /// `[prometheus]` or `[name=prometheus]`: the list item with that field value.
    Select {
        field: String,
        value: String,
    },
    /// `[--flag]`: the string item `--flag=…`; the value is what follows `=`.
    Flag(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SetError {
    #[error(
        "`{0}`: expected KIND/NAME:PATH=VALUE (e.g. Deployment/web:spec.replicas=3), image:NAME=TAG or label:KEY=VALUE"
    )]
    Syntax(String),
    #[error(
        "harmonize does not read or set Secrets; change them through the team's secret manager"
    )]
    Secret,
    #[error("`{path}` is immutable or selects objects ({field}); harmonize does not change it")]
    Immutable { path: String, field: String },
}

impl SetSpec {
    pub fn parse(text: &str) -> Result<Self, SetError> {
        let bad = || SetError::Syntax(text.to_string());
        if let Some(rest) = text
            .strip_prefix("label:")
            .or_else(|| text.strip_prefix("labels:"))
        {
            // `label:KEY=VALUE`, or `label:KEY: VALUE` as YAML writes it.
            let (key, value) = rest
                .split_once('=')
                .or_else(|| rest.split_once(": "))
                .ok_or_else(bad)?;
            let (key, value) = (key.trim(), value.trim());
            let label_text = |t: &str, extra: &[char]| {
                t.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || extra.contains(&c)
                })
            };
            if key.is_empty()
                || !label_text(key, &['/'])
                || !label_text(value, &[])
                || value.len() > 63
            {
                return Err(bad());
            }
            return Ok(Self {
                text: text.to_string(),
                target: SetTarget::Label {
                    key: key.to_string(),
                },
                value: value.to_string(),
            });
        }
        if let Some(rest) = text.strip_prefix("image:") {
            // `image:NAME=TAG`, or `image:NAME:TAG` as the image is written.
            let (image, tag) = rest
                .rsplit_once('=')
                .or_else(|| rest.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')))
                .ok_or_else(bad)?;
            // `image:postgres=docker.io/library/postgres:16.6`: the whole reference as the
            // value names the image in full.
            let (image, tag) = match tag.rsplit_once(':') {
                Some((named, t))
                    if !t.contains('/') && named.rsplit('/').next() == image.rsplit('/').next() =>
                {
                    (named, t)
                }
                _ => (image, tag),
            };
            if image.is_empty() || tag.is_empty() || tag.contains([' ', ':', '@']) {
                return Err(bad());
            }
            return Ok(Self {
                text: text.to_string(),
                target: SetTarget::Image {
                    image: image.to_string(),
                },
                value: tag.to_string(),
            });
        }
        let (object, rest) = text.split_once(':').ok_or_else(bad)?;
        let (object_kind, name) = object.split_once('/').ok_or_else(bad)?;
        // A Secret's values never reach the model: not as a current value, not as a
        // confirmation that a guess is right.
        if object_kind == "Secret" {
            return Err(SetError::Secret);
        }
        let (path_text, value) = split_value(rest).ok_or_else(bad)?;
        let path = parse_path(path_text).ok_or_else(bad)?;
        if object_kind.is_empty() || name.is_empty() || path.is_empty() {
            return Err(bad());
        }
        let dotted = dotted(&path);
        if let Some(field) = IMMUTABLE
            .iter()
            .find(|f| dotted == **f || dotted.starts_with(&format!("{f}.")))
        {
            return Err(SetError::Immutable {
                path: path_text.to_string(),
                field: field.to_string(),
            });
        }
        Ok(Self {
            text: text.to_string(),
            target: SetTarget::Field {
                object_kind: object_kind.to_string(),
                name: name.to_string(),
                path,
            },
            value: value.to_string(),
        })
    }
}

/// `PATH=VALUE`, where `=` inside `[...]` belongs to the path.
fn split_value(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '=' if depth == 0 => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

fn parse_path(text: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end > 0 {
            segs.push(Seg::Key(rest[..end].to_string()));
        }
        rest = &rest[end..];
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            let sel = &inner[..close];
            segs.push(if let Ok(i) = sel.parse::<usize>() {
                Seg::Index(i)
            } else if sel.starts_with('-') {
                Seg::Flag(sel.to_string())
            } else if let Some((field, value)) = sel.split_once('=') {
                Seg::Select {
                    field: field.to_string(),
                    value: value.to_string(),
                }
            } else if sel.is_empty() {
                return None;
            } else {
                Seg::Select {
                    field: "name".to_string(),
                    value: sel.to_string(),
                }
            });
            rest = &inner[close + 1..];
        }
    }
    Some(segs)
}

/// `spec.template.spec.containers.args` (selectors dropped) for the immutable check.
fn dotted(path: &[Seg]) -> String {
    path.iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The value at `path` in a rendered object, as text (`None`: not there).
fn get(object: &Value, path: &[Seg]) -> Option<String> {
    let mut at = object;
    for (i, seg) in path.iter().enumerate() {
        at = match seg {
            Seg::Key(k) => at.get(k)?,
            Seg::Index(n) => at.get(*n)?,
            Seg::Select { field, value } => at
                .as_array()?
                .iter()
                .find(|item| scalar(&item[field.as_str()]).as_deref() == Some(value.as_str()))?,
            Seg::Flag(flag) => {
                let prefix = format!("{flag}=");
                let item = at
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|s| s.starts_with(&prefix))?;
                return (i == path.len() - 1).then(|| item[prefix.len()..].to_string());
            }
        };
    }
    scalar(at)
}

/// The value at `path`, whatever its type (`None`: not there; a `[--flag]` is not looked up).
fn lookup<'a>(object: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut at = object;
    for seg in path {
        at = match seg {
            Seg::Key(k) => at.get(k)?,
            Seg::Index(n) => at.get(*n)?,
            Seg::Select { field, value } => at
                .as_array()?
                .iter()
                .find(|item| scalar(&item[field.as_str()]).as_deref() == Some(value.as_str()))?,
            Seg::Flag(_) => return get(object, path).map(|_| at),
        };
    }
    (!at.is_null()).then_some(at)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One overlay's part in the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// The leaf kustomization, relative to the repository.
    pub overlay: String,
    /// `Kind/rendered-name`.
    pub object: String,
    pub before: String,
    pub after: String,
    /// `change`, `already` (nothing to do) or `refused`.
    pub status: &'static str,
    /// The source file and line edited (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub targets: Vec<Target>,
    #[serde(skip)]
    pub changes: Vec<FileChange>,
    /// Leaf kustomizations that failed to render (not harmonized).
    pub failed: Vec<(String, String)>,
    /// How the request was read (`image web is registry.example.com/storefront/web`).
    pub notes: Vec<String>,
}

impl Plan {
    /// One combined unified diff of every edited source file.
    pub fn diff(&self) -> String {
        self.changes.iter().map(FileChange::diff).collect()
    }

    pub fn refused(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.status == "refused")
    }
}

/// Which leaves to consider: a folder name the path must contain (`--app`) and any of the
/// environments (`--env`, repeatable).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub app: Option<String>,
    pub envs: Vec<String>,
}

impl Filter {
    fn matches(&self, rel: &Path) -> bool {
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        self.app
            .as_ref()
            .is_none_or(|a| a == "*" || parts.contains(a))
            && (self.envs.is_empty() || self.envs.iter().any(|e| parts.contains(e)))
    }
}

/// A source line that sets the value.
#[derive(Debug, Clone, PartialEq)]
struct Hit {
    file: PathBuf,
    line: usize,
    /// The line with the new value.
    replaced: String,
}

/// Plans the edits that make every matching overlay render `spec.value`.
///
/// Long on purpose: render every overlay, find the target in each, then find the one
/// source line per overlay — each step refuses with a reason, and they read best in order.
pub async fn plan(
    root: &Path,
    spec: &SetSpec,
    filter: &Filter,
    timeout: Duration,
) -> Result<Plan, String> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let all = find_kustomizations(&root);
    let inputs: BTreeMap<PathBuf, Vec<PathBuf>> =
        all.iter().map(|k| (k.clone(), input_files(k))).collect();
    // A leaf: no other kustomization reads its kustomization file.
    let leaves = crate::find::leaves_among(&all, &inputs);
    let mut plan = Plan::default();
    // Render every leaf (in parallel) and find its matching objects.
    let renders =
        futures_util::future::join_all(leaves.iter().map(|k| crate::kustomize::render(k, timeout)))
            .await;
    struct Found<'a> {
        leaf: &'a PathBuf,
        object: String,
        before: String,
        value: &'a Value,
        objects: &'a [Value],
    }
    let mut found: Vec<Found> = Vec::new();
    // Everything that renders, for an error that shows what would work.
    let mut fields = Vec::new();
    let mut rendered_leaves: Vec<(&PathBuf, Vec<Value>)> = Vec::new();
    for (leaf, rendered) in leaves.iter().zip(renders) {
        let rel = rel_of(&root, leaf);
        match rendered.and_then(|y| parse_objects(&y)) {
            Ok(objects) => {
                fields.extend(crate::find::fields_of(&rel, &objects));
                rendered_leaves.push((leaf, objects));
            }
            Err(e) => {
                if filter.matches(Path::new(&rel)) {
                    plan.failed.push((rel, e));
                }
            }
        }
    }
    if let SetTarget::Label { key } = &spec.target {
        let leaves: Vec<crate::add::Leaf> = rendered_leaves
            .iter()
            .map(|(leaf, objects)| crate::add::Leaf {
                dir: leaf,
                rel: rel_of(&root, leaf),
                objects,
                inputs: &inputs[*leaf],
            })
            .filter(|l| filter.matches(Path::new(&l.rel)))
            .collect();
        if leaves.is_empty() {
            return Err(out_of_scope(
                &root,
                filter,
                rendered_leaves.iter().map(|(l, _)| *l),
            ));
        }
        // A label on every object of every app is rarely meant: it must be asked for.
        if filter.app.is_none() && leaves.len() > 1 {
            let mut apps: Vec<&str> = leaves.iter().map(|l| app_of(&l.rel)).collect();
            apps.dedup();
            return Err(format!(
                "a label goes on every object of the overlays in scope; name the app (a folder of the overlay path), or app \"*\" for every overlay of the repository ({} overlays). For example:\n{}",
                leaves.len(),
                apps.iter()
                    .take(6)
                    .map(|a| format!(
                        "- {}",
                        serde_json::json!({"set": spec.text, "app": a, "env": filter.envs})
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        let added = crate::add::labels(&root, &leaves, key, &spec.value);
        plan.targets = added.targets;
        plan.changes = added.changes;
        plan.notes.push(
            "added as a `labels:` entry in each overlay's kustomization: every object gets the label, selectors and pod templates do not".into(),
        );
        return Ok(plan);
    }
    // A container's `image` field set to `NAME:TAG` is the image form: kustomize's `images:`
    // overrides in an overlay set tags no manifest line holds.
    let as_image;
    let spec = match &spec.target {
        SetTarget::Field { path, .. }
            if matches!(path.last(), Some(Seg::Key(k)) if k == "image")
                && path.iter().any(
                    |s| matches!(s, Seg::Key(k) if k == "containers" || k == "initContainers"),
                ) =>
        {
            match SetSpec::parse(&format!("image:{}", spec.value)) {
                Ok(image) => {
                    plan.notes.push(format!("set as {}", image.text));
                    as_image = image;
                    &as_image
                }
                Err(_) => spec,
            }
        }
        _ => spec,
    };
    // `image:web=TAG` means the one rendered image whose last path segment or container is
    // `web`, as a person would say it; several candidates are listed, never guessed.
    let resolved;
    let spec = match &spec.target {
        SetTarget::Image { image } => {
            match resolve_image(image, rendered_leaves.iter().flat_map(|(_, o)| o)) {
                Ok(None) => spec,
                Ok(Some(full)) => {
                    plan.notes.push(format!("image {image} is {full}"));
                    resolved = SetSpec {
                        text: format!("image:{full}={}", spec.value),
                        target: SetTarget::Image { image: full },
                        value: spec.value.clone(),
                    };
                    &resolved
                }
                Err(several) => {
                    return Err(format!(
                        "image {image} could mean {} images; name one in full:\n{}",
                        several.len(),
                        several
                            .iter()
                            .map(|full| format!("- `image:{full}={}`", spec.value))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                }
            }
        }
        SetTarget::Field { .. } | SetTarget::Label { .. } => spec,
    };
    for (leaf, objects) in &rendered_leaves {
        let leaf = *leaf;
        for object in objects {
            if let Some(before) = current(object, spec) {
                found.push(Found {
                    leaf,
                    object: format!(
                        "{}/{}",
                        object["kind"].as_str().unwrap_or("?"),
                        object["metadata"]["name"].as_str().unwrap_or("?")
                    ),
                    before,
                    value: object,
                    objects,
                });
            }
        }
    }
    // Overlays in scope whose object lacks the field: it is added as a patch.
    let mut missing: Vec<(crate::add::Leaf, Vec<&Value>)> = Vec::new();
    let mut not_addable: Option<String> = None;
    if let SetTarget::Field {
        object_kind,
        name,
        path,
    } = &spec.target
    {
        for (leaf, objects) in &rendered_leaves {
            let rel = rel_of(&root, leaf);
            if !filter.matches(Path::new(&rel)) {
                continue;
            }
            let lacking: Vec<&Value> = objects
                .iter()
                .filter(|o| is_object(o, object_kind, name) && lookup(o, path).is_none())
                .filter(|o| match crate::add::addable(o, path, &spec.value) {
                    Ok(()) => true,
                    Err(why) => {
                        plan.targets.push(Target {
                            overlay: rel.clone(),
                            object: format!(
                                "{}/{}",
                                o["kind"].as_str().unwrap_or("?"),
                                o["metadata"]["name"].as_str().unwrap_or("?")
                            ),
                            before: "(not set)".into(),
                            after: spec.value.clone(),
                            status: "refused",
                            file: None,
                            line: None,
                            reason: Some(why.clone()),
                        });
                        not_addable.get_or_insert(why);
                        false
                    }
                })
                .collect();
            if !lacking.is_empty() {
                missing.push((
                    crate::add::Leaf {
                        dir: leaf,
                        rel,
                        objects,
                        inputs: &inputs[*leaf],
                    },
                    lacking,
                ));
            }
        }
    }
    if found.is_empty() && missing.is_empty() {
        let (kind, name, last_key) = match &spec.target {
            SetTarget::Field {
                object_kind,
                name,
                path,
            } => {
                let last = path
                    .iter()
                    .rev()
                    .find_map(|s| match s {
                        Seg::Key(k) => Some(k.clone()),
                        Seg::Flag(f) => Some(f.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                (object_kind.clone(), name.clone(), last)
            }
            SetTarget::Image { image } => (String::new(), image.clone(), "image".to_string()),
            SetTarget::Label { key } => (String::new(), String::new(), key.clone()),
        };
        return Err(format!(
            "no overlay renders {}{}.\n{}",
            describe(spec),
            not_addable
                .map(|why| format!(", and it cannot be added: {why}"))
                .unwrap_or_default(),
            crate::find::suggest(&root, &fields, &kind, &name, &last_key)
        ));
    }
    // Every leaf rendering the object, targeted or not: to see who shares a base line.
    let renders_it: BTreeSet<&PathBuf> = found.iter().map(|f| f.leaf).collect();
    let mut edits: BTreeMap<PathBuf, BTreeMap<usize, String>> = BTreeMap::new();
    let mut hits: Vec<(usize, Hit)> = Vec::new();
    // Patches and `images:` entries that set the value in one overlay over a shared base.
    let mut overrides: Vec<FileChange> = Vec::new();
    let mut overridden_leaves: BTreeSet<&PathBuf> = BTreeSet::new();
    for f in &found {
        let rel = rel_of(&root, f.leaf);
        if !filter.matches(Path::new(&rel)) {
            continue;
        }
        let mut target = Target {
            overlay: rel,
            object: f.object.clone(),
            before: f.before.clone(),
            after: spec.value.clone(),
            status: "change",
            file: None,
            line: None,
            reason: None,
        };
        if f.before == spec.value {
            target.status = "already";
            plan.targets.push(target);
            continue;
        }
        match locate(f.leaf, &inputs[f.leaf], spec, &f.before) {
            Ok(hit) => {
                // A line outside the overlay may be read by overlays the filter leaves out.
                let sharers: Vec<String> = renders_it
                    .iter()
                    .filter(|other| **other != f.leaf && inputs[**other].contains(&hit.file))
                    .map(|other| rel_of(&root, other))
                    .filter(|other| !filter.matches(Path::new(other)))
                    .collect();
                if !sharers.is_empty() {
                    // Set here, in this overlay only, as a person would: a patch or an
                    // `images:` entry of the overlay's own.
                    let shared = format!(
                        "the value is set in {} line {}, which {} also build from",
                        rel_of(&root, &hit.file),
                        hit.line,
                        sharers.join(", ")
                    );
                    let overridden = if overridden_leaves.contains(&f.leaf) {
                        Err("another object of this overlay is overridden by this call; run harmonize again for this one".to_string())
                    } else {
                        match &spec.target {
                            SetTarget::Field { path, .. } => crate::add::override_field(
                                &root,
                                &crate::add::Leaf {
                                    dir: f.leaf,
                                    rel: target.overlay.clone(),
                                    objects: f.objects,
                                    inputs: &inputs[f.leaf],
                                },
                                f.value,
                                path,
                                &spec.value,
                            ),
                            SetTarget::Image { image } => {
                                crate::add::override_image(&root, f.leaf, image, &spec.value)
                                    .map(|(change, file)| (vec![change], file))
                            }
                            SetTarget::Label { .. } => Err(String::new()),
                        }
                    };
                    match overridden {
                        Ok((changes, file)) => {
                            overridden_leaves.insert(f.leaf);
                            target.file = Some(file);
                            target.reason = Some(format!("{shared}: set in this overlay instead"));
                            overrides.extend(changes);
                        }
                        Err(why) => {
                            target.status = "refused";
                            target.reason = Some(format!(
                                "{shared}; include them (--app/--env) or give this overlay its own patch{}",
                                if why.is_empty() {
                                    String::new()
                                } else {
                                    format!(" ({why})")
                                }
                            ));
                        }
                    }
                } else {
                    target.file = Some(rel_of(&root, &hit.file));
                    target.line = Some(hit.line);
                    hits.push((plan.targets.len(), hit));
                }
            }
            Err(reason) => {
                target.status = "refused";
                target.reason = Some(reason);
            }
        }
        plan.targets.push(target);
    }
    for (_, hit) in &hits {
        edits
            .entry(hit.file.clone())
            .or_default()
            .insert(hit.line, hit.replaced.clone());
    }
    if overrides.iter().any(|c| edits.contains_key(&c.path)) {
        return Err(format!(
            "{} is set in the overlays' own files for some and in a shared base for others; set it in two steps (--env)",
            describe(spec)
        ));
    }
    plan.changes.extend(overrides);
    if !missing.is_empty()
        && let SetTarget::Field { path, .. } = &spec.target
    {
        let added = crate::add::field(&root, &missing, path, &spec.value)?;
        if added
            .changes
            .iter()
            .any(|c| edits.contains_key(&c.path) || plan.changes.iter().any(|p| p.path == c.path))
        {
            return Err(format!(
                "{} is set in some overlays and missing in others that share files; set it where it is first, then add it where it is missing",
                describe(spec)
            ));
        }
        plan.notes.push(format!(
            "{} is not set yet in {}: added as a strategic-merge patch in the overlay",
            describe(spec),
            missing
                .iter()
                .map(|(l, _)| l.rel.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        plan.targets.extend(added.targets);
        plan.changes.extend(added.changes);
    }
    if plan.targets.is_empty() {
        return Err(format!(
            "no overlay in scope renders {}.\n{}",
            describe(spec),
            out_of_scope(&root, filter, renders_it.iter().copied())
        ));
    }
    for (file, lines) in edits {
        let before =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut after = String::with_capacity(before.len() + 16);
        for (n, line) in before.split_inclusive('\n').enumerate() {
            match lines.get(&(n + 1)) {
                Some(new) => {
                    after.push_str(new);
                    if line.ends_with("\r\n") {
                        after.push_str("\r\n");
                    } else if line.ends_with('\n') {
                        after.push('\n');
                    }
                }
                None => after.push_str(line),
            }
        }
        plan.changes.push(FileChange {
            rel: rel_of(&root, &file),
            path: file,
            before: Some(before),
            after: Some(after),
        });
    }
    Ok(plan)
}

/// The folder that names an overlay's app: the one before `overlays/` (or `envs/`,
/// `environments/`), else the overlay's own folder.
fn app_of(rel: &str) -> &str {
    let parts: Vec<&str> = rel.split('/').collect();
    parts
        .iter()
        .position(|p| matches!(*p, "overlays" | "envs" | "environments"))
        .filter(|i| *i > 0)
        .map_or_else(|| parts.last().copied().unwrap_or(rel), |i| parts[i - 1])
}

/// Why a filter selects nothing, with the overlays there are to choose from.
fn out_of_scope<'a>(
    root: &Path,
    filter: &Filter,
    overlays: impl Iterator<Item = &'a PathBuf>,
) -> String {
    let overlays: Vec<String> = overlays.map(|o| rel_of(root, o)).collect();
    format!(
        "no overlay matches app={} env={:?}; these do (pass a folder of the path as app, an environment folder in env, [] for all):\n{}",
        filter.app.as_deref().unwrap_or("(any)"),
        filter.envs,
        overlays
            .iter()
            .map(|o| format!("- {o}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// `path` relative to the repository `root`, for people and the model.
pub(crate) fn rel_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn describe(spec: &SetSpec) -> String {
    match &spec.target {
        SetTarget::Field {
            object_kind,
            name,
            path,
        } => format!("{object_kind}/{name} with {}", dotted(path)),
        SetTarget::Image { image } => format!("a container image {image}"),
        SetTarget::Label { key } => format!("label {key}"),
    }
}

/// The object's current value for `spec`, when it is the object `spec` names.
fn current(object: &Value, spec: &SetSpec) -> Option<String> {
    match &spec.target {
        SetTarget::Field {
            object_kind,
            name,
            path,
        } => {
            if !is_object(object, object_kind, name) {
                return None;
            }
            get(object, path)
        }
        SetTarget::Label { key } => object["metadata"]["labels"][key.as_str()]
            .as_str()
            .map(str::to_string),
        SetTarget::Image { image } => containers(object).find_map(|(_, img)| {
            let rest = img.strip_prefix(image.as_str())?;
            rest.strip_prefix(':').map(str::to_string)
        }),
    }
}

/// Whether a rendered object is the one `KIND/NAME` names: kustomize's namePrefix/nameSuffix
/// make `prometheus` `prometheus-dev` in dev.
fn is_object(object: &Value, kind: &str, name: &str) -> bool {
    let Some(rendered) = object["metadata"]["name"].as_str() else {
        return false;
    };
    object["kind"].as_str() == Some(kind)
        && (rendered == name
            || rendered.starts_with(&format!("{name}-"))
            || rendered.ends_with(&format!("-{name}")))
}

/// The containers of a rendered workload: `(container name, image)`.
fn containers(object: &Value) -> impl Iterator<Item = (&str, &str)> {
    let spec_at = if object["spec"]["jobTemplate"].is_object() {
        &object["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &object["spec"]["template"]["spec"]
    };
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(move |k| spec_at[k].as_array())
        .flatten()
        .filter_map(|c| Some((c["name"].as_str().unwrap_or(""), c["image"].as_str()?)))
}

/// An image reference without its tag or digest: `registry:5000/team/web:1.2` → `registry:5000/team/web`.
pub fn image_name(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(n, _)| n);
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => image,
    }
}

/// The full image name `image` stands for when no rendered image has exactly that name: the
/// one whose last path segment, or whose container's name, is `image`. `Ok(None)`: use it as
/// written; `Err`: several full names fit.
fn resolve_image<'a>(
    image: &str,
    objects: impl Iterator<Item = &'a Value>,
) -> Result<Option<String>, Vec<String>> {
    let mut fits = BTreeSet::new();
    for object in objects {
        for (container, reference) in containers(object) {
            let name = image_name(reference);
            if name == image {
                return Ok(None);
            }
            let last = name.rsplit('/').next().unwrap_or(name);
            if last == image || container == image {
                fits.insert(name.to_string());
            }
        }
    }
    match fits.len() {
        0 => Ok(None),
        1 => Ok(fits.into_iter().next()),
        _ => Err(fits.into_iter().collect()),
    }
}

/// What a matching source line looks like: the text of its value and, if known, its key.
struct Needle {
    old: String,
    new: String,
    /// Lines must have this key (or be a JSON-patch `value:` or a list item).
    key: Option<String>,
}

fn needles(spec: &SetSpec, before: &str) -> Vec<Needle> {
    match &spec.target {
        // Labels are added as a kustomization entry, never edited in place.
        SetTarget::Label { .. } => Vec::new(),
        SetTarget::Image { image } => vec![
            Needle {
                old: before.to_string(),
                new: spec.value.clone(),
                key: Some("newTag".into()),
            },
            Needle {
                old: format!("{image}:{before}"),
                new: format!("{image}:{}", spec.value),
                key: Some("image".into()),
            },
        ],
        SetTarget::Field { path, .. } => match path.last() {
            Some(Seg::Flag(flag)) => vec![Needle {
                old: format!("{flag}={before}"),
                new: format!("{flag}={}", spec.value),
                key: None,
            }],
            Some(Seg::Key(k)) => vec![
                Needle {
                    old: before.to_string(),
                    new: spec.value.clone(),
                    key: Some(k.clone()),
                },
                // A configMapGenerator/secretGenerator literal: `- KEY=value`.
                Needle {
                    old: format!("{k}={before}"),
                    new: format!("{k}={}", spec.value),
                    key: None,
                },
            ],
            _ => vec![Needle {
                old: before.to_string(),
                new: spec.value.clone(),
                key: None,
            }],
        },
    }
}

/// Finds the one line that sets the value: the overlay's own files first, then its bases
/// (nearest first).
fn locate(leaf: &Path, inputs: &[PathBuf], spec: &SetSpec, before: &str) -> Result<Hit, String> {
    let mut files: Vec<&PathBuf> = inputs
        .iter()
        .filter(|f| {
            f.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                || f.file_name().is_some_and(|n| n == "Kustomization")
        })
        .collect();
    // Own files, then by how far up the tree they are (bases of bases last).
    files.sort_by_key(|f| (!f.starts_with(leaf), f.components().count()));
    let needles = needles(spec, before);
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let mut matched: Vec<(usize, String)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            for needle in &needles {
                if let Some(new) = replace_value(line, needle) {
                    matched.push((n + 1, new));
                    break;
                }
            }
        }
        match matched.len() {
            0 => continue,
            1 => {
                let (line, replaced) = matched.remove(0);
                return Ok(Hit {
                    file: file.clone(),
                    line,
                    replaced,
                });
            }
            _ => {
                return Err(format!(
                    "{} sets `{}` on {} lines ({}); harmonize will not guess which",
                    file.display(),
                    needles[0].old,
                    matched.len(),
                    matched
                        .iter()
                        .map(|(n, _)| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Err(format!(
        "no file of the overlay or its bases sets `{}` as a value (it may be a default); add a patch to the overlay",
        needles[0].old
    ))
}

/// The line with `needle.old` replaced by `needle.new`, when the line's value is exactly
/// `needle.old` (plain or quoted) and its key fits. Indentation, key, quotes and a trailing
/// comment are kept.
fn replace_value(line: &str, needle: &Needle) -> Option<String> {
    let (code, comment) = split_comment(line);
    let trimmed = code.trim_end();
    let indent_len = trimmed.len() - trimmed.trim_start().len();
    let mut body = &trimmed[indent_len..];
    let mut prefix_len = indent_len;
    let mut list_item = false;
    if let Some(rest) = body.strip_prefix("- ") {
        list_item = true;
        prefix_len += 2;
        body = rest;
    }
    let mut key = None;
    if let Some(colon) = find_key_colon(body) {
        key = Some(body[..colon].trim().trim_matches(['"', '\'']));
        let after = &body[colon + 1..];
        let spaces = after.len() - after.trim_start().len();
        prefix_len += colon + 1 + spaces;
        body = after.trim_start();
    }
    let key_fits = match (&needle.key, key) {
        (_, Some("value")) => true,
        (Some(k), Some(line_key)) => k == line_key,
        (None, Some(_)) => false,
        (_, None) => list_item,
    };
    if !key_fits || body.is_empty() {
        return None;
    }
    let (quote, inner) = match body.chars().next() {
        Some(q @ ('"' | '\'')) if body.len() >= 2 && body.ends_with(q) => {
            (Some(q), &body[1..body.len() - 1])
        }
        _ => (None, body),
    };
    if inner != needle.old {
        return None;
    }
    let value = match quote {
        Some(q) => format!("{q}{}{q}", needle.new),
        // A string that would read as another type unquoted gets quotes.
        None if is_plain_string(&needle.old) && !is_plain_string(&needle.new) => {
            format!("\"{}\"", needle.new)
        }
        None => needle.new.clone(),
    };
    Some(format!(
        "{}{value}{}{comment}",
        &line[..prefix_len],
        &code[trimmed.len()..]
    ))
}

/// True when YAML reads `text` unquoted as a string (not a number, bool or null).
fn is_plain_string(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    !(text.parse::<f64>().is_ok()
        || matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | ""
        )
        || text.starts_with(['*', '&', '!', '{', '[', '>', '|', '%', '@', '`']))
}

/// The position of the `:` ending a mapping key (not one inside the value, like `a:b` images).
fn find_key_colon(body: &str) -> Option<usize> {
    let mut in_quote: Option<char> = None;
    for (i, c) in body.char_indices() {
        match (in_quote, c) {
            (Some(q), c) if c == q => in_quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if i == 0 => in_quote = Some(c),
            (None, ':') => {
                let next = body[i + 1..].chars().next();
                if next.is_none_or(|n| n == ' ' || n == '\t') {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits a trailing ` # comment` off (not a `#` inside quotes).
fn split_comment(line: &str) -> (&str, &str) {
    let mut in_quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (in_quote, c) {
            (Some(q), c) if c == q => in_quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => in_quote = Some(c),
            (None, '#') if i == 0 || line[..i].ends_with([' ', '\t']) => {
                return (&line[..i], &line[i..]);
            }
            _ => {}
        }
    }
    (line, "")
}

/// Input of the `harmonize` tool.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HarmonizeInput {
    /// `KIND/NAME:PATH=VALUE` (e.g. `Deployment/web:spec.replicas=3`,
    /// `Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=30d`,
    /// `ConfigMap/app-config:data.LOG_LEVEL=info`), `image:NAME=TAG` or `label:KEY=VALUE`.
    pub set: String,
    /// Only overlays whose path has this folder (an app; `*` for all). A label needs it.
    #[serde(default)]
    pub app: Option<String>,
    /// Only these environments (folder names in the overlay path); `[]` for every
    /// environment. Required, so that a small model says which it means.
    pub env: Vec<String>,
}

/// Sets one value across every overlay that renders it (see the module docs).
pub struct HarmonizeTool;

impl HarmonizeTool {
    async fn planned(
        input: HarmonizeInput,
        root: PathBuf,
        timeout: Duration,
    ) -> Result<Plan, ToolOutput> {
        let spec = SetSpec::parse(&input.set).map_err(|e| ToolOutput::error(e.to_string()))?;
        let filter = Filter {
            app: input.app,
            envs: input.env,
        };
        plan(&root, &spec, &filter, timeout)
            .await
            .map_err(ToolOutput::error)
    }
}

/// A person's (and the model's) view of a plan's targets.
pub fn targets_text(plan: &Plan) -> String {
    let mut out = String::new();
    for note in &plan.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for t in &plan.targets {
        let where_ = match (&t.file, t.line) {
            (Some(f), Some(l)) => format!("  {f}:{l}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{:<8} {}  {}  {} → {}{where_}\n",
            t.status, t.overlay, t.object, t.before, t.after
        ));
        if let Some(r) = &t.reason {
            out.push_str(&format!("         {r}\n"));
        }
    }
    for (overlay, error) in &plan.failed {
        out.push_str(&format!("failed   {overlay}: {error}\n"));
    }
    out
}

impl crate::tool::TypedTool for HarmonizeTool {
    type Input = HarmonizeInput;
    const NAME: &'static str = "harmonize";
    const DESCRIPTION: &'static str = "Set one value across every overlay (environment) that renders it: a field (KIND/NAME:PATH=VALUE, list items by [name] or [--flag]), a replica count, a ConfigMap key, an image tag (image:NAME=TAG), or a label on every object (label:KEY=VALUE, selectors untouched). Edits the line that sets it in each overlay (its patches first, then its bases), keeping comments; a field not set yet is added as a patch in the overlay. Every affected overlay is re-rendered and gated; production changes need approval.";
    const RISK: crate::tool::Risk = crate::tool::Risk::Write;

    fn call(
        &self,
        input: HarmonizeInput,
        ctx: &crate::tool::ToolContext,
    ) -> futures_util::future::BoxFuture<'static, ToolOutput> {
        // Only reached outside the gated runtime: show the plan, change nothing.
        let (root, timeout) = (ctx.root.clone(), ctx.timeout.max(Duration::from_secs(60)));
        Box::pin(async move {
            match Self::planned(input, root, timeout).await {
                Ok(p) => ToolOutput::ok(format!("{}{}", targets_text(&p), p.diff())),
                Err(e) => e,
            }
        })
    }

    fn plan_async(
        &self,
        input: HarmonizeInput,
        ctx: &crate::tool::ToolContext,
    ) -> Option<crate::tool::ChangeFuture<'static>> {
        let (root, timeout) = (ctx.root.clone(), ctx.timeout.max(Duration::from_secs(60)));
        Some(Box::pin(async move {
            let p = Self::planned(input, root, timeout).await?;
            if p.refused().next().is_some() || !p.failed.is_empty() {
                return Err(ToolOutput::error(format!(
                    "nothing was changed: not every overlay can be harmonized\n{}",
                    targets_text(&p)
                )));
            }
            if p.changes.is_empty() {
                return Err(ToolOutput::ok(format!(
                    "nothing to do: every overlay already renders it\n{}",
                    targets_text(&p)
                )));
            }
            Ok(p.changes)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_images_and_refuses_immutable_fields() {
        assert_eq!(
            SetSpec::parse("Secret/db:data.password=x"),
            Err(SetError::Secret)
        );
        let s = SetSpec::parse(
            "Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=30d",
        )
        .unwrap();
        let SetTarget::Field { path, .. } = &s.target else {
            panic!()
        };
        assert_eq!(
            path[4],
            Seg::Select {
                field: "name".into(),
                value: "prometheus".into()
            }
        );
        assert_eq!(path[6], Seg::Flag("--storage.tsdb.retention.time".into()));
        assert_eq!(s.value, "30d");
        let s = SetSpec::parse("image:registry.example.com/web=1.10.0").unwrap();
        assert_eq!(
            s.target,
            SetTarget::Image {
                image: "registry.example.com/web".into()
            }
        );
        assert!(matches!(
            SetSpec::parse("Deployment/web:spec.selector.matchLabels.app=x"),
            Err(SetError::Immutable { .. })
        ));
        assert!(matches!(
            SetSpec::parse("spec.replicas=3"),
            Err(SetError::Syntax(_))
        ));
        let s = SetSpec::parse(
            "Deployment/web:spec.template.spec.containers[0].env[name=MODE].value=fast",
        )
        .unwrap();
        let SetTarget::Field { path, .. } = &s.target else {
            panic!()
        };
        assert_eq!(path[4], Seg::Index(0));
        assert_eq!(
            path[6],
            Seg::Select {
                field: "name".into(),
                value: "MODE".into()
            }
        );
    }

    #[tokio::test]
    async fn a_configmap_generator_literal_is_found_in_its_kustomization() {
        if std::process::Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_err()
        {
            panic!("kubectl is needed (CI installs it)");
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for (env, level) in [("dev", "debug"), ("prod", "warn")] {
            let dir = root.join(format!("app/overlays/{env}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("kustomization.yaml"),
                format!("configMapGenerator:\n  - name: app-config\n    literals:\n      - LOG_LEVEL={level} # per env\n      - MODE=fast\n"),
            )
            .unwrap();
        }
        let spec = SetSpec::parse("ConfigMap/app-config:data.LOG_LEVEL=info").unwrap();
        let p = plan(root, &spec, &Filter::default(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(p.targets.len(), 2, "{:?}", p.targets);
        assert_eq!(p.changes.len(), 2);
        for c in &p.changes {
            let after = c.after.as_deref().unwrap();
            assert!(
                after.contains("      - LOG_LEVEL=info # per env\n      - MODE=fast\n"),
                "{after}"
            );
        }
    }

    #[test]
    fn an_image_can_be_given_as_a_person_writes_it() {
        // `NAME:TAG`, and the whole reference as the value, as well as `NAME=TAG`.
        for text in [
            "image:docker.io/library/postgres=16.6",
            "image:docker.io/library/postgres:16.6",
            "image:postgres=docker.io/library/postgres:16.6",
        ] {
            let s = SetSpec::parse(text).unwrap();
            assert_eq!(
                (s.target, s.value.as_str()),
                (
                    SetTarget::Image {
                        image: "docker.io/library/postgres".into()
                    },
                    "16.6"
                ),
                "{text}"
            );
        }
        // A registry port is not a tag; a value naming another image is refused.
        assert!(SetSpec::parse("image:registry:5000/web").is_err());
        assert!(SetSpec::parse("image:web=docker.io/library/postgres:16.6").is_err());
        assert_eq!(
            image_name("registry:5000/team/web:1.2"),
            "registry:5000/team/web"
        );
        assert_eq!(image_name("web@sha256:abc"), "web");
    }

    #[test]
    fn a_short_image_name_means_the_one_image_it_can_mean() {
        let deployment = |container: &str, image: &str| {
            serde_json::json!({"kind": "Deployment", "metadata": {"name": container},
                "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}})
        };
        let objects = [
            deployment("web", "registry.example.com/storefront/web:1.8.2"),
            deployment("api", "registry.example.com/storefront/api:2.0"),
            deployment("proxy", "docker.io/library/nginx:1.27"),
        ];
        // By the image's last segment, or by its container's name.
        assert_eq!(
            resolve_image("web", objects.iter()),
            Ok(Some("registry.example.com/storefront/web".into()))
        );
        assert_eq!(
            resolve_image("proxy", objects.iter()),
            Ok(Some("docker.io/library/nginx".into()))
        );
        // A full name, or a name nothing has, is used as written.
        assert_eq!(
            resolve_image("registry.example.com/storefront/web", objects.iter()),
            Ok(None)
        );
        assert_eq!(resolve_image("redis", objects.iter()), Ok(None));
        // Two images that fit are both listed, never guessed between.
        let two = [
            deployment("web", "registry.example.com/storefront/web:1.8.2"),
            deployment("web-canary", "registry.example.com/canary/web:1.9"),
        ];
        assert_eq!(
            resolve_image("web", two.iter()),
            Err(vec![
                "registry.example.com/canary/web".to_string(),
                "registry.example.com/storefront/web".to_string()
            ])
        );
    }

    #[tokio::test]
    async fn a_short_image_name_is_planned_in_every_overlay_of_the_example() {
        let tmp = tempfile::tempdir().unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/platform/apps/web");
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(&example)
            .arg(tmp.path())
            .status()
            .unwrap();
        assert!(status.success());
        let spec = SetSpec::parse("image:web=1.10.0").unwrap();
        let p = plan(
            tmp.path(),
            &spec,
            &Filter::default(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(
            p.notes,
            ["image web is registry.example.com/storefront/web"]
        );
        let files: Vec<&str> = p.changes.iter().map(|c| c.rel.as_str()).collect();
        assert_eq!(
            files,
            [
                "web/overlays/dev/kustomization.yaml",
                "web/overlays/prod/kustomization.yaml",
                "web/overlays/staging/kustomization.yaml"
            ]
        );
        assert!(
            p.changes
                .iter()
                .all(|c| c.after.as_deref().unwrap().contains("    newTag: 1.10.0\n"))
        );
        // The container's image field with a whole reference: the same plan (dev's tag is an
        // `images:` override no manifest line holds).
        let spec = SetSpec::parse(
            "Deployment/web:spec.template.spec.containers[web].image=registry.example.com/storefront/web:1.10.0",
        )
        .unwrap();
        let q = plan(
            tmp.path(),
            &spec,
            &Filter::default(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(
            q.notes,
            ["set as image:registry.example.com/storefront/web:1.10.0"]
        );
        assert_eq!(
            q.changes.iter().map(|c| c.rel.as_str()).collect::<Vec<_>>(),
            files
        );
    }

    #[test]
    fn replaces_only_the_value_keeping_quotes_comments_and_key() {
        let n = |old: &str, new: &str, key: Option<&str>| Needle {
            old: old.into(),
            new: new.into(),
            key: key.map(str::to_string),
        };
        assert_eq!(
            replace_value(
                "  replicas: 4 # prod capacity",
                &n("4", "6", Some("replicas"))
            )
            .as_deref(),
            Some("  replicas: 6 # prod capacity")
        );
        assert_eq!(
            replace_value(
                "  value: --storage.tsdb.retention.time=15d",
                &n(
                    "--storage.tsdb.retention.time=15d",
                    "--storage.tsdb.retention.time=30d",
                    None
                )
            )
            .as_deref(),
            Some("  value: --storage.tsdb.retention.time=30d")
        );
        assert_eq!(
            replace_value(
                r#"      version: ">=1.0.0""#,
                &n(">=1.0.0", ">=1.2.0", Some("version"))
            )
            .as_deref(),
            Some(r#"      version: ">=1.2.0""#)
        );
        // A string that would read as a number gets quotes.
        assert_eq!(
            replace_value("  tag: v1", &n("v1", "2.0", Some("tag"))).as_deref(),
            Some("  tag: \"2.0\"")
        );
        // Another key with the same value is not it.
        assert_eq!(
            replace_value("  minReplicas: 4", &n("4", "6", Some("replicas"))),
            None
        );
        assert_eq!(
            replace_value(
                "    - --storage.tsdb.retention.time=15d",
                &n(
                    "--storage.tsdb.retention.time=15d",
                    "--storage.tsdb.retention.time=30d",
                    None
                )
            )
            .as_deref(),
            Some("    - --storage.tsdb.retention.time=30d")
        );
        assert_eq!(
            replace_value(
                "        image: registry/web:1.0 # pinned",
                &n("registry/web:1.0", "registry/web:1.1", Some("image"))
            )
            .as_deref(),
            Some("        image: registry/web:1.1 # pinned")
        );
    }
}
