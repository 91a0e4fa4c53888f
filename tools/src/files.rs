//! Claude Code's read-only file tools, confined to the repository: `Read`, `Glob`, `Grep`.

use crate::path::{confine, display};
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool, blocking};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use std::io::Read as _;
use std::path::Path;

/// Lines returned by one `Read` when no limit is given.
const DEFAULT_READ_LINES: usize = 2000;
/// Longest line kept by `Read` and `Grep`.
const MAX_LINE_CHARS: usize = 2000;
/// Matches listed by `Glob` and `Grep`.
const MAX_MATCHES: usize = 500;
/// Files larger than this are not searched or read whole.
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

fn cut(line: &str) -> &str {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// Input of `Read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// Path of the file, relative to the repository root or absolute inside it.
    pub file_path: String,
    /// Leave out to read the whole file. Only for files over 2000 lines: the first line to
    /// return (1-based).
    #[serde(default)]
    pub offset: Option<usize>,
    /// Leave out to read the whole file. Only with `offset`: how many lines to return.
    #[serde(default)]
    pub limit: Option<usize>,
}

pub struct ReadTool;

impl TypedTool for ReadTool {
    type Input = ReadInput;
    const NAME: &'static str = "Read";
    const DESCRIPTION: &'static str =
        "Read a whole text file of the repository. Returns its lines numbered (`N\\tline`).";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: ReadInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || read(&ctx, &input))
    }
}

fn read(ctx: &ToolContext, input: &ReadInput) -> ToolOutput {
    let path = match confine(&ctx.root, &ctx.cwd, &input.file_path) {
        Ok(p) => p,
        Err(e) => return ToolOutput::error(e.to_string()),
    };
    if path.is_dir() {
        return ToolOutput::error(format!(
            "{} is a directory; use Glob to list it",
            input.file_path
        ));
    }
    let mut bytes = Vec::new();
    match std::fs::File::open(&path) {
        Ok(f) => {
            if let Err(e) = f.take(MAX_FILE_BYTES).read_to_end(&mut bytes) {
                return ToolOutput::error(format!("cannot read {}: {e}", input.file_path));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return ToolOutput::error(format!(
                "{} does not exist.{}",
                input.file_path,
                did_you_mean(&ctx.root, &path)
            ));
        }
        Err(e) => return ToolOutput::error(format!("cannot read {}: {e}", input.file_path)),
    }
    if bytes.contains(&0) {
        return ToolOutput::error(format!("{} is a binary file", input.file_path));
    }
    let text = ctx.secrets.redact_text(&String::from_utf8_lossy(&bytes));
    let start = input.offset.unwrap_or(1).max(1);
    let limit = input.limit.unwrap_or(DEFAULT_READ_LINES).max(1);
    let mut out = String::new();
    let mut total = 0;
    for (i, line) in text.lines().enumerate() {
        total = i + 1;
        if total >= start && total < start + limit {
            out.push_str(&format!("{total:>6}\t{}\n", cut(line)));
        }
    }
    if total == 0 {
        return ToolOutput::ok(format!("{} is empty", input.file_path));
    }
    if total >= start + limit {
        out.push_str(&format!(
            "[… {} more lines; read on with offset {}]\n",
            total - (start + limit) + 1,
            start + limit
        ));
    }
    ToolOutput::ok(out)
}

/// Input of `Glob`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobInput {
    /// Glob pattern, e.g. `apps/*/overlays/*/kustomization.yaml` or `**/*.yaml`.
    pub pattern: String,
    /// Folder to search from (default: the repository root).
    #[serde(default)]
    pub path: Option<String>,
}

pub struct GlobTool;

impl TypedTool for GlobTool {
    type Input = GlobInput;
    const NAME: &'static str = "Glob";
    const DESCRIPTION: &'static str =
        "List repository files matching a glob pattern (`**` crosses folders), sorted by path.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: GlobInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || glob(&ctx, &input))
    }
}

/// Files of the repository scanned when a path does not exist, to suggest the ones meant.
const HINT_SCAN_LIMIT: usize = 20_000;
/// Suggestions given for a path that does not exist.
const HINT_LIMIT: usize = 5;

