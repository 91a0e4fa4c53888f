//! The validation gates over whole trees, in order: render every kustomization (in parallel,
//! cached by a hash of its inputs) → schema validation of every rendered object (Kubernetes
//! and Argo CD CRD schemas, offline, strict) → compliance policies. `agentops validate` runs
//! them with no model. The before/after diff and the risk of one change are `review.rs`'s,
//! driven by the gated-change service (`change.rs`).

use crate::policy::{self, Finding, PolicyConfig, Severity};
use agentops_tools::kustomize::{
    FileHashes, find_kustomizations, input_files, inputs_hash, render_cached, write_atomic,
};
use agentops_tools::schema::{SchemaCheck, SchemaStore};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum OverlayStatus {
    Ok,
    Failed,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct OverlayResult {
    /// Relative to the validated folder.
    pub path: String,
    pub status: OverlayStatus,
    pub objects: usize,
    /// Why it failed to build (kustomize's own message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub cached: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub overlays: usize,
    pub failed: usize,
    /// Folders of plain manifests (YAML outside any kustomization) checked, and how many
    /// hold a file that does not parse.
    pub manifest_folders: usize,
    pub manifests_failed: usize,
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub overlays: Vec<OverlayResult>,
    /// Folders of plain manifests (Argo CD `Application`s, raw YAML), checked as objects.
    pub manifests: Vec<OverlayResult>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl ValidateReport {
    /// The report as people (and models) read it: one line per kustomization, one per
    /// finding, then the summary.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for o in &self.overlays {
            match o.status {
                OverlayStatus::Ok => {
                    let _ = writeln!(
                        out,
                        "ok      {} ({} objects{})",
                        o.path,
                        o.objects,
                        if o.cached { ", cached" } else { "" }
                    );
                }
                OverlayStatus::Failed => {
                    let reason = o.error.as_deref().unwrap_or_default();
                    let first = reason.lines().next().unwrap_or_default();
                    let short: String = first.chars().take(300).collect();
                    let _ = writeln!(out, "FAILED  {}: {short}", o.path);
                }
            }
        }
        for m in &self.manifests {
            match &m.error {
                None => {
                    let _ = writeln!(
                        out,
                        "ok      {}/ ({} objects, plain manifests)",
                        m.path, m.objects
                    );
                }
                Some(e) => {
                    let _ = writeln!(
                        out,
                        "FAILED  {}/: {}",
                        m.path,
                        e.lines().next().unwrap_or_default()
                    );
                }
            }
        }
        for f in &self.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warn => "warning",
                Severity::Off => continue,
            };
            let _ = writeln!(
                out,
                "{level}: {}: {} [{}] {}",
                f.file, f.object, f.rule, f.message
            );
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "{} kustomization(s), {} failed, {} manifest folder(s), {} objects; {} error(s), {} warning(s) in {:.2}s",
            s.overlays,
            s.failed,
            s.manifest_folders,
            s.objects,
            s.errors,
            s.warnings,
            s.duration_ms as f64 / 1000.0
        );
        out
    }

    /// A failed build or an error finding.
    pub fn failed(&self) -> bool {
        self.summary.failed > 0 || self.summary.manifests_failed > 0 || self.summary.errors > 0
    }
}

#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Only kustomizations whose path has this folder (`apps/<app>/…`).
    pub app: Option<String>,
    /// Only kustomizations whose path has this folder (`overlays/<env>`).
    pub env: Option<String>,
    /// Where rendered results are cached by input hash; `None` renders everything.
    pub cache_dir: Option<PathBuf>,
    /// kubectl processes at once.
    pub parallel: usize,
    pub timeout: Duration,
}

fn matches_filter(rel: &Path, app: Option<&str>, env: Option<&str>) -> bool {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    app.is_none_or(|a| parts.iter().any(|p| p == a))
        && env.is_none_or(|e| parts.last().is_some_and(|l| l == e) || parts.iter().any(|p| p == e))
}

pub use agentops_tools::kustomize::parse_objects;

/// What the gates concluded about one kustomization; cached by input and policy hash, so an
/// unchanged overlay costs neither a render nor a parse.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct Checked {
    pub(crate) ok: bool,
    pub(crate) objects: usize,
    pub(crate) error: Option<String>,
    pub(crate) findings: Vec<Finding>,
}

