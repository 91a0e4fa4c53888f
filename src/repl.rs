//! The interactive REPL (`agentops` with no subcommand): slash commands and free text routed
//! to agents, one session per REPL (recorded like `run`), streamed answers, a spinner while
//! tools and gates work, approval prompts with the rendered diff, Tab completion, history per
//! repository, and Ctrl-C that cancels the turn, not the session. When stdin is not a
//! terminal it reads one prompt per line (approvals are then decided by rules alone).

use crate::cli::OutputFormat;
use crate::cmd_run;
use crate::exit::{CliResult, ExitCode, Failure};
use agentops_runtime::events::RecorderHandle;
use agentops_runtime::outcome::{Ending, RunResult};
use agentops_runtime::permissions::Permissions;
use agentops_runtime::providers;
use agentops_runtime::route::{self, Choice, Plan};
use agentops_runtime::session::{
    self, FrontEnd, PendingCall, Previous, Resumption, SessionHeader, SessionRecorder,
};
use agentops_runtime::{Engine, Event, EventSink, Workspace};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use serde_json::json;
use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Built-in REPL commands with their argument hints and what they do.
const BUILTINS: &[(&str, &str, &str)] = &[
    ("help", "", "this list"),
    ("agents", "", "the agents you can talk to"),
    ("commands", "", "the slash commands of this repository"),
    ("agent", "<name>", "talk to another agent from now on"),
    (
        "env",
        "<environment|none>",
        "the target environment (dev, staging, prod…)",
    ),
    (
        "validate",
        "[--app A] [--env E]",
        "run the gates over the repository, no model",
    ),
    ("sessions", "", "recent sessions of this repository"),
    ("resume", "<id>", "go on with an earlier session"),
    ("cost", "", "turns, tokens and cost so far"),
    ("compact", "", "replace older turns by a summary"),
    ("clear", "", "start a new session"),
    ("exit", "", "leave (Ctrl-D too)"),
];

/// Sessions idle this long are offered a summary on resume.
const LONG_IDLE: Duration = Duration::from_secs(8 * 3600);

pub fn run(ws: Workspace, verbose: u8, sessions_dir: Option<&Path>) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let dir = sessions_dir.map_or_else(|| session::sessions_dir(&ws.root), Path::to_path_buf);
    runtime.block_on(async move {
        // Without a model the built-ins (and /validate) still work; prompts say what to set.
        // Nothing configured: the embedded local model, kept running for the session.
        let local = agentops_local_model::LocalModel::from_env(ws.home.as_deref());
        let provided = providers::provide(
            &ws.config,
            &providers::process_env,
            None,
            None,
            local.as_ref(),
            &crate::output::local_model_notice,
        )
        .await;
        let (provider, server) = match provided {
            Ok(p) => (p.provider, p.server),
            Err(e) => {
                eprintln!("agentops: no model: {e}");
                (providers::unconfigured(&e), None)
            }
        };
        let mut repl = Repl::start(ws, verbose, dir, provider)?;
        let result = repl.main_loop().await;
        drop(server);
        result
    })
}

struct Repl {
    ws: Workspace,
    verbose: u8,
    dir: PathBuf,
    engine: Engine,
    base_permissions: Permissions,
    base_hooks: agentops_runtime::hooks::HookSet,
    base_sink: EventSink,
    rx: UnboundedReceiver<Event>,
    log: Option<RecorderHandle>,
    session_id: String,
    agent: String,
    env: Option<String>,
    /// Pending approvals of a resumed session, asked again with the next message.
    pending: Vec<PendingCall>,
    /// The header of the session `/resume` went on with: what each turn restores.
    resumed: Option<SessionHeader>,
    tty: bool,
    color: bool,
}

impl Repl {
    fn start(
        ws: Workspace,
        verbose: u8,
        dir: PathBuf,
        provider: providers::ResolvedProvider,
    ) -> Result<Self, Failure> {
        let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let color = tty && std::env::var_os("NO_COLOR").is_none();
        let agent = route::find_agent(&ws, route::MAIN_AGENT).map_err(Failure::route)?;
        let (base_sink, rx) = EventSink::channel();
        let policy = agentops_runtime::approval::ApprovalPolicy::default();
        let approver = crate::approver::approver(policy, tty);
        let changes = std::sync::Arc::new(ws.change_service(approver, None));
        let (builder, warnings) = ws.engine(provider, "", changes);
        for w in warnings {
            eprintln!("agentops: warning: {w}");
        }
        let engine = builder.events(base_sink.clone()).build();
        let (permissions, hooks) = engine.rules();
        let mut repl = Self {
            base_permissions: permissions.clone(),
            base_hooks: hooks.clone(),
            engine,
            ws,
            verbose,
            dir,
            base_sink,
            rx,
            log: None,
            session_id: String::new(),
            agent: agent.name,
            env: None,
            pending: Vec::new(),
            resumed: None,
            tty,
            color,
        };
        repl.new_session()?;
        Ok(repl)
    }