/// What to try instead of `missing` (a confined path that does not exist), as text a model
/// can copy: the repository's files with the same name, those sharing the most trailing
/// folders first (a small model often gets a folder wrong, e.g. `platform/overlays/prod/x`
/// for `apps/web/overlays/prod/x`); else what the deepest existing folder on the way holds.
/// Paths are shown relative to the repository root. Empty when there is nothing to suggest.
pub fn did_you_mean(root: &Path, missing: &Path) -> String {
    // Nothing is suggested inside Git's or agentops' own folders.
    let private = missing.strip_prefix(root).is_ok_and(|rel| {
        rel.components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git" || c.as_os_str() == ".agentops")
    });
    if private {
        return String::new();
    }
    let wanted: Vec<&std::ffi::OsStr> = missing
        .strip_prefix(root)
        .unwrap_or(missing)
        .iter()
        .collect();
    let Some(name) = wanted.last() else {
        return String::new();
    };
    let mut same_name: Vec<(usize, String)> = Vec::new();
    for entry in walk(root).take(HINT_SCAN_LIMIT) {
        if entry.file_name() != *name {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let shared = rel
            .iter()
            .rev()
            .zip(wanted.iter().rev())
            .take_while(|(a, b)| a == *b)
            .count();
        same_name.push((shared, display(root, entry.path())));
    }
    if !same_name.is_empty() {
        same_name.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let more = same_name.len().saturating_sub(HINT_LIMIT);
        let list: Vec<String> = same_name
            .into_iter()
            .take(HINT_LIMIT)
            .map(|(_, p)| p)
            .collect();
        let mut text = format!(
            " Files named {} in the repository (paths relative to its root): {}",
            name.to_string_lossy(),
            list.join(", ")
        );
        if more > 0 {
            text.push_str(&format!(" (and {more} more; use Glob to list them)"));
        }
        return text;
    }
    let mut folder = missing.parent();
    while let Some(f) = folder {
        if !f.starts_with(root) {
            break;
        }
        if f.is_dir() {
            let mut names: Vec<String> = std::fs::read_dir(f)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter_map(|e| {
                            let n = e.file_name().to_string_lossy().into_owned();
                            if matches!(n.as_str(), ".git" | ".agentops") {
                                return None;
                            }
                            let dir = e.file_type().is_ok_and(|t| t.is_dir());
                            Some(if dir { format!("{n}/") } else { n })
                        })
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            let more = names.len().saturating_sub(20);
            names.truncate(20);
            if names.is_empty() {
                return String::new();
            }
            let mut text = format!(
                " No file named {} exists in the repository; {} holds: {}",
                name.to_string_lossy(),
                display(root, f),
                names.join(", ")
            );
            if more > 0 {
                text.push_str(&format!(" (and {more} more)"));
            }
            return text;
        }
        folder = f.parent();
    }
    String::new()
}

fn search_root(ctx: &ToolContext, path: Option<&str>) -> Result<std::path::PathBuf, ToolOutput> {
    let base = confine(&ctx.root, &ctx.cwd, path.unwrap_or("."))
        .map_err(|e| ToolOutput::error(e.to_string()))?;
    // agentops' own state (session logs, caches) is never searched.
    if base.starts_with(ctx.root.join(".agentops")) {
        return Err(ToolOutput::error(
            ".agentops/ holds agentops' own state (session logs, caches) and is not searched",
        ));
    }
    if !base.exists() {
        return Err(ToolOutput::error(format!(
            "{} does not exist.{}",
            path.unwrap_or("."),
            did_you_mean(&ctx.root, &base)
        )));
    }
    Ok(base)
}

/// Files under `base`, skipping `.git`, `.agentops`, `target` and `node_modules`, not
/// following symlinks out.
fn walk(base: &Path) -> impl Iterator<Item = walkdir::DirEntry> {
    walkdir::WalkDir::new(base)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !matches!(
                    e.file_name().to_str(),
                    Some(".git" | ".agentops" | "target" | "node_modules")
                )
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
}

fn glob(ctx: &ToolContext, input: &GlobInput) -> ToolOutput {
    let base = match search_root(ctx, input.path.as_deref()) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let matcher = match globset::GlobBuilder::new(&input.pattern)
        .literal_separator(true)
        .build()
    {
        Ok(g) => g.compile_matcher(),
        Err(e) => return ToolOutput::error(format!("invalid glob `{}`: {e}", input.pattern)),
    };
    let mut out = Vec::new();
    for entry in walk(&base) {
        let rel = entry.path().strip_prefix(&base).unwrap_or(entry.path());
        if matcher.is_match(rel) {
            out.push(display(&ctx.root, entry.path()));
            if out.len() > MAX_MATCHES {
                break;
            }
        }
    }
    if out.is_empty() {
        return ToolOutput::ok(format!("no files match `{}`", input.pattern));
    }
    let more = out.len() > MAX_MATCHES;
    out.truncate(MAX_MATCHES);
    let mut text = out.join("\n");
    if more {
        text.push_str(&format!(
            "\n[… more than {MAX_MATCHES} files; narrow the pattern]"
        ));
    }
    ToolOutput::ok(text)
}

/// Input of `Grep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrepInput {
    /// Regular expression (Rust syntax) to search for.
    pub pattern: String,
    /// Folder or file to search (default: the repository root).
    #[serde(default)]
    pub path: Option<String>,
    /// Only files whose path matches this glob, e.g. `*.yaml`.
    #[serde(default)]
    pub glob: Option<String>,
    /// Case-insensitive.
    #[serde(default)]
    pub ignore_case: Option<bool>,
}

pub struct GrepTool;

impl TypedTool for GrepTool {
    type Input = GrepInput;
    const NAME: &'static str = "Grep";
    const DESCRIPTION: &'static str = "Search repository files for a regular expression. Returns `path:line:text` for each match.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: GrepInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || grep(&ctx, &input))
    }
}

