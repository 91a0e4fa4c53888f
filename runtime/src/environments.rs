//! Which environment a change lands in, from facts (DESIGN.md §3).
//!
//! In order:
//! 1. the `[environments]` table of `agentops.toml` (which API servers, Argo CD cluster
//!    names, kubeconfig contexts, namespaces and repository folders are which environment,
//!    and which of them are production);
//! 2. the Argo CD Applications and Flux Kustomizations in the repository that deploy a
//!    folder: their destination (server, cluster name, namespace) — judged by the table,
//!    else by the Applications that already deploy to the same server — and their names;
//! 3. folder names (`overlays/prod`, `envs/production-eu`) only as a fallback.
//!
//! A cluster whose environment none of this determines is treated as production
//! ([`Environments::of_cluster`]); an overlay no fact places is not production.

use crate::risk::is_production;
use agentops_tools::kustomize::parse_objects;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One `[environments.NAME]` entry of `agentops.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Changes here are production changes (also implied by a production-sounding name).
    pub production: Option<bool>,
    /// Kubernetes API server URLs (`https://prod.k8s.example.com`).
    pub servers: Vec<String>,
    /// Argo CD destination cluster names.
    pub clusters: Vec<String>,
    /// kubeconfig context names.
    pub contexts: Vec<String>,
    /// Namespaces that belong to this environment wherever they are.
    pub namespaces: Vec<String>,
    /// Repository folders (globs, from the root) that are this environment.
    pub paths: Vec<String>,
}

impl EnvironmentSpec {
    fn production(&self, name: &str) -> bool {
        self.production.unwrap_or_else(|| is_production(name))
    }
}

/// Where a change lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The environment's name (what `--approve env=NAME` names).
    pub name: String,
    pub production: bool,
    /// The fact it was decided by, for people.
    pub why: String,
}

pub use agentops_tools::ClusterFacts;

/// Something in the repository that deploys a folder: an Argo CD Application or a Flux
/// Kustomization.
#[derive(Debug, Clone)]
struct Deployer {
    /// The folders it deploys (every source; globs for an ApplicationSet's git generator),
    /// relative to the root, without `./` or a trailing `/`.
    paths: Vec<String>,
    /// `Application argocd/prod/web.yaml` — for people.
    what: String,
    cluster: ClusterFacts,
    /// Other words about it: its name, `environment` label, the folder it is kept in.
    words: Vec<String>,
    /// Its destination is filled in per generated Application (an ApplicationSet).
    templated: bool,
}

/// The environments of one repository.
#[derive(Debug, Clone)]
pub struct Environments {
    root: PathBuf,
    table: BTreeMap<String, EnvironmentSpec>,
    deployers: Vec<Deployer>,
}

impl Environments {
    /// Reads the repository's Applications and Flux Kustomizations now (once per review).
    pub fn scan(root: &Path, table: &BTreeMap<String, EnvironmentSpec>) -> Self {
        Self {
            root: root.to_path_buf(),
            table: table.clone(),
            deployers: deployers_in(root),
        }
    }

    /// The environment of a repository folder (an overlay) or file. The folder is compared
    /// as written and as resolved (a symlinked folder is the folder it points to).
    pub fn of_path(&self, rel: &str) -> Option<Placement> {
        let rel = clean(rel);
        let real = self.real(&rel);
        let forms: Vec<&str> = if real == rel {
            vec![rel.as_str()]
        } else {
            vec![rel.as_str(), real.as_str()]
        };
        // Every table entry that names it; production wins.
        let mut table = Vec::new();
        for (name, spec) in &self.table {
            if spec
                .paths
                .iter()
                .any(|p| forms.iter().any(|f| under_pattern(f, p)))
            {
                table.push(Placement {
                    name: name.clone(),
                    production: spec.production(name),
                    why: format!("agentops.toml [environments.{name}] paths"),
                });
            }
        }
        if let Some(p) = pick(table) {
            return Some(p);
        }
        let deployed: Vec<Placement> = self
            .deployers
            .iter()
            .filter(|d| {
                d.paths.iter().any(|p| {
                    let target = self.real(p);
                    forms
                        .iter()
                        .any(|f| under_pattern(f, p) || under_pattern(f, &target))
                })
            })
            .filter_map(|d| self.of_deployer(d))
            .collect();
        if let Some(p) = pick(deployed) {
            return Some(p);
        }
        // A folder's own name counts (`apps/production` is production); a file's does not.
        let named = |f: &&str| {
            if self.root.join(f).is_dir() {
                folder_environment(&format!("{f}/"))
            } else {
                folder_environment(f)
            }
        };
        forms.iter().find_map(named).map(|name| Placement {
            production: is_production(&name),
            why: format!("the folder name `{name}`"),
            name,
        })
    }

