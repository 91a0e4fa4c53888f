//! The gates around a file change (DESIGN.md §3): before a planned change is written, every
//! overlay it affects is rendered as it is and as it would be (in a staging copy of the
//! repository), the new render is schema- and policy-checked, the rendered before/after diff is
//! computed and its risk classified. Plain manifest files outside any kustomization (Argo CD
//! `Application`s, raw YAML folders) get the same checks on their own objects.
//!
//! The gate fails when the change breaks a build or brings a new error finding; findings the
//! repository already had are counted but do not block an unrelated change.

use crate::environments::{Environments, Placement};
use crate::gates::{Checked, check_rendered, kubectl_version, parse_objects};
use crate::policy::{self, Finding, PolicyConfig, Severity};
use crate::risk::{self, Assessment, Level};
use agentops_tools::edit::{FileChange, unified_diff};
use agentops_tools::kustomize::{
    FileHashes, Rendered, SKIP_DIRS, find_kustomizations, input_files, inputs_hash,
    kustomization_file, render_cached, render_full,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::OnceCell;

/// What a unit of review is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// A kustomization, rendered.
    Overlay,
    /// A plain manifest file outside any kustomization.
    Manifest,
    /// A cluster change (a server-side dry run or an Argo CD diff).
    Cluster,
}

impl std::fmt::Display for UnitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnitKind::Overlay => "overlay",
            UnitKind::Manifest => "manifest",
            UnitKind::Cluster => "cluster",
        })
    }
}

/// What the gates concluded about one overlay (or plain manifest file) a change touches.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct UnitReview {
    /// Relative to the repository root.
    pub path: String,
    pub unit: UnitKind,
    /// The environment the path names (`overlays/<env>`, a `prod` folder), if any.
    pub environment: Option<String>,
    pub passed: bool,
    /// Why the new version does not build or parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error and warning findings the change brings.
    pub new_findings: Vec<Finding>,
    /// Findings present before the change too.
    pub existing_findings: usize,
    pub objects: usize,
    pub risk: Assessment,
    /// Unified diff of the rendered objects (Secret values redacted).
    #[serde(skip, default)]
    pub diff: String,
}

/// The gates' verdict on a set of file changes.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Review {
    pub files: Vec<String>,
    pub units: Vec<UnitReview>,
}

impl Review {
    pub fn passed(&self) -> bool {
        self.units.iter().all(|u| u.passed)
    }

    pub fn level(&self) -> Level {
        self.units
            .iter()
            .map(|u| u.risk.level)
            .max()
            .unwrap_or(Level::Low)
    }

    /// The rendered diff of every unit, headed by its path.
    pub fn rendered_diff(&self) -> String {
        self.units
            .iter()
            .filter(|u| !u.diff.is_empty())
            .map(|u| format!("# rendered {}\n{}", u.path, u.diff))
            .collect()
    }

    /// What the model (and a person) reads about the gates.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if self.units.is_empty() {
            out.push_str("gates: no overlay or manifest is affected\n");
        }
        for u in &self.units {
            let verdict = if u.passed { "passed" } else { "FAILED" };
            out.push_str(&format!(
                "gates {verdict} for {} {} ({} objects, risk {:?}",
                u.unit, u.path, u.objects, u.risk.level
            ));
            if u.existing_findings > 0 {
                out.push_str(&format!(
                    ", {} findings it already had",
                    u.existing_findings
                ));
            }
            out.push_str(")\n");
            if let Some(e) = &u.error {
                out.push_str(&format!("  build: {e}\n"));
            }
            for f in &u.new_findings {
                out.push_str(&format!(
                    "  {} [{}] {}: {}\n",
                    f.severity, f.rule, f.object, f.message
                ));
            }
            for r in &u.risk.reasons {
                out.push_str(&format!("  high risk: {}\n", r.message));
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("cannot stage the change under {path}: {source}")]
    Staging {
        path: String,
        source: std::io::Error,
    },
}

/// How long one render (`kubectl kustomize`) may take in the gates.
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the gates on planned changes. One per workspace: it remembers the kustomize version.
#[derive(Debug)]
pub struct ChangeGate {
    root: PathBuf,
    policy: PolicyConfig,
    cache_dir: Option<PathBuf>,
    timeout: Duration,
    salt: OnceCell<String>,
    /// `agentops.toml [environments]`.
    environments: BTreeMap<String, crate::environments::EnvironmentSpec>,
}

impl ChangeGate {
    /// The compliance policy the gates apply.
    pub fn policy(&self) -> &PolicyConfig {
        &self.policy
    }

