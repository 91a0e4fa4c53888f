//! Create: scaffold an app — `apps/<app>/base`, `apps/<app>/overlays/<env>` and an Argo CD
//! `Application` per environment — from a template (Factor IX: reuse a pattern).
//!
//! A template is a folder of minijinja files: `base/…`, `overlays/__env__/…` (one per
//! environment) and `argocd/__cluster__/__app__-__env__.yaml` (one per environment, in the
//! folder of its cluster), with an optional `template.toml` (`description`, default `port` and
//! `image`). The repository's own `templates/<name>/` (configurable) wins over the builtin
//! `web-service` and `postgres-statefulset`. Argo CD conventions (repo URL, revision, project,
//! which cluster and API server an environment goes to, where Applications live) are read from
//! the Applications the repository already has. The result is a list of new files for the
//! gates: nothing is written here, and existing files are never overwritten.

use crate::edit::FileChange;
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The templates shipped in the binary: (template, file, content).
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "web-service",
        "template.toml",
        include_str!("../templates/web-service/template.toml"),
    ),
    (
        "web-service",
        "base/kustomization.yaml",
        include_str!("../templates/web-service/base/kustomization.yaml"),
    ),
    (
        "web-service",
        "base/deployment.yaml",
        include_str!("../templates/web-service/base/deployment.yaml"),
    ),
    (
        "web-service",
        "base/service.yaml",
        include_str!("../templates/web-service/base/service.yaml"),
    ),
    (
        "web-service",
        "base/serviceaccount.yaml",
        include_str!("../templates/web-service/base/serviceaccount.yaml"),
    ),
    (
        "web-service",
        "base/networkpolicy.yaml",
        include_str!("../templates/web-service/base/networkpolicy.yaml"),
    ),
    (
        "web-service",
        "base/pdb.yaml",
        include_str!("../templates/web-service/base/pdb.yaml"),
    ),
    (
        "web-service",
        "overlays/__env__/kustomization.yaml",
        include_str!("../templates/web-service/overlays/__env__/kustomization.yaml"),
    ),
    (
        "web-service",
        "overlays/__env__/replicas.yaml",
        include_str!("../templates/web-service/overlays/__env__/replicas.yaml"),
    ),
    (
        "web-service",
        "argocd/__cluster__/__app__-__env__.yaml",
        include_str!("../templates/web-service/argocd/__cluster__/__app__-__env__.yaml"),
    ),
    (
        "postgres-statefulset",
        "template.toml",
        include_str!("../templates/postgres-statefulset/template.toml"),
    ),
    (
        "postgres-statefulset",
        "base/kustomization.yaml",
        include_str!("../templates/postgres-statefulset/base/kustomization.yaml"),
    ),
    (
        "postgres-statefulset",
        "base/serviceaccount.yaml",
        include_str!("../templates/postgres-statefulset/base/serviceaccount.yaml"),
    ),
    (
        "postgres-statefulset",
        "base/statefulset.yaml",
        include_str!("../templates/postgres-statefulset/base/statefulset.yaml"),
    ),
    (
        "postgres-statefulset",
        "base/service.yaml",
        include_str!("../templates/postgres-statefulset/base/service.yaml"),
    ),
    (
        "postgres-statefulset",
        "base/networkpolicy.yaml",
        include_str!("../templates/postgres-statefulset/base/networkpolicy.yaml"),
    ),
    (
        "postgres-statefulset",
        "overlays/__env__/kustomization.yaml",
        include_str!("../templates/postgres-statefulset/overlays/__env__/kustomization.yaml"),
    ),
    (
        "postgres-statefulset",
        "overlays/__env__/storage.yaml",
        include_str!("../templates/postgres-statefulset/overlays/__env__/storage.yaml"),
    ),
    (
        "postgres-statefulset",
        "argocd/__cluster__/__app__-__env__.yaml",
        include_str!("../templates/postgres-statefulset/argocd/__cluster__/__app__-__env__.yaml"),
    ),
];

/// The builtin templates' files: (template, path, content), for `agentops init`.
pub fn builtin_files() -> &'static [(&'static str, &'static str, &'static str)] {
    BUILTIN
}

/// The template used when none is named.
pub const DEFAULT_TEMPLATE: &str = "web-service";

/// A template's files (relative paths with placeholders) and settings.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub name: String,
    /// `builtin` or the folder it came from.
    pub source: String,
    pub description: String,
    pub port: u16,
    pub image: String,
    #[serde(skip)]
    pub files: Vec<(String, String)>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TemplateToml {
    description: String,
    port: Option<u16>,
    image: Option<String>,
}

