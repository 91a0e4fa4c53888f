//! `agentops run`: one headless run — a prompt or `/command args` — through the agent loop,
//! rendered as streamed text, NDJSON events (`stream-json`) or one JSON result (`json`).

use crate::cli::{OutputFormat, RunArgs};
use crate::exit::{CliResult, ExitCode, Failure};
use agentops_agents::AgentDefinition;
use agentops_agents::tools::{ToolSpec, parse_tool_list};
use agentops_commands::{Arguments, Route, route};
use agentops_runtime::approval::ApprovalDecision;
use agentops_runtime::config::ProviderKind;
use agentops_runtime::providers::{self, ResolvedProvider};
use agentops_runtime::review::ChangeGate;
use agentops_runtime::session::{self, SessionRecorder};
use agentops_runtime::{Engine, Event, EventSink, RunError, Stop, Totals, Workspace};
use agentops_tools::{ToolContext, ToolRegistry};
use serde_json::{Value, json};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Instant;

/// The main agent for free text.
const MAIN_AGENT: &str = "general-purpose";

/// Runs headless. Whatever goes wrong — a bad flag, a broken config, a provider that never
/// answers, SIGTERM — json and stream-json output still end with exactly one result object.
pub fn run(
    args: &RunArgs,
    open: impl FnOnce() -> Result<Workspace, Failure>,
    verbose: u8,
    sessions_dir: Option<&Path>,
) -> CliResult {
    let started = Instant::now();
    let outcome = open().and_then(|ws| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Failure::usage)?;
        let dir = sessions_dir.map_or_else(|| session::sessions_dir(&ws.root), Path::to_path_buf);
        runtime.block_on(run_async(args, &ws, verbose, &dir))
    });
    match outcome {
        Err(failure) if args.output_format != OutputFormat::Text => {
            let result = json!({
                "type": "result",
                "outcome": "error",
                "exit_code": failure.code as u8,
                "session_id": Value::Null,
                "turns": 0,
                "usage": {"input_tokens": 0, "output_tokens": 0},
                "cost_usd": 0.0,
                "duration_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "permission_denials": [],
                "gates": [],
                "pending_approvals": [],
                "approvals": [],
                "result": "",
                "error": format!("{:#}", failure.error),
            });
            eprintln!("agentops: error: {:#}", failure.error);
            crate::output::print(&format!("{result}\n"));
            Ok(failure.code)
        }
        other => other,
    }
}

/// What the input asks for, after routing and command expansion.
pub(crate) struct Plan {
    pub agent: AgentDefinition,
    pub prompt: String,
    pub model: Option<String>,
    /// The command's `allowed-tools`: allow rules while it runs.
    pub allowed: Vec<ToolSpec>,
    /// The command's frontmatter `hooks`, active while it runs.
    pub hooks: Option<agentops_agents::hooks::Hooks>,
    /// The slash command the input ran, if any (kept in the session for resume).
    pub command: Option<String>,
}

/// The session a run goes on with (`--continue`, `--resume`).
struct Previous {
    path: std::path::PathBuf,
    log: session::Log,
}

fn field<'a>(log: &'a session::Log, key: &str) -> Option<&'a str> {
    log.header.fields.get(key).and_then(Value::as_str)
}

