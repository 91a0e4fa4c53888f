//! Deploy (Factor X): an app through its environments in order — for each: validate → plan
//! (server-side dry run) → gates and approval → apply → verify (rollout status) — with an
//! approval before every promotion to the next environment (and for every high-risk change),
//! up to 3 attempts for a step that fails for a transient reason, and a rollback (the objects
//! put back as they were, new ones deleted) when verification fails.
//!
//! Gates and approval are the gated-change service's ([`crate::change`]), the same as an
//! agent's `kubectl_apply`: a promotion is one more reason on the approval request.
//!
//! Every step is a `deploy` event in the session, so a rollout that stopped for an approval on
//! Tuesday resumes on Wednesday where it stopped: environments already verified are skipped.
//! No model is involved.

use crate::approval::{ApprovalRequest, ApprovalUnit};
use crate::change::{Caller, ChangeService, GateOutcome, Verdict};
use crate::events::{Event, EventSink};
pub use crate::events::{Step, StepStatus};
use crate::gates::{ValidateOptions, validate};
use crate::policy::PolicyConfig;
use crate::risk::{Reason, ReasonCode, identity};
use agentops_tools::argocd::{ArgoAppSyncTool, app_status, applications_in};
use agentops_tools::kube::{KubectlApplyTool, KubectlRolloutStatusTool};
use agentops_tools::{ErrorKind, MutationPlan, Tool, ToolContext, ToolError};
use serde::{Deserialize, Serialize};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployStatus {
    Deployed,
    ApprovalRequired,
    Denied,
    Failed,
    RolledBack,
}

impl DeployStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::Deployed => "deployed",
            DeployStatus::ApprovalRequired => "approval_required",
            DeployStatus::Denied => "denied",
            DeployStatus::Failed => "failed",
            DeployStatus::RolledBack => "rolled_back",
        }
    }
}

/// How a deploy ended, and where.
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    pub status: DeployStatus,
    /// Environments verified (in this run or an earlier one of the session).
    pub done: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<ApprovalRequest>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Environments an earlier run of the session verified (from its typed events).
pub fn verified_envs(events: &[Event]) -> BTreeSet<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Deploy {
                env,
                step: Step::Verify,
                status: StepStatus::Ok,
                ..
            } => Some(env.clone()),
            _ => None,
        })
        .collect()
}

/// One environment stopped the deploy.
struct Stopped {
    status: DeployStatus,
    detail: String,
    pending: Option<ApprovalRequest>,
}

impl Stopped {
    fn new(status: DeployStatus, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            pending: None,
        }
    }

    fn failed(detail: impl Into<String>) -> Self {
        Self::new(DeployStatus::Failed, detail)
    }
}

/// One environment's target: an Argo CD Application, or a kube context.
struct Target {
    env: String,
    overlay: String,
    context: String,
    argo_app: Option<String>,
    /// The environment before it, when this deploy promotes.
    promoted_from: Option<String>,
}

struct Run<'a> {
    ctx: &'a ToolContext,
    changes: &'a ChangeService,
    policy: &'a PolicyConfig,
    events: &'a EventSink,
    options: &'a DeployOptions,
}

/// Deploys `options.app` through `options.envs`, skipping those in `already`.
pub async fn deploy(
    ctx: &ToolContext,
    changes: &ChangeService,
    policy: &PolicyConfig,
    events: &EventSink,
    options: &DeployOptions,
    already: &BTreeSet<String>,
) -> DeployOutcome {
    let run = Run {
        ctx,
        changes,
        policy,
        events,
        options,
    };
    let mut done: Vec<String> = options
        .envs
        .iter()
        .filter(|e| already.contains(*e))
        .cloned()
        .collect();
    let managed = run.argo_managed();
    for (i, env) in options.envs.iter().enumerate() {
        if already.contains(env) {
            let note = "verified in an earlier run of this session";
            run.event(env, Step::Verify, StepStatus::Skipped, 0, note);
            continue;
        }
        let overlay = format!("apps/{}/overlays/{env}", options.app);
        let argo_app = managed.get(&overlay).cloned();
        let context = match (options.contexts.get(env), &argo_app) {
            (Some(c), _) => c.clone(),
            (None, Some(app)) => format!("argocd:{app}"),
            (None, None) => {
                let detail = format!("no kube context for {env}; give --context {env}=CONTEXT");
                return outcome(Stopped::failed(detail), Some(env), done);
            }
        };
        let target = Target {
            env: env.clone(),
            overlay,
            context,
            argo_app,
            promoted_from: i.checked_sub(1).map(|p| options.envs[p].clone()),
        };
        match run.environment(&target).await {
            Ok(()) => done.push(env.clone()),
            Err(stopped) => return outcome(stopped, Some(env), done),
        }
    }
    DeployOutcome {
        status: DeployStatus::Deployed,
        done,
        stopped_at: None,
        pending: None,
        detail: String::new(),
    }
}

