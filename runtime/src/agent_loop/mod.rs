//! The agent loop: an agent definition plus a prompt become model turns and tool calls until a
//! final answer, a turn or budget limit, or a provider failure after retries.
//!
//! One [`Engine`] serves a whole run, the main agent and the subagents it delegates to through
//! the `Agent` tool (alias `Task`); usage and cost are accounted across all of them. Every
//! call is checked against the permission rules here; calls that change files, history or
//! clusters go through `guard` onto the gated-change service ([`crate::change`]).
//!
//! Submodules by concern: `offer` (tools and system prompt), `dispatch` (one call:
//! validation, hooks, permissions), `guard` (risk classes onto the change service),
//! `hooks`, `delegation`, `compaction`, `builder`.

use crate::approval::ApprovalRequest;
use crate::change::ChangeService;
use crate::config::{Limits, ProviderKind, ToolMode};
use crate::cost::PriceTable;
use crate::events::{CallVia, Event, EventSink};
use crate::model::retry::{Escalation, RetryPolicy};
use crate::model::{ChatRequest, Delta, Message, ModelTurn, Provider, ToolCall, ToolDef, Usage};
use crate::permissions::{Denial, Permissions};
use crate::tool_mode::{self, Step};
use agentops_agents::AgentDefinition;
use agentops_tools::{ToolContext, ToolOutput, ToolRegistry};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

mod builder;
mod compaction;
mod delegation;
mod dispatch;
mod guard;
mod hooks;
mod offer;
pub mod skills;

pub use crate::change::{ApprovalRecord, GateRecord};
pub use builder::EngineBuilder;
use compaction::estimate_tokens;
use offer::Offer;

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
    /// The run's model requests reached `[limits] max_requests`.
    Requests { used: u32, limit: u32 },
    /// The model kept repeating calls that had failed (`calls`: tool and arguments).
    Stuck { calls: Vec<String> },
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
                | Stop::Requests { .. }
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
    /// Requests sent to the model (every attempt).
    pub requests: u32,
    /// Subagent runs started.
    pub subagents: u32,
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

impl Totals {
    /// What happened after `before` was taken (one turn of an interactive session): usage,
    /// cost and turns as differences, records as the ones added since; pending approvals and
    /// a hook's stop as they are now (each turn starts without them).
    pub fn since(&self, before: &Totals) -> Totals {
        fn tail<T: Clone>(now: &[T], before: &[T]) -> Vec<T> {
            now.get(before.len()..).unwrap_or_default().to_vec()
        }
        Totals {
            usage: Usage {
                input_tokens: self
                    .usage
                    .input_tokens
                    .saturating_sub(before.usage.input_tokens),
                output_tokens: self
                    .usage
                    .output_tokens
                    .saturating_sub(before.usage.output_tokens),
            },
            cost_usd: (self.cost_usd - before.cost_usd).max(0.0),
            turns: self.turns.saturating_sub(before.turns),
            requests: self.requests.saturating_sub(before.requests),
            subagents: self.subagents.saturating_sub(before.subagents),
            unpriced_models: self.unpriced_models.clone(),
            permission_denials: tail(&self.permission_denials, &before.permission_denials),
            gates: tail(&self.gates, &before.gates),
            pending_approvals: self.pending_approvals.clone(),
            approvals: tail(&self.approvals, &before.approvals),
            hook_stop: self.hook_stop.clone(),
        }
    }
}

