//! `agentops lint`: load agent and command files the way a run would and report every problem
//! with its file and line.
//!
//! A file's kind comes from the nearest `agents/` or `commands/` folder above it. Outside such
//! folders (plugin layouts, collections) the frontmatter decides: command-only keys
//! (`allowed-tools`, `argument-hint`, …) make a command; a `name` with agent keys and no
//! `$ARGUMENTS` makes an agent; markdown without frontmatter there is documentation and is
//! skipped.
//!
//! Also checked, by name: skills (`SKILL.md`), plugin manifests (`.claude-plugin/plugin.json`,
//! loaded as a run would, so a wrong type is an error), memory files (`CLAUDE.md`,
//! `CLAUDE.local.md`, `AGENTS.md`, `AGENTS.override.md`: imports that do not resolve or leave
//! the repository, binary files), rules (`.claude/rules/**/*.md`: their `paths:`) and settings
//! files (`.claude/settings*.json`: JSON, shape, keys, rules that name no tool).

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
    Skill,
    Plugin,
    Memory,
    Rule,
    Settings,
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
    pub skills: usize,
    /// Plugin manifests, memory and rule files, settings files.
    pub other: usize,
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
            let json = walkdir::WalkDir::new(path)
                .max_depth(8)
                .into_iter()
                .flatten()
                .any(|e| is_manifest(e.path()) || is_settings(e.path()));
            if found.is_empty() && problems.is_empty() && !json {
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
            // Plugin manifests and settings files are JSON: found by name.
            for entry in walkdir::WalkDir::new(path)
                .max_depth(8)
                .into_iter()
                .flatten()
                .filter(|e| e.file_type().is_file())
            {
                let p = entry.path();
                if is_manifest(p) || is_settings(p) {
                    files.push(lint_file(p));
                }
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
            Kind::Skill => s.skills += 1,
            Kind::Plugin | Kind::Memory | Kind::Rule | Kind::Settings => s.other += 1,
            Kind::Skipped => s.skipped += 1,
        }
        s.errors += f.errors.len();
        s.warnings += f.warnings.len();
    }
    s
}

const MEMORY_FILES: &[&str] = &[
    "CLAUDE.md",
    "CLAUDE.local.md",
    "AGENTS.md",
    "AGENTS.override.md",
];

fn is_manifest(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "plugin.json")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ".claude-plugin")
}

fn is_settings(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "settings.json" || n == "settings.local.json")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ".claude")
}

/// The folder whose `.claude/rules/` holds `path`.
fn rules_base(path: &Path) -> Option<&Path> {
    path.ancestors().find_map(|dir| {
        (dir.file_name()? == "rules" && dir.parent()?.file_name()? == ".claude")
            .then(|| dir.parent()?.parent())
            .flatten()
    })
}

fn linted(
    path: &Path,
    kind: Kind,
    name: Option<String>,
    errors: Vec<String>,
    warnings: Vec<String>,
) -> LintedFile {
    // The report names the file already.
    let prefix = format!("{}: ", path.display());
    let strip = |m: String| m.strip_prefix(&prefix).map(str::to_string).unwrap_or(m);
    let errors: Vec<String> = errors.into_iter().map(strip).collect();
    let warnings: Vec<String> = warnings.into_iter().map(strip).collect();
    LintedFile {
        path: path.to_path_buf(),
        kind,
        name,
        errors: errors
            .into_iter()
            .map(|m| Diagnostic::error(kind_code(kind), None, m))
            .collect(),
        warnings: warnings
            .into_iter()
            .map(|m| Diagnostic::warning(kind_code(kind), None, m))
            .collect(),
    }
}

fn kind_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Plugin => "plugin",
        Kind::Memory => "memory",
        Kind::Rule => "rule",
        Kind::Settings => "settings",
        _ => "definition",
    }
}

/// A file checked by its name rather than as an agent or command: `None` when it is not one.
fn lint_special(path: &Path) -> Option<LintedFile> {
    let name = path.file_name()?.to_str()?;
    if is_manifest(path) {
        let dir = path.parent()?.parent()?;
        return Some(match crate::plugins::load(dir) {
            Ok((plugin, warnings)) => {
                linted(path, Kind::Plugin, Some(plugin.name), Vec::new(), warnings)
            }
            Err(error) => linted(path, Kind::Plugin, None, vec![error], Vec::new()),
        });
    }
    if is_settings(path) {
        let mut settings = crate::settings::Settings::default();
        let read = settings.read_checked(path);
        return Some(match read {
            Ok(()) => {
                let mut warnings = settings.warnings.clone();
                let mut rules = crate::permissions::Permissions::default();
                for (lists, source) in settings.rule_lists_all() {
                    rules.add(&lists, &source);
                }
                warnings.extend(rules.warnings);
                warnings.extend(settings.env().1);
                linted(path, Kind::Settings, None, Vec::new(), warnings)
            }
            Err(e) => linted(path, Kind::Settings, None, vec![e.to_string()], Vec::new()),
        });
    }
    if MEMORY_FILES.contains(&name) {
        let dir = path.parent()?;
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let root = agentops_agents::discover::find_repo_root(&dir).unwrap_or_else(|| dir.clone());
        let memory = crate::memory::Memory::load(&root, &dir, None);
        let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let errors: Vec<String> = if memory.files.is_empty() && std::fs::metadata(&real).is_ok() {
            vec!["not read as memory: it is empty, binary or not UTF-8 text".into()]
        } else {
            Vec::new()
        };
        return Some(linted(path, Kind::Memory, None, errors, memory.warnings));
    }
    if name.ends_with(".md")
        && let Some(base) = rules_base(path)
    {
        let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
        let rules = crate::memory::Rules::load(&base, &base, None);
        let shown = path.file_name()?.to_string_lossy().into_owned();
        let warnings = rules
            .warnings
            .into_iter()
            .filter(|w| w.contains(&shown))
            .collect();
        return Some(linted(path, Kind::Rule, None, Vec::new(), warnings));
    }
    None
}

/// Lints one file.
pub fn lint_file(path: &Path) -> LintedFile {
    if let Some(special) = lint_special(path) {
        return special;
    }
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
    let skill = path.file_name().is_some_and(|n| n == "SKILL.md");
    let folder_kind = if skill {
        Some(Kind::Skill)
    } else {
        kind_from_folders(path)
    };
    let kind = folder_kind.unwrap_or_else(|| kind_from_content(&text.text));
    let origin = Origin::new(Source::Project, path);
    let mut diagnostics = text.warnings;
    let name = match kind {
        Kind::Skipped | Kind::Plugin | Kind::Memory | Kind::Rule | Kind::Settings => None,
        Kind::Skill => {
            let name = path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            parse_command(&text.text, &name, &origin, &mut diagnostics)
        }
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
            parse_command(&text.text, &name, &origin, &mut diagnostics)
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

/// Parses a command or skill body, collecting its diagnostics; the name when it loads.
fn parse_command(
    text: &str,
    name: &str,
    origin: &Origin,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    match CommandDefinition::parse(text, name, origin) {
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
