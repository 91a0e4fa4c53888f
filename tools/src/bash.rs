//! `Bash`: a shell command in the repository, with a timeout — run in the sandbox
//! ([`crate::sandbox`]), so it only *plans*: its output comes back at once, its changes to the
//! repository go through the runtime's gates and approvals before any reaches the real tree.
//! Permission rules are checked by the runtime before this runs. Without a sandbox the
//! runtime refuses shell commands.

use crate::shell::ShellResult;
use crate::tool::{ExecFuture, Execution, Risk, ToolContext, ToolOutput, TypedTool};
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
    const DESCRIPTION: &'static str = "Run a shell command in the repository and return its exit code, stdout and stderr. It runs in a sandbox without network; files it changes are checked by the gates before they reach the repository. Prefer the typed tools (kustomize_build, Read, Grep) when they fit.";
    const RISK: Risk = Risk::Execute;
    fn call(&self, _input: BashInput, _ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        // Never run outside the sandbox: the runtime calls `plan_execution`.
        Box::pin(async {
            ToolOutput::error("Bash runs only in the sandbox, through the runtime's gates")
        })
    }
    fn plan_execution(&self, input: BashInput, ctx: &ToolContext) -> Option<ExecFuture<'static>> {
        let sandbox = ctx.sandbox.clone()?;
        let (root, cwd) = (ctx.root.clone(), ctx.cwd.clone());
        let secrets = ctx.secrets.clone();
        let hidden = secrets.files().to_vec();
        let timeout = input.timeout.map_or(ctx.timeout, |s| {
            Duration::from_secs(s.clamp(1, MAX_TIMEOUT_SECS))
        });
        Some(Box::pin(async move {
            let run = tokio::task::spawn_blocking(move || {
                sandbox.run_hiding(&root, &cwd, &input.command, timeout, &hidden)
            })
            .await
            .map_err(|e| ToolOutput::error(format!("tool task failed: {e}")))?
            .map_err(|e| ToolOutput::error(e.to_string()))?;
            Ok(Execution {
                output: describe(run.result, timeout, &secrets),
                changes: run.changes,
                unsupported: run.unsupported,
                git_changed: run.git_changed,
            })
        }))
    }
}

/// Exit code, stdout and stderr for the model, Secrets redacted.
fn describe(
    mut r: ShellResult,
    timeout: Duration,
    secrets: &crate::redact::KnownSecrets,
) -> ToolOutput {
    r.stdout = secrets.redact_text(&r.stdout);
    r.stderr = secrets.redact_text(&r.stderr);
    let mut text = String::new();
    if r.timed_out {
        text.push_str(&format!("timed out after {}s\n", timeout.as_secs()));
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
