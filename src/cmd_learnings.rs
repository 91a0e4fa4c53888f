//! `agentops learnings review`: a person decides which lessons agents proposed go into
//! `.agentops/learnings.md` (and so into later agents' instructions).

use crate::cli::LearningsCommand;
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::print;
use agentops_runtime::Workspace;
use agentops_tools::learnings::{proposals, settle};
use std::io::{BufRead, IsTerminal, Write};

pub fn run(cmd: &LearningsCommand, ws: &Workspace) -> CliResult {
    let LearningsCommand::Review {
        accept_all,
        reject_all,
    } = cmd;
    let proposed = proposals(&ws.root);
    if proposed.is_empty() {
        print("no proposed lessons\n");
        return Ok(ExitCode::Success);
    }
    let person = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !accept_all && !reject_all && !person {
        for p in &proposed {
            print(&format!(
                "{} {} {}: {}\n",
                p.date, p.agent, p.kind, p.lesson
            ));
        }
        eprintln!(
            "agentops: {} proposed lesson(s); keep them with `agentops learnings review` at a terminal, or --accept-all / --reject-all",
            proposed.len()
        );
        return Ok(ExitCode::Success);
    }
    let mut accepted = Vec::new();
    let mut answers = std::io::stdin().lock();
    for p in &proposed {
        let keep = if *accept_all {
            true
        } else if *reject_all {
            false
        } else {
            eprint!(
                "{} ({} {}): {}\nKeep it? [y/N] ",
                p.agent, p.kind, p.date, p.lesson
            );
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            answers.read_line(&mut answer).map_err(Failure::usage)?;
            matches!(answer.trim(), "y" | "Y" | "yes")
        };
        if keep {
            accepted.push(p.clone());
        }
    }
    settle(&ws.root, &accepted).map_err(Failure::usage)?;
    print(&format!(
        "kept {} of {} proposed lesson(s) in .agentops/learnings.md\n",
        accepted.len(),
        proposed.len()
    ));
    Ok(ExitCode::Success)
}
