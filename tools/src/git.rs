//! Typed git tools over libgit2 (`git2`): `git_status`, `git_diff`, `git_log`, `git_blame` and
//! `git_commit`. Commits carry `Agentops-Session` / `Agentops-Agent` trailers (DESIGN.md §3,
//! attribution) and must have a conventional message; the runtime gates them like any change.
//! Diffs and blames of Secret manifests never show their lines.

use crate::path::confine;
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool, blocking};
use futures_util::future::BoxFuture;
use git2::{DiffFormat, DiffOptions, Repository, StatusOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// The commit tool's name: the runtime gates its files before it runs.
pub const COMMIT_TOOL: &str = "git_commit";

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0} is not inside a git repository")]
    NotARepo(String),
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn open(root: &Path) -> Result<Repository, GitError> {
    Repository::discover(root).map_err(|_| GitError::NotARepo(root.display().to_string()))
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn is_secret_manifest(text: &str) -> bool {
    crate::redact::holds_secret_object(text)
}

fn short(oid: git2::Oid) -> String {
    oid.to_string().chars().take(8).collect()
}

/// A repository path (relative to the repository's workdir) for a confined file path.
fn repo_rel(repo: &Repository, ctx: &ToolContext, path: &str) -> Result<String, GitError> {
    let abs = confine(&ctx.root, &ctx.cwd, path).map_err(|e| GitError::Invalid(e.to_string()))?;
    let workdir = repo
        .workdir()
        .and_then(|w| w.canonicalize().ok())
        .ok_or_else(|| GitError::Invalid("the repository has no working tree".into()))?;
    abs.strip_prefix(&workdir)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .map_err(|_| GitError::Invalid(format!("{path} is outside the repository")))
}

fn output(result: Result<String, GitError>) -> ToolOutput {
    match result {
        Ok(text) => ToolOutput::ok(text),
        Err(e) => ToolOutput::error(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------

/// Input of `git_status` (none).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitStatusInput {}

pub struct GitStatusTool;

impl TypedTool for GitStatusTool {
    type Input = GitStatusInput;
    const NAME: &'static str = "git_status";
    const DESCRIPTION: &'static str =
        "The branch, the last commit, and the staged, unstaged and untracked files.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, _input: GitStatusInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let root = ctx.root.clone();
        blocking(move || output(status(&root)))
    }
}

fn status(root: &Path) -> Result<String, GitError> {
    let repo = open(root)?;
    let mut out = String::new();
    match repo.head() {
        Ok(head) => {
            let branch = head.shorthand().unwrap_or("(detached)").to_string();
            let commit = head.peel_to_commit()?;
            let _ = writeln!(
                out,
                "branch {branch} at {} {}",
                short(commit.id()),
                commit.summary().unwrap_or("")
            );
        }
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
            out.push_str("branch with no commits yet\n");
        }
        Err(e) => return Err(e.into()),
    }
    let mut opts = StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    let statuses = repo.statuses(Some(&mut opts))?;
    let (mut staged, mut unstaged, mut untracked) = (Vec::new(), Vec::new(), Vec::new());
    for entry in statuses.iter() {
        let path = entry.path().unwrap_or("?").to_string();
        let s = entry.status();
        let index = if s.is_index_new() {
            Some('A')
        } else if s.is_index_modified() {
            Some('M')
        } else if s.is_index_deleted() {
            Some('D')
        } else if s.is_index_renamed() {
            Some('R')
        } else {
            None
        };
        if let Some(c) = index {
            staged.push(format!("  {c} {path}"));
        }
        if s.is_wt_new() {
            untracked.push(format!("  ? {path}"));
        } else if s.is_wt_modified() {
            unstaged.push(format!("  M {path}"));
        } else if s.is_wt_deleted() {
            unstaged.push(format!("  D {path}"));
        } else if s.is_conflicted() {
            unstaged.push(format!("  U {path} (conflict)"));
        }
    }
    for (label, list) in [
        ("staged", staged),
        ("unstaged", unstaged),
        ("untracked", untracked),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{label}:\n{}", list.join("\n"));
        }
    }
    if statuses.is_empty() {
        out.push_str("working tree clean\n");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

/// Input of `git_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitDiffInput {
    /// Only this file or folder.
    #[serde(default)]
    pub path: Option<String>,
    /// The staged changes (index against HEAD) instead of the unstaged ones.
    #[serde(default)]
    pub staged: bool,
    /// A revision (`HEAD~3`, a branch, a commit) to compare the working tree with.
    #[serde(default)]
    pub base: Option<String>,
}

pub struct GitDiffTool;

impl TypedTool for GitDiffTool {
    type Input = GitDiffInput;
    const NAME: &'static str = "git_diff";
    const DESCRIPTION: &'static str = "A unified diff of the working tree: unstaged changes, staged ones (`staged`), or against a revision (`base`). Secret manifests are summarised, never shown.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: GitDiffInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || output(diff(&ctx, &input)))
    }
}

fn diff(ctx: &ToolContext, input: &GitDiffInput) -> Result<String, GitError> {
    let repo = open(&ctx.root)?;
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true);
    if let Some(p) = &input.path {
        opts.pathspec(repo_rel(&repo, ctx, p)?);
    }
    let head_tree = || -> Result<Option<git2::Tree<'_>>, GitError> {
        match repo.head() {
            Ok(h) => Ok(Some(h.peel_to_tree()?)),
            Err(e) if e.code() == git2::ErrorCode::UnbornBranch => Ok(None),
            Err(e) => Err(e.into()),
        }
    };
    let diff = if let Some(base) = &input.base {
        let tree = repo.revparse_single(base)?.peel_to_tree()?;
        repo.diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))?
    } else if input.staged {
        repo.diff_tree_to_index(head_tree()?.as_ref(), None, Some(&mut opts))?
    } else {
        repo.diff_index_to_workdir(None, Some(&mut opts))?
    };
    let secret = |blob: git2::Oid, path: Option<&Path>| -> bool {
        if !blob.is_zero()
            && let Ok(b) = repo.find_blob(blob)
        {
            return is_secret_manifest(&String::from_utf8_lossy(b.content()));
        }
        path.and_then(|p| repo.workdir().map(|w| w.join(p)))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .is_some_and(|t| is_secret_manifest(&t))
    };
    let mut out = String::new();
    let mut hidden: Vec<String> = Vec::new();
    diff.print(DiffFormat::Patch, |delta, _hunk, line| {
        let new = delta.new_file();
        let old = delta.old_file();
        if secret(old.id(), old.path()) || secret(new.id(), new.path()) {
            let name = new
                .path()
                .or(old.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if !hidden.contains(&name) {
                hidden.push(name);
            }
            return true;
        }
        let content = String::from_utf8_lossy(line.content());
        match line.origin() {
            c @ ('+' | '-' | ' ') => {
                out.push(c);
                out.push_str(&content);
            }
            _ => out.push_str(&content),
        }
        true
    })?;
    for name in hidden {
        let _ = writeln!(
            out,
            "diff of {name} hidden: it is a Secret manifest (its values never reach the model)"
        );
    }
    if out.is_empty() {
        out.push_str("no changes\n");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

/// Input of `git_log`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitLogInput {
    /// Only commits that touch this file or folder.
    #[serde(default)]
    pub path: Option<String>,
    /// How many commits (default 20, at most 200).
    #[serde(default)]
    pub max_count: Option<usize>,
}

pub struct GitLogTool;

impl TypedTool for GitLogTool {
    type Input = GitLogInput;
    const NAME: &'static str = "git_log";
    const DESCRIPTION: &'static str = "Recent commits (newest first): id, time (UTC), author, subject and agentops trailers; optionally only those touching a path.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: GitLogInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || output(log(&ctx, &input)))
    }
}

