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
    })
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
