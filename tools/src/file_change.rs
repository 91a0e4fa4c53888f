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
                // A fresh file of a random name, created exclusively (`O_EXCL`): a symlink the
                // repository plants where a predictable temporary name would be is never
                // written through.
                let parent = target.parent().unwrap_or_else(|| Path::new("."));
                let mut tmp = tempfile::Builder::new()
                    .prefix(".agentops-")
                    .tempfile_in(parent)?;
                std::io::Write::write_all(&mut tmp, text.as_bytes())?;
                if let Ok(meta) = std::fs::metadata(target) {
                    let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
                }
                // A rename replaces the directory entry: a hard-linked original keeps its content.
                tmp.persist(target).map(|_| ()).map_err(|e| e.error)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The old temporary name was `.NAME.agentops-PID`: a repository could plant a symlink
    /// there and have the write go through it. The temporary file is now new and random.
    #[test]
    fn a_planted_symlink_at_the_old_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "keep\n").unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        let target = repo.join("kustomization.yaml");
        std::fs::write(&target, "a: 1\n").unwrap();
        let planted = repo.join(format!(
            ".kustomization.yaml.agentops-{}",
            std::process::id()
        ));
        std::os::unix::fs::symlink(&outside, &planted).unwrap();
        let change = FileChange {
            path: target.clone(),
            rel: "kustomization.yaml".into(),
            before: Some("a: 1\n".into()),
            after: Some("a: 2\n".into()),
        };
        change.apply().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "a: 2\n");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep\n");
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(&repo)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".agentops-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
