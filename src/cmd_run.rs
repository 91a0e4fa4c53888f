//! `agentops run`: one headless run — a prompt or `/command args` — through the runtime,
//! rendered as streamed text, NDJSON events (`stream-json`) or one JSON result (`json`).
//! Routing, resume, the gates, the outcome and the result object are the runtime's; this file
//! reads the flags, wires them in and renders events.

use crate::cli::{OutputFormat, RunArgs};
use crate::exit::{CliResult, ExitCode, Failure};
use agentops_agents::tools::{ToolSpec, parse_tool_list};
use agentops_runtime::config::ProviderKind;
use agentops_runtime::events::RecorderHandle;
use agentops_runtime::outcome::{Ending, RunResult};
use agentops_runtime::providers::{self, ResolvedProvider};
use agentops_runtime::route::{Choice, Plan, plan_turn};
use agentops_runtime::session::{self, FrontEnd, Previous, Resumption, SessionHeader};
use agentops_runtime::{AgentRun, Engine, Event, EventSink, RunError, Workspace};
use serde_json::{Value, json};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Instant;

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
            let error = format!("{:#}", failure.error);
            eprintln!("agentops: error: {error}");
            let result = RunResult::of_failure(failure.code, error, started.elapsed());
            crate::output::print(&format!("{}\n", result.to_value()));
            Ok(failure.code)
        }
        other => other,
    }
}

/// The input: the prompt words, else stdin when it is piped.
fn input(args: &RunArgs, resuming: bool) -> Result<String, Failure> {
    let mut input = args.prompt.join(" ");
    if input.trim().is_empty() && !std::io::stdin().is_terminal() {
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(Failure::usage)?;
    }
    if input.trim().is_empty() && !resuming {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing to run: give a prompt, `/command args`, or pipe text on stdin"
        )));
    }
    Ok(input)
}

/// Rules given on the command line, as a tool list (`"Bash(git diff:*),Read"`).
/// A rule that names no tool is a warning, never silently dropped.
fn cli_rules(flag: &str, values: &[String]) -> Result<Vec<ToolSpec>, Failure> {
    let mut warnings = Vec::new();
    // `*` means "every tool" in a frontmatter `tools:` list; as a rule it names nothing.
    let joined = values.join(",");
    let kept: Vec<&str> = joined
        .split(',')
        .filter(|t| {
            let star = t.trim() == "*";
            if star {
                eprintln!(
                    "agentops: warning: --{flag}: `*` names no tool (a rule names a tool, e.g. `Bash`, `Read`, `Edit(./apps/**)`); not applied"
                );
            }
            !star
        })
        .collect();
    let specs =
        parse_tool_list(flag, &Value::String(kept.join(",")), 0, &mut warnings).unwrap_or_default();
    if let Some(w) = warnings.iter().find(|w| w.code != "unknown-tool") {
        return Err(Failure::usage(anyhow::anyhow!("--{flag}: {}", w.message)));
    }
    for w in &warnings {
        eprintln!("agentops: warning: --{flag}: {}; not applied", w.message);
    }
    Ok(specs)
}

