//! Sessions on disk: every `agentops run` is recorded as a versioned JSONL event log under
//! `.agentops/sessions/` (git-ignored). The [`SessionRecorder`] is the one writer: the event
//! sink appends every event through it *before* the front end sees it, flushed at once and
//! fsynced before tool calls, gates, approvals and at turn ends, so a killed process loses
//! nothing it showed and nothing it was about to change. Listing, lookup, replay, fork and
//! bundles live in `agentops-sessions`.

use crate::events::Event;
use crate::model::Message;
use agentops_agents::definition::PermissionMode;
use agentops_sessions::log::{Header, LogError, SessionLog, SessionWriter, read};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use agentops_sessions::index::{FindError, SessionSummary};
pub use agentops_sessions::{SessionLog as Log, bundle, index, read as read_log};

pub use crate::state::state_dir;

pub fn sessions_dir(root: &Path) -> PathBuf {
    root.join(".agentops").join("sessions")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Which front end started a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrontEnd {
    /// `agentops run` (headless).
    #[default]
    Run,
    /// The interactive REPL.
    Repl,
    /// `agentops deploy`.
    Deploy,
}

/// The first line of a session log, typed: what a resume restores, and where the session
/// came from. Written by [`SessionHeader::new`] only; read leniently (a field a log lacks
/// takes its default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionHeader {
    /// The repository root.
    pub repo: String,
    /// Unix seconds.
    pub started: u64,
    pub front_end: FrontEnd,
    pub agent: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub permission_mode: Option<PermissionMode>,
    /// The slash command the session was started with (its allow rules and hooks come back).
    pub command: Option<String>,
    /// The first prompt, redacted, at most 2,000 characters.
    pub prompt: Option<String>,
    /// The session this one was forked from.
    pub forked_from: Option<String>,
    /// `hmac-sha256:<hex>` over the other fields and the session id, with a key kept outside
    /// the repository ([`IntegrityKey`]): a header edited by hand no longer matches.
    pub integrity: Option<String>,
}

/// The per-user key that seals session headers (`~/.config/agentops/session.key`, 0600,
/// created on first use; outside every repository).
#[derive(Clone)]
pub struct IntegrityKey([u8; 32]);

impl std::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntegrityKey(<hidden>)")
    }
}

impl IntegrityKey {
    /// The key under `home`, created when missing.
    pub fn load_or_create(home: &Path) -> std::io::Result<Self> {
        let path = home.join(".config").join("agentops").join("session.key");
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Some(key) = parse_hex32(text.trim())
        {
            return Ok(Self(key));
        }
        let mut key = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        options.open(&path)?.write_all(hex.as_bytes())?;
        Ok(Self(key))
    }

    /// HMAC-SHA256 of `message` (RFC 2104).
    fn mac(&self, message: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let pad = |byte: u8| -> Vec<u8> { block.iter().map(|b| b ^ byte).collect() };
        let mut inner = Sha256::new();
        inner.update(pad(0x36));
        inner.update(message);
        let mut outer = Sha256::new();
        outer.update(pad(0x5c));
        outer.update(inner.finalize());
        outer
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// How far a session header can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Sealed with this user's key and unchanged.
    Sealed,
    /// Written without a seal (an older agentops, or no key): nothing is restored from it.
    Unsealed,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: the session header was changed after agentops wrote it (its integrity tag does not match); agentops will not go on with it. Start a new session, or remove the file"
)]
pub struct Tampered {
    pub path: String,
}

impl SessionHeader {
    /// A header for a new session of `root`, started now.
    pub fn new(root: &Path, front_end: FrontEnd, agent: &str) -> Self {
        Self {
            repo: root.display().to_string(),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            front_end,
            agent: agent.to_string(),
            ..Self::default()
        }
    }

    /// Keeps the first prompt, redacted and cut.
    pub fn with_prompt(mut self, prompt: &str) -> Self {
        let kept: String = agentops_tools::redact::redact_text(prompt)
            .chars()
            .take(2000)
            .collect();
        self.prompt = Some(kept);
        self
    }

    /// The typed header of a log (missing or unreadable fields take their defaults).
    pub fn of(log: &SessionLog) -> Self {
        serde_json::from_value(Value::Object(log.header.fields.clone())).unwrap_or_else(|_| {
            // One malformed field must not lose the others.
            let field = |k: &str| log.header.fields.get(k).cloned().unwrap_or(Value::Null);
            Self {
                repo: field("repo").as_str().unwrap_or_default().to_string(),
                agent: field("agent").as_str().unwrap_or_default().to_string(),
                model: field("model").as_str().map(str::to_string),
                command: field("command").as_str().map(str::to_string),
                ..Self::default()
            }
        })
    }

    /// The header sealed for session `id` with `key`.
    pub fn seal(mut self, id: &str, key: &IntegrityKey) -> Self {
        self.integrity = None;
        let tag = key.mac(&self.signed_bytes(id));
        self.integrity = Some(format!("hmac-sha256:{tag}"));
        self
    }

