//! Model failures against the real binary and a **fake** OpenAI-compatible server that injects
//! faults (testkit `faults`): a seeded soak whose every run's exit code is predicted from its
//! fault plan, and the contract around a retried reply's text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use agentops_testkit::faults::{Expected, Fault, Seeded, plan};
use common::{Sandbox, model_cmd, stderr, stdout};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How many runs the soak makes (every fault kind comes up ~40 times).
const RUNS: usize = 160;
/// Runs at once.
const PARALLEL: usize = 4;
const ATTEMPTS: u32 = 3;
const STALL: Duration = Duration::from_millis(2500);

/// A repository whose provider times out after 1 s and retries at once.
fn repo() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        "agentops.toml",
        format!(
            "[model]\nprovider = \"fake\"\nname = \"fake-model\"\n\n[providers.fake]\nkind = \"openai\"\ntimeout_secs = 1\nattempts = {ATTEMPTS}\nretry_base_ms = 1\nretry_max_ms = 5\n"
        ),
    );
    sb
}

fn lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", stderr(out)))
        })
        .collect()
}

/// The answer a stream-json consumer reconstructs by the documented contract: text deltas
/// since the last `model_request`, dropped on a `retry` that says to discard them.
fn reconstructed(events: &[Value]) -> String {
    let (mut kept, mut current) = (String::new(), String::new());
    for e in events {
        match e["type"].as_str() {
            Some("model_request") => current.clear(),
            Some("text_delta") => current.push_str(e["text"].as_str().unwrap_or("")),
            Some("retry") if e["discard_deltas"] == true => current.clear(),
            Some("model_response") => kept.push_str(&std::mem::take(&mut current)),
            _ => {}
        }
    }
    kept
}

fn check_log(sb: &Sandbox, session: &str, context: &str) {
    let path = sb
        .repo()
        .join(".agentops/sessions")
        .join(format!("{session}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{context}: no session log {}: {e}", path.display()));
    let mut last = Value::Null;
    for line in text.lines() {
        last = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{context}: a log line is not JSON ({e}): {line}"));
    }
    assert_eq!(
        last["type"], "result",
        "{context}: the log ends with the result"
    );
}

async fn one_run(sb: Arc<Sandbox>, index: usize, p: agentops_testkit::faults::Plan) {
    let context = format!("run {index}, faults {:?}", p.faults);
    let server = FakeModelServer::start(p.replies.clone()).await;
    let cmd = model_cmd(
        &sb,
        &server,
        &["run", "--output-format", "stream-json", "go"],
    );
    let out = run_blocking(cmd).await;
    let events = lines(&out);
    let results: Vec<&Value> = events.iter().filter(|e| e["type"] == "result").collect();
    assert_eq!(results.len(), 1, "{context}: one result object");
    assert_eq!(
        events.last().map(|e| &e["type"]),
        Some(&Value::from("result"))
    );
    let result = results[0];
    let session = result["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check_log(&sb, &session, &context);
    match &p.expected {
        Expected::Answer(answer) => {
            assert_eq!(out.status.code(), Some(0), "{context}: {}", stderr(&out));
            assert_eq!(result["exit_code"], 0, "{context}");
            assert_eq!(
                result["result"].as_str(),
                Some(answer.as_str()),
                "{context}: {result}"
            );
            assert_eq!(&reconstructed(&events), answer, "{context}");
        }
        Expected::ModelFailure => {
            assert_eq!(out.status.code(), Some(4), "{context}: {}", stderr(&out));
            assert_eq!(result["exit_code"], 4, "{context}");
            // Every fourth failed run is resumed against a healthy server.
            if index.is_multiple_of(4) {
                let answer = format!("RESUMED-{index}");
                let server = FakeModelServer::start(vec![agentops_testkit::Reply::sse(
                    agentops_testkit::sse::openai_text(
                        &answer,
                        10,
                        5,
                        agentops_testkit::sse::Quirks::NONE,
                    ),
                )])
                .await;
                let cmd = model_cmd(
                    &sb,
                    &server,
                    &[
                        "run",
                        "--output-format",
                        "json",
                        "--resume",
                        &session,
                        "go on",
                    ],
                );
                let out = run_blocking(cmd).await;
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{context}: resume: {}",
                    stderr(&out)
                );
                let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
                assert_eq!(
                    result["result"].as_str(),
                    Some(answer.as_str()),
                    "{context}"
                );
            }
        }
    }
}

async fn run_blocking(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.stdin(std::process::Stdio::null()).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seeded_soak_of_model_faults_ends_every_run_as_its_plan_predicts() {
    let sb = Arc::new(repo());
    let mut rng = Seeded::new(20261203);
    let plans: Vec<_> = (0..RUNS)
        .map(|i| plan(&mut rng, i, ATTEMPTS, STALL))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for p in &plans {
        seen.extend(p.faults.iter().map(|f| format!("{f:?}")));
    }
    assert_eq!(
        seen.len(),
        Fault::ALL.len(),
        "every fault kind is in the soak"
    );
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut jobs = Vec::new();
    for (i, p) in plans.into_iter().enumerate() {
        let (sb, gate) = (sb.clone(), gate.clone());
        jobs.push(tokio::spawn(async move {
            let _slot = gate.acquire_owned().await.unwrap();
            one_run(sb, i, p).await;
        }));
    }
    for j in jobs {
        if let Err(e) = j.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_reply_is_never_shown_twice() {
    let sb = repo();
    let answer = "FAKE DONE";
    let script = || {
        vec![
            Fault::CutBeforeDone.reply(answer, 0, STALL),
            agentops_testkit::Reply::sse(agentops_testkit::sse::openai_text(
                answer,
                10,
                5,
                agentops_testkit::sse::Quirks::NONE,
            )),
        ]
    };
    // Text output into a pipe: the cut attempt's text is held back, the answer shown once.
    let server = FakeModelServer::start(script()).await;
    let out = model_cmd(&sb, &server, &["run", "go"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{answer}\n"));
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));

    // stream-json: the failed attempt's deltas were sent, then a retry event that says to
    // discard them; the result holds only the successful attempt's text.
    let server = FakeModelServer::start(script()).await;
    let out = model_cmd(
        &sb,
        &server,
        &["run", "--output-format", "stream-json", "go"],
    )
    .stdin(std::process::Stdio::null())
    .output()
    .unwrap();
    let events = lines(&out);
    let retry = events
        .iter()
        .find(|e| e["type"] == "retry")
        .expect("a retry event");
    assert_eq!(retry["discard_deltas"], true, "{retry}");
    assert_eq!(retry["attempt"], 1);
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        deltas.len() > answer.len(),
        "the cut attempt streamed text: {deltas}"
    );
    assert_eq!(reconstructed(&events), answer);
    let result = events.last().unwrap();
    assert_eq!(result["result"], answer);
}
