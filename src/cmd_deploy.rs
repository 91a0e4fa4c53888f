//! `agentops deploy APP --context ENV=CTX...`: the deterministic rollout (see
//! `agentops_runtime::deploy`), recorded as a session so it resumes where it stopped.

use crate::cli::{DeployArgs, DriftFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::deploy::{DeployOptions, DeployStatus, StepStatus, deploy, verified_envs};
use agentops_runtime::session::{self, FrontEnd, Previous, SessionHeader, SessionRecorder};
use agentops_runtime::{Event, EventSink, Workspace};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// `--context ENV=CTX` flags as a map.
fn contexts(args: &DeployArgs) -> Result<BTreeMap<String, String>, Failure> {
    let mut contexts = BTreeMap::new();
    for c in &args.contexts {
        let (env, ctx) = c.split_once('=').ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--context {c}: expected ENV=CONTEXT, e.g. dev=kind-dev"
            ))
        })?;
        contexts.insert(env.to_string(), ctx.to_string());
    }
    Ok(contexts)
}

/// The session: a new one, or the one being resumed (its verified environments skipped).
fn open_session(
    args: &DeployArgs,
    ws: &Workspace,
    dir: &Path,
) -> Result<(SessionRecorder, BTreeSet<String>), Failure> {
    if let Some(id) = &args.resume {
        let mut previous = Previous::find(dir, Some(id)).map_err(Failure::usage)?;
        if let Some(warning) = previous
            .verify(ws.integrity_key().as_ref())
            .map_err(Failure::usage)?
        {
            eprintln!("agentops: warning: {warning}");
        }
        let already = verified_envs(&previous.events());
        let (recorder, _) = SessionRecorder::resume(&previous.path).map_err(Failure::usage)?;
        return Ok((recorder, already));
    }
    let header = SessionHeader {
        command: Some("deploy".into()),
        ..SessionHeader::new(&ws.root, FrontEnd::Deploy, "deploy").with_prompt(&format!(
            "deploy {} to {}",
            args.app,
            args.envs.join(", ")
        ))
    };
    session::state_dir(&ws.root).map_err(Failure::usage)?;
    let id = session::new_id();
    let header = match ws.integrity_key() {
        Some(key) => header.seal(&id, &key),
        None => header,
    };
    let recorder =
        SessionRecorder::create(&ws.root, Some(dir), &id, &header).map_err(Failure::usage)?;
    Ok((recorder, BTreeSet::new()))
}

/// One line per step that did something, on stderr.
fn show_step(event: &Event) {
    let Event::Deploy {
        env,
        step,
        status,
        attempt,
        detail,
        ..
    } = event
    else {
        return;
    };
    if *status == StepStatus::Started {
        return;
    }
    let first = detail.lines().next().unwrap_or("");
    let again = if *attempt > 1 {
        format!(" (attempt {attempt})")
    } else {
        String::new()
    };
    eprintln!("{env:<10} {:<9} {status}{again}  {first}", step.to_string());
}

pub fn run(args: &DeployArgs, ws: &Workspace, sessions_dir: Option<&Path>) -> CliResult {
    let dir = sessions_dir.map_or_else(|| session::sessions_dir(&ws.root), Path::to_path_buf);
    let contexts = contexts(args)?;
    let policy = crate::approver::policy(
        args.approvals.approval_policy.as_deref(),
        &args.approvals.approve,
    )?;
    let json_out = args.format == DriftFormat::Json;
    let (recorder, already) = open_session(args, ws, &dir)?;
    let session_id = recorder.id.clone();
    let (sink, mut rx) = EventSink::channel();
    let (sink, log) = sink.recording(recorder);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    // With Argo CD configured, overlays an Application manages are synced through it.
    let ctx = ws.tool_context(&session_id, "deploy");
    let options = DeployOptions {
        app: args.app.clone(),
        envs: args.envs.clone(),
        contexts,
        rollout_timeout: Duration::from_secs(args.rollout_timeout),
        attempts: 3,
        retry_delay: Duration::from_secs(2),
        cache_dir: Some(ws.render_cache()),
    };
    let person = crate::approver::person_at_terminal(!json_out);
    let changes = ws.change_service(
        crate::approver::approver(policy, person),
        args.approvals.approval_policy.as_deref(),
    );
    let outcome = runtime.block_on(async {
        let printer = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if !json_out {
                    show_step(&e);
                }
            }
        });
        let out = deploy(&ctx, &changes, &ws.config.policy, &sink, &options, &already).await;
        drop(sink);
        let _ = printer.await;
        out
    });
    let code = match outcome.status {
        DeployStatus::Deployed => ExitCode::Success,
        DeployStatus::ApprovalRequired | DeployStatus::Denied => ExitCode::Denied,
        DeployStatus::Failed | DeployStatus::RolledBack => ExitCode::Findings,
    };
    let result = json!({
        "type": "result",
        "outcome": outcome.status,
        "exit_code": code as u8,
        "session_id": session_id,
        "deploy": outcome,
    });
    if let Err(e) = log.finish(&result) {
        eprintln!("agentops: warning: the session log stopped: {e}");
    }
    if json_out {
        print_json(&result)?;
    } else {
        print(&format!(
            "{}: {} (verified: {})\n",
            args.app,
            outcome.status.as_str().replace('_', " "),
            if outcome.done.is_empty() {
                "none".to_string()
            } else {
                outcome.done.join(", ")
            }
        ));
        if !outcome.detail.is_empty() {
            eprintln!("{}", outcome.detail);
        }
        if outcome.status == DeployStatus::ApprovalRequired {
            eprintln!(
                "agentops: go on later with: agentops deploy {} --resume {session_id} --approve id=<id> (contexts as before)",
                args.app
            );
        }
    }
    Ok(code)
}
