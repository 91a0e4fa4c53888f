//! Slash commands in Claude Code's format (`.claude/commands/**/*.md`): parsing, namespaces
//! from subfolders, argument expansion with shell pre-execution and `@file` inlining, and
//! routing of input lines.

pub mod args;
pub mod builtin;
pub mod definition;
pub mod expand;
pub mod inline;
pub mod route;
pub mod shell;
pub mod substitute;

pub use args::Arguments;
pub use definition::{CommandDefinition, Context};
pub use expand::{ExpandError, ExpandOptions, Expansion, expand, with_variables};
pub use route::{Route, route};
pub use shell::{NoShell, ShellExec, ShellOutput};

use agentops_agents::Source;
use agentops_agents::discover::{self, Catalog, Definition, SearchPath};
use std::path::Path;

impl Definition for CommandDefinition {
    fn name(&self) -> &str {
        &self.name
    }
    fn source(&self) -> Source {
        self.source
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn warnings_mut(&mut self) -> &mut Vec<agentops_agents::Diagnostic> {
        &mut self.warnings
    }
}

/// The command name for a file at `relative` under a commands folder: subfolders become a
/// namespace joined with `:` (`frontend/component.md` → `frontend:component`).
pub fn name_from_path(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    parts.push(
        relative
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    parts.join(":")
}

/// Loads every command visible from `cwd`: skills (`.claude/skills/<name>/SKILL.md`) first, so
/// a skill wins over a command of the same name, then command files — each from the project
/// folders up to the repo root, then `<home>/.claude/…` — then the builtins.
pub fn discover(cwd: &Path, home: Option<&Path>) -> Catalog<CommandDefinition> {
    let mut catalog = discover::load_catalog(
        &SearchPath::new(cwd, home, "skills"),
        |file, source| {
            // Only SKILL.md files are skills; other markdown in a skill folder is its
            // material, skipped without a word.
            if !is_skill_file(&file.path) {
                return Err(agentops_agents::Rejected {
                    path: file.path.clone(),
                    diagnostics: Vec::new(),
                });
            }
            let mut skill =
                CommandDefinition::load(&file.path, &skill_name(&file.relative), source)?;
            skill.skill_dir = file.path.parent().map(Path::to_path_buf);
            Ok(skill)
        },
        Vec::new(),
    );
    let commands = discover::load_catalog(
        &SearchPath::new(cwd, home, "commands"),
        |file, source| CommandDefinition::load(&file.path, &name_from_path(&file.relative), source),
        builtin::commands(),
    );
    for cmd in commands.items {
        catalog.add(cmd);
    }
    catalog.shadowed.extend(commands.shadowed);
    catalog.diagnostics.extend(commands.diagnostics);
    catalog.sort();
    catalog
}

fn is_skill_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "SKILL.md")
}

/// The slash name of a skill at `relative` (`deploy/SKILL.md` under a skills folder): its
/// folder's name, not its `name:` key; nested folders give namespaced names
/// (`platform/review/SKILL.md` → `platform:review`).
pub fn skill_name(relative: &Path) -> String {
    relative
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default()
}

/// Why a command name did not resolve.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("no command /{name}{}", suggest(.similar))]
    NotFound { name: String, similar: Vec<String> },
    #[error(
        "/{name} is a skill only the model may use (`user-invocable: false`); ask for what it does in words instead"
    )]
    NotUserInvocable { name: String },
    #[error("/{name} is ambiguous: it could be {}; use the full name", .candidates.iter().map(|c| format!("/{c}")).collect::<Vec<_>>().join(" or "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
}

fn suggest(similar: &[String]) -> String {
    if similar.is_empty() {
        "; `agentops commands list` shows the available ones".to_string()
    } else {
        format!(
            "; did you mean {}?",
            similar
                .iter()
                .map(|s| format!("/{s}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Finds a command by its full name, or by its plain name when exactly one namespaced command
/// has it (`/component` for `/frontend:component`).
pub fn resolve<'a>(
    catalog: &'a Catalog<CommandDefinition>,
    name: &str,
) -> Result<&'a CommandDefinition, ResolveError> {
    let name = name.trim_start_matches('/');
    if let Some(cmd) = catalog.get(name) {
        return Ok(cmd);
    }
    let by_short: Vec<&CommandDefinition> = catalog
        .items
        .iter()
        .filter(|c| c.short_name() == name)
        .collect();
    match by_short.as_slice() {
        [one] => Ok(one),
        [] => Err(ResolveError::NotFound {
            name: name.to_string(),
            similar: catalog
                .items
                .iter()
                .filter(|c| {
                    c.name.contains(name) || (name.len() >= 3 && name.contains(c.short_name()))
                })
                .map(|c| c.name.clone())
                .take(5)
                .collect(),
        }),
        many => Err(ResolveError::Ambiguous {
            name: name.to_string(),
            candidates: many.iter().map(|c| c.name.clone()).collect(),
        }),
    }
}
