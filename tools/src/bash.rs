//! `Bash`: a shell command in the repository, with a timeout. Permission rules are checked by
//! the runtime before this runs.

use crate::shell::{self, ShellCommand};
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use std::time::Duration;

/// Longest timeout a call may ask for.
const MAX_TIMEOUT_SECS: u64 = 600;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BashInput {
    /// The command line to run with bash in the repository.
    pub command: String,
    /// Seconds before the command is killed (default: the configured timeout, at most 600).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// What the command does, in a few words (shown to the person approving it).
    #[serde(default)]
    pub description: Option<String>,
}

pub struct BashTool;

impl TypedTool for BashTool {
    type Input = BashInput;
    const NAME: &'static str = "Bash";
    const DESCRIPTION: &'static str = "Run a shell command in the repository and return its exit code, stdout and stderr. Prefer the typed tools (kustomize_build, Read, Grep) when they fit.";
    const RISK: Risk = Risk::Execute;
    fn call(&self, input: BashInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let ctx = ctx.clone();
        Box::pin(async move {
            let timeout = input.timeout.map_or(ctx.timeout, |s| {
                Duration::from_secs(s.clamp(1, MAX_TIMEOUT_SECS))
            });
            let cmd = ShellCommand {
                script: input.command,
                cwd: ctx.cwd.clone(),
                timeout,
            };
            tokio::task::spawn_blocking(move || match shell::run(&cmd) {
                Ok(mut r) => {
                    r.stdout = crate::redact::redact_text(&r.stdout);
                    r.stderr = crate::redact::redact_text(&r.stderr);
                    let mut text = String::new();
                    if r.timed_out {
                        text.push_str(&format!("timed out after {}s\n", cmd.timeout.as_secs()));
                    } else if let Some(code) = r.exit_code {
                        text.push_str(&format!("exit code {code}\n"));
                    }
                    if !r.stdout.is_empty() {
                        text.push_str(&r.stdout);
                        if !r.stdout.ends_with('\n') {
                            text.push('\n');
                        }
                    }
                    if !r.stderr.is_empty() {
                        text.push_str("stderr:\n");
                        text.push_str(&r.stderr);
                    }
                    if r.timed_out || r.exit_code != Some(0) {
                        ToolOutput::error(text)
                    } else {
                        ToolOutput::ok(text)
                    }
                }
                Err(e) => ToolOutput::error(e.to_string()),
            })
            .await
            .unwrap_or_else(|e| ToolOutput::error(format!("tool task failed: {e}")))
        })
    }
}
