//! Routing one input — `/command args`, `@agent-NAME text` or free text — to its agent and
//! prompt, with the command's allow rules and hooks, for `run` and the REPL alike. A resumed
//! session's header fills in what the input leaves open ([`plan_turn`]): this is the one
//! resume routine of the front ends.

use crate::session::SessionHeader;
use crate::workspace::{RenderError, Workspace};
use agentops_agents::AgentDefinition;
use agentops_agents::definition::PermissionMode;
use agentops_agents::tools::ToolSpec;
use agentops_commands::{Arguments, Route, route};
use std::collections::BTreeSet;

/// The main agent for free text.
pub const MAIN_AGENT: &str = "general-purpose";

/// What an input asks for, after routing and command expansion.
#[derive(Debug, Clone)]
pub struct Plan {
    pub agent: AgentDefinition,
    pub prompt: String,
    pub model: Option<String>,
    /// The command's `allowed-tools`: allow rules while it runs.
    pub allowed: Vec<ToolSpec>,
    /// The command's frontmatter `hooks`, active while it runs.
    pub hooks: Option<agentops_agents::hooks::Hooks>,
    /// The slash command the input ran, if any (kept in the session for resume).
    pub command: Option<String>,
    /// What expanding the command warned about (file and line).
    pub warnings: Vec<String>,
    /// Free text nobody chose an agent for (`--agent auto`, the default): the front end
    /// routes it ([`choose_agent`]) before the first turn.
    pub routable: bool,
}

impl Plan {
    /// `base` plus the command's `allowed-tools` as allow rules.
    pub fn permissions(
        &self,
        base: &crate::permissions::Permissions,
    ) -> crate::permissions::Permissions {
        let mut permissions = base.clone();
        permissions.allow_specs(&self.allowed, "the command's allowed-tools");
        permissions
    }

    /// `base` plus the command's frontmatter hooks; with what adding them warned about.
    pub fn hooks(&self, base: &crate::hooks::HookSet) -> (crate::hooks::HookSet, Vec<String>) {
        let mut hooks = base.clone();
        let warnings = match &self.hooks {
            Some(h) => hooks.add(h, "the command's frontmatter"),
            None => Vec::new(),
        };
        (hooks, warnings)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no agent named `{name}`; available: {available}")]
    UnknownAgent { name: String, available: String },
    /// The command does not exist or its arguments are wrong (a usage error).
    #[error(transparent)]
    Resolve(agentops_commands::ResolveError),
    /// Expanding the command failed (a `!`cmd`` failed, an `@file` is missing).
    #[error(transparent)]
    Expand(agentops_commands::ExpandError),
}

/// What the invocation itself says (flags, the REPL's current agent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Choice<'a> {
    /// `--agent`: wins over a command's agent and a resumed session's.
    pub agent: Option<&'a str>,
    /// The agent for free text when no flag names one (the REPL's current agent).
    pub default_agent: Option<&'a str>,
    /// `--model`.
    pub model: Option<&'a str>,
}

/// Routes `input`. With `resumed`, the session's agent, model, permission mode and command
/// (its allow rules and hooks) come back where the input and flags leave them open. A
/// restored permission mode never grants more than the agent's own definition does today:
/// only its own mode, or `plan` (read-only), come back from a log.
pub fn plan_turn(
    ws: &Workspace,
    input: &str,
    choice: Choice<'_>,
    resumed: Option<&SessionHeader>,
) -> Result<Plan, RouteError> {
    let resumed_agent = resumed.map(|h| h.agent.as_str()).filter(|a| !a.is_empty());
    let default_agent = choice.agent.or(choice.default_agent).or(resumed_agent);
    let mut plan = route_input(ws, input, choice.agent, default_agent, choice.model)?;
    let Some(header) = resumed else {
        return Ok(plan);
    };
    plan.model = plan.model.or_else(|| header.model.clone());
    if plan.command.is_none()
        && let Some(name) = &header.command
        && let Some(cmd) = ws.commands().items.iter().find(|c| &c.name == name)
    {
        plan.allowed = cmd.allowed_tools.clone().unwrap_or_default();
        plan.hooks = cmd.hooks.clone();
        plan.command = Some(cmd.name.clone());
    }
    if choice.agent.is_none()
        && plan.agent.name == header.agent
        && let Some(mode) = header.permission_mode
        && (mode == PermissionMode::Plan || Some(mode) == plan.agent.permission_mode)
    {
        plan.agent.permission_mode = Some(mode);
    }
    Ok(plan)
}