/// Everything a run needs. Built with [`Engine::builder`]; front ends change only what a
/// session or a turn changes (rules, hooks, the target environment, the session log).
pub struct Engine {
    provider: Arc<dyn Provider>,
    provider_name: String,
    provider_kind: ProviderKind,
    tool_mode: ToolMode,
    retry: RetryPolicy,
    /// The model used when an agent says `inherit` or nothing.
    default_model: String,
    /// `sonnet` → an id, from `[models.aliases]`.
    aliases: BTreeMap<String, String>,
    prices: PriceTable,
    limits: Limits,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    tools: ToolRegistry,
    tool_ctx: ToolContext,
    /// Allow/ask/deny rules. A headless run has nobody to ask: `ask` is refused.
    permissions: Permissions,
    /// Agents a run may delegate to.
    agents: Vec<AgentDefinition>,
    /// Appended to every system prompt (repository, branch, target).
    environment: String,
    /// The main agent's memory section (CLAUDE.md, AGENTS.md, rules without `paths:`).
    memory: String,
    /// Rules with `paths:`: each joins a tool result the first time a matching file is used.
    rules: crate::memory::Rules,
    /// The scoped rules already delivered in this engine's runs.
    rules_delivered: Mutex<Vec<String>>,
    /// Schema mode: the steps the facts read off this run's request (tool, arguments). A
    /// call of the main agent to the same tool that agrees with one on every argument it
    /// gives gets the arguments it left out from it (small models drop optional fields).
    suggested: Mutex<Vec<(String, Value)>>,
    /// Skills the model may load with the `Skill` tool.
    skills: Vec<agentops_commands::CommandDefinition>,
    /// `$1` or `$0` first, for skills' arguments.
    positional_base: usize,
    events: EventSink,
    /// Every change goes through it: gates, risk, approval, write (and its ledger).
    changes: Arc<ChangeService>,
    /// Hooks from the settings files (an agent's own frontmatter hooks join while it runs).
    hooks: crate::hooks::HookSet,
    /// The session log, for hooks' `transcript_path`.
    transcript: Option<std::path::PathBuf>,
    /// `--tools`: the only tools offered (`None`: all).
    only_tools: Option<Vec<String>>,
    totals: Mutex<Totals>,
}

impl Engine {
    /// Clears what stopped the last turn (pending approvals, a hook's stop) so an
    /// interactive session can go on; usage, cost and records keep adding up.
    pub fn next_turn(&self) {
        if let Ok(mut totals) = self.totals.lock() {
            totals.hook_stop = None;
        }
        self.changes.clear_pending();
    }

    /// Usage, spend, refusals and what the change service decided, so far.
    pub fn totals(&self) -> Totals {
        let mut totals = self.totals.lock().map(|t| t.clone()).unwrap_or_default();
        let ledger = self.changes.ledger();
        totals.gates = ledger.gates;
        totals.approvals = ledger.approvals;
        totals.pending_approvals = ledger.pending;
        totals
    }

    /// The model used when an agent names none.
    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    pub fn provider_name(&self) -> &str {
        &self.provider_name
    }

    /// The rules and hooks of one turn (the REPL: a command's `allowed-tools` and hooks).
    pub fn set_rules(&mut self, permissions: Permissions, hooks: crate::hooks::HookSet) {
        self.permissions = permissions;
        self.hooks = hooks;
    }

    /// What every system prompt is told about the repository and target.
    pub fn set_environment(&mut self, environment: String) {
        self.environment = environment;
    }

    /// Records from now on into another session (the REPL's `/clear`, `/resume`).
    pub fn attach_session(
        &mut self,
        events: EventSink,
        session_id: &str,
        transcript: Option<std::path::PathBuf>,
    ) {
        self.events = events.with_secrets(self.tool_ctx.secrets.clone());
        self.tool_ctx.session_id = session_id.to_string();
        self.transcript = transcript;
    }

    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Values this workspace makes secret (the result object is redacted with them too).
    pub fn secrets(&self) -> std::sync::Arc<agentops_tools::redact::KnownSecrets> {
        self.tool_ctx.secrets.clone()
    }

    /// The permission rules and hooks as they are (the REPL keeps them to add a command's).
    pub fn rules(&self) -> (&Permissions, &crate::hooks::HookSet) {
        (&self.permissions, &self.hooks)
    }

    /// Adds a command's frontmatter hooks; returns what they warned about.
    pub fn add_hooks(
        &mut self,
        hooks: &agentops_agents::hooks::Hooks,
        source: &str,
    ) -> Vec<String> {
        self.hooks.add(hooks, source)
    }

