//! Control files (DESIGN.md §3): the files that configure agentops, Claude Code, the cluster
//! connection or CI — `.claude/**`, `.mcp.json`, memory files (`CLAUDE.md`, `AGENTS.md`),
//! `agentops.toml`, `.agentops/**`, `.git/**`, CI pipeline definitions, and the kubeconfig and
//! approval-policy files that configuration or flags name.
//!
//! A change to one is high risk with its own reason, `control`, however it is reached (Write,
//! Edit, the sandboxed shell, `create`, `harmonize`, through a symlink): only a person or an
//! approval rule that names `reason=control` (or the change's exact id) lets it through — a
//! broad rule never does. Settings, rules and hooks are read when a run starts, so a change
//! approved in a run takes effect in the next one, never within it.

use crate::approval::ApprovalUnit;
use crate::risk::{Reason, ReasonCode};
use agentops_tools::path::resolve;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// Where control files are, relative to the repository root (matched on the real path).
const PATTERNS: &[&str] = &[
    ".claude/**",
    "**/.claude/**",
    ".claude-plugin/**",
    "**/.claude-plugin/**",
    ".mcp.json",
    "**/.mcp.json",
    "CLAUDE.md",
    "**/CLAUDE.md",
    "CLAUDE.local.md",
    "**/CLAUDE.local.md",
    "AGENTS.md",
    "**/AGENTS.md",
    "AGENTS.override.md",
    "**/AGENTS.override.md",
    "agentops.toml",
    ".agentops/**",
    ".git/**",
    "**/.git/**",
    ".gitmodules",
    ".envrc",
    ".github/workflows/**",
    ".github/actions/**",
    ".gitlab-ci.yml",
    ".gitlab/**",
    ".circleci/**",
    ".buildkite/**",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".drone.yml",
    ".tekton/**",
];

/// The control files of one repository.
#[derive(Debug, Clone)]
pub struct ControlFiles {
    root: PathBuf,
    patterns: GlobSet,
    /// Files configuration or flags name (absolute, as resolved when added).
    named: Vec<PathBuf>,
}

impl ControlFiles {
    /// The fixed patterns under `root` (canonical).
    pub fn new(root: &Path) -> Self {
        let mut builder = GlobSetBuilder::new();
        for p in PATTERNS {
            if let Ok(glob) = Glob::new(p) {
                builder.add(glob);
            }
        }
        Self {
            root: root.to_path_buf(),
            patterns: builder.build().unwrap_or_else(|_| GlobSet::empty()),
            named: Vec::new(),
        }
    }

    /// A file configuration or a flag names (a kubeconfig, an approval policy, a hook script).
    pub fn add(&mut self, path: &Path) {
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        };
        self.named.push(resolve(&path));
    }

    /// Whether the file at `path` (absolute) is a control file. The path is resolved first:
    /// a symlink into `.claude/` is `.claude/`.
    pub fn is_control(&self, path: &Path) -> bool {
        let real = resolve(path);
        if self.named.contains(&real) {
            return true;
        }
        match real.strip_prefix(&self.root) {
            Ok(rel) => self.patterns.is_match(rel),
            // Outside the repository: only named files count (confinement is not our job).
            Err(_) => false,
        }
    }

    /// One approval unit per control file among `paths`, with reason `control`.
    pub fn units(&self, paths: &[&Path]) -> Vec<ApprovalUnit> {
        paths
            .iter()
            .filter(|p| self.is_control(p))
            .map(|p| {
                let rel = resolve(p)
                    .strip_prefix(&self.root)
                    .map_or_else(|_| p.display().to_string(), |r| r.display().to_string());
                ApprovalUnit {
                    path: rel.clone(),
                    environment: None,
                    reasons: vec![Reason {
                        code: ReasonCode::Control,
                        kinds: Vec::new(),
                        message: format!(
                            "{rel} configures agentops, Claude Code, the cluster connection or CI (a control file); it takes effect from the next run"
                        ),
                    }],
                }
            })
            .collect()
    }
}

/// The files among `words` (a command and its arguments, relative to `base`) that exist
/// inside `base`'s repository or anywhere named absolutely: scripts a hook or an `exec`
/// plugin runs. Words that are options or do not name an existing file are skipped.
pub fn files_named(words: &[String], base: &Path) -> Vec<PathBuf> {
    words
        .iter()
        .filter(|w| !w.is_empty() && !w.starts_with('-'))
        .map(|w| w.split_once('=').map_or(w.as_str(), |(_, v)| v))
        .map(|w| {
            let p = Path::new(w);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        })
        .filter(|p| p.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn control_files_are_recognised_by_their_real_path() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join(".claude")).unwrap();
        std::fs::create_dir_all(root.join("apps/web")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join(".claude"), root.join("apps/cfg")).unwrap();
        let mut control = ControlFiles::new(&root);
        control.add(Path::new("clusters/kubeconfig"));
        for yes in [
            ".claude/settings.json",
            ".claude/agents/x.md",
            "agentops.toml",
            ".agentops/learnings.md",
            ".github/workflows/ci.yml",
            "docs/CLAUDE.md",
            ".git/hooks/pre-commit",
            "clusters/kubeconfig",
            "apps/cfg/settings.local.json",
        ] {
            assert!(control.is_control(&root.join(yes)), "{yes}");
        }
        for no in ["apps/web/deployment.yaml", "README.md", "claude/notes.md"] {
            assert!(!control.is_control(&root.join(no)), "{no}");
        }
        let units = control.units(&[&root.join("apps/cfg/settings.json")]);
        assert_eq!(units[0].path, ".claude/settings.json");
        assert_eq!(units[0].reasons[0].code, ReasonCode::Control);
    }
}