fn touches(repo: &Repository, commit: &git2::Commit<'_>, path: &str) -> Result<bool, GitError> {
    let tree = commit.tree()?;
    let parent = commit.parents().next().map(|p| p.tree()).transpose()?;
    let mut opts = DiffOptions::new();
    opts.pathspec(path);
    let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut opts))?;
    Ok(diff.deltas().len() > 0)
}

fn log(ctx: &ToolContext, input: &GitLogInput) -> Result<String, GitError> {
    let repo = open(&ctx.root)?;
    let path = input
        .path
        .as_deref()
        .map(|p| repo_rel(&repo, ctx, p))
        .transpose()?;
    let max = input.max_count.unwrap_or(20).clamp(1, 200);
    let mut walk = repo.revwalk()?;
    if let Err(e) = walk.push_head() {
        if e.code() == git2::ErrorCode::UnbornBranch {
            return Ok("no commits yet\n".into());
        }
        return Err(e.into());
    }
    walk.set_sorting(git2::Sort::TIME)?;
    let mut out = String::new();
    let mut shown = 0;
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        if let Some(p) = &path
            && !touches(&repo, &commit, p)?
        {
            continue;
        }
        let author = commit.author();
        let _ = writeln!(
            out,
            "{} {} {} <{}> {}",
            short(commit.id()),
            iso8601(commit.time().seconds()),
            author.name().unwrap_or("?"),
            author.email().unwrap_or("?"),
            commit.summary().unwrap_or("")
        );
        for trailer in commit
            .message()
            .unwrap_or("")
            .lines()
            .filter(|l| l.starts_with("Agentops-"))
        {
            let _ = writeln!(out, "    {trailer}");
        }
        shown += 1;
        if shown >= max {
            break;
        }
    }
    if out.is_empty() {
        out.push_str("no matching commits\n");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

/// Input of `git_blame`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitBlameInput {
    pub file_path: String,
    /// First line (1-based), default 1.
    #[serde(default)]
    pub start_line: Option<usize>,
    /// Last line (inclusive), default the end (at most 400 lines are shown).
    #[serde(default)]
    pub end_line: Option<usize>,
}

