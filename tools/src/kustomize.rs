//! `kustomize_build`: render an overlay with `kubectl kustomize` (or a `kustomize` binary).

use crate::path::confine;
use crate::tool::{Risk, Tool, ToolContext, ToolOutput, parse_input, schema_for};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KustomizeBuildInput {
    /// Folder with a kustomization.yaml, e.g. `apps/web/overlays/prod`.
    pub path: String,
}

pub struct KustomizeBuildTool;

impl Tool for KustomizeBuildTool {
    fn name(&self) -> &'static str {
        "kustomize_build"
    }
    fn description(&self) -> &'static str {
        "Render a Kustomize overlay (kubectl kustomize) and return the manifests as YAML, or the error that stops it from building."
    }
    fn input_schema(&self) -> Value {
        schema_for::<KustomizeBuildInput>()
    }
    fn risk(&self) -> Risk {
        Risk::ReadOnly
    }
    fn run<'a>(&'a self, input: Value, ctx: &'a ToolContext) -> BoxFuture<'a, ToolOutput> {
        async move {
            let input: KustomizeBuildInput = match parse_input("kustomize_build", input) {
                Ok(i) => i,
                Err(e) => return e,
            };
            let dir = match confine(&ctx.root, &ctx.cwd, &input.path) {
                Ok(d) => d,
                Err(e) => return ToolOutput::error(e.to_string()),
            };
            match render(&dir, ctx.timeout).await {
                // Rendered Secrets (secretGenerator, committed Secrets) never reach the model.
                Ok(yaml) => ToolOutput::ok(crate::redact::redact_text(&yaml)),
                Err(e) => ToolOutput::error(format!("{} does not build: {e}", input.path)),
            }
        }
        .boxed()
    }
}

/// Renders `dir` with `kubectl kustomize`, falling back to a `kustomize` binary.
pub async fn render(dir: &Path, timeout: std::time::Duration) -> Result<String, String> {
    let mut last_err = String::new();
    for (program, args) in [("kubectl", vec!["kustomize"]), ("kustomize", vec!["build"])] {
        let child = tokio::process::Command::new(program)
            .args(&args)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                last_err = format!("neither kubectl nor kustomize is installed ({e})");
                continue;
            }
            Err(e) => return Err(format!("cannot run {program}: {e}")),
        };
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(format!("{program} failed: {e}")),
            Err(_) => return Err(format!("{program} timed out after {}s", timeout.as_secs())),
        };
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    Err(last_err)
}
