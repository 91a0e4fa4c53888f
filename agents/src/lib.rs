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
    fn warnings_mut(&mut self) -> &mut Vec<Diagnostic> {
        &mut self.warnings
    }
}

/// Loads every agent visible from `cwd`: project folders up to the repo root, then
/// `<home>/.claude/agents`, then the builtins.
pub fn discover(cwd: &Path, home: Option<&Path>) -> Catalog<AgentDefinition> {
    discover::load_catalog(
        &SearchPath::new(cwd, home, "agents"),
        |file, source| AgentDefinition::load(&file.path, source),
        builtin::agents(),
    )
}
