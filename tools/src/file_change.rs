//! A planned change of one file ([`FileChange`]): what file-changing tools return instead of
//! writing, so the runtime can gate and approve it before [`FileChange::apply`] writes it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One planned change of one file in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Absolute, inside the repository.
    pub path: PathBuf,
    /// Relative to the repository root, for people and the model.
    pub rel: String,
    /// The content now (`None`: the file does not exist).
    pub before: Option<String>,
    /// The content after the change (`None`: the file is deleted).
    pub after: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{path} changed on disk since the change was planned; read it again and redo the change"
    )]
    Stale { path: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl FileChange {
    /// Writes the change (through a temporary file and a rename), refusing when the file is
    /// no longer what the plan started from.
    pub fn apply(&self) -> Result<(), ApplyError> {
        let io = |source| ApplyError::Io {
            path: self.rel.clone(),
            source,
        };
        let now = match std::fs::read_to_string(&self.path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        if now != self.before {
            return Err(ApplyError::Stale {
                path: self.rel.clone(),
            });
        }
        self.write_to(&self.path).map_err(io)
    }

    /// Writes the new content at `target` (the file's place in a staging copy, or the file).
    pub fn write_to(&self, target: &Path) -> std::io::Result<()> {
        match &self.after {
            None => match std::fs::remove_file(target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Some(text) => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tmp = target.with_file_name(format!(".{name}.agentops-{}", std::process::id()));
                std::fs::write(&tmp, text)?;
                if let Ok(meta) = std::fs::metadata(target) {
                    let _ = std::fs::set_permissions(&tmp, meta.permissions());
                }
                // A rename replaces the directory entry: a hard-linked original keeps its content.
                std::fs::rename(&tmp, target)
            }
        }
    }

    /// A unified diff of the file, for the model and for people. Each side is redacted as a
    /// whole before the diff is taken, so a hunk is redacted by the object it belongs to: a
    /// Secret's value shown as context below its `data:` header is still hidden.
    pub fn diff(&self) -> String {
        let side = |t: Option<&str>| crate::redact::redact_text(t.unwrap_or(""));
        unified_diff(
            &side(self.before.as_deref()),
            &side(self.after.as_deref()),
            &format!("a/{}", self.rel),
            &format!("b/{}", self.rel),
        )
    }
}

/// A unified diff with three lines of context (empty when equal).
pub fn unified_diff(before: &str, after: &str, old_name: &str, new_name: &str) -> String {
    if before == after {
        return String::new();
    }
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}