fn plan(args: &RunArgs, ws: &Workspace, previous: Option<&Previous>) -> Result<Plan, Failure> {
    let mut input = args.prompt.join(" ");
    if input.trim().is_empty() && !std::io::stdin().is_terminal() {
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(Failure::usage)?;
    }
    if input.trim().is_empty() && previous.is_none() {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing to run: give a prompt, `/command args`, or pipe text on stdin"
        )));
    }
    // A resumed session keeps its agent and model unless the flags say otherwise.
    let resumed_agent = previous
        .and_then(|p| field(&p.log, "agent"))
        .map(str::to_string);
    let resumed_model = previous
        .and_then(|p| field(&p.log, "model"))
        .map(str::to_string);
    let default_agent = args.agent.clone().or(resumed_agent);
    let mut plan = route_input(
        ws,
        &input,
        args.agent.as_deref(),
        default_agent.as_deref(),
        args.model.as_deref(),
    )?;
    plan.model = plan.model.or(resumed_model);
    // The command a session was started with keeps its allow rules and hooks on resume.
    if let Some(p) = previous
        && plan.command.is_none()
        && let Some(name) = field(&p.log, "command")
    {
        let commands = ws.commands();
        if let Some(cmd) = commands.items.iter().find(|c| c.name == name) {
            plan.allowed = cmd.allowed_tools.clone().unwrap_or_default();
            plan.hooks = cmd.hooks.clone();
            plan.command = Some(cmd.name.clone());
        }
    }
    // The permission mode the session ran under is part of what it resumes.
    if let Some(p) = previous
        && args.agent.is_none()
        && let Some(mode) = p.log.header.fields.get("permission_mode")
        && let Ok(mode) = serde_json::from_value(mode.clone())
    {
        plan.agent.permission_mode = mode;
    }
    Ok(plan)
}

/// Routes one input — `/command args`, `@agent-NAME text` or free text — to its agent and
/// prompt. `agent_flag` wins over a command's agent; `default_agent` is for free text.
pub(crate) fn route_input(
    ws: &Workspace,
    input: &str,
    agent_flag: Option<&str>,
    default_agent: Option<&str>,
    model_flag: Option<&str>,
) -> Result<Plan, Failure> {
    let agents = ws.agents();
    let find = |name: &str| {
        agents.get(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = agents.items.iter().map(|a| a.name.as_str()).collect();
            Failure::usage(anyhow::anyhow!(
                "no agent named `{name}`; available: {}",
                names.join(", ")
            ))
        })
    };
    let mut hooks = None;
    let mut command = None;
    let (agent_name, prompt, model, allowed) = match route(input) {
        Route::Command { name, args: raw } => {
            let commands = ws.commands();
            let (cmd, expansion) = ws
                .render_command(&commands, &name, &Arguments::parse(&raw))
                .map_err(|e| match e {
                    agentops_runtime::RenderError::Resolve(e) => Failure::usage(e),
                    agentops_runtime::RenderError::Expand(e) => Failure::findings(e),
                })?;
            for w in &expansion.warnings {
                eprintln!("{}", w.display_with(&cmd.path));
            }
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
        agent: find(&agent_name)?,
        prompt,
        model: model_flag.map(str::to_string).or(model),
        allowed,
        hooks,
        command,
    })
}

pub(crate) fn environment(ws: &Workspace) -> String {
    let mut env = format!("- Repository: {}\n", ws.root.display());
    if ws.cwd != ws.root {
        env.push_str(&format!("- Working folder: {}\n", ws.cwd.display()));
    }
    if let Ok(head) = std::fs::read_to_string(ws.root.join(".git/HEAD"))
        && let Some(branch) = head.trim().strip_prefix("ref: refs/heads/")
    {
        env.push_str(&format!("- Branch: {branch}\n"));
    }
    env
}

/// Rules given on the command line, as a tool list (`"Bash(git diff:*),Read"`).
fn cli_rules(flag: &str, values: &[String]) -> Result<Vec<ToolSpec>, Failure> {
    let mut warnings = Vec::new();
    let specs = parse_tool_list(flag, &Value::String(values.join(",")), 0, &mut warnings)
        .unwrap_or_default();
    match warnings.iter().find(|w| w.code != "unknown-tool") {
        Some(w) => Err(Failure::usage(anyhow::anyhow!("--{flag}: {}", w.message))),
        None => Ok(specs),
    }
}

