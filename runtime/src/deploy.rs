//! Deploy (Factor X): an app through its environments in order — for each: validate → plan
//! (server-side dry run) → gates and approval → apply → verify (rollout status) — with an
//! approval before every promotion to the next environment (and for every high-risk change),
//! up to 3 attempts for a step that fails for a transient reason, and a rollback (the objects
//! put back as they were, new ones deleted) when verification fails.
//!
//! Every step is a `deploy` event in the session, so a rollout that stopped for an approval on
//! Tuesday resumes on Wednesday where it stopped: environments already verified are skipped.
//! No model is involved.

use crate::approval::{ApprovalDecision, ApprovalRequest, ApprovalUnit, Approver};
use crate::events::{Event, EventSink};
use crate::gates::{ValidateOptions, validate};
use crate::policy::PolicyConfig;
use crate::review::ChangeGate;
use crate::risk::{Reason, ReasonCode, identity};
use agentops_tools::argocd::{ArgoAppSyncTool, app_status, applications_in};
use agentops_tools::kube::{KubectlApplyTool, KubectlRolloutStatusTool};
use agentops_tools::{Tool, ToolContext};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

pub struct DeployOptions {
    pub app: String,
    pub envs: Vec<String>,
    /// Environment → kubeconfig context (every environment needs one).
    pub contexts: BTreeMap<String, String>,
    /// How long each workload may take to roll out.
    pub rollout_timeout: Duration,
    /// Attempts for a step that fails for a transient reason.
    pub attempts: u32,
    /// The pause before a retry (doubled each time).
    pub retry_delay: Duration,
    /// Where validate caches renders.
    pub cache_dir: Option<PathBuf>,
}

/// How a deploy ended.
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    /// `deployed`, `approval_required`, `denied`, `failed` or `rolled_back`.
    pub status: &'static str,
    /// Environments verified (in this run or an earlier one of the session).
    pub done: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<ApprovalRequest>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Environments an earlier run of the session verified (from its events).
pub fn verified_envs(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["type"] == "deploy" && e["step"] == "verify" && e["status"] == "ok")
        .filter_map(|e| e["env"].as_str().map(str::to_string))
        .collect()
}

/// Errors worth another attempt: the network or the API server being briefly unavailable.
fn transient(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    // A rollout that did not finish in time is a failed verification, not a network blip.
    if t.contains("did not finish rolling out") {
        return false;
    }
    [
        "connection",
        "timed out",
        "timeout",
        "temporarily",
        "unavailable",
        "503",
        "502",
        "504",
        "reset",
        "eof",
    ]
    .iter()
    .any(|k| t.contains(k))
}

struct Run<'a> {
    events: &'a EventSink,
    options: &'a DeployOptions,
}

impl Run<'_> {
    fn event(&self, env: &str, step: &str, status: &str, attempt: u32, detail: &str) {
        self.events.emit(Event::Deploy {
            app: self.options.app.clone(),
            env: env.to_string(),
            step: step.to_string(),
            status: status.to_string(),
            attempt,
            detail: agentops_tools::redact::redact_text(detail),
        });
    }

    /// Runs `op` up to `attempts` times while it fails transiently.
    async fn with_retries<T, F, Fut>(&self, env: &str, step: &str, op: F) -> Result<T, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let attempts = self.options.attempts.max(1);
        let mut delay = self.options.retry_delay;
        for attempt in 1..=attempts {
            self.event(env, step, "started", attempt, "");
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < attempts && transient(&e) => {
                    self.event(env, step, "retry", attempt, &e);
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    self.event(env, step, "failed", attempt, &e);
                    return Err(if attempt > 1 {
                        format!("{step} failed after {attempt} attempts: {e}")
                    } else {
                        format!("{step} failed: {e}")
                    });
                }
            }
        }
        Err(format!("{step}: no attempt made"))
    }
}