    /// Whether the header of session `id` (read from `path`) is as this user's agentops wrote
    /// it.
    pub fn check(&self, id: &str, key: &IntegrityKey, path: &Path) -> Result<Trust, Tampered> {
        let Some(tag) = &self.integrity else {
            return Ok(Trust::Unsealed);
        };
        let mut bare = self.clone();
        bare.integrity = None;
        let expected = format!("hmac-sha256:{}", key.mac(&bare.signed_bytes(id)));
        if *tag == expected {
            Ok(Trust::Sealed)
        } else {
            Err(Tampered {
                path: path.display().to_string(),
            })
        }
    }

    fn signed_bytes(&self, id: &str) -> Vec<u8> {
        let body = serde_json::to_string(self).unwrap_or_default();
        format!("{id}\n{body}").into_bytes()
    }

    fn fields(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }
}

/// A new session id: `run-<unix seconds>-<nanos ^ pid>` in hex.
pub fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "run-{:x}-{:x}",
        nanos / 1_000_000_000,
        (nanos % 1_000_000_000) ^ u128::from(std::process::id())
    )
}

/// A session to go on with: its log read, its header typed.
pub struct Previous {
    pub path: PathBuf,
    pub log: SessionLog,
    pub header: SessionHeader,
}

impl Previous {
    /// `--resume ID|prefix` (`Some(id)`) or `--continue` (`None`: the latest) in `dir`.
    pub fn find(dir: &Path, id: Option<&str>) -> Result<Self, FindError> {
        let path = match id {
            Some(id) => index::find(dir, id)?,
            None => index::latest(dir)?,
        };
        let log = read(&path)?;
        let header = SessionHeader::of(&log);
        Ok(Self { path, log, header })
    }

    /// Checks the header against this user's key: a tampered header is an error; an unsealed
    /// one (older agentops, no key) restores nothing — the session goes on as the invocation
    /// says, with a warning.
    pub fn verify(&mut self, key: Option<&IntegrityKey>) -> Result<Option<String>, Tampered> {
        let trust = match key {
            Some(k) => self
                .header
                .check(&self.log.header.session_id, k, &self.path)?,
            None => Trust::Unsealed,
        };
        if trust == Trust::Sealed {
            return Ok(None);
        }
        self.header = SessionHeader {
            repo: self.header.repo.clone(),
            started: self.header.started,
            ..SessionHeader::default()
        };
        Ok(Some(format!(
            "{}: the session header is not sealed by this user's agentops; its agent, model, permission mode and command are not restored",
            self.path.display()
        )))
    }

    /// The typed events of the log (lines that are not events are skipped).
    pub fn events(&self) -> Vec<Event> {
        typed_events(&self.log)
    }
}

/// The events of a log, typed; lines that are not events (the result objects) are skipped.
pub fn typed_events(log: &SessionLog) -> Vec<Event> {
    log.events
        .iter()
        .filter_map(|e| serde_json::from_value(e.clone()).ok())
        .collect()
}

/// An open session: the recorder new events go to and, when it goes on with an earlier one,
/// where that one stood.
pub struct Opened {
    pub recorder: SessionRecorder,
    pub resumption: Option<Resumption>,
}

/// Opens the session of a run: a new one with `header`, the `previous` one (a torn last line
/// cut off), or with `fork` a copy of it under a new id.
pub fn open(
    root: &Path,
    dir: &Path,
    header: &SessionHeader,
    previous: Option<&Previous>,
    fork: bool,
    key: Option<&IntegrityKey>,
) -> Result<Opened, LogError> {
    let seal = |header: &SessionHeader, id: &str| match key {
        Some(k) => header.clone().seal(id, k),
        None => header.clone(),
    };
    let Some(prev) = previous else {
        // `.agentops/` with its `.gitignore`, even when the log goes elsewhere.
        if let Err(e) = state_dir(root) {
            tracing::warn!("{}: {e}", root.join(".agentops").display());
        }
        let id = new_id();
        let recorder = SessionRecorder::create(root, Some(dir), &id, &seal(header, &id))?;
        return Ok(Opened {
            recorder,
            resumption: None,
        });
    };
    let path = if fork {
        let id = new_id();
        let forked = SessionHeader {
            forked_from: Some(prev.log.header.session_id.clone()),
            ..header.clone()
        };
        index::fork(dir, &prev.log, &id, seal(&forked, &id).fields())?
    } else {
        prev.path.clone()
    };
    let (recorder, log) = SessionRecorder::resume(&path)?;
    Ok(Opened {
        recorder,
        resumption: Some(resumption(&log)),
    })
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
        header: &SessionHeader,
    ) -> Result<Self, LogError> {
        let fields = header.fields();
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

impl crate::events::Recorder for SessionRecorder {
    fn record(&mut self, event: &Event) -> Result<(), crate::events::RecordError> {
        SessionRecorder::record(self, event).map_err(|e| crate::events::RecordError(e.to_string()))
    }

    fn finish(&mut self, result: &Value) -> Result<(), crate::events::RecordError> {
        SessionRecorder::finish(self, result).map_err(|e| crate::events::RecordError(e.to_string()))
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

/// Every session in `dir`, newest first (from the index when logs are unchanged).
pub fn list(dir: &Path) -> Vec<SessionSummary> {
    index::list(dir)
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
