//! Learnings (Factor V): what an agent found out the hard way — a failure and its fix, a
//! convention of this repository — kept in `.agentops/learnings.md` under the agent's name, and
//! offered to the same agent as a checklist the next time it runs. The file is markdown a team
//! reads, edits and commits (`.agentops/.gitignore` lets it, and only it, through).

use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};

/// How many of an agent's learnings go into its prompt (the newest).
pub const PROMPT_LIMIT: usize = 20;

const HEADER: &str = "# Learnings\n\nWhat agents found out while working in this repository, by agent. agentops appends here\n(the `learn` tool) and shows each agent its own list as a checklist when it runs. Edit freely.\n";

pub fn path(root: &Path) -> PathBuf {
    root.join(".agentops").join("learnings.md")
}

/// Where lessons an agent proposes wait for a person (`agentops learnings review`): what
/// goes into later agents' instructions is never decided by a model alone.
pub fn proposals_path(root: &Path) -> PathBuf {
    root.join(".agentops").join("proposed-learnings.jsonl")
}

/// A lesson an agent proposed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    pub agent: String,
    pub kind: String,
    pub lesson: String,
    pub date: String,
}

fn refuse_links(paths: &[PathBuf]) -> std::io::Result<()> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; agentops does not write through it",
                    p.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Adds a proposal (redacted, one line) for a person to review.
pub fn propose(root: &Path, proposal: &Proposal) -> std::io::Result<()> {
    let file = proposals_path(root);
    refuse_links(&[root.join(".agentops"), file.clone()])?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut p = proposal.clone();
    p.lesson = crate::redact::redact_text(&p.lesson)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let line = serde_json::to_string(&p).map_err(std::io::Error::other)?;
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)?;
    writeln!(f, "{line}")
}

/// The proposals waiting for review (unreadable lines skipped).
pub fn proposals(root: &Path) -> Vec<Proposal> {
    std::fs::read_to_string(proposals_path(root))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Promotes `accepted` into the learnings and clears the review list.
pub fn settle(root: &Path, accepted: &[Proposal]) -> std::io::Result<()> {
    for p in accepted {
        record(root, &p.agent, &p.kind, &p.lesson, &p.date)?;
    }
    let file = proposals_path(root);
    refuse_links(std::slice::from_ref(&file))?;
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The agent's learnings, oldest first (the `- ` items of its `## agent` section).
pub fn for_agent(root: &Path, agent: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path(root)) else {
        return Vec::new();
    };
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            inside = name.trim() == agent;
            continue;
        }
        if inside && let Some(item) = line.trim_start().strip_prefix("- ") {
            let item = item
                .trim_start_matches("[ ] ")
                .trim_start_matches("[x] ")
                .trim();
            if !item.is_empty() {
                out.push(item.to_string());
            }
        }
    }
    out
}

/// Appends `lesson` to `agent`'s section (creating the file and section as needed).
pub fn record(
    root: &Path,
    agent: &str,
    kind: &str,
    lesson: &str,
    date: &str,
) -> std::io::Result<()> {
    let file = path(root);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Never write through a link: `.agentops` or the file pointing elsewhere is refused.
    for p in [root.join(".agentops"), file.clone()] {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; agentops does not write through it",
                    p.display()
                ),
            ));
        }
    }
    let mut text = std::fs::read_to_string(&file).unwrap_or_else(|_| HEADER.to_string());
    let one_line = crate::redact::redact_text(lesson)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let item = format!("- [ ] {date} {kind}: {one_line}\n");
    let heading = format!("## {agent}\n");
    match text.find(&heading) {
        Some(at) => {
            // The end of this section: the next heading, or the end of the file.
            let body = at + heading.len();
            let end = text[body..]
                .find("\n## ")
                .map_or(text.len(), |i| body + i + 1);
            let mut insert_at = end;
            if !text[..insert_at].ends_with('\n') {
                text.insert(insert_at, '\n');
                insert_at += 1;
            }
            text.insert_str(insert_at, &item);
        }
        None => {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("\n{heading}{item}"));
        }
    }
    std::fs::write(&file, text)
}

#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LearnInput {
    /// One sentence a future run can act on: what went wrong (or what this repository
    /// expects) and what to do instead.
    pub lesson: String,
    /// `failure`, `fix` or `convention`.
    #[serde(default = "default_kind")]
    pub kind: String,
}

fn default_kind() -> String {
    "fix".into()
}

/// The `learn` tool.
pub struct LearnTool;

impl TypedTool for LearnTool {
    type Input = LearnInput;
    const NAME: &'static str = "learn";
    const DESCRIPTION: &'static str = "Propose a lesson for your next runs in this repository (a failure and its fix, or a convention you discovered). Keep it to one actionable sentence. Once a person accepts it, you will see it as a checklist item when you start next time.";
    const RISK: Risk = Risk::ReadOnly;

    fn call(&self, input: LearnInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        let (root, agent) = (ctx.root.clone(), ctx.agent.clone());
        Box::pin(async move {
            let kind = match input.kind.as_str() {
                "failure" | "fix" | "convention" => input.kind,
                other => {
                    return ToolOutput::error(format!(
                        "kind `{other}`: use failure, fix or convention"
                    ));
                }
            };
            if input.lesson.trim().is_empty() {
                return ToolOutput::error("an empty lesson");
            }
            let proposal = Proposal {
                agent: agent.clone(),
                kind,
                lesson: input.lesson,
                date: today(),
            };
            match propose(&root, &proposal) {
                Ok(()) => ToolOutput::ok(format!(
                    "proposed for {agent}: a person accepts it with `agentops learnings review`; then it is on your checklist"
                )),
                Err(e) => ToolOutput::error(format!("{}: {e}", proposals_path(&root).display())),
            }
        })
    }
}

/// `YYYY-MM-DD` (UTC).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_go_under_their_agent_and_come_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        record(
            root,
            "infrastructure-create",
            "failure",
            "kustomize rejects `bases:`; use resources",
            "2026-11-26",
        )
        .unwrap();
        record(
            root,
            "infrastructure-drift",
            "convention",
            "prod context is prod-eu",
            "2026-11-26",
        )
        .unwrap();
        record(
            root,
            "infrastructure-create",
            "fix",
            "token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 never\nin labels",
            "2026-11-27",
        )
        .unwrap();
        let create = for_agent(root, "infrastructure-create");
        assert_eq!(create.len(), 2);
        assert_eq!(
            create[0],
            "2026-11-26 failure: kustomize rejects `bases:`; use resources"
        );
        assert!(
            create[1].starts_with("2026-11-27 fix: token="),
            "{}",
            create[1]
        );
        assert!(
            !create[1].contains("ghp_abcdef"),
            "secrets are redacted: {}",
            create[1]
        );
        assert_eq!(
            for_agent(root, "infrastructure-drift"),
            ["2026-11-26 convention: prod context is prod-eu"]
        );
        assert!(for_agent(root, "nobody").is_empty());
        let text = std::fs::read_to_string(path(root)).unwrap();
        assert!(text.starts_with("# Learnings"));
        assert!(today().len() == 10 && today().starts_with("20"));
    }

    #[test]
    fn learnings_are_never_written_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim.md");
        std::fs::write(&target, "mine\n").unwrap();
        std::fs::create_dir_all(tmp.path().join(".agentops")).unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join(".agentops/learnings.md")).unwrap();
        assert!(record(tmp.path(), "a", "fix", "lesson", "2026-12-03").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine\n");
    }
}
