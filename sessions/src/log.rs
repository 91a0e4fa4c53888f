//! The session event log: one JSON object per line, a versioned header first.
//!
//! Appends go through one [`SessionWriter`]; `sync` makes everything written so far durable
//! (call it on turn boundaries and before approvals or mutations). Reading tolerates what a
//! killed process leaves behind: a torn last line is dropped with a warning, and the session
//! stays readable.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The format version written in every header; readers refuse newer major versions.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of a session log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    #[serde(rename = "type")]
    pub kind: String,
    pub format_version: u32,
    pub session_id: String,
    /// Everything else (repo, agent, model, provider, permission mode) as the runtime sets it.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, Value>,
}

impl Header {
    pub fn new(session_id: impl Into<String>, fields: serde_json::Map<String, Value>) -> Self {
        Self {
            kind: "session".to_string(),
            format_version: FORMAT_VERSION,
            session_id: session_id.into(),
            fields,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: not a session log line: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: written by a newer agentops (format {found}, this one reads {FORMAT_VERSION}); upgrade agentops", path.display())]
    NewerFormat { path: PathBuf, found: u32 },
    #[error("{}: empty session log (no header)", path.display())]
    Empty { path: PathBuf },
}

/// Appends events to one session file. There is one writer per session.
pub struct SessionWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl SessionWriter {
    /// Creates a new log with its header; fails if the file exists.
    pub fn create(path: &Path, header: &Header) -> Result<Self, LogError> {
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        let mut writer = Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        };
        writer.append_value(
            &serde_json::to_value(header).map_err(|e| LogError::Corrupt {
                path: path.to_path_buf(),
                line: 1,
                message: e.to_string(),
            })?,
        )?;
        writer.sync()?;
        Ok(writer)
    }

    /// Opens an existing log to append more events (after [`read`] accepted it).
    pub fn append_to(path: &Path) -> Result<Self, LogError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| LogError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    /// Reopens a log to go on with it (resume): a torn last line is cut off first, so what is
    /// appended starts on a line of its own. Returns the log as it was read.
    pub fn resume(path: &Path) -> Result<(Self, SessionLog), LogError> {
        let log = read(path)?;
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new().write(true).open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len != log.valid_len {
            file.set_len(log.valid_len).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        drop(file);
        Ok((Self::append_to(path)?, log))
    }

    /// Appends one event as a line (buffered until [`Self::flush`] or [`Self::sync`]).
    pub fn append<T: Serialize>(&mut self, event: &T) -> Result<(), LogError> {
        let value = serde_json::to_value(event).map_err(|e| LogError::Corrupt {
            path: self.path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        self.append_value(&value)
    }

    fn append_value(&mut self, value: &Value) -> Result<(), LogError> {
        let mut line = value.to_string();
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .map_err(|source| LogError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Hands buffered lines to the OS (survives a killed process, not a power cut).
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.out.flush().map_err(|source| LogError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes and fsyncs: everything appended so far survives a crash of the machine.
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.flush()?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|source| LogError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// A session log as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLog {
    pub header: Header,
    pub events: Vec<Value>,
    /// What was repaired while reading (a torn last line).
    pub warnings: Vec<String>,
    /// Bytes of the file up to the end of the last complete line that was kept.
    pub valid_len: u64,
}

/// Reads a session log. A last line without its newline that does not parse is what a killed
/// writer leaves: it is dropped with a warning. A bad line anywhere else is corruption.
pub fn read(path: &Path) -> Result<SessionLog, LogError> {
    let io = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut header = None;
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut valid_len: u64 = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.ends_with(b"\n");
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end();
        if text.is_empty() {
            if complete {
                valid_len += n as u64;
            }
            continue;
        }
        let parsed: Result<Value, _> = serde_json::from_str(text);
        let value = match parsed {
            Ok(value) => value,
            Err(_) if !complete => {
                warnings.push(format!(
                    "{}:{line_no}: dropped a torn last line ({n} bytes) left by an interrupted write",
                    path.display()
                ));
                break;
            }
            Err(err) => {
                return Err(LogError::Corrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                    message: err.to_string(),
                });
            }
        };
        if header.is_none() {
            let h: Header = serde_json::from_value(value).map_err(|e| LogError::Corrupt {
                path: path.to_path_buf(),
                line: line_no,
                message: format!("bad header: {e}"),
            })?;
            if h.format_version > FORMAT_VERSION {
                return Err(LogError::NewerFormat {
                    path: path.to_path_buf(),
                    found: h.format_version,
                });
            }
            header = Some(h);
        } else {
            events.push(value);
        }
        if complete {
            valid_len += n as u64;
        }
    }
    let header = header.ok_or_else(|| LogError::Empty {
        path: path.to_path_buf(),
    })?;
    Ok(SessionLog {
        header,
        events,
        warnings,
        valid_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> Header {
        let mut fields = serde_json::Map::new();
        fields.insert("agent".into(), json!("general-purpose"));
        Header::new("s-1", fields)
    }

    #[test]
    fn round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sessions/s-1.jsonl");
        let mut w = SessionWriter::create(&path, &header()).unwrap();
        w.append(&json!({"type": "user", "text": "hi"})).unwrap();
        w.append(&json!({"type": "assistant", "text": "hello"}))
            .unwrap();
        w.sync().unwrap();
        let log = read(&path).unwrap();
        assert_eq!(log.header, header());
        assert_eq!(log.events.len(), 2);
        assert_eq!(log.events[1]["text"], "hello");
        assert!(log.warnings.is_empty());
        assert!(
            SessionWriter::create(&path, &header()).is_err(),
            "never overwrites"
        );
    }

    #[test]
    fn torn_last_line_is_dropped_with_a_warning_and_appending_continues() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.jsonl");
        let mut w = SessionWriter::create(&path, &header()).unwrap();
        w.append(&json!({"type": "user", "text": "kept"})).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"type":"assistant","te"#).unwrap();
        drop(f);
        let log = read(&path).unwrap();
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.warnings.len(), 1);
        assert!(log.warnings[0].contains(":3: dropped a torn last line"));

        // Resuming cuts the torn bytes off, so the next event is a line of its own.
        let (mut w, before) = SessionWriter::resume(&path).unwrap();
        assert_eq!(before.events.len(), 1);
        w.append(&json!({"type": "user", "text": "after"})).unwrap();
        w.sync().unwrap();
        let log = read(&path).unwrap();
        assert!(log.warnings.is_empty(), "{:?}", log.warnings);
        assert_eq!(log.events.len(), 2);
        assert_eq!(log.events[1]["text"], "after");
    }

    #[test]
    fn corruption_in_the_middle_is_an_error_with_the_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.jsonl");
        let header = serde_json::to_string(&header()).unwrap();
        std::fs::write(&path, format!("{header}\nnot json\n{{\"type\":\"x\"}}\n")).unwrap();
        let err = read(&path).unwrap_err();
        assert!(
            err.to_string()
                .contains("s.jsonl:2: not a session log line"),
            "{err}"
        );
    }

    #[test]
    fn newer_formats_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.jsonl");
        std::fs::write(
            &path,
            "{\"type\":\"session\",\"format_version\":99,\"session_id\":\"x\"}\n",
        )
        .unwrap();
        assert!(matches!(
            read(&path),
            Err(LogError::NewerFormat { found: 99, .. })
        ));
    }
}
