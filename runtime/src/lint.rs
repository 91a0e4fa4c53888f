//! `agentops lint`: load agent and command files the way a run would and report every problem
//! with its file and line.
//!
//! A file's kind comes from the nearest `agents/` or `commands/` folder above it. Outside such
//! folders (plugin layouts, collections) the frontmatter decides: command-only keys
//! (`allowed-tools`, `argument-hint`, …) make a command; a `name` with agent keys and no
//! `$ARGUMENTS` makes an agent; markdown without frontmatter there is documentation and is
//! skipped.

use agentops_agents::diagnostic::{Diagnostic, Severity};
use agentops_agents::discover::scan_markdown;
use agentops_agents::{AgentDefinition, Origin, Source, fields, frontmatter};
use agentops_commands::{CommandDefinition, name_from_path};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Agent,
    Command,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct LintedFile {
    pub path: PathBuf,
    pub kind: Kind,
    pub name: Option<String>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub agents: usize,
    pub commands: usize,
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub files: Vec<LintedFile>,
    pub summary: Summary,
}

impl LintReport {
    pub fn has_errors(&self) -> bool {
        self.summary.errors > 0
    }
}

/// How far up a file's folders to look for `agents/` or `commands/`.
const KIND_FOLDER_DEPTH: usize = 4;

/// Lints files and folders (recursively, `*.md` only). A path given explicitly is linted even
/// without the `.md` suffix.
pub fn lint_paths(paths: &[PathBuf]) -> LintReport {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let (found, problems) = scan_markdown(path);
            if found.is_empty() && problems.is_empty() {
                files.push(LintedFile {
                    path: path.clone(),
                    kind: Kind::Skipped,
                    name: None,
                    errors: Vec::new(),
                    warnings: vec![Diagnostic::warning(
                        "empty-folder",
                        None,
                        "folder contains no .md files",
                    )],
                });
            }
            for problem in problems {
                files.push(LintedFile {
                    path: problem.path,
                    kind: Kind::Skipped,
                    name: None,
                    errors: Vec::new(),
                    warnings: vec![problem.diagnostic],
                });
            }
            for file in found {
                files.push(lint_file(&file.path));
            }
        } else if path.exists() {
            files.push(lint_file(path));
        } else {
            files.push(LintedFile {
                path: path.clone(),
                kind: Kind::Skipped,
                name: None,
                errors: vec![Diagnostic::error(
                    "not-found",
                    None,
                    "no such file or folder",
                )],
                warnings: Vec::new(),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let summary = summarize(&files);
    LintReport { files, summary }
}

fn summarize(files: &[LintedFile]) -> Summary {
    let mut s = Summary {
        files: files.len(),
        ..Summary::default()
    };
    for f in files {
        match f.kind {
            Kind::Agent => s.agents += 1,
            Kind::Command => s.commands += 1,
            Kind::Skipped => s.skipped += 1,
        }
        s.errors += f.errors.len();
        s.warnings += f.warnings.len();
    }
    s
}

/// Lints one file.
pub fn lint_file(path: &Path) -> LintedFile {
    let text = match agentops_agents::file::read_definition(path) {
        Ok(text) => text,
        Err(err) => {
            return LintedFile {
                path: path.to_path_buf(),
                kind: Kind::Skipped,
                name: None,
                errors: vec![err.to_diagnostic()],
                warnings: Vec::new(),
            };
        }
    };
    let folder_kind = kind_from_folders(path);
    let kind = folder_kind.unwrap_or_else(|| kind_from_content(&text.text));
    let origin = Origin::new(Source::Project, path);
    let mut diagnostics = text.warnings;
    let name = match kind {
        Kind::Skipped => None,
        Kind::Agent => match AgentDefinition::parse(&text.text, &origin) {
            Ok(agent) => {
                diagnostics.extend(agent.warnings);
                Some(agent.name)
            }
            Err(rejected) => {
                diagnostics.extend(rejected.diagnostics);
                None
            }
        },
        Kind::Command => {
            let name = command_name(path);
            match CommandDefinition::parse(&text.text, &name, &origin) {
                Ok(cmd) => {
                    diagnostics.extend(cmd.warnings);
                    Some(cmd.name)
                }
                Err(rejected) => {
                    diagnostics.extend(rejected.diagnostics);
                    None
                }
            }
        }
    };
    let (errors, warnings) = diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    LintedFile {
        path: path.to_path_buf(),
        kind,
        name,
        errors,
        warnings,
    }
}

fn kind_from_folders(path: &Path) -> Option<Kind> {
    path.ancestors()
        .skip(1)
        .take(KIND_FOLDER_DEPTH)
        .find_map(|dir| match dir.file_name()?.to_str()? {
            "agents" => Some(Kind::Agent),
            "commands" => Some(Kind::Command),
            _ => None,
        })
}

const COMMAND_ONLY_KEYS: &[&str] = &[
    "allowed-tools",
    "argument-hint",
    "disable-model-invocation",
    "command",
    "arguments",
];
const AGENT_ONLY_KEYS: &[&str] = &[
    "tools",
    "disallowedTools",
    "color",
    "permissionMode",
    "maxTurns",
];

fn kind_from_content(text: &str) -> Kind {
    let split = frontmatter::split(text);
    let Some(fm) = &split.frontmatter else {
        return Kind::Skipped;
    };
    let parsed = fields::parse(fm, &mut Vec::new());
    let has = |keys: &[&str]| keys.iter().any(|k| parsed.get(k).is_some());
    if has(COMMAND_ONLY_KEYS) {
        return Kind::Command;
    }
    let named = has(&["name", "agent"]);
    let uses_arguments = split.body.contains("$ARGUMENTS");
    if has(AGENT_ONLY_KEYS) || (named && !uses_arguments) {
        Kind::Agent
    } else {
        Kind::Command
    }
}

/// The namespaced name relative to the nearest `commands/` folder, else the file stem.
fn command_name(path: &Path) -> String {
    let base = path
        .ancestors()
        .skip(1)
        .take(KIND_FOLDER_DEPTH)
        .find(|dir| dir.file_name().is_some_and(|n| n == "commands"));
    match base.and_then(|b| path.strip_prefix(b).ok()) {
        Some(relative) => name_from_path(relative),
        None => name_from_path(Path::new(path.file_name().unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_content_heuristics() {
        assert_eq!(kind_from_content("# Readme\n"), Kind::Skipped);
        assert_eq!(
            kind_from_content("---\nname: a\ndescription: b\ntools: Read\n---\nx"),
            Kind::Agent
        );
        assert_eq!(
            kind_from_content("---\nname: a\ndescription: b\n---\nDo $ARGUMENTS"),
            Kind::Command
        );
        assert_eq!(
            kind_from_content("---\nmodel: sonnet\n---\nDo it"),
            Kind::Command
        );
        assert_eq!(
            kind_from_content("---\nallowed-tools: Read\nname: x\n---\nDo it"),
            Kind::Command
        );
    }

    #[test]
    fn kind_from_nearest_folder() {
        assert_eq!(
            kind_from_folders(Path::new("/r/.claude/agents/infra/x.md")),
            Some(Kind::Agent)
        );
        assert_eq!(
            kind_from_folders(Path::new("/r/agents/commands/x.md")),
            Some(Kind::Command)
        );
        assert_eq!(kind_from_folders(Path::new("/r/docs/x.md")), None);
    }

    #[test]
    fn namespaced_command_names() {
        assert_eq!(
            command_name(Path::new("/r/.claude/commands/github/release.md")),
            "github:release"
        );
        assert_eq!(command_name(Path::new("/r/tools/k8s.md")), "k8s");
    }
}
