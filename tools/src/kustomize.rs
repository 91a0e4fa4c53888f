//! `kustomize_build`: render an overlay with `kubectl kustomize` (or a `kustomize` binary).

use crate::path::confine;
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::Path;
use std::process::Stdio;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KustomizeBuildInput {
    /// Folder with a kustomization.yaml, e.g. `apps/web/overlays/prod`.
    pub path: String,
}

pub struct KustomizeBuildTool;

impl TypedTool for KustomizeBuildTool {
    type Input = KustomizeBuildInput;
    const NAME: &'static str = "kustomize_build";
    const DESCRIPTION: &'static str = "Render a Kustomize overlay (kubectl kustomize) and return the manifests as YAML, or the error that stops it from building.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(
        &self,
        input: KustomizeBuildInput,
        ctx: &ToolContext,
    ) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            let dir = match confine(&ctx.root, &ctx.cwd, &input.path) {
                Ok(d) => d,
                Err(e) => return ToolOutput::error(e.to_string()),
            };
            match render(&dir, ctx.timeout).await {
                // Rendered Secrets (secretGenerator, committed Secrets) never reach the model.
                Ok(yaml) => ToolOutput::ok(ctx.secrets.redact_text(&yaml)),
                Err(e) => ToolOutput::error(format!("{} does not build: {e}", input.path)),
            }
        })
    }
}

/// Renders `dir` with `kubectl kustomize`, falling back to a `kustomize` binary: the YAML, or
/// the error that stopped the build.
pub async fn render(dir: &Path, timeout: std::time::Duration) -> Result<String, String> {
    let rendered = render_full(dir, timeout).await;
    if rendered.ok {
        Ok(rendered.output)
    } else {
        Err(rendered.output)
    }
}

/// Parses multi-document YAML (`kubectl kustomize` output, `kubectl get -o yaml`) into
/// objects; empty documents are dropped.
pub fn parse_objects(yaml: &str) -> Result<Vec<serde_json::Value>, String> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: None,
    };
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple_with_options(yaml, options)
        .map_err(|e| e.without_snippet().to_string())?;
    Ok(docs
        .into_iter()
        .filter(serde_json::Value::is_object)
        .collect())
}

/// File names kustomize accepts for a kustomization.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of `dir`, if it has one.
pub fn kustomization_file(dir: &Path) -> Option<std::path::PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Folders agentops never looks into: history, its own state, dependencies, build output.
pub const SKIP_DIRS: [&str; 4] = [".git", ".agentops", "node_modules", "target"];

/// Every entry under `root` in name order, [`SKIP_DIRS`] left out.
pub fn walk_repo(root: &Path) -> impl Iterator<Item = walkdir::DirEntry> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || !SKIP_DIRS.contains(&e.file_name().to_str().unwrap_or(""))
        })
        .filter_map(Result::ok)
}

/// Every YAML file under `root` (see [`walk_repo`]).
pub fn yaml_files(root: &Path) -> impl Iterator<Item = walkdir::DirEntry> {
    walk_repo(root).filter(|e| {
        e.file_type().is_file()
            && e.path()
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml")
    })
}