/// The engine of this run: the workspace's, with the command's and the flags' rules, the
/// flags' limits, and the approver the flags and the terminal give.
fn engine(
    ws: &Workspace,
    provider: ResolvedProvider,
    args: &RunArgs,
    plan: &Plan,
    events: EventSink,
    log: Option<&RecorderHandle>,
) -> Result<Engine, Failure> {
    let session_id = log.and_then(RecorderHandle::id).unwrap_or_default();
    let policy = crate::approver::policy(args.approval_policy.as_deref(), &args.approve)?;
    // A person at a terminal is asked about what the rules leave open; anything else (CI,
    // pipes, json output) is decided by the rules alone.
    let approver = crate::approver::approver(policy, asks_a_person(args));
    let changes = std::sync::Arc::new(ws.change_service(approver, args.approval_policy.as_deref()));
    let (builder, warnings) = ws.engine(provider, &session_id, changes);
    for w in &warnings {
        eprintln!("agentops: warning: {w}");
    }
    let mut permissions = plan.permissions(&ws.permissions);
    permissions.allow_specs(
        &cli_rules("allowed-tools", &args.allowed_tools)?,
        "--allowed-tools",
    );
    permissions.deny_specs(
        &cli_rules("disallowed-tools", &args.disallowed_tools)?,
        "--disallowed-tools",
    );
    let mut limits = ws.config.limits.clone();
    if let Some(turns) = args.max_turns {
        limits.max_turns = turns;
    }
    if let Some(budget) = args.max_budget_usd {
        limits.max_budget_usd = Some(budget);
    }
    let mut engine = builder
        .permissions(permissions)
        .limits(limits)
        .events(events)
        .transcript(log.and_then(RecorderHandle::path))
        .build();
    if let Some(hooks) = &plan.hooks {
        for w in engine.add_hooks(hooks, "the command's frontmatter") {
            eprintln!("agentops: warning: {w}");
        }
    }
    Ok(engine)
}

/// Interrupted by a signal: SIGTERM (CI cancelling a job) or SIGINT.
pub(crate) async fn terminated() -> (&'static str, ExitCode) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => ("SIGTERM", ExitCode::Terminated),
                _ = int.recv() => ("SIGINT", ExitCode::Interrupted),
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        ("Ctrl-C", ExitCode::Interrupted)
    }
}