    /// `rel` with symlinks resolved, relative to the root (as written when it cannot be).
    fn real(&self, rel: &str) -> String {
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        agentops_tools::path::resolve(&root.join(rel))
            .strip_prefix(&root)
            .map_or_else(|_| rel.to_string(), |p| clean(&p.display().to_string()))
    }

    /// The environment an Argo CD Application or Flux Kustomization object deploys to.
    pub fn of_deploying_object(&self, obj: &Value, file: &str) -> Option<Placement> {
        let d = deployer(obj, file)?;
        self.of_deployer(&d)
    }

    /// Whether `obj`, a deployer, sends to a cluster (API server or Argo CD cluster name)
    /// that neither the table nor any deployer in the repository places yet: a new
    /// Application pointed at an unknown cluster would make it look like whatever it says.
    pub fn introduces_cluster(&self, obj: &Value) -> bool {
        let Some(d) = deployer(obj, "") else {
            return false;
        };
        if d.cluster.server.is_none() && d.cluster.name.is_none() {
            return false;
        }
        let facts = ClusterFacts {
            server: d.cluster.server,
            name: d.cluster.name,
            ..Default::default()
        };
        self.known_cluster(&facts).is_none()
    }

    /// The environment of a cluster a change reaches. Never `None`: a cluster nothing
    /// places is production.
    pub fn of_cluster(&self, facts: &ClusterFacts) -> Placement {
        self.known_cluster(facts).unwrap_or_else(|| Placement {
            name: "production (unknown environment)".to_string(),
            production: true,
            why: format!(
                "nothing says which environment {} is (add it to agentops.toml [environments])",
                describe(facts)
            ),
        })
    }

    fn known_cluster(&self, facts: &ClusterFacts) -> Option<Placement> {
        let same = |a: &Option<String>, list: &[String]| {
            a.as_deref()
                .is_some_and(|a| list.iter().any(|b| same_server(a, b)))
        };
        // The table first: the most specific fact wins (context, server, cluster, namespace).
        let table: Vec<Placement> = self
            .table
            .iter()
            .filter(|(_, s)| {
                same(&facts.context, &s.contexts)
                    || same(&facts.server, &s.servers)
                    || same(&facts.name, &s.clusters)
                    || same(&facts.namespace, &s.namespaces)
            })
            .map(|(name, s)| Placement {
                name: name.clone(),
                production: s.production(name),
                why: format!("agentops.toml [environments.{name}]"),
            })
            .collect();
        if let Some(p) = pick(table) {
            return Some(p);
        }
        // The Applications that deploy to the same server (or cluster name): what they are.
        let peers: Vec<Placement> = self
            .deployers
            .iter()
            .filter(|d| {
                let server = facts.server.as_deref().zip(d.cluster.server.as_deref());
                let name = facts.name.as_deref().zip(d.cluster.name.as_deref());
                server.is_some_and(|(a, b)| same_server(a, b)) || name.is_some_and(|(a, b)| a == b)
            })
            .filter_map(|d| self.words_of(d))
            .collect();
        if let Some(p) = pick(peers) {
            return Some(Placement {
                why: format!("{} deploy to the same cluster", p.why),
                ..p
            });
        }
        // Words last: a context, server, cluster or namespace whose name says it.
        let words = [&facts.context, &facts.server, &facts.name, &facts.namespace];
        words
            .iter()
            .filter_map(|w| w.as_deref())
            .find(|w| is_production(w))
            .map(|w| Placement {
                name: w.to_string(),
                production: true,
                why: format!("the name `{w}`"),
            })
            .or_else(|| {
                // A context's name alone never makes a cluster non-production; its namespace
                // or the Argo CD cluster name can.
                // A namespace says nothing about a server nothing places.
                let w = facts
                    .namespace
                    .as_deref()
                    .filter(|w| facts.server.is_none() && known_environment_word(w).is_some())
                    .or(facts.name.as_deref())?;
                let env = known_environment_word(w)?;
                Some(Placement {
                    name: env,
                    production: false,
                    why: format!("the name `{w}`"),
                })
            })
    }

