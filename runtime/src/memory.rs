//! Memory files, as Claude Code reads them: `~/.claude/CLAUDE.md`, then from the repository
//! root down to the working folder each folder's `CLAUDE.md` and `.claude/CLAUDE.md`, then its
//! `CLAUDE.local.md`; a folder without any `CLAUDE.md` gives its `AGENTS.override.md`, else its
//! `AGENTS.md` (as Codex reads them). `@path` imports are followed (relative to the importing
//! file, `~/` from home, up to [`MAX_HOPS`] deep), each confined to where its importer lives: a
//! repository file imports only from the repository, the user's own file only from home. Block
//! HTML comments are stripped. The main agent's system prompt carries the result, within
//! [`MAX_BYTES`]: when it is too big the least specific files are left out, and a warning says
//! which.
//!
//! Rules: `.claude/rules/**/*.md` (repository, then `~/.claude/rules/`). A rule without
//! `paths:` is memory like the others; a rule with `paths:` globs joins the context the first
//! time a tool reads or changes a matching file (see [`Rules::matching`]).

use agentops_agents::frontmatter;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// Import depth: a file imported by an import of an import of an import, and no further.
pub const MAX_HOPS: usize = 4;
/// Memory carried in the system prompt, all files together (about 8,000 tokens).
pub const MAX_BYTES: usize = 32 * 1024;
/// One memory file is read up to this size.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// One memory file as loaded (imports expanded after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryFile {
    /// Shown relative to the repository root (or `~/…`).
    pub shown: String,
    pub text: String,
}

/// The memory of one working folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// Least specific first.
    pub files: Vec<MemoryFile>,
    /// Problems (a missing import, an import out of bounds, files left out for size).
    pub warnings: Vec<String>,
}

impl Memory {
    /// Reads the memory for `cwd` inside `root` (both canonical), with the user's from `home`.
    pub fn load(root: &Path, cwd: &Path, home: Option<&Path>) -> Self {
        Self::load_with_rules(root, cwd, home).0
    }

    /// [`Memory::load`], and the rules with `paths:` read on the way.
    pub fn load_with_rules(root: &Path, cwd: &Path, home: Option<&Path>) -> (Self, Rules) {
        let mut memory = Memory::default();
        let mut loader = Loader {
            root,
            home,
            warnings: Vec::new(),
        };
        if let Some(home) = home {
            let user = home.join(".claude/CLAUDE.md");
            if user.is_file() || user.is_symlink() {
                loader.file(&user, home, &mut memory.files);
            }
        }
        for dir in folders(root, cwd) {
            let claude: Vec<PathBuf> = [dir.join("CLAUDE.md"), dir.join(".claude/CLAUDE.md")]
                .into_iter()
                .filter(|p| p.is_file())
                .collect();
            if claude.is_empty() {
                let codex = [dir.join("AGENTS.override.md"), dir.join("AGENTS.md")]
                    .into_iter()
                    .find(|p| p.is_file());
                if let Some(p) = codex {
                    loader.file(&p, root, &mut memory.files);
                }
            } else {
                for p in claude {
                    loader.file(&p, root, &mut memory.files);
                }
            }
            let local = dir.join("CLAUDE.local.md");
            if local.is_file() {
                loader.file(&local, root, &mut memory.files);
            }
        }
        let mut rules = Rules::load(root, cwd, home);
        memory.files.append(&mut rules.always);
        memory.warnings = loader.warnings;
        memory.warnings.append(&mut rules.warnings);
        memory.fit(MAX_BYTES);
        (memory, rules)
    }

    /// Leaves out the least specific repository files until the rest fit in `max` bytes.
    /// The user's own files (`~/…`) go last: a repository cannot push the user's standing
    /// instructions out of the prompt by being big.
    fn fit(&mut self, max: usize) {
        let mut dropped = Vec::new();
        while self.size() > max && !self.files.is_empty() {
            let index = self
                .files
                .iter()
                .position(|f| !f.shown.starts_with("~/"))
                .unwrap_or(0);
            dropped.push(self.files.remove(index).shown);
        }
        if !dropped.is_empty() {
            self.warnings.push(format!(
                "memory is over {} KB: left out the least specific file(s) {}",
                max / 1024,
                dropped.join(", ")
            ));
        }
    }

