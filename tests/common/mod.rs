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

    /// Marks the repo trusted in the sandbox's home, as `agentops trust` does: its allow
    /// rules, hooks and commands' allowed-tools apply.
    pub fn trust(&self) {
        agentops_runtime::trust::TrustStore::in_home(&self.home())
            .trust(&self.repo())
            .unwrap();
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
        // The local model's cache is under the test's home, never the developer's.
        .env_remove("AGENTOPS_CACHE")
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

/// `agentops ARGS` in the sandbox against a **fake** model server.
pub fn model_cmd(
    sb: &Sandbox,
    server: &agentops_testkit::FakeModelServer,
    args: &[&str],
) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("agentops"));
    c.current_dir(sb.repo())
        .env("HOME", sb.home())
        .env("AGENTOPS_BASE_URL", server.base_url())
        .env("AGENTOPS_MODEL", "fake-model")
        .env("NO_COLOR", "1")
        .env_remove("AGENTOPS_PROVIDER")
        .env_remove("AGENTOPS_API_KEY")
        .env_remove("AGENTOPS_LOG")
        .env_remove("AGENTOPS_SESSIONS_DIR")
        .args(args);
    c
}

/// Runs [`model_cmd`] to the end with no stdin; a panic (exit 101) fails the test.
pub fn run_with(sb: &Sandbox, server: &agentops_testkit::FakeModelServer, args: &[&str]) -> Output {
    let out = model_cmd(sb, server, args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(101), "panic: {}", stderr(&out));
    out
}

/// A streamed text answer from the fake model.
pub fn text(s: &str) -> agentops_testkit::Reply {
    use agentops_testkit::sse;
    agentops_testkit::Reply::sse(sse::openai_text(s, 10, 5, sse::Quirks::default()))
}

/// Tool calls `(id, name, arguments)` from the fake model.
pub fn calls(list: &[(&str, &str, &str)]) -> agentops_testkit::Reply {
    use agentops_testkit::sse;
    agentops_testkit::Reply::sse(sse::openai_tool_calls(list, 10, 5, sse::Quirks::default()))
}

/// A trusted copy of examples/platform where Read, Edit, Write and `sleep` need nobody's
/// approval.
pub fn platform() -> Sandbox {
    let sb = Sandbox::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &sb.repo(),
    );
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Edit", "Write", "Read", "Bash(sleep:*)"]}}"#,
    );
    sb.trust();
    sb
}

/// The model edits web's prod replicas 4 → 6: a production change that needs approval.
pub fn scale_prod() -> agentops_testkit::Reply {
    let args = serde_json::json!({
        "file_path": "apps/web/overlays/prod/replicas.yaml",
        "old_string": "replicas: 4\n",
        "new_string": "replicas: 6\n",
    });
    calls(&[("c1", "Edit", &args.to_string())])
}

/// The one JSON object a `--output-format json` run prints.
pub fn result_of(out: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", stdout(out), stderr(out)))
}

/// `agentops run --output-format json ARGS…` against a **fake** model scripted with
/// `replies`: the result object, its `exit_code` checked against the process's.
pub async fn scripted_run(
    sb: &Sandbox,
    replies: Vec<agentops_testkit::Reply>,
    args: &[&str],
) -> serde_json::Value {
    let server = agentops_testkit::FakeModelServer::start(replies).await;
    let mut all = vec!["run", "--output-format", "json"];
    all.extend_from_slice(args);
    let out = run_with(sb, &server, &all);
    let result = result_of(&out);
    assert_eq!(
        out.status.code(),
        result["exit_code"].as_i64().map(|c| c as i32),
        "{}",
        stderr(&out)
    );
    result
}

/// `kubectl kustomize` of a folder of the sandbox's repository (the YAML; a failed build fails
/// the test).
pub fn kustomize(sb: &Sandbox, rel: &str) -> String {
    let out = std::process::Command::new("kubectl")
        .args(["kustomize", &sb.repo().join(rel).display().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{rel}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
