//! The Tool trait: what the agent loop offers a model and calls.
//!
//! A tool has a name (Claude Code's, so existing `tools:` lists resolve), a description for the
//! model, a JSON schema of its input derived from a typed Rust struct, a risk class the
//! runtime's gates and approvals use, and `run`. Tools never decide permissions themselves:
//! the runtime checks rules, gates and approvals around them.

use crate::file_change::FileChange;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// How much harm a call can do; the runtime decides what each class needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Reads the repository or renders manifests.
    ReadOnly,
    /// Changes files in the repository.
    Write,
    /// Runs arbitrary commands.
    Execute,
    /// Records changes in the repository's history (a commit).
    Commit,
    /// Changes a cluster or a shared system.
    Mutate,
}

/// What a cluster-changing call would do, worked out (server-side dry run, Argo CD diff)
/// without doing it. The runtime gates, classifies and approves it before the call runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MutationPlan {
    /// Where: a kube context, an Argo CD application.
    pub target: String,
    /// The repository folder rendered for it, if any: the gates check it first.
    pub source: Option<String>,
    /// The cluster it reaches, as the kubeconfig context or the Application says: the
    /// runtime decides its environment from these facts, not from names alone.
    pub cluster: ClusterFacts,
    /// The objects now (live) and as they would be after the call.
    pub before: Vec<Value>,
    pub after: Vec<Value>,
    /// A unified diff for people, Secret values redacted.
    pub diff: String,
}

/// A cluster a change reaches: what the kubeconfig context or the Argo CD Application says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterFacts {
    pub context: Option<String>,
    /// The API server URL.
    pub server: Option<String>,
    /// An Argo CD destination cluster name.
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// A planned mutation, or the error the model gets back.
pub type PlanFuture<'a> = BoxFuture<'a, Result<MutationPlan, ToolOutput>>;

/// File changes planned by async work (rendering overlays to find the right file).
pub type ChangeFuture<'a> = BoxFuture<'a, Result<Vec<FileChange>, ToolOutput>>;

/// What a command did in the sandbox: its output, and the changes it would make to the
/// repository (not made: the runtime gates them first).
#[derive(Debug, Clone)]
pub struct Execution {
    pub output: ToolOutput,
    pub changes: Vec<FileChange>,
    /// Changes that cannot be gated as text (symlinks, binary files): they refuse the set.
    pub unsupported: Vec<String>,
    /// The command changed `.git/`; that is never applied.
    pub git_changed: bool,
}

/// A command run in the sandbox, or the error the model gets back.
pub type ExecFuture<'a> = BoxFuture<'a, Result<Execution, ToolOutput>>;

/// Where and how a tool runs.
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    /// The repository root: file tools never leave it.
    pub root: PathBuf,
    /// Relative paths are resolved from here (inside `root`).
    pub cwd: PathBuf,
    /// Default limit for commands a tool runs.
    pub timeout: Duration,
    /// The session the call belongs to (commit trailers, field managers).
    pub session_id: String,
    /// The agent making the call.
    pub agent: String,
    /// The kubeconfig for cluster tools (a run's copy, taken when it starts).
    pub kubeconfig: crate::kube::KubeconfigSource,
    /// The Argo CD API server for the argocd tools.
    pub argocd: Option<ArgoCdEndpoint>,
    /// The shell's sandbox (`None`: not available here; shell commands are refused).
    pub sandbox: Option<crate::sandbox::SandboxConfig>,
    /// Values known to be secret (generator inputs, `.env` files): redacted in every output.
    pub secrets: std::sync::Arc<crate::redact::KnownSecrets>,
}

/// What kind of failure a tool error is: code that drives tools (retries, deploy) decides by
/// this, never by the error's text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Worth another attempt: the network, a 5xx or 429, a timeout talking to a server.
    Transient,
    NotFound,
    /// The object changed under the call (HTTP 409).
    Conflict,
    /// Refused by the server (401/403), a rule or a person.
    Denied,
    /// The input is wrong: the call will fail the same way again.
    Invalid,
    /// Anything else (including a rollout that did not finish in time).
    #[default]
    Failed,
}

impl ErrorKind {
    /// The kind an HTTP status means.
    pub fn from_status(status: u16) -> Self {
        match status {
            404 => Self::NotFound,
            409 => Self::Conflict,
            401 | 403 => Self::Denied,
            400 | 422 => Self::Invalid,
            408 | 429 | 500..=599 => Self::Transient,
            _ => Self::Failed,
        }
    }
}

/// A failed call, for code that drives tools itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ToolError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Where the Argo CD API is and the token for it.
#[derive(Clone)]
pub struct ArgoCdEndpoint {
    /// `https://argocd.example.com` (no trailing `/api`).
    pub server: String,
    pub token: String,
}

impl std::fmt::Debug for ArgoCdEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgoCdEndpoint")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What a call returns to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
    /// For errors: what kind of failure it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
}

impl ToolOutput {
    pub fn ok(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
            kind: None,
        }
    }

    pub fn error(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
            kind: Some(ErrorKind::Failed),
        }
    }

    /// An error of a known kind.
    pub fn failed(kind: ErrorKind, content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
            kind: Some(kind),
        }
    }

    /// The same output with other content (its status and kind kept).
    pub fn with_content(self, content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            ..self
        }
    }

    /// The content, as `Err` when the call failed (for code that drives tools itself).
    pub fn into_result(self) -> Result<String, ToolError> {
        if self.is_error {
            Err(ToolError {
                kind: self.kind.unwrap_or_default(),
                message: self.content,
            })
        } else {
            Ok(self.content)
        }
    }
}

impl From<ToolError> for ToolOutput {
    fn from(e: ToolError) -> Self {
        Self::failed(e.kind, e.message)
    }
}

pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// JSON schema of the input object.
    fn input_schema(&self) -> Value;
    fn risk(&self) -> Risk;
    /// Runs the tool. Invalid input is an error output for the model, not a failure.
    fn run<'a>(&'a self, input: Value, ctx: &'a ToolContext) -> BoxFuture<'a, ToolOutput>;
    /// For tools that change files: the changes a call would make, without making them. The
    /// runtime gates and approves these and writes them itself; a [`Risk::Write`] tool that
    /// cannot plan is refused by the runtime.
    fn plan_change(
        &self,
        _input: &Value,
        _ctx: &ToolContext,
    ) -> Option<Result<Vec<FileChange>, ToolOutput>> {
        None
    }
    /// Like [`Tool::plan_change`], for plans that need async work; asked when `plan_change`
    /// has none.
    fn plan_change_async(
        &self,
        _input: &Value,
        _ctx: &ToolContext,
    ) -> Option<ChangeFuture<'static>> {
        None
    }
    /// For tools that change a cluster ([`Risk::Mutate`]): what the call would change. A
    /// mutating tool that cannot plan is refused by the runtime.
    fn plan_mutation(&self, _input: &Value, _ctx: &ToolContext) -> Option<PlanFuture<'static>> {
        None
    }
    /// For tools that run commands ([`Risk::Execute`]): runs the command where it cannot change
    /// the repository and returns what it would change. An executing tool that cannot is
    /// refused by the runtime.
    fn plan_execution(&self, _input: &Value, _ctx: &ToolContext) -> Option<ExecFuture<'static>> {
        None
    }
}

/// A tool whose input is a typed struct: name, description and risk as constants, the JSON
/// schema derived from `Input`, and invalid input answered for the model before `call` runs.
/// Every typed tool gets [`Tool`] from this.
pub trait TypedTool: Send + Sync {
    type Input: DeserializeOwned + schemars::JsonSchema + Send + 'static;
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    const RISK: Risk;
    fn call(&self, input: Self::Input, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput>;
    /// See [`Tool::plan_change`].
    fn plan(
        &self,
        _input: &Self::Input,
        _ctx: &ToolContext,
    ) -> Option<Result<Vec<FileChange>, ToolOutput>> {
        None
    }
    /// See [`Tool::plan_change_async`].
    fn plan_async(&self, _input: Self::Input, _ctx: &ToolContext) -> Option<ChangeFuture<'static>> {
        None
    }
    /// See [`Tool::plan_mutation`].
    fn plan_mutation(
        &self,
        _input: Self::Input,
        _ctx: &ToolContext,
    ) -> Option<PlanFuture<'static>> {
        None
    }
    /// See [`Tool::plan_execution`].
    fn plan_execution(
        &self,
        _input: Self::Input,
        _ctx: &ToolContext,
    ) -> Option<ExecFuture<'static>> {
        None
    }
}

impl<T: TypedTool> Tool for T {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn description(&self) -> &'static str {
        T::DESCRIPTION
    }
    fn input_schema(&self) -> Value {
        schema_for::<T::Input>()
    }
    fn risk(&self) -> Risk {
        T::RISK
    }
    fn plan_change(
        &self,
        input: &Value,
        ctx: &ToolContext,
    ) -> Option<Result<Vec<FileChange>, ToolOutput>> {
        match parse_input::<T::Input>(T::NAME, input.clone()) {
            Ok(input) => self.plan(&input, ctx),
            Err(e) => Some(Err(e)),
        }
    }
    fn plan_change_async(&self, input: &Value, ctx: &ToolContext) -> Option<ChangeFuture<'static>> {
        match parse_input::<T::Input>(T::NAME, input.clone()) {
            Ok(input) => self.plan_async(input, ctx),
            Err(e) => Some(Box::pin(async move { Err(e) })),
        }
    }
    fn plan_mutation(&self, input: &Value, ctx: &ToolContext) -> Option<PlanFuture<'static>> {
        match parse_input::<T::Input>(T::NAME, input.clone()) {
            Ok(input) => TypedTool::plan_mutation(self, input, ctx),
            Err(e) => Some(Box::pin(async move { Err(e) })),
        }
    }
    fn plan_execution(&self, input: &Value, ctx: &ToolContext) -> Option<ExecFuture<'static>> {
        match parse_input::<T::Input>(T::NAME, input.clone()) {
            Ok(input) => TypedTool::plan_execution(self, input, ctx),
            Err(e) => Some(Box::pin(async move { Err(e) })),
        }
    }
    fn run<'a>(&'a self, input: Value, ctx: &'a ToolContext) -> BoxFuture<'a, ToolOutput> {
        match parse_input::<T::Input>(T::NAME, input) {
            Ok(input) => self.call(input, ctx),
            Err(e) => Box::pin(async move { e }),
        }
    }
}

/// Runs blocking work (file I/O, processes) off the async threads.
pub fn blocking(f: impl FnOnce() -> ToolOutput + Send + 'static) -> BoxFuture<'static, ToolOutput> {
    Box::pin(async move {
        tokio::task::spawn_blocking(f)
            .await
            .unwrap_or_else(|e| ToolOutput::error(format!("tool task failed: {e}")))
    })
}

/// The JSON schema of a typed input, in the plain form model APIs accept (no `$schema`, no
/// `title`, every object closed).
pub fn schema_for<T: schemars::JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        map.entry("additionalProperties")
            .or_insert(Value::Bool(false));
    }
    schema
}

/// Parses a tool's input, or the error the model gets back.
pub fn parse_input<T: DeserializeOwned>(tool: &str, input: Value) -> Result<T, ToolOutput> {
    serde_json::from_value(input)
        .map_err(|e| ToolOutput::error(format!("invalid input for {tool}: {e}")))
}