/// Waits until the Application is Synced and Healthy (Degraded or the timeout fail).
async fn verify_argo(
    run: &Run<'_>,
    ctx: &ToolContext,
    env: &str,
    app: &str,
    timeout: Duration,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    run.event(env, "verify", "started", 1, app);
    loop {
        match app_status(ctx, app).await {
            Ok((sync, health, _)) if sync == "Synced" && health == "Healthy" => return Ok(()),
            Ok((sync, health, _)) if health == "Degraded" || started.elapsed() >= timeout => {
                return Err(format!(
                    "{app} is {sync} and {health} after {}s",
                    started.elapsed().as_secs()
                ));
            }
            Err(e) if !transient(&e) || started.elapsed() >= timeout => return Err(e),
            _ => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
}

/// Deploys `options.app` through `options.envs`, skipping those in `already`.
pub async fn deploy(
    ctx: &ToolContext,
    gate: &ChangeGate,
    policy: &PolicyConfig,
    approver: &dyn Approver,
    events: &EventSink,
    options: &DeployOptions,
    already: &BTreeSet<String>,
) -> DeployOutcome {
    let run = Run { events, options };
    let mut done: Vec<String> = options
        .envs
        .iter()
        .filter(|e| already.contains(*e))
        .cloned()
        .collect();
    let stop = |status, env: &str, done: &Vec<String>, detail: String| DeployOutcome {
        status,
        done: done.clone(),
        stopped_at: Some(env.to_string()),
        pending: None,
        detail,
    };
    // Overlays an Argo CD Application deploys: with Argo CD configured, they are synced
    // through it (and verified by its health), not applied around it.
    let managed: BTreeMap<String, String> = if ctx.argocd.is_some() {
        applications_in(&ctx.root)
            .into_iter()
            .filter_map(|(_, app)| {
                let path = app["spec"]["source"]["path"].as_str()?;
                let name = app["metadata"]["name"].as_str()?;
                Some((path.trim_end_matches('/').to_string(), name.to_string()))
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    for (i, env) in options.envs.iter().enumerate() {
        if already.contains(env) {
            run.event(
                env,
                "verify",
                "skipped",
                0,
                "verified in an earlier run of this session",
            );
            continue;
        }
        let overlay = format!("apps/{}/overlays/{env}", options.app);
        let argo_app = managed.get(&overlay).cloned();
        let context = match (options.contexts.get(env), &argo_app) {
            (Some(c), _) => c.clone(),
            (None, Some(app)) => format!("argocd:{app}"),
            (None, None) => {
                return stop(
                    "failed",
                    env,
                    &done,
                    format!("no kube context for {env}; give --context {env}=CONTEXT"),
                );
            }
        };
        let context = &context;

        // 1. Validate: the gates over the overlay.
        run.event(env, "validate", "started", 1, &overlay);
        let report = validate(
            &ctx.root,
            policy,
            &ValidateOptions {
                app: Some(options.app.clone()),
                env: Some(env.clone()),
                cache_dir: options.cache_dir.clone(),
                parallel: 2,
                timeout: Duration::from_secs(120),
            },
        )
        .await;
        if report.overlays.is_empty() || report.failed() {
            let detail = if report.overlays.is_empty() {
                format!("{overlay} does not exist")
            } else {
                report.to_text()
            };
            run.event(env, "validate", "failed", 1, &detail);
            return stop("failed", env, &done, detail);
        }
        run.event(
            env,
            "validate",
            "ok",
            1,
            &format!("{} objects", report.summary.objects),
        );

        // 2. Plan: a server-side dry run against the cluster.
        let (tool, input): (&dyn Tool, Value) = match &argo_app {
            Some(app) => (&ArgoAppSyncTool, json!({"app": app})),
            None => (
                &KubectlApplyTool,
                json!({"context": context, "path": overlay}),
            ),
        };
        let previous_revision = match &argo_app {
            Some(app) => app_status(ctx, app).await.ok().map(|(_, _, rev)| rev),
            None => None,
        };
        let plan = run
            .with_retries(env, "plan", || async {
                match tool.plan_mutation(&input, ctx) {
                    Some(f) => f.await.map_err(|e| e.content),
                    None => Err(format!("{} cannot plan", tool.name())),
                }
            })
            .await;
        let plan = match plan {
            Ok(p) => p,
            Err(e) => return stop("failed", env, &done, e),
        };
        run.event(env, "plan", "ok", 1, &plan.diff);

        // 3. Gates and approval: high-risk changes, and every promotion past the first
        //    environment, need a decision.
        let review = gate.review_plan(&plan).await;
        if !review.passed() {
            let detail = review.summary();
            run.event(env, "approve", "failed", 1, &detail);
            return stop("failed", env, &done, detail);
        }
        let mut request = ApprovalRequest::new(
            "deploy",
            "deploy",
            &json!({"app": options.app, "env": env, "context": context}),
            &review,
        );
        if i > 0 {
            request.units.push(ApprovalUnit {
                path: overlay.clone(),
                environment: Some(env.clone()),
                reasons: vec![Reason {
                    code: ReasonCode::Promotion,
                    kinds: Vec::new(),
                    message: format!(
                        "promotes {} from {} to {env}",
                        options.app,
                        options.envs[i - 1]
                    ),
                }],
            });
        }
        if !request.units.is_empty() {
            events.emit(Event::ApprovalRequested {
                agent: "deploy".into(),
                request: request.clone(),
            });
            let decision = approver.decide(&request).await;
            events.emit(Event::ApprovalDecided {
                agent: "deploy".into(),
                id: request.id.clone(),
                decision: decision.clone(),
            });
            match decision {
                ApprovalDecision::Granted { by } => {
                    run.event(env, "approve", "ok", 1, &format!("approved by {by}"));
                }
                ApprovalDecision::Denied { by } => {
                    run.event(env, "approve", "denied", 1, &by);
                    let mut out = stop("denied", env, &done, format!("denied by {by}"));
                    out.pending = Some(request);
                    return out;
                }
                ApprovalDecision::Unanswered { .. } => {
                    run.event(env, "approve", "pending", 1, &request.id);
                    let mut out = stop(
                        "approval_required",
                        env,
                        &done,
                        format!(
                            "{env} needs approval ({}); resume with --approve id={}",
                            request
                                .units
                                .iter()
                                .flat_map(|u| u.reasons.iter().map(|r| r.message.clone()))
                                .collect::<Vec<_>>()
                                .join("; "),
                            request.id
                        ),
                    );
                    out.pending = Some(request);
                    return out;
                }
            }
        }

        // 4. Apply.
        let applied = run
            .with_retries(env, "apply", || async {
                tool.run(input.clone(), ctx).await.into_result()
            })
            .await;
        match applied {
            Ok(text) => run.event(env, "apply", "ok", 1, &text),
            Err(e) => return stop("failed", env, &done, e),
        }

        // 5. Verify; roll back when it does not become ready.
        if let Some(app) = &argo_app {
            match verify_argo(&run, ctx, env, app, options.rollout_timeout).await {
                Ok(()) => {
                    run.event(env, "verify", "ok", 1, &format!("{app} Synced and Healthy"));
                    done.push(env.clone());
                    continue;
                }
                Err(failure) => {
                    let Some(rev) = previous_revision.filter(|r| !r.is_empty()) else {
                        return stop(
                            "failed",
                            env,
                            &done,
                            format!("{failure}\nno earlier revision to roll back to"),
                        );
                    };
                    run.event(env, "rollback", "started", 1, &failure);
                    let back = ArgoAppSyncTool
                        .run(json!({"app": app, "revision": rev}), ctx)
                        .await;
                    return if back.is_error {
                        stop(
                            "failed",
                            env,
                            &done,
                            format!("{failure}\nand the rollback failed too: {}", back.content),
                        )
                    } else {
                        run.event(env, "rollback", "ok", 1, &back.content);
                        stop(
                            "rolled_back",
                            env,
                            &done,
                            format!("{failure}\nrolled back: {app} synced to {rev}"),
                        )
                    };
                }
            }
        }
        let workloads: Vec<&Value> = plan
            .after
            .iter()
            .filter(|o| {
                matches!(
                    o["kind"].as_str(),
                    Some("Deployment" | "StatefulSet" | "DaemonSet")
                )
            })
            .collect();
        let mut failure = None;
        for w in &workloads {
            let status_input = json!({
                "context": context,
                "kind": w["kind"],
                "name": w["metadata"]["name"],
                "namespace": w["metadata"]["namespace"],
                "timeout_secs": options.rollout_timeout.as_secs().max(1),
            });
            let verified = run
                .with_retries(env, "verify", || async {
                    KubectlRolloutStatusTool
                        .run(status_input.clone(), ctx)
                        .await
                        .into_result()
                })
                .await;
            if let Err(e) = verified {
                failure = Some(e);
                break;
            }
        }
        let Some(failure) = failure else {
            run.event(
                env,
                "verify",
                "ok",
                1,
                &format!("{} workload(s) ready", workloads.len()),
            );
            done.push(env.clone());
            continue;
        };
        let before_ids: BTreeSet<String> = plan.before.iter().filter_map(identity).collect();
        let created: Vec<Value> = plan
            .after
            .iter()
            .filter(|o| identity(o).is_some_and(|id| !before_ids.contains(&id)))
            .cloned()
            .collect();
        run.event(env, "rollback", "started", 1, &failure);
        let rolled = run
            .with_retries(env, "rollback", || async {
                agentops_tools::kube::restore(ctx, context, &plan.before, &created)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        return match rolled {
            Ok(text) => {
                run.event(env, "rollback", "ok", 1, &text);
                stop(
                    "rolled_back",
                    env,
                    &done,
                    format!("{failure}\nrolled back:\n{text}"),
                )
            }
            Err(e) => stop(
                "failed",
                env,
                &done,
                format!("{failure}\nand the rollback failed too: {e}"),
            ),
        };
    }
    DeployOutcome {
        status: "deployed",
        done,
        stopped_at: None,
        pending: None,
        detail: String::new(),
    }
}