/// Routes one input to its agent and prompt. `agent_flag` wins over a command's agent;
/// `default_agent` is for free text.
pub fn route_input(
    ws: &Workspace,
    input: &str,
    agent_flag: Option<&str>,
    default_agent: Option<&str>,
    model_flag: Option<&str>,
) -> Result<Plan, RouteError> {
    let mut hooks = None;
    let mut command = None;
    let mut warnings = Vec::new();
    // `--agent auto` is the same as no agent flag.
    let agent_flag = agent_flag.filter(|a| *a != AUTO);
    let routable =
        agent_flag.is_none() && default_agent.is_none() && matches!(route(input), Route::Text(_));
    let (agent_name, prompt, model, allowed) = match route(input) {
        Route::Command { name, args: raw } => {
            let commands = ws.commands();
            let (cmd, expansion) = ws
                .render_command(&commands, &name, &Arguments::parse(&raw))
                .map_err(|e| match e {
                    RenderError::Resolve(e) => RouteError::Resolve(e),
                    RenderError::Expand(e) => RouteError::Expand(e),
                })?;
            warnings = expansion
                .warnings
                .iter()
                .map(|w| w.display_with(&cmd.path).to_string())
                .collect();
            let agent = agent_flag
                .or_else(|| cmd.routed_agent())
                .or(default_agent)
                .unwrap_or(MAIN_AGENT)
                .to_string();
            hooks = cmd.hooks.clone();
            command = Some(cmd.name.clone());
            (
                agent,
                expansion.prompt,
                cmd.model,
                cmd.allowed_tools.unwrap_or_default(),
            )
        }
        Route::Agent { name, text } => (name, text, None, Vec::new()),
        Route::Text(text) => (
            default_agent.unwrap_or(MAIN_AGENT).to_string(),
            text,
            None,
            Vec::new(),
        ),
    };
    Ok(Plan {
        agent: find_agent(ws, &agent_name)?,
        prompt,
        model: model_flag.map(str::to_string).or(model),
        allowed,
        hooks,
        command,
        warnings,
        routable,
    })
}

/// `--agent auto`: route free text to the agent whose description fits.
pub const AUTO: &str = "auto";

/// How free text found its agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub agent: String,
    /// `words`, `description`, `model` or `fallback`.
    pub by: &'static str,
    pub why: String,
}

/// Words that say nothing about which agent fits.
const GENERIC: &[&str] = &[
    "infrastructure",
    "agent",
    "general",
    "purpose",
    "the",
    "and",
    "for",
    "with",
    "from",
    "this",
    "that",
    "all",
    "every",
    "infra",
    "platform",
    "app",
    "apps",
];

fn words(text: &str) -> Vec<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 3 && !GENERIC.contains(w))
        .map(str::to_string)
        .collect()
}

/// The one agent whose name the request uses (`harmonize` → infrastructure-harmonize), if
/// exactly one does.
pub fn by_words(request: &str, agents: &[AgentDefinition]) -> Option<Routing> {
    let said = words(request);
    let hits: Vec<(&AgentDefinition, String)> = agents
        .iter()
        .filter(|a| a.name != MAIN_AGENT)
        .filter_map(|a| {
            let name_words = words(&a.name);
            let hit = said
                .iter()
                .find(|w| name_words.iter().any(|n| close(w, n)))?;
            Some((a, hit.clone()))
        })
        .collect();
    match hits.as_slice() {
        [(agent, word)] => Some(Routing {
            agent: agent.name.clone(),
            by: "words",
            why: format!("the request says `{word}`"),
        }),
        _ => None,
    }
}

/// Words of a description that say nothing about what the agent does.
const FILLER: &[&str] = &[
    "use", "uses", "not", "one", "each", "per", "its", "it's", "into", "are", "how", "what", "who",
    "when", "which", "where", "does", "did", "was", "has", "have", "any", "same", "only", "then",
    "than", "them", "their", "there", "also", "says", "say", "your", "you", "out",
];