    /// Starts recording a new session.
    fn new_session(&mut self) -> Result<(), Failure> {
        if let Err(e) = session::state_dir(&self.ws.root) {
            eprintln!("agentops: warning: {e}");
        }
        let mut header = SessionHeader::new(&self.ws.root, FrontEnd::Repl, &self.agent);
        header.model = Some(self.engine.default_model().to_string());
        header.provider = Some(self.engine.provider_name().to_string());
        let id = session::new_id();
        if let Some(key) = self.ws.integrity_key() {
            header = header.seal(&id, &key);
        }
        let recorder = SessionRecorder::create(&self.ws.root, Some(&self.dir), &id, &header)
            .map_err(Failure::usage)?;
        self.attach(recorder);
        self.pending.clear();
        self.resumed = None;
        Ok(())
    }

    fn attach(&mut self, recorder: SessionRecorder) {
        self.session_id = recorder.id.clone();
        let path = recorder.path.clone();
        let (sink, handle) = self.base_sink.clone().recording(recorder);
        self.engine
            .attach_session(sink, &self.session_id, Some(path));
        self.log = Some(handle);
    }

    fn prompt(&self) -> String {
        let repo = self
            .ws
            .root
            .file_name()
            .map_or_else(|| "repo".to_string(), |n| n.to_string_lossy().into_owned());
        let branch = self
            .ws
            .branch()
            .map(|b| format!(" ({b})"))
            .unwrap_or_default();
        let env = self
            .env
            .as_deref()
            .map(|e| format!(" [{e}]"))
            .unwrap_or_default();
        format!("{repo}{branch} {}{env}› ", self.agent)
    }

    async fn main_loop(&mut self) -> CliResult {
        let agent = self.agent_def(&self.agent.clone())?;
        self.engine
            .hook(&agent, "SessionStart", None, json!({"source": "startup"}))
            .await;
        self.drain(&mut Spinner::default());
        if self.tty {
            self.interactive().await?;
        } else {
            let stdin = std::io::stdin();
            let mut lines = stdin.lock().lines();
            while let Some(Ok(line)) = lines.next() {
                if !self.handle(line.trim()).await {
                    break;
                }
            }
        }
        let agent = self.agent_def(&self.agent.clone())?;
        self.engine
            .hook(&agent, "SessionEnd", None, json!({"reason": "exit"}))
            .await;
        self.drain(&mut Spinner::default());
        Ok(ExitCode::Success)
    }

