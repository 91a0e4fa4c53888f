//! The agentops runtime — the one core the front ends (`run`, the REPL, `create`, `harmonize`,
//! `deploy`) drive and render (DESIGN.md §2–3):
//!
//! - `workspace`: the repository, its configuration and catalogs, and the factories for what a
//!   run needs (render cache, change gate, change service, tool context, tool registry);
//! - `agent_loop`: the engine — model turns, tool calls, delegation, retries, budgets, cost,
//!   hooks, compaction;
//! - `change`: the one gated-change service (plan → gates → risk → approval → apply) and its
//!   ledger; `review` (the gates on one change), `gates` (whole trees), `policy`, `risk`,
//!   `approval` (rules and approvers);
//! - `outcome`: the result of a run — outcome, exit code and the result object;
//! - `session`: the typed session header, recording, and the one resume routine;
//! - `events`: the typed event protocol (serialized to logs and stream-json, read back by
//!   replay); `permissions`, `hooks`, `deploy`, `drift`, `lint`, `providers`, `model`.

pub mod agent_loop;
pub mod approval;
pub mod change;
pub mod config;
pub mod control;
pub mod cost;
pub mod deploy;
pub mod drift;
pub mod environments;
pub mod events;
pub mod gates;
pub mod hooks;
pub mod lint;
pub mod memory;
pub mod model;
pub mod outcome;
pub mod permissions;
pub mod plugins;
pub mod policy;
pub mod providers;
pub mod review;
pub mod risk;
pub mod route;
pub mod session;
pub mod settings;
pub mod shell;
pub mod shell_syntax;
pub mod state;
pub mod tool_mode;
pub mod trust;
pub mod workspace;

pub use agent_loop::{AgentRun, Engine, EngineBuilder, RunError, Stop, Totals};
pub use config::Config;
pub use events::{Event, EventSink};
pub use workspace::{RenderError, Workspace, WorkspaceError};