/// The kustomization folders of `root` most like `wanted` (a path that is none), relative,
/// best first: most folder names in common, then the shortest. For errors that teach.
pub fn nearest_kustomizations(root: &Path, wanted: &str, limit: usize) -> Vec<String> {
    let words: Vec<String> = wanted
        .split(['/', '-', '_', '.'])
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut scored: Vec<(usize, usize, String)> = find_kustomizations(root)
        .iter()
        .filter_map(|k| k.strip_prefix(root).ok())
        .map(|rel| rel.display().to_string())
        .filter(|rel| !rel.is_empty())
        .map(|rel| {
            let lower = rel.to_ascii_lowercase();
            let common = words
                .iter()
                .filter(|w| lower.split(['/', '-', '_', '.']).any(|p| p == w.as_str()))
                .count();
            (common, rel.len(), rel)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    scored.into_iter().take(limit).map(|(_, _, r)| r).collect()
}

/// Every folder under `root` with a kustomization, sorted (skips [`SKIP_DIRS`]).
pub fn find_kustomizations(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = walk_repo(root)
        .filter(|e| e.file_type().is_dir() && kustomization_file(e.path()).is_some())
        .map(walkdir::DirEntry::into_path)
        .collect();
    out.sort();
    out
}

/// The local files a build of `dir` reads: everything under it, and (recursively) every local
/// folder or file its kustomization names (`resources`, `components`, patches, generators),
/// however deep and however long the path. Used as the render cache key, so editing any of
/// them re-renders the overlay. Folders outside the repository (see [`outside_inputs`]) are
/// not walked.
pub fn input_files(dir: &Path) -> Vec<std::path::PathBuf> {
    walk_inputs(dir).0
}

/// What a build of `dir` would read outside `root` (resolved paths): a render of a
/// kustomization that reaches out of the repository is refused, so its content never shows.
pub fn outside_inputs(root: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let (files, dirs) = walk_inputs(dir);
    dirs.into_iter()
        .chain(files)
        .filter(|p| !p.starts_with(&root))
        .collect()
}

/// Files and folders a build of `dir` reads (resolved).
fn walk_inputs(dir: &Path) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let mut files = std::collections::BTreeSet::new();
    let mut queue = vec![dir.to_path_buf()];
    let mut seen = std::collections::BTreeSet::new();
    // The first folder's repository: folders named from inside it but outside it are recorded,
    // not walked (a `../../../..` must not make this walk the whole disk).
    let home = dir
        .canonicalize()
        .ok()
        .and_then(|d| repo_root(&d))
        .unwrap_or_else(|| std::path::PathBuf::from("/"));
    while let Some(d) = queue.pop() {
        let Ok(canonical) = d.canonicalize() else {
            continue;
        };
        if !seen.insert(canonical.clone()) {
            continue;
        }
        if !canonical.starts_with(&home) {
            continue;
        }
        for entry in walkdir::WalkDir::new(&canonical)
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.file_type().is_file() {
                files.insert(entry.into_path());
            }
        }
        let Some(k) = kustomization_file(&canonical) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&k) else {
            continue;
        };
        let Ok(value) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let mut strings = Vec::new();
        collect_strings(&value, &mut strings);
        for s in strings {
            if s.contains("://") || s.contains('\n') {
                continue;
            }
            let candidate = canonical.join(&s);
            if candidate.is_dir() {
                queue.push(candidate);
            } else if candidate.is_file()
                && let Ok(c) = candidate.canonicalize()
            {
                files.insert(c);
            }
        }
    }
    (files.into_iter().collect(), seen.into_iter().collect())
}