    fn of_deployer(&self, d: &Deployer) -> Option<Placement> {
        let cluster = self.known_cluster(&d.cluster);
        let words = self.words_of(d);
        // Aimed at a cluster (a server or a cluster name) nothing places, and nothing in its
        // own words says which: production.
        let unknown = (cluster.is_none()
            && words.is_none()
            && (d.cluster.server.is_some() || d.cluster.name.is_some() || d.templated))
            .then(|| Placement {
                name: "production (unknown cluster)".to_string(),
                production: true,
                why: format!(
                    "it deploys to {}, which nothing places (add it to agentops.toml [environments])",
                    describe(&d.cluster)
                ),
            });
        pick([cluster, words, unknown].into_iter().flatten().collect()).map(|p| Placement {
            why: format!("{} ({})", d.what, p.why),
            ..p
        })
    }

    /// A deployer's own words: its `environment` label, name, namespace, server, folder.
    fn words_of(&self, d: &Deployer) -> Option<Placement> {
        let mut words: Vec<&str> = d.words.iter().map(String::as_str).collect();
        words.extend(
            [&d.cluster.namespace, &d.cluster.name, &d.cluster.server]
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
        if let Some(w) = words.iter().find(|w| is_production(w)) {
            return Some(Placement {
                name: w.to_string(),
                production: true,
                why: d.what.clone(),
            });
        }
        let first = words.iter().find_map(|w| known_environment_word(w))?;
        Some(Placement {
            name: first,
            production: false,
            why: d.what.clone(),
        })
    }

    /// The root the paths are relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Whether `rel` is the folder `pattern` (a path or a glob) names, or inside it.
fn under_pattern(rel: &str, pattern: &str) -> bool {
    let pattern = clean(pattern);
    if pattern.is_empty() {
        return false;
    }
    if rel == pattern || rel.starts_with(&format!("{pattern}/")) {
        return true;
    }
    globset::GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .is_ok_and(|m| Path::new(rel).ancestors().any(|a| m.is_match(a)))
}

/// Production wins; else the first.
pub fn production_first(found: Vec<Placement>) -> Option<Placement> {
    pick(found)
}

/// Production wins; else the first.
fn pick(mut found: Vec<Placement>) -> Option<Placement> {
    if let Some(i) = found.iter().position(|p| p.production) {
        return Some(found.swap_remove(i));
    }
    found.into_iter().next()
}

fn describe(facts: &ClusterFacts) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &facts.context {
        parts.push(format!("context `{c}`"));
    }
    if let Some(s) = &facts.server {
        parts.push(format!("server {s}"));
    }
    if let Some(n) = &facts.name {
        parts.push(format!("cluster `{n}`"));
    }
    if let Some(n) = &facts.namespace {
        parts.push(format!("namespace `{n}`"));
    }
    if parts.is_empty() {
        "the cluster".to_string()
    } else {
        parts.join(", ")
    }
}

/// API servers compare without a trailing slash or case differences in the host.
fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

fn clean(rel: &str) -> String {
    let mut out = Vec::new();
    for part in rel.trim().split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

/// A word that names a non-production environment.
fn known_environment_word(text: &str) -> Option<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| {
            matches!(
                *w,
                "dev"
                    | "development"
                    | "test"
                    | "qa"
                    | "staging"
                    | "stage"
                    | "nonprod"
                    | "preprod"
                    | "sandbox"
                    | "uat"
            )
        })
        .map(str::to_string)
}