pub struct GitBlameTool;

impl TypedTool for GitBlameTool {
    type Input = GitBlameInput;
    const NAME: &'static str = "git_blame";
    const DESCRIPTION: &'static str = "Who last changed each line of a file, and when (commit, author, UTC time); uncommitted lines are marked. Secret manifests show no content.";
    const RISK: Risk = Risk::ReadOnly;
    fn call(&self, input: GitBlameInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || output(blame(&ctx, &input)))
    }
}

fn blame(ctx: &ToolContext, input: &GitBlameInput) -> Result<String, GitError> {
    let repo = open(&ctx.root)?;
    let rel = repo_rel(&repo, ctx, &input.file_path)?;
    let abs = confine(&ctx.root, &ctx.cwd, &input.file_path)
        .map_err(|e| GitError::Invalid(e.to_string()))?;
    let text = std::fs::read_to_string(&abs).map_err(|source| GitError::Io {
        path: rel.clone(),
        source,
    })?;
    let committed = repo.blame_file(Path::new(&rel), None)?;
    let blame = committed.blame_buffer(text.as_bytes())?;
    let hide = is_secret_manifest(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = input.start_line.unwrap_or(1).max(1);
    let end = input
        .end_line
        .unwrap_or(lines.len())
        .min(lines.len())
        .min(start + 399);
    let mut out = String::new();
    // Authors come from the commits, not from `BlameHunk::final_signature`: libgit2 leaves
    // that null for hunks of a blamed buffer with uncommitted lines, and git2 0.20 then
    // dereferences it (a segfault).
    let mut authors: std::collections::HashMap<git2::Oid, (String, String)> =
        std::collections::HashMap::new();
    for n in start..=end {
        let (who, when, id) = match blame.get_line(n) {
            Some(h) if !h.final_commit_id().is_zero() => {
                let oid = h.final_commit_id();
                let (who, when) = authors
                    .entry(oid)
                    .or_insert_with(|| match repo.find_commit(oid) {
                        Ok(c) => (
                            c.author().name().unwrap_or("?").to_string(),
                            iso8601(c.author().when().seconds()),
                        ),
                        Err(_) => ("?".to_string(), String::new()),
                    })
                    .clone();
                (who, when, short(oid))
            }
            _ => (
                "not committed".to_string(),
                String::new(),
                "00000000".to_string(),
            ),
        };
        let content = if hide {
            "<Secret manifest: content hidden>"
        } else {
            lines.get(n - 1).copied().unwrap_or("")
        };
        let _ = writeln!(out, "{id} ({who} {when}) {n:>4}: {content}");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

/// Input of `git_commit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitCommitInput {
    /// A conventional commit message: `type(scope): subject`, then an optional body saying why.
    pub message: String,
    /// Files or folders to commit (staged first); default: every change in the working tree.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}

pub struct GitCommitTool;

static CONVENTIONAL: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(feat|fix|docs|style|refactor|perf|test|build|ci|chore|revert)(\([\w./,-]+\))?!?: \S",
    )
    .ok()
});

impl TypedTool for GitCommitTool {
    type Input = GitCommitInput;
    const NAME: &'static str = COMMIT_TOOL;
    const DESCRIPTION: &'static str = "Commit changes with a conventional message (`feat(web): raise replicas for the sale`); agentops adds Agentops-Session and Agentops-Agent trailers. Refused while a gate fails on the committed manifests.";
    const RISK: Risk = Risk::Commit;
    fn call(&self, input: GitCommitInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        blocking(move || output(commit(&ctx, &input)))
    }
}

/// The message with agentops' trailers appended (existing trailers kept).
pub fn with_trailers(message: &str, session: &str, agent: &str) -> String {
    let mut msg = message.trim_end().to_string();
    msg.push_str("\n\n");
    if !session.is_empty() {
        let _ = writeln!(msg, "Agentops-Session: {session}");
    }
    if !agent.is_empty() {
        let _ = writeln!(msg, "Agentops-Agent: {agent}");
    }
    msg
}