/// A description's or request's content words (`replicas` and `replica` are close, below).
fn content_words(text: &str) -> BTreeSet<String> {
    words(text)
        .into_iter()
        .filter(|w| !FILLER.contains(&w.as_str()) && !w.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

/// The same word, give or take an ending (`replica`/`replicas`, `database`/`databases`).
fn close(a: &str, b: &str) -> bool {
    a == b || (a.len() >= 5 && b.len() >= 5 && (a.starts_with(b) || b.starts_with(a)))
}

/// How well each agent's description fits the request: the request's words its description
/// uses, each weighted by how few descriptions use it (1/n). The main agent is left out.
fn description_scores<'a>(
    request: &str,
    agents: &'a [AgentDefinition],
) -> Vec<(&'a AgentDefinition, f64, Vec<String>)> {
    let said = content_words(request);
    let described: Vec<(&AgentDefinition, BTreeSet<String>)> = agents
        .iter()
        .filter(|a| a.name != MAIN_AGENT)
        .map(|a| (a, content_words(&a.description)))
        .collect();
    described
        .iter()
        .map(|(a, words)| {
            let mut hits = Vec::new();
            let mut score = 0.0;
            for w in &said {
                if words.iter().any(|d| close(w, d)) {
                    let users = described
                        .iter()
                        .filter(|(_, other)| other.iter().any(|d| close(w, d)))
                        .count()
                        .max(1);
                    score += 1.0 / users as f64;
                    hits.push(w.clone());
                }
            }
            (*a, score, hits)
        })
        .collect()
}

/// The agent whose description fits the request clearly best (at least twice the next one's
/// score), if one does.
pub fn by_description(request: &str, agents: &[AgentDefinition]) -> Option<Routing> {
    let mut scores = description_scores(request, agents);
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, score, hits) = scores.first()?;
    let next = scores.get(1).map_or(0.0, |s| s.1);
    (*score > 0.0 && *score >= 2.0 * next).then(|| Routing {
        agent: best.name.clone(),
        by: "description",
        why: format!(
            "its description fits the request's words: {}",
            hits.join(", ")
        ),
    })
}

/// Whether a request says that nothing may change ("Do not change anything."): its run is
/// offered read-only tools only.
pub fn forbids_change(request: &str) -> bool {
    let lower = request.to_ascii_lowercase().replace('’', "'");
    [
        "do not change anything",
        "don't change anything",
        "do not modify anything",
        "don't modify anything",
        "do not edit anything",
        "don't edit anything",
        "without changing anything",
        "change nothing",
        "make no changes",
        "do not make any change",
        "don't make any change",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// Whether a request asks something rather than asking for something done.
pub fn is_question(request: &str) -> bool {
    let text = request.trim();
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    text.ends_with('?')
        || matches!(
            first.as_str(),
            "how"
                | "what"
                | "which"
                | "where"
                | "why"
                | "who"
                | "when"
                | "is"
                | "are"
                | "does"
                | "do"
                | "did"
                | "can"
                | "could"
                | "should"
                | "would"
                | "will"
                | "explain"
                | "describe"
                | "review"
                | "list"
                | "show"
        )
}

/// Picks the agent for free text: by its name in the words, else with one model call whose
/// reply must name one of the agents (an enum), else the main agent. A small model (schema
/// tool mode) is not asked — on the eval suite its picks sent changes to existing apps to the
/// scaffolding agent — instead a job (not a question) goes to the one agent whose
/// description clearly fits its words, and the rest to the main agent, which has every typed
/// tool and can delegate.
pub async fn choose_agent(
    provider: &crate::providers::ResolvedProvider,
    agents: &[AgentDefinition],
    request: &str,
) -> Routing {
    if let Some(r) = by_words(request, agents) {
        return r;
    }
    let fallback = |why: String| Routing {
        agent: MAIN_AGENT.to_string(),
        by: "fallback",
        why,
    };
    let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
    if names.len() < 2 {
        return fallback("no other agent".to_string());
    }
    if provider.tool_mode == crate::config::ToolMode::Schema {
        // A question is the main agent's: a job's words (`replicas`) would send it to the
        // agent that changes them.
        if !is_question(request)
            && let Some(r) = by_description(request, agents)
        {
            return r;
        }
        return fallback(
            "no agent's name or description clearly fits, and a small model (schema tool mode) is not asked to choose".to_string(),
        );
    }
    // The choice is constrained by a response schema, which only OpenAI-compatible servers
    // take.
    if provider.kind != crate::config::ProviderKind::Openai {
        return fallback("no agent's name is in the request".to_string());
    }
    let mut system = String::from(
        "Choose the one agent whose description fits the user's request best. Reply with JSON: {\"agent\": NAME, \"why\": a few words}. Agents:\n",
    );
    for a in agents {
        system.push_str(&agent_line(a));
    }
    system.push_str(&format!(
        "If none fits better than the others, choose {MAIN_AGENT}."
    ));
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "agent": {"type": "string", "enum": names},
            "why": {"type": "string"},
        },
        "required": ["agent", "why"],
        "additionalProperties": false,
    });
    let chat = crate::model::ChatRequest {
        model: provider.model.clone(),
        messages: vec![
            crate::model::Message::System { content: system },
            crate::model::Message::User {
                content: request.to_string(),
            },
        ],
        tools: Vec::new(),
        response_schema: Some(schema),
        max_tokens: Some(80),
        temperature: Some(0.0),
    };
    let reply = match provider.provider.complete(&chat, &|_| {}).await {
        Ok(r) => r,
        Err(e) => return fallback(format!("the router's model call failed ({e})")),
    };
    match crate::tool_mode::parse_json_object(&reply.text) {
        Some(v) => match v
            .get("agent")
            .and_then(serde_json::Value::as_str)
            .filter(|a| names.contains(a))
        {
            Some(agent) => Routing {
                agent: agent.to_string(),
                by: "model",
                why: v
                    .get("why")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("it fits best")
                    .chars()
                    .take(200)
                    .collect(),
            },
            None => fallback("the router named no known agent".to_string()),
        },
        None => fallback("the router's reply was not JSON".to_string()),
    }
}

