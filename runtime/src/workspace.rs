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
            cwd: self.cwd.clone(),
            timeout: self.config.commands.shell_timeout(),
            permissions: self.permissions.clone(),
        }
    }

    pub fn expand_options(&self) -> ExpandOptions {
        ExpandOptions {
            positional_base: self.config.commands.positional_base,
            root: self.root.clone(),
            cwd: self.cwd.clone(),
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
        let mut expansion =
            agentops_commands::expand(cmd, args, &self.expand_options(), &self.command_shell())?;
        // Inlined files and command output may hold Secrets: redacted before anyone sees them.
        expansion.prompt = agentops_tools::redact::redact_text(&expansion.prompt);
        Ok((cmd.clone(), expansion))
    }
}
