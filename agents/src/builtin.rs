//! Agent definitions shipped inside the binary (lowest precedence).

use crate::definition::{AgentDefinition, Origin, Source};

/// `(file name, text)` of each builtin agent.
pub const BUILTIN_AGENTS: &[(&str, &str)] = &[
    (
        "general-purpose.md",
        include_str!("../builtin/general-purpose.md"),
    ),
    (
        "infrastructure-create.md",
        include_str!("../builtin/infrastructure-create.md"),
    ),
    (
        "infrastructure-harmonize.md",
        include_str!("../builtin/infrastructure-harmonize.md"),
    ),
    (
        "infrastructure-drift.md",
        include_str!("../builtin/infrastructure-drift.md"),
    ),
];

/// Parses the builtin agents. A builtin that fails to parse is a bug caught by the crate's
/// tests, so it is skipped here rather than crashing a user's run.
pub fn agents() -> Vec<AgentDefinition> {
    BUILTIN_AGENTS
        .iter()
        .filter_map(|(file, text)| {
            AgentDefinition::parse(
                text,
                &Origin::new(Source::Builtin, format!("builtin/agents/{file}")),
            )
            .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_without_warnings() {
        for (file, text) in BUILTIN_AGENTS {
            let agent = AgentDefinition::parse(text, &Origin::new(Source::Builtin, *file)).unwrap();
            assert!(agent.warnings.is_empty(), "{file}: {:?}", agent.warnings);
        }
        assert_eq!(agents().len(), BUILTIN_AGENTS.len());
    }
}