pub(crate) fn engine(
    ws: &Workspace,
    provider: ResolvedProvider,
    args: &RunArgs,
    plan: &Plan,
    events: EventSink,
    session_id: &str,
) -> Result<Engine, Failure> {
    let config = &ws.config;
    let mut engine = Engine::new(
        provider.provider,
        provider.name,
        provider.kind,
        provider.tool_mode,
        provider.retry,
        provider.model,
        ToolRegistry::builtin(),
        ToolContext {
            root: ws.root.clone(),
            cwd: ws.cwd.clone(),
            timeout: config.commands.shell_timeout(),
            session_id: session_id.to_string(),
            agent: plan.agent.name.clone(),
            // $KUBECONFIG, else ~/.kube/config; cluster tools always name their context.
            kubeconfig: ws.kubeconfig(),
            argocd: config.argocd.endpoint(&providers::process_env),
        },
        events,
    );
    engine.aliases = config.models.aliases.clone();
    engine.prices = agentops_runtime::cost::PriceTable::new(&config.prices);
    engine.limits = config.limits.clone();
    if let Some(turns) = args.max_turns {
        engine.limits.max_turns = turns;
    }
    if let Some(budget) = args.max_budget_usd {
        engine.limits.max_budget_usd = Some(budget);
    }
    engine.max_tokens = config.model.max_tokens;
    engine.temperature = config.model.temperature;
    engine.agents = ws.agents().items;
    engine.environment = environment(ws);
    let mut permissions = ws.permissions.clone();
    permissions.allow_specs(&plan.allowed, "the command's allowed-tools");
    permissions.allow_specs(
        &cli_rules("allowed-tools", &args.allowed_tools)?,
        "--allowed-tools",
    );
    permissions.deny_specs(
        &cli_rules("disallowed-tools", &args.disallowed_tools)?,
        "--disallowed-tools",
    );
    engine.permissions = permissions;
    let (mut hooks, warnings) =
        agentops_runtime::hooks::HookSet::load(&ws.root, ws.home.as_deref());
    for w in warnings {
        eprintln!("agentops: warning: {w}");
    }
    if let Some(command_hooks) = &plan.hooks {
        for w in hooks.add(command_hooks, "the command's frontmatter") {
            eprintln!("agentops: warning: {w}");
        }
    }
    engine.hooks = hooks;
    // Rendered results are keyed by their inputs' content: shared with `validate`.
    let render_cache = ws.home.as_ref().map_or_else(
        || ws.root.join(".agentops").join("cache").join("render"),
        |h| h.join(".cache").join("agentops").join("render"),
    );
    engine.gate = std::sync::Arc::new(ChangeGate::new(
        ws.root.clone(),
        ws.config.policy.clone(),
        Some(render_cache.clone()),
        std::time::Duration::from_secs(120),
    ));
    engine
        .tools
        .register(std::sync::Arc::new(agentops_runtime::gates::ValidateTool {
            policy: ws.config.policy.clone(),
            cache_dir: Some(render_cache),
        }));
    engine
        .tools
        .register(std::sync::Arc::new(agentops_runtime::drift::DriftTool));
    engine
        .tools
        .register(std::sync::Arc::new(agentops_tools::create::CreateTool {
            settings: crate::cmd_create::settings(ws),
        }));
    let approvals = crate::gated::approval_policy(args.approval_policy.as_deref(), &args.approve)?;
    // A person at a terminal is asked about what the rules leave open; anything else (CI,
    // pipes, json output) is decided by the rules alone.
    engine.approver = if asks_a_person(args) {
        std::sync::Arc::new(crate::gated::terminal_approver(approvals))
    } else {
        std::sync::Arc::new(approvals)
    };
    Ok(engine)
}

/// Finds the session `--continue`/`--resume` names.
fn previous(args: &RunArgs, dir: &Path) -> Result<Option<Previous>, Failure> {
    let path = match (&args.resume, args.continue_latest) {
        (Some(id), _) => session::index::find(dir, id),
        (None, true) => session::index::latest(dir),
        (None, false) => {
            if args.fork || args.compact {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--fork and --compact go with --continue or --resume ID"
                )));
            }
            return Ok(None);
        }
    }
    .map_err(Failure::usage)?;
    let log = session::read_log(&path).map_err(Failure::usage)?;
    Ok(Some(Previous { path, log }))
}

