//! A session as a markdown context bundle a team can commit (Factor VI: multi-day work): the
//! goal, the decisions taken, the files changed, what is still open, and how to go on.
//! Everything comes from the log, which holds no Secret values (they are redacted before any
//! event is written).

use crate::log::SessionLog;
use crate::replay::replay;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

// Long on purpose: the bundle is one Markdown document written top to bottom in the order a
// reader sees it (header, conversation, tool calls, gates, approvals, results).
pub fn bundle(log: &SessionLog) -> String {
    let r = replay(&log.events);
    let h = &log.header;
    let field = |k: &str| h.fields.get(k).and_then(Value::as_str).unwrap_or("?");
    let mut out = String::new();
    let _ = writeln!(out, "# Session {}\n", h.session_id);
    let started = h
        .fields
        .get("started")
        .and_then(Value::as_u64)
        .map_or_else(|| "?".to_string(), utc);
    let _ = writeln!(
        out,
        "- Agent: `{}`, model `{}`",
        field("agent"),
        field("model")
    );
    let _ = writeln!(out, "- Started: {started}");
    if let Some(ms) = r.last_ts {
        let _ = writeln!(out, "- Last active: {}", utc(ms / 1000));
    }
    let _ = writeln!(
        out,
        "- Runs: {} ({} finished), cost ${:.4}",
        r.runs, r.finished_runs, r.cost_usd
    );
    if let Some(from) = h.fields.get("forked_from").and_then(Value::as_str) {
        let _ = writeln!(out, "- Forked from: {from}");
    }

    let _ = writeln!(out, "\n## Goal\n");
    let prompts: Vec<&str> = log
        .events
        .iter()
        .filter(|e| e["type"] == "message" && e["message"]["role"] == "user")
        .filter_map(|e| e["message"]["content"].as_str())
        .collect();
    match prompts.first() {
        Some(goal) => {
            let _ = writeln!(out, "{}", quote(goal));
        }
        None => {
            let _ = writeln!(out, "{}", quote(field("prompt")));
        }
    }
    if prompts.len() > 1 {
        let _ = writeln!(out, "\nLater prompts:");
        for p in &prompts[1..] {
            let first = p.lines().next().unwrap_or("");
            let _ = writeln!(out, "- {}", first.chars().take(200).collect::<String>());
        }
    }

    let _ = writeln!(out, "\n## Decisions\n");
    let mut decisions = 0;
    for e in &log.events {
        if e["type"] != "approval_decided" {
            continue;
        }
        let d = &e["decision"];
        let what = d["decision"].as_str().unwrap_or("?");
        if what == "unanswered" {
            continue;
        }
        decisions += 1;
        let _ = writeln!(
            out,
            "- {} `{}` by {}",
            what,
            e["id"].as_str().unwrap_or("?"),
            d["by"].as_str().unwrap_or("?")
        );
    }
    for e in &log.events {
        if e["type"] == "gate" && e["passed"] == false {
            decisions += 1;
            let _ = writeln!(
                out,
                "- gates refused a change to {} ({})",
                list(&e["files"]),
                e["outcome"].as_str().unwrap_or("?")
            );
        }
    }
    if decisions == 0 {
        let _ = writeln!(out, "None recorded.");
    }

    let _ = writeln!(out, "\n## Changed files\n");
    let mut changed: BTreeMap<String, String> = BTreeMap::new();
    for e in &log.events {
        if e["type"] != "gate" {
            continue;
        }
        let outcome = e["outcome"].as_str().unwrap_or("");
        if matches!(outcome, "written" | "committed" | "applied") {
            for f in e["files"].as_array().into_iter().flatten() {
                if let Some(f) = f.as_str() {
                    changed.insert(
                        f.to_string(),
                        format!("{outcome} by {}", e["tool"].as_str().unwrap_or("?")),
                    );
                }
            }
        }
    }
    if changed.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for (f, how) in &changed {
        let _ = writeln!(out, "- `{f}` ({how})");
    }

    let _ = writeln!(out, "\n## Open items\n");
    let mut open = 0;
    for p in &r.pending {
        open += 1;
        let reasons: Vec<String> = p["units"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|u| u["reasons"].as_array().cloned().unwrap_or_default())
            .filter_map(|reason| reason["message"].as_str().map(str::to_string))
            .collect();
        let _ = writeln!(
            out,
            "- [ ] approve or refuse `{}` ({} on {}): {}",
            p["id"].as_str().unwrap_or("?"),
            p["tool"].as_str().unwrap_or("?"),
            list(&p["files"]),
            reasons.join("; ")
        );
    }
    match r.last_outcome.as_deref() {
        Some("success") | Some("approval_required") => {}
        Some(other) => {
            open += 1;
            let _ = writeln!(out, "- [ ] the last run ended `{other}`");
        }
        None if r.runs > 0 => {
            open += 1;
            let _ = writeln!(out, "- [ ] the last run was interrupted before it finished");
        }
        None => {}
    }
    if open == 0 {
        let _ = writeln!(out, "None.");
    }
    let _ = writeln!(
        out,
        "\nGo on with `agentops run --resume {} \"…\"`{}.",
        h.session_id,
        if r.pending.is_empty() {
            String::new()
        } else {
            " (add `--approve id=<id>` to approve a pending change)".to_string()
        }
    );

    if let Some(answer) = &r.last_answer {
        let _ = writeln!(out, "\n## Last answer\n\n{}", quote(answer));
    }
    out
}

