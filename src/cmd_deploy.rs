//! `agentops deploy APP --context ENV=CTX...`: the deterministic rollout (see
//! `agentops_runtime::deploy`), recorded as a session so it resumes where it stopped.

use crate::cli::{DeployArgs, DriftFormat};
use crate::exit::{CliResult, ExitCode, Failure};
use crate::output::{print, print_json};
use agentops_runtime::deploy::{DeployOptions, deploy, verified_envs};
use agentops_runtime::review::ChangeGate;
use agentops_runtime::session::{self, SessionRecorder};
use agentops_runtime::{Event, EventSink, Workspace};
use agentops_tools::ToolContext;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

pub fn run(args: &DeployArgs, ws: &Workspace, sessions_dir: Option<&Path>) -> CliResult {
    let dir = sessions_dir.map_or_else(|| session::sessions_dir(&ws.root), Path::to_path_buf);
    let mut contexts = BTreeMap::new();
    for c in &args.contexts {
        let (env, ctx) = c.split_once('=').ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--context {c}: expected ENV=CONTEXT, e.g. dev=kind-dev"
            ))
        })?;
        contexts.insert(env.to_string(), ctx.to_string());
    }
    let policy = crate::gated::approval_policy(
        args.approvals.approval_policy.as_deref(),
        &args.approvals.approve,
    )?;
    let json_out = args.format == DriftFormat::Json;
    // The session: a new one, or the one being resumed (its verified environments skipped).
    let (recorder, already) = match &args.resume {
        Some(id) => {
            let path = session::index::find(&dir, id).map_err(Failure::usage)?;
            let (recorder, log) = SessionRecorder::resume(&path).map_err(Failure::usage)?;
            (recorder, verified_envs(&log.events))
        }
        None => {
            session::state_dir(&ws.root).map_err(Failure::usage)?;
            let fields = json!({
                "repo": ws.root.display().to_string(),
                "started": std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                "agent": "deploy",
                "command": "deploy",
                "prompt": format!("deploy {} to {}", args.app, args.envs.join(", ")),
            });
            let Value::Object(fields) = fields else {
                return Err(Failure::usage(anyhow::anyhow!("bad session header")));
            };
            let id = crate::cmd_run::session_id();
            let recorder = SessionRecorder::create(&ws.root, Some(&dir), &id, fields)
                .map_err(Failure::usage)?;
            (recorder, BTreeSet::new())
        }
    };
    let session_id = recorder.id.clone();
    let (sink, mut rx) = EventSink::channel();
    let (sink, log) = sink.recording(recorder);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let ctx = ToolContext {
        root: ws.root.clone(),
        cwd: ws.root.clone(),
        timeout: Duration::from_secs(120),
        session_id: session_id.clone(),
        agent: "deploy".into(),
        kubeconfig: ws.kubeconfig(),
        // With Argo CD configured, overlays an Application manages are synced through it.
        argocd: ws
            .config
            .argocd
            .endpoint(&agentops_runtime::providers::process_env),
    };
    let cache = ws.home.as_ref().map(|h| h.join(".cache/agentops/render"));
    let gate = ChangeGate::new(
        ws.root.clone(),
        ws.config.policy.clone(),
        cache.clone(),
        Duration::from_secs(120),
    );
    let options = DeployOptions {
        app: args.app.clone(),
        envs: args.envs.clone(),
        contexts,
        rollout_timeout: Duration::from_secs(args.rollout_timeout),
        attempts: 3,
        retry_delay: Duration::from_secs(2),
        cache_dir: cache,
    };
    let person = !json_out && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let approver: Box<dyn agentops_runtime::approval::Approver> = if person {
        Box::new(crate::gated::terminal_approver(policy))
    } else {
        Box::new(policy)
    };
    let outcome = runtime.block_on(async {
        let printer = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if let Event::Deploy {
                    env,
                    step,
                    status,
                    attempt,
                    detail,
                    ..
                } = &e
                    && !json_out
                    && status != "started"
                {
                    let first = detail.lines().next().unwrap_or("");
                    let again = if *attempt > 1 {
                        format!(" (attempt {attempt})")
                    } else {
                        String::new()
                    };
                    eprintln!("{env:<10} {step:<9} {status}{again}  {first}");
                }
            }
        });
        let out = deploy(
            &ctx,
            &gate,
            &ws.config.policy,
            approver.as_ref(),
            &sink,
            &options,
            &already,
        )
        .await;
        drop(sink);
        let _ = printer.await;
        out
    });
    let code = match outcome.status {
        "deployed" => ExitCode::Success,
        "approval_required" | "denied" => ExitCode::Denied,
        _ => ExitCode::Findings,
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
            outcome.status.replace('_', " "),
            if outcome.done.is_empty() {
                "none".to_string()
            } else {
                outcome.done.join(", ")
            }
        ));
        if !outcome.detail.is_empty() {
            eprintln!("{}", outcome.detail);
        }
        if outcome.status == "approval_required" {
            eprintln!(
                "agentops: go on later with: agentops deploy {} --resume {session_id} --approve id=<id> (contexts as before)",
                args.app
            );
        }
    }
    Ok(code)
}
