//! agentops' tools: the [`Tool`] trait and the tools the agent loop offers. The typed
//! infrastructure tools (kubectl, argocd, git) and the gates' checks grow here (DESIGN.md §3).

pub mod argocd;
pub mod bash;
pub mod edit;
pub mod files;
pub mod git;
pub mod http;
pub mod kube;
pub mod kustomize;
pub mod path;
pub mod redact;
pub mod registry;
pub mod schema;
pub mod shell;
pub mod tool;

pub use registry::ToolRegistry;
pub use tool::{MutationPlan, Risk, Tool, ToolContext, ToolOutput};
