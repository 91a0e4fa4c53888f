//! The agent loop: an agent definition plus a prompt become model turns and tool calls until a
//! final answer, a turn or budget limit, or a provider failure after retries.
//!
//! One [`Engine`] serves a whole run, the main agent and the subagents it delegates to through
//! the `Agent` tool (alias `Task`); usage and cost are accounted across all of them. Every
//! call is checked against the permission rules here; calls that change files, history or
//! clusters go through `guard` (gates and approvals).

use crate::approval::{ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approver};
use crate::config::{Limits, ProviderKind, ToolMode};
use crate::cost::PriceTable;
use crate::events::{Event, EventSink};
use crate::model::retry::{Escalation, RetryPolicy};
use crate::model::{ChatRequest, Delta, Message, ModelTurn, Provider, ToolCall, ToolDef, Usage};
use crate::permissions::{Decision, Denial, Permissions};
use crate::review::ChangeGate;
use crate::tool_mode::{self, Step};
use agentops_agents::AgentDefinition;
use agentops_agents::definition::PermissionMode;
use agentops_tools::{ToolContext, ToolOutput, ToolRegistry};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod guard;

/// The delegation tool's name (Claude Code's `Task` is accepted as an alias).
pub const AGENT_TOOL: &str = "Agent";

/// Real model ids for the Claude aliases when the config names none (Anthropic only).
const ANTHROPIC_ALIASES: &[(&str, &str)] = &[
    ("sonnet", "claude-sonnet-4-5"),
    ("opus", "claude-opus-4-1"),
    ("haiku", "claude-haiku-4-5"),
];

/// Why an agent run stopped without an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stop {
    /// The model gave its final answer.
    Final,
    /// The agent used all its turns.
    TurnLimit { limit: u32 },
    /// The run's spend reached `--max-budget-usd`.
    Budget { spent_usd: f64, limit_usd: f64 },
    /// The run's tokens reached the configured cap.
    Tokens { used: u64, limit: u64 },
    /// A high-risk change waits for a person (or a rule); nothing of it was written.
    ApprovalRequired { pending: Vec<String> },
    /// A hook refused the prompt (`UserPromptSubmit`, exit 2) or asked to stop (`continue: false`).
    Hook { event: String, reason: String },
}