pub(crate) fn check_rendered(
    rendered: &agentops_tools::kustomize::Rendered,
    policy_config: &PolicyConfig,
    file: &str,
) -> Checked {
    let mut findings = Vec::new();
    let deprecation = policy_config.severity_for("kustomize-deprecation", file);
    if deprecation != Severity::Off {
        findings.extend(rendered.warnings.iter().map(|w| Finding {
            rule: "kustomize-deprecation".into(),
            severity: deprecation,
            file: file.to_string(),
            object: "Kustomization".into(),
            message: w.clone(),
        }));
    }
    if !rendered.ok {
        return Checked {
            ok: false,
            objects: 0,
            error: Some(rendered.output.clone()),
            findings,
        };
    }
    match parse_objects(&rendered.output) {
        Ok(objects) => {
            findings.extend(schema_findings(policy_config, file, &objects));
            findings.extend(policy::check(policy_config, file, &objects));
            Checked {
                ok: true,
                objects: objects.len(),
                error: None,
                findings,
            }
        }
        Err(e) => Checked {
            ok: false,
            objects: 0,
            error: Some(format!("rendered output is not valid YAML: {e}")),
            findings,
        },
    }
}

/// The schema gate: every object against the offline Kubernetes and CRD schemas.
pub(crate) fn schema_findings(
    policy_config: &PolicyConfig,
    file: &str,
    objects: &[Value],
) -> Vec<Finding> {
    let invalid = policy_config.severity_for("schema", file);
    let unknown = policy_config.severity_for("schema-unknown-kind", file);
    let store = match SchemaStore::builtin() {
        Ok(s) => s,
        Err(e) => {
            return vec![Finding {
                rule: "schema".into(),
                severity: Severity::Error,
                file: file.to_string(),
                object: "-".into(),
                message: format!("the schema bundle is unreadable: {e}"),
            }];
        }
    };
    let mut out = Vec::new();
    for obj in objects {
        let finding = |rule: &str, severity, message: String| Finding {
            rule: rule.to_string(),
            severity,
            file: file.to_string(),
            object: policy::object_id(obj),
            message,
        };
        match store.check(obj) {
            SchemaCheck::Valid => {}
            SchemaCheck::Invalid(problems) if invalid != Severity::Off => {
                out.push(finding("schema", invalid, problems.join("; ")));
            }
            SchemaCheck::UnknownKind(kind) if unknown != Severity::Off => out.push(finding(
                "schema-unknown-kind",
                unknown,
                format!("no schema for {kind} (Kubernetes {} and Argo CD CRDs are held); not schema-checked", store.version),
            )),
            _ => {}
        }
    }
    out
}