/// Checks a commit message: conventional first line, no trailers of agentops' own.
pub fn check_message(message: &str) -> Result<(), GitError> {
    let first = message.lines().next().unwrap_or("").trim();
    let ok = CONVENTIONAL.as_ref().is_some_and(|re| re.is_match(first));
    if !ok {
        return Err(GitError::Invalid(format!(
            "`{first}` is not a conventional commit message; write `type(scope): subject` with a type of feat, fix, docs, style, refactor, perf, test, build, ci, chore or revert"
        )));
    }
    if message.lines().any(|l| l.starts_with("Agentops-")) {
        return Err(GitError::Invalid(
            "leave out Agentops-* trailers: agentops adds them".into(),
        ));
    }
    Ok(())
}

/// The files a commit of `paths` (all changes when `None`) would record, absolute.
pub fn files_to_commit(
    ctx: &ToolContext,
    paths: Option<&[String]>,
) -> Result<Vec<PathBuf>, GitError> {
    let repo = open(&ctx.root)?;
    let workdir = repo
        .workdir()
        .and_then(|w| w.canonicalize().ok())
        .ok_or_else(|| GitError::Invalid("the repository has no working tree".into()))?;
    let specs: Vec<String> = match paths {
        Some(p) => p
            .iter()
            .map(|p| repo_rel(&repo, ctx, p))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut opts = StatusOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    for s in &specs {
        opts.pathspec(s);
    }
    let statuses = repo.statuses(Some(&mut opts))?;
    Ok(statuses
        .iter()
        .filter(|e| !e.status().is_ignored())
        .filter_map(|e| e.path().map(|p| workdir.join(p)))
        .collect())
}

fn commit(ctx: &ToolContext, input: &GitCommitInput) -> Result<String, GitError> {
    check_message(&input.message)?;
    let repo = open(&ctx.root)?;
    let mut index = repo.index()?;
    match &input.paths {
        Some(paths) => {
            let specs: Vec<String> = paths
                .iter()
                .map(|p| repo_rel(&repo, ctx, p))
                .collect::<Result<_, _>>()?;
            index.add_all(specs.iter(), git2::IndexAddOption::DEFAULT, None)?;
            index.update_all(specs.iter(), None)?;
        }
        None => {
            index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
            index.update_all(["*"].iter(), None)?;
        }
    }
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let parent = match repo.head() {
        Ok(h) => Some(h.peel_to_commit()?),
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(p) = parent.as_ref().filter(|p| p.tree_id() == tree.id()) {
        return Err(GitError::Invalid(format!(
            "nothing to commit: every change is already in commit {} ({}); if that was the job, give your answer",
            &p.id().to_string()[..8],
            p.summary().unwrap_or("")
        )));
    }
    let sig = repo
        .signature()
        .or_else(|_| git2::Signature::now("agentops", "agentops@localhost"))?;
    let message = with_trailers(&input.message, &ctx.session_id, &ctx.agent);
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &parents)?;
    let changed = match &parent {
        Some(p) => repo
            .diff_tree_to_tree(Some(&p.tree()?), Some(&tree), None)?
            .deltas()
            .len(),
        None => tree.len(),
    };
    Ok(format!(
        "committed {} ({changed} file(s)): {}",
        short(oid),
        input.message.lines().next().unwrap_or("")
    ))
}

/// Writes the files of HEAD's tree under `dest` (for rendering the committed state).
pub fn export_head(root: &Path, dest: &Path) -> Result<bool, GitError> {
    let repo = open(root)?;
    let tree = match repo.head() {
        Ok(h) => h.peel_to_tree()?,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let rel = format!("{dir}{}", entry.name().unwrap_or(""));
        let path = dest.join(&rel);
        let written = repo
            .find_blob(entry.id())
            .map_err(GitError::from)
            .and_then(|b| {
                let io = |source| GitError::Io {
                    path: rel.clone(),
                    source,
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::fs::write(&path, b.content()).map_err(io)
            });
        match written {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(e);
                git2::TreeWalkResult::Abort
            }
        }
    })?;
    failure.map_or(Ok(true), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_694_400), "2026-11-26T12:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn commit_messages_must_be_conventional() {
        assert!(check_message("feat(web): scale for the sale").is_ok());
        assert!(check_message("fix: typo\n\nbody").is_ok());
        assert!(check_message("chore(apps/web,db)!: rename").is_ok());
        assert!(check_message("updated stuff").is_err());
        assert!(check_message("feat: x\n\nAgentops-Agent: me").is_err());
        assert_eq!(
            with_trailers("feat: x\n", "run-1", "editor"),
            "feat: x\n\nAgentops-Session: run-1\nAgentops-Agent: editor\n"
        );
    }
}
