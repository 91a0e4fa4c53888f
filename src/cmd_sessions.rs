//! `agentops sessions list|show`: the recorded runs of this repository.

use crate::cli::SessionsCommand;
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::session::{list, open};
use serde_json::{Value, json};
use std::fmt::Write as _;

pub fn run(cmd: &SessionsCommand, ws: &Workspace) -> CliResult {
    match cmd {
        SessionsCommand::List { json } => {
            let sessions = list(&ws.root);
            if *json {
                print_json(&sessions)?;
                return Ok(ExitCode::Success);
            }
            if sessions.is_empty() {
                print(
                    "no sessions yet (every `agentops run` records one in .agentops/sessions/)\n",
                );
            }
            let mut out = String::new();
            for s in &sessions {
                let prompt: String = s
                    .prompt
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(60)
                    .collect();
                let _ = writeln!(
                    out,
                    "{}  {:<18} {:<17} {}{}",
                    s.id,
                    s.agent.as_deref().unwrap_or("?"),
                    s.outcome.as_deref().unwrap_or("unfinished"),
                    if s.pending_approvals > 0 {
                        format!("{} pending approval(s)  ", s.pending_approvals)
                    } else {
                        String::new()
                    },
                    prompt
                );
                for w in &s.warnings {
                    let _ = writeln!(out, "    warning: {w}");
                }
            }
            print(&out);
            Ok(ExitCode::Success)
        }
        SessionsCommand::Show { id, json } => {
            let (path, log) = open(&ws.root, id).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
            for w in &log.warnings {
                eprintln!("agentops: warning: {w}");
            }
            if *json {
                print_json(
                    &json!({"path": path.display().to_string(), "header": log.header, "events": log.events, "warnings": log.warnings}),
                )?;
                return Ok(ExitCode::Success);
            }
            let mut out = format!("session {} ({})\n", log.header.session_id, path.display());
            for (k, v) in &log.header.fields {
                let _ = writeln!(
                    out,
                    "  {k}: {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                );
            }
            // Streamed text arrives in pieces: show each agent's text as one line.
            let mut text = String::new();
            for e in &log.events {
                if e["type"] == "text_delta" {
                    text.push_str(e["text"].as_str().unwrap_or(""));
                    continue;
                }
                if !text.trim().is_empty() {
                    let _ = writeln!(out, "  said: {}", text.trim());
                }
                text.clear();
                let _ = writeln!(out, "{}", describe(e));
            }
            print(&out);
            Ok(ExitCode::Success)
        }
    }
}

/// One line per event a person reads.
fn describe(e: &Value) -> String {
    let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
    match e["type"].as_str().unwrap_or("?") {
        "reasoning_delta" => format!("  {} (thinking): {}", s("agent"), s("text").trim_end()),
        "tool_call" => format!("→ {} {} {}", s("agent"), s("name"), e["input"]),
        "tool_result" => format!(
            "← {} {} {} ({} bytes)",
            s("agent"),
            s("name"),
            if e["is_error"] == true { "error" } else { "ok" },
            s("content").len()
        ),
        "gate" => format!(
            "gate {} for {}: {}",
            if e["passed"] == true {
                "passed"
            } else {
                "FAILED"
            },
            e["files"],
            s("outcome")
        ),
        "approval_requested" => format!(
            "approval needed: {}",
            e["request"]["id"].as_str().unwrap_or("?")
        ),
        "approval_decided" => format!(
            "approval {}: {}",
            s("id"),
            e["decision"]["decision"].as_str().unwrap_or("?")
        ),
        "result" => format!(
            "result: {} (exit {}), {} turn(s), ${}",
            s("outcome"),
            e["exit_code"],
            e["turns"],
            e["cost_usd"]
        ),
        other => other.to_string(),
    }
}
