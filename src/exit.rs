//! The error type that carries an exit code (DESIGN.md §4, decided in
//! `agentops_runtime::outcome`) to `main`.

pub use agentops_runtime::outcome::ExitCode;

/// An error with the exit code it maps to; the message is printed once by `main`.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ExitCode::Usage,
            error: error.into(),
        }
    }

    pub fn findings(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ExitCode::Findings,
            error: error.into(),
        }
    }

    /// A routing error: an expansion that failed is a finding, the rest is usage.
    pub fn route(error: agentops_runtime::route::RouteError) -> Self {
        match error {
            agentops_runtime::route::RouteError::Expand(_) => Self::findings(error),
            _ => Self::usage(error),
        }
    }
}

pub type CliResult = Result<ExitCode, Failure>;