    /// `root` must be canonical. `cache_dir` holds rendered results keyed by input hash.
    pub fn new(
        root: PathBuf,
        policy: PolicyConfig,
        cache_dir: Option<PathBuf>,
        timeout: Duration,
    ) -> Self {
        Self {
            root,
            policy,
            cache_dir,
            timeout,
            salt: OnceCell::new(),
            environments: BTreeMap::new(),
        }
    }

    /// The `[environments]` table that places overlays and clusters.
    pub fn with_environments(
        mut self,
        table: BTreeMap<String, crate::environments::EnvironmentSpec>,
    ) -> Self {
        self.environments = table;
        self
    }

    /// The repository's environments as they are now (its Applications and Flux
    /// Kustomizations are read once per review).
    fn environments(&self) -> Environments {
        Environments::scan(&self.root, &self.environments)
    }

    /// Gates a planned cluster change: its rendered source must build and pass schema and
    /// policies (every error counts: it is about to be deployed), and its live → desired
    /// diff sets the risk (a production target is high).
    pub async fn review_plan(&self, plan: &agentops_tools::MutationPlan) -> Review {
        self.review_plan_with(plan, &BTreeMap::new()).await
    }

    /// [`ChangeGate::review_plan`] with environments a person declared for this run (deploy's
    /// `--context ENV=CONTEXT`) added to the table; production still wins.
    pub async fn review_plan_with(
        &self,
        plan: &agentops_tools::MutationPlan,
        declared: &BTreeMap<String, crate::environments::EnvironmentSpec>,
    ) -> Review {
        // Where it lands decides, from facts: the cluster's server, name and namespace (the
        // table, the Applications deploying there), then the rendered folder. A cluster
        // nothing places is production.
        let mut table = self.environments.clone();
        for (name, spec) in declared {
            let entry = table.entry(name.clone()).or_default();
            entry.contexts.extend(spec.contexts.iter().cloned());
            entry.servers.extend(spec.servers.iter().cloned());
        }
        let envs = Environments::scan(&self.root, &table);
        let cluster = envs.of_cluster(&plan.cluster);
        let from_source = plan.source.as_deref().and_then(|s| envs.of_path(s));
        let placement = match from_source {
            Some(s) if s.production && !cluster.production => s,
            _ => cluster,
        };
        let mut checked = Checked {
            ok: true,
            objects: plan.after.len(),
            error: None,
            findings: Vec::new(),
        };
        if let Some(source) = &plan.source {
            let salt = self.salt.get_or_init(kubectl_version).await.clone();
            if let Some(rendered) = self.render_dir(&self.root.join(source), &salt, true).await {
                checked = check_rendered(&rendered, &self.policy, source);
            }
        }
        let passed = checked.ok
            && !checked
                .findings
                .iter()
                .any(|f| f.severity == Severity::Error);
        let risk = risk::classify_in(
            &plan.before,
            &plan.after,
            Some(&placement.name),
            placement.production,
        );
        Review {
            files: plan.source.iter().cloned().collect(),
            units: vec![UnitReview {
                path: match &plan.source {
                    Some(s) => format!("{} <- {s}", plan.target),
                    None => plan.target.clone(),
                },
                unit: UnitKind::Cluster,
                environment: Some(placement.name.clone()),
                passed,
                error: checked.error,
                new_findings: checked
                    .findings
                    .into_iter()
                    .filter(|f| f.severity != Severity::Off)
                    .collect(),
                existing_findings: 0,
                objects: plan.after.len(),
                risk,
                diff: plan.diff.clone(),
            }],
        }
    }