/// Interrupted by a signal: SIGTERM (CI cancelling a job) or SIGINT.
pub(crate) async fn terminated() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

async fn run_async(args: &RunArgs, ws: &Workspace, verbose: u8, dir: &Path) -> CliResult {
    let started = Instant::now();
    let previous = previous(args, dir)?;
    let plan = plan(args, ws, previous.as_ref())?;
    let provider = providers::resolve(
        &ws.config,
        &providers::process_env,
        args.provider.as_deref(),
        None,
    )
    .map_err(Failure::usage)?;
    if verbose > 0 {
        eprintln!(
            "agentops: provider {} ({}) at {}, model {}, tool mode {}",
            provider.name,
            match provider.kind {
                ProviderKind::Openai => "openai-compatible",
                ProviderKind::Anthropic => "anthropic",
            },
            provider.base_url,
            provider.model,
            serde_json::to_value(provider.tool_mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        );
    }
    let (recorder, resumption) =
        open_session(ws, dir, previous.as_ref(), args.fork, &plan, &provider)?;
    let session_id = recorder.as_ref().map_or_else(session_id, |r| r.id.clone());
    let (sink, mut rx) = EventSink::channel();
    let (sink, log) = match recorder {
        Some(r) => {
            let (sink, handle) = sink.recording(r);
            (sink, Some(handle))
        }
        None => (sink, None),
    };
    let mut engine = engine(ws, provider, args, &plan, sink.clone(), &session_id)?;
    engine.transcript = log.as_ref().and_then(|l| l.path());
    let format = args.output_format;
    let prompting = asks_a_person(args);
    let printer = tokio::spawn(async move {
        let mut printed_text = false;
        let mut ends_with_newline = true;
        while let Some(event) = rx.recv().await {
            // At a terminal the approval prompt itself shows the request.
            if !(prompting && matches!(event, Event::ApprovalRequested { .. })) {
                render(
                    &event,
                    format,
                    verbose,
                    &mut printed_text,
                    &mut ends_with_newline,
                );
            }
        }
        if format == OutputFormat::Text && printed_text && !ends_with_newline {
            crate::output::print("\n");
        }
    });
    let work = async {
        let source = if resumption.is_some() {
            "resume"
        } else {
            "startup"
        };
        let said = engine
            .hook(&plan.agent, "SessionStart", None, json!({"source": source}))
            .await;
        let mut prompt = plan.prompt.clone();
        for context in said.context {
            prompt.push_str(&format!("\n\n{context}"));
        }
        match resumption {
            None => {
                engine
                    .run(&plan.agent, &prompt, plan.model.as_deref())
                    .await
            }
            Some(r) => {
                for w in &r.warnings {
                    eprintln!("agentops: warning: {w}");
                }
                sink.emit(Event::Resumed {
                    agent: plan.agent.name.clone(),
                    pending: r.pending.iter().map(|p| p.id.clone()).collect(),
                    interrupted_calls: r.interrupted_calls.clone(),
                });
                let mut history = r.messages;
                // A session idle for long: a person may prefer to go on from a summary.
                let idle_hours = r.last_active_ms.map(|ms| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    now.saturating_sub(ms) / 3_600_000
                });
                let offer = !args.compact
                    && asks_a_person(args)
                    && history.len() > 4
                    && idle_hours.is_some_and(|h| h >= crate::repl::LONG_IDLE_HOURS);
                let from_summary = offer
                    && {
                        eprint!(
                            "This session was last active {} hours ago. Go on from a summary of it? [y/N] ",
                            idle_hours.unwrap_or(0)
                        );
                        let mut answer = String::new();
                        std::io::stdin().read_line(&mut answer).is_ok()
                            && matches!(answer.trim(), "y" | "Y" | "yes")
                    };
                if args.compact || from_summary {
                    let model = plan
                        .model
                        .clone()
                        .unwrap_or_else(|| engine.default_model.clone());
                    history = engine
                        .compact(&plan.agent, &model, history, "manual")
                        .await?;
                }
                engine
                    .resume(
                        &plan.agent,
                        history,
                        r.pending,
                        &prompt,
                        plan.model.as_deref(),
                    )
                    .await
            }
        }
    };
    let (result, signal) = tokio::select! {
        r = work => (Some(r), None),
        s = terminated() => (None, Some(s)),
    };
    let reason = match signal {
        Some(_) => "interrupted",
        None => "exit",
    };
    engine
        .hook(&plan.agent, "SessionEnd", None, json!({"reason": reason}))
        .await;
    let totals = engine.totals();
    drop(engine);
    drop(sink);
    let _ = printer.await;

    let denied_approvals = totals
        .approvals
        .iter()
        .filter(|a| matches!(a.decision, ApprovalDecision::Denied { .. }))
        .count();
    let failed_gates = unresolved_gate_failures(&totals);
    let (outcome, code, text, error, stop) = match &result {
        None => (
            "interrupted",
            if signal == Some("SIGINT") {
                ExitCode::Interrupted
            } else {
                ExitCode::Terminated
            },
            String::new(),
            Some(format!(
                "stopped by {}; the session is saved: go on with --resume {session_id}",
                signal.unwrap_or("a signal")
            )),
            None,
        ),
        Some(Ok(run)) => match &run.stop {
            Stop::ApprovalRequired { pending } => (
                "approval_required",
                ExitCode::Denied,
                run.text.clone(),
                Some(format!(
                    "stopped: {} high-risk change(s) need approval and were not written ({}); approve with --approve id=<id> (or a rule) and run again",
                    pending.len(),
                    pending.join(", ")
                )),
                Some(&run.stop),
            ),
            Stop::Hook { event, reason } => (
                "denied",
                ExitCode::Denied,
                run.text.clone(),
                Some(format!("a {event} hook stopped the run: {reason}")),
                Some(&run.stop),
            ),
            Stop::Final if denied_approvals > 0 => (
                "denied",
                ExitCode::Denied,
                run.text.clone(),
                Some(format!(
                    "{denied_approvals} high-risk change(s) were denied (by an approval rule or a person)"
                )),
                Some(&run.stop),
            ),
            // A refused tool call is never a clean success (DESIGN.md §4).
            Stop::Final if !totals.permission_denials.is_empty() => (
                "denied",
                ExitCode::Denied,
                run.text.clone(),
                Some(format!(
                    "{} tool call(s) were refused by the permission rules",
                    totals.permission_denials.len()
                )),
                Some(&run.stop),
            ),
            Stop::Final if !failed_gates.is_empty() => (
                "error",
                ExitCode::Findings,
                run.text.clone(),
                Some(format!(
                    "a gate failed and the change was never made to pass: {}",
                    failed_gates.join(", ")
                )),
                Some(&run.stop),
            ),
            Stop::Final => (
                "success",
                ExitCode::Success,
                run.text.clone(),
                None,
                Some(&run.stop),
            ),
            stop => (
                "limit",
                ExitCode::Limit,
                run.text.clone(),
                Some(limit_message(stop)),
                Some(stop),
            ),
        },
        Some(Err(RunError::Provider(esc))) => (
            "error",
            ExitCode::Provider,
            String::new(),
            Some(esc.to_string()),
            None,
        ),
    };
    let result_json = result_object(ResultParts {
        outcome,
        code,
        session_id: &session_id,
        totals: &totals,
        started,
        text: &text,
        error: error.as_deref(),
        stop,
        escalation: result.as_ref().and_then(|r| r.as_ref().err()),
    });
    if let Some(log) = &log
        && let Err(e) = log.finish(&result_json)
    {
        eprintln!("agentops: warning: the session log stopped: {e}");
    }
    match format {
        OutputFormat::Json | OutputFormat::StreamJson => {
            crate::output::print(&format!("{result_json}\n"))
        }
        OutputFormat::Text => {
            if let Some(e) = &error {
                eprintln!("agentops: {e}");
            }
            if !totals.unpriced_models.is_empty() && verbose > 0 {
                eprintln!(
                    "agentops: no price for {}; cost not counted",
                    totals.unpriced_models.join(", ")
                );
            }
            if verbose > 0 {
                eprintln!(
                    "agentops: {} turn(s), {} input + {} output tokens, ${:.4}",
                    totals.turns,
                    totals.usage.input_tokens,
                    totals.usage.output_tokens,
                    totals.cost_usd
                );
            }
        }
    }
    Ok(code)
}

