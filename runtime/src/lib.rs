//! The agentops runtime: the workspace (repository, configuration, catalogs), model providers,
//! the agent loop with delegation, retries, budgets and cost, permissions, the gates around
//! every change (`gates` for whole trees, `review` for a change, commit, shell command or
//! cluster plan), compliance policies, risk, approvals, the typed events front ends render,
//! and lint. Hooks land here next (DESIGN.md §2–3).

pub mod agent_loop;
pub mod approval;
pub mod config;
pub mod cost;
pub mod deploy;
pub mod drift;
pub mod events;
pub mod gates;
pub mod hooks;
pub mod lint;
pub mod model;
pub mod permissions;
pub mod policy;
pub mod providers;
pub mod review;
pub mod risk;
pub mod session;
pub mod shell;
pub mod tool_mode;
pub mod workspace;

pub use agent_loop::{AgentRun, Engine, RunError, Stop, Totals};
pub use config::Config;
pub use events::{Event, EventSink};
pub use workspace::{RenderError, Workspace, WorkspaceError};