    /// A fresh folder under `.agentops/staging/` (removed when dropped).
    fn staging(&self, prefix: &str) -> Result<tempfile::TempDir, ReviewError> {
        let staging_parent = self.root.join(".agentops").join("staging");
        let io = |source| ReviewError::Staging {
            path: staging_parent.display().to_string(),
            source,
        };
        // agentops' own state stays out of the user's commits.
        crate::state::state_dir(&self.root).map_err(io)?;
        std::fs::create_dir_all(&staging_parent).map_err(io)?;
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&staging_parent)
            .map_err(io)
    }

    /// Reviews what a commit of `files` (absolute paths in the working tree) would record:
    /// the committed state (HEAD) against the working tree.
    pub async fn review_commit(&self, files: &[PathBuf]) -> Result<Review, ReviewError> {
        let head = self.staging("head-")?;
        let io = |source: std::io::Error| ReviewError::Staging {
            path: head.path().display().to_string(),
            source,
        };
        let (root, dest) = (self.root.clone(), head.path().to_path_buf());
        tokio::task::spawn_blocking(move || agentops_tools::git::export_head(&root, &dest))
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        self.review_against(head.path(), files).await
    }

    /// Reviews the working tree against `base` (another tree of the repository: HEAD, or the
    /// state before a shell command) for the overlays and manifests `files` touch.
    pub async fn review_against(
        &self,
        base: &Path,
        files: &[PathBuf],
    ) -> Result<Review, ReviewError> {
        let rels: Vec<PathBuf> = files
            .iter()
            .filter_map(|f| f.strip_prefix(&self.root).ok().map(Path::to_path_buf))
            .collect();
        let (root, head_root, owned) = (self.root.clone(), base.to_path_buf(), rels.clone());
        let (overlays, manifests) = tokio::task::spawn_blocking(move || {
            let in_tree =
                |base: &Path| -> BTreeSet<PathBuf> { owned.iter().map(|r| base.join(r)).collect() };
            let (now_overlays, now_manifests) = affected(&root, &in_tree(&root));
            let (head_overlays, head_manifests) = affected(&head_root, &in_tree(&head_root));
            let rel_of = |base: &Path, p: &Path| p.strip_prefix(base).map(Path::to_path_buf).ok();
            let overlays: BTreeSet<PathBuf> = now_overlays
                .iter()
                .filter_map(|p| rel_of(&root, p))
                .chain(head_overlays.iter().filter_map(|p| rel_of(&head_root, p)))
                .collect();
            let manifests: BTreeSet<PathBuf> = now_manifests
                .iter()
                .filter_map(|p| rel_of(&root, p))
                .chain(head_manifests.iter().filter_map(|p| rel_of(&head_root, p)))
                .collect();
            (overlays, manifests)
        })
        .await
        .unwrap_or_default();
        let mut review = Review {
            files: rels.iter().map(|r| r.display().to_string()).collect(),
            units: Vec::new(),
        };
        let envs = self.environments();
        for rel in &manifests {
            let read = |p: PathBuf| std::fs::read_to_string(p).ok();
            review.units.push(self.review_manifest(
                &envs,
                &FileChange {
                    path: self.root.join(rel),
                    rel: rel.display().to_string(),
                    before: read(base.join(rel)),
                    after: read(self.root.join(rel)),
                },
            ));
        }
        let salt = self.salt.get_or_init(kubectl_version).await.clone();
        let jobs = overlays.iter().map(|rel| {
            self.review_overlay(
                rel.clone(),
                (base.join(rel), false),
                (self.root.join(rel), true),
                &salt,
                base,
                &envs,
            )
        });
        review
            .units
            .extend(futures_util::future::join_all(jobs).await);
        Ok(review)
    }

    /// Reviews `changes` as one change set; nothing in the repository is modified.
    pub async fn review(&self, changes: &[FileChange]) -> Result<Review, ReviewError> {
        let changed: BTreeSet<PathBuf> = changes.iter().map(|c| c.path.clone()).collect();
        let root = self.root.clone();
        let changed_for_scan = changed.clone();
        let (overlays, manifests) =
            tokio::task::spawn_blocking(move || affected(&root, &changed_for_scan))
                .await
                .unwrap_or_default();
        let mut review = Review {
            files: changes.iter().map(|c| c.rel.clone()).collect(),
            units: Vec::new(),
        };
        let envs = self.environments();
        for change in changes {
            if manifests.contains(&change.path) {
                review.units.push(self.review_manifest(&envs, change));
            }
        }
        if overlays.is_empty() {
            return Ok(review);
        }
        let staging = self.staging("change-")?;
        let io = |source| ReviewError::Staging {
            path: staging.path().display().to_string(),
            source,
        };
        let (root, stage) = (self.root.clone(), staging.path().to_path_buf());
        let owned: Vec<FileChange> = changes.to_vec();
        tokio::task::spawn_blocking(move || mirror(&root, &stage, &owned))
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?
            .map_err(io)?;
        let salt = self.salt.get_or_init(kubectl_version).await.clone();
        let jobs = overlays.iter().map(|dir| {
            let rel = dir.strip_prefix(&self.root).unwrap_or(dir).to_path_buf();
            let staged = staging.path().join(&rel);
            self.review_overlay(
                rel,
                (dir.clone(), true),
                (staged, false),
                &salt,
                staging.path(),
                &envs,
            )
        });
        review
            .units
            .extend(futures_util::future::join_all(jobs).await);
        Ok(review)
    }

    /// Renders `dir` if it has a kustomization (through the cache when `cached`).
    async fn render_dir(&self, dir: &Path, salt: &str, cached: bool) -> Option<Rendered> {
        kustomization_file(dir)?;
        let key = (cached && self.cache_dir.is_some()).then(|| {
            let hashes = FileHashes::default();
            inputs_hash(dir, &input_files(dir), salt, &hashes)
        });
        let cache = self.cache_dir.as_deref().zip(key.as_deref());
        Some(if cache.is_some() {
            render_cached(dir, cache, self.timeout).await.0
        } else {
            render_full(dir, self.timeout).await
        })
    }

    /// One overlay: `before` and `after` are its folder in the two trees compared; `cached`
    /// says which of them are the repository itself (render cache) rather than a staging copy.
    async fn review_overlay(
        &self,
        rel: PathBuf,
        (before_dir, before_cached): (PathBuf, bool),
        (after_dir, after_cached): (PathBuf, bool),
        salt: &str,
        staging_root: &Path,
        envs: &Environments,
    ) -> UnitReview {
        let rel_s = rel.display().to_string();
        let placement = envs.of_path(&rel_s);
        let before = self.render_dir(&before_dir, salt, before_cached).await;
        let mut after = self
            .render_dir(&after_dir, salt, after_cached)
            .await
            .unwrap_or(Rendered {
                ok: true,
                output: String::new(),
                warnings: Vec::new(),
            });
        // Errors name the staging copy; people know the repository.
        let staged_prefix = format!("{}/", staging_root.display());
        after.output = after.output.replace(&staged_prefix, "");
        let before_checked = before
            .as_ref()
            .map(|b| check_rendered(b, &self.policy, &rel_s));
        let after_checked = check_rendered(&after, &self.policy, &rel_s);
        let before_objects = before
            .as_ref()
            .filter(|b| b.ok)
            .and_then(|b| parse_objects(&b.output).ok())
            .unwrap_or_default();
        let after_objects = if after.ok {
            parse_objects(&after.output).unwrap_or_default()
        } else {
            Vec::new()
        };
        let diff = if after.ok {
            rendered_diff(&before_objects, &after_objects, &rel_s)
        } else {
            String::new()
        };
        // An overlay that renders deployers (app of apps) is also where they point.
        let pointed = before_objects
            .iter()
            .chain(&after_objects)
            .filter_map(|o| envs.of_deploying_object(o, &rel_s));
        let placement =
            crate::environments::production_first(placement.into_iter().chain(pointed).collect());
        self.unit(
            rel_s,
            UnitKind::Overlay,
            placement,
            before_checked,
            after_checked,
            &before_objects,
            &after_objects,
            diff,
        )
    }

    fn review_manifest(&self, envs: &Environments, change: &FileChange) -> UnitReview {
        let parse = |text: Option<&str>| -> Result<Vec<Value>, String> {
            text.map_or(Ok(Vec::new()), |t| {
                parse_objects(t).map(|objs| objs.into_iter().filter(is_object).collect())
            })
        };
        let check = |objects: &Result<Vec<Value>, String>| match objects {
            Ok(objs) => {
                let rendered = Rendered {
                    ok: true,
                    output: String::new(),
                    warnings: Vec::new(),
                };
                let mut c = check_rendered(&rendered, &self.policy, &change.rel);
                c.objects = objs.len();
                c.findings.extend(crate::gates::schema_findings(
                    &self.policy,
                    &change.rel,
                    objs,
                ));
                c.findings
                    .extend(policy::check(&self.policy, &change.rel, objs));
                c
            }
            Err(e) => Checked {
                ok: false,
                objects: 0,
                error: Some(format!("{} is not valid YAML: {e}", change.rel)),
                findings: Vec::new(),
            },
        };
        let before = parse(change.before.as_deref());
        let after = parse(change.after.as_deref());
        let before_checked = Some(check(&before));
        let after_checked = check(&after);
        let before_objects = before.unwrap_or_default();
        let after_objects = after.unwrap_or_default();
        let diff = rendered_diff(&before_objects, &after_objects, &change.rel);
        // A deployer (Application, Flux Kustomization) is where it points, before or after
        // the change, not where it lives; other manifests are where their folder is.
        let pointed: Vec<Placement> = before_objects
            .iter()
            .chain(&after_objects)
            .filter_map(|o| envs.of_deploying_object(o, &change.rel))
            .collect();
        let placement = pointed
            .iter()
            .find(|p| p.production)
            .cloned()
            .or_else(|| envs.of_path(&change.rel))
            .or_else(|| pointed.first().cloned());
        let before_ids: BTreeSet<String> = before_objects
            .iter()
            .map(crate::policy::object_id)
            .collect();
        let new_clusters: Vec<String> = after_objects
            .iter()
            .filter(|o| !before_ids.contains(&crate::policy::object_id(o)))
            .filter(|o| envs.introduces_cluster(o))
            .map(crate::policy::object_id)
            .collect();
        let mut unit = self.unit(
            change.rel.clone(),
            UnitKind::Manifest,
            placement,
            before_checked,
            after_checked,
            &before_objects,
            &after_objects,
            diff,
        );
        for id in new_clusters {
            unit.risk.reasons.push(risk::Reason {
                code: risk::ReasonCode::Destination,
                kinds: vec![id.split('/').next().unwrap_or_default().to_string()],
                message: format!(
                    "{id} deploys to a cluster nothing in the repository or agentops.toml [environments] places yet"
                ),
            });
            unit.risk.level = risk::Level::High;
        }
        unit
    }

    #[allow(clippy::too_many_arguments)]
    fn unit(
        &self,
        path: String,
        unit: UnitKind,
        placement: Option<Placement>,
        before: Option<Checked>,
        after: Checked,
        before_objects: &[Value],
        after_objects: &[Value],
        diff: String,
    ) -> UnitReview {
        let key = |f: &Finding| (f.rule.clone(), f.object.clone(), f.message.clone());
        let old: BTreeSet<_> = before
            .as_ref()
            .map(|b| b.findings.iter().map(key).collect())
            .unwrap_or_default();
        let (existing, new): (Vec<Finding>, Vec<Finding>) = after
            .findings
            .into_iter()
            .filter(|f| f.severity != Severity::Off)
            .partition(|f| old.contains(&key(f)));
        let breaks_build = !after.ok;
        let passed = !breaks_build && !new.iter().any(|f| f.severity == Severity::Error);
        // A change that does not build is rejected; what it would delete is not its risk.
        let risk = if breaks_build {
            risk::classify(before_objects, before_objects, None)
        } else {
            risk::classify_in(
                before_objects,
                after_objects,
                placement.as_ref().map(|p| p.name.as_str()),
                placement.as_ref().is_some_and(|p| p.production),
            )
        };
        let environment = placement.map(|p| p.name);
        UnitReview {
            path,
            unit,
            environment,
            passed,
            error: after.error,
            new_findings: new,
            existing_findings: existing.len(),
            objects: after.objects,
            risk,
            diff,
        }
    }
}