    /// Goes on with a session read back from its log: says so (a `resumed` event) and, with
    /// `compact`, replaces its older turns by a summary first. Returns the conversation to
    /// resume with (pending approvals are made again by [`Engine::resume`]).
    pub async fn resumed(
        &self,
        agent: &AgentDefinition,
        r: crate::session::Resumption,
        model: Option<&str>,
        compact: bool,
    ) -> Result<Vec<Message>, RunError> {
        self.events.emit(Event::Resumed {
            agent: agent.name.clone(),
            pending: r.pending.iter().map(|p| p.id.clone()).collect(),
            interrupted_calls: r.interrupted_calls.clone(),
        });
        if !compact {
            return Ok(r.messages);
        }
        let model = self.model_for(agent, model);
        self.compact(agent, &model, r.messages, "manual").await
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

    fn run_at(
        &self,
        agent: &AgentDefinition,
        start: Start,
        model: String,
        depth: u32,
    ) -> BoxFuture<'_, Result<AgentRun, RunError>> {
        let agent = agent.clone();
        async move {
            let mut offer = self.offer(&agent, depth);
            // "Do not change anything": the person said so; the run cannot.
            if depth == 0 && start.history.is_empty() && crate::route::forbids_change(&start.prompt)
            {
                offer = self.read_only(offer);
            }
            self.events.emit(Event::AgentStarted {
                agent: agent.name.clone(),
                model: model.clone(),
                provider: self.provider_name.clone(),
                tool_mode: self.tool_mode,
                depth,
                tools: offer.names(),
            });
            let mut messages = match self.opening(&agent, start, &model, &offer, depth).await {
                Ok(messages) => messages,
                Err(reason) => {
                    let stop = Stop::Hook {
                        event: "UserPromptSubmit".into(),
                        reason: reason.clone(),
                    };
                    return Ok(self.finish(&agent, depth, 0, reason, stop));
                }
            };
            let mut stop_hook_active = false;
            let max_turns = agent
                .max_turns
                .map_or(self.limits.max_turns, |t| t.min(self.limits.max_turns))
                .max(1);
            let mut last_text = String::new();
            let mut previous_calls: Vec<(String, String)> = Vec::new();
            // Tools left out of the next schema-mode step: the ones just called again with
            // the same arguments. A small model that loops on one call is told so and then
            // cannot generate that call again, so its next step is a different one.
            let mut barred: Vec<String> = Vec::new();
            let mut rounds = Rounds::default();
            for turn in 1..=max_turns {
                if let Some(stop) = self.global_stop() {
                    return Ok(self.finish(&agent, depth, turn - 1, last_text, stop));
                }
                let too_long = self
                    .limits
                    .compact_at_tokens
                    .is_some_and(|limit| limit > 0 && estimate_tokens(&messages) > limit);
                if depth == 0 && too_long {
                    messages = self.compact(&agent, &model, messages, "auto").await?;
                }
                let reply = self
                    .model_turn(&agent, &model, &messages, &offer, turn, &barred)
                    .await?;
                let (text, mut calls) = self.interpret(&agent, reply, &offer);
                if depth == 0 {
                    for (call, via) in &mut calls {
                        if *via == CallVia::Schema {
                            self.complete(&agent, call);
                        }
                    }
                }
                if !text.is_empty() {
                    last_text = text.clone();
                }
                if calls.is_empty() {
                    let answer = Message::Assistant {
                        content: text.clone(),
                        tool_calls: Vec::new(),
                    };
                    self.push(&agent, depth, &mut messages, answer);
                    // A small model that answers a change request at once, having changed
                    // nothing, is told so once, with the step the request spells out.
                    if depth == 0
                        && turn == 1
                        && turn < max_turns
                        && let Some(note) = self.unmade_change_note()
                    {
                        self.push(
                            &agent,
                            depth,
                            &mut messages,
                            Message::User { content: note },
                        );
                        continue;
                    }
                    let sent_back = self
                        .stop_hook(&agent, depth, &text, stop_hook_active)
                        .await
                        .filter(|_| turn < max_turns && self.global_stop().is_none());
                    if let Some(note) = sent_back {
                        stop_hook_active = true;
                        self.push(
                            &agent,
                            depth,
                            &mut messages,
                            Message::User { content: note },
                        );
                        continue;
                    }
                    let stop = self.global_stop().unwrap_or(Stop::Final);
                    return Ok(self.finish(&agent, depth, turn, text, stop));
                }
                let signature = signature(&calls);
                self.record_calls(&agent, depth, &mut messages, text, &calls);
                let again = signature == previous_calls;
                barred = if again {
                    signature.iter().map(|(name, _)| name.clone()).collect()
                } else {
                    Vec::new()
                };
                let outputs = if again {
                    repeated(&calls)
                } else {
                    let mut started = 0;
                    let runs = calls.iter().map(|call| {
                        let delegation = canonical(&call.0.name) == AGENT_TOOL;
                        started += u32::from(delegation);
                        let over = delegation && started > self.limits.max_subagents_per_turn;
                        self.execute_within(&agent, &model, call, &offer, depth, over)
                    });
                    join_all(runs).await
                };
                let failed = outputs.iter().all(|(o, _)| o.is_error);
                let stuck = rounds.push(signature.clone(), failed, self.limits.max_repeats);
                previous_calls = signature;
                self.record_outputs(&agent, depth, &mut messages, &calls, outputs);
                if let Some(calls) = stuck {
                    return Ok(self.finish(&agent, depth, turn, last_text, Stop::Stuck { calls }));
                }
            }
            let stop = Stop::TurnLimit { limit: max_turns };
            Ok(self.finish(&agent, depth, max_turns, last_text, stop))
        }
        .boxed()
    }