/// Runs the gates over every kustomization under `root`.
///
/// Long on purpose: one pass that spawns a bounded render-and-check task per overlay, then
/// collects them in order with the plain manifests' checks; the tasks share the cache key
/// inputs (kubectl version, policy hash, input hashes) set up at the top.
pub async fn validate(
    root: &Path,
    policy_config: &PolicyConfig,
    options: &ValidateOptions,
) -> ValidateReport {
    let started = Instant::now();
    let all_dirs = find_kustomizations(root);
    let dirs: Vec<PathBuf> = all_dirs
        .iter()
        .filter(|d| {
            let rel = d.strip_prefix(root).unwrap_or(d);
            matches_filter(rel, options.app.as_deref(), options.env.as_deref())
        })
        .cloned()
        .collect();
    let salt = kubectl_version().await;
    let policy_hash = {
        use sha2::{Digest, Sha256};
        let schemas = SchemaStore::builtin()
            .map(|s| s.version.clone())
            .unwrap_or_default();
        let digest = Sha256::digest(format!("{policy_config:?}{schemas}").as_bytes());
        digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let hashes = Arc::new(match &options.cache_dir {
        Some(c) => FileHashes::load(&c.join("files.json")),
        None => FileHashes::default(),
    });
    let policy_config = Arc::new(policy_config.clone());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(options.parallel.max(1)));
    let mut tasks = Vec::new();
    for dir in dirs {
        let rel = dir.strip_prefix(root).unwrap_or(&dir);
        let rel = if rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            rel.display().to_string()
        };
        let semaphore = semaphore.clone();
        let cache = options.cache_dir.clone();
        let salt = salt.clone();
        let hashes = hashes.clone();
        let policy_config = policy_config.clone();
        let policy_hash = policy_hash.clone();
        let timeout = options.timeout;
        tasks.push(tokio::spawn(async move {
            let key = match &cache {
                Some(_) => {
                    let dir = dir.clone();
                    tokio::task::spawn_blocking(move || {
                        inputs_hash(&dir, &input_files(&dir), &salt, &hashes)
                    })
                    .await
                    .ok()
                }
                None => None,
            };
            let checked_path = cache
                .as_ref()
                .zip(key.as_ref())
                .map(|(c, k)| c.join(format!("{k}.{policy_hash}.checked.json")));
            if let Some(path) = &checked_path
                && let Ok(bytes) = std::fs::read(path)
                && let Ok(mut checked) = serde_json::from_slice::<Checked>(&bytes)
            {
                checked
                    .findings
                    .iter_mut()
                    .for_each(|f| f.file.clone_from(&rel));
                return (rel, checked, true);
            }
            let _permit = semaphore.acquire_owned().await;
            let (rendered, cached) =
                render_cached(&dir, cache.as_deref().zip(key.as_deref()), timeout).await;
            let file = rel.clone();
            let checked = tokio::task::spawn_blocking(move || {
                check_rendered(&rendered, &policy_config, &file)
            })
            .await
            .unwrap_or_else(|e| Checked {
                ok: false,
                objects: 0,
                error: Some(format!("check failed: {e}")),
                findings: Vec::new(),
            });
            if let Some(path) = &checked_path
                && let Ok(bytes) = serde_json::to_vec(&checked)
            {
                write_atomic(path, &bytes);
            }
            (rel, checked, cached)
        }));
    }
    let mut overlays = Vec::new();
    let mut findings = Vec::new();
    for task in tasks {
        let Ok((path, checked, cached)) = task.await else {
            continue;
        };
        findings.extend(checked.findings);
        overlays.push(OverlayResult {
            path,
            status: if checked.ok {
                OverlayStatus::Ok
            } else {
                OverlayStatus::Failed
            },
            objects: checked.objects,
            error: checked.error,
            cached,
        });
    }
    let (manifests, manifest_findings) = {
        let (root, policy_config, kustomizations) =
            (root.to_path_buf(), policy_config.clone(), all_dirs.clone());
        let (app, env) = (options.app.clone(), options.env.clone());
        let cache = options
            .cache_dir
            .clone()
            .map(|dir| (dir, policy_hash.clone(), hashes.clone()));
        tokio::task::spawn_blocking(move || {
            check_manifests(
                &root,
                &kustomizations,
                &policy_config,
                (app.as_deref(), env.as_deref()),
                cache
                    .as_ref()
                    .map(|(d, p, h)| (d.as_path(), p.as_str(), h.as_ref())),
            )
        })
        .await
        .unwrap_or_default()
    };
    findings.extend(manifest_findings);
    if let Some(c) = &options.cache_dir {
        hashes.save(&c.join("files.json"));
    }
    let summary = Summary {
        overlays: overlays.len(),
        failed: overlays
            .iter()
            .filter(|o| o.status == OverlayStatus::Failed)
            .count(),
        manifest_folders: manifests.len(),
        manifests_failed: manifests
            .iter()
            .filter(|o| o.status == OverlayStatus::Failed)
            .count(),
        objects: overlays.iter().chain(&manifests).map(|o| o.objects).sum(),
        errors: findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warn)
            .count(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    ValidateReport {
        overlays,
        manifests,
        findings,
        summary,
    }
}

/// YAML files outside every kustomization and Helm chart, by folder; hidden folders (`.github`)
/// and agentops' skip list are left out.
fn plain_manifest_files(
    root: &Path,
    kustomizations: &[PathBuf],
) -> std::collections::BTreeMap<PathBuf, Vec<PathBuf>> {
    let mut out: std::collections::BTreeMap<PathBuf, Vec<PathBuf>> = Default::default();
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_str().unwrap_or("");
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (name.starts_with('.')
                        || agentops_tools::kustomize::SKIP_DIRS.contains(&name)
                        || kustomizations.iter().any(|k| k == e.path())
                        || e.path().join("Chart.yaml").is_file()))
        });
    for entry in walker.filter_map(Result::ok) {
        let name = entry.file_name().to_str().unwrap_or("");
        if entry.file_type().is_file()
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
            && entry.metadata().is_ok_and(|m| m.len() <= 4 * 1024 * 1024)
            && let Some(parent) = entry.path().parent()
        {
            out.entry(parent.to_path_buf())
                .or_default()
                .push(entry.into_path());
        }
    }
    out
}

/// Whether text that does not parse was meant to be a Kubernetes manifest (not a template).
fn looks_like_manifest(text: &str) -> bool {
    !text.contains("{{")
        && text.lines().any(|l| l.starts_with("apiVersion:"))
        && text.lines().any(|l| l.starts_with("kind:"))
}

