//! Building an [`Engine`]: the provider and the tool context are required, everything else has
//! a default (no rules, no hooks, no agents to delegate to, the default limits, and — when no
//! change service is given — gates with the default policy and an approver that decides
//! nothing, so high-risk changes stay pending).

use super::{Engine, Totals};
use crate::approval::ApprovalPolicy;
use crate::change::ChangeService;
use crate::config::Limits;
use crate::cost::PriceTable;
use crate::events::EventSink;
use crate::permissions::Permissions;
use crate::providers::ResolvedProvider;
use crate::review::ChangeGate;
use agentops_agents::AgentDefinition;
use agentops_tools::{ToolContext, ToolRegistry};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// See [`Engine::builder`].
pub struct EngineBuilder {
    provider: ResolvedProvider,
    tool_ctx: ToolContext,
    tools: ToolRegistry,
    aliases: BTreeMap<String, String>,
    prices: PriceTable,
    limits: Limits,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    permissions: Permissions,
    agents: Vec<AgentDefinition>,
    environment: String,
    memory: crate::memory::Memory,
    rules: crate::memory::Rules,
    skills: Vec<agentops_commands::CommandDefinition>,
    positional_base: usize,
    events: EventSink,
    changes: Option<Arc<ChangeService>>,
    hooks: crate::hooks::HookSet,
    transcript: Option<std::path::PathBuf>,
    only_tools: Option<Vec<String>>,
}

impl Engine {
    /// An engine for `provider`, whose tools work in `tool_ctx` (root, timeout, session).
    pub fn builder(provider: ResolvedProvider, tool_ctx: ToolContext) -> EngineBuilder {
        EngineBuilder {
            provider,
            tool_ctx,
            tools: ToolRegistry::builtin(),
            aliases: BTreeMap::new(),
            prices: PriceTable::default(),
            limits: Limits::default(),
            max_tokens: None,
            temperature: None,
            permissions: Permissions::default(),
            agents: Vec::new(),
            environment: String::new(),
            memory: crate::memory::Memory::default(),
            rules: crate::memory::Rules::default(),
            skills: Vec::new(),
            positional_base: 1,
            events: EventSink::discard(),
            changes: None,
            hooks: crate::hooks::HookSet::default(),
            transcript: None,
            only_tools: None,
        }
    }
}

impl EngineBuilder {
    /// The tools (default: the builtin registry).
    pub fn tools(mut self, tools: ToolRegistry) -> Self {
        self.tools = tools;
        self
    }

    /// `[models.aliases]`: `sonnet` → an id.
    pub fn aliases(mut self, aliases: BTreeMap<String, String>) -> Self {
        self.aliases = aliases;
        self
    }

    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn sampling(mut self, max_tokens: Option<u32>, temperature: Option<f32>) -> Self {
        self.max_tokens = max_tokens;
        self.temperature = temperature;
        self
    }

    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// Agents a run may delegate to.
    pub fn agents(mut self, agents: Vec<AgentDefinition>) -> Self {
        self.agents = agents;
        self
    }

    /// Appended to every system prompt (repository, branch, target).
    pub fn environment(mut self, environment: String) -> Self {
        self.environment = environment;
        self
    }

    /// The memory files (CLAUDE.md, AGENTS.md, rules without `paths:`) the main agent's
    /// system prompt carries, and the rules with `paths:` that join when a matching file is
    /// read or changed.
    pub fn memory(mut self, memory: crate::memory::Memory, rules: crate::memory::Rules) -> Self {
        self.memory = memory;
        self.rules = rules;
        self
    }

    /// Skills the model may load with the `Skill` tool (see [`super::skills`]), and whether
    /// `$1` (1) or `$0` (0) is their first argument.
    pub fn skills(
        mut self,
        skills: Vec<agentops_commands::CommandDefinition>,
        positional_base: usize,
    ) -> Self {
        self.skills = skills;
        self.positional_base = positional_base;
        self
    }

    pub fn events(mut self, events: EventSink) -> Self {
        self.events = events;
        self
    }

    /// The gated-change service (gates, approver, ledger) every change goes through.
    pub fn changes(mut self, changes: Arc<ChangeService>) -> Self {
        self.changes = Some(changes);
        self
    }

    pub fn hooks(mut self, hooks: crate::hooks::HookSet) -> Self {
        self.hooks = hooks;
        self
    }

    /// The session log, for hooks' `transcript_path`.
    pub fn transcript(mut self, transcript: Option<std::path::PathBuf>) -> Self {
        self.transcript = transcript;
        self
    }

    /// `--tools`: the only tools that exist in this run (`None`: every tool).
    pub fn only_tools(mut self, tools: Option<Vec<String>>) -> Self {
        self.only_tools = tools;
        self
    }

    pub fn build(self) -> Engine {
        let changes = self.changes.unwrap_or_else(|| {
            let gate = ChangeGate::new(
                self.tool_ctx.root.clone(),
                crate::policy::PolicyConfig::default(),
                None,
                crate::review::RENDER_TIMEOUT,
            );
            Arc::new(ChangeService::new(
                Arc::new(gate),
                Arc::new(ApprovalPolicy::default()),
            ))
        });
        let p = self.provider;
        let secrets = self.tool_ctx.secrets.clone();
        Engine {
            provider: p.provider,
            provider_name: p.name,
            provider_kind: p.kind,
            tool_mode: p.tool_mode,
            retry: p.retry,
            default_model: p.model,
            aliases: self.aliases,
            prices: self.prices,
            limits: self.limits,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            tools: self.tools,
            tool_ctx: self.tool_ctx,
            permissions: self.permissions,
            agents: self.agents,
            environment: self.environment,
            memory: self.memory.prompt(&|text| secrets.redact_text(text)),
            rules: self.rules,
            rules_delivered: Mutex::new(Vec::new()),
            suggested: Mutex::new(Vec::new()),
            skills: self.skills,
            positional_base: self.positional_base,
            events: self.events.with_secrets(secrets),
            changes,
            hooks: self.hooks,
            transcript: self.transcript,
            only_tools: self.only_tools,
            totals: Mutex::new(Totals::default()),
        }
    }
}