/// `- name: description` on one line, at most 200 characters of it (agent lists for models).
pub fn agent_line(a: &AgentDefinition) -> String {
    let one_line = a
        .description
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let short: String = one_line.chars().take(200).collect();
    format!("- {}: {short}\n", a.name)
}

/// An agent of the workspace by name.
pub fn find_agent(ws: &Workspace, name: &str) -> Result<AgentDefinition, RouteError> {
    let agents = ws.agents();
    agents.get(name).cloned().ok_or_else(|| {
        let names: Vec<&str> = agents.items.iter().map(|a| a.name.as_str()).collect();
        RouteError::UnknownAgent {
            name: name.to_string(),
            available: names.join(", "),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(request: &str) -> Option<(String, &'static str)> {
        let agents = agentops_agents::builtin::agents();
        by_words(request, &agents)
            .or_else(|| by_description(request, &agents))
            .map(|r| (r.agent, r.by))
    }

    #[test]
    fn a_description_that_clearly_fits_routes_without_a_model_call() {
        let to = |agent: &str| Some((agent.to_string(), "description"));
        // The words of a job the agent's description names, not its name.
        assert_eq!(
            routed("Scale web in prod to 6 replicas; dev and staging stay as they are."),
            to("infrastructure-harmonize")
        );
        assert_eq!(
            routed(
                "Set the Prometheus retention to 30d in every environment (dev, staging and prod)."
            ),
            to("infrastructure-harmonize")
        );
        assert_eq!(
            routed(
                "A PostgreSQL database called orders-db in namespace orders, with an Argo CD Application per environment."
            ),
            to("infrastructure-create")
        );
        assert_eq!(
            routed("is what runs in the cluster still what Git says?"),
            to("infrastructure-drift")
        );
        // The agent's name still wins first.
        assert_eq!(
            routed("harmonize the prometheus retention to 30d"),
            Some(("infrastructure-harmonize".to_string(), "words"))
        );
        // Nothing any description says, or a tie: left to the model (or the main agent).
        assert_eq!(
            routed("How much storage does postgres get in staging?"),
            None
        );
        assert_eq!(routed("is everything fine?"), None);
        // Questions are not jobs, whatever their words.
        assert!(is_question("how many replicas?"));
        assert!(is_question("Review the prod overlay of web"));
        assert!(!is_question("Scale web in prod to 6 replicas."));
    }
}