fn outcome(stopped: Stopped, env: Option<&String>, done: Vec<String>) -> DeployOutcome {
    DeployOutcome {
        status: stopped.status,
        done,
        stopped_at: env.cloned(),
        pending: stopped.pending,
        detail: stopped.detail,
    }
}

impl Run<'_> {
    fn event(&self, env: &str, step: Step, status: StepStatus, attempt: u32, detail: &str) {
        self.events.emit(Event::Deploy {
            app: self.options.app.clone(),
            env: env.to_string(),
            step,
            status,
            attempt,
            detail: agentops_tools::redact::redact_text(detail),
        });
    }

    /// Overlays an Argo CD Application deploys: with Argo CD configured, they are synced
    /// through it (and verified by its health), not applied around it.
    fn argo_managed(&self) -> BTreeMap<String, String> {
        if self.ctx.argocd.is_none() {
            return BTreeMap::new();
        }
        applications_in(&self.ctx.root)
            .into_iter()
            .filter_map(|(_, app)| {
                let path = app["spec"]["source"]["path"].as_str()?;
                let name = app["metadata"]["name"].as_str()?;
                Some((path.trim_end_matches('/').to_string(), name.to_string()))
            })
            .collect()
    }

    /// validate → plan → gates and approval → apply → verify (→ rollback) for one environment.
    async fn environment(&self, t: &Target) -> Result<(), Stopped> {
        self.validate(t).await?;
        let (tool, input): (&dyn Tool, Value) = match &t.argo_app {
            Some(app) => (&ArgoAppSyncTool, json!({"app": app})),
            None => (
                &KubectlApplyTool,
                json!({"context": t.context, "path": t.overlay}),
            ),
        };
        let previous_revision = match &t.argo_app {
            Some(app) => app_status(self.ctx, app).await.ok().map(|(_, _, rev)| rev),
            None => None,
        };
        let plan = self.plan(t, tool, &input).await?;
        let turn = self.changes.exclusive().await;
        // The person said which environment this context is (`--context ENV=CONTEXT`).
        let declared = self
            .options
            .contexts
            .get(&t.env)
            .map(|context| {
                let spec = crate::environments::EnvironmentSpec {
                    contexts: vec![context.clone()],
                    ..Default::default()
                };
                (t.env.clone(), spec)
            })
            .into_iter()
            .collect();
        let review = self.changes.gate().review_plan_with(&plan, &declared).await;
        let step_input = json!({"app": self.options.app, "env": t.env, "context": t.context});
        let caller = Caller {
            agent: "deploy",
            call_id: &t.env,
            tool: "deploy",
            input: &step_input,
            events: self.events,
        };
        let verdict = self
            .changes
            .decide(&turn, caller, &review, self.promotion(t))
            .await;
        if let Some(refused) = verdict.refusal() {
            self.changes.record(caller, &review, refused);
            return Err(self.refused(t, verdict, &review));
        }
        if let Verdict::Approved { by, .. } = &verdict {
            let note = format!("approved by {by}");
            self.event(&t.env, Step::Approve, StepStatus::Ok, 1, &note);
        }
        let applied = self
            .with_retries(&t.env, Step::Apply, || async {
                tool.run(input.clone(), self.ctx).await.into_result()
            })
            .await;
        let outcome = if applied.is_ok() {
            GateOutcome::Applied
        } else {
            GateOutcome::Failed
        };
        self.changes.record(caller, &review, outcome);
        drop(turn);
        match applied {
            Ok(text) => self.event(&t.env, Step::Apply, StepStatus::Ok, 1, &text),
            Err(e) => return Err(Stopped::failed(e.to_string())),
        }
        match &t.argo_app {
            Some(app) => self.verify_argo(t, app, previous_revision).await,
            None => self.verify_rollout(t, &plan).await,
        }
    }

    /// The gates over the overlay, as `agentops validate` runs them.
    async fn validate(&self, t: &Target) -> Result<(), Stopped> {
        self.event(&t.env, Step::Validate, StepStatus::Started, 1, &t.overlay);
        let report = validate(
            &self.ctx.root,
            self.policy,
            &ValidateOptions {
                app: Some(self.options.app.clone()),
                env: Some(t.env.clone()),
                cache_dir: self.options.cache_dir.clone(),
                parallel: 2,
                timeout: crate::review::RENDER_TIMEOUT,
            },
        )
        .await;
        if report.overlays.is_empty() || report.failed() {
            let detail = if report.overlays.is_empty() {
                format!("{} does not exist", t.overlay)
            } else {
                report.to_text()
            };
            self.event(&t.env, Step::Validate, StepStatus::Failed, 1, &detail);
            return Err(Stopped::failed(detail));
        }
        let objects = format!("{} objects", report.summary.objects);
        self.event(&t.env, Step::Validate, StepStatus::Ok, 1, &objects);
        Ok(())
    }

    /// A server-side dry run (or an Argo CD diff) against the cluster.
    async fn plan(
        &self,
        t: &Target,
        tool: &dyn Tool,
        input: &Value,
    ) -> Result<MutationPlan, Stopped> {
        let plan = self
            .with_retries(&t.env, Step::Plan, || async {
                match tool.plan_mutation(input, self.ctx) {
                    Some(f) => f
                        .await
                        .map_err(|e| ToolError::new(e.kind.unwrap_or_default(), e.content)),
                    None => Err(ToolError::new(
                        ErrorKind::Invalid,
                        format!("{} cannot plan", tool.name()),
                    )),
                }
            })
            .await
            .map_err(|e| Stopped::failed(e.to_string()))?;
        self.event(&t.env, Step::Plan, StepStatus::Ok, 1, &plan.diff);
        Ok(plan)
    }

    /// Every promotion past the first environment is a reason to ask.
    fn promotion(&self, t: &Target) -> Vec<ApprovalUnit> {
        let Some(from) = &t.promoted_from else {
            return Vec::new();
        };
        vec![ApprovalUnit {
            path: t.overlay.clone(),
            environment: Some(t.env.clone()),
            reasons: vec![Reason {
                code: ReasonCode::Promotion,
                kinds: Vec::new(),
                message: format!("promotes {} from {from} to {}", self.options.app, t.env),
            }],
        }]
    }

    /// Why the environment stops: a gate, a denial, or an approval nobody gave.
    fn refused(&self, t: &Target, verdict: Verdict, review: &crate::review::Review) -> Stopped {
        match verdict {
            Verdict::Proceed | Verdict::Approved { .. } | Verdict::Rejected { .. } => {
                let detail = review.summary();
                self.event(&t.env, Step::Approve, StepStatus::Failed, 1, &detail);
                Stopped::failed(detail)
            }
            Verdict::Denied { request, by } => {
                self.event(&t.env, Step::Approve, StepStatus::Denied, 1, &by);
                Stopped {
                    status: DeployStatus::Denied,
                    detail: format!("denied by {by}"),
                    pending: Some(*request),
                }
            }
            Verdict::Pending { request } => {
                self.event(&t.env, Step::Approve, StepStatus::Pending, 1, &request.id);
                let reasons: Vec<String> = request
                    .units
                    .iter()
                    .flat_map(|u| u.reasons.iter().map(|r| r.message.clone()))
                    .collect();
                Stopped {
                    status: DeployStatus::ApprovalRequired,
                    detail: format!(
                        "{} needs approval ({}); resume with --approve id={}",
                        t.env,
                        reasons.join("; "),
                        request.id
                    ),
                    pending: Some(*request),
                }
            }
        }
    }

    /// Runs `op` up to `attempts` times while it fails transiently (by its error's kind).
    async fn with_retries<T, F, Fut>(&self, env: &str, step: Step, op: F) -> Result<T, ToolError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ToolError>>,
    {
        let attempts = self.options.attempts.max(1);
        let mut delay = self.options.retry_delay;
        let mut attempt = 1;
        loop {
            self.event(env, step, StepStatus::Started, attempt, "");
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < attempts && e.kind == ErrorKind::Transient => {
                    self.event(env, step, StepStatus::Retry, attempt, &e.message);
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    self.event(env, step, StepStatus::Failed, attempt, &e.message);
                    let message = if attempt > 1 {
                        format!("{step} failed after {attempt} attempts: {}", e.message)
                    } else {
                        format!("{step} failed: {}", e.message)
                    };
                    return Err(ToolError::new(e.kind, message));
                }
            }
        }
    }

    /// Waits until the Application is Synced and Healthy (Degraded or the timeout fail it);
    /// a failure syncs the revision it ran before.
    async fn verify_argo(
        &self,
        t: &Target,
        app: &str,
        previous: Option<String>,
    ) -> Result<(), Stopped> {
        let failure = match self.argo_healthy(t, app).await {
            Ok(()) => {
                let note = format!("{app} Synced and Healthy");
                self.event(&t.env, Step::Verify, StepStatus::Ok, 1, &note);
                return Ok(());
            }
            Err(failure) => failure,
        };
        let Some(rev) = previous.filter(|r| !r.is_empty()) else {
            return Err(Stopped::failed(format!(
                "{failure}\nno earlier revision to roll back to"
            )));
        };
        self.event(&t.env, Step::Rollback, StepStatus::Started, 1, &failure);
        let back = ArgoAppSyncTool
            .run(json!({"app": app, "revision": rev}), self.ctx)
            .await;
        if back.is_error {
            return Err(Stopped::failed(format!(
                "{failure}\nand the rollback failed too: {}",
                back.content
            )));
        }
        self.event(&t.env, Step::Rollback, StepStatus::Ok, 1, &back.content);
        Err(Stopped::new(
            DeployStatus::RolledBack,
            format!("{failure}\nrolled back: {app} synced to {rev}"),
        ))
    }

    async fn argo_healthy(&self, t: &Target, app: &str) -> Result<(), String> {
        let started = std::time::Instant::now();
        let timeout = self.options.rollout_timeout;
        self.event(&t.env, Step::Verify, StepStatus::Started, 1, app);
        loop {
            match app_status(self.ctx, app).await {
                Ok((sync, health, _)) if sync == "Synced" && health == "Healthy" => return Ok(()),
                Ok((sync, health, _)) if health == "Degraded" || started.elapsed() >= timeout => {
                    return Err(format!(
                        "{app} is {sync} and {health} after {}s",
                        started.elapsed().as_secs()
                    ));
                }
                Err(e) if e.kind() != ErrorKind::Transient || started.elapsed() >= timeout => {
                    return Err(e.to_string());
                }
                _ => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }

    /// Rollout status of every Deployment/StatefulSet/DaemonSet the plan applies; a failure
    /// puts the objects back as they were and deletes the new ones.
    async fn verify_rollout(&self, t: &Target, plan: &MutationPlan) -> Result<(), Stopped> {
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
                "context": t.context,
                "kind": w["kind"],
                "name": w["metadata"]["name"],
                "namespace": w["metadata"]["namespace"],
                "timeout_secs": self.options.rollout_timeout.as_secs().max(1),
            });
            let verified = self
                .with_retries(&t.env, Step::Verify, || async {
                    KubectlRolloutStatusTool
                        .run(status_input.clone(), self.ctx)
                        .await
                        .into_result()
                })
                .await;
            if let Err(e) = verified {
                failure = Some(e.to_string());
                break;
            }
        }
        let Some(failure) = failure else {
            let note = format!("{} workload(s) ready", workloads.len());
            self.event(&t.env, Step::Verify, StepStatus::Ok, 1, &note);
            return Ok(());
        };
        Err(self.rollback(t, plan, failure).await)
    }

    async fn rollback(&self, t: &Target, plan: &MutationPlan, failure: String) -> Stopped {
        let before_ids: BTreeSet<String> = plan.before.iter().filter_map(identity).collect();
        let created: Vec<Value> = plan
            .after
            .iter()
            .filter(|o| identity(o).is_some_and(|id| !before_ids.contains(&id)))
            .cloned()
            .collect();
        self.event(&t.env, Step::Rollback, StepStatus::Started, 1, &failure);
        let rolled = self
            .with_retries(&t.env, Step::Rollback, || async {
                agentops_tools::kube::restore(self.ctx, &t.context, &plan.before, &created)
                    .await
                    .map_err(ToolError::from)
            })
            .await;
        match rolled {
            Ok(text) => {
                self.event(&t.env, Step::Rollback, StepStatus::Ok, 1, &text);
                Stopped::new(
                    DeployStatus::RolledBack,
                    format!("{failure}\nrolled back:\n{text}"),
                )
            }
            Err(e) => Stopped::failed(format!("{failure}\nand the rollback failed too: {e}")),
        }
    }
}