/// The nearest folder above `dir` (itself included) with a `.git`; `None` when there is none
/// (then nothing is confined: there is no repository to confine to).
fn repo_root(dir: &Path) -> Option<std::path::PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Content hashes of files, reused while a file's size and modification time are unchanged
/// (as make and ninja do), kept on disk between runs.
#[derive(Debug, Default)]
pub struct FileHashes {
    stamps: std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, FileStamp>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FileStamp {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

impl FileHashes {
    pub fn load(path: &Path) -> Self {
        let stamps = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            stamps: std::sync::Mutex::new(stamps),
        }
    }

    pub fn save(&self, path: &Path) {
        if let Ok(stamps) = self.stamps.lock()
            && let Ok(bytes) = serde_json::to_vec(&*stamps)
        {
            write_atomic(path, &bytes);
        }
    }

    /// The sha256 of `file`, read only when it changed since it was last hashed.
    pub fn hash(&self, file: &Path) -> Option<String> {
        use sha2::{Digest, Sha256};
        let meta = std::fs::metadata(file).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        if let Ok(stamps) = self.stamps.lock()
            && let Some(s) = stamps.get(file)
            && s.size == meta.len()
            && s.mtime_ns == mtime_ns
        {
            return Some(s.sha256.clone());
        }
        let bytes = std::fs::read(file).ok()?;
        let sha256: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Ok(mut stamps) = self.stamps.lock() {
            stamps.insert(
                file.to_path_buf(),
                FileStamp {
                    size: meta.len(),
                    mtime_ns,
                    sha256: sha256.clone(),
                },
            );
        }
        Some(sha256)
    }
}

/// A stable hash of `files` (paths relative to `base` and contents) plus `salt`.
pub fn inputs_hash(
    base: &Path,
    files: &[std::path::PathBuf],
    salt: &str,
    hashes: &FileHashes,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    for f in files {
        let rel = f.strip_prefix(base).unwrap_or(f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(hashes.hash(f).unwrap_or_default().as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes through a temporary file and a rename, so a concurrent reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// kubectl's error without its logging prefix: `E1126 … run.go:72] "command failed"
/// err="…"` becomes the quoted message.
fn build_error(stderr: &str) -> String {
    static COMMAND_FAILED: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| {
            regex::Regex::new(
                r#"(?m)^E\d{4} [^\]]*\] "command failed" err="((?:[^"\\]|\\.)*)"\s*$"#,
            )
            .ok()
        });
    let trimmed = stderr.trim();
    COMMAND_FAILED
        .as_ref()
        .and_then(|re| re.captures(trimmed))
        .and_then(|c| c.get(1))
        .map_or_else(
            || trimmed.to_string(),
            |m| m.as_str().replace("\\\"", "\"").replace("\\\\", "\\"),
        )
}

/// What one render produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    pub ok: bool,
    /// The YAML on success, the error on failure.
    pub output: String,
    /// kustomize's warnings (deprecations) from stderr.
    pub warnings: Vec<String>,
}

/// Renders `dir`, reusing the result stored under `key` in `cache_dir` when there is one.
/// Returns the result and whether it came from the cache.
pub async fn render_cached(
    dir: &Path,
    cache: Option<(&Path, &str)>,
    timeout: std::time::Duration,
) -> (Rendered, bool) {
    let path = cache.map(|(dir, key)| dir.join(format!("{key}.json")));
    if let Some(path) = &path
        && let Ok(bytes) = std::fs::read(path)
        && let Ok(hit) = serde_json::from_slice::<Rendered>(&bytes)
    {
        return (hit, true);
    }
    let rendered = render_full(dir, timeout).await;
    if let Some(path) = &path
        && let Ok(bytes) = serde_json::to_vec(&rendered)
    {
        write_atomic(path, &bytes);
    }
    (rendered, false)
}

pub async fn render_full(dir: &Path, timeout: std::time::Duration) -> Rendered {
    let failed = |output: String| Rendered {
        ok: false,
        output,
        warnings: Vec::new(),
    };
    // A kustomization that reads outside its repository is not rendered: what it reads would
    // reach the model and the gates' diffs.
    if let Some(root) = dir.canonicalize().ok().and_then(|d| repo_root(&d)) {
        let outside = outside_inputs(&root, dir);
        if !outside.is_empty() {
            let list: Vec<String> = outside.iter().map(|p| p.display().to_string()).collect();
            return failed(format!(
                "it reads {} outside the repository; agentops renders only what is inside it",
                list.join(", ")
            ));
        }
    }
    let mut not_found = String::new();
    for (program, args) in [("kubectl", ["kustomize"]), ("kustomize", ["build"])] {
        let child = tokio::process::Command::new(program)
            .args(args)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                not_found = format!("neither kubectl nor kustomize is installed ({e})");
                continue;
            }
            Err(e) => return failed(format!("cannot run {program}: {e}")),
        };
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return failed(format!("{program} failed: {e}")),
            Err(_) => return failed(format!("{program} timed out after {}s", timeout.as_secs())),
        };
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let warnings: Vec<String> = stderr
            .lines()
            .filter(|l| l.contains("deprecated") || l.starts_with("# Warning"))
            .map(|l| l.trim_start_matches("# Warning: ").trim().to_string())
            .collect();
        return if output.status.success() {
            Rendered {
                ok: true,
                output: String::from_utf8_lossy(&output.stdout).into_owned(),
                warnings,
            }
        } else {
            Rendered {
                ok: false,
                output: build_error(&stderr),
                warnings,
            }
        };
    }
    failed(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_logging_prefix_is_dropped_from_build_errors() {
        let stderr = "E1126 16:19:38.014431   22161 run.go:72] \"command failed\" err=\"accumulating resources: \\\"missing.yaml\\\" not found\"\n";
        assert_eq!(
            build_error(stderr),
            "accumulating resources: \"missing.yaml\" not found"
        );
        assert_eq!(build_error("Error: plain\n"), "Error: plain");
    }

    #[tokio::test]
    async fn renders_that_read_outside_the_repository_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("apps/x")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(
            outside.join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  k: outside-canary\n",
        )
        .unwrap();
        std::fs::write(
            root.join("apps/x/kustomization.yaml"),
            format!("resources:\n  - {}/cm.yaml\n", "../../../outside"),
        )
        .unwrap();
        let out = render(&root.join("apps/x"), std::time::Duration::from_secs(30)).await;
        let err = out.unwrap_err();
        assert!(err.contains("outside the repository"), "{err}");
        assert!(!err.contains("outside-canary"));
        // An equivalent 300+ character path to a base still counts as an input.
        std::fs::create_dir_all(root.join("apps/base")).unwrap();
        std::fs::write(root.join("apps/base/kustomization.yaml"), "resources: []\n").unwrap();
        let long = format!("{}../base", "./".repeat(200));
        std::fs::write(
            root.join("apps/x/kustomization.yaml"),
            format!("resources:\n  - {long}\n"),
        )
        .unwrap();
        let inputs = input_files(&root.join("apps/x"));
        assert!(
            inputs
                .iter()
                .any(|p| p.ends_with("apps/base/kustomization.yaml")),
            "{inputs:?}"
        );
    }
}