fn limit_message(stop: &Stop) -> String {
    match stop {
        Stop::TurnLimit { limit } => {
            format!("stopped at the turn limit ({limit}); raise --max-turns to go on")
        }
        Stop::Budget {
            spent_usd,
            limit_usd,
        } => {
            format!(
                "stopped at the budget: ${spent_usd:.4} spent of ${limit_usd:.4} (--max-budget-usd)"
            )
        }
        Stop::Tokens { used, limit } => {
            format!("stopped at the token cap: {used} of {limit} tokens")
        }
        Stop::Final | Stop::ApprovalRequired { .. } | Stop::Hook { .. } => String::new(),
    }
}

/// Files whose last gated change was rejected (a later passing change to them resolves it).
fn unresolved_gate_failures(totals: &Totals) -> Vec<String> {
    let mut last: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for g in &totals.gates {
        for f in &g.files {
            last.insert(f, g.outcome);
        }
    }
    last.into_iter()
        .filter(|(_, outcome)| *outcome == "rejected")
        .map(|(f, _)| f.to_string())
        .collect()
}

struct ResultParts<'a> {
    outcome: &'a str,
    code: ExitCode,
    session_id: &'a str,
    totals: &'a Totals,
    started: Instant,
    text: &'a str,
    error: Option<&'a str>,
    stop: Option<&'a Stop>,
    escalation: Option<&'a RunError>,
}

