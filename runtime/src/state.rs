//! `.agentops/`: the repository's own agentops state (sessions, caches, staging copies,
//! history), kept out of commits — except the team's learnings.

use std::path::{Path, PathBuf};

/// `.agentops/` of a repository, created with a `.gitignore` that keeps it out of commits.
pub fn state_dir(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(".agentops");
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    // Replaced only when missing or as an older agentops wrote it (it let itself through, so a
    // commit after any run carried it and counted as a change).
    let current = std::fs::read_to_string(&ignore).ok();
    if current.is_none() || current.as_deref() == Some(OLD_IGNORE) {
        std::fs::write(&ignore, IGNORE)?;
    }
    Ok(dir)
}

/// State stays out of commits, this file included (every run writes it again); the team's
/// learnings do not.
pub const IGNORE: &str = "*\n!learnings.md\n";
const OLD_IGNORE: &str = "*\n!.gitignore\n!learnings.md\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn untracked(root: &Path) -> String {
        let out = std::process::Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=all"])
            .current_dir(root)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn state_stays_out_of_git_but_learnings_and_an_old_ignore_file_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(
            std::process::Command::new("git")
                .args(["init", "-q"])
                .current_dir(root)
                .status()
                .unwrap()
                .success()
        );
        let state = state_dir(root).unwrap();
        std::fs::write(state.join("sessions.jsonl"), "{}\n").unwrap();
        // Nothing of agentops' own shows as a change a commit would carry…
        assert_eq!(untracked(root), "");
        // …but the team's learnings do.
        std::fs::write(state.join("learnings.md"), "# Learnings\n").unwrap();
        assert_eq!(untracked(root), "?? .agentops/learnings.md\n");

        // The file an older agentops wrote is replaced; one a person edited is kept.
        std::fs::write(state.join(".gitignore"), OLD_IGNORE).unwrap();
        state_dir(root).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.join(".gitignore")).unwrap(),
            IGNORE
        );
        std::fs::write(state.join(".gitignore"), "*\n").unwrap();
        state_dir(root).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.join(".gitignore")).unwrap(),
            "*\n"
        );
    }
}
