//! agentops' tools: the [`Tool`] trait and the tools the agent loop offers — files
//! (`files`, `edit`), shell (`bash`, `shell`), `kustomize`, `git`, `kube`, `argocd` — and the
//! checks the gates use (`schema`, `redact`, `path`). Tools that change files or clusters only
//! *plan* ([`Tool::plan_change`], [`Tool::plan_mutation`]); the runtime gates the plan.

pub mod add;
pub mod argocd;
pub mod bash;
pub mod create;
pub mod digest;
pub mod edit;
pub mod file_change;
pub mod files;
pub mod find;
pub mod git;
pub mod harmonize;
pub mod http;
pub mod kube;
pub mod kustomize;
pub mod learnings;
pub mod path;
pub mod redact;
pub mod registry;
pub mod sandbox;
pub mod schema;
pub mod shell;
pub mod suggest;
pub mod tool;

pub use registry::ToolRegistry;
pub use tool::{
    ClusterFacts, ErrorKind, MutationPlan, Risk, Tool, ToolContext, ToolError, ToolOutput,
};
