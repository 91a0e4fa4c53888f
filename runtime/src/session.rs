//! Sessions on disk: every `agentops run` is recorded as a versioned JSONL event log under
//! `.agentops/sessions/` (git-ignored), flushed after every event and synced on turn
//! boundaries, gate verdicts and approvals, so a killed process loses nothing it showed.
//! Listing and showing sessions read the logs back (a torn last line is dropped with a
//! warning). Resume, fork, compaction and bundles build on these logs (DESIGN.md §2.5).

use crate::events::Event;
use agentops_sessions::log::{Header, LogError, SessionLog, SessionWriter, read};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `.agentops/` of a repository, created with a `.gitignore` that keeps it out of commits.
pub fn state_dir(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(".agentops");
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")?;
    }
    Ok(dir)
}

pub fn sessions_dir(root: &Path) -> PathBuf {
    root.join(".agentops").join("sessions")
}

/// Writes one session's events as they happen.
pub struct SessionRecorder {
    writer: SessionWriter,
    pub path: PathBuf,
}

impl SessionRecorder {
    pub fn create(
        root: &Path,
        id: &str,
        fields: serde_json::Map<String, Value>,
    ) -> Result<Self, LogError> {
        let dir = state_dir(root)
            .map(|d| d.join("sessions"))
            .map_err(|source| LogError::Io {
                path: root.join(".agentops"),
                source,
            })?;
        let path = dir.join(format!("{id}.jsonl"));
        let writer = SessionWriter::create(&path, &Header::new(id, fields))?;
        Ok(Self { writer, path })
    }

    /// Appends an event; durable at once when it ends a turn or records a gate or approval.
    pub fn record(&mut self, event: &Event) -> Result<(), LogError> {
        self.writer.append(event)?;
        match event {
            Event::ModelResponse { .. }
            | Event::Gate { .. }
            | Event::ApprovalRequested { .. }
            | Event::ApprovalDecided { .. }
            | Event::AgentFinished { .. } => self.writer.sync(),
            _ => self.writer.flush(),
        }
    }

    /// Appends the run's final result object and syncs.
    pub fn finish(&mut self, result: &Value) -> Result<(), LogError> {
        self.writer.append(result)?;
        self.writer.sync()
    }
}

/// One line of `agentops sessions list`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    pub id: String,
    pub path: String,
    pub started: Option<u64>,
    pub agent: Option<String>,
    pub prompt: Option<String>,
    /// From the final `result` event; `None` when the run did not finish (killed).
    pub outcome: Option<String>,
    pub events: usize,
    pub pending_approvals: usize,
    pub warnings: Vec<String>,
}

fn summarize(path: &Path, log: &SessionLog) -> SessionSummary {
    let result = log.events.iter().rev().find(|e| e["type"] == "result");
    let field = |k: &str| {
        log.header
            .fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    SessionSummary {
        id: log.header.session_id.clone(),
        path: path.display().to_string(),
        started: log.header.fields.get("started").and_then(Value::as_u64),
        agent: field("agent"),
        prompt: field("prompt"),
        outcome: result.and_then(|r| r["outcome"].as_str().map(str::to_string)),
        events: log.events.len(),
        pending_approvals: result
            .and_then(|r| r["pending_approvals"].as_array().map(Vec::len))
            .unwrap_or(0),
        warnings: log.warnings.clone(),
    }
}

/// Every session of the repository, newest first; unreadable logs are listed with their error.
pub fn list(root: &Path) -> Vec<SessionSummary> {
    let Ok(entries) = std::fs::read_dir(sessions_dir(root)) else {
        return Vec::new();
    };
    let mut out: Vec<SessionSummary> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| match read(&p) {
            Ok(log) => summarize(&p, &log),
            Err(e) => SessionSummary {
                id: p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: p.display().to_string(),
                started: None,
                agent: None,
                prompt: None,
                outcome: None,
                events: 0,
                pending_approvals: 0,
                warnings: vec![e.to_string()],
            },
        })
        .collect();
    out.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.id.cmp(&a.id)));
    out
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no session `{0}` in this repository; `agentops sessions list` shows them")]
    NotFound(String),
    #[error("`{prefix}` matches {} sessions ({}); give more of the id", matches.len(), matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A session by id or unique id prefix.
pub fn open(root: &Path, id: &str) -> Result<(PathBuf, SessionLog), FindError> {
    let matches: Vec<SessionSummary> = list(root)
        .into_iter()
        .filter(|s| s.id.starts_with(id))
        .collect();
    let exact = matches.iter().find(|s| s.id == id);
    let chosen = match (exact, matches.len()) {
        (Some(s), _) => s,
        (None, 1) => &matches[0],
        (None, 0) => return Err(FindError::NotFound(id.to_string())),
        (None, _) => {
            return Err(FindError::Ambiguous {
                prefix: id.to_string(),
                matches: matches.iter().map(|s| s.id.clone()).collect(),
            });
        }
    };
    let path = PathBuf::from(&chosen.path);
    let log = read(&path)?;
    Ok((path, log))
}
