//! Running a shell snippet with a timeout, capturing its output.
//!
//! The snippet runs under `bash -c` (or `sh -c` where bash is missing) in its own process
//! group, so a timeout kills everything it started, not only the shell. Output is captured up
//! to [`MAX_CAPTURE_BYTES`] per stream.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;
use wait_timeout::ChildExt;

/// Bytes kept of each of stdout and stderr; the rest is read and dropped.
pub const MAX_CAPTURE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellResult {
    /// `None` when killed (by a signal or the timeout).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot start `{shell}`: {source}")]
    Spawn {
        shell: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for the shell failed: {0}")]
    Wait(#[source] std::io::Error),
}

/// A shell snippet to run.
#[derive(Debug, Clone)]
pub struct ShellCommand {
    pub script: String,
    pub cwd: PathBuf,
    pub timeout: Duration,
}

fn shell_program() -> &'static str {
    if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

/// Runs the snippet and waits for it, at most `timeout`.
pub fn run(cmd: &ShellCommand) -> Result<ShellResult, ShellError> {
    let shell = shell_program();
    let args = [
        std::ffi::OsStr::new("-c"),
        std::ffi::OsStr::new(&cmd.script),
    ];
    run_program(shell, &args, &cmd.cwd, cmd.timeout)
}

/// Runs `program args` in `cwd` in its own process group and waits for it, at most
/// `timeout` (then the whole group is killed); stdout and stderr captured.
pub fn run_program(
    program: &str,
    args: &[&std::ffi::OsStr],
    cwd: &Path,
    timeout: Duration,
) -> Result<ShellResult, ShellError> {
    run_program_env(program, args, cwd, timeout, &[])
}

/// [`run_program`] with extra environment variables (the settings' `env`).
pub fn run_program_env(
    program: &str,
    args: &[&std::ffi::OsStr],
    cwd: &Path,
    timeout: Duration,
    env: &[(String, String)],
) -> Result<ShellResult, ShellError> {
    let shell = program;
    let mut child = Command::new(shell)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| ShellError::Spawn {
            shell: shell.to_string(),
            source,
        })?;
    let stdout = child.stdout.take().map(capture);
    let stderr = child.stderr.take().map(capture);
    let status = child.wait_timeout(timeout).map_err(ShellError::Wait)?;
    let (exit_code, timed_out) = match status {
        Some(status) => (status.code(), false),
        None => {
            kill_group(child.id());
            let _ = child.kill();
            child.wait().map_err(ShellError::Wait)?;
            (None, true)
        }
    };
    let join =
        |h: Option<thread::JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(ShellResult {
        exit_code,
        stdout: join(stdout),
        stderr: join(stderr),
        timed_out,
    })
}

/// Reads a stream to the end on its own thread, keeping the first [`MAX_CAPTURE_BYTES`].
fn capture<R: Read + Send + 'static>(mut stream: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_CAPTURE_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Kills the whole process group started for the snippet (without `unsafe`: via kill(1)).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str, timeout_ms: u64) -> ShellResult {
        run(&ShellCommand {
            script: script.to_string(),
            cwd: std::env::temp_dir(),
            timeout: Duration::from_millis(timeout_ms),
        })
        .unwrap()
    }

    #[test]
    fn captures_output_and_exit_code() {
        let r = sh("echo hi; echo err >&2; exit 3", 5_000);
        assert_eq!(r.stdout, "hi\n");
        assert_eq!(r.stderr, "err\n");
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.timed_out);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let start = Instant::now();
        let r = sh("sleep 30 & sleep 30; echo never", 300);
        assert!(r.timed_out);
        assert_eq!(r.exit_code, None);
        assert!(!r.stdout.contains("never"));
        // Returns promptly even though a background child held the pipe.
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn runs_in_the_given_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let r = run(&ShellCommand {
            script: "pwd".into(),
            cwd: tmp.path().to_path_buf(),
            timeout: Duration::from_secs(5),
        })
        .unwrap();
        assert_eq!(
            Path::new(r.stdout.trim()).canonicalize().unwrap(),
            tmp.path().canonicalize().unwrap()
        );
    }
}
