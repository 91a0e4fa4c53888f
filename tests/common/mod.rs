//! Helpers shared by the end-to-end tests of the `agentops` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `../shared/corpus` beside the repository (where CI puts a copy of shared/), or
/// `$AGENTOPS_SHARED/corpus`. A missing corpus fails the test: it is never skipped.
pub fn corpus() -> PathBuf {
    let shared = std::env::var_os("AGENTOPS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let corpus = shared.join("corpus");
    assert!(
        corpus.is_dir(),
        "the shared corpus is missing at {}; set AGENTOPS_SHARED to the shared/ folder",
        corpus.display()
    );
    corpus
}

pub fn claude_md() -> PathBuf {
    corpus().join("claude-md")
}

/// A scratch repository (with a `.git` folder) and an empty home, so nothing from the
/// developer's own `~/.claude` leaks into a test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("repo/.git")).unwrap();
        fs::create_dir_all(dir.path().join("home")).unwrap();
        Self { dir }
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Writes `text` at `rel` under the repo (creating folders).
    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.repo().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    pub fn write_home(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.home().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    /// Runs `agentops` in the repo with this sandbox's home.
    pub fn run(&self, args: &[&str]) -> Output {
        agentops(&self.repo(), &self.home(), args)
    }
}

pub fn agentops(cwd: &Path, home: &Path, args: &[&str]) -> Output {
    let out = assert_cmd::Command::cargo_bin("agentops")
        .unwrap()
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("AGENTOPS_LOG")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    // A panic exits with 101: never acceptable, whatever the input.
    assert_ne!(
        out.status.code(),
        Some(101),
        "agentops panicked: {}",
        stderr(&out)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

/// Copies a folder tree (for tests that edit a copy of the example or the corpus).
#[allow(unused_imports)]
pub use agentops_testkit::copy_dir;
