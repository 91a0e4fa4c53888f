//! `.agentops/`: the repository's own agentops state (sessions, caches, staging copies,
//! history), kept out of commits — except the team's learnings.

use std::path::{Path, PathBuf};

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