/// Schema and policy checks of plain manifest folders. Files without Kubernetes objects (CI
/// configs, values files) are not reported.
fn check_manifests(
    root: &Path,
    kustomizations: &[PathBuf],
    policy_config: &PolicyConfig,
    (app, env): (Option<&str>, Option<&str>),
    cache: Option<(&Path, &str, &FileHashes)>,
) -> (Vec<OverlayResult>, Vec<Finding>) {
    let mut results = Vec::new();
    let mut findings = Vec::new();
    for (dir, files) in plain_manifest_files(root, kustomizations) {
        let rel_dir = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
        if !matches_filter(Path::new(&rel_dir), app, env) {
            continue;
        }
        // Cached by the folder's files (content hashes, reused while size and mtime hold)
        // and the policy: an unchanged folder costs a stat per file.
        let cached_path = cache.map(|(cache_dir, policy_hash, hashes)| {
            let key = inputs_hash(root, &files, policy_hash, hashes);
            cache_dir.join(format!("{key}.manifests.json"))
        });
        if let Some(path) = &cached_path
            && let Ok(bytes) = std::fs::read(path)
            && let Ok((result, found)) =
                serde_json::from_slice::<(Option<OverlayResult>, Vec<Finding>)>(&bytes)
        {
            results.extend(result.map(|r| OverlayResult { cached: true, ..r }));
            findings.extend(found);
            // Not cached: it depends on folders elsewhere in the repository.
            findings.extend(argocd_path_findings(root, policy_config, &files));
            continue;
        }
        let (result, found) = check_manifest_folder(root, &rel_dir, &files, policy_config);
        findings.extend(argocd_path_findings(root, policy_config, &files));
        if let Some(path) = &cached_path
            && let Ok(bytes) = serde_json::to_vec(&(&result, &found))
        {
            write_atomic(path, &bytes);
        }
        results.extend(result);
        findings.extend(found);
    }
    (results, findings)
}

/// Argo CD Applications that deploy a path of this repository that does not exist (a typo, a
/// renamed overlay). A path whose first folder is not in the repository is taken to be another
/// repository's and is not judged; neither are Helm chart sources.
fn argocd_path_findings(root: &Path, config: &PolicyConfig, files: &[PathBuf]) -> Vec<Finding> {
    let severity = |file: &str| config.severity_for("argocd-app-path", file);
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if !text.contains("kind: Application") {
            continue;
        }
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        if severity(&rel) == policy::Severity::Off {
            continue;
        }
        for app in parse_objects(&text).unwrap_or_default() {
            if app["kind"] != "Application"
                || !app["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("argoproj.io/"))
            {
                continue;
            }
            let spec = &app["spec"];
            let sources: Vec<&Value> = std::iter::once(&spec["source"])
                .chain(spec["sources"].as_array().into_iter().flatten())
                .filter(|s| s.is_object() && s["chart"].is_null())
                .collect();
            for source in sources {
                let Some(path) = source["path"].as_str() else {
                    continue;
                };
                let path = path.trim_start_matches("./").trim_end_matches('/');
                let first = path.split('/').next().unwrap_or("");
                if path.is_empty() || path == "." || first.is_empty() || path.contains("..") {
                    continue;
                }
                if root.join(first).is_dir() && !root.join(path).is_dir() {
                    out.push(Finding {
                        rule: "argocd-app-path".into(),
                        severity: severity(&rel),
                        file: rel.clone(),
                        object: format!(
                            "Application/{}",
                            app["metadata"]["name"].as_str().unwrap_or("?")
                        ),
                        message: format!(
                            "deploys `{path}`, which is not a folder of this repository (a typo or a renamed overlay?)"
                        ),
                    });
                }
            }
        }
    }
    out
}

/// One folder of plain manifests; `None` when it holds no Kubernetes objects.
fn check_manifest_folder(
    root: &Path,
    rel_dir: &str,
    files: &[PathBuf],
    policy_config: &PolicyConfig,
) -> (Option<OverlayResult>, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut objects = 0;
    let mut errors = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        match parse_objects(&text) {
            Ok(docs) => {
                let objs: Vec<Value> = docs
                    .into_iter()
                    .filter(|d| {
                        d.get("apiVersion").is_some_and(Value::is_string)
                            && d.get("kind").is_some_and(Value::is_string)
                    })
                    .collect();
                if objs.is_empty() {
                    continue;
                }
                objects += objs.len();
                findings.extend(schema_findings(policy_config, &rel, &objs));
                findings.extend(policy::check(policy_config, &rel, &objs));
            }
            Err(e) if looks_like_manifest(&text) => errors.push(format!("{rel}: {e}")),
            Err(_) => {}
        }
    }
    if objects == 0 && errors.is_empty() {
        return (None, findings);
    }
    let result = OverlayResult {
        path: if rel_dir.is_empty() {
            ".".into()
        } else {
            rel_dir.to_string()
        },
        status: if errors.is_empty() {
            OverlayStatus::Ok
        } else {
            OverlayStatus::Failed
        },
        objects,
        error: (!errors.is_empty()).then(|| errors.join("\n")),
        cached: false,
    };
    (Some(result), findings)
}

