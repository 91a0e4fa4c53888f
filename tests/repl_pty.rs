//! The REPL driven through a real pseudo-terminal (rexpect) against a **fake** model server:
//! Tab completion of `/vali`, history (↑), an approval prompt with the rendered diff, Ctrl-C
//! cancelling a turn while the session goes on, and line mode when stdin is not a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use agentops_testkit::FakeModelServer;
use common::{model_cmd, platform, scale_prod, stderr, stdout, text};
use std::time::{Duration, Instant};

/// The end of the prompt (`repo general-purpose› `); rexpect reads bytes as Latin-1, so
/// the needle stays ASCII.
const PROMPT: &str = "repo general-purpose";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_history_approval_and_ctrl_c_in_a_terminal() {
    let sb = platform();
    let server = FakeModelServer::start(vec![
        scale_prod(),
        text("Scaled web in prod."),
        text("too late").delayed(Duration::from_secs(60)),
    ])
    .await;
    let mut cmd = model_cmd(&sb, &server, &[]);
    cmd.env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    p.exp_string(PROMPT).unwrap();

    // Tab completes `/vali` to `/validate`, which runs the gates with no model.
    p.send("/vali").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("/validate").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("kustomization(s), 0 failed").unwrap();
    p.exp_string(PROMPT).unwrap();

    // History: ↑ brings back the last line.
    p.send_line("/cost").unwrap();
    p.exp_string("this REPL: 0 turn(s)").unwrap();
    p.exp_string(PROMPT).unwrap();
    p.send("\x1b[A").unwrap();
    p.flush().unwrap();
    p.exp_string("/cost").unwrap();
    p.send("\r").unwrap();
    p.flush().unwrap();
    p.exp_string("this REPL: 0 turn(s)").unwrap();
    p.exp_string(PROMPT).unwrap();

    // A production change: the prompt shows the reason and the rendered diff; `y` makes it.
    p.send_line("scale web in prod to 6").unwrap();
    p.exp_string("targets production (prod)").unwrap();
    p.exp_string("+  replicas: 6").unwrap();
    p.exp_string("Make this change? [y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("Scaled web in prod.").unwrap();
    p.exp_string(PROMPT).unwrap();
    let file = sb.repo().join("apps/web/overlays/prod/replicas.yaml");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("replicas: 6\n")
    );

    // Ctrl-C while the model thinks cancels the turn, not the session.
    p.send_line("take your time").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.requests().len() < 3 {
        assert!(Instant::now() < deadline, "the third request never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    p.send_control('c').unwrap();
    p.exp_string("turn cancelled (Ctrl-C)").unwrap();
    p.exp_string(PROMPT).unwrap();
    p.send_line("/cost").unwrap();
    p.exp_string("this REPL: 2 turn(s)").unwrap();
    p.send_line("/exit").unwrap();
    p.exp_eof().unwrap();

    // History is kept per repository; the session has every turn, the cancelled one too.
    let history = std::fs::read_to_string(sb.repo().join(".agentops/history")).unwrap();
    assert!(
        history.contains("/cost") && history.contains("scale web in prod to 6"),
        "{history}"
    );
    let out = sb.run(&["sessions", "list", "--json"]);
    let listed = common::json(&out);
    assert_eq!(listed[0]["runs"], 2, "{listed}");
    assert_eq!(listed[0]["outcome"], "interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_it_reads_one_prompt_per_line() {
    let sb = platform();
    let server =
        FakeModelServer::start(vec![text("First."), text("Second, and I remember: first.")]).await;
    let mut child = model_cmd(&sb, &server, &[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"/agents\nfirst question\nsecond question\n/cost\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("platform-reviewer"), "{text}");
    assert!(
        text.contains("First.") && text.contains("Second, and I remember"),
        "{text}"
    );
    assert!(text.contains("this REPL: 2 turn(s)"), "{text}");
    // The second prompt carried the first exchange: one conversation.
    let messages = server.requests()[1].body["messages"]
        .as_array()
        .unwrap()
        .clone();
    let contents: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        &contents[1..],
        ["first question", "First.", "second question"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_long_idle_session_at_a_terminal_offers_a_summary() {
    let sb = platform();
    // A session last active two days ago, with a few turns.
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 2 * 24 * 3600 * 1000;
    let header = serde_json::json!({"type": "session", "format_version": 1, "session_id": "run-old",
        "agent": "general-purpose", "started": two_days_ago / 1000, "prompt": "scale web"});
    let mut log = format!("{header}\n");
    for (i, (role, content)) in [
        ("user", "scale web"),
        ("assistant", "Which env?"),
        ("user", "prod"),
        ("assistant", "prod has 4; to how many?"),
        ("user", "6 later"),
        ("assistant", "OK, waiting."),
    ]
    .iter()
    .enumerate()
    {
        let e = serde_json::json!({"type": "message", "agent": "general-purpose",
            "message": {"role": role, "content": content}, "ts": two_days_ago - 10 + i as u64});
        log.push_str(&format!("{e}\n"));
    }
    sb.write(".agentops/sessions/run-old.jsonl", log);
    let server = FakeModelServer::start(vec![
        text("SUMMARY: scale web in prod from 4 to 6, waiting for the go."),
        text("Going on from the summary."),
    ])
    .await;
    let mut cmd = model_cmd(&sb, &server, &["run", "--resume", "run-old", "go on"]);
    cmd.env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    p.exp_string("last active 48 hours ago. Go on from a summary of it? [y/N]")
        .unwrap();
    p.send_line("y").unwrap();
    p.exp_string("Going on from the summary.").unwrap();
    p.exp_eof().unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[0].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You compress")
    );
    let messages = reqs[1].body["messages"].as_array().unwrap();
    assert!(
        messages[1]["content"]
            .as_str()
            .unwrap()
            .contains("SUMMARY: scale web in prod"),
        "{messages:?}"
    );
    assert_eq!(messages.last().unwrap()["content"], "go on");
}
