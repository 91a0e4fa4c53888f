//! Keeping file tools inside the repository: `..`, absolute paths and symlinks that lead out
//! are refused before anything is read or written.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("{0} is outside the repository; file tools only work inside it")]
    Outside(String),
    #[error("{0} does not exist")]
    NotFound(String),
}

/// Resolves `path` (relative to `cwd`, or absolute) to a canonical path inside `root`
/// (`root` must be canonical). The deepest existing ancestor is canonicalized, so a symlink
/// anywhere on the way is followed before the check; the rest must not contain `..`.
pub fn confine(root: &Path, cwd: &Path, path: &str) -> Result<PathBuf, PathError> {
    let joined = cwd.join(path);
    let mut existing = joined.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    let real = loop {
        match existing.canonicalize() {
            Ok(real) => break real,
            Err(_) => {
                let Some(parent) = existing.parent() else {
                    return Err(PathError::NotFound(path.to_string()));
                };
                match existing.components().next_back() {
                    Some(Component::Normal(name)) => rest.push(name),
                    _ => return Err(PathError::Outside(path.to_string())),
                }
                existing = parent;
            }
        }
    };
    let mut full = real;
    for name in rest.iter().rev() {
        full.push(name);
    }
    if full.starts_with(root) {
        Ok(full)
    } else {
        Err(PathError::Outside(path.to_string()))
    }
}

/// `path` with every symlink of its existing part resolved (the rest appended as written):
/// the file an operation really reaches, for rules and control-file checks.
pub fn resolve(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut full = real;
            for name in rest.iter().rev() {
                full.push(name);
            }
            return full;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// `path` shown relative to `root`.
pub fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map(|p| {
            let s = p.display().to_string();
            if s.is_empty() { ".".to_string() } else { s }
        })
        .unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_outside_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("apps")).unwrap();
        std::fs::write(tmp.path().join("secret"), "x").unwrap();
        let root = root.canonicalize().unwrap();
        assert_eq!(confine(&root, &root, "apps").unwrap(), root.join("apps"));
        assert_eq!(
            confine(&root, &root, "apps/new/file.yaml").unwrap(),
            root.join("apps/new/file.yaml")
        );
        assert!(matches!(
            confine(&root, &root, "../secret"),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            confine(&root, &root, "apps/../../secret"),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            confine(&root, &root, "/etc/passwd"),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            confine(&root, &root, "missing/../../x"),
            Err(PathError::Outside(_))
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path(), root.join("escape")).unwrap();
            assert!(matches!(
                confine(&root, &root, "escape/secret"),
                Err(PathError::Outside(_))
            ));
            assert!(matches!(
                confine(&root, &root, "escape/new"),
                Err(PathError::Outside(_))
            ));
        }
    }
}
