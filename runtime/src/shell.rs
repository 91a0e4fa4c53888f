//! The shell used by command expansion (`` !`cmd` ``): runs in the working folder with the
//! configured timeout through the tools crate's runner.
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
    pub cwd: PathBuf,
    pub timeout: Duration,
    pub permissions: Permissions,
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
        let result = shell::run(&ShellCommand {
            script: script.to_string(),
            cwd: self.cwd.clone(),
            timeout: self.timeout,
        })
        .map_err(|e| e.to_string())?;
        Ok(ShellOutput {
            exit_code: result.exit_code,
            stdout: result.stdout,
            stderr: result.stderr,
            timed_out: result.timed_out,
        })
    }
}
