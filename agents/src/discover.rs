//! Finding definition files: project `.claude/<kind>/` folders from the working directory up to
//! the repository root, the user's `~/.claude/<kind>/`, and builtins shipped in the binary.
//!
//! Precedence is project (nearest folder first) > user > builtin. A definition that loses to
//! one with the same name is kept in the catalog's `shadowed` list so `list` can say so.

use crate::definition::{Rejected, Source};
use crate::diagnostic::{Diagnostic, FileDiagnostic};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where to look, computed once from the working directory and home.
#[derive(Debug, Clone)]
pub struct SearchPath {
    /// The repository root (the nearest ancestor with `.git`), or the working directory.
    pub root: PathBuf,
    /// Project definition folders for one kind, nearest first.
    pub project: Vec<PathBuf>,
    pub user: Option<PathBuf>,
}

/// The nearest ancestor of `start` (inclusive) that contains `.git`.
pub fn find_repo_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

impl SearchPath {
    /// `kind` is `agents` or `commands`.
    pub fn new(cwd: &Path, home: Option<&Path>, kind: &str) -> Self {
        let root = find_repo_root(cwd).unwrap_or_else(|| cwd.to_path_buf());
        let mut project = Vec::new();
        for dir in cwd.ancestors() {
            project.push(dir.join(".claude").join(kind));
            if dir == root {
                break;
            }
        }
        let user = home.map(|h| h.join(".claude").join(kind));
        // The user folder is not also a project folder (when working in $HOME).
        if let Some(user) = &user {
            project.retain(|p| p != user);
        }
        Self {
            root,
            project,
            user,
        }
    }

    /// Every existing folder with its source, in precedence order.
    pub fn folders(&self) -> Vec<(Source, PathBuf)> {
        let mut out: Vec<(Source, PathBuf)> = self
            .project
            .iter()
            .filter(|p| p.is_dir())
            .map(|p| (Source::Project, p.clone()))
            .collect();
        if let Some(user) = self.user.as_ref().filter(|u| u.is_dir()) {
            out.push((Source::User, user.clone()));
        }
        out
    }
}

/// A markdown file found under a definitions folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    /// Path relative to the folder it was found in (`frontend/component.md`).
    pub relative: PathBuf,
}

/// Deepest folder nesting followed; deeper trees are almost certainly a mistake or a loop.
const MAX_DEPTH: usize = 16;

/// Lists `*.md` files under `dir` in a stable order (sorted by path), following symlinks.
/// Symlink loops, unreadable entries and directories named `*.md` are reported, not fatal.
pub fn scan_markdown(dir: &Path) -> (Vec<FoundFile>, Vec<FileDiagnostic>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .max_depth(MAX_DEPTH)
        .sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err
                    .path()
                    .map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
                let message = if err.loop_ancestor().is_some() {
                    "symbolic link loop; this folder is skipped. Remove the link that points back to its own parent".to_string()
                } else {
                    format!("cannot read: {err}; skipped")
                };
                let code = if err.loop_ancestor().is_some() {
                    "symlink-loop"
                } else {
                    "unreadable"
                };
                problems.push(FileDiagnostic {
                    path,
                    diagnostic: Diagnostic::warning(code, None, message),
                });
                continue;
            }
        };
        if entry.depth() == 0 || !is_markdown(entry.path()) {
            continue;
        }
        if entry.file_type().is_dir() {
            problems.push(FileDiagnostic {
                path: entry.path().to_path_buf(),
                diagnostic: Diagnostic::warning(
                    "is-directory",
                    None,
                    "is a directory named like a markdown file; skipped",
                ),
            });
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(dir)
            .map_or_else(|_| entry.path().to_path_buf(), Path::to_path_buf);
        files.push(FoundFile {
            path: entry.path().to_path_buf(),
            relative,
        });
    }
    (files, problems)
}

pub fn is_markdown(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("md"))
}

/// Something with a name, a source and a path: what a catalog holds.
pub trait Definition {
    fn name(&self) -> &str;
    fn source(&self) -> Source;
    fn path(&self) -> &Path;
    /// The warnings found while loading it.
    fn warnings_mut(&mut self) -> &mut Vec<Diagnostic>;
}