    fn size(&self) -> usize {
        self.files
            .iter()
            .map(|f| f.text.len() + f.shown.len())
            .sum()
    }

    /// The system-prompt section, empty without memory. Each file is redacted on its own
    /// with `redact` (as a Read of it would be), then its comments are stripped.
    pub fn prompt(&self, redact: &dyn Fn(&str) -> String) -> String {
        if self.files.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "# Memory\nInstructions from the repository's and the user's memory files (CLAUDE.md, AGENTS.md, rules); follow them.\n",
        );
        for f in &self.files {
            let text = strip_comments(&redact(&f.text));
            out.push_str(&format!("\n## {}\n{}\n", f.shown, text.trim()));
        }
        out
    }
}

/// The folders from `root` down to `cwd`, root first (only `root` when `cwd` is outside).
fn folders(root: &Path, cwd: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    if let Ok(rel) = cwd.strip_prefix(root) {
        let mut dir = root.to_path_buf();
        for part in rel.components() {
            dir.push(part);
            out.push(dir.clone());
        }
    }
    out
}

struct Loader<'a> {
    root: &'a Path,
    home: Option<&'a Path>,
    warnings: Vec<String>,
}

impl Loader<'_> {
    fn shown(&self, path: &Path) -> String {
        shown(self.root, self.home, path)
    }

    /// Adds `path` and, after it, what it imports; `bound` is the folder imports stay in.
    fn file(&mut self, path: &Path, bound: &Path, out: &mut Vec<MemoryFile>) {
        let mut seen = Vec::new();
        self.visit(path, bound, 0, &mut seen, out);
    }

    fn visit(
        &mut self,
        path: &Path,
        bound: &Path,
        hops: usize,
        seen: &mut Vec<PathBuf>,
        out: &mut Vec<MemoryFile>,
    ) {
        let real = match path.canonicalize() {
            Ok(p) => p,
            Err(e) => {
                self.warnings
                    .push(format!("memory file {}: {e}", self.shown(path)));
                return;
            }
        };
        let bound_real = bound.canonicalize().unwrap_or_else(|_| bound.to_path_buf());
        if !real.starts_with(&bound_real) {
            self.warnings.push(format!(
                "memory file {} leads outside {} (through a symlink); it is not read",
                self.shown(path),
                self.shown(bound)
            ));
            return;
        }
        if seen.contains(&real) {
            return;
        }
        seen.push(real.clone());
        let text = match read_capped(&real) {
            Ok(t) => t,
            Err(e) => {
                self.warnings
                    .push(format!("memory file {}: {e}", self.shown(path)));
                return;
            }
        };
        let imports = imports(&strip_comments(&text));
        out.push(MemoryFile {
            shown: self.shown(path),
            text,
        });
        for import in imports {
            if hops + 1 > MAX_HOPS {
                self.warnings.push(format!(
                    "{}: import @{import} is more than {MAX_HOPS} imports deep; it is not read",
                    self.shown(path)
                ));
                continue;
            }
            let target = match import.strip_prefix("~/") {
                Some(rest) => match self.home {
                    Some(h) => h.join(rest),
                    None => continue,
                },
                None => real.parent().unwrap_or(bound).join(&import),
            };
            let resolved = agentops_tools::path::resolve(&target);
            if !resolved.starts_with(&bound_real) {
                self.warnings.push(format!(
                    "{}: import @{import} is outside {}; memory files import only from {}",
                    self.shown(path),
                    self.shown(bound),
                    if bound_real.starts_with(self.root) {
                        "the repository"
                    } else {
                        "the home folder"
                    }
                ));
                continue;
            }
            if private(self.root, &resolved) {
                self.warnings.push(format!(
                    "{}: import @{import} is in .git/ or .agentops/, which memory never reads",
                    self.shown(path)
                ));
                continue;
            }
            if !resolved.is_file() {
                self.warnings.push(format!(
                    "{}: import @{import} does not exist",
                    self.shown(path)
                ));
                continue;
            }
            self.visit(&resolved, bound, hops + 1, seen, out);
        }
    }
}

/// `path` as people see it: relative to the repository (`.` for the root), `~/…` in home.
fn shown(root: &Path, home: Option<&Path>, path: &Path) -> String {
    if let Ok(rel) = path.strip_prefix(root) {
        let s = rel.display().to_string();
        return if s.is_empty() { ".".to_string() } else { s };
    }
    if let Some(rel) = home.and_then(|h| path.strip_prefix(h).ok()) {
        return format!("~/{}", rel.display());
    }
    path.display().to_string()
}