/// Kubernetes-looking documents (plain YAML files hold other things too).
fn is_object(v: &Value) -> bool {
    v.get("apiVersion").is_some_and(Value::is_string) && v.get("kind").is_some_and(Value::is_string)
}

/// The overlays whose inputs include a changed file (or that a change creates), and the
/// changed YAML files outside every overlay that hold Kubernetes objects.
fn affected(root: &Path, changed: &BTreeSet<PathBuf>) -> (Vec<PathBuf>, BTreeSet<PathBuf>) {
    let mut overlays = BTreeSet::new();
    let mut inputs_all = BTreeSet::new();
    for dir in find_kustomizations(root) {
        let inputs = input_files(&dir);
        if inputs.iter().any(|f| changed.contains(f)) {
            overlays.insert(dir.clone());
        }
        inputs_all.extend(inputs);
    }
    for path in changed {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if agentops_tools::kustomize::KUSTOMIZATION_FILES.contains(&name)
            && let Some(parent) = path.parent()
        {
            overlays.insert(parent.to_path_buf());
        }
    }
    // A file under a kustomization folder is deployed only if the kustomization uses it.
    let under_kustomization = |p: &Path| {
        p.ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(root))
            .any(|a| {
                kustomization_file(a).is_some()
                    || agentops_tools::kustomize::KUSTOMIZATION_FILES
                        .iter()
                        .any(|k| changed.contains(&a.join(k)))
            })
    };
    let manifests = changed
        .iter()
        .filter(|p| !inputs_all.contains(*p) && !under_kustomization(p))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !agentops_tools::kustomize::KUSTOMIZATION_FILES.contains(&name)
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
        })
        .cloned()
        .collect();
    (overlays.into_iter().collect(), manifests)
}