    async fn interactive(&mut self) -> Result<(), Failure> {
        let helper = ReplHelper {
            root: self.ws.root.clone(),
            dir: self.dir.clone(),
            commands: self
                .ws
                .commands()
                .items
                .iter()
                .map(|c| (c.name.clone(), c.argument_hint.clone().unwrap_or_default()))
                .collect(),
            agents: self
                .ws
                .agents()
                .items
                .iter()
                .map(|a| a.name.clone())
                .collect(),
            color: self.color,
        };
        let config = rustyline::Config::builder()
            .auto_add_history(false)
            .completion_type(rustyline::CompletionType::List)
            .build();
        let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> =
            Editor::with_config(config).map_err(Failure::usage)?;
        rl.set_helper(Some(helper));
        let history = session::state_dir(&self.ws.root)
            .map(|d| d.join("history"))
            .ok();
        if let Some(h) = &history {
            let _ = rl.load_history(h);
        }
        eprintln!(
            "agentops — {} · /help for commands, Tab completes, Ctrl-C cancels a turn, Ctrl-D leaves",
            self.ws.root.display()
        );
        loop {
            match rl.readline(&self.prompt()) {
                Ok(line) => {
                    let line = line.trim().to_string();
                    if line.is_empty() {
                        continue;
                    }
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(h) = &history {
                        let _ = rl.append_history(h);
                    }
                    if !self.handle(&line).await {
                        break;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    eprintln!("(Ctrl-D or /exit leaves)");
                }
                Err(rustyline::error::ReadlineError::Eof) => break,
                Err(e) => return Err(Failure::usage(e)),
            }
        }
        Ok(())
    }

    /// One line: a built-in, or a prompt for the agent. `false`: leave.
    async fn handle(&mut self, line: &str) -> bool {
        if line.is_empty() {
            return true;
        }
        if let Some(rest) = line.strip_prefix('/') {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let args = args.trim();
            match name {
                "exit" | "quit" => return false,
                "help" => self.help(),
                "agents" => {
                    for a in &self.ws.agents().items {
                        println!(
                            "{:<22} {}",
                            a.name,
                            crate::output::one_line(&a.description, 90)
                        );
                    }
                }
                "commands" => {
                    for c in &self.ws.commands().items {
                        println!(
                            "/{:<28} {}",
                            format!("{} {}", c.name, c.argument_hint.as_deref().unwrap_or("")),
                            crate::output::one_line(&c.description, 70)
                        );
                    }
                }
                "agent" => match self.agent_def(args) {
                    Ok(a) => {
                        self.agent = a.name.clone();
                        println!("talking to {} now", a.name);
                    }
                    Err(e) => eprintln!("agentops: {:#}", e.error),
                },
                "env" => {
                    self.env = match args {
                        "" => {
                            println!(
                                "target environment: {}",
                                self.env.as_deref().unwrap_or("none")
                            );
                            self.env.clone()
                        }
                        "none" | "-" => None,
                        e => Some(e.to_string()),
                    }
                }
                "validate" => self.validate(args).await,
                "sessions" => self.sessions(),
                "resume" => self.resume(args).await,
                "cost" => self.cost(),
                "compact" => self.compact().await,
                "clear" => match self.new_session() {
                    Ok(()) => println!("new session {}", self.session_id),
                    Err(e) => eprintln!("agentops: {:#}", e.error),
                },
                _ => self.turn(line).await,
            }
            return true;
        }
        self.turn(line).await;
        true
    }

    fn help(&self) {
        println!("Built in:");
        for (name, hint, what) in BUILTINS {
            println!("  /{:<30} {what}", format!("{name} {hint}"));
        }
        println!(
            "Slash commands of this repository: /commands. Free text goes to the current agent; @agent-NAME text to another."
        );
    }

    fn agent_def(&self, name: &str) -> Result<agentops_agents::AgentDefinition, Failure> {
        route::find_agent(&self.ws, name).map_err(Failure::route)
    }

    /// The conversation so far, from the session log (the log is the truth).
    fn history(&self) -> Vec<agentops_runtime::model::Message> {
        let Some(path) = self.log.as_ref().and_then(RecorderHandle::path) else {
            return Vec::new();
        };
        match session::read_log(&path) {
            Ok(log) => session::resumption(&log).messages,
            Err(e) => {
                eprintln!("agentops: warning: {e}");
                Vec::new()
            }
        }
    }

    /// One prompt through the agent loop; Ctrl-C cancels it and the REPL goes on.
    async fn turn(&mut self, line: &str) {
        let choice = Choice {
            agent: None,
            default_agent: Some(&self.agent),
            model: None,
        };
        let plan = match route::plan_turn(&self.ws, line, choice, self.resumed.as_ref()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("agentops: {e}");
                return;
            }
        };
        for w in &plan.warnings {
            eprintln!("{w}");
        }
        self.prepare(&plan);
        let history = self.history();
        let pending = std::mem::take(&mut self.pending);
        let before = self.engine.totals();
        self.engine.next_turn();
        let started = Instant::now();
        let mut spinner = Spinner::default();
        let outcome = {
            let engine = &self.engine;
            let work = engine.resume(
                &plan.agent,
                history,
                pending,
                &plan.prompt,
                plan.model.as_deref(),
            );
            tokio::pin!(work);
            let ctrl_c = tokio::signal::ctrl_c();
            tokio::pin!(ctrl_c);
            let mut tick = tokio::time::interval(Duration::from_millis(120));
            loop {
                tokio::select! {
                    biased;
                    Some(event) = self.rx.recv() => show(&event, &mut spinner, self.verbose, self.tty),
                    r = &mut work => break Some(r),
                    _ = &mut ctrl_c => break None,
                    _ = tick.tick() => spinner.draw(self.tty, self.color),
                }
            }
        };
        self.drain(&mut spinner);
        spinner.clear(self.tty);
        let totals = self.engine.totals().since(&before);
        let ending = match &outcome {
            Some(r) => Ending::Finished(r),
            None => Ending::Interrupted {
                by: "Ctrl-C",
                code: ExitCode::Interrupted,
            },
        };
        let result = RunResult::of(ending, totals, &self.session_id, started.elapsed());
        println!();
        match (&outcome, &result.error) {
            (None, _) => eprintln!("agentops: turn cancelled (Ctrl-C); the session goes on"),
            (Some(_), Some(e)) => eprintln!("agentops: {e}"),
            (Some(_), None) => {}
        }
        if outcome.is_some() {
            eprintln!("  {}", result.summary);
        }
        if !result.pending_approvals.is_empty() {
            eprintln!(
                "agentops: /resume {} asks for them again with your next message",
                self.session_id
            );
        }
        if let Some(log) = &self.log
            && let Err(e) = log.finish(&result.to_value_redacting(&self.engine.secrets()))
        {
            eprintln!("agentops: warning: the session log stopped: {e}");
        }
    }

