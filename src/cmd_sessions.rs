//! `agentops sessions list|show|export|rm`: the recorded runs of this repository.

use crate::cli::SessionsCommand;
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::Workspace;
use agentops_runtime::session::{self, Previous, bundle, list};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

pub fn run(cmd: &SessionsCommand, ws: &Workspace, dir: Option<&Path>) -> CliResult {
    let dir = dir.map_or_else(|| session::sessions_dir(&ws.root), Path::to_path_buf);
    let find = |id: &str| {
        Previous::find(&dir, Some(id))
            .map(|p| (p.path, p.log))
            .map_err(|e| Failure::usage(anyhow::anyhow!(e)))
    };
    match cmd {
        SessionsCommand::List { json } => {
            let sessions = list(&dir);
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
                let when = s
                    .last_active_ms
                    .map_or_else(|| "?".to_string(), |ms| bundle::utc(ms / 1000));
                let _ = writeln!(
                    out,
                    "{}  {when}  {:<18} {:<17} {}{}",
                    s.id,
                    s.agent.as_deref().unwrap_or("?"),
                    s.outcome.as_deref().unwrap_or("unfinished"),
                    if s.pending_approvals.is_empty() {
                        String::new()
                    } else {
                        format!("{} pending approval(s)  ", s.pending_approvals.len())
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
            let (path, log) = find(id)?;
            show(&path, &log, *json)
        }
        SessionsCommand::Export { id, bundle, output } => {
            let (path, log) = find(id)?;
            export(&path, &log, *bundle, output.as_deref())
        }
        SessionsCommand::Rm { id, json } => {
            let (path, log) = find(id)?;
            session::index::remove(&path).map_err(Failure::usage)?;
            // Refresh the index now, so the next listing does not show it.
            let _ = list(&dir);
            if *json {
                print_json(
                    &json!({"removed": log.header.session_id, "path": path.display().to_string()}),
                )?;
            } else {
                print(&format!(
                    "removed session {} ({})\n",
                    log.header.session_id,
                    path.display()
                ));
            }
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
        "resumed" => format!(
            "— resumed (pending approvals made again: {}, interrupted calls: {})",
            e["pending"], e["interrupted_calls"]
        ),
        "compacted" => format!(
            "— compacted: {} older message(s) summarised",
            e["summarized"]
        ),
        "hook" => format!(
            "hook {} `{}`: exit {}{}",
            s("hook_event"),
            s("command"),
            e["exit_code"],
            if e["blocked"] == true {
                " (blocked)"
            } else {
                ""
            }
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

/// `sessions show`: the header and one line per event (streamed text joined).
fn show(path: &Path, log: &session::Log, json: bool) -> CliResult {
    for w in &log.warnings {
        eprintln!("agentops: warning: {w}");
    }
    if json {
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
        if e["type"] == "message" {
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

/// `sessions export`: the log as it is (minus a torn last line) or a Markdown bundle, to
/// stdout or a new file.
fn export(path: &Path, log: &session::Log, bundle: bool, output: Option<&Path>) -> CliResult {
    for w in &log.warnings {
        eprintln!("agentops: warning: {w}");
    }
    let text = if bundle {
        session::bundle::bundle(log)
    } else {
        // The log as it is on disk, minus a torn last line.
        let mut text = serde_json::to_string(&log.header).map_err(Failure::usage)?;
        text.push('\n');
        for e in &log.events {
            text.push_str(&e.to_string());
            text.push('\n');
        }
        text
    };
    match output {
        None => print(&text),
        Some(file) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(file)
                .map_err(|e| {
                    Failure::usage(anyhow::anyhow!(
                        "{}: {e} (export never overwrites a file)",
                        file.display()
                    ))
                })?;
            std::io::Write::write_all(&mut f, text.as_bytes()).map_err(Failure::usage)?;
            eprintln!("agentops: wrote {} from {}", file.display(), path.display());
        }
    }
    Ok(ExitCode::Success)
}
