//! `agentops trust`: mark this repository trusted (or not) for this user, so its allow rules,
//! hooks, `env` and commands' `allowed-tools` apply. The list lives outside every repository.

use crate::cli::TrustArgs;
use crate::exit::{CliResult, ExitCode, Failure};
use agentops_runtime::Workspace;
use agentops_runtime::trust::TrustStore;
use std::path::Path;

pub fn run(
    args: &TrustArgs,
    cwd: &Path,
    home: Option<&Path>,
    open: impl FnOnce() -> Result<Workspace, Failure>,
) -> CliResult {
    let home = home.ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "HOME is not set: there is nowhere outside the repository to keep the trust list; use --trust-repo for each run instead"
        ))
    })?;
    let store = TrustStore::in_home(home);
    if args.list {
        for repo in store.list().map_err(Failure::usage)? {
            println!("{}", repo.display());
        }
        return Ok(ExitCode::Success);
    }
    let cwd = cwd.canonicalize().map_err(Failure::usage)?;
    let root = agentops_agents::discover::find_repo_root(&cwd).unwrap_or(cwd);
    if args.revoke {
        let changed = store.revoke(&root).map_err(Failure::usage)?;
        println!(
            "{} {}",
            root.display(),
            if changed {
                "is no longer trusted"
            } else {
                "was not trusted"
            }
        );
        return Ok(ExitCode::Success);
    }
    // Say what trusting turns on, read while it is not yet trusted.
    let notice = open().ok().and_then(|ws| ws.untrusted_notice());
    let changed = store.trust(&root).map_err(Failure::usage)?;
    if changed {
        println!("{} is trusted now", root.display());
        if let Some(n) = notice {
            let applied = n
                .split_once(": ")
                .and_then(|(_, rest)| rest.split_once(". Trust it"))
                .map_or(n.as_str(), |(what, _)| what);
            println!("applied from now on: {applied}");
        }
    } else {
        println!("{} was already trusted", root.display());
    }
    Ok(ExitCode::Success)
}
