//! Finding sessions: the summaries `sessions list` shows, kept in `index.json` beside the logs
//! so listing does not read every log again. The index is a cache: an entry is used only while
//! its log's size and modification time are unchanged, a missing or unreadable index is
//! rebuilt, and it is replaced atomically (write, then rename).

use crate::log::{Header, LogError, SessionLog, read};
use crate::replay::replay;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const INDEX_FILE: &str = "index.json";
const INDEX_VERSION: u32 = 1;

/// One line of `agentops sessions list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: String,
    pub path: String,
    /// Unix seconds when the session began.
    pub started: Option<u64>,
    /// Unix milliseconds of the last recorded event.
    pub last_active_ms: Option<u64>,
    pub agent: Option<String>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    /// The id of the session this one was forked from.
    pub forked_from: Option<String>,
    /// The last run's outcome; `None` when it did not finish (killed).
    pub outcome: Option<String>,
    pub runs: usize,
    pub events: usize,
    pub cost_usd: f64,
    pub pending_approvals: Vec<String>,
    pub warnings: Vec<String>,
}

pub fn summarize(path: &Path, log: &SessionLog) -> SessionSummary {
    let r = replay(&log.events);
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
        last_active_ms: r.last_ts,
        agent: field("agent"),
        model: field("model"),
        prompt: field("prompt"),
        forked_from: field("forked_from"),
        outcome: r.last_outcome,
        runs: r.runs,
        events: log.events.len(),
        cost_usd: r.cost_usd,
        pending_approvals: r
            .pending
            .iter()
            .filter_map(|p| p["id"].as_str().map(str::to_string))
            .collect(),
        warnings: log.warnings.clone(),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    version: u32,
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    len: u64,
    mtime_ns: u128,
    summary: SessionSummary,
}

fn stamp(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
}

/// Every session in `dir`, newest first; unreadable logs are listed with their error.
pub fn list(dir: &Path) -> Vec<SessionSummary> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let index_path = dir.join(INDEX_FILE);
    let old: Index = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Index>(&b).ok())
        .filter(|i| i.version == INDEX_VERSION)
        .unwrap_or_default();
    let mut new = Index {
        version: INDEX_VERSION,
        entries: BTreeMap::new(),
    };
    let mut changed = false;
    for path in entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
    {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((len, mtime_ns)) = stamp(&path) else {
            continue;
        };
        let cached = old
            .entries
            .get(&name)
            .filter(|e| e.len == len && e.mtime_ns == mtime_ns);
        let entry = match cached {
            Some(e) => e.clone(),
            None => {
                changed = true;
                let summary = match read(&path) {
                    Ok(log) => summarize(&path, &log),
                    Err(e) => unreadable(&path, &e),
                };
                Entry {
                    len,
                    mtime_ns,
                    summary,
                }
            }
        };
        new.entries.insert(name, entry);
    }
    if changed || new.entries.len() != old.entries.len() {
        write_index(&index_path, &new);
    }
    let mut out: Vec<SessionSummary> = new.entries.into_values().map(|e| e.summary).collect();
    out.sort_by(|a, b| {
        b.started
            .cmp(&a.started)
            .then_with(|| b.last_active_ms.cmp(&a.last_active_ms))
            .then_with(|| b.id.cmp(&a.id))
    });
    out
}

fn unreadable(path: &Path, e: &LogError) -> SessionSummary {
    SessionSummary {
        id: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.display().to_string(),
        started: None,
        last_active_ms: None,
        agent: None,
        model: None,
        prompt: None,
        forked_from: None,
        outcome: None,
        runs: 0,
        events: 0,
        cost_usd: 0.0,
        pending_approvals: Vec::new(),
        warnings: vec![e.to_string()],
    }
}

