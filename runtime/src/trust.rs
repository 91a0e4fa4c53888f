//! Which repositories this user trusts: `~/.config/agentops/trusted.json`, outside every
//! repository (nothing a model writes through agentops' tools reaches it: file tools stay in
//! the repository and the shell's sandbox sees the home folder read-only). A repository is
//! named by its canonical root folder.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct TrustStore {
    path: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrustFile {
    #[serde(default)]
    repositories: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a trust list agentops wrote ({message}); remove it to start over", path.display())]
    Json { path: PathBuf, message: String },
}

impl TrustStore {
    pub fn in_home(home: &Path) -> Self {
        Self {
            path: home.join(".config").join("agentops").join("trusted.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<TrustFile, TrustError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| TrustError::Json {
                path: self.path.clone(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TrustFile::default()),
            Err(source) => Err(TrustError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn write(&self, file: &TrustFile) -> Result<(), TrustError> {
        let io = |source| TrustError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(file).unwrap_or_default();
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// Whether `root` is trusted. A broken or unreadable list trusts nothing.
    pub fn trusts(&self, root: &Path) -> bool {
        let root = canonical(root);
        self.read()
            .map(|f| f.repositories.contains(&root))
            .unwrap_or(false)
    }

    /// Trusts `root`; `false` when it already was.
    pub fn trust(&self, root: &Path) -> Result<bool, TrustError> {
        let root = canonical(root);
        let mut file = self.read()?;
        if file.repositories.contains(&root) {
            return Ok(false);
        }
        file.repositories.push(root);
        file.repositories.sort();
        self.write(&file)?;
        Ok(true)
    }

    /// Stops trusting `root`; `false` when it was not trusted.
    pub fn revoke(&self, root: &Path) -> Result<bool, TrustError> {
        let root = canonical(root);
        let mut file = self.read()?;
        let before = file.repositories.len();
        file.repositories.retain(|r| *r != root);
        if file.repositories.len() == before {
            return Ok(false);
        }
        self.write(&file)?;
        Ok(true)
    }

    pub fn list(&self) -> Result<Vec<PathBuf>, TrustError> {
        Ok(self.read()?.repositories)
    }
}

fn canonical(root: &Path) -> PathBuf {
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_kept_per_repository_and_can_be_revoked() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let store = TrustStore::in_home(&home);
        assert!(!store.trusts(&a));
        assert!(store.trust(&a).unwrap());
        assert!(!store.trust(&a).unwrap(), "already trusted");
        // The same folder by another spelling.
        assert!(store.trusts(&t.path().join("b/../a")));
        assert!(!store.trusts(&b));
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(store.revoke(&a).unwrap());
        assert!(!store.trusts(&a));
        std::fs::write(store.path(), "not json").unwrap();
        assert!(!store.trusts(&a), "a broken list trusts nothing");
        assert!(
            store
                .trust(&a)
                .unwrap_err()
                .to_string()
                .contains("trusted.json")
        );
    }
}
