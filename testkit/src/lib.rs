//! A **fake** model server for deterministic tests: it speaks HTTP/1.1 and server-sent events
//! exactly as OpenAI-compatible and Anthropic servers do, replays a script of replies in order,
//! and records every request body. It can also misbehave on purpose: errors with
//! `Retry-After`, slow replies, dropped connections and truncated streams.
//!
//! It is not a model. Tests that need a real one use the embedded local model (`agentops model install`, crate `agentops-local-model`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod argocd;
pub mod faults;
pub mod http;
pub mod kube;
pub mod sse;

use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// One scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An HTTP response. `chunks` are written one after another with `chunk_delay` between
    /// them; the body ends when the connection closes.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<String>,
        /// Before the status line.
        delay: Duration,
        chunk_delay: Duration,
    },
    /// Read the request, then close the connection without answering (a reset).
    Drop,
}

impl Reply {
    /// 200 with an SSE body.
    pub fn sse(chunks: Vec<String>) -> Self {
        Reply::Http {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/event-stream".into()),
                ("x-request-id".into(), "req-fake-200".into()),
            ],
            chunks,
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
        }
    }

    /// An error status with a JSON body (and optional extra headers such as `retry-after`).
    pub fn error(status: u16, headers: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            ("x-request-id".into(), format!("req-fake-{status}")),
        ];
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Reply::Http {
            status,
            headers: all,
            chunks: vec![format!(
                "{{\"error\":{{\"message\":\"fake server error {status}\",\"type\":\"server_error\"}}}}"
            )],
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
        }
    }

    /// The same reply, sent after `delay`.
    pub fn delayed(mut self, d: Duration) -> Self {
        if let Reply::Http { delay, .. } = &mut self {
            *delay = d;
        }
        self
    }

    /// The same reply, with `d` between body chunks.
    pub fn chunk_delay(mut self, d: Duration) -> Self {
        if let Reply::Http { chunk_delay, .. } = &mut self {
            *chunk_delay = d;
        }
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    requests: Vec<Recorded>,
    /// Routing requests (agentops choosing an agent for free text), answered apart.
    routings: Vec<Recorded>,
    /// The agent routing requests are answered with (`None`: they take scripted replies).
    route_to: Option<String>,
}

/// Whether `body` is agentops' router asking which agent fits (a response schema whose
/// `agent` property is an enum of agent names).
fn is_routing(body: &Value) -> bool {
    let schema = &body["response_format"]["json_schema"]["schema"];
    schema["properties"]["agent"]["enum"].is_array()
}

/// The fake server. Dropping it stops it.
pub struct FakeModelServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeModelServer {
    /// Starts on a free loopback port with `script` as the replies, in order. Routing
    /// requests (agentops choosing an agent for free text) are answered with the main agent,
    /// apart from the script and [`FakeModelServer::requests`] (see
    /// [`FakeModelServer::routings`]).
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_with(script, Some("general-purpose".to_string())).await
    }

    /// Like [`FakeModelServer::start`], but routing requests take scripted replies and are
    /// recorded with the others.
    pub async fn start_scripting_routes(script: Vec<Reply>) -> Self {
        Self::start_with(script, None).await
    }

    async fn start_with(script: Vec<Reply>, route_to: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            route_to,
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL for an OpenAI-compatible client.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, for an Anthropic client.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The routing requests answered apart from the script.
    pub fn routings(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().routings.clone()
    }

    /// Replies not used yet.
    pub fn remaining(&self) -> usize {
        self.state.lock().unwrap().script.len()
    }
}

impl Drop for FakeModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(request) = http::read_request(&mut stream).await? else {
        return Ok(());
    };
    let (method, path, headers, body) = (
        request.method,
        request.target,
        request.headers,
        request.body,
    );
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = {
        let mut s = state.lock().unwrap();
        let routing = is_routing(&body);
        let recorded = Recorded {
            method,
            path,
            headers,
            body,
        };
        match s.route_to.clone().filter(|_| routing) {
            Some(agent) => {
                s.routings.push(recorded);
                let answer =
                    serde_json::json!({"agent": agent, "why": "the fake server's default"});
                Some(Reply::sse(sse::openai_text(
                    &answer.to_string(),
                    10,
                    5,
                    sse::Quirks::NONE,
                )))
            }
            None => {
                s.requests.push(recorded);
                s.script.pop_front()
            }
        }
    };
    let reply = reply.unwrap_or_else(|| {
        let mut r = Reply::error(500, &[]);
        if let Reply::Http { chunks, .. } = &mut r {
            *chunks =
                vec!["{\"error\":{\"message\":\"fake server: no scripted reply left\"}}".into()];
        }
        r
    });
    match reply {
        Reply::Drop => {
            stream.shutdown().await.ok();
            Ok(())
        }
        Reply::Http {
            status,
            headers,
            chunks,
            delay,
            chunk_delay,
        } => {
            tokio::time::sleep(delay).await;
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\nconnection: close\r\n",
                http::reason(status)
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            for chunk in chunks {
                stream.write_all(chunk.as_bytes()).await?;
                stream.flush().await?;
                if !chunk_delay.is_zero() {
                    tokio::time::sleep(chunk_delay).await;
                }
            }
            stream.shutdown().await.ok();
            Ok(())
        }
    }
}

/// Copies a folder tree (test fixtures: a copy of examples/platform to change).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Runs `git ARGS` in `dir` as Alice (author and committer); its stdout. A failing git fails
/// the test with git's stderr.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.com",
        ])
        .args(args)
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