    /// The conversation a run starts with: system prompt, history, and the prompt — after
    /// the UserPromptSubmit hooks (`Err`: one refused it) and the report on pending calls
    /// made again.
    async fn opening(
        &self,
        agent: &AgentDefinition,
        start: Start,
        model: &str,
        offer: &Offer,
        depth: u32,
    ) -> Result<Vec<Message>, String> {
        let mut messages = vec![Message::System {
            content: self.system_prompt(agent, offer, depth),
        }];
        let fresh = start.history.is_empty();
        messages.extend(start.history);
        let mut prompt = start.prompt;
        if depth == 0 {
            self.suggest(Vec::new());
        }
        if depth == 0
            && fresh
            && let Some(facts) = self.facts_for(agent, offer, &prompt).await
        {
            prompt.push_str(&facts);
        }
        if depth == 0 {
            let said = self
                .hook(agent, "UserPromptSubmit", None, json!({"prompt": prompt}))
                .await;
            if let Some(reason) = said.blocked {
                return Err(reason);
            }
            for context in said.context {
                prompt.push_str(&format!("\n\n{context}"));
            }
        }
        if !start.pending.is_empty() {
            let report = self.redo_pending(agent, model, &start.pending, depth).await;
            prompt = format!("{report}\n{prompt}");
        }
        self.push(
            agent,
            depth,
            &mut messages,
            Message::User { content: prompt },
        );
        Ok(messages)
    }