    /// The command's allow rules and hooks for this turn only; the target environment.
    fn prepare(&mut self, plan: &Plan) {
        let (hooks, _) = plan.hooks(&self.base_hooks);
        self.engine
            .set_rules(plan.permissions(&self.base_permissions), hooks);
        self.engine
            .set_environment(self.ws.environment(self.env.as_deref()));
    }

    /// Shows what is still in the channel (events of a turn that just ended).
    fn drain(&mut self, spinner: &mut Spinner) {
        while let Ok(event) = self.rx.try_recv() {
            show(&event, spinner, self.verbose, self.tty);
        }
    }

    async fn validate(&self, args: &str) {
        let words: Vec<&str> = args.split_whitespace().collect();
        let flag = |name: &str| {
            words
                .iter()
                .position(|w| *w == name)
                .and_then(|i| words.get(i + 1))
                .map(|s| s.to_string())
        };
        let options = agentops_runtime::gates::ValidateOptions {
            app: flag("--app"),
            env: flag("--env").or_else(|| self.env.clone()),
            cache_dir: Some(self.ws.render_cache()),
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            timeout: agentops_runtime::workspace::RENDER_TIMEOUT,
        };
        let started = Instant::now();
        let report =
            agentops_runtime::gates::validate(&self.ws.root, &self.ws.config.policy, &options)
                .await;
        print!("{}", report.to_text());
        eprintln!("({:.1}s)", started.elapsed().as_secs_f64());
    }

    fn sessions(&self) {
        for s in session::list(&self.dir).iter().take(10) {
            println!(
                "{}  {:<18} {:<17} {}",
                s.id,
                s.agent.as_deref().unwrap_or("?"),
                s.outcome.as_deref().unwrap_or("unfinished"),
                crate::output::one_line(s.prompt.as_deref().unwrap_or(""), 50)
            );
        }
    }

    async fn resume(&mut self, id: &str) {
        if id.is_empty() {
            self.sessions();
            println!("/resume <id> goes on with one of them");
            return;
        }
        let mut previous = match Previous::find(&self.dir, Some(id)) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("agentops: {e}");
                return;
            }
        };
        match previous.verify(self.ws.integrity_key().as_ref()) {
            Ok(Some(warning)) => eprintln!("agentops: warning: {warning}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("agentops: {e}");
                return;
            }
        }
        let (recorder, log) = match SessionRecorder::resume(&previous.path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("agentops: {e}");
                return;
            }
        };
        let r = session::resumption(&log);
        for w in &r.warnings {
            eprintln!("agentops: warning: {w}");
        }
        self.attach(recorder);
        // Agent, model, permission mode, the command's rules and hooks: each turn restores
        // them from the header (`route::plan_turn`), as `run --resume` does.
        if self.agent_def(&previous.header.agent).is_ok() {
            self.agent = previous.header.agent.clone();
        }
        self.resumed = Some(previous.header);
        println!(
            "resumed {} ({} messages{})",
            self.session_id,
            r.messages.len(),
            if r.pending.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} pending approval(s) are asked again with your next message",
                    r.pending.len()
                )
            }
        );
        self.pending = r.pending.clone();
        let from_summary = self.tty && offer_summary(&r);
        if let Ok(agent) = self.agent_def(&self.agent.clone())
            && let Err(e) = self.engine.resumed(&agent, r, None, from_summary).await
        {
            eprintln!("agentops: compaction failed: {e}");
        }
        self.drain(&mut Spinner::default());
    }

    fn cost(&self) {
        let t = self.engine.totals();
        let session_cost = self
            .log
            .as_ref()
            .and_then(RecorderHandle::path)
            .and_then(|p| session::read_log(&p).ok())
            .map(|log| session_cost(&log.events));
        println!(
            "this REPL: {} turn(s), {} input + {} output tokens, ${:.4}{}",
            t.turns,
            t.usage.input_tokens,
            t.usage.output_tokens,
            t.cost_usd,
            if t.unpriced_models.is_empty() {
                String::new()
            } else {
                format!(" (no price for {})", t.unpriced_models.join(", "))
            }
        );
        if let Some(c) = session_cost {
            println!("session {}: ${c:.4} over all its runs", self.session_id);
        }
    }

    async fn compact(&mut self) {
        let Ok(agent) = self.agent_def(&self.agent.clone()) else {
            return;
        };
        let history = self.history();
        let before = history.len();
        let model = self.engine.default_model().to_string();
        match self.engine.compact(&agent, &model, history, "manual").await {
            Ok(after) => println!("compacted: {before} messages → {}", after.len()),
            Err(e) => eprintln!("agentops: compaction failed: {e}"),
        }
        self.drain(&mut Spinner::default());
    }
}

