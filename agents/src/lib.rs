//! Agent definitions in Claude Code's markdown format (`.claude/agents/*.md`): splitting the
//! frontmatter, reading it leniently, typing every field, discovering files with precedence
//! project, then user, then builtin. The frontmatter, tool-list and discovery pieces are shared
//! with the `commands` crate.

pub mod builtin;
pub mod coerce;
pub mod definition;
pub mod diagnostic;
pub mod discover;
pub mod fields;
pub mod file;
pub mod frontmatter;
pub mod hooks;
pub mod tools;

pub use definition::{AgentDefinition, Origin, Rejected, Source};
pub use diagnostic::{Diagnostic, FileDiagnostic, Severity};
pub use discover::{Catalog, Definition, SearchPath};

use std::path::Path;

impl Definition for AgentDefinition {
    fn name(&self) -> &str {
        &self.name
    }
    fn source(&self) -> Source {
        self.source
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

/// Loads every agent visible from `cwd`: project folders up to the repo root, then
/// `<home>/.claude/agents`, then the builtins.
pub fn discover(cwd: &Path, home: Option<&Path>) -> Catalog<AgentDefinition> {
    let search = SearchPath::new(cwd, home, "agents");
    let mut catalog = Catalog::default();
    for (source, dir) in discover::dedupe_folders(search.folders()) {
        let (files, problems) = discover::scan_markdown(&dir);
        catalog.diagnostics.extend(problems);
        for file in files {
            match AgentDefinition::load(&file.path, source) {
                Ok(agent) => catalog.add(agent),
                Err(rejected) => catalog
                    .diagnostics
                    .extend(
                        rejected
                            .diagnostics
                            .into_iter()
                            .map(|diagnostic| FileDiagnostic {
                                path: rejected.path.clone(),
                                diagnostic,
                            }),
                    ),
            }
        }
    }
    for agent in builtin::agents() {
        catalog.add(agent);
    }
    catalog.sort();
    catalog
}
