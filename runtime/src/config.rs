//! `agentops.toml`: the repository's agentops settings, with environment overrides.
//!
//! Looked up at the repository root. Every section is optional; unknown keys are errors, so a
//! typo does not silently fall back to a default.
//!
//! ```toml
//! [model]
//! provider = "local"         # a [providers.NAME] below
//! name = "qwen2.5-coder"     # default model id (or an alias)
//!
//! [providers.local]
//! kind = "openai"            # openai (any Chat Completions server) | anthropic
//! base_url = "http://127.0.0.1:8089/v1"
//! api_key_env = "OPENAI_API_KEY"
//! tool_mode = "native"       # native | schema (small local models)
//!
//! [models.aliases]
//! sonnet = "claude-sonnet-4-5"
//!
//! [prices."claude-sonnet-4-5"]
//! input = 3.0                # USD per million tokens
//! output = 15.0
//!
//! [limits]
//! max_turns = 30
//! max_budget_usd = 5.0
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CONFIG_FILE: &str = "agentops.toml";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub commands: CommandsConfig,
    pub model: ModelConfig,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub models: ModelsConfig,
    /// USD per million tokens, by model id.
    pub prices: BTreeMap<String, Price>,
    pub limits: Limits,
    /// Permission rules in Claude Code's syntax, merged with `.claude/settings.json`.
    pub permissions: crate::permissions::RuleLists,
    /// Compliance rules for the validation gates.
    pub policy: crate::policy::PolicyConfig,
    /// Where the cluster tools find their kubeconfig.
    pub kubernetes: KubernetesConfig,
    /// The Argo CD API for the argocd tools.
    pub argocd: ArgoCdConfig,
    /// The shell's sandbox.
    pub shell: ShellConfig,
    /// Which clusters, contexts, API servers, namespaces and folders are which environment,
    /// and which are production (`[environments.NAME]`).
    pub environments: BTreeMap<String, crate::environments::EnvironmentSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ShellConfig {
    /// Network inside the shell's sandbox (off by default).
    pub network: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesConfig {
    /// A kubeconfig file (default: `$KUBECONFIG`, else `~/.kube/config`). Every cluster tool
    /// call still names its context.
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ArgoCdConfig {
    /// `https://argocd.example.com`; `ARGOCD_SERVER` overrides it.
    pub server: Option<String>,
    /// The environment variable holding the API token.
    pub token_env: String,
}

impl Default for ArgoCdConfig {
    fn default() -> Self {
        Self {
            server: None,
            token_env: "ARGOCD_AUTH_TOKEN".into(),
        }
    }
}

impl ArgoCdConfig {
    /// The endpoint, when a server and its token are both known (`env` reads variables).
    pub fn endpoint(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<agentops_tools::argocd::ArgoCdEndpoint> {
        let server = env("ARGOCD_SERVER").or_else(|| self.server.clone())?;
        let server = if server.contains("://") {
            server
        } else {
            format!("https://{server}")
        };
        let token = env(&self.token_env)?;
        Some(agentops_tools::argocd::ArgoCdEndpoint { server, token })
    }
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

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The provider to use (a key of `[providers]`).
    pub provider: Option<String>,
    /// The default model id or alias.
    pub name: Option<String>,
    /// Output tokens per model turn (`max_tokens`).
    pub max_tokens: Option<u32>,
    /// Sampling temperature (the server's default when absent); 0 makes runs repeatable.
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible Chat Completions server.
    #[default]
    Openai,
    Anthropic,
}

/// How tools are offered to the model.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolMode {
    /// The API's own `tools` (with a fallback that recognises a call written as JSON text).
    #[default]
    Native,
    /// Each step is constrained by `response_format` to a JSON schema: one branch per tool plus
    /// a final answer. Makes small local models call tools reliably.
    Schema,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub base_url: Option<String>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// The default model of this provider (overrides `[model] name`).
    pub model: Option<String>,
    pub tool_mode: ToolMode,
    /// Seconds without any data from the server before a request counts as timed out.
    pub timeout_secs: u64,
    /// Attempts per model request (first try included) before escalating.
    pub attempts: u32,
    /// First retry delay in milliseconds; doubles each attempt (with jitter).
    pub retry_base_ms: u64,
    /// Longest retry delay in milliseconds (also caps `Retry-After`).
    pub retry_max_ms: u64,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            kind: ProviderKind::Openai,
            base_url: None,
            api_key_env: None,
            model: None,
            tool_mode: ToolMode::Native,
            timeout_secs: 120,
            attempts: 3,
            retry_base_ms: 1000,
            retry_max_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// `sonnet|opus|haiku` (or any name) → a real model id.
    pub aliases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million input tokens.
    pub input: f64,
    /// USD per million output tokens.
    pub output: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Model turns per agent run (an agent's own `maxTurns` can only lower it).
    pub max_turns: u32,
    /// Spend per run, all agents together; `None`: no cap.
    pub max_budget_usd: Option<f64>,
    /// Tokens (input + output) per run, all agents together (default 5,000,000); `None`: no cap.
    pub max_session_tokens: Option<u64>,
    /// How deep agents may delegate to subagents.
    pub max_depth: u32,
    /// Bytes of one tool result kept for the model (head and tail).
    pub max_tool_output_bytes: usize,
    /// Summarise older turns when the conversation is estimated above this many tokens
    /// (4 bytes a token); 0 or `None`: never on its own (`/compact` and `--compact` still do).
    pub compact_at_tokens: Option<u64>,
    /// Model requests per run (every attempt counts), all agents together.
    pub max_requests: u32,
    /// Subagent runs per run, all agents together.
    pub max_subagents: u32,
    /// Subagents one model turn may start.
    pub max_subagents_per_turn: u32,
    /// Rounds of calls that repeat earlier failed ones before the run stops as `stuck`.
    pub max_repeats: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_turns: 30,
            max_budget_usd: None,
            // A cap a normal run never meets (30 turns of a 100k-token context is 3M only
            // for a runaway): what bounds a loop that stays under max_requests.
            max_session_tokens: Some(5_000_000),
            max_depth: 2,
            max_tool_output_bytes: 32 * 1024,
            compact_at_tokens: Some(100_000),
            max_requests: 500,
            max_subagents: 50,
            max_subagents_per_turn: 4,
            max_repeats: 3,
        }
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
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if config.commands.positional_base > 1 {
            return Err(invalid(format!(
                "[commands] positional_base must be 0 or 1, not {}",
                config.commands.positional_base
            )));
        }
        for (name, p) in &config.providers {
            if p.attempts == 0 {
                return Err(invalid(format!(
                    "[providers.{name}] attempts must be at least 1"
                )));
            }
            if p.kind == ProviderKind::Anthropic && p.tool_mode == ToolMode::Schema {
                return Err(invalid(format!(
                    "[providers.{name}] tool_mode = \"schema\" needs an OpenAI-compatible server (response_format); Anthropic's API uses native tools"
                )));
            }
        }
        if let Some(p) = &config.model.provider
            && !config.providers.contains_key(p)
        {
            return Err(invalid(format!(
                "[model] provider = \"{p}\" but there is no [providers.{p}] section"
            )));
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
        assert_eq!(c.limits.max_turns, 30);
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

    #[test]
    fn providers_prices_and_limits() {
        let c = Config::parse(
            "[model]\nprovider = \"local\"\nname = \"qwen\"\n[providers.local]\nbase_url = \"http://127.0.0.1:1/v1\"\ntool_mode = \"schema\"\n[models.aliases]\nsonnet = \"claude-x\"\n[prices.claude-x]\ninput = 3.0\noutput = 15.0\n[limits]\nmax_budget_usd = 0.5\n",
            Path::new("a.toml"),
        )
        .unwrap();
        assert_eq!(c.providers["local"].tool_mode, ToolMode::Schema);
        assert_eq!(c.providers["local"].attempts, 3);
        assert_eq!(c.models.aliases["sonnet"], "claude-x");
        assert_eq!(c.prices["claude-x"].output, 15.0);
        assert_eq!(c.limits.max_budget_usd, Some(0.5));
    }

    #[test]
    fn unknown_provider_and_schema_on_anthropic_are_errors() {
        assert!(Config::parse("[model]\nprovider = \"nope\"\n", Path::new("a.toml")).is_err());
        let err = Config::parse(
            "[providers.a]\nkind = \"anthropic\"\ntool_mode = \"schema\"\n",
            Path::new("a.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("response_format"), "{err}");
    }
}