/// Asks the person whether to go on from a summary, for a session idle ≥ 8 h with some
/// history (`run --resume` and `/resume` at a terminal).
pub(crate) fn offer_summary(r: &Resumption) -> bool {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let idle = r
        .last_active_ms
        .map(|ms| Duration::from_millis(now_ms.saturating_sub(ms)));
    let Some(idle) = idle.filter(|i| *i >= LONG_IDLE) else {
        return false;
    };
    if r.messages.len() <= 4 {
        return false;
    }
    eprint!(
        "This session was last active {} hours ago. Go on from a summary of it? [y/N] ",
        idle.as_secs() / 3600
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// What every finished run of a session cost.
fn session_cost(events: &[serde_json::Value]) -> f64 {
    events
        .iter()
        .filter(|e| e["type"] == "result")
        .filter_map(|e| e["cost_usd"].as_f64())
        .fold(0.0, |a, b| a + b)
}

/// Renders one event of a turn for a person.
fn show(event: &Event, spinner: &mut Spinner, verbose: u8, tty: bool) {
    match event {
        Event::TextDelta { text, .. } => {
            spinner.clear(tty);
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Event::ToolCall { name, .. } => spinner.start(name),
        Event::ToolResult {
            name,
            is_error,
            content,
            duration_ms,
            ..
        } => {
            spinner.stop_one(tty);
            let first = content.lines().next().unwrap_or("");
            if *is_error {
                eprintln!(
                    "  ✗ {name} ({duration_ms} ms): {}",
                    crate::output::one_line(first, 100)
                );
            } else if verbose > 0 || tty {
                eprintln!("  ✓ {name} ({duration_ms} ms)");
            }
        }
        Event::ApprovalRequested { .. } => spinner.pause(),
        Event::ApprovalDecided { id, decision, .. } => {
            spinner.resume();
            eprintln!(
                "  {id}: {}",
                serde_json::to_value(decision)
                    .ok()
                    .and_then(|v| v["decision"].as_str().map(str::to_string))
                    .unwrap_or_default()
            );
        }
        Event::Retry {
            discard_deltas: true,
            ..
        } => {
            spinner.clear(tty);
            // The failed attempt's text is on screen: say it does not count.
            println!("\n  [the reply above was cut off and is withdrawn; retrying]");
            let mut text = cmd_run::TextOut::new(true);
            cmd_run::render(event, OutputFormat::Text, verbose, &mut text);
        }
        other => {
            if !matches!(other, Event::Message { .. }) {
                spinner.clear(tty);
                // Only the stderr lines of these events; the answer is printed above.
                let mut text = cmd_run::TextOut::new(true);
                cmd_run::render(other, OutputFormat::Text, verbose, &mut text);
            }
        }
    }
}

/// A spinner with elapsed time on stderr while tools (and their gates) run.
#[derive(Default)]
struct Spinner {
    running: Vec<(String, Instant)>,
    paused: bool,
    drawn: bool,
    frame: usize,
}

impl Spinner {
    const FRAMES: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

    fn start(&mut self, name: &str) {
        self.running.push((name.to_string(), Instant::now()));
    }

    fn stop_one(&mut self, tty: bool) {
        self.clear(tty);
        if !self.running.is_empty() {
            self.running.remove(0);
        }
    }

    fn pause(&mut self) {
        // The prompt starts on a line of its own: nothing to erase (it may already be shown).
        self.paused = true;
        self.drawn = false;
    }

    fn resume(&mut self) {
        self.paused = false;
    }

    fn draw(&mut self, tty: bool, color: bool) {
        let Some((name, since)) = self.running.last() else {
            return;
        };
        if !tty || self.paused {
            return;
        }
        self.frame = (self.frame + 1) % Self::FRAMES.len();
        let text = format!(
            "{} {name}{} {:.1}s",
            Self::FRAMES[self.frame],
            if self.running.len() > 1 {
                format!(" (+{})", self.running.len() - 1)
            } else {
                String::new()
            },
            since.elapsed().as_secs_f64()
        );
        let text = if color {
            format!("\x1b[2m{text}\x1b[0m")
        } else {
            text
        };
        eprint!("\r\x1b[2K{text}");
        self.drawn = true;
    }

    fn clear(&mut self, tty: bool) {
        if tty && self.drawn {
            eprint!("\r\x1b[2K");
        }
        self.drawn = false;
    }
}

/// Where approval prompts go at a terminal: stderr, with diff lines coloured.
pub(crate) fn diff_writer(color: bool) -> Box<dyn Write + Send> {
    if color {
        Box::new(crate::output::DiffColors::new(std::io::stderr()))
    } else {
        Box::new(std::io::stderr())
    }
}

/// Tab completion and argument hints.
struct ReplHelper {
    root: PathBuf,
    dir: PathBuf,
    /// Slash commands of the repository with their argument hints.
    commands: Vec<(String, String)>,
    agents: Vec<String>,
    color: bool,
}

impl ReplHelper {
    fn slash_names(&self) -> Vec<(String, String)> {
        BUILTINS
            .iter()
            .map(|(n, h, _)| (n.to_string(), h.to_string()))
            .chain(self.commands.iter().cloned())
            .collect()
    }

    fn paths(&self, word: &str) -> Vec<Pair> {
        let (dir, prefix) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        if dir.contains("..") {
            return Vec::new();
        }
        let Ok(entries) = std::fs::read_dir(self.root.join(dir)) else {
            return Vec::new();
        };
        let mut out: Vec<Pair> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.'))
                {
                    return None;
                }
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                let full = format!("{dir}{name}{}", if is_dir { "/" } else { "" });
                Some(Pair {
                    display: full.clone(),
                    replacement: full,
                })
            })
            .collect();
        out.sort_by(|a, b| a.display.cmp(&b.display));
        out
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        // The command name itself.
        if start == 0 && word.starts_with('/') {
            let typed = &word[1..];
            let mut out: Vec<Pair> = self
                .slash_names()
                .into_iter()
                .filter(|(n, _)| n.starts_with(typed))
                .map(|(n, h)| Pair {
                    display: if h.is_empty() {
                        format!("/{n}")
                    } else {
                        format!("/{n} {h}")
                    },
                    replacement: format!("/{n} "),
                })
                .collect();
            out.sort_by(|a, b| a.display.cmp(&b.display));
            out.dedup_by(|a, b| a.replacement == b.replacement);
            return Ok((0, out));
        }
        // Agent names: `/agent NAME`, `@agent-NAME`.
        let agent_word = word.strip_prefix("@agent-");
        if before.starts_with("/agent ") || agent_word.is_some() {
            let typed = agent_word.unwrap_or(word);
            let offset = if agent_word.is_some() {
                start + 7
            } else {
                start
            };
            let out = self
                .agents
                .iter()
                .filter(|a| a.starts_with(typed))
                .map(|a| Pair {
                    display: a.clone(),
                    replacement: format!("{a} "),
                })
                .collect();
            return Ok((offset, out));
        }
        if before.starts_with("/resume ") {
            let out = session::list(&self.dir)
                .into_iter()
                .filter(|s| s.id.starts_with(word))
                .take(20)
                .map(|s| Pair {
                    display: format!(
                        "{}  {}",
                        s.id,
                        crate::output::one_line(s.prompt.as_deref().unwrap_or(""), 40)
                    ),
                    replacement: s.id,
                })
                .collect();
            return Ok((start, out));
        }
        // Otherwise: a path of the repository.
        Ok((start, self.paths(word)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    /// `/review-overlay ` shows `<app> <env>` until you type the arguments.
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos != line.len() || !line.starts_with('/') {
            return None;
        }
        let rest = &line[1..];
        let (name, args) = rest.split_once(' ')?;
        if !args.is_empty() {
            return None;
        }
        self.slash_names()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h)
            .filter(|h| !h.is_empty())
    }
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ReplHelper {}

impl Helper for ReplHelper {}
