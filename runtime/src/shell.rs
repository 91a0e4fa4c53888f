//! The shell used by command expansion (`` !`cmd` ``): runs in the working folder with the
//! configured timeout, in the shell's sandbox where this machine has one — read-only: what a
//! snippet would change is discarded (and said), never applied.
//!
//! Deny rules (settings, agentops.toml) are checked before anything runs: a denied snippet
//! stops the command. A snippet no rule allows still runs — the person invoked the command and
//! `commands render` shows what it runs — and is logged.

use crate::permissions::{Decision, Permissions};
use agentops_commands::{ShellExec, ShellOutput};
use agentops_tools::shell::{self, ShellCommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CommandShell {
    /// The repository (the sandbox's lower layer).
    pub root: PathBuf,
    pub cwd: PathBuf,
    pub timeout: Duration,
    pub permissions: Permissions,
    /// Snippets run here, read-only, when set.
    pub sandbox: Option<agentops_tools::sandbox::SandboxConfig>,
}

impl ShellExec for CommandShell {
    fn run(&self, script: &str) -> Result<ShellOutput, String> {
        match self.permissions.check_shell(script) {
            Decision::Deny(reason) => return Err(format!("not run: {reason}")),
            Decision::Ask(reason) => {
                tracing::info!(script, reason, "running a command snippet no rule allows")
            }
            Decision::Allow => tracing::debug!(script, "pre-executing command shell snippet"),
        }
        let result = match &self.sandbox {
            Some(sandbox) => {
                let run = sandbox
                    .run(&self.root, &self.cwd, script, self.timeout)
                    .map_err(|e| e.to_string())?;
                let discarded = run.changes.len() + run.unsupported.len();
                let mut result = run.result;
                if discarded > 0 || run.git_changed {
                    result.stderr.push_str(
                        "\n[agentops] this snippet runs read-only: its changes to the repository were discarded\n",
                    );
                }
                result
            }
            None => shell::run(&ShellCommand {
                script: script.to_string(),
                cwd: self.cwd.clone(),
                timeout: self.timeout,
            })
            .map_err(|e| e.to_string())?,
        };
        Ok(ShellOutput {
            exit_code: result.exit_code,
            stdout: result.stdout,
            stderr: result.stderr,
            timed_out: result.timed_out,
        })
    }
}