/// A text file's first [`MAX_FILE_BYTES`]; a binary file (NUL bytes, e.g. UTF-16) is refused,
/// as Read refuses it.
fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)?;
    if bytes.contains(&0) {
        return Err(std::io::Error::other(
            "it is a binary file (or UTF-16 text); memory files are UTF-8 text",
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `dir` as it would be without symlinks: `bound` (the real form of `written_bound`) plus the
/// rest of `dir` as written. Equal to `dir`'s real path only when nothing on the way below
/// the bound is a symlink.
fn normal(dir: &Path, bound: &Path, written_bound: &Path) -> PathBuf {
    match dir.strip_prefix(written_bound) {
        Ok(rest) => bound.join(rest),
        Err(_) => dir.to_path_buf(),
    }
}

/// agentops' own state and Git's: never memory, never imported.
fn private(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|rel| {
        rel.components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git" || c.as_os_str() == ".agentops")
    })
}

/// Removes `<!-- … -->` blocks (outside code fences), as Claude Code does before loading.
pub(crate) fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    let mut in_comment = false;
    for line in text.split_inclusive('\n') {
        if !in_comment && line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            out.push_str(line);
            continue;
        }
        if in_fence {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        loop {
            if in_comment {
                match rest.find("-->") {
                    Some(i) => {
                        rest = &rest[i + 3..];
                        in_comment = false;
                    }
                    None => break,
                }
            } else {
                match rest.find("<!--") {
                    Some(i) => {
                        out.push_str(&rest[..i]);
                        rest = &rest[i + 4..];
                        in_comment = true;
                    }
                    None => {
                        out.push_str(rest);
                        break;
                    }
                }
            }
        }
    }
    out
}

/// The `@path` imports of a memory file, in order: a word starting with `@` outside code
/// fences and inline code, naming a path (`@docs/x.md`, `@~/.claude/mine.md`, `@README`);
/// e-mail addresses and `@mentions` without a path shape are not imports.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code spans are not imports.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
                plain.push(' ');
            }
        }
        for word in plain.split_whitespace() {
            let Some(path) = word.strip_prefix('@') else {
                continue;
            };
            let path = path.trim_end_matches([',', ';', ':', ')', '.']);
            let looks_like_path = path.contains('/') || path.contains('.');
            if !path.is_empty() && looks_like_path && !out.iter().any(|p| p == path) {
                out.push(path.to_string());
            }
        }
    }
    out
}

/// `.claude/rules/**/*.md`: those without `paths:` are memory; those with it apply to files.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub always: Vec<MemoryFile>,
    pub scoped: Vec<ScopedRule>,
    /// Rule folders or files not read (leading outside, too many, binary).
    pub warnings: Vec<String>,
}

/// Rule files read in all (the rest are left out with a warning).
const MAX_RULE_FILES: usize = 200;
/// Rule text read in all.
const MAX_RULE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ScopedRule {
    pub shown: String,
    pub text: String,
    pub paths: Vec<String>,
    /// The folder whose `.claude/rules/` holds it: `paths:` are relative to it.
    base: PathBuf,
    matcher: GlobSet,
}

