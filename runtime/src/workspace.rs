//! The repository agentops works in: where it is, its configuration, and the agents and
//! commands visible from it.

use crate::config::{Config, ConfigError};
use crate::permissions::Permissions;
use crate::settings::{LoadOptions, Settings, SettingsError};
use crate::shell::CommandShell;
use agentops_agents::definition::PermissionMode;
use agentops_agents::{AgentDefinition, Catalog, Source, discover::find_repo_root};
use agentops_commands::{
    Arguments, CommandDefinition, ExpandError, ExpandOptions, Expansion, ResolveError,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::review::RENDER_TIMEOUT;

#[derive(Debug, Clone)]
pub struct Workspace {
    /// Where agentops was started (or `--repo`).
    pub cwd: PathBuf,
    /// The repository root: nearest ancestor with `.git`, else `cwd`.
    pub root: PathBuf,
    /// The user's home, for `~/.claude/`.
    pub home: Option<PathBuf>,
    pub config: Config,
    /// Settings files' and agentops.toml's permission rules.
    pub permissions: Permissions,
    /// The settings layers in effect, and whether this repository is trusted.
    pub settings: Settings,
    /// How the customisation was loaded (`--bare`, `--tools`, `--plugin-dir`, …).
    pub options: LoadOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{}: not a folder agentops can work in: {source}", path.display())]
    Cwd {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Expand(#[from] ExpandError),
}

impl Workspace {
    /// The kubeconfig `[kubernetes] kubeconfig` names (`~/` is the home folder, relative
    /// paths are from the repository root); `None`: `$KUBECONFIG`, else `~/.kube/config`.
    pub fn kubeconfig(&self) -> Option<PathBuf> {
        let p = self.config.kubernetes.kubeconfig.as_ref()?;
        Some(match (p.strip_prefix("~"), self.home.as_ref()) {
            (Ok(rest), Some(home)) => home.join(rest),
            _ => self.root.join(p),
        })
    }

    /// Where rendered results are cached, keyed by their inputs' content (shared by
    /// `validate`, the gates and every run): `~/.cache/agentops/render`, else the
    /// repository's `.agentops/cache/render`.
    pub fn render_cache(&self) -> PathBuf {
        self.home.as_ref().map_or_else(
            || self.root.join(".agentops").join("cache").join("render"),
            |h| h.join(".cache").join("agentops").join("render"),
        )
    }

    /// The gates of this repository (its policy, the render cache).
    pub fn change_gate(&self) -> crate::review::ChangeGate {
        crate::review::ChangeGate::new(
            self.root.clone(),
            self.config.policy.clone(),
            Some(self.render_cache()),
            RENDER_TIMEOUT,
        )
        .with_environments(self.config.environments.clone())
    }

    /// The gated-change service every change of a run goes through, deciding approvals
    /// with `approver`; `policy_file` (`--approval-policy`) is a control file too.
    pub fn change_service(
        &self,
        approver: Arc<dyn crate::approval::Approver>,
        policy_file: Option<&Path>,
    ) -> crate::change::ChangeService {
        let mut control = self.control_files();
        if let Some(f) = policy_file {
            control.add(&self.cwd.join(f));
        }
        crate::change::ChangeService::new(Arc::new(self.change_gate()), approver)
            .with_control(control)
    }

    /// This repository's control files: the fixed patterns, the kubeconfig `agentops.toml`
    /// names and the programs its `exec` plugins run, and the scripts the settings' hooks
    /// run — every file agentops itself executes or obeys outside the sandbox.
    pub fn control_files(&self) -> crate::control::ControlFiles {
        let mut control = crate::control::ControlFiles::new(&self.root);
        if let Some(k) = self.kubeconfig() {
            let base = k
                .parent()
                .map_or_else(|| self.root.clone(), Path::to_path_buf);
            for words in agentops_tools::kube::exec_commands(&k) {
                for file in crate::control::files_named(&words, &base) {
                    control.add(&file);
                }
            }
            control.add(&k);
        }
        let mut hooks = crate::hooks::HookSet::all(&self.root, &self.settings);
        for plugin in &self.plugins().plugins {
            for h in &plugin.hooks {
                hooks.add_value(h, "plugin");
            }
        }
        let root = self.root.to_string_lossy();
        for command in hooks.commands() {
            let command = command
                .replace("${CLAUDE_PROJECT_DIR}", &root)
                .replace("$CLAUDE_PROJECT_DIR", &root);
            let line = crate::shell_syntax::parse(&command);
            for c in &line.commands {
                let words = c
                    .words
                    .clone()
                    .unwrap_or_else(|| c.text.split_whitespace().map(str::to_string).collect());
                for file in crate::control::files_named(&words, &self.root) {
                    control.add(&file);
                }
            }
        }
        control
    }

    /// Where and how tools run for `agent` in `session_id`: the repository, the configured
    /// command timeout (`[commands] shell_timeout_secs`), the kubeconfig and Argo CD (no shell
    /// sandbox: [`Workspace::engine`] adds it).
    pub fn tool_context(&self, session_id: &str, agent: &str) -> agentops_tools::ToolContext {
        agentops_tools::ToolContext {
            root: self.root.clone(),
            cwd: self.cwd.clone(),
            timeout: self.config.commands.shell_timeout(),
            session_id: session_id.to_string(),
            agent: agent.to_string(),
            // $KUBECONFIG, else ~/.kube/config; cluster tools always name their context. Read
            // now: a change to it during the run reaches the next run only.
            kubeconfig: agentops_tools::kube::KubeconfigSource::snapshot(
                self.kubeconfig().as_deref(),
            ),
            argocd: self.config.argocd.endpoint(&crate::providers::process_env),
            // Probed only where a shell may run (`engine`).
            sandbox: None,
            secrets: Arc::new(self.known_secrets()),
        }
    }

    /// Values the repository makes secret (its secret generators' inputs, `.env` files):
    /// redacted wherever they appear.
    pub fn known_secrets(&self) -> agentops_tools::redact::KnownSecrets {
        agentops_tools::redact::KnownSecrets::scan(&self.root)
    }

    /// The shell's sandbox, probed here (a few ms); `None`, with a warning, where this machine
    /// has none — shell commands are then refused.
    pub fn sandbox(&self) -> Option<agentops_tools::sandbox::SandboxConfig> {
        let scratch = match &self.home {
            Some(h) => h.join(".cache").join("agentops").join("sandbox"),
            None => std::env::temp_dir().join("agentops-sandbox"),
        };
        match agentops_tools::sandbox::SandboxConfig::probe(&scratch, self.config.shell.network) {
            Ok(mut s) => {
                s.env = self.settings.env().0;
                Some(s)
            }
            Err(reason) => {
                tracing::warn!(
                    "no shell sandbox on this machine ({reason}): shell commands will be refused"
                );
                None
            }
        }
    }

    /// Where `create` finds the repository's own templates and the labels policy wants.
    pub fn create_settings(&self) -> agentops_tools::create::CreateSettings {
        agentops_tools::create::CreateSettings {
            templates_dir: self.root.join("templates"),
            required_labels: self.config.policy.required_labels.clone(),
        }
    }

    /// The builtin tools plus those that need this workspace (validate, drift, create).
    pub fn tool_registry(&self) -> agentops_tools::ToolRegistry {
        let mut tools = agentops_tools::ToolRegistry::builtin();
        tools.register(Arc::new(crate::gates::ValidateTool {
            policy: self.config.policy.clone(),
            cache_dir: Some(self.render_cache()),
        }));
        tools.register(Arc::new(crate::drift::DriftTool));
        tools.register(Arc::new(agentops_tools::create::CreateTool {
            settings: self.create_settings(),
        }));
        tools
    }

    /// An engine for this workspace: its tools, model aliases, prices, limits, sampling, the
    /// agents to delegate to, its permission rules and the settings' hooks, and the system
    /// prompt's environment. Returns the hook files' warnings with it.
    pub fn engine(
        &self,
        provider: crate::providers::ResolvedProvider,
        session_id: &str,
        changes: Arc<crate::change::ChangeService>,
    ) -> (crate::EngineBuilder, Vec<String>) {
        let config = &self.config;
        let (hooks, hook_warnings) = self.hooks();
        let mut warnings = self.load_warnings();
        warnings.extend(hook_warnings);
        let (memory, rules) = if self.options.bare {
            Default::default()
        } else {
            crate::memory::Memory::load_with_rules(&self.root, &self.cwd, self.home.as_deref())
        };
        warnings.extend(memory.warnings.iter().cloned());
        let ctx = agentops_tools::ToolContext {
            sandbox: self.sandbox(),
            ..self.tool_context(session_id, "")
        };
        let temperature = config.model.temperature.or(provider.temperature);
        let max_tokens = config.model.max_tokens.or(provider.max_tokens);
        let builder = crate::Engine::builder(provider, ctx)
            .tools(self.tool_registry())
            .aliases(config.models.aliases.clone())
            .prices(crate::cost::PriceTable::new(&config.prices))
            .limits(config.limits.clone())
            .sampling(max_tokens, temperature)
            .agents(self.agents().items)
            .environment(self.environment(None))
            .skills(
                crate::agent_loop::skills::model_invocable(&self.commands().items),
                config.commands.positional_base,
            )
            .memory(memory, rules)
            .permissions(self.permissions.clone())
            .hooks(hooks)
            .only_tools(self.options.tools.clone())
            .changes(changes);
        (builder, warnings)
    }

    /// What every system prompt is told about the repository: where it is, the working
    /// folder, the branch, and the target environment when one is chosen.
    pub fn environment(&self, target: Option<&str>) -> String {
        let mut env = format!(
            "- Repository: {} (tools take paths relative to it, e.g. `apps/x/base/kustomization.yaml`)\n",
            self.root.display()
        );
        if self.cwd != self.root {
            env.push_str(&format!("- Working folder: {}\n", self.cwd.display()));
        }
        if let Some(branch) = self.branch() {
            env.push_str(&format!("- Branch: {branch}\n"));
        }
        if let Some(e) = target {
            env.push_str(&format!("- Target environment: {e}\n"));
        }
        env
    }

    /// The checked-out branch, from `.git/HEAD`.
    pub fn branch(&self) -> Option<String> {
        let head = std::fs::read_to_string(self.root.join(".git/HEAD")).ok()?;
        head.trim()
            .strip_prefix("ref: refs/heads/")
            .map(str::to_string)
    }

    /// The key that seals session headers (under the home folder, created on first use);
    /// `None` without a home (sessions are then unsealed and restore nothing).
    pub fn integrity_key(&self) -> Option<crate::session::IntegrityKey> {
        let home = self.home.as_ref()?;
        match crate::session::IntegrityKey::load_or_create(home) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!("no session integrity key ({e}): sessions are not sealed");
                None
            }
        }
    }

    /// Opens the workspace at `cwd`, reading `agentops.toml` from the repository root, with
    /// every settings layer but managed ones.
    pub fn open(cwd: &Path, home: Option<PathBuf>) -> Result<Self, WorkspaceError> {
        Self::open_with(cwd, home, LoadOptions::default())
    }

    /// [`Workspace::open`] as the command line's flags say (`--bare`, `--setting-sources`,
    /// `--settings`, `--trust-repo`, `--tools`, `--plugin-dir`).
    pub fn open_with(
        cwd: &Path,
        home: Option<PathBuf>,
        options: LoadOptions,
    ) -> Result<Self, WorkspaceError> {
        let cwd = cwd.canonicalize().map_err(|source| WorkspaceError::Cwd {
            path: cwd.to_path_buf(),
            source,
        })?;
        let root = find_repo_root(&cwd).unwrap_or_else(|| cwd.clone());
        let config = Config::load(&root)?;
        let trusted = options.trust_repo
            || home
                .as_deref()
                .is_some_and(|h| crate::trust::TrustStore::in_home(h).trusts(&root));
        let settings = Settings::load(&root, home.as_deref(), &options, trusted)?;
        let permissions =
            Permissions::load(&root, &cwd, home.as_deref(), &settings, &config.permissions);
        Ok(Self {
            cwd,
            root,
            home,
            config,
            permissions,
            settings,
            options,
        })
    }

    /// The hooks that apply: the settings layers' and the plugins', with their warnings.
    pub fn hooks(&self) -> (crate::hooks::HookSet, Vec<String>) {
        let (mut hooks, mut warnings) = crate::hooks::HookSet::load(&self.root, &self.settings);
        for plugin in &self.plugins().plugins {
            if self.needs_trust(Source::Plugin, &plugin.root) && !self.settings.trusted {
                continue;
            }
            for h in &plugin.hooks {
                warnings.extend(hooks.add_value(h, &format!("plugin {}", plugin.name)));
            }
        }
        (hooks, warnings)
    }

    /// The plugins (none with `--bare`).
    pub fn plugins(&self) -> crate::plugins::Plugins {
        if self.options.bare {
            return crate::plugins::Plugins::default();
        }
        crate::plugins::Plugins::discover(
            &self.root,
            self.home.as_deref(),
            &self.options.plugin_dirs,
        )
    }

    /// A definition from `source` at `path` is the repository's own: what it widens (allowed
    /// tools, hooks, a permissive mode) applies only when the repository is trusted. A
    /// `--plugin-dir` the person named is theirs.
    fn needs_trust(&self, source: Source, path: &Path) -> bool {
        match source {
            Source::Project => true,
            Source::Plugin => {
                path.starts_with(&self.root)
                    && !self
                        .options
                        .plugin_dirs
                        .iter()
                        .any(|d| d.canonicalize().is_ok_and(|d| path.starts_with(d)))
            }
            Source::User | Source::Builtin => false,
        }
    }

    fn agents_as_written(&self) -> Catalog<AgentDefinition> {
        if self.options.bare {
            let mut catalog = Catalog::default();
            for a in agentops_agents::builtin::agents() {
                catalog.add(a);
            }
            return catalog;
        }
        let mut catalog = agentops_agents::discover(&self.cwd, self.home.as_deref());
        let plugins = self.plugins().agents();
        for a in plugins.items {
            catalog.add(a);
        }
        catalog.diagnostics.extend(plugins.diagnostics);
        catalog.sort();
        catalog
    }

    fn commands_as_written(&self) -> Catalog<CommandDefinition> {
        if self.options.bare {
            let mut catalog = Catalog::default();
            for c in agentops_commands::builtin::commands() {
                catalog.add(c);
            }
            return catalog;
        }
        let mut catalog = agentops_commands::discover(&self.cwd, self.home.as_deref());
        let plugins = self.plugins().commands();
        for c in plugins.items {
            catalog.add(c);
        }
        catalog.diagnostics.extend(plugins.diagnostics);
        catalog.sort();
        catalog
    }

    /// The agents in effect. In a repository that is not trusted, its agents' hooks and a
    /// `permissionMode` that asks less (`acceptEdits`, `bypassPermissions`) are left out.
    pub fn agents(&self) -> Catalog<AgentDefinition> {
        let mut catalog = self.agents_as_written();
        if !self.settings.trusted {
            for a in &mut catalog.items {
                if self.needs_trust(a.source, &a.path) {
                    a.hooks = None;
                    if widening(a.permission_mode) {
                        a.permission_mode = None;
                    }
                }
            }
        }
        catalog
    }

    /// The commands and skills in effect. In a repository that is not trusted, their
    /// `allowed-tools` and hooks are left out.
    pub fn commands(&self) -> Catalog<CommandDefinition> {
        let mut catalog = self.commands_as_written();
        if !self.settings.trusted {
            for c in &mut catalog.items {
                if self.needs_trust(c.source, &c.path) {
                    c.allowed_tools = None;
                    c.hooks = None;
                }
            }
        }
        catalog
    }

    /// What this repository's files ask for that is not applied because it is not trusted,
    /// as one line for a person (`None`: trusted, or nothing to withhold).
    pub fn untrusted_notice(&self) -> Option<String> {
        if self.settings.trusted {
            return None;
        }
        let mut parts = self.settings.withheld();
        if !self.config.permissions.allow.is_empty() {
            parts.push(format!(
                "{} allow rule(s) in agentops.toml ({})",
                self.config.permissions.allow.len(),
                self.config.permissions.allow.join(", ")
            ));
        }
        let commands: Vec<String> = self
            .commands_as_written()
            .items
            .iter()
            .filter(|c| self.needs_trust(c.source, &c.path))
            .filter(|c| {
                // Read-only tools need no rule: leaving them out changes nothing.
                let registry = self.tool_registry();
                c.allowed_tools.as_ref().is_some_and(|t| {
                    t.iter().any(|spec| {
                        registry
                            .get(&spec.name)
                            .is_none_or(|tool| tool.risk() != agentops_tools::Risk::ReadOnly)
                    })
                }) || c.hooks.is_some()
            })
            .map(|c| format!("/{}", c.name))
            .collect();
        if !commands.is_empty() {
            parts.push(format!(
                "the allowed-tools and hooks of {}",
                commands.join(", ")
            ));
        }
        let agents: Vec<String> = self
            .agents_as_written()
            .items
            .iter()
            .filter(|a| self.needs_trust(a.source, &a.path))
            .filter(|a| a.hooks.is_some() || widening(a.permission_mode))
            .map(|a| a.name.clone())
            .collect();
        if !agents.is_empty() {
            parts.push(format!(
                "the hooks and permission modes of agents {}",
                agents.join(", ")
            ));
        }
        if self
            .plugins()
            .plugins
            .iter()
            .any(|p| !p.hooks.is_empty() && self.needs_trust(Source::Plugin, &p.root))
        {
            parts.push("the hooks of the repository's plugins".into());
        }
        (!parts.is_empty()).then(|| {
            format!(
                "this repository is not trusted, so these are not applied: {}. Trust it with `agentops trust` (or --trust-repo for one run) once you have read them",
                parts.join("; ")
            )
        })
    }

    /// The warnings of loading the customisation: settings keys, rules that name nothing,
    /// refused `env` names, plugins that did not load, and what trust withholds.
    pub fn load_warnings(&self) -> Vec<String> {
        let mut out = self.settings.warnings.clone();
        out.extend(self.permissions.warnings.iter().cloned());
        out.extend(self.settings.env().1);
        let plugins = self.plugins();
        out.extend(plugins.errors);
        out.extend(plugins.warnings);
        out.extend(self.untrusted_notice());
        out
    }

    /// The shell that command pre-execution uses: it runs where agentops was started, as
    /// Claude Code does, so relative paths in a command mean the same in both.
    pub fn command_shell(&self) -> CommandShell {
        CommandShell {
            root: self.root.clone(),
            cwd: self.cwd.clone(),
            timeout: self.config.commands.shell_timeout(),
            permissions: self.permissions.clone(),
            sandbox: self.sandbox(),
        }
    }

    pub fn expand_options(&self) -> ExpandOptions {
        ExpandOptions {
            positional_base: self.config.commands.positional_base,
            root: self.root.clone(),
            cwd: self.cwd.clone(),
            session_id: None,
        }
    }

    /// Resolves `/name` and expands it with `args`, running its shell snippets.
    pub fn render_command(
        &self,
        commands: &Catalog<CommandDefinition>,
        name: &str,
        args: &Arguments,
    ) -> Result<(CommandDefinition, Expansion), RenderError> {
        let cmd = agentops_commands::resolve(commands, name)?;
        if !cmd.user_invocable {
            return Err(agentops_commands::ResolveError::NotUserInvocable {
                name: cmd.name.clone(),
            }
            .into());
        }
        let mut expansion =
            agentops_commands::expand(cmd, args, &self.expand_options(), &self.command_shell())?;
        // Inlined files and command output may hold Secrets: redacted before anyone sees them.
        expansion.prompt = self.known_secrets().redact_text(&expansion.prompt);
        Ok((cmd.clone(), expansion))
    }
}

/// A permission mode that asks less than the default.
fn widening(mode: Option<PermissionMode>) -> bool {
    matches!(
        mode,
        Some(PermissionMode::AcceptEdits | PermissionMode::BypassPermissions)
    )
}
