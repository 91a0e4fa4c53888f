//! The repository agentops works in: where it is, its configuration, and the agents and
//! commands visible from it.

use crate::config::{Config, ConfigError};
use crate::permissions::{Permissions, PermissionsError};
use crate::shell::CommandShell;
use agentops_agents::{AgentDefinition, Catalog, discover::find_repo_root};
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
    Permissions(#[from] PermissionsError),
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
        let (hooks, _) = crate::hooks::HookSet::load(&self.root, self.home.as_deref());
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
            Ok(s) => Some(s),
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
        let (hooks, mut warnings) = crate::hooks::HookSet::load(&self.root, self.home.as_deref());
        let (memory, rules) =
            crate::memory::Memory::load_with_rules(&self.root, &self.cwd, self.home.as_deref());
        warnings.extend(memory.warnings.iter().cloned());
        let ctx = agentops_tools::ToolContext {
            sandbox: self.sandbox(),
            ..self.tool_context(session_id, "")
        };
        let temperature = config.model.temperature.or(provider.temperature);
        let builder = crate::Engine::builder(provider, ctx)
            .tools(self.tool_registry())
            .aliases(config.models.aliases.clone())
            .prices(crate::cost::PriceTable::new(&config.prices))
            .limits(config.limits.clone())
            .sampling(config.model.max_tokens, temperature)
            .agents(self.agents().items)
            .environment(self.environment(None))
            .skills(
                crate::agent_loop::skills::model_invocable(&self.commands().items),
                config.commands.positional_base,
            )
            .memory(memory, rules)
            .permissions(self.permissions.clone())
            .hooks(hooks)
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

    /// Opens the workspace at `cwd`, reading `agentops.toml` from the repository root.
    pub fn open(cwd: &Path, home: Option<PathBuf>) -> Result<Self, WorkspaceError> {
        let cwd = cwd.canonicalize().map_err(|source| WorkspaceError::Cwd {
            path: cwd.to_path_buf(),
            source,
        })?;
        let root = find_repo_root(&cwd).unwrap_or_else(|| cwd.clone());
        let config = Config::load(&root)?;
        let permissions = Permissions::load(&root, &cwd, home.as_deref(), &config.permissions)?;
        Ok(Self {
            cwd,
            root,
            home,
            config,
            permissions,
        })
    }

    pub fn agents(&self) -> Catalog<AgentDefinition> {
        agentops_agents::discover(&self.cwd, self.home.as_deref())
    }

    pub fn commands(&self) -> Catalog<CommandDefinition> {
        agentops_commands::discover(&self.cwd, self.home.as_deref())
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
