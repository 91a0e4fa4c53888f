//! Diagnostics: what the loader tells a user about a definition file.
//!
//! Loading is lenient (Claude Code loads files that strict YAML rejects), so most problems are
//! warnings that still yield a usable definition. Errors mean the file could not be used.

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a diagnostic is. `lint` exits 1 when any error is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Severity::Warning => f.write_str("warning"),
            Severity::Error => f.write_str("error"),
        }
    }
}

/// One finding about a definition file, with the 1-based line it concerns when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based line in the file, when the finding concerns one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// A stable, kebab-case identifier of the kind of finding (for filtering and tests).
    pub code: &'static str,
    pub message: String,
}

impl Diagnostic {
    pub fn warning(code: &'static str, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            line,
            code,
            message: message.into(),
        }
    }

    pub fn error(code: &'static str, line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            line,
            code,
            message: message.into(),
        }
    }

    /// `path:line: severity: message`, the form editors and CI logs link from.
    pub fn display_with<'a>(&'a self, path: &'a Path) -> impl fmt::Display + 'a {
        DiagnosticDisplay { path, diag: self }
    }
}

struct DiagnosticDisplay<'a> {
    path: &'a Path,
    diag: &'a Diagnostic,
}

impl fmt::Display for DiagnosticDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.diag.line {
            Some(line) => write!(f, "{}:{line}: ", self.path.display())?,
            None => write!(f, "{}: ", self.path.display())?,
        }
        write!(
            f,
            "{}: {} [{}]",
            self.diag.severity, self.diag.message, self.diag.code
        )
    }
}

/// A diagnostic tied to a file: what discovery reports for files it skipped or shadowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiagnostic {
    pub path: PathBuf,
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
}

impl fmt::Display for FileDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic.display_with(&self.path).fmt(f)
    }
}