/// Part of the cache key: a different kustomize may render differently.
pub(crate) async fn kubectl_version() -> String {
    tokio::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_app_and_env() {
        let p = Path::new("apps/web/overlays/prod");
        assert!(matches_filter(p, Some("web"), Some("prod")));
        assert!(!matches_filter(p, Some("db"), None));
        assert!(!matches_filter(p, None, Some("dev")));
    }

    #[test]
    fn parses_multi_document_output() {
        let objs = parse_objects("a: 1\n---\n---\nkind: X\nb: yes\n").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1]["b"], "yes");
    }
}

/// Input of the `validate` tool.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateInput {
    /// A folder of the repository (default: the whole repository).
    #[serde(default)]
    pub path: Option<String>,
    /// Only kustomizations of this app (a folder name such as `web`).
    #[serde(default)]
    pub app: Option<String>,
    /// Only kustomizations of this environment (`dev`, `prod`, ...).
    #[serde(default)]
    pub env: Option<String>,
}

/// The gates as a tool: render, schema and policies over a folder, with the repository's
/// policy configuration. Read-only.
pub struct ValidateTool {
    pub policy: PolicyConfig,
    pub cache_dir: Option<PathBuf>,
}

impl agentops_tools::tool::TypedTool for ValidateTool {
    type Input = ValidateInput;
    const NAME: &'static str = "validate";
    const DESCRIPTION: &'static str = "Run the validation gates (kustomize build, Kubernetes/CRD schemas, compliance policies) over the repository or a folder, optionally one app or environment. Returns one line per kustomization and per finding.";
    const RISK: agentops_tools::Risk = agentops_tools::Risk::ReadOnly;
    fn call(
        &self,
        input: ValidateInput,
        ctx: &agentops_tools::ToolContext,
    ) -> futures_util::future::BoxFuture<'static, agentops_tools::ToolOutput> {
        let ctx = ctx.clone();
        let policy = self.policy.clone();
        let cache_dir = self.cache_dir.clone();
        Box::pin(async move {
            let root = match agentops_tools::path::confine(
                &ctx.root,
                &ctx.cwd,
                input.path.as_deref().unwrap_or("."),
            ) {
                Ok(p) => p,
                Err(e) => return agentops_tools::ToolOutput::error(e.to_string()),
            };
            let options = ValidateOptions {
                app: input.app,
                env: input.env,
                cache_dir,
                parallel: std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
                timeout: ctx.timeout.max(Duration::from_secs(60)),
            };
            let (app, env) = (options.app.clone(), options.env.clone());
            let report = validate(&root, &policy, &options).await;
            // A path that holds none of the app's kustomizations (a manifest, an Argo CD
            // folder) with an app or environment given: say the call that validates them
            // (run as its own call, so the permission rules see the whole repository).
            let mut note = String::new();
            if report.overlays.is_empty() && (app.is_some() || env.is_some()) && root != ctx.root {
                note = format!(
                    " To validate that app/env wherever it is, call validate with no path: {}.",
                    serde_json::json!({"app": app, "env": env})
                );
            }
            if report.overlays.is_empty() {
                let shown = agentops_tools::path::display(&ctx.root, &root);
                let filtered = app.is_some() || env.is_some();
                let wanted = [Some(shown.clone()), app, env]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("/");
                let nearest =
                    agentops_tools::kustomize::nearest_kustomizations(&ctx.root, &wanted, 8);
                return agentops_tools::ToolOutput::error(format!(
                    "no kustomization found under {shown}{}.{note} Kustomization folders here: {}",
                    if filtered { " for that app/env" } else { "" },
                    if nearest.is_empty() {
                        "none".to_string()
                    } else {
                        nearest.join(", ")
                    }
                ));
            }
            let text = report.to_text();
            if report.failed() {
                agentops_tools::ToolOutput::error(text)
            } else {
                agentops_tools::ToolOutput::ok(text)
            }
        })
    }
}