/// Reads a definition file and parses its text with `parse`; warnings from reading (invalid
/// UTF-8) come before the parser's.
pub fn read_and_parse<T: Definition>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, Rejected>,
) -> Result<T, Rejected> {
    let text = crate::file::read_definition(path).map_err(|err| Rejected {
        path: path.to_path_buf(),
        diagnostics: vec![err.to_diagnostic()],
    })?;
    match parse(&text.text) {
        Ok(mut def) => {
            def.warnings_mut().splice(0..0, text.warnings);
            Ok(def)
        }
        Err(mut rejected) => {
            rejected.diagnostics.splice(0..0, text.warnings);
            Err(rejected)
        }
    }
}

/// Loads every file of every folder of `search` (in precedence order) with `load`, then adds
/// `builtins`; files that could not be loaded become the catalog's diagnostics.
pub fn load_catalog<T: Definition>(
    search: &SearchPath,
    load: impl Fn(&FoundFile, Source) -> Result<T, Rejected>,
    builtins: Vec<T>,
) -> Catalog<T> {
    let mut catalog = Catalog::default();
    for (source, dir) in dedupe_folders(search.folders()) {
        let (files, problems) = scan_markdown(&dir);
        catalog.diagnostics.extend(problems);
        for file in files {
            match load(&file, source) {
                Ok(def) => catalog.add(def),
                Err(rejected) => catalog.diagnostics.extend(rejected.into_file_diagnostics()),
            }
        }
    }
    for def in builtins {
        catalog.add(def);
    }
    catalog.sort();
    catalog
}

/// A definition that lost to another with the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shadowed {
    pub name: String,
    pub source: Source,
    pub path: PathBuf,
    /// The path of the definition that wins.
    pub by: PathBuf,
    pub by_source: Source,
}

/// The definitions in effect, the ones they shadow, and what went wrong while loading.
#[derive(Debug, Clone)]
pub struct Catalog<T> {
    pub items: Vec<T>,
    pub shadowed: Vec<Shadowed>,
    pub diagnostics: Vec<FileDiagnostic>,
}

impl<T> Default for Catalog<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            shadowed: Vec::new(),
            diagnostics: Vec::new(),
        }
    }
}

impl<T: Definition> Catalog<T> {
    /// Adds definitions in precedence order: the first one seen with a name wins.
    pub fn add(&mut self, def: T) {
        match self.items.iter().find(|d| d.name() == def.name()) {
            Some(winner) => self.shadowed.push(Shadowed {
                name: def.name().to_string(),
                source: def.source(),
                path: def.path().to_path_buf(),
                by: winner.path().to_path_buf(),
                by_source: winner.source(),
            }),
            None => self.items.push(def),
        }
    }

    pub fn get(&self, name: &str) -> Option<&T> {
        self.items.iter().find(|d| d.name() == name)
    }

    /// The definitions this one shadows.
    pub fn shadows<'a>(&'a self, def: &'a T) -> impl Iterator<Item = &'a Shadowed> + 'a {
        self.shadowed
            .iter()
            .filter(move |s| s.name == def.name() && s.by == def.path())
    }

    /// Sorts by source (project, user, builtin), then name, for display; precedence has
    /// already been applied.
    pub fn sort(&mut self) {
        self.items
            .sort_by(|a, b| (a.source(), a.name()).cmp(&(b.source(), b.name())));
    }
}

/// Removes duplicate folders (the same folder reached through a symlink).
pub fn dedupe_folders(folders: Vec<(Source, PathBuf)>) -> Vec<(Source, PathBuf)> {
    let mut seen = HashSet::new();
    folders
        .into_iter()
        .filter(|(_, p)| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_walks_up_to_repo_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let deep = root.join("apps/web");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        let sp = SearchPath::new(&deep, Some(tmp.path()), "agents");
        assert_eq!(sp.root, root);
        assert_eq!(
            sp.project,
            [
                deep.join(".claude/agents"),
                root.join("apps/.claude/agents"),
                root.join(".claude/agents")
            ]
        );
        assert_eq!(sp.user, Some(tmp.path().join(".claude/agents")));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loop_is_reported_not_fatal() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("agents");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.md"), "x").unwrap();
        std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
        let (files, problems) = scan_markdown(&dir);
        assert_eq!(files.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].diagnostic.code, "symlink-loop");
    }
}
