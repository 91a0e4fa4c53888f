//! The shell used by command expansion (`` !`cmd` ``): runs in the working folder with the
//! configured timeout through the tools crate's runner.
//!
//! Permission rules (`allowed-tools`, settings allow/ask/deny) will be checked here before
//! anything runs once the permission engine lands (DESIGN.md §3); today every snippet a
//! command file contains is run, exactly as `agentops commands render` shows.

use agentops_commands::{ShellExec, ShellOutput};
use agentops_tools::shell::{self, ShellCommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CommandShell {
    pub cwd: PathBuf,
    pub timeout: Duration,
}

impl ShellExec for CommandShell {
    fn run(&self, script: &str) -> Result<ShellOutput, String> {
        tracing::debug!(script, "pre-executing command shell snippet");
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
