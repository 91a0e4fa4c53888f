//! Sessions on disk: every `agentops run` is recorded as a versioned JSONL event log under
//! `.agentops/sessions/` (git-ignored). The [`SessionRecorder`] is the one writer: the event
//! sink appends every event through it *before* the front end sees it, flushed at once and
//! fsynced before tool calls, gates, approvals and at turn ends, so a killed process loses
//! nothing it showed and nothing it was about to change. Listing, lookup, replay, fork and
//! bundles live in `agentops-sessions`.

use crate::events::Event;
use crate::model::Message;
use agentops_sessions::log::{Header, LogError, SessionLog, SessionWriter, read};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use agentops_sessions::index::{FindError, SessionSummary};
pub use agentops_sessions::{SessionLog as Log, bundle, index, read as read_log};

/// `.agentops/` of a repository, created with a `.gitignore` that keeps it out of commits.
pub fn state_dir(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(".agentops");
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        // State stays out of commits; the team's learnings do not.
        std::fs::write(&ignore, "*\n!.gitignore\n!learnings.md\n")?;
    }
    Ok(dir)
}

pub fn sessions_dir(root: &Path) -> PathBuf {
    root.join(".agentops").join("sessions")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Writes one session's events as they happen.
pub struct SessionRecorder {
    writer: SessionWriter,
    pub path: PathBuf,
    pub id: String,
}

impl SessionRecorder {
    /// A new session log (`<dir>/<id>.jsonl`; `dir` defaults to `.agentops/sessions/`).
    pub fn create(
        root: &Path,
        dir: Option<&Path>,
        id: &str,
        fields: serde_json::Map<String, Value>,
    ) -> Result<Self, LogError> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => state_dir(root)
                .map(|d| d.join("sessions"))
                .map_err(|source| LogError::Io {
                    path: root.join(".agentops"),
                    source,
                })?,
        };
        let path = dir.join(format!("{id}.jsonl"));
        let writer = SessionWriter::create(&path, &Header::new(id, fields))?;
        Ok(Self {
            writer,
            path,
            id: id.to_string(),
        })
    }

    /// Goes on with an existing log (a torn last line is cut off first).
    pub fn resume(path: &Path) -> Result<(Self, SessionLog), LogError> {
        let (writer, log) = SessionWriter::resume(path)?;
        Ok((
            Self {
                writer,
                path: path.to_path_buf(),
                id: log.header.session_id.clone(),
            },
            log,
        ))
    }

    /// Appends an event with its time. Every event is handed to the OS at once (a killed
    /// process loses nothing); those before a change or at a turn's end are also fsynced.
    pub fn record(&mut self, event: &Event) -> Result<(), LogError> {
        let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("ts".to_string(), Value::from(now_ms()));
        }
        self.writer.append(&value)?;
        match event {
            Event::ToolCall { .. }
            | Event::ModelResponse { .. }
            | Event::Gate { .. }
            | Event::ApprovalRequested { .. }
            | Event::ApprovalDecided { .. }
            | Event::Compacted { .. }
            | Event::Resumed { .. }
            | Event::AgentFinished { .. } => self.writer.sync(),
            _ => self.writer.flush(),
        }
    }

    /// Appends the run's final result object and syncs.
    pub fn finish(&mut self, result: &Value) -> Result<(), LogError> {
        let mut value = result.clone();
        if let Value::Object(map) = &mut value {
            map.insert("ts".to_string(), Value::from(now_ms()));
        }
        self.writer.append(&value)?;
        self.writer.sync()
    }
}

/// Every session in `dir`, newest first (from the index when logs are unchanged).
pub fn list(dir: &Path) -> Vec<SessionSummary> {
    index::list(dir)
}

/// A session by id or unique id prefix.
pub fn open(dir: &Path, id: &str) -> Result<(PathBuf, SessionLog), FindError> {
    let path = index::find(dir, id)?;
    let log = read(&path)?;
    Ok((path, log))
}

/// A pending high-risk change as the log keeps it: enough to make the same call again.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCall {
    pub id: String,
    pub agent: String,
    pub tool: String,
    pub input: Value,
}

/// Where a session stands, typed: the conversation to go on with and what waits for approval.
#[derive(Debug, Clone)]
pub struct Resumption {
    pub messages: Vec<Message>,
    pub pending: Vec<PendingCall>,
    pub interrupted_calls: Vec<String>,
    /// Messages the log had that could not be read back (skipped, with a warning each).
    pub warnings: Vec<String>,
    pub last_active_ms: Option<u64>,
}

/// Replays a session log into messages and pending calls.
pub fn resumption(log: &SessionLog) -> Resumption {
    let r = agentops_sessions::replay(&log.events);
    let mut warnings = log.warnings.clone();
    let mut messages = Vec::with_capacity(r.messages.len());
    for (i, m) in r.messages.into_iter().enumerate() {
        match serde_json::from_value::<Message>(m) {
            Ok(Message::System { .. }) => {}
            Ok(m) => messages.push(m),
            Err(e) => warnings.push(format!("message {} of the log skipped: {e}", i + 1)),
        }
    }
    let pending = r
        .pending
        .iter()
        .filter_map(|p| {
            Some(PendingCall {
                id: p["id"].as_str()?.to_string(),
                agent: p["agent"].as_str().unwrap_or_default().to_string(),
                tool: p["tool"].as_str()?.to_string(),
                input: p["input"].clone(),
            })
        })
        .collect();
    Resumption {
        messages,
        pending,
        interrupted_calls: r.interrupted_calls,
        warnings,
        last_active_ms: r.last_ts,
    }
}