/// The index is only a cache: failing to write it costs speed, never data.
fn write_index(path: &Path, index: &Index) {
    let Ok(bytes) = serde_json::to_vec(index) else {
        return;
    };
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
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
    #[error("no sessions yet in {}; start one with `agentops run`", .0.display())]
    NoSessions(PathBuf),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A session's log path by id or unique id prefix.
pub fn find(dir: &Path, id: &str) -> Result<PathBuf, FindError> {
    let exact = dir.join(format!("{id}.jsonl"));
    if !id.is_empty() && !id.contains(['/', '\\']) && exact.is_file() {
        return Ok(exact);
    }
    let matches: Vec<SessionSummary> = list(dir)
        .into_iter()
        .filter(|s| s.id.starts_with(id))
        .collect();
    match matches.len() {
        1 => Ok(PathBuf::from(&matches[0].path)),
        0 => Err(FindError::NotFound(id.to_string())),
        _ => Err(FindError::Ambiguous {
            prefix: id.to_string(),
            matches: matches.iter().map(|s| s.id.clone()).collect(),
        }),
    }
}

/// The most recently active session in `dir` (`--continue`).
pub fn latest(dir: &Path) -> Result<PathBuf, FindError> {
    list(dir)
        .into_iter()
        .filter(|s| s.events > 0)
        .max_by_key(|s| (s.last_active_ms, s.started))
        .map(|s| PathBuf::from(s.path))
        .ok_or_else(|| FindError::NoSessions(dir.to_path_buf()))
}

/// Copies a session's events under a new id (`--fork`); the original stays as it was.
pub fn fork(
    dir: &Path,
    source: &SessionLog,
    new_id: &str,
    mut fields: serde_json::Map<String, Value>,
) -> Result<PathBuf, LogError> {
    for (k, v) in &source.header.fields {
        fields.entry(k.clone()).or_insert_with(|| v.clone());
    }
    fields.insert(
        "forked_from".to_string(),
        Value::String(source.header.session_id.clone()),
    );
    let path = dir.join(format!("{new_id}.jsonl"));
    let mut writer = crate::log::SessionWriter::create(&path, &Header::new(new_id, fields))?;
    for e in &source.events {
        writer.append(e)?;
    }
    writer.sync()?;
    Ok(path)
}

/// Deletes a session's log (and its index entry on the next listing).
pub fn remove(path: &Path) -> Result<(), FindError> {
    std::fs::remove_file(path).map_err(|source| FindError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::SessionWriter;
    use serde_json::json;

    fn write(dir: &Path, id: &str, started: u64, events: &[Value]) -> PathBuf {
        let mut fields = serde_json::Map::new();
        fields.insert("started".into(), json!(started));
        fields.insert("agent".into(), json!("a"));
        let path = dir.join(format!("{id}.jsonl"));
        let mut w = SessionWriter::create(&path, &Header::new(id, fields)).unwrap();
        for e in events {
            w.append(e).unwrap();
        }
        w.sync().unwrap();
        path
    }

    #[test]
    fn the_index_is_used_while_logs_are_unchanged_and_refreshed_when_they_change() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(
            dir,
            "run-1",
            10,
            &[json!({"type": "result", "outcome": "success", "ts": 5})],
        );
        let p2 = write(
            dir,
            "run-2",
            20,
            &[json!({"type": "agent_started", "depth": 0, "ts": 7})],
        );
        let listed = list(dir);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, "run-2");
        assert_eq!(listed[0].outcome, None);
        assert_eq!(listed[1].outcome.as_deref(), Some("success"));
        assert!(dir.join(INDEX_FILE).is_file());

        // A cached entry is what list returns: poison it, same stamps → the cache is used.
        let mut index: Index =
            serde_json::from_slice(&std::fs::read(dir.join(INDEX_FILE)).unwrap()).unwrap();
        index.entries.get_mut("run-1.jsonl").unwrap().summary.agent = Some("cached".into());
        write_index(&dir.join(INDEX_FILE), &index);
        assert_eq!(list(dir)[1].agent.as_deref(), Some("cached"));

        // The log grows: its entry is read again.
        let mut w = SessionWriter::append_to(&p2).unwrap();
        w.append(&json!({"type": "result", "outcome": "limit", "ts": 8}))
            .unwrap();
        w.sync().unwrap();
        drop(w);
        let listed = list(dir);
        assert_eq!(listed[0].outcome.as_deref(), Some("limit"));
        assert_eq!(latest(dir).unwrap(), p2);

        // A removed log leaves the index.
        remove(&p2).unwrap();
        assert_eq!(list(dir).len(), 1);
        assert!(matches!(find(dir, "run-2"), Err(FindError::NotFound(_))));
        // Garbage in the index is ignored, not an error.
        std::fs::write(dir.join(INDEX_FILE), "{not json").unwrap();
        assert_eq!(list(dir)[0].agent.as_deref(), Some("a"));
    }

    #[test]
    fn find_by_prefix_and_fork_under_a_new_id() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = write(
            dir,
            "run-abc",
            1,
            &[json!({"type": "message", "message": {"role": "user", "content": "x"}})],
        );
        write(dir, "run-abd", 2, &[]);
        assert_eq!(find(dir, "run-abc").unwrap(), p);
        assert!(matches!(
            find(dir, "run-ab"),
            Err(FindError::Ambiguous { .. })
        ));
        let log = read(&p).unwrap();
        let forked = fork(dir, &log, "run-new", serde_json::Map::new()).unwrap();
        let copy = read(&forked).unwrap();
        assert_eq!(copy.events, log.events);
        assert_eq!(copy.header.fields["forked_from"], "run-abc");
        assert_eq!(copy.header.fields["agent"], "a");
        assert_eq!(read(&p).unwrap(), log, "the original is untouched");
    }
}