fn quote(text: &str) -> String {
    text.trim()
        .lines()
        .map(|l| format!("> {l}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM UTC` from Unix seconds (civil-from-days, no time crate needed).
pub fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Header;
    use serde_json::json;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn bundle_has_goal_decisions_changes_and_open_items() {
        let mut fields = serde_json::Map::new();
        fields.insert("agent".into(), json!("infra"));
        fields.insert("model".into(), json!("m"));
        fields.insert("started".into(), json!(1_795_000_000u64));
        let log = SessionLog {
            header: Header::new("run-1", fields),
            events: vec![
                json!({"type": "agent_started", "depth": 0}),
                json!({"type": "message", "message": {"role": "user", "content": "Raise retention to 30d"}}),
                json!({"type": "gate", "tool": "Edit", "files": ["apps/a.yaml"], "passed": true, "outcome": "written"}),
                json!({"type": "gate", "tool": "Write", "files": ["apps/b.yaml"], "passed": false, "outcome": "rejected"}),
                json!({"type": "approval_requested", "request": {"id": "apr-9", "tool": "Edit", "files": ["apps/db.yaml"], "units": [{"reasons": [{"message": "StatefulSet changed"}]}]}}),
                json!({"type": "approval_decided", "id": "apr-9", "decision": {"decision": "unanswered"}}),
                json!({"type": "agent_finished", "depth": 0, "text": "Waiting for approval."}),
                json!({"type": "result", "outcome": "approval_required", "cost_usd": 0.25}),
            ],
            warnings: Vec::new(),
            valid_len: 0,
        };
        let md = bundle(&log);
        assert!(md.contains("## Goal\n\n> Raise retention to 30d"), "{md}");
        assert!(md.contains("- `apps/a.yaml` (written by Edit)"), "{md}");
        assert!(
            md.contains("gates refused a change to `apps/b.yaml`"),
            "{md}"
        );
        assert!(
            md.contains(
                "- [ ] approve or refuse `apr-9` (Edit on `apps/db.yaml`): StatefulSet changed"
            ),
            "{md}"
        );
        assert!(md.contains("agentops run --resume run-1"), "{md}");
        assert!(md.contains("> Waiting for approval."), "{md}");
        assert!(md.contains("Started: 2026-11-18 11:06 UTC"), "{md}");
    }
}