fn grep(ctx: &ToolContext, input: &GrepInput) -> ToolOutput {
    let base = match search_root(ctx, input.path.as_deref()) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let regex = match regex::RegexBuilder::new(&input.pattern)
        .case_insensitive(input.ignore_case.unwrap_or(false))
        .build()
    {
        Ok(r) => r,
        Err(e) => return ToolOutput::error(format!("invalid regular expression: {e}")),
    };
    let filter = match input.glob.as_deref().map(globset::Glob::new).transpose() {
        Ok(g) => g.map(|g| g.compile_matcher()),
        Err(e) => return ToolOutput::error(format!("invalid glob: {e}")),
    };
    let mut out = Vec::new();
    let files: Box<dyn Iterator<Item = std::path::PathBuf>> = if base.is_file() {
        Box::new(std::iter::once(base.clone()))
    } else {
        Box::new(walk(&base).map(|e| e.into_path()))
    };
    'files: for path in files {
        if let Some(filter) = &filter {
            let name_ok = path.file_name().is_some_and(|n| filter.is_match(n));
            let rel_ok = path.strip_prefix(&base).is_ok_and(|r| filter.is_match(r));
            if !name_ok && !rel_ok {
                continue;
            }
        }
        if std::fs::metadata(&path).map_or(true, |m| m.len() > MAX_FILE_BYTES) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if bytes.contains(&0) {
            continue;
        }
        // Search what the model may see: Secret values are redacted before matching.
        let text = ctx.secrets.redact_text(&String::from_utf8_lossy(&bytes));
        for (i, line) in text.lines().enumerate() {
            if regex.is_match(line) {
                out.push(format!(
                    "{}:{}:{}",
                    display(&ctx.root, &path),
                    i + 1,
                    cut(line)
                ));
                if out.len() > MAX_MATCHES {
                    break 'files;
                }
            }
        }
    }
    if out.is_empty() {
        return ToolOutput::ok(format!("no matches for `{}`", input.pattern));
    }
    let more = out.len() > MAX_MATCHES;
    out.truncate(MAX_MATCHES);
    let mut text = out.join("\n");
    if more {
        text.push_str(&format!(
            "\n[… more than {MAX_MATCHES} matches; narrow the search]"
        ));
    }
    ToolOutput::ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> ToolContext {
        let root = dir.canonicalize().unwrap();
        ToolContext {
            cwd: root.clone(),
            root,
            ..Default::default()
        }
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("apps/web/overlays/prod/replicas.yaml", "replicas: 4\n"),
            ("apps/web/overlays/dev/replicas.yaml", "replicas: 1\n"),
            ("apps/api/overlays/prod/replicas.yaml", "replicas: 2\n"),
            ("apps/web/base/deployment.yaml", "kind: Deployment\n"),
        ] {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_missing_file_names_the_files_meant_best_first() {
        // The local model's real mistake: the repository's folder name put in place of `apps/web`.
        let dir = tree();
        let ctx = ctx(dir.path());
        let wrong = format!(
            "{}/platform/overlays/prod/replicas.yaml",
            ctx.root.display()
        );
        let out = read(
            &ctx,
            &ReadInput {
                file_path: wrong.clone(),
                offset: None,
                limit: None,
            },
        );
        assert!(out.is_error);
        assert!(
            out.content.starts_with(&format!("{wrong} does not exist.")),
            "{}",
            out.content
        );
        let listed = out.content.split(": ").last().unwrap();
        let paths: Vec<&str> = listed.split(", ").collect();
        // Both prod files share `overlays/prod/replicas.yaml` and come first; dev shares less.
        assert_eq!(
            paths,
            [
                "apps/api/overlays/prod/replicas.yaml",
                "apps/web/overlays/prod/replicas.yaml",
                "apps/web/overlays/dev/replicas.yaml"
            ],
            "{}",
            out.content
        );
        // A suggestion is a path Read accepts.
        let ok = read(
            &ctx,
            &ReadInput {
                file_path: paths[1].into(),
                offset: None,
                limit: None,
            },
        );
        assert!(
            !ok.is_error && ok.content.contains("replicas: 4"),
            "{}",
            ok.content
        );
    }

    #[test]
    fn a_missing_name_lists_the_nearest_folder() {
        let dir = tree();
        let ctx = ctx(dir.path());
        let out = read(
            &ctx,
            &ReadInput {
                file_path: "apps/web/base/deploy.yaml".into(),
                offset: None,
                limit: None,
            },
        );
        assert!(out.is_error);
        assert!(
            out.content
                .ends_with("No file named deploy.yaml exists in the repository; apps/web/base holds: deployment.yaml"),
            "{}",
            out.content
        );
        let out = glob(
            &ctx,
            &GlobInput {
                pattern: "*.yaml".into(),
                path: Some("apps/website".into()),
            },
        );
        assert!(out.is_error);
        assert!(
            out.content.contains("apps holds: api/, web/"),
            "{}",
            out.content
        );
    }
}
