//! Exit codes (DESIGN.md §4) and the error type that carries one to `main`.

/// 0 success · 1 findings or a failed gate · 2 usage or configuration error · 3 approval
/// required · 4 model/provider failure after retries · 5 turn or budget limit · 130/143 stopped
/// by SIGINT/SIGTERM (the session is saved and can be resumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    Findings = 1,
    Usage = 2,
    /// Approval required and not granted (or a tool call denied).
    Denied = 3,
    Provider = 4,
    Limit = 5,
    /// Stopped by SIGINT (128 + 2), the shell's convention.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15), the shell's convention.
    Terminated = 143,
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