/// Mirrors the repository under `stage` with hard links (copies across file systems), then
/// writes the changes there. A change replaces a link by a new file, never writes through it.
fn mirror(root: &Path, stage: &Path, changes: &[FileChange]) -> std::io::Result<()> {
    let walker = walkdir::WalkDir::new(root).into_iter().filter_entry(|e| {
        e.depth() == 0
            || !(e.file_type().is_dir()
                && SKIP_DIRS.contains(&e.file_name().to_str().unwrap_or("")))
    });
    for entry in walker.filter_map(Result::ok) {
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let target = stage.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if entry.file_type().is_file() && std::fs::hard_link(entry.path(), &target).is_err()
        {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    for change in changes {
        if let Ok(rel) = change.path.strip_prefix(root) {
            change.write_to(&stage.join(rel))?;
        }
    }
    Ok(())
}

/// The environment a path's folders name (`overlays/<env>`, a production or usual
/// environment word): the fallback when no fact places it.
pub fn environment_of(rel: &str) -> Option<String> {
    crate::environments::folder_environment(rel)
}

/// A diff of two object lists as YAML, objects in a stable order, Secret values redacted.
fn rendered_diff(before: &[Value], after: &[Value], path: &str) -> String {
    let text = |objs: &[Value]| -> String {
        let mut docs: Vec<(String, String)> = objs
            .iter()
            .map(|o| {
                let yaml = serde_saphyr::to_string(o).unwrap_or_default();
                (policy::object_id(o), yaml)
            })
            .collect();
        docs.sort();
        let joined: String = docs.into_iter().map(|(_, y)| format!("---\n{y}")).collect();
        agentops_tools::redact::redact_text(&joined)
    };
    unified_diff(
        &text(before),
        &text(after),
        &format!("a/{path} (rendered)"),
        &format!("b/{path} (rendered)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_from_paths() {
        assert_eq!(
            environment_of("apps/web/overlays/prod").as_deref(),
            Some("prod")
        );
        assert_eq!(
            environment_of("apps/web/overlays/dev/patch.yaml").as_deref(),
            Some("dev")
        );
        assert_eq!(
            environment_of("argocd/prod/web.yaml").as_deref(),
            Some("prod")
        );
        assert_eq!(
            environment_of("clusters/staging/app.yaml").as_deref(),
            Some("staging")
        );
        assert_eq!(environment_of("apps/web/base"), None);
        // Names are judged by word: a production-looking name fails closed.
        assert_eq!(
            environment_of("apps/web/envs/production-eu/kustomization.yaml").as_deref(),
            Some("production-eu")
        );
        assert!(risk::is_production("eks-production"));
        assert!(risk::is_production("context eks-prd-1"));
        assert!(!risk::is_production("products") && !risk::is_production("reproduce"));
    }

    fn plan(context: &str, server: &str) -> agentops_tools::MutationPlan {
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "web"}, "data": {"a": "1"}});
        let mut after = obj.clone();
        after["data"]["a"] = "2".into();
        agentops_tools::MutationPlan {
            target: format!("context {context}"),
            source: None,
            cluster: agentops_tools::ClusterFacts {
                context: Some(context.into()),
                server: Some(server.into()),
                name: None,
                namespace: Some("web".into()),
            },
            before: vec![obj],
            after: vec![after],
            diff: String::new(),
        }
    }

    #[tokio::test]
    async fn a_cluster_change_is_placed_by_the_context_s_server_not_its_name() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("argocd")).unwrap();
        std::fs::write(
            root.join("argocd/web.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-prod\nspec:\n  source:\n    path: apps/web/overlays/prod\n  destination:\n    server: https://prod.k8s.example.com\n    namespace: web\n",
        )
        .unwrap();
        let gate = ChangeGate::new(root, PolicyConfig::default(), None, RENDER_TIMEOUT);
        // A context called `dev` that reaches the prod API server.
        let review = gate
            .review_plan(&plan("dev", "https://prod.k8s.example.com"))
            .await;
        let unit = &review.units[0];
        assert!(
            unit.risk
                .reasons
                .iter()
                .any(|r| r.code == risk::ReasonCode::Production),
            "{unit:?}"
        );
        // A dev-named context on a server nothing places is production too (unknown).
        let review = gate
            .review_plan(&plan("kind-dev", "https://127.0.0.1:6443"))
            .await;
        assert!(
            review.units[0]
                .risk
                .reasons
                .iter()
                .any(|r| r.code == risk::ReasonCode::Production),
            "{:?}",
            review.units[0]
        );
    }
}