impl Template {
    fn from_files(
        name: &str,
        source: String,
        files: Vec<(String, String)>,
    ) -> Result<Self, String> {
        let settings = files
            .iter()
            .find(|(p, _)| p == "template.toml")
            .map(|(_, text)| {
                toml::from_str::<TemplateToml>(text)
                    .map_err(|e| format!("{source}/template.toml: {e}"))
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            name: name.to_string(),
            source,
            description: settings.description,
            port: settings.port.unwrap_or(8080),
            image: settings
                .image
                .unwrap_or_else(|| "docker.io/nginxinc/nginx-unprivileged:1.27-alpine".into()),
            files: files
                .into_iter()
                .filter(|(p, _)| p != "template.toml")
                .collect(),
        })
    }
}

/// Every template: the repository's (`templates_dir/<name>/`) and the builtin ones it does
/// not replace, sorted by name.
pub fn templates(templates_dir: &Path) -> Vec<Result<Template, String>> {
    let mut out: BTreeMap<String, Result<Template, String>> = BTreeMap::new();
    for (name, _, _) in BUILTIN {
        out.entry(name.to_string()).or_insert_with(|| builtin(name));
    }
    if let Ok(entries) = std::fs::read_dir(templates_dir) {
        for e in entries.filter_map(Result::ok) {
            if e.path().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                out.insert(name.clone(), from_dir(&name, &e.path()));
            }
        }
    }
    out.into_values().collect()
}

fn builtin(name: &str) -> Result<Template, String> {
    let files = BUILTIN
        .iter()
        .filter(|(t, _, _)| *t == name)
        .map(|(_, p, c)| (p.to_string(), c.to_string()))
        .collect();
    Template::from_files(name, "builtin".into(), files)
}

fn from_dir(name: &str, dir: &Path) -> Result<Template, String> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_symlink() {
            return Err(format!(
                "{}: a symbolic link in a template; templates hold plain files only",
                entry.path().display()
            ));
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(entry.path())
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        files.push((rel, text));
    }
    if files.is_empty() {
        return Err(format!("{}: an empty template", dir.display()));
    }
    Template::from_files(name, dir.display().to_string(), files)
}

/// The template `name`: the repository's first, else the builtin one.
pub fn template(templates_dir: &Path, name: &str) -> Result<Template, String> {
    // By name only: never a path (`../x`, `/etc`), never a link out of `templates/`.
    let named = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !named {
        return Err(format!(
            "`{name}` is not a template name; give the name of a folder in templates/ or a builtin template"
        ));
    }
    let dir = templates_dir.join(name);
    if dir.is_dir() {
        let inside = match (dir.canonicalize(), templates_dir.canonicalize()) {
            (Ok(d), Ok(t)) => d.starts_with(&t),
            _ => false,
        };
        if !inside {
            return Err(format!(
                "templates/{name} leads out of templates/ (a symbolic link); agentops reads templates only from there"
            ));
        }
        return from_dir(name, &dir);
    }
    if BUILTIN.iter().any(|(t, _, _)| *t == name) {
        return builtin(name);
    }
    let known: Vec<String> = templates(templates_dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|t| t.name)
        .collect();
    Err(format!(
        "no template `{name}`; available: {} (add your own as {}/<name>/)",
        known.join(", "),
        templates_dir.display()
    ))
}

/// How the repository deploys with Argo CD, read from its Applications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conventions {
    pub repo_url: String,
    pub revision: String,
    pub project: String,
    /// Where Applications live (`argocd`), relative to the repository.
    pub argocd_dir: String,
    /// Environment → (cluster, API server).
    pub clusters: BTreeMap<String, (String, String)>,
}

