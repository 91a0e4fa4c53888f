//! Command definitions shipped inside the binary (lowest precedence).

use crate::definition::CommandDefinition;
use agentops_agents::{Origin, Source};

/// `(file name, text)` of each builtin command.
pub const BUILTIN_COMMANDS: &[(&str, &str)] = &[
    ("explain.md", include_str!("../builtin/explain.md")),
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
    (
        "validate-infra.md",
        include_str!("../builtin/validate-infra.md"),
    ),
    (
        "deploy-infra.md",
        include_str!("../builtin/deploy-infra.md"),
    ),
];

/// Parses the builtin commands (a builtin that fails to parse is caught by the tests).
pub fn commands() -> Vec<CommandDefinition> {
    BUILTIN_COMMANDS
        .iter()
        .filter_map(|(file, text)| {
            let name = file.trim_end_matches(".md");
            CommandDefinition::parse(
                text,
                name,
                &Origin::new(Source::Builtin, format!("builtin/commands/{file}")),
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
        for (file, text) in BUILTIN_COMMANDS {
            let cmd =
                CommandDefinition::parse(text, "x", &Origin::new(Source::Builtin, *file)).unwrap();
            assert!(cmd.warnings.is_empty(), "{file}: {:?}", cmd.warnings);
        }
        assert_eq!(commands().len(), BUILTIN_COMMANDS.len());
    }
}
