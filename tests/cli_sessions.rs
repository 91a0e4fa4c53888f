//! Sessions across runs, against a **fake** model server: resume after an approval stop
//! (the multi-day flow), resume after SIGKILL, fork, continue, export/bundle, rm, and the
//! stream-json contract (exactly one final result, also on failures and SIGTERM).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::{FakeModelServer, Reply};
use common::{
    Sandbox, calls, model_cmd as cmd, platform, result_of, run_with, scale_prod, stderr, stdout,
    text,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The messages the model was sent in request `i`.
fn sent(server: &FakeModelServer, i: usize) -> Vec<Value> {
    server.requests()[i].body["messages"]
        .as_array()
        .unwrap()
        .clone()
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn session_log(sb: &Sandbox, id: &str) -> PathBuf {
    sb.repo().join(format!(".agentops/sessions/{id}.jsonl"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stops_at_an_approval_and_a_later_resume_with_the_approval_completes_it() {
    let sb = platform();
    let file = sb.repo().join("apps/web/overlays/prod/replicas.yaml");
    // Day 1: the change needs approval; nothing is written; exit 3.
    let server = FakeModelServer::start(vec![scale_prod(), text("never")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "scale web in prod to 6"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let day1 = result_of(&out);
    let session = day1["session_id"].as_str().unwrap().to_string();
    let approval = day1["pending_approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("replicas: 4\n")
    );

    // Day 2 without the approval: still pending, still exit 3, and no model call is spent.
    let server = FakeModelServer::start(vec![text("never")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "--resume", &session[..12]],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        result_of(&out)["pending_approvals"][0]["id"],
        approval.as_str()
    );
    assert_eq!(server.requests().len(), 0);

    // Day 3: resume with the approval for exactly that change: it is made (gated again), and
    // the model goes on with the whole conversation and a report of what was done.
    let server = FakeModelServer::start(vec![text("Scaled web in prod to 6.")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--resume",
            &session,
            "--approve",
            &format!("id={approval}"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let day3 = result_of(&out);
    assert_eq!(day3["outcome"], "success");
    assert_eq!(day3["session_id"], session.as_str(), "same session");
    assert_eq!(day3["approvals"][0]["id"], approval.as_str());
    assert_eq!(day3["approvals"][0]["decision"], "granted");
    assert_eq!(day3["gates"][0]["outcome"], "written");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("replicas: 6\n")
    );
    let messages = sent(&server, 0);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[1]["content"], "scale web in prod to 6");
    assert_eq!(messages[2]["tool_calls"][0]["function"]["name"], "Edit");
    assert_eq!(messages[3]["role"], "tool");
    let last = messages.last().unwrap()["content"].as_str().unwrap();
    assert!(last.contains(&format!("- {approval} (Edit")), "{last}");
    assert!(last.contains("): done"), "{last}");

    // The session lists three runs, nothing pending, its last outcome success.
    let listed = common::json(&sb.run(&["sessions", "list", "--json"]));
    assert_eq!(listed[0]["id"], session.as_str());
    assert_eq!(listed[0]["runs"], 3);
    assert_eq!(listed[0]["outcome"], "success");
    assert_eq!(listed[0]["pending_approvals"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_killed_with_sigkill_mid_turn_resumes_with_every_flushed_event() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        calls(&[
            (
                "r1",
                "Read",
                r#"{"file_path": "apps/web/overlays/prod/replicas.yaml"}"#,
            ),
            ("s1", "Bash", r#"{"command": "sleep 30"}"#),
        ]),
        text("never reached"),
    ])
    .await;
    let mut child = cmd(
        &sb,
        &server,
        &["run", "--output-format", "stream-json", "check web"],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until the Read result is in the log while the shell call still runs, then kill.
    let dir = sb.repo().join(".agentops/sessions");
    let deadline = Instant::now() + Duration::from_secs(60);
    let path = loop {
        assert!(
            Instant::now() < deadline,
            "the Read result never reached the log"
        );
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        });
        if let Some(p) = found
            && std::fs::read_to_string(&p)
                .unwrap()
                .contains(r#""type":"tool_result","agent":"general-purpose","id":"r1""#)
        {
            break p;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = log_lines(&path);
    assert!(
        !before.iter().any(|e| e["type"] == "result"),
        "killed runs have no result"
    );
    let id = before[0]["session_id"].as_str().unwrap().to_string();
    let listed = common::json(&sb.run(&["sessions", "list", "--json"]));
    assert_eq!(listed[0]["outcome"], Value::Null, "listed as unfinished");

    let server = FakeModelServer::start(vec![text(
        "The shell call was interrupted; replicas are 4.",
    )])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "--resume", &id, "go on"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(result_of(&out)["session_id"], id.as_str());
    // Every event the killed process wrote is still there, in order, before the new ones.
    let after = log_lines(&path);
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after[before.len()]["type"], "resumed");
    assert_eq!(after[before.len()]["interrupted_calls"][0], "s1");
    // The model sees the conversation: the Read result verbatim, the shell call interrupted.
    let messages = sent(&server, 0);
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "tool", "user"]
    );
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .contains("replicas: 4")
    );
    assert_eq!(messages[4]["tool_call_id"], "s1");
    assert!(
        messages[4]["content"]
            .as_str()
            .unwrap()
            .starts_with("interrupted:")
    );
    assert_eq!(messages[5]["content"], "go on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_fork_export_bundle_and_rm() {
    let sb = platform();
    let server = FakeModelServer::start(vec![text("First answer.")]).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "first question"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = result_of(&out)["session_id"].as_str().unwrap().to_string();
    let original = std::fs::read(session_log(&sb, &first)).unwrap();

    // --continue --fork: a new session with the old conversation; the original is untouched.
    let server = FakeModelServer::start(vec![text("Second answer.")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--continue",
            "--fork",
            "second question",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let forked = result_of(&out)["session_id"].as_str().unwrap().to_string();
    assert_ne!(forked, first);
    assert_eq!(std::fs::read(session_log(&sb, &first)).unwrap(), original);
    let messages = sent(&server, 0);
    assert_eq!(messages[1]["content"], "first question");
    assert_eq!(messages[2]["content"], "First answer.");
    assert_eq!(messages[3]["content"], "second question");
    let listed = common::json(&sb.run(&["sessions", "list", "--json"]));
    let f = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == forked.as_str())
        .unwrap();
    assert_eq!(f["forked_from"], first.as_str());

    // Export: the log as JSONL, and a bundle in markdown (never over an existing file).
    let out = sb.run(&["sessions", "export", &forked]);
    let jsonl: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(jsonl[0]["type"], "session");
    assert_eq!(jsonl.last().unwrap()["type"], "result");
    let bundle = sb.repo().join("docs/session.md");
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    let out = sb.run(&[
        "sessions",
        "export",
        &forked,
        "--bundle",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = std::fs::read_to_string(&bundle).unwrap();
    assert!(md.contains("## Goal\n\n> first question"), "{md}");
    assert!(md.contains("- second question"), "{md}");
    assert!(md.contains("## Last answer\n\n> Second answer."), "{md}");
    let out = sb.run(&[
        "sessions",
        "export",
        &forked,
        "--bundle",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("never overwrites"),
        "{}",
        stderr(&out)
    );

    // rm: gone from disk and from the listing; resuming it is a clear usage error.
    let out = sb.run(&["sessions", "rm", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!session_log(&sb, &first).exists());
    let listed = common::json(&sb.run(&["sessions", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let server = FakeModelServer::start(vec![]).await;
    let out = run_with(&sb, &server, &["run", "--resume", &first, "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("no session `{first}`")),
        "{}",
        stderr(&out)
    );
}

/// Runs with stream-json and checks the contract: NDJSON, exactly one `result`, and last.
fn stream(out: &Output, code: i32, outcome: &str) -> Vec<Value> {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let lines: Vec<Value> = stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let results = lines.iter().filter(|l| l["type"] == "result").count();
    assert_eq!(results, 1, "{}", stdout(out));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["outcome"], outcome, "{last}");
    assert_eq!(last["exit_code"], code);
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_json_always_ends_with_exactly_one_result() {
    let sb = platform();
    let sj = ["run", "--output-format", "stream-json"];
    let with =
        |extra: &[&str]| -> Vec<String> { sj.iter().chain(extra).map(|s| s.to_string()).collect() };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // Success.
    let server = FakeModelServer::start(vec![text("hello")]).await;
    let lines = stream(&run_with(&sb, &server, &args(&with(&["hi"]))), 0, "success");
    assert!(lines.iter().any(|l| l["type"] == "message"));

    // A provider failure after retries.
    sb.write(
        "agentops.toml",
        "[providers.fake]\nattempts = 1\n[prices.fake-model]\ninput = 1000.0\noutput = 1000.0\n",
    );
    let server = FakeModelServer::start(vec![Reply::error(500, &[])]).await;
    stream(&run_with(&sb, &server, &args(&with(&["hi"]))), 4, "error");

    // A denied tool call.
    let server = FakeModelServer::start(vec![
        calls(&[("b", "Bash", r#"{"command": "rm -rf apps"}"#)]),
        text("ok"),
    ])
    .await;
    stream(&run_with(&sb, &server, &args(&with(&["hi"]))), 3, "denied");

    // The budget stop.
    let server = FakeModelServer::start(vec![
        calls(&[("r", "Read", r#"{"file_path": "README.md"}"#)]),
        text("never"),
    ])
    .await;
    let lines = stream(
        &run_with(
            &sb,
            &server,
            &args(&with(&["--max-budget-usd", "0.001", "hi"])),
        ),
        5,
        "limit",
    );
    assert_eq!(lines.last().unwrap()["stop"]["kind"], "budget");

    // A usage error before anything ran (unknown agent): still one result, exit 2.
    let server = FakeModelServer::start(vec![]).await;
    let lines = stream(
        &run_with(&sb, &server, &args(&with(&["--agent", "nobody", "hi"]))),
        2,
        "error",
    );
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .contains("no agent named `nobody`")
    );

    // SIGTERM while the model is thinking: one result, outcome interrupted, exit 143, and
    // the session can be resumed.
    let server = FakeModelServer::start(vec![text("late").delayed(Duration::from_secs(30))]).await;
    let child = cmd(&sb, &server, &args(&with(&["hi"])))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.requests().is_empty() {
        assert!(Instant::now() < deadline, "no model request");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let lines = stream(&out, 143, "interrupted");
    let last = lines.last().unwrap();
    assert!(
        last["error"].as_str().unwrap().contains("SIGTERM"),
        "{last}"
    );
    let id = last["session_id"].as_str().unwrap();
    let log = log_lines(&session_log(&sb, id));
    assert_eq!(log.last().unwrap()["outcome"], "interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_conversations_are_compacted_and_resume_from_the_summary() {
    let sb = platform();
    // Tiny threshold: the second turn already carries more than this.
    sb.write("agentops.toml", "[limits]\ncompact_at_tokens = 50\n");
    let server = FakeModelServer::start(vec![
        calls(&[(
            "r1",
            "Read",
            r#"{"file_path": "apps/web/base/deployment.yaml"}"#,
        )]),
        text("SUMMARY: the user asked about web; deployment.yaml was read."),
        text("Done."),
    ])
    .await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "json", "look at web"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    // The second request is the summary request, over the older part only.
    let compaction = reqs[1].body["messages"].as_array().unwrap();
    assert!(
        compaction[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You compress a working session")
    );
    assert!(
        compaction[1]["content"]
            .as_str()
            .unwrap()
            .contains("[user] look at web")
    );
    // The next turn goes on from the summary, with the latest call and result verbatim.
    let messages = reqs[2].body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert!(messages[1]["content"].as_str().unwrap().starts_with(
        "[Summary of the earlier part of this session]\nSUMMARY: the user asked about web"
    ));
    assert_eq!(messages[2]["tool_calls"][0]["id"], "r1");
    assert_eq!(messages[3]["tool_call_id"], "r1");
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .contains("kind: Deployment")
    );

    // Resuming replays from the summary, not from the whole history.
    sb.write("agentops.toml", "[limits]\ncompact_at_tokens = 0\n");
    let id = result_of(&out)["session_id"].as_str().unwrap().to_string();
    let server = FakeModelServer::start(vec![text("Still here.")]).await;
    let out = run_with(
        &sb,
        &server,
        &[
            "run",
            "--output-format",
            "json",
            "--resume",
            &id,
            "and now?",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let messages = sent(&server, 0);
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "user"]
    );
    assert!(messages[1]["content"].as_str().unwrap().contains("SUMMARY"));
    assert_eq!(messages[4]["content"], "Done.");
    assert_eq!(messages[5]["content"], "and now?");
}