impl Conventions {
    pub fn detect(root: &Path) -> Self {
        let mut c = Conventions {
            repo_url: String::new(),
            revision: "main".into(),
            project: "default".into(),
            argocd_dir: "argocd".into(),
            clusters: BTreeMap::new(),
        };
        let mut found_any = false;
        for (file, app) in crate::argocd::applications_in(root) {
            let spec = &app["spec"];
            if !found_any {
                found_any = true;
                let s = |v: &Value, d: &str| v.as_str().unwrap_or(d).to_string();
                c.repo_url = s(&spec["source"]["repoURL"], "");
                c.revision = s(&spec["source"]["targetRevision"], "main");
                c.project = s(&spec["project"], "default");
                // `argocd/<cluster>/app.yaml`: the folder above the cluster's.
                if let Some(cluster_dir) = file.parent()
                    && let Some(dir) = cluster_dir.parent()
                    && let Ok(rel) = dir.strip_prefix(root)
                {
                    c.argocd_dir = rel.display().to_string();
                }
            }
            let labels = &app["metadata"]["labels"];
            let env = labels["environment"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    spec["source"]["path"]
                        .as_str()
                        .and_then(|p| p.rsplit('/').next().map(str::to_string))
                });
            let cluster = labels["cluster"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    file.parent()
                        .and_then(|p| p.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                })
                // It becomes a folder name: one plain path component, or nothing.
                .filter(|c| path_component(c));
            if let (Some(env), Some(cluster)) = (env, cluster) {
                let server = spec["destination"]["server"]
                    .as_str()
                    .unwrap_or("https://kubernetes.default.svc")
                    .to_string();
                c.clusters.entry(env).or_insert((cluster, server));
            }
        }
        if c.repo_url.is_empty() {
            c.repo_url =
                git_remote(root).unwrap_or_else(|| "https://git.example.com/CHANGE-ME.git".into());
        }
        c
    }

    /// The cluster and API server of `env`: as the repository does it, else `prod` for
    /// production-like names and `nonprod` for the rest, in-cluster.
    pub fn cluster_of(&self, env: &str) -> (String, String) {
        if let Some(c) = self.clusters.get(env) {
            return c.clone();
        }
        let cluster = if env.starts_with("prod") {
            "prod"
        } else {
            "nonprod"
        };
        let server = self
            .clusters
            .values()
            .find(|(c, _)| c == cluster)
            .map_or_else(
                || "https://kubernetes.default.svc".to_string(),
                |(_, s)| s.clone(),
            );
        (cluster.to_string(), server)
    }
}

fn git_remote(root: &Path) -> Option<String> {
    let repo = git2::Repository::discover(root).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    remote.url().map(str::to_string)
}

/// What to create.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// The app's name (a DNS label: lower-case letters, digits, `-`).
    pub app: String,
    /// The base namespace; each overlay uses `<namespace>-<env>`.
    pub namespace: String,
    /// The container image (default: the template's).
    #[serde(default)]
    pub image: Option<String>,
    /// Environments (default: dev, staging, prod).
    #[serde(default)]
    pub envs: Vec<String>,
    /// A template of the repository's `templates/` or a builtin (`web-service`,
    /// `postgres-statefulset`).
    #[serde(default)]
    pub template: Option<String>,
    /// Labels every object gets (the policy's required labels must be among them or derivable).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The container port (default: the template's).
    #[serde(default)]
    pub port: Option<u16>,
}

/// Repository settings `create` follows.
#[derive(Debug, Clone, Default)]
pub struct CreateSettings {
    pub templates_dir: PathBuf,
    /// Labels the compliance policy requires on every object.
    pub required_labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatePlan {
    pub template: Template,
    pub conventions: Conventions,
    pub labels: BTreeMap<String, String>,
    pub files: Vec<String>,
    #[serde(skip)]
    pub changes: Vec<FileChange>,
}

/// One plain folder name: no separators, not `.`/`..`, no control characters.
fn path_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s.contains(['/', '\\', '\0'])
        && !s.chars().any(char::is_control)
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn replicas_for(env: &str) -> u32 {
    if env.starts_with("prod") {
        3
    } else if env.starts_with("stag") {
        2
    } else {
        1
    }
}

fn storage_for(env: &str) -> &'static str {
    if env.starts_with("prod") {
        "50Gi"
    } else if env.starts_with("stag") {
        "20Gi"
    } else {
        "5Gi"
    }
}