/// The final result object (DESIGN.md §4): the json output and the last stream-json line.
fn result_object(p: ResultParts<'_>) -> Value {
    let mut v = json!({
        "type": "result",
        "outcome": p.outcome,
        "exit_code": p.code as u8,
        "session_id": p.session_id,
        "turns": p.totals.turns,
        "usage": p.totals.usage,
        "cost_usd": p.totals.cost_usd,
        "duration_ms": u64::try_from(p.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "permission_denials": p.totals.permission_denials,
        "gates": p.totals.gates,
        "pending_approvals": p.totals.pending_approvals,
        "approvals": p.totals.approvals,
        "result": p.text,
    });
    if let Some(e) = p.error {
        v["error"] = json!(e);
    }
    if let Some(stop) = p.stop {
        v["stop"] = json!(stop);
    }
    if let Some(RunError::Provider(esc)) = p.escalation {
        v["attempts"] = json!(esc.attempts);
        v["request_id"] = json!(esc.request_id);
    }
    if !p.totals.unpriced_models.is_empty() {
        v["unpriced_models"] = json!(p.totals.unpriced_models);
    }
    v
}

/// Whether a person at a terminal answers approvals (text output, stdin and stderr terminals).
pub(crate) fn asks_a_person(args: &RunArgs) -> bool {
    args.output_format == OutputFormat::Text
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// Opens the session log: a new one, the resumed one (a torn last line cut off), or a fork of
/// it under a new id. A new run goes on without a log, with a warning, when it cannot be
/// written; a resumed one cannot (its log is the conversation).
fn open_session(
    ws: &Workspace,
    dir: &Path,
    previous: Option<&Previous>,
    fork: bool,
    plan: &Plan,
    provider: &ResolvedProvider,
) -> Result<(Option<SessionRecorder>, Option<session::Resumption>), Failure> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let prompt: String = agentops_tools::redact::redact_text(&plan.prompt)
        .chars()
        .take(2000)
        .collect();
    let fields = json!({
        "repo": ws.root.display().to_string(),
        "started": started,
        "agent": plan.agent.name,
        "model": plan.model.clone().unwrap_or_else(|| provider.model.clone()),
        "provider": provider.name,
        "permission_mode": plan.agent.permission_mode,
        "command": plan.command,
        "prompt": prompt,
    });
    let Value::Object(fields) = fields else {
        return Ok((None, None));
    };
    let Some(prev) = previous else {
        if let Err(e) = session::state_dir(&ws.root) {
            eprintln!(
                "agentops: warning: {}: {e}",
                ws.root.join(".agentops").display()
            );
        }
        return match SessionRecorder::create(&ws.root, Some(dir), &session_id(), fields) {
            Ok(r) => Ok((Some(r), None)),
            Err(e) => {
                eprintln!("agentops: warning: no session log for this run: {e}");
                Ok((None, None))
            }
        };
    };
    let path = if fork {
        session::index::fork(dir, &prev.log, &session_id(), fields).map_err(Failure::usage)?
    } else {
        prev.path.clone()
    };
    let (recorder, log) = SessionRecorder::resume(&path).map_err(Failure::usage)?;
    Ok((Some(recorder), Some(session::resumption(&log))))
}

pub(crate) fn session_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "run-{:x}-{:x}",
        nanos / 1_000_000_000,
        (nanos % 1_000_000_000) ^ u128::from(std::process::id())
    )
}

