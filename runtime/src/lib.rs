//! The agentops runtime: the workspace (repository, configuration, catalogs), lint, and the
//! shell used by command expansion. The agent loop, providers, permissions, gates, approvals
//! and hooks land here next (DESIGN.md §2–3); front ends stay thin on top of it.

pub mod config;
pub mod lint;
pub mod shell;
pub mod workspace;

pub use config::Config;
pub use workspace::{RenderError, Workspace, WorkspaceError};