/// Plans the new files of `input` under `root`.
///
/// Long on purpose: check the input, read the conventions from the existing Applications,
/// then render the template's files in order; each refusal names what to change.
pub fn plan(
    root: &Path,
    input: &CreateInput,
    settings: &CreateSettings,
) -> Result<CreatePlan, String> {
    if !dns_label(&input.app) {
        return Err(format!(
            "`{}` is not a valid app name: use lower-case letters, digits and `-` (at most 50)",
            input.app
        ));
    }
    if !dns_label(&input.namespace) {
        return Err(format!(
            "`{}` is not a valid namespace name",
            input.namespace
        ));
    }
    let envs: Vec<String> = if input.envs.is_empty() {
        vec!["dev".into(), "staging".into(), "prod".into()]
    } else {
        input.envs.clone()
    };
    if let Some(bad) = envs.iter().find(|e| !dns_label(e)) {
        return Err(format!("`{bad}` is not a valid environment name"));
    }
    let template = template(
        &settings.templates_dir,
        input.template.as_deref().unwrap_or(DEFAULT_TEMPLATE),
    )?;
    let app_dir = root.join("apps").join(&input.app);
    if app_dir.exists() {
        return Err(format!(
            "apps/{} exists already; create never overwrites (pick another name, or change it with Edit)",
            input.app
        ));
    }
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert("app.kubernetes.io/name".into(), input.app.clone());
    for (k, v) in &input.labels {
        labels.insert(k.clone(), v.clone());
    }
    for required in &settings.required_labels {
        if labels.contains_key(required) {
            continue;
        }
        match required.as_str() {
            "app" | "app.kubernetes.io/instance" | "app.kubernetes.io/part-of" => {
                labels.insert(required.clone(), input.app.clone());
            }
            "app.kubernetes.io/managed-by" => {
                labels.insert(required.clone(), "kustomize".into());
            }
            _ => {
                return Err(format!(
                    "the compliance policy requires the label `{required}` on every object; give it (--label {required}=VALUE)"
                ));
            }
        }
    }
    let conventions = Conventions::detect(root);
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    let image = input
        .image
        .clone()
        .unwrap_or_else(|| template.image.clone());
    let port = input.port.unwrap_or(template.port);
    let mut out: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (path, text) in &template.files {
        let per_env = path.contains("__env__") || path.contains("__cluster__");
        let targets: Vec<Option<&String>> = if per_env {
            envs.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for target_env in targets {
            let (cluster, server) = target_env.map_or_else(
                || (String::new(), String::new()),
                |e| conventions.cluster_of(e),
            );
            let ctx = json!({
                "app": input.app,
                "namespace": input.namespace,
                "image": image,
                "port": port,
                "labels": labels,
                "envs": envs,
                "env": target_env.cloned().unwrap_or_default(),
                "cluster": cluster,
                "server": server,
                "replicas": target_env.map_or(1, |e| replicas_for(e)),
                "storage": target_env.map_or("10Gi", |e| storage_for(e)),
                "repo_url": conventions.repo_url,
                "revision": conventions.revision,
                "project": conventions.project,
            });
            let rendered = env
                .render_str(text, &ctx)
                .map_err(|e| format!("template {} {path}: {e}", template.name))?;
            let rel = path
                .replace("__env__", target_env.map_or("", String::as_str))
                .replace("__app__", &input.app)
                .replace("__cluster__", &cluster);
            let dest = match rel.split_once('/') {
                Some(("argocd", rest)) => root.join(&conventions.argocd_dir).join(rest),
                _ => app_dir.join(&rel),
            };
            out.insert(dest, rendered);
        }
    }
    let mut changes = Vec::new();
    for (path, text) in out {
        // Every destination stays inside the repository, whatever a template, a label or an
        // Application's folder said.
        let lexical = path
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir));
        let real = crate::path::confine(root, root, &path.to_string_lossy());
        if !lexical || real.is_err() {
            return Err(format!(
                "{} would be outside the repository; nothing was created",
                path.display()
            ));
        }
        if path.exists() {
            return Err(format!(
                "{} exists already; create never overwrites",
                path.strip_prefix(root).unwrap_or(&path).display()
            ));
        }
        changes.push(FileChange {
            rel: path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string(),
            path,
            before: None,
            after: Some(text),
        });
    }
    Ok(CreatePlan {
        files: changes.iter().map(|c| c.rel.clone()).collect(),
        template,
        conventions,
        labels,
        changes,
    })
}

/// The `create_app` tool: scaffolds an app for the gates (see the module docs).
pub struct CreateTool {
    pub settings: CreateSettings,
}

impl TypedTool for CreateTool {
    type Input = CreateInput;
    const NAME: &'static str = "create_app";
    const DESCRIPTION: &'static str = "Scaffold a new app from a template: apps/<app>/base (workload, Service, ServiceAccount, NetworkPolicy, limits and required labels), apps/<app>/overlays/<env> per environment, and an Argo CD Application per environment in the folder of its cluster. Templates: web-service (default), postgres-statefulset, or the repository's templates/<name>/. The files go through the gates; high-risk ones (NetworkPolicy, StatefulSet, production) need approval. Never overwrites.";
    const RISK: Risk = Risk::Write;