/// The environment a folder's name says (`overlays/<env>`, a production word, a known
/// environment word), if any.
pub fn folder_environment(rel: &str) -> Option<String> {
    // A trailing `/` marks a folder: every component is a folder name.
    let folder = rel.ends_with('/');
    let parts: Vec<&str> = rel.trim_end_matches('/').split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "overlays")
        && let Some(env) = parts.get(i + 1)
    {
        return Some((*env).to_string());
    }
    // A file's own name is not a folder (`argocd/prod/web.yaml` is prod; `prod.yaml` in
    // `apps/` is not), but a single component is a folder.
    let dirs = if folder {
        &parts[..]
    } else {
        &parts[..parts
            .len()
            .saturating_sub(1)
            .max(usize::from(parts.len() == 1))]
    };
    dirs.iter()
        .find(|p| is_production(p))
        .or_else(|| dirs.iter().find(|p| known_environment_word(p).is_some()))
        .map(|p| (*p).to_string())
}

/// The Applications and Flux Kustomizations under `root`.
fn deployers_in(root: &Path) -> Vec<Deployer> {
    let mut out = Vec::new();
    let files = agentops_tools::kustomize::walk_repo(root).filter(|e| {
        e.file_type().is_file()
            && e.path()
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
    });
    for entry in files {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if !text.contains("argoproj.io") && !text.contains("kustomize.toolkit.fluxcd.io") {
            continue;
        }
        let file = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .display()
            .to_string();
        // Document by document: one broken document must not hide the others.
        let docs: Vec<&str> = if parse_objects(&text).is_ok() {
            vec![text.as_str()]
        } else {
            text.split("\n---").collect()
        };
        for doc in docs {
            match parse_objects(doc) {
                Ok(objects) => out.extend(objects.iter().filter_map(|o| deployer(o, &file))),
                // Unreadable but a deployer: the folders its `path:` lines name are production.
                Err(_)
                    if doc.contains("argoproj.io")
                        || doc.contains("kustomize.toolkit.fluxcd.io") =>
                {
                    let paths: Vec<String> = doc
                        .lines()
                        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("path:"))
                        .map(|p| clean(p.trim().trim_matches(['"', '\''])))
                        .filter(|p| !p.is_empty())
                        .collect();
                    if !paths.is_empty() {
                        out.push(Deployer {
                            paths,
                            what: format!("an unreadable deployer in {file}"),
                            cluster: ClusterFacts::default(),
                            words: vec!["production".to_string()],
                            templated: false,
                        });
                    }
                }
                Err(_) => {}
            }
        }
    }
    out
}