impl Rules {
    /// The rules of every folder from the repository root down to `cwd` (their `paths:`
    /// relative to that folder), then the user's (relative to the repository root).
    pub fn load(root: &Path, cwd: &Path, home: Option<&Path>) -> Self {
        let mut rules = Rules::default();
        let mut dirs: Vec<(PathBuf, PathBuf, PathBuf, String)> = folders(root, cwd)
            .into_iter()
            .map(|d| {
                (
                    d.join(".claude/rules"),
                    root.to_path_buf(),
                    d,
                    String::new(),
                )
            })
            .collect();
        if let Some(h) = home {
            dirs.push((
                h.join(".claude/rules"),
                h.to_path_buf(),
                root.to_path_buf(),
                "~/".to_string(),
            ));
        }
        let mut read_files = 0usize;
        let mut read_bytes = 0usize;
        for (dir, shown_from, base, prefix) in dirs {
            if !dir.is_dir() {
                continue;
            }
            // The rules folder and every file in it must really be where they appear to be:
            // inside the repository (the user's: inside home). A symlinked `.claude/rules`,
            // which Git keeps, must not bring in files from elsewhere.
            let bound = shown_from
                .canonicalize()
                .unwrap_or_else(|_| shown_from.clone());
            let real_dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            let shown_dir = format!(
                "{prefix}{}",
                dir.strip_prefix(&shown_from).unwrap_or(&dir).display()
            );
            // The user's own `~/.claude` may be a symlink into their dotfiles (inside home).
            let moved = prefix.is_empty() && real_dir != normal(&dir, &bound, &shown_from);
            if !real_dir.starts_with(&bound) || moved {
                rules.warnings.push(format!(
                    "rules folder {shown_dir} is a symlink (or goes through one); its rules are not read"
                ));
                continue;
            }
            let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&dir)
                .follow_links(false)
                .max_depth(8)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect();
            files.sort();
            for path in files {
                let inside = path
                    .canonicalize()
                    .is_ok_and(|real| real.starts_with(&real_dir));
                if !inside {
                    continue;
                }
                if read_files >= MAX_RULE_FILES || read_bytes >= MAX_RULE_BYTES {
                    rules.warnings.push(format!(
                        "more than {MAX_RULE_FILES} rule files or {} KB of rules: {} and the rest of {shown_dir} are not read",
                        MAX_RULE_BYTES / 1024,
                        path.strip_prefix(&dir).unwrap_or(&path).display()
                    ));
                    break;
                }
                let text = match read_capped(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        rules.warnings.push(format!(
                            "rule {}: {e}",
                            path.strip_prefix(&shown_from).unwrap_or(&path).display()
                        ));
                        continue;
                    }
                };
                read_files += 1;
                read_bytes += text.len();
                let shown = format!(
                    "{prefix}{}",
                    path.strip_prefix(&shown_from).unwrap_or(&path).display()
                );
                let split = frontmatter::split(&text);
                let paths = split
                    .frontmatter
                    .as_ref()
                    .map(|fm| {
                        agentops_agents::fields::parse(fm, &mut Vec::new())
                            .get("paths")
                            .map(|f| match &f.value {
                                serde_json::Value::Array(items) => items
                                    .iter()
                                    .filter_map(|v| v.as_str().map(str::to_string))
                                    .collect(),
                                serde_json::Value::String(s) => s
                                    .split(',')
                                    .map(|p| p.trim().to_string())
                                    .filter(|p| !p.is_empty())
                                    .collect(),
                                _ => Vec::new(),
                            })
                            .unwrap_or_default()
                    })
                    .unwrap_or_default();
                let body = split.body.clone();
                if paths.is_empty() {
                    rules.always.push(MemoryFile { shown, text: body });
                    continue;
                }
                let mut builder = GlobSetBuilder::new();
                for p in &paths {
                    if let Ok(g) = Glob::new(p.trim_start_matches("./")) {
                        builder.add(g);
                    }
                }
                let Ok(matcher) = builder.build() else {
                    continue;
                };
                rules.scoped.push(ScopedRule {
                    shown,
                    text: body,
                    paths,
                    base: base.clone(),
                    matcher,
                });
            }
        }
        rules
    }

    /// The scoped rules whose `paths:` match the file at `path` (absolute, real).
    pub fn matching<'a>(&'a self, path: &'a Path) -> impl Iterator<Item = &'a ScopedRule> + 'a {
        self.scoped.iter().filter(move |r| {
            path.strip_prefix(&r.base)
                .is_ok_and(|rel| r.matcher.is_match(rel))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        (
            tmp,
            root.canonicalize().unwrap(),
            home.canonicalize().unwrap(),
        )
    }

    fn shown(m: &Memory) -> Vec<&str> {
        m.files.iter().map(|f| f.shown.as_str()).collect()
    }

    #[test]
    fn order_from_user_to_working_folder_with_local_and_agents_md() {
        let (_t, root, home) = setup();
        write(&home, ".claude/CLAUDE.md", "user memory");
        write(&root, "CLAUDE.md", "root memory");
        write(&root, ".claude/CLAUDE.md", "root dot-claude memory");
        write(&root, "CLAUDE.local.md", "root local");
        write(&root, "AGENTS.md", "ignored: a CLAUDE.md exists here");
        write(&root, "apps/AGENTS.override.md", "apps override");
        write(&root, "apps/AGENTS.md", "ignored: the override wins");
        write(&root, "apps/web/AGENTS.md", "web agents");
        write(&root, "other/CLAUDE.md", "not on the way to cwd");
        let m = Memory::load(&root, &root.join("apps/web"), Some(&home));
        assert_eq!(
            shown(&m),
            [
                "~/.claude/CLAUDE.md",
                "CLAUDE.md",
                ".claude/CLAUDE.md",
                "CLAUDE.local.md",
                "apps/AGENTS.override.md",
                "apps/web/AGENTS.md"
            ]
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn imports_are_followed_confined_and_bounded() {
        let (t, root, home) = setup();
        write(
            &root,
            "CLAUDE.md",
            "See @docs/conventions.md and `@not/an/import.md`.\nMail ops@example.com.\n@../outside.md\n@~/.aws/credentials\n@docs/missing.md\n",
        );
        write(&root, "docs/conventions.md", "conventions, see @one.md");
        write(&root, "docs/one.md", "@two.md");
        write(&root, "docs/two.md", "@three.md");
        write(&root, "docs/three.md", "@four.md");
        write(&root, "docs/four.md", "too deep");
        write(t.path(), "outside.md", "secret outside");
        write(&home, ".aws/credentials", "aws_secret_access_key = x");
        write(&home, ".claude/CLAUDE.md", "mine: @~/notes/style.md");
        write(&home, "notes/style.md", "user style");
        let m = Memory::load(&root, &root, Some(&home));
        assert_eq!(
            shown(&m),
            [
                "~/.claude/CLAUDE.md",
                "~/notes/style.md",
                "CLAUDE.md",
                "docs/conventions.md",
                "docs/one.md",
                "docs/two.md",
                "docs/three.md"
            ]
        );
        let all = m.prompt(&|t| t.to_string());
        assert!(
            !all.contains("secret outside") && !all.contains("aws_secret"),
            "{all}"
        );
        assert!(!all.contains("too deep"));
        let w = m.warnings.join("\n");
        assert!(w.contains("@../outside.md is outside"), "{w}");
        assert!(w.contains("@~/.aws/credentials is outside"), "{w}");
        assert!(w.contains("@docs/missing.md does not exist"), "{w}");
        assert!(w.contains("more than 4 imports deep"), "{w}");
        assert!(!w.contains("example.com"), "{w}");
    }

    #[test]
    fn a_symlinked_memory_file_leading_out_is_not_read() {
        let (t, root, _home) = setup();
        write(t.path(), "elsewhere.md", "outside text");
        std::os::unix::fs::symlink(t.path().join("elsewhere.md"), root.join("CLAUDE.md")).unwrap();
        let m = Memory::load(&root, &root, None);
        assert!(m.files.is_empty());
        assert!(m.warnings[0].contains("leads outside"), "{:?}", m.warnings);
    }

    #[test]
    fn rules_never_come_from_outside_through_symlinks() {
        let (t, root, home) = setup();
        write(t.path(), "outside/leak.md", "MARK_OUT");
        write(
            t.path(),
            "outside/scoped.md",
            "---\npaths: [\"**\"]\n---\nMARK_SCOPED\n",
        );
        // A symlinked rules folder (Git keeps symlinks), a symlinked rule file, a binary rule.
        std::fs::create_dir_all(root.join(".claude")).unwrap();
        std::os::unix::fs::symlink(t.path().join("outside"), root.join(".claude/rules")).unwrap();
        write(&root, "sub/.claude/rules/ok.md", "MARK_OK");
        std::os::unix::fs::symlink(
            t.path().join("outside/leak.md"),
            root.join("sub/.claude/rules/link.md"),
        )
        .unwrap();
        std::fs::write(root.join("sub/.claude/rules/utf16.md"), b"M\0A\0R\0K\0").unwrap();
        let rules = Rules::load(&root, &root.join("sub"), Some(&home));
        let all: Vec<&str> = rules.always.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(all, ["MARK_OK"]);
        assert!(rules.scoped.is_empty());
        let w = rules.warnings.join("\n");
        assert!(w.contains("rules folder .claude/rules is a symlink"), "{w}");
        assert!(w.contains("utf16.md: it is a binary file"), "{w}");
        let m = Memory::load(&root, &root.join("sub"), Some(&home));
        assert!(!m.prompt(&|t| t.to_string()).contains("MARK_OUT"));
    }

    #[test]
    fn each_file_is_redacted_on_its_own_before_comments_go() {
        let (_t, root, _home) = setup();
        write(&root, "CLAUDE.md", "a <!-- hidden --> b\n@k/s.json\n");
        write(&root, "k/s.json", "{\"kind\": \"Secret\"}");
        let m = Memory::load(&root, &root, None);
        let seen = std::sync::Mutex::new(Vec::new());
        let prompt = m.prompt(&|t| {
            seen.lock().unwrap().push(t.to_string());
            t.replace("Secret", "[redacted]")
        });
        // The redactor saw each file whole, comments still in (they can hide a kind line).
        assert_eq!(
            *seen.lock().unwrap(),
            ["a <!-- hidden --> b\n@k/s.json\n", "{\"kind\": \"Secret\"}"]
        );
        assert!(
            prompt.contains("a  b") && prompt.contains("[redacted]"),
            "{prompt}"
        );
    }

    #[test]
    fn git_and_agentops_folders_are_never_imported() {
        let (_t, root, _home) = setup();
        write(
            &root,
            "CLAUDE.md",
            "@.git/config\n@.agentops/sessions/x.jsonl\n",
        );
        write(&root, ".git/config", "url = https://user:token@example.com");
        write(&root, ".agentops/sessions/x.jsonl", "{}");
        let m = Memory::load(&root, &root, None);
        assert_eq!(shown(&m), ["CLAUDE.md"]);
        assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("never reads"), "{:?}", m.warnings);
    }

    #[test]
    fn comments_are_stripped_outside_fences() {
        let text = "keep <!-- drop\nstill drop --> after\n```\n<!-- in a fence -->\n```\n";
        assert_eq!(
            strip_comments(text),
            "keep  after\n```\n<!-- in a fence -->\n```\n"
        );
    }

    #[test]
    fn too_much_memory_drops_the_least_specific_first() {
        let (_t, root, home) = setup();
        write(&home, ".claude/CLAUDE.md", &"u".repeat(20_000));
        write(&root, "CLAUDE.md", &"r".repeat(20_000));
        write(&root, "apps/CLAUDE.md", "apps");
        let m = Memory::load(&root, &root.join("apps"), Some(&home));
        // The user's own file stays: a big repository cannot push it out.
        assert_eq!(shown(&m), ["~/.claude/CLAUDE.md", "apps/CLAUDE.md"]);
        assert!(
            m.warnings[0].contains("left out the least specific file(s) CLAUDE.md"),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn rules_with_and_without_paths() {
        let (_t, root, home) = setup();
        write(&root, ".claude/rules/general.md", "Always run validate.");
        write(
            &root,
            ".claude/rules/prod/overlays.md",
            "---\npaths:\n  - \"apps/*/overlays/prod/**\"\n---\nProd overlays need two reviewers.\n",
        );
        write(
            &home,
            ".claude/rules/mine.md",
            "---\npaths: \"**/*.tf\"\n---\nterraform fmt first\n",
        );
        write(
            &root,
            "team/.claude/rules/team.md",
            "---\npaths: [\"apps/**\"]\n---\nteam rule\n",
        );
        let rules = Rules::load(&root, &root.join("team"), Some(&home));
        assert_eq!(rules.always.len(), 1);
        assert_eq!(rules.always[0].shown, ".claude/rules/general.md");
        let names = |p: &str| -> Vec<String> {
            rules
                .matching(&root.join(p))
                .map(|r| r.shown.clone())
                .collect()
        };
        assert_eq!(
            names("apps/web/overlays/prod/replicas.yaml"),
            [".claude/rules/prod/overlays.md"]
        );
        assert!(names("apps/web/overlays/dev/x.yaml").is_empty());
        assert_eq!(names("infra/main.tf"), ["~/.claude/rules/mine.md"]);
        // A folder's rules match paths relative to that folder.
        assert_eq!(names("team/apps/x.yaml"), ["team/.claude/rules/team.md"]);
        // Rules without paths are memory.
        let m = Memory::load(&root, &root, Some(&home));
        assert!(
            m.prompt(&|t| t.to_string())
                .contains("Always run validate.")
        );
        assert!(!m.prompt(&|t| t.to_string()).contains("team rule"));
        assert!(!m.prompt(&|t| t.to_string()).contains("two reviewers"));
    }
}