    fn call(&self, input: CreateInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        // Only reached outside the gated runtime: show the plan, write nothing.
        let out = match plan(&ctx.root, &input, &self.settings) {
            Ok(p) => ToolOutput::ok(format!("would create:\n{}", p.files.join("\n"))),
            Err(e) => ToolOutput::error(e),
        };
        Box::pin(async move { out })
    }

    fn plan(
        &self,
        input: &CreateInput,
        ctx: &ToolContext,
    ) -> Option<Result<Vec<FileChange>, ToolOutput>> {
        Some(
            plan(&ctx.root, input, &self.settings)
                .map(|p| p.changes)
                .map_err(ToolOutput::error),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_parse_and_names_are_checked() {
        let all = templates(Path::new("/nonexistent"));
        let names: Vec<String> = all
            .iter()
            .map(|t| t.as_ref().unwrap().name.clone())
            .collect();
        assert_eq!(names, ["postgres-statefulset", "web-service"]);
        let tmp = tempfile::tempdir().unwrap();
        let settings = CreateSettings {
            templates_dir: tmp.path().join("templates"),
            required_labels: vec!["team".into()],
        };
        let input = CreateInput {
            app: "Bad_Name".into(),
            namespace: "x".into(),
            ..Default::default()
        };
        assert!(
            plan(tmp.path(), &input, &settings)
                .unwrap_err()
                .contains("not a valid app name")
        );
        let input = CreateInput {
            app: "demo".into(),
            namespace: "demo".into(),
            ..Default::default()
        };
        let err = plan(tmp.path(), &input, &settings).unwrap_err();
        assert!(err.contains("--label team=VALUE"), "{err}");
        let mut input = input;
        input.labels.insert("team".into(), "payments".into());
        let p = plan(tmp.path(), &input, &settings).unwrap();
        assert!(
            p.files.contains(&"argocd/prod/demo-prod.yaml".to_string()),
            "{:?}",
            p.files
        );
        assert!(
            p.files
                .contains(&"apps/demo/overlays/staging/replicas.yaml".to_string())
        );
        let base = &p
            .changes
            .iter()
            .find(|c| c.rel == "apps/demo/base/kustomization.yaml")
            .unwrap();
        assert!(
            base.after
                .as_deref()
                .unwrap()
                .contains("      team: payments\n")
        );
        // A repository template of the same name wins.
        std::fs::create_dir_all(tmp.path().join("templates/web-service/base")).unwrap();
        std::fs::write(
            tmp.path().join("templates/web-service/base/only.yaml"),
            "name: {{ app }}\n",
        )
        .unwrap();
        let p = plan(tmp.path(), &input, &settings).unwrap();
        assert_eq!(p.files, ["apps/demo/base/only.yaml"]);
        assert_eq!(p.changes[0].after.as_deref(), Some("name: demo\n"));
        // An undefined variable is an error naming the file, not an empty string.
        std::fs::write(
            tmp.path().join("templates/web-service/base/only.yaml"),
            "x: {{ nope }}\n",
        )
        .unwrap();
        let err = plan(tmp.path(), &input, &settings).unwrap_err();
        assert!(err.contains("base/only.yaml"), "{err}");
    }

    #[test]
    fn templates_and_destinations_never_leave_the_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("base")).unwrap();
        std::fs::write(outside.path().join("base/x.yaml"), "kind: Secret\n").unwrap();
        std::fs::create_dir_all(root.join("templates")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("templates/linked")).unwrap();
        let templates_dir = root.join("templates");
        for name in ["../x", "/etc", "linked", "a/b", ".hidden"] {
            assert!(template(&templates_dir, name).is_err(), "{name}");
        }
        // An Application whose cluster label is a path: the label is not used as a folder.
        std::fs::create_dir_all(root.join("argocd/prod")).unwrap();
        std::fs::write(
            root.join("argocd/prod/web-prod.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-prod\n  labels:\n    environment: prod\n    cluster: ../../../escape\nspec:\n  source:\n    path: apps/web/overlays/prod\n  destination:\n    server: https://prod.example\n",
        )
        .unwrap();
        let settings = CreateSettings {
            templates_dir,
            required_labels: Vec::new(),
        };
        let input = CreateInput {
            app: "shop".into(),
            namespace: "shop".into(),
            image: None,
            envs: vec!["prod".into()],
            template: None,
            labels: BTreeMap::new(),
            port: None,
        };
        let planned = plan(&root, &input, &settings).unwrap();
        assert!(
            planned
                .changes
                .iter()
                .all(|c| c.path.starts_with(&root) && !c.rel.contains("..")),
            "{:?}",
            planned.files
        );
    }
}