/// An Argo CD Application (single or multiple sources) or a Flux Kustomization.
fn deployer(obj: &Value, file: &str) -> Option<Deployer> {
    let api = obj["apiVersion"].as_str()?;
    let kind = obj["kind"].as_str()?;
    let spec = &obj["spec"];
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let folder = Path::new(file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut words = vec![name.to_string(), folder];
    if let Some(env) = obj["metadata"]["labels"]["environment"].as_str() {
        words.insert(0, env.to_string());
    }
    if (kind == "Application" || kind == "ApplicationSet") && api.starts_with("argoproj.io/") {
        let set = kind == "ApplicationSet";
        let app = if set { &spec["template"]["spec"] } else { spec };
        let mut paths: Vec<String> = app["source"]["path"]
            .as_str()
            .into_iter()
            .chain(
                app["sources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["path"].as_str()),
            )
            .filter(|p| !p.contains("{{"))
            .map(clean)
            .collect();
        if set {
            // A git directory generator's folders (globs).
            paths.extend(
                spec["generators"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| g["git"]["directories"].as_array().into_iter().flatten())
                    .filter(|d| d["exclude"] != true)
                    .filter_map(|d| d["path"].as_str())
                    .map(clean),
            );
        }
        if paths.is_empty() {
            return None;
        }
        let text = |v: &Value| v.as_str().filter(|t| !t.contains("{{")).map(str::to_string);
        let destination = &app["destination"];
        let templated = ["server", "name", "namespace"]
            .iter()
            .any(|k| destination[*k].as_str().is_some_and(|t| t.contains("{{")));
        return Some(Deployer {
            paths,
            what: format!("{kind} {name} ({file})"),
            cluster: ClusterFacts {
                context: None,
                server: text(&destination["server"]),
                name: text(&destination["name"]),
                namespace: text(&destination["namespace"]),
            },
            words,
            templated,
        });
    }
    if kind == "Kustomization" && api.starts_with("kustomize.toolkit.fluxcd.io/") {
        let path = spec["path"].as_str().map(clean)?;
        if let Some(secret) = spec["kubeConfig"]["secretRef"]["name"].as_str() {
            words.push(secret.to_string());
        }
        return Some(Deployer {
            paths: vec![path],
            templated: false,
            what: format!("Flux Kustomization {name} ({file})"),
            cluster: ClusterFacts {
                context: None,
                server: None,
                name: None,
                namespace: spec["targetNamespace"].as_str().map(str::to_string),
            },
            words,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        tmp
    }

    fn app(name: &str, path: &str, server: &str, ns: &str) -> String {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  source:\n    path: {path}\n  destination:\n    server: {server}\n    namespace: {ns}\n"
        )
    }

    #[test]
    fn an_overlay_is_what_deploys_it_not_what_it_is_called() {
        let prod_app = app(
            "web-live",
            "apps/web/envs/blue",
            "https://k8s.prod.example",
            "web",
        );
        let dev_app = app(
            "web-dev",
            "apps/web/envs/green",
            "https://k8s.dev.example",
            "web",
        );
        let tmp = repo(&[("argocd/a.yaml", &prod_app), ("argocd/b.yaml", &dev_app)]);
        let envs = Environments::scan(tmp.path(), &BTreeMap::new());
        let p = envs.of_path("apps/web/envs/blue").unwrap();
        assert!(p.production, "{p:?}");
        assert!(p.why.contains("web-live"), "{p:?}");
        assert!(!envs.of_path("./apps/web/envs/green/").unwrap().production);
        // A file inside a deployed folder belongs to it.
        assert!(
            envs.of_path("apps/web/envs/blue/patch.yaml")
                .unwrap()
                .production
        );
        // Nothing deploys it and its name says nothing: not placed.
        assert_eq!(envs.of_path("apps/web/base"), None);
        // Folder names stay a fallback.
        assert!(
            envs.of_path("apps/api/overlays/production-eu")
                .unwrap()
                .production
        );
    }

    #[test]
    fn flux_kustomizations_deploy_folders_too() {
        let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  path: ./apps/live\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
        let tmp = repo(&[("clusters/production/apps.yaml", flux)]);
        let envs = Environments::scan(tmp.path(), &BTreeMap::new());
        let p = envs.of_path("apps/live").unwrap();
        assert!(p.production, "{p:?}");
        assert!(p.why.contains("Flux Kustomization apps"), "{p:?}");
    }

    #[test]
    fn the_table_decides_first_and_names_production() {
        let mut table = BTreeMap::new();
        table.insert(
            "live".to_string(),
            EnvironmentSpec {
                production: Some(true),
                servers: vec!["https://10.0.0.1:6443/".into()],
                contexts: vec!["ops-admin".into()],
                paths: vec!["apps/*/deployed".into()],
                ..Default::default()
            },
        );
        let tmp = repo(&[]);
        let envs = Environments::scan(tmp.path(), &table);
        let p = envs.of_path("apps/web/deployed").unwrap();
        assert_eq!((p.name.as_str(), p.production), ("live", true));
        let by_server = envs.of_cluster(&ClusterFacts {
            context: Some("kind-dev".into()),
            server: Some("https://10.0.0.1:6443".into()),
            ..Default::default()
        });
        assert_eq!(
            by_server.name, "live",
            "the server decides, not the context's name"
        );
        assert!(
            envs.of_cluster(&ClusterFacts {
                context: Some("ops-admin".into()),
                ..Default::default()
            })
            .production
        );
    }

    #[test]
    fn a_cluster_is_what_its_server_deploys_and_unknown_is_production() {
        let prod_app = app(
            "web-prod",
            "apps/web/overlays/prod",
            "https://k8s.prod.example",
            "web",
        );
        let tmp = repo(&[("argocd/a.yaml", &prod_app)]);
        let envs = Environments::scan(tmp.path(), &BTreeMap::new());
        // A context named `dev` that points at the prod server is production.
        let p = envs.of_cluster(&ClusterFacts {
            context: Some("dev".into()),
            server: Some("https://k8s.prod.example/".into()),
            namespace: Some("web".into()),
            name: None,
        });
        assert!(p.production, "{p:?}");
        // Nothing known about it: production.
        let p = envs.of_cluster(&ClusterFacts {
            context: Some("laptop".into()),
            server: Some("https://127.0.0.1:6443".into()),
            ..Default::default()
        });
        assert!(p.production && p.why.contains("[environments]"), "{p:?}");
        // A context's name alone does not make it dev; its namespace does.
        let named = |namespace: Option<&str>| {
            envs.of_cluster(&ClusterFacts {
                context: Some("kind-dev".into()),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            })
        };
        assert!(named(None).production);
        assert!(!named(Some("web-dev")).production);
    }

    #[test]
    fn every_source_json_appsets_and_broken_files_count() {
        let multi = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\nspec:\n  sources:\n    - path: apps/shop/a\n    - path: apps/shop/live\n  destination:\n    server: https://k8s.prod.example\n    namespace: shop\n";
        let json = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "j"}, "spec": {"source": {"path": "apps/j/blue"}, "destination": {"server": "https://k8s.prod.example", "namespace": "j"}}}"#;
        let set = "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: all\nspec:\n  generators:\n    - git:\n        directories:\n          - path: apps/*/green\n  template:\n    spec:\n      source:\n        path: '{{path}}'\n      destination:\n        server: '{{server}}'\n        namespace: x\n";
        let broken = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: b\nspec:\n  source:\n    path: apps/b/red\n  destination: {server: [unclosed\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: c\nspec:\n  source:\n    path: apps/c/red\n  destination:\n    server: https://k8s.prod.example\n    namespace: c\n";
        let tmp = repo(&[
            ("argocd/multi.yaml", multi),
            ("argocd/j.json", json),
            ("argocd/set.yaml", set),
            ("argocd/broken.yaml", broken),
            (
                "argocd/prod.yaml",
                &app(
                    "web-prod",
                    "apps/web/overlays/prod",
                    "https://k8s.prod.example",
                    "web",
                ),
            ),
        ]);
        let envs = Environments::scan(tmp.path(), &BTreeMap::new());
        for rel in [
            "apps/shop/live",
            "apps/j/blue",
            "apps/x/green",
            "apps/b/red",
            "apps/c/red",
        ] {
            let p = envs.of_path(rel);
            assert!(p.as_ref().is_some_and(|p| p.production), "{rel}: {p:?}");
        }
    }

    #[test]
    fn an_unknown_cluster_symlinks_and_overlapping_table_paths_fail_closed() {
        let neutral = app("blue", "apps/web/live", "https://10.9.8.7", "web");
        let tmp = repo(&[
            ("argocd/a.yaml", &neutral),
            ("apps/web/overlays/blue/k.yaml", ""),
        ]);
        std::os::unix::fs::symlink("overlays/blue", tmp.path().join("apps/web/live")).unwrap();
        let envs = Environments::scan(tmp.path(), &BTreeMap::new());
        // Deployed (through a symlink) to a server nothing places: production.
        let p = envs.of_path("apps/web/overlays/blue").unwrap();
        assert!(p.production, "{p:?}");
        // A namespace word does not place an unknown server.
        let p = envs.of_cluster(&ClusterFacts {
            server: Some("https://10.1.1.1".into()),
            namespace: Some("qa-tools".into()),
            ..Default::default()
        });
        assert!(p.production, "{p:?}");
        let mut table = BTreeMap::new();
        table.insert(
            "dev".to_string(),
            EnvironmentSpec {
                paths: vec!["apps/**".into()],
                ..Default::default()
            },
        );
        table.insert(
            "prod".to_string(),
            EnvironmentSpec {
                paths: vec!["apps/web/overlays/live".into()],
                ..Default::default()
            },
        );
        let envs = Environments::scan(tmp.path(), &table);
        assert!(envs.of_path("apps/web/overlays/live").unwrap().production);
    }

    #[test]
    fn a_folder_s_own_name_places_it() {
        let tmp = repo(&[("apps/production/kustomization.yaml", "resources: []\n")]);
        let envs = Environments::scan(tmp.path(), &BTreeMap::new());
        assert!(envs.of_path("apps/production").unwrap().production);
        // A file called prod.yaml in apps/ is not production by its name.
        assert_eq!(envs.of_path("apps/prod.yaml"), None);
    }
}
