//! `agentops.toml`: the repository's agentops settings.
//!
//! Looked up at the repository root. Every section is optional; unknown keys are errors, so a
//! typo does not silently fall back to a default.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CONFIG_FILE: &str = "agentops.toml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub commands: CommandsConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CommandsConfig {
    /// 1: `$1` is the first argument (what most existing command files assume); 0: `$0` is the
    /// first argument (current Claude Code).
    pub positional_base: usize,
    /// Seconds a `` !`cmd` `` pre-execution may take before it is killed.
    pub shell_timeout_secs: u64,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        Self {
            positional_base: 1,
            shell_timeout_secs: 30,
        }
    }
}

impl CommandsConfig {
    pub fn shell_timeout(&self) -> Duration {
        Duration::from_secs(self.shell_timeout_secs)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads `<root>/agentops.toml`; a missing file gives the defaults.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        Self::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|err| {
            let line = err.span().map_or(1, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            });
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                message: err.message().to_string(),
            }
        })?;
        if config.commands.positional_base > 1 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "[commands] positional_base must be 0 or 1, not {}",
                    config.commands.positional_base
                ),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse("", Path::new("a.toml")).unwrap();
        assert_eq!(c.commands.positional_base, 1);
        let c = Config::parse("[commands]\npositional_base = 0\n", Path::new("a.toml")).unwrap();
        assert_eq!(c.commands.positional_base, 0);
    }

    #[test]
    fn typos_are_errors_with_a_line() {
        let err =
            Config::parse("\n[commands]\npositional_bse = 0\n", Path::new("a.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("a.toml:3: "), "{text}");
        assert!(text.contains("positional_bse"), "{text}");
    }

    #[test]
    fn base_must_be_zero_or_one() {
        assert!(Config::parse("[commands]\npositional_base = 2\n", Path::new("a.toml")).is_err());
    }
}