pub(crate) fn render(
    event: &Event,
    format: OutputFormat,
    verbose: u8,
    printed: &mut bool,
    newline: &mut bool,
) {
    match format {
        OutputFormat::StreamJson => {
            if let Ok(line) = serde_json::to_string(event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
        OutputFormat::Json => {}
        OutputFormat::Text => match event {
            // Subagents' text is part of their tool result; the answer is the main agent's.
            Event::TextDelta { text, .. } => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                *printed = true;
                *newline = text.ends_with('\n');
            }
            Event::Retry {
                attempt,
                max_attempts,
                delay_ms,
                error,
                ..
            } => eprintln!(
                "agentops: attempt {attempt}/{max_attempts} failed ({error}); retrying in {:.1}s",
                *delay_ms as f64 / 1000.0
            ),
            Event::Warning { agent, message } => eprintln!("agentops: {agent}: {message}"),
            Event::Hook {
                hook_event,
                blocked,
                message,
                exit_code,
                ..
            } if *blocked || *exit_code != Some(0) || verbose > 0 => {
                eprintln!("agentops: {hook_event} hook: {message}")
            }
            Event::Gate { record, .. } => eprintln!(
                "agentops: gates {} for {} (risk {:?}): {}",
                if record.passed { "passed" } else { "FAILED" },
                record.files.join(", "),
                record.risk,
                record.outcome
            ),
            Event::ApprovalRequested { request, .. } => {
                eprintln!(
                    "agentops: approval needed for {}",
                    request.describe().trim_end()
                );
            }
            Event::ApprovalDecided { id, decision, .. } => {
                eprintln!(
                    "agentops: {id}: {}",
                    serde_json::to_string(decision).unwrap_or_default()
                );
            }
            Event::AgentStarted {
                agent,
                model,
                tool_mode,
                depth,
                tools,
                ..
            } if verbose > 0 => eprintln!(
                "agentops: {}@{agent} on {model} ({}), tools: {}",
                "  ".repeat(*depth as usize),
                serde_json::to_value(tool_mode)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                tools.join(", ")
            ),
            Event::ToolCall {
                agent,
                name,
                input,
                via,
                ..
            } if verbose > 0 => {
                eprintln!("agentops: {agent} → {name} {input} [{via}]")
            }
            Event::ToolResult {
                agent,
                name,
                is_error,
                content,
                duration_ms,
                ..
            } if verbose > 0 => eprintln!(
                "agentops: {agent} ← {name} {} in {duration_ms} ms, {} bytes",
                if *is_error { "error" } else { "ok" },
                content.len()
            ),
            _ => {}
        },
    }
}