fn say_provider(provider: &ResolvedProvider) {
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

/// The session of this run: new, resumed or forked. A new run goes on without a log, with a
/// warning, when it cannot be written; a resumed one cannot (its log is the conversation).
fn open_session(
    ws: &Workspace,
    dir: &Path,
    plan: &Plan,
    provider: &ResolvedProvider,
    previous: Option<&Previous>,
    fork: bool,
) -> Result<Option<session::Opened>, Failure> {
    let mut header =
        SessionHeader::new(&ws.root, FrontEnd::Run, &plan.agent.name).with_prompt(&plan.prompt);
    header.model = Some(plan.model.clone().unwrap_or_else(|| provider.model.clone()));
    header.provider = Some(provider.name.clone());
    header.permission_mode = plan.agent.permission_mode;
    header.command = plan.command.clone();
    let key = ws.integrity_key();
    match session::open(&ws.root, dir, &header, previous, fork, key.as_ref()) {
        Ok(opened) => Ok(Some(opened)),
        Err(e) if previous.is_some() => Err(Failure::usage(e)),
        Err(e) => {
            eprintln!("agentops: warning: no session log for this run: {e}");
            Ok(None)
        }
    }
}

async fn run_async(args: &RunArgs, ws: &Workspace, verbose: u8, dir: &Path) -> CliResult {
    let started = Instant::now();
    let previous = match (&args.resume, args.continue_latest) {
        (None, false) if args.fork || args.compact => {
            return Err(Failure::usage(anyhow::anyhow!(
                "--fork and --compact go with --continue or --resume ID"
            )));
        }
        (None, false) => None,
        (id, _) => {
            let mut previous = Previous::find(dir, id.as_deref()).map_err(Failure::usage)?;
            // A header edited by hand is refused; an unsealed one restores nothing.
            if let Some(warning) = previous
                .verify(ws.integrity_key().as_ref())
                .map_err(Failure::usage)?
            {
                eprintln!("agentops: warning: {warning}");
            }
            Some(previous)
        }
    };
    let input = input(args, previous.is_some())?;
    let choice = Choice {
        agent: args.agent.as_deref(),
        default_agent: None,
        model: args.model.as_deref(),
    };
    let mut plan = plan_turn(ws, &input, choice, previous.as_ref().map(|p| &p.header))
        .map_err(Failure::route)?;
    for w in &plan.warnings {
        eprintln!("{w}");
    }
    // Nothing configured: the embedded local model, started here and stopped when this run
    // ends (`_server` is dropped last).
    let local = agentops_local_model::LocalModel::from_env(ws.home.as_deref());
    let providers::Provided {
        provider,
        server: _server,
    } = providers::provide(
        &ws.config,
        &providers::process_env,
        args.provider.as_deref(),
        None,
        local.as_ref(),
        &crate::output::local_model_notice,
    )
    .await
    .map_err(Failure::usage)?;
    if verbose > 0 {
        say_provider(&provider);
    }
    // Free text nobody chose an agent for goes to the agent whose description fits.
    let routed = if plan.routable {
        let routing =
            agentops_runtime::route::choose_agent(&provider, &ws.agents().items, &plan.prompt)
                .await;
        if routing.agent != plan.agent.name {
            plan.agent =
                agentops_runtime::route::find_agent(ws, &routing.agent).map_err(Failure::route)?;
        }
        Some(routing)
    } else {
        None
    };
    let opened = open_session(ws, dir, &plan, &provider, previous.as_ref(), args.fork)?;
    let (sink, mut rx) = EventSink::channel();
    let (sink, log, resumption) = match opened {
        Some(o) => {
            let (sink, handle) = sink.recording(o.recorder);
            (sink, Some(handle), o.resumption)
        }
        None => (sink, None, None),
    };
    let session_id = log
        .as_ref()
        .and_then(RecorderHandle::id)
        .unwrap_or_else(session::new_id);
    let engine = engine(ws, provider, args, &plan, sink.clone(), log.as_ref())?;
    let secrets = engine.secrets();
    if let Some(r) = routed {
        sink.emit(Event::Routed {
            agent: r.agent,
            by: r.by.to_string(),
            why: r.why,
        });
    }
    let format = args.output_format;
    let prompting = asks_a_person(args);
    let printer = tokio::spawn(async move {
        let mut text = TextOut::new(std::io::stdout().is_terminal());
        while let Some(event) = rx.recv().await {
            // At a terminal the approval prompt itself shows the request.
            if !(prompting && matches!(event, Event::ApprovalRequested { .. })) {
                render(&event, format, verbose, &mut text);
            }
        }
        text.finish(format);
    });
    let work = work(&engine, &plan, resumption, args);
    let (result, signal) = tokio::select! {
        r = work => (Some(r), None),
        s = terminated() => (None, Some(s)),
    };
    let reason = if signal.is_some() {
        "interrupted"
    } else {
        "exit"
    };
    engine
        .hook(&plan.agent, "SessionEnd", None, json!({"reason": reason}))
        .await;
    let totals = engine.totals();
    drop(engine);
    drop(sink);
    let _ = printer.await;
    let ending = match (&result, signal) {
        (Some(r), _) => Ending::Finished(r),
        (None, Some((by, code))) => Ending::Interrupted { by, code },
        (None, None) => Ending::Interrupted {
            by: "a signal",
            code: ExitCode::Terminated,
        },
    };
    let result = RunResult::of(ending, totals.clone(), &session_id, started.elapsed());
    let value = result.to_value_redacting(&secrets);
    if let Some(log) = &log
        && let Err(e) = log.finish(&value)
    {
        eprintln!("agentops: warning: the session log stopped: {e}");
    }
    match format {
        OutputFormat::Json | OutputFormat::StreamJson => {
            crate::output::print(&format!("{value}\n"))
        }
        OutputFormat::Text => say_result(&result, &totals, verbose),
    }
    Ok(result.exit())
}

/// The run itself: SessionStart hooks, then a fresh run or the resumed session.
async fn work(
    engine: &Engine,
    plan: &Plan,
    resumption: Option<Resumption>,
    args: &RunArgs,
) -> Result<AgentRun, RunError> {
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
    let Some(r) = resumption else {
        return engine
            .run(&plan.agent, &prompt, plan.model.as_deref())
            .await;
    };
    for w in &r.warnings {
        eprintln!("agentops: warning: {w}");
    }
    let from_summary = !args.compact && asks_a_person(args) && crate::repl::offer_summary(&r);
    let pending = r.pending.clone();
    let history = engine
        .resumed(
            &plan.agent,
            r,
            plan.model.as_deref(),
            args.compact || from_summary,
        )
        .await?;
    engine
        .resume(
            &plan.agent,
            history,
            pending,
            &prompt,
            plan.model.as_deref(),
        )
        .await
}

/// The error and, with -v, usage and cost, for a person.
fn say_result(result: &RunResult, totals: &agentops_runtime::Totals, verbose: u8) {
    if let Some(e) = &result.error {
        eprintln!("agentops: {e}");
    }
    // Facts the runtime computed, whatever the answer above says.
    eprintln!("agentops: {}", result.summary);
    if verbose == 0 {
        return;
    }
    if !totals.unpriced_models.is_empty() {
        eprintln!(
            "agentops: no price for {}; cost not counted",
            totals.unpriced_models.join(", ")
        );
    }
    eprintln!(
        "agentops: {} turn(s), {} input + {} output tokens, ${:.4}",
        totals.turns, totals.usage.input_tokens, totals.usage.output_tokens, totals.cost_usd
    );
}

/// Whether a person at a terminal answers approvals (text output, stdin and stderr terminals).
pub(crate) fn asks_a_person(args: &RunArgs) -> bool {
    crate::approver::person_at_terminal(args.output_format == OutputFormat::Text)
}

/// The answer's text in text output. At a terminal it streams, and a failed attempt's text is
/// marked as withdrawn before the retry's answer; into a pipe or file an attempt's text is
/// held until the attempt completes, so a retried reply is never written twice.
pub(crate) struct TextOut {
    live: bool,
    held: String,
    /// Text of the current attempt already written.
    shown: bool,
    printed: bool,
    newline: bool,
}

impl TextOut {
    pub(crate) fn new(live: bool) -> Self {
        Self {
            live,
            held: String::new(),
            shown: false,
            printed: false,
            newline: true,
        }
    }

    fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        self.printed = true;
        self.newline = text.ends_with('\n');
    }

    fn delta(&mut self, text: &str) {
        if self.live {
            self.write(text);
            self.shown = true;
        } else {
            self.held.push_str(text);
        }
    }

    /// The attempt completed: what it said stands.
    fn complete(&mut self) {
        let held = std::mem::take(&mut self.held);
        self.write(&held);
        self.shown = false;
    }

    /// The attempt failed: what it said is withdrawn.
    fn withdraw(&mut self) {
        self.held.clear();
        if self.shown {
            let lead = if self.newline { "" } else { "\n" };
            self.write(&format!(
                "{lead}[agentops: the reply above was cut off and is withdrawn; the retried answer follows]\n"
            ));
            self.shown = false;
        }
    }

    pub(crate) fn finish(&mut self, format: OutputFormat) {
        self.complete();
        if format == OutputFormat::Text && self.printed && !self.newline {
            crate::output::print("\n");
        }
    }
}

pub(crate) fn render(event: &Event, format: OutputFormat, verbose: u8, text_out: &mut TextOut) {
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
            Event::TextDelta { text, .. } => text_out.delta(text),
            Event::ModelResponse { .. } => text_out.complete(),
            Event::Retry {
                attempt,
                max_attempts,
                delay_ms,
                error,
                discard_deltas,
                ..
            } => {
                if *discard_deltas {
                    text_out.withdraw();
                }
                eprintln!(
                    "agentops: attempt {attempt}/{max_attempts} failed ({error}); retrying in {:.1}s",
                    *delay_ms as f64 / 1000.0
                )
            }
            Event::Warning { agent, message } => eprintln!("agentops: {agent}: {message}"),
            Event::Routed { agent, by, why } => {
                eprintln!("agentops: routed to {agent} (by {by}: {why})")
            }
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
                record.outcome.as_str()
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
