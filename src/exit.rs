//! Exit codes (DESIGN.md §4) and the error type that carries one to `main`.

/// 0 success · 1 findings or a failed gate · 2 usage or configuration error · 3 approval
/// required · 4 model/provider failure after retries · 5 turn or budget limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Findings = 1,
    Usage = 2,
    /// Approval required and not granted (or a tool call denied).
    Denied = 3,
    Provider = 4,
    Limit = 5,
}

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
}

pub type CliResult = Result<ExitCode, Failure>;