impl Stop {
    /// True for the limits that end the whole run (not only a subagent).
    pub fn is_global(&self) -> bool {
        matches!(
            self,
            Stop::Budget { .. }
                | Stop::Tokens { .. }
                | Stop::ApprovalRequired { .. }
                | Stop::Hook { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRun {
    pub text: String,
    pub turns: u32,
    pub stop: Stop,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Provider(#[from] Escalation),
}

/// Usage and spend over the whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub usage: Usage,
    pub cost_usd: f64,
    pub turns: u32,
    /// Models that had no price (their tokens cost nothing in `cost_usd`).
    pub unpriced_models: Vec<String>,
    /// Tool calls the permission rules refused (or that needed a person who was not there).
    pub permission_denials: Vec<Denial>,
    /// What the gates said about every change a tool planned.
    pub gates: Vec<GateRecord>,
    /// High-risk changes nobody decided on (the run stops at the first).
    pub pending_approvals: Vec<ApprovalRequest>,
    /// Approval decisions made (granted or denied).
    pub approvals: Vec<ApprovalRecord>,
    /// A hook's `continue: false` (event, reason): the run stops at the next step.
    pub hook_stop: Option<(String, String)>,
}

/// The gates' verdict on one tool call's changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateRecord {
    pub agent: String,
    pub tool: String,
    pub call_id: String,
    pub files: Vec<String>,
    pub passed: bool,
    pub risk: crate::risk::Level,
    /// `written`, `rejected` (a gate failed), `denied`, `pending`, or `failed` (could not write).
    pub outcome: &'static str,
    pub units: Vec<crate::review::UnitReview>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRecord {
    pub id: String,
    pub agent: String,
    pub tool: String,
    pub files: Vec<String>,
    #[serde(flatten)]
    pub decision: ApprovalDecision,
}

/// Everything a run needs.
pub struct Engine {
    pub provider: Arc<dyn Provider>,
    pub provider_name: String,
    pub provider_kind: ProviderKind,
    pub tool_mode: ToolMode,
    pub retry: RetryPolicy,
    /// The model used when an agent says `inherit` or nothing.
    pub default_model: String,
    /// `sonnet` → an id, from `[models.aliases]`.
    pub aliases: BTreeMap<String, String>,
    pub prices: PriceTable,
    pub limits: Limits,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub tools: ToolRegistry,
    pub tool_ctx: ToolContext,
    /// Allow/ask/deny rules. A headless run has nobody to ask: `ask` is refused.
    pub permissions: Permissions,
    /// Agents a run may delegate to.
    pub agents: Vec<AgentDefinition>,
    /// Appended to every system prompt (repository, branch, target).
    pub environment: String,
    pub events: EventSink,
    /// Gates every planned file change (render, schema, policy, diff, risk).
    pub gate: Arc<ChangeGate>,
    /// Decides high-risk changes; the default decides nothing (they stay pending).
    pub approver: Arc<dyn Approver>,
    /// Hooks from the settings files (an agent's own frontmatter hooks join while it runs).
    pub hooks: crate::hooks::HookSet,
    /// The session log, for hooks' `transcript_path`.
    pub transcript: Option<std::path::PathBuf>,
    totals: Mutex<Totals>,
    /// One file change at a time: plan, gate, approve and write see the same files.
    change_lock: tokio::sync::Mutex<()>,
}

/// What one agent is offered.
struct Offer {
    defs: Vec<ToolDef>,
    validators: HashMap<String, jsonschema::Validator>,
    delegation: bool,
}

impl Offer {
    fn names(&self) -> Vec<String> {
        self.defs.iter().map(|d| d.name.clone()).collect()
    }

    /// Checks `args` against the tool's schema; `Err` lists what is wrong.
    fn validate(&self, name: &str, args: &Value) -> Result<(), String> {
        let Some(v) = self.validators.get(name) else {
            return Err(format!(
                "tool `{name}` is not available here; available: {}",
                self.names().join(", ")
            ));
        };
        let problems: Vec<String> = v
            .iter_errors(args)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: Arc<dyn Provider>,
        provider_name: String,
        provider_kind: ProviderKind,
        tool_mode: ToolMode,
        retry: RetryPolicy,
        default_model: String,
        tools: ToolRegistry,
        tool_ctx: ToolContext,
        events: EventSink,
    ) -> Self {
        let gate = Arc::new(ChangeGate::new(
            tool_ctx.root.clone(),
            crate::policy::PolicyConfig::default(),
            None,
            tool_ctx.timeout,
        ));
        Self {
            provider,
            provider_name,
            provider_kind,
            tool_mode,
            retry,
            default_model,
            aliases: BTreeMap::new(),
            prices: PriceTable::default(),
            limits: Limits::default(),
            max_tokens: None,
            temperature: None,
            tools,
            tool_ctx,
            permissions: Permissions::default(),
            agents: Vec::new(),
            environment: String::new(),
            events,
            gate,
            approver: Arc::new(ApprovalPolicy::default()),
            hooks: crate::hooks::HookSet::default(),
            transcript: None,
            totals: Mutex::new(Totals::default()),
            change_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Clears what stopped the last turn (pending approvals, a hook's stop) so an
    /// interactive session can go on; usage, cost and records keep adding up.
    pub fn next_turn(&self) {
        if let Ok(mut totals) = self.totals.lock() {
            totals.pending_approvals.clear();
            totals.hook_stop = None;
        }
    }

    pub fn totals(&self) -> Totals {
        self.totals.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Runs `agent` on `prompt`. `model` overrides the agent's own model.
    pub async fn run(
        &self,
        agent: &AgentDefinition,
        prompt: &str,
        model: Option<&str>,
    ) -> Result<AgentRun, RunError> {
        let model = self.model_for(agent, model);
        self.run_at(agent, Start::fresh(prompt.to_string()), model, 0)
            .await
    }

    /// Goes on with a session: `history` is its conversation (from the log), `pending` the
    /// high-risk calls that waited for approval. Each pending call is made again — through
    /// the permission rules, the gates (against the files as they are now) and the approver —
    /// and the model is told what came of it before `prompt`.
    pub async fn resume(
        &self,
        agent: &AgentDefinition,
        history: Vec<Message>,
        pending: Vec<crate::session::PendingCall>,
        prompt: &str,
        model: Option<&str>,
    ) -> Result<AgentRun, RunError> {
        let model = self.model_for(agent, model);
        let prompt = if prompt.trim().is_empty() {
            "Continue where you left off.".to_string()
        } else {
            prompt.to_string()
        };
        let start = Start {
            history,
            pending,
            prompt,
        };
        self.run_at(agent, start, model, 0).await
    }

    fn model_for(&self, agent: &AgentDefinition, model: Option<&str>) -> String {
        match model {
            Some(m) => self.resolve_model(m, &self.default_model),
            None => self.agent_model(agent, &self.default_model),
        }
    }

    /// The model id for a name: aliases first, `inherit` is `parent`.
    fn resolve_model(&self, name: &str, parent: &str) -> String {
        let name = name.trim();
        if name.is_empty() || name == "inherit" {
            return parent.to_string();
        }
        if let Some(id) = self.aliases.get(name) {
            return id.clone();
        }
        if let Some((_, id)) = ANTHROPIC_ALIASES.iter().find(|(a, _)| *a == name) {
            return match self.provider_kind {
                ProviderKind::Anthropic => id.to_string(),
                // A Claude alias means nothing to another server: use its default model.
                ProviderKind::Openai => parent.to_string(),
            };
        }
        name.to_string()
    }

    fn agent_model(&self, agent: &AgentDefinition, parent: &str) -> String {
        agent
            .model
            .as_deref()
            .map_or_else(|| parent.to_string(), |m| self.resolve_model(m, parent))
    }

    fn system_prompt(&self, agent: &AgentDefinition, offer: &Offer) -> String {
        let mut prompt = agent.body.trim().to_string();
        if prompt.is_empty() {
            prompt = agent.description.clone();
        }
        if !self.environment.is_empty() {
            prompt.push_str("\n\n# Environment\n");
            prompt.push_str(&self.environment);
        }
        // Factor V: what this agent learned in earlier runs here, as a checklist.
        let learned = agentops_tools::learnings::for_agent(&self.tool_ctx.root, &agent.name);
        if !learned.is_empty() {
            prompt.push_str("\n\n# Learnings from earlier runs in this repository\nCheck each before you finish:\n");
            let skip = learned
                .len()
                .saturating_sub(agentops_tools::learnings::PROMPT_LIMIT);
            for l in &learned[skip..] {
                prompt.push_str(&format!("- [ ] {l}\n"));
            }
        }
        if self.tool_mode == ToolMode::Schema && !offer.defs.is_empty() {
            prompt.push_str(&tool_mode::schema_instructions(&offer.defs));
        }
        prompt
    }

    /// The tools `agent` may use: its `tools` (all when absent) minus `disallowedTools`,
    /// resolved against the registry, plus delegation while the depth allows it.
    fn offer(&self, agent: &AgentDefinition, depth: u32) -> Offer {
        let disallowed: Vec<&str> = agent
            .disallowed_tools
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let wanted: Vec<String> = match &agent.tools {
            None => self
                .tools
                .names()
                .map(str::to_string)
                .chain(std::iter::once(AGENT_TOOL.to_string()))
                .collect(),
            Some(list) => {
                let mut names: Vec<String> = Vec::new();
                for spec in list {
                    if !names.contains(&spec.name) {
                        names.push(spec.name.clone());
                    }
                }
                names
            }
        };
        let can_delegate =
            depth < self.limits.max_depth && self.agents.iter().any(|a| a.name != agent.name);
        let mut defs = Vec::new();
        let mut delegation = false;
        let mut unavailable = Vec::new();
        for name in wanted {
            if disallowed.contains(&name.as_str()) {
                continue;
            }
            if name == AGENT_TOOL {
                if can_delegate {
                    delegation = true;
                    defs.push(self.agent_tool_def(agent));
                }
                continue;
            }
            match self.tools.get(&name) {
                Some(tool) => defs.push(ToolDef {
                    name: tool.name().to_string(),
                    description: tool.description().to_string(),
                    parameters: tool.input_schema(),
                }),
                None => unavailable.push(name),
            }
        }
        if !unavailable.is_empty() && agent.tools.is_some() {
            self.events.emit(Event::Warning {
                agent: agent.name.clone(),
                message: format!(
                    "not offered (agentops has no such tool yet): {}",
                    unavailable.join(", ")
                ),
            });
        }
        let validators = defs
            .iter()
            .filter_map(|d| {
                jsonschema::validator_for(&d.parameters)
                    .ok()
                    .map(|v| (d.name.clone(), v))
            })
            .collect();
        Offer {
            defs,
            validators,
            delegation,
        }
    }

    fn agent_tool_def(&self, caller: &AgentDefinition) -> ToolDef {
        let mut description = String::from(
            "Hand a self-contained task to a specialised subagent and get its final answer back. Choose the agent by name in subagent_type, or leave it out and the agent whose description fits best is used. Agents:\n",
        );
        for a in self.agents.iter().filter(|a| a.name != caller.name) {
            let one_line: String = a
                .description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let short: String = one_line.chars().take(200).collect();
            description.push_str(&format!("- {}: {short}\n", a.name));
        }
        ToolDef {
            name: AGENT_TOOL.to_string(),
            description,
            parameters: json!({
                "type": "object",
                "properties": {
                    "subagent_type": {"type": "string", "description": "The agent's name."},
                    "description": {"type": "string", "description": "The task in a few words."},
                    "prompt": {"type": "string", "description": "Everything the subagent needs to do the task."}
                },
                "required": ["description", "prompt"],
                "additionalProperties": false
            }),
        }
    }

    fn run_at(
        &self,
        agent: &AgentDefinition,
        start: Start,
        model: String,
        depth: u32,
    ) -> BoxFuture<'_, Result<AgentRun, RunError>> {
        let agent = agent.clone();
        async move {
            let offer = self.offer(&agent, depth);
            self.events.emit(Event::AgentStarted {
                agent: agent.name.clone(),
                model: model.clone(),
                provider: self.provider_name.clone(),
                tool_mode: self.tool_mode,
                depth,
                tools: offer.names(),
            });
            let mut messages = vec![Message::System {
                content: self.system_prompt(&agent, &offer),
            }];
            messages.extend(start.history);
            let mut prompt = start.prompt;
            if depth == 0 {
                let said = self
                    .hook(&agent, "UserPromptSubmit", None, json!({"prompt": prompt}))
                    .await;
                if let Some(reason) = said.blocked {
                    let stop = Stop::Hook {
                        event: "UserPromptSubmit".into(),
                        reason: reason.clone(),
                    };
                    return Ok(self.finish(&agent, depth, 0, reason, stop));
                }
                for context in said.context {
                    prompt.push_str(&format!("\n\n{context}"));
                }
            }
            if !start.pending.is_empty() {
                let report = self.redo_pending(&agent, &model, &start.pending, depth).await;
                prompt = format!("{report}\n{prompt}");
            }
            self.push(&agent, depth, &mut messages, Message::User { content: prompt });
            let mut stop_hook_active = false;
            let max_turns = agent
                .max_turns
                .map_or(self.limits.max_turns, |t| t.min(self.limits.max_turns))
                .max(1);
            let mut last_text = String::new();
            let mut previous_calls: Vec<(String, String)> = Vec::new();
            for turn in 1..=max_turns {
                if let Some(stop) = self.global_stop() {
                    return Ok(self.finish(&agent, depth, turn - 1, last_text, stop));
                }
                if depth == 0 && self.limits.compact_at_tokens.is_some_and(|limit| limit > 0 && estimate_tokens(&messages) > limit) {
                    messages = self.compact(&agent, &model, messages, "auto").await?;
                }
                let reply = self
                    .model_turn(&agent, &model, &messages, &offer, turn)
                    .await?;
                let (text, calls) = self.interpret(&agent, reply, &offer);
                if !text.is_empty() {
                    last_text = text.clone();
                }
                if calls.is_empty() {
                    self.push(
                        &agent,
                        depth,
                        &mut messages,
                        Message::Assistant {
                            content: text.clone(),
                            tool_calls: Vec::new(),
                        },
                    );
                    // A Stop hook (SubagentStop for a subagent) may send the agent back to work.
                    let event = if depth == 0 { "Stop" } else { "SubagentStop" };
                    let said = self
                        .hook(
                            &agent,
                            event,
                            None,
                            json!({"stop_hook_active": stop_hook_active, "agent_type": agent.name, "last_message": text}),
                        )
                        .await;
                    if let Some(reason) = said.blocked
                        && turn < max_turns
                        && self.global_stop().is_none()
                    {
                        stop_hook_active = true;
                        let m = Message::User {
                            content: format!("[{event} hook] {reason}"),
                        };
                        self.push(&agent, depth, &mut messages, m);
                        continue;
                    }
                    let stop = self.global_stop().unwrap_or(Stop::Final);
                    return Ok(self.finish(&agent, depth, turn, text, stop));
                }
                // The same calls as the turn before: small models loop like this instead of
                // reading the result. Say so instead of running them again.
                let signature: Vec<(String, String)> = calls
                    .iter()
                    .map(|(c, _)| (canonical(&c.name).to_string(), normalized_args(&c.arguments)))
                    .collect();
                self.record_calls(&agent, depth, &mut messages, text, &calls);
                let outputs = if signature == previous_calls {
                    calls
                        .iter()
                        .map(|(c, _)| {
                            (
                                ToolOutput::error(format!(
                                    "{} was just called with exactly these arguments; its result is in the previous message. Use it: take a different step or give your final answer.",
                                    c.name
                                )),
                                false,
                            )
                        })
                        .collect()
                } else {
                    join_all(
                        calls
                            .iter()
                            .map(|call| self.execute(&agent, &model, call, &offer, depth)),
                    )
                    .await
                };
                previous_calls = signature;
                self.record_outputs(&agent, depth, &mut messages, &calls, outputs);
            }
            Ok(self.finish(
                &agent,
                depth,
                max_turns,
                last_text,
                Stop::TurnLimit { limit: max_turns },
            ))
        }
        .boxed()
    }

    fn finish(
        &self,
        agent: &AgentDefinition,
        depth: u32,
        turns: u32,
        text: String,
        stop: Stop,
    ) -> AgentRun {
        self.events.emit(Event::AgentFinished {
            agent: agent.name.clone(),
            depth,
            turns,
            text: text.clone(),
        });
        AgentRun { text, turns, stop }
    }

    fn global_stop(&self) -> Option<Stop> {
        let totals = self.totals();
        if let Some((event, reason)) = totals.hook_stop {
            return Some(Stop::Hook { event, reason });
        }
        if !totals.pending_approvals.is_empty() {
            return Some(Stop::ApprovalRequired {
                pending: totals
                    .pending_approvals
                    .iter()
                    .map(|p| p.id.clone())
                    .collect(),
            });
        }
        if let Some(limit) = self.limits.max_budget_usd
            && totals.cost_usd >= limit
        {
            return Some(Stop::Budget {
                spent_usd: totals.cost_usd,
                limit_usd: limit,
            });
        }
        if let Some(limit) = self.limits.max_session_tokens
            && totals.usage.total() >= limit
        {
            return Some(Stop::Tokens {
                used: totals.usage.total(),
                limit,
            });
        }
        None
    }

    /// One model call with retries; accounts usage and cost.
    async fn model_turn(
        &self,
        agent: &AgentDefinition,
        model: &str,
        messages: &[Message],
        offer: &Offer,
        turn: u32,
    ) -> Result<ModelTurn, RunError> {
        let schema_mode = self.tool_mode == ToolMode::Schema && !offer.defs.is_empty();
        let request = ChatRequest {
            model: model.to_string(),
            messages: messages.to_vec(),
            tools: if schema_mode {
                Vec::new()
            } else {
                offer.defs.clone()
            },
            response_schema: schema_mode.then(|| tool_mode::step_schema(&offer.defs)),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
        };
        let name = agent.name.clone();
        let events = self.events.clone();
        // In schema mode the streamed text is JSON, not an answer: it is not forwarded.
        let on_delta = move |d: Delta| match d {
            Delta::Text(text) if !schema_mode => events.emit(Event::TextDelta {
                agent: name.clone(),
                text,
            }),
            Delta::Reasoning(text) => events.emit(Event::ReasoningDelta {
                agent: name.clone(),
                text,
            }),
            Delta::Text(_) => {}
        };
        let reply = self
            .retry
            .run(
                |attempt| {
                    self.events.emit(Event::ModelRequest {
                        agent: agent.name.clone(),
                        turn,
                        attempt,
                        model: model.to_string(),
                        tool_mode: self.tool_mode,
                    });
                    self.provider.complete(&request, &on_delta)
                },
                |attempt, delay, err| {
                    self.events.emit(Event::Retry {
                        agent: agent.name.clone(),
                        attempt,
                        max_attempts: self.retry.attempts,
                        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error: err.to_string(),
                        request_id: err.request_id().map(str::to_string),
                    })
                },
            )
            .await?;
        let cost = self.prices.cost(model, reply.usage);
        if let Ok(mut totals) = self.totals.lock() {
            totals.usage.add(reply.usage);
            totals.cost_usd += cost.unwrap_or(0.0);
            totals.turns += 1;
            if cost.is_none() && !totals.unpriced_models.iter().any(|m| m == model) {
                totals.unpriced_models.push(model.to_string());
            }
        }
        self.events.emit(Event::ModelResponse {
            agent: agent.name.clone(),
            turn,
            finish_reason: reply.finish_reason.clone(),
            usage: reply.usage,
            cost_usd: cost.unwrap_or(0.0),
            request_id: reply.request_id.clone(),
            tool_calls: reply.tool_calls.len(),
        });
        Ok(reply)
    }

    /// The reply's text and tool calls, whichever way the model wrote them.
    fn interpret(
        &self,
        agent: &AgentDefinition,
        reply: ModelTurn,
        offer: &Offer,
    ) -> (String, Vec<(ToolCall, &'static str)>) {
        let schema_mode = self.tool_mode == ToolMode::Schema && !offer.defs.is_empty();
        if schema_mode {
            return match tool_mode::parse_step(&reply.text) {
                Ok(Step::Final(text)) => {
                    self.events.emit(Event::TextDelta {
                        agent: agent.name.clone(),
                        text: text.clone(),
                    });
                    (text, Vec::new())
                }
                Ok(Step::Call { name, arguments }) => (
                    String::new(),
                    vec![(
                        ToolCall {
                            id: format!("step_{}", self.totals().turns),
                            name,
                            arguments: arguments.to_string(),
                        },
                        "schema",
                    )],
                ),
                Err(problem) => {
                    self.events.emit(Event::Warning {
                        agent: agent.name.clone(),
                        message: format!(
                            "schema-mode reply was not a step ({problem}); taken as the answer"
                        ),
                    });
                    (reply.text, Vec::new())
                }
            };
        }
        if !reply.tool_calls.is_empty() {
            let calls = reply
                .tool_calls
                .into_iter()
                .map(|c| (c, "native"))
                .collect();
            return (reply.text, calls);
        }
        let valid = |name: &str, args: &Value| offer.validate(canonical(name), args).is_ok();
        if let Some((name, args)) = tool_mode::content_tool_call(&reply.text, valid) {
            let call = ToolCall {
                id: format!("content_{}", self.totals().turns),
                name,
                arguments: args.to_string(),
            };
            return (String::new(), vec![(call, "content-json")]);
        }
        (reply.text, Vec::new())
    }

    async fn execute(
        &self,
        agent: &AgentDefinition,
        model: &str,
        call_and_via: &(ToolCall, &'static str),
        offer: &Offer,
        depth: u32,
    ) -> (ToolOutput, bool) {
        let (call, via) = call_and_via;
        let started = Instant::now();
        let name = canonical(&call.name);
        let parsed: Result<Value, String> = if call.arguments.trim().is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_str(&call.arguments).map_err(|e| {
                format!("the arguments are not valid JSON ({e}); send a JSON object matching the tool's schema")
            })
        };
        self.events.emit(Event::ToolCall {
            agent: agent.name.clone(),
            id: call.id.clone(),
            name: call.name.clone(),
            input: parsed
                .clone()
                .unwrap_or(Value::String(call.arguments.clone())),
            via,
        });
        let output = match parsed {
            Err(problem) => ToolOutput::error(problem),
            Ok(args) => match offer.validate(name, &args) {
                Err(problem) => ToolOutput::error(format!("invalid call of {name}: {problem}")),
                Ok(()) if name == AGENT_TOOL && offer.delegation => {
                    self.delegate(agent, model, args, depth).await
                }
                Ok(()) => match self.tools.get(name) {
                    Some(tool) => match self.pre_tool_use(agent, call, name, &args).await {
                        Err(blocked) => blocked,
                        Ok(hook) => match self.permit(agent, name, &args, tool.risk(), hook) {
                            Ok(()) if tool.risk() == agentops_tools::Risk::Write => {
                                self.change(agent, &call.id, tool.as_ref(), &args).await
                            }
                            Ok(()) if tool.risk() == agentops_tools::Risk::Execute => {
                                self.shell(agent, &call.id, tool.as_ref(), args).await
                            }
                            Ok(()) if tool.risk() == agentops_tools::Risk::Mutate => {
                                self.mutate(agent, &call.id, tool.as_ref(), args).await
                            }
                            Ok(()) if tool.name() == agentops_tools::git::COMMIT_TOOL => {
                                self.commit(agent, &call.id, tool.as_ref(), args).await
                            }
                            Ok(()) => tool.run(args, &self.ctx_for(agent)).await,
                            Err(refusal) => refusal,
                        },
                    },
                    None => ToolOutput::error(format!("tool `{name}` is not available")),
                },
            },
        };
        let output = self.post_tool_use(agent, call, name, output).await;
        // Every result is redacted again here, whatever the tool did: defence in depth.
        let redacted = agentops_tools::redact::redact_text(&output.content);
        let (content, truncated) = cap(&redacted, self.limits.max_tool_output_bytes);
        self.events.emit(Event::ToolResult {
            agent: agent.name.clone(),
            id: call.id.clone(),
            name: call.name.clone(),
            is_error: output.is_error,
            content: content.clone(),
            truncated,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        (
            ToolOutput {
                content,
                is_error: output.is_error,
            },
            truncated,
        )
    }

    /// Applies the permission rules and the agent's `permissionMode`. Nobody can answer an
    /// `ask` here (the interactive front end will), so it is refused; every refusal is recorded
    /// for the run's result and explained to the model.
    fn permit(
        &self,
        agent: &AgentDefinition,
        tool: &str,
        args: &Value,
        risk: agentops_tools::Risk,
        hook: Option<crate::hooks::HookPermission>,
    ) -> Result<(), ToolOutput> {
        use crate::hooks::HookPermission;
        let rules = self.permissions.check(tool, args, risk);
        // A hook can answer an `ask` or refuse; it can never lift a deny rule (or the gates
        // and approvals, which come after this).
        let rules = match (rules, hook) {
            (Decision::Deny(r), _) => Decision::Deny(r),
            (_, Some(HookPermission::Deny(r))) => {
                Decision::Deny(format!("a PreToolUse hook denied it: {r}"))
            }
            (_, Some(HookPermission::Ask(r))) => {
                Decision::Ask(format!("a PreToolUse hook asks for a person: {r}"))
            }
            (Decision::Ask(_), Some(HookPermission::Allow(_))) => Decision::Allow,
            (d, _) => d,
        };
        let decision = match (agent.permission_mode, rules) {
            (Some(PermissionMode::Plan), _) if risk != agentops_tools::Risk::ReadOnly => {
                Decision::Deny(format!(
                    "agent `{}` is in plan mode: read-only tools only",
                    agent.name
                ))
            }
            (Some(PermissionMode::BypassPermissions), Decision::Ask(_)) => Decision::Allow,
            (_, d) => d,
        };
        let reason = match decision {
            Decision::Allow => return Ok(()),
            Decision::Deny(reason) => format!("permission denied: {reason}"),
            Decision::Ask(reason) => format!(
                "needs approval ({reason}), and nobody can approve in this run; add an allow rule (.claude/settings.json, agentops.toml [permissions], --allowed-tools) if it is safe"
            ),
        };
        if let Ok(mut totals) = self.totals.lock() {
            totals.permission_denials.push(Denial {
                agent: agent.name.clone(),
                tool: tool.to_string(),
                input: args.clone(),
                reason: reason.clone(),
            });
        }
        Err(ToolOutput::error(reason))
    }

    /// Runs the hooks of `event` for `agent` (the settings' hooks and its own), records each
    /// run as an event, and notes a `continue: false`.
    pub async fn hook(
        &self,
        agent: &AgentDefinition,
        event: &str,
        target: Option<&str>,
        mut input: Value,
    ) -> crate::hooks::HookOutcome {
        let hooks = self
            .hooks
            .with(agent.hooks.as_ref(), &agent.path.display().to_string());
        if !hooks.wants(event, target) {
            return crate::hooks::HookOutcome::default();
        }
        if let Value::Object(map) = &mut input {
            map.insert("session_id".into(), json!(self.tool_ctx.session_id));
            map.insert(
                "transcript_path".into(),
                json!(self.transcript.as_ref().map(|p| p.display().to_string())),
            );
            map.insert(
                "permission_mode".into(),
                json!(agent.permission_mode.unwrap_or(PermissionMode::Default)),
            );
        }
        let outcome = hooks.run(event, target, input).await;
        for run in &outcome.runs {
            self.events.emit(Event::Hook {
                agent: agent.name.clone(),
                hook_event: event.to_string(),
                command: run.command.clone(),
                exit_code: run.exit_code,
                blocked: run.blocked,
                message: run.message.clone(),
            });
        }
        if let Some(reason) = &outcome.stop
            && let Ok(mut totals) = self.totals.lock()
        {
            totals
                .hook_stop
                .get_or_insert((event.to_string(), reason.clone()));
        }
        outcome
    }

    /// PreToolUse hooks: `Err` when one blocked the call (exit 2 or `decision: block`; the
    /// model gets the reason, and it counts as a refused call); else their permission answer.
    async fn pre_tool_use(
        &self,
        agent: &AgentDefinition,
        call: &ToolCall,
        name: &str,
        args: &Value,
    ) -> Result<Option<crate::hooks::HookPermission>, ToolOutput> {
        let said = self
            .hook(
                agent,
                "PreToolUse",
                Some(name),
                json!({"tool_name": name, "tool_input": args, "tool_use_id": call.id}),
            )
            .await;
        let Some(reason) = said.blocked.or(said.stop) else {
            return Ok(said.permission);
        };
        let reason = format!("blocked by a PreToolUse hook: {reason}");
        if let Ok(mut totals) = self.totals.lock() {
            totals.permission_denials.push(Denial {
                agent: agent.name.clone(),
                tool: name.to_string(),
                input: args.clone(),
                reason: reason.clone(),
            });
        }
        Err(ToolOutput::error(reason))
    }

    /// PostToolUse (PostToolUseFailure for errors) hooks; what a blocking one says is added
    /// to the result the model reads.
    async fn post_tool_use(
        &self,
        agent: &AgentDefinition,
        call: &ToolCall,
        name: &str,
        output: ToolOutput,
    ) -> ToolOutput {
        let input = serde_json::from_str::<Value>(&call.arguments).unwrap_or(Value::Null);
        let redacted = agentops_tools::redact::redact_text(&output.content);
        let (event, payload) = if output.is_error {
            (
                "PostToolUseFailure",
                json!({"tool_name": name, "tool_input": input, "tool_use_id": call.id, "error": redacted}),
            )
        } else {
            (
                "PostToolUse",
                json!({"tool_name": name, "tool_input": input, "tool_use_id": call.id, "tool_response": redacted}),
            )
        };
        let said = self.hook(agent, event, Some(name), payload).await;
        let mut notes: Vec<String> = said.context;
        if let Some(reason) = said.blocked {
            notes.push(reason);
        }
        if notes.is_empty() {
            return output;
        }
        ToolOutput {
            content: format!("{}\n[{event} hook] {}", output.content, notes.join("\n")),
            is_error: output.is_error,
        }
    }

    /// Runs a subagent for the `Agent` tool; its final text is the tool's result.
    async fn delegate(
        &self,
        caller: &AgentDefinition,
        model: &str,
        args: Value,
        depth: u32,
    ) -> ToolOutput {
        let task = args["description"].as_str().unwrap_or_default();
        let prompt = args["prompt"].as_str().unwrap_or_default().to_string();
        let wanted = args["subagent_type"].as_str().unwrap_or_default();
        let Some(sub) = self.choose_subagent(caller, wanted, &format!("{task} {prompt}")) else {
            let names: Vec<&str> = self
                .agents
                .iter()
                .filter(|a| a.name != caller.name)
                .map(|a| a.name.as_str())
                .collect();
            return ToolOutput::error(format!(
                "no agent named `{wanted}` and none whose description fits; available: {}",
                names.join(", ")
            ));
        };
        let sub_model = self.agent_model(sub, model);
        let said = self
            .hook(
                sub,
                "SubagentStart",
                Some(&sub.name),
                json!({"agent_type": sub.name, "prompt": prompt}),
            )
            .await;
        let mut prompt = prompt;
        for context in said.context {
            prompt.push_str(&format!("\n\n{context}"));
        }
        match self
            .run_at(sub, Start::fresh(prompt), sub_model, depth + 1)
            .await
        {
            Ok(run) => match run.stop {
                Stop::Final => ToolOutput::ok(run.text),
                Stop::TurnLimit { limit } => ToolOutput::error(format!(
                    "subagent {} stopped at its limit of {limit} turns; its last words: {}",
                    sub.name, run.text
                )),
                stop => ToolOutput::error(format!("subagent {} stopped: {stop:?}", sub.name)),
            },
            Err(err) => ToolOutput::error(format!("subagent {} failed: {err}", sub.name)),
        }
    }

    /// By name (case-insensitive), else the agent whose description shares the most words
    /// with the task.
    fn choose_subagent<'a>(
        &'a self,
        caller: &AgentDefinition,
        name: &str,
        task: &str,
    ) -> Option<&'a AgentDefinition> {
        let others = || self.agents.iter().filter(|a| a.name != caller.name);
        if !name.is_empty()
            && let Some(a) = others().find(|a| a.name.eq_ignore_ascii_case(name))
        {
            return Some(a);
        }
        let words = |s: &str| -> Vec<String> {
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 3)
                .map(str::to_lowercase)
                .collect()
        };
        let task_words = words(&format!("{name} {task}"));
        others()
            .map(|a| {
                let desc = words(&format!("{} {}", a.name, a.description));
                let score = task_words.iter().filter(|w| desc.contains(w)).count();
                (score, a)
            })
            .filter(|(score, _)| *score > 0)
            .max_by_key(|(score, _)| *score)
            .map(|(_, a)| a)
    }

    /// Adds a message to the conversation; the main agent's are events too (the session log
    /// replays them on resume).
    fn push(&self, agent: &AgentDefinition, depth: u32, messages: &mut Vec<Message>, m: Message) {
        if depth == 0 {
            let logged = match &m {
                // What a person typed may hold a token: the log gets it redacted.
                Message::User { content } => Message::User {
                    content: agentops_tools::redact::redact_text(content),
                },
                other => other.clone(),
            };
            self.events.emit(Event::Message {
                agent: agent.name.clone(),
                message: logged,
            });
        }
        messages.push(m);
    }

    /// Appends the assistant's tool calls to the conversation before they run (so a killed
    /// process leaves them in the log). Calls read from the text go back in the API's own
    /// tool format too: chat templates render tool results properly for the model that wrote
    /// them. Schema-mode steps go back as the JSON the model wrote.
    fn record_calls(
        &self,
        agent: &AgentDefinition,
        depth: u32,
        messages: &mut Vec<Message>,
        text: String,
        calls: &[(ToolCall, &'static str)],
    ) {
        let native = calls.iter().all(|(_, via)| *via != "schema");
        if native {
            let m = Message::Assistant {
                content: text,
                tool_calls: calls.iter().map(|(c, _)| c.clone()).collect(),
            };
            self.push(agent, depth, messages, m);
            return;
        }
        for (call, _) in calls {
            let said = json!({"tool": call.name, "arguments": serde_json::from_str::<Value>(&call.arguments).unwrap_or(Value::Null)}).to_string();
            let m = Message::Assistant {
                content: said,
                tool_calls: Vec::new(),
            };
            self.push(agent, depth, messages, m);
        }
    }

    /// Appends the calls' results: tool messages, or plain-text results for schema mode
    /// (which needs nothing from the chat template).
    fn record_outputs(
        &self,
        agent: &AgentDefinition,
        depth: u32,
        messages: &mut Vec<Message>,
        calls: &[(ToolCall, &'static str)],
        outputs: Vec<(ToolOutput, bool)>,
    ) {
        let native = calls.iter().all(|(_, via)| *via != "schema");
        for ((call, _), (out, _)) in calls.iter().zip(outputs) {
            let m = if native {
                Message::Tool {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: out.content,
                    is_error: out.is_error,
                }
            } else {
                let label = if out.is_error {
                    "Error from"
                } else {
                    "Result of"
                };
                Message::User {
                    content: format!("{label} {}:\n{}", call.name, out.content),
                }
            };
            self.push(agent, depth, messages, m);
        }
    }

    /// Makes each pending call again (resume); returns what the model is told about them.
    async fn redo_pending(
        &self,
        main: &AgentDefinition,
        model: &str,
        pending: &[crate::session::PendingCall],
        depth: u32,
    ) -> String {
        let mut report = String::from(
            "[agentops] High-risk changes that were waiting for approval have been made again through the gates and the approver:\n",
        );
        for p in pending {
            // The call is made as the agent that made it (its rules, its field manager).
            let (agent, at) = match self.agents.iter().find(|a| a.name == p.agent) {
                Some(a) if a.name != main.name => (a.clone(), depth + 1),
                _ => (main.clone(), depth),
            };
            let offer = self.offer(&agent, at);
            let call = ToolCall {
                id: format!("resume_{}", p.id),
                name: p.tool.clone(),
                arguments: p.input.to_string(),
            };
            let (out, _) = self
                .execute(&agent, model, &(call, "resume"), &offer, at)
                .await;
            let (content, _) = cap(&out.content, 4000);
            report.push_str(&format!(
                "- {} ({} {}): {}\n{}\n",
                p.id,
                p.tool,
                p.input,
                if out.is_error { "NOT done" } else { "done" },
                content
            ));
        }
        report
    }

    /// Replaces older turns with a summary written by the model. The agent's instructions
    /// (the system prompt) and the latest tool calls with their results stay verbatim.
    /// `trigger` is `auto` (the conversation grew past `compact_at_tokens`) or `manual`.
    pub async fn compact(
        &self,
        agent: &AgentDefinition,
        model: &str,
        messages: Vec<Message>,
        trigger: &str,
    ) -> Result<Vec<Message>, RunError> {
        let (system, rest): (Vec<Message>, Vec<Message>) = messages
            .into_iter()
            .partition(|m| matches!(m, Message::System { .. }));
        let keep_from = compaction_tail(&rest);
        if keep_from == 0 {
            let mut all = system;
            all.extend(rest);
            return Ok(all);
        }
        let (older, tail) = rest.split_at(keep_from);
        self.hook(
            agent,
            "PreCompact",
            None,
            json!({"trigger": trigger, "custom_instructions": ""}),
        )
        .await;
        let mut transcript = String::new();
        for m in older {
            let (who, text) = match m {
                Message::System { content } => ("system", content.clone()),
                Message::User { content } => ("user", content.clone()),
                Message::Assistant {
                    content,
                    tool_calls,
                } => {
                    let calls: Vec<String> = tool_calls
                        .iter()
                        .map(|c| format!("{}({})", c.name, c.arguments))
                        .collect();
                    ("assistant", format!("{content} {}", calls.join(" ")))
                }
                Message::Tool { name, content, .. } => ("tool", format!("{name}: {content}")),
            };
            let (text, _) = cap(&text, 2000);
            transcript.push_str(&format!("[{who}] {}\n", text.trim()));
        }
        let request = ChatRequest {
            model: model.to_string(),
            messages: vec![
                Message::System {
                    content: COMPACT_INSTRUCTIONS.to_string(),
                },
                Message::User {
                    content: transcript,
                },
            ],
            tools: Vec::new(),
            response_schema: None,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
        };
        let reply = self
            .retry
            .run(|_| self.provider.complete(&request, &|_| {}), |_, _, _| {})
            .await?;
        let cost = self.prices.cost(model, reply.usage);
        if let Ok(mut totals) = self.totals.lock() {
            totals.usage.add(reply.usage);
            totals.cost_usd += cost.unwrap_or(0.0);
        }
        let mut kept = vec![Message::User {
            content: format!(
                "[Summary of the earlier part of this session]\n{}",
                reply.text.trim()
            ),
        }];
        kept.extend_from_slice(tail);
        self.events.emit(Event::Compacted {
            agent: agent.name.clone(),
            summarized: older.len(),
            messages: kept.clone(),
        });
        let mut all = system;
        all.extend(kept);
        Ok(all)
    }
}

const COMPACT_INSTRUCTIONS: &str = "You compress a working session between a platform engineer and an agent so the agent can go on from the summary alone. Write a concise summary: the goal, what was done (files changed, commands run, their results), decisions and approvals, errors and how they were resolved, and what is still open. Keep exact file paths, resource names, values and ids. No preamble.";

/// Where the verbatim tail of a compacted conversation starts: at the last assistant turn that
/// called tools (its results follow it), else the last two messages. 0: nothing to compact.
fn compaction_tail(rest: &[Message]) -> usize {
    let last_calls = rest.iter().rposition(
        |m| matches!(m, Message::Assistant { tool_calls, .. } if !tool_calls.is_empty()),
    );
    let from = last_calls.unwrap_or(rest.len().saturating_sub(2));
    // The tail must not begin with a tool result cut off from its call.
    let mut from = from;
    while from > 0 && matches!(rest[from], Message::Tool { .. }) {
        from -= 1;
    }
    from
}

/// A rough token count (4 bytes a token) to decide when to compact.
fn estimate_tokens(messages: &[Message]) -> u64 {
    let bytes: usize = messages
        .iter()
        .map(|m| match m {
            Message::System { content } | Message::User { content } => content.len(),
            Message::Assistant {
                content,
                tool_calls,
            } => content.len() + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>(),
            Message::Tool { content, .. } => content.len(),
        })
        .sum();
    (bytes / 4) as u64
}

/// How a run of an agent begins.
struct Start {
    history: Vec<Message>,
    pending: Vec<crate::session::PendingCall>,
    prompt: String,
}

impl Start {
    fn fresh(prompt: String) -> Self {
        Self {
            history: Vec::new(),
            pending: Vec::new(),
            prompt,
        }
    }
}

/// Arguments in a canonical form (key order and spacing do not matter).
fn normalized_args(arguments: &str) -> String {
    serde_json::from_str::<Value>(arguments)
        .map_or_else(|_| arguments.trim().to_string(), |v| v.to_string())
}

/// `Task` is Claude Code's older name for `Agent`.
fn canonical(name: &str) -> &str {
    if name == "Task" { AGENT_TOOL } else { name }
}

/// Keeps the head and tail of a long tool result, cut on character boundaries.
pub fn cap(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let head_len = max * 3 / 4;
    let tail_len = max - head_len;
    let mut head_end = head_len;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - tail_len;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let omitted = tail_start - head_end;
    (
        format!(
            "{}\n[… {omitted} bytes omitted; ask for a narrower result …]\n{}",
            &text[..head_end],
            &text[tail_start..]
        ),
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_head_and_tail_on_char_boundaries() {
        let text = "é".repeat(100);
        let (out, truncated) = cap(&text, 51);
        assert!(truncated);
        assert!(out.contains("bytes omitted"));
        assert!(out.starts_with('é') && out.ends_with('é'));
        assert_eq!(cap("short", 10), ("short".to_string(), false));
    }
}