    /// Schema mode (a small model): the rendered fields the request is most likely about, as
    /// harmonize paths with each overlay's value and source line, so the model copies a path
    /// instead of guessing one. Only for agents offered `find` or `harmonize`, and only where the
    /// permission rules let `find` show every overlay (a `Read` deny inside the repository
    /// turns it off); redacted like a tool result.
    async fn facts_for(
        &self,
        agent: &AgentDefinition,
        offer: &Offer,
        request: &str,
    ) -> Option<String> {
        // The facts are paths and steps for these tools, and renders for those that read them.
        const USERS: &[&str] = &["find", "harmonize", "create_app", "add_object"];
        const READERS: &[&str] = &["kustomize_build", "validate"];
        let offers = |names: &[&str]| offer.defs.iter().any(|d| names.contains(&d.name.as_str()));
        if self.tool_mode != ToolMode::Schema || !(offers(USERS) || offers(READERS)) {
            return None;
        }
        let mode = self.permissions.mode_of(agent);
        let allowed =
            self.permissions
                .check_in("find", &json!({}), agentops_tools::Risk::ReadOnly, mode);
        if !matches!(allowed, crate::permissions::Decision::Allow) {
            return None;
        }
        let root = self
            .tool_ctx
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.tool_ctx.root.clone());
        let overlays = if offers(READERS) {
            self.overlay_facts(&root, request).await
        } else {
            None
        };
        // A question about an overlay it names (a review, an explanation) is answered from
        // that overlay's digest; fields of every overlay would only distract.
        let about_overlay = overlays.is_some() && crate::route::is_question(request);
        let paths = if offers(USERS) && !about_overlay {
            self.path_facts(offer, request, &root).await
        } else {
            None
        };
        match (overlays, paths) {
            (None, None) => None,
            (a, b) => Some(format!(
                "{}{}",
                a.unwrap_or_default(),
                b.unwrap_or_default()
            )),
        }
    }

    /// What a main agent hears when it answers before its first tool call while a step was
    /// suggested for the request (`None`: no step was).
    fn unmade_change_note(&self) -> Option<String> {
        let suggested = self.suggested.lock().ok()?;
        let (tool, args) = suggested.first()?;
        Some(format!(
            "[agentops: nothing has been changed yet: no tool was called. If the request asks for a change, make it now with this step: {{\"tool\": \"{tool}\", \"arguments\": {args}}}. If it asks for no change, give your answer again.]"
        ))
    }

    fn suggest(&self, steps: Vec<(String, Value)>) {
        if let Ok(mut suggested) = self.suggested.lock() {
            *suggested = steps;
        }
    }

    /// A schema-mode call completed from the suggested step it agrees with: every argument it
    /// gives has the step's value, and what it left out is taken from the step (said in an
    /// event). The call still goes through the rules, gates and approvals like any other.
    fn complete(&self, agent: &AgentDefinition, call: &mut ToolCall) {
        let Ok(suggested) = self.suggested.lock() else {
            return;
        };
        let Ok(Value::Object(mut given)) = serde_json::from_str::<Value>(&call.arguments) else {
            return;
        };
        let agrees = |step: &serde_json::Map<String, Value>| {
            given.iter().all(|(k, v)| match (step.get(k), v) {
                (None, _) | (_, Value::Null) => true,
                (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
                (Some(a), b) => a == b,
            }) && given.keys().any(|k| step.contains_key(k))
        };
        let Some(step) = suggested
            .iter()
            .filter(|(tool, _)| *tool == call.name)
            .filter_map(|(_, args)| args.as_object())
            .find(|step| agrees(step))
        else {
            return;
        };
        let mut filled = Vec::new();
        for (k, v) in step {
            if given.get(k).is_none_or(Value::is_null) {
                given.insert(k.clone(), v.clone());
                filled.push(format!("{k}={v}"));
            }
        }
        if filled.is_empty() {
            return;
        }
        self.events.emit(Event::Warning {
            agent: agent.name.clone(),
            message: format!(
                "{}: filled in from the request what the call left out: {}",
                call.name,
                filled.join(", ")
            ),
        });
        call.arguments = Value::Object(given).to_string();
    }

    /// What each overlay the request names by its path renders (a digest of every object)
    /// and what the policy checks say about it: a review or an explanation starts from facts.
    async fn overlay_facts(&self, root: &std::path::Path, request: &str) -> Option<String> {
        const OVERLAYS: usize = 2;
        const OBJECTS: usize = 25;
        let named: Vec<(std::path::PathBuf, String)> = agentops_tools::find::leaves(root)
            .into_iter()
            .filter_map(|leaf| {
                let rel = leaf.strip_prefix(root).ok()?.to_string_lossy().into_owned();
                let whole = request.match_indices(rel.as_str()).any(|(at, _)| {
                    let before = request[..at].chars().next_back();
                    let after = request[at + rel.len()..].chars().next();
                    let edge = |c: Option<char>| {
                        c.is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
                    };
                    !rel.is_empty()
                        && edge(after)
                        && before.is_none_or(|c| c != '/' && edge(Some(c)))
                });
                whole.then_some((leaf, rel))
            })
            .take(OVERLAYS)
            .collect();
        let mut text = String::new();
        for (leaf, rel) in named {
            let Ok(objects) = agentops_tools::kustomize::render(&leaf, self.tool_ctx.timeout)
                .await
                .and_then(|y| agentops_tools::kustomize::parse_objects(&y))
            else {
                continue;
            };
            let findings: Vec<String> =
                crate::policy::check(self.changes.gate().policy(), &rel, &objects)
                    .into_iter()
                    .map(|f| format!("- {} [{}] {}: {}", f.severity, f.rule, f.object, f.message))
                    .collect();
            text.push_str(&format!(
                "\n\n[agentops: what {rel} renders now (kubectl kustomize), object by object:]\n{}[agentops: the policy checks on {rel}:]\n{}\n",
                agentops_tools::digest::digest(&objects, OBJECTS),
                if findings.is_empty() {
                    "- no findings".to_string()
                } else {
                    findings.join("\n")
                }
            ));
        }
        (!text.is_empty()).then(|| self.tool_ctx.secrets.redact_text(&text))
    }

    /// The rendered fields the request is about, as harmonize paths, and the steps the
    /// request spells out (see [`Self::facts_for`]).
    async fn path_facts(
        &self,
        offer: &Offer,
        request: &str,
        root: &std::path::Path,
    ) -> Option<String> {
        let root = root.to_path_buf();
        let fields = agentops_tools::find::rendered_fields(&root, self.tool_ctx.timeout).await;
        let question = crate::route::is_question(request);
        // A new object or a new app has no path yet: the one step the request spells out (a
        // deny-all NetworkPolicy for add_object, a scaffold for create_app).
        let overlays: std::collections::BTreeSet<&str> =
            fields.iter().map(|f| f.overlay.as_str()).collect();
        type Reader = fn(&str, &std::collections::BTreeSet<&str>) -> Option<Value>;
        let new_things: [(&str, &str, &str, Reader); 2] = [
            (
                "add_object",
                "this new object",
                "adds it",
                agentops_tools::suggest::network_policy,
            ),
            (
                "create_app",
                "a new app",
                "makes it",
                agentops_tools::suggest::create,
            ),
        ];
        for (tool, what, does, read) in new_things {
            if question || !offer.defs.iter().any(|d| d.name == tool) {
                continue;
            }
            if let Some(step) = read(request, &overlays) {
                self.suggest(vec![(tool.to_string(), step.clone())]);
                return Some(self.tool_ctx.secrets.redact_text(&format!(
                    "\n\n[agentops: read off this request. If it asks for {what}, this step {does}: {{\"tool\": \"{tool}\", \"arguments\": {step}}}]\n"
                )));
            }
        }
        let found = agentops_tools::find::relevant(&fields, request, FACTS_LIMIT);
        let harmonize = offer.defs.iter().any(|d| d.name == "harmonize");
        // What no overlay has yet (a label, a container's resources) has no path to find:
        // the steps that add it, read off the request.
        let adds = if harmonize && !question {
            agentops_tools::suggest::adds(&fields, request)
        } else {
            Vec::new()
        };
        self.suggest(
            adds.iter()
                .map(|a| ("harmonize".to_string(), a.clone()))
                .collect(),
        );
        if found.is_empty() && adds.is_empty() {
            return None;
        }
        tracing::debug!(
            paths = found.len(),
            adds = adds.len(),
            "facts for the first request"
        );
        let mut text = agentops_tools::find::describe(&root, &found, FACTS_LIMIT);
        // A question gets the values to quote, not an invitation to change them (a 1.5B model
        // asked "how many replicas in prod?" copied a path into harmonize).
        let header = if question {
            "what the rendered overlays hold now, found for this question: answer with these values"
        } else if !adds.is_empty() {
            text.push_str(
                "If the request asks for this, these steps make it, one harmonize call each, in this order:\n",
            );
            for step in &adds {
                text.push_str(&format!(
                    "{{\"tool\": \"harmonize\", \"arguments\": {step}}}\n"
                ));
            }
            "what the rendered overlays hold now, found for this request. What they do not have yet, harmonize adds (a label as a kustomization `labels:` entry, a missing field as a patch)"
        } else {
            if harmonize && let Some(call) = agentops_tools::find::suggested_call(&found, request) {
                text.push_str(&format!(
                    "If the request asks for this change, this step makes it: {{\"tool\": \"harmonize\", \"arguments\": {call}}}\n"
                ));
                if let Ok(args) = serde_json::from_str::<Value>(&call) {
                    self.suggest(vec![("harmonize".to_string(), args)]);
                }
            }
            "what the rendered overlays hold now, found for this request. To change one, pass its path to harmonize with the new value after `=`; to answer, quote the values"
        };
        Some(
            self.tool_ctx
                .secrets
                .redact_text(&format!("\n\n[agentops: {header}.]\n{text}")),
        )
    }

    /// A Stop hook (SubagentStop for a subagent) may send the agent back to work: the note
    /// it gets when one does.
    async fn stop_hook(
        &self,
        agent: &AgentDefinition,
        depth: u32,
        text: &str,
        active: bool,
    ) -> Option<String> {
        let event = if depth == 0 { "Stop" } else { "SubagentStop" };
        let input =
            json!({"stop_hook_active": active, "agent_type": agent.name, "last_message": text});
        let said = self.hook(agent, event, None, input).await;
        said.blocked
            .map(|reason| format!("[{event} hook] {reason}"))
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
        if totals.requests >= self.limits.max_requests.max(1) {
            return Some(Stop::Requests {
                used: totals.requests,
                limit: self.limits.max_requests.max(1),
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

    /// One model call with retries; accounts usage and cost. In schema mode the step's
    /// schema leaves out the `barred` tools.
    async fn model_turn(
        &self,
        agent: &AgentDefinition,
        model: &str,
        messages: &[Message],
        offer: &Offer,
        turn: u32,
        barred: &[String],
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
            response_schema: schema_mode.then(|| {
                let allowed: Vec<ToolDef> = offer
                    .defs
                    .iter()
                    .filter(|d| !barred.iter().any(|b| canonical(b) == canonical(&d.name)))
                    .cloned()
                    .collect();
                tool_mode::step_schema(&allowed)
            }),
            max_tokens: self.max_tokens,
            temperature: self.temperature,
        };
        let name = agent.name.clone();
        let events = self.events.clone();
        // Whether this attempt has streamed anything a consumer showed (a failed attempt's
        // text is then withdrawn by the `retry` event).
        let streamed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = streamed.clone();
        // In schema mode the streamed text is JSON, not an answer: it is not forwarded.
        let on_delta = move |d: Delta| match d {
            Delta::Text(text) if !schema_mode => {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
                events.emit(Event::TextDelta {
                    agent: name.clone(),
                    text,
                })
            }
            Delta::Reasoning(text) => {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
                events.emit(Event::ReasoningDelta {
                    agent: name.clone(),
                    text,
                })
            }
            Delta::Text(_) => {}
        };
        let reply = self
            .retry
            .run(
                |attempt| {
                    if let Ok(mut totals) = self.totals.lock() {
                        totals.requests += 1;
                    }
                    streamed.store(false, std::sync::atomic::Ordering::Relaxed);
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
                        discard_deltas: streamed.load(std::sync::atomic::Ordering::Relaxed),
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
    ) -> (String, Vec<(ToolCall, CallVia)>) {
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
                        CallVia::Schema,
                    )],
                ),
                Err(problem) => {
                    // An answer cut off by max_tokens keeps the text it has, not its raw JSON.
                    if let Some(text) = tool_mode::salvage_final(&reply.text) {
                        self.events.emit(Event::Warning {
                            agent: agent.name.clone(),
                            message:
                                "the answer was cut off (max_tokens); its text so far is the answer"
                                    .to_string(),
                        });
                        self.events.emit(Event::TextDelta {
                            agent: agent.name.clone(),
                            text: text.clone(),
                        });
                        return (text, Vec::new());
                    }
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
                .map(|c| (c, CallVia::Native))
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
            return (String::new(), vec![(call, CallVia::ContentJson)]);
        }
        (reply.text, Vec::new())
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
        calls: &[(ToolCall, CallVia)],
    ) {
        let native = calls.iter().all(|(_, via)| *via != CallVia::Schema);
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
        calls: &[(ToolCall, CallVia)],
        outputs: Vec<(ToolOutput, bool)>,
    ) {
        let native = calls.iter().all(|(_, via)| *via != CallVia::Schema);
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
                .execute(&agent, model, &(call, CallVia::Resume), &offer, at)
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

/// How many found paths the first request of a small model gets (see `facts_for`).
const FACTS_LIMIT: usize = 4;

/// The last rounds of calls, to see a model going round in circles: repeating the call it
/// just made, or cycling between a few calls that failed.
#[derive(Default)]
struct Rounds {
    recent: std::collections::VecDeque<(Vec<(String, String)>, bool)>,
    repeats: u32,
}

impl Rounds {
    /// Adds a round; `Some(calls)` when the model has repeated failed rounds `max` times in
    /// a row.
    fn push(
        &mut self,
        signature: Vec<(String, String)>,
        failed: bool,
        max: u32,
    ) -> Option<Vec<String>> {
        // A round made before, in a stretch of rounds where something failed: going round in
        // circles, also when a call that succeeds (a `learn`) sits between the failing ones.
        let seen = self.recent.iter().any(|(s, _)| *s == signature);
        let repeat = seen && (failed || self.recent.iter().any(|(s, f)| *f && *s != signature));
        self.repeats = if repeat { self.repeats + 1 } else { 0 };
        let calls = signature
            .iter()
            .map(|(name, args)| format!("{name} {args}"))
            .collect();
        self.recent.push_back((signature, failed));
        if self.recent.len() > 4 {
            self.recent.pop_front();
        }
        (max > 0 && self.repeats >= max).then_some(calls)
    }
}

/// The calls of a turn, comparable with the turn before's.
fn signature(calls: &[(ToolCall, CallVia)]) -> Vec<(String, String)> {
    calls
        .iter()
        .map(|(c, _)| {
            (
                canonical(&c.name).to_string(),
                normalized_args(&c.arguments),
            )
        })
        .collect()
}

/// The same calls as the turn before: small models loop like this instead of reading the
/// result. They are told so instead of being run again.
fn repeated(calls: &[(ToolCall, CallVia)]) -> Vec<(ToolOutput, bool)> {
    calls
        .iter()
        .map(|(c, _)| {
            let message = format!(
                "{} was just called with exactly these arguments; its result is in the previous message. Use it: take a different step or give your final answer.",
                c.name
            );
            (ToolOutput::error(message), false)
        })
        .collect()
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
    #[test]
    fn a_cycle_of_a_failing_call_and_a_useless_one_is_stuck() {
        let sig = |name: &str| vec![(name.to_string(), "{}".to_string())];
        let mut rounds = super::Rounds::default();
        // commit (fails: nothing to commit), learn (succeeds), commit, learn, ...
        let mut stuck = None;
        for i in 0..8 {
            let (name, failed) = if i % 2 == 0 {
                ("git_commit", true)
            } else {
                ("learn", false)
            };
            stuck = rounds.push(sig(name), failed, 3);
            if stuck.is_some() {
                assert!(i <= 5, "stopped late: {i}");
                break;
            }
        }
        assert!(stuck.is_some());
        // Polling that succeeds is not a circle.
        let mut rounds = super::Rounds::default();
        for i in 0..8 {
            let name = if i % 2 == 0 {
                "kubectl_get"
            } else {
                "git_status"
            };
            assert!(rounds.push(sig(name), false, 3).is_none());
        }
    }

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
