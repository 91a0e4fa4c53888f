//! The approval broker: a high-risk change (see [`crate::risk`]) is written only when a person
//! or an approval policy says yes. Interactive front ends ask a person (once per change: there
//! is no "always allow" for high risk); headless runs decide with `--approve RULE` and
//! `--approval-policy FILE`; with neither, the change stays pending and the run stops (exit 3).
//!
//! Rules match what the rendered diff says, never what a manifest, a tool result or the model
//! claims: `kind`, `env`, `path`, `reason` (`kind|delete|immutable|production|promotion|control`) or the change's
//! `id`. Every reason of a change must be matched by an `approve` rule; any matching `deny`
//! rule refuses it.

use crate::review::Review;
use crate::risk::Reason;
use futures_util::future::BoxFuture;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// One overlay or manifest of a change that needs approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalUnit {
    pub path: String,
    pub environment: Option<String>,
    pub reasons: Vec<Reason>,
}

/// A high-risk change waiting for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Stable for the same tool call: `--approve id=<id>` approves exactly this change.
    pub id: String,
    pub agent: String,
    pub tool: String,
    pub input: Value,
    pub files: Vec<String>,
    pub units: Vec<ApprovalUnit>,
    /// The rendered before/after diff (Secret values redacted).
    pub diff: String,
}

impl ApprovalRequest {
    pub fn new(agent: &str, tool: &str, input: &Value, review: &Review) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{tool}\0{input}").as_bytes());
        let id: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
        Self {
            id: format!("apr-{id}"),
            agent: agent.to_string(),
            tool: tool.to_string(),
            input: input.clone(),
            files: review.files.clone(),
            units: review
                .units
                .iter()
                .filter(|u| !u.risk.reasons.is_empty())
                .map(|u| ApprovalUnit {
                    path: u.path.clone(),
                    environment: u.environment.clone(),
                    reasons: u.risk.reasons.clone(),
                })
                .collect(),
            diff: review.rendered_diff(),
        }
    }

    /// One line per reason, for people and the model.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} ({} of {} by {}):\n",
            self.id,
            self.tool,
            self.files.join(", "),
            self.agent
        );
        for u in &self.units {
            for r in &u.reasons {
                out.push_str(&format!("  {}: {}\n", u.path, r.message));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ApprovalDecision {
    Granted {
        by: String,
    },
    Denied {
        by: String,
    },
    /// Nobody (and no rule) decided.
    Unanswered {
        unmatched: Vec<String>,
    },
}

/// Decides approvals: a policy, or a person at a prompt.
pub trait Approver: Send + Sync {
    fn decide<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalDecision>;
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error(
        "approval rule `{rule}`: {problem}. Write key=glob pairs separated by commas, keys: kind, env, path, reason (kind|delete|immutable|production|promotion|control), id; e.g. `env=dev,kind=StatefulSet`"
    )]
    Rule { rule: String, problem: String },
    #[error("cannot read approval policy {path}: {problem}")]
    File { path: String, problem: String },
}

/// One rule's fields as written in a policy file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSpec {
    pub kind: Option<String>,
    pub env: Option<String>,
    pub path: Option<String>,
    pub reason: Option<String>,
    pub id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApprovalRule {
    text: String,
    /// `reason=control`, written out: the only rule (besides an exact id) that approves a
    /// change to a control file.
    names_control: bool,
    /// An `id=` without wildcards.
    exact_id: Option<String>,
    kind: Option<GlobMatcher>,
    env: Option<GlobMatcher>,
    path: Option<GlobMatcher>,
    reason: Option<GlobMatcher>,
    id: Option<GlobMatcher>,
}

impl ApprovalRule {
    /// `kind=StatefulSet,env=dev` (flag syntax).
    pub fn parse(text: &str) -> Result<Self, ApprovalError> {
        let mut spec = RuleSpec::default();
        let problem = |p: String| ApprovalError::Rule {
            rule: text.to_string(),
            problem: p,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(problem(format!("`{part}` is not key=value")));
            };
            let slot = match key.trim() {
                "kind" => &mut spec.kind,
                "env" | "environment" => &mut spec.env,
                "path" => &mut spec.path,
                "reason" => &mut spec.reason,
                "id" => &mut spec.id,
                other => return Err(problem(format!("unknown key `{other}`"))),
            };
            *slot = Some(value.trim().to_string());
        }
        Self::from_spec(text, &spec)
    }

    pub fn from_spec(text: &str, spec: &RuleSpec) -> Result<Self, ApprovalError> {
        let problem = |p: String| ApprovalError::Rule {
            rule: text.to_string(),
            problem: p,
        };
        let glob = |v: &Option<String>| -> Result<Option<GlobMatcher>, ApprovalError> {
            v.as_deref()
                .map(|g| {
                    Glob::new(g)
                        .map(|g| g.compile_matcher())
                        .map_err(|e| problem(e.to_string()))
                })
                .transpose()
        };
        if let Some(id) = &spec.id
            && id.contains(['*', '?', '[', '{'])
        {
            return Err(problem(format!(
                "`id={id}` must name one change exactly (ids are in pending_approvals)"
            )));
        }
        // A glob is specific when some value it could meet does not match it (tested against
        // samples, not by its characters: `**/*`, `?*` and `apr-*` match everything too).
        let narrows = |v: &Option<String>, samples: &[&str]| -> bool {
            v.as_deref().is_some_and(|g| {
                Glob::new(g)
                    .map(|g| g.compile_matcher())
                    .is_ok_and(|m| samples.iter().any(|s| !m.is_match(s)))
            })
        };
        let specific = narrows(&spec.kind, KIND_SAMPLES)
            || narrows(&spec.env, ENV_SAMPLES)
            || narrows(&spec.path, PATH_SAMPLES)
            || narrows(&spec.reason, REASON_SAMPLES)
            || spec.id.is_some();
        if !specific {
            return Err(problem(
                "it would approve every high-risk change; name at least a kind, env, path, reason or id".into(),
            ));
        }
        if let Some(r) = &spec.reason
            && !r.contains('*')
            && ![
                "kind",
                "delete",
                "immutable",
                "production",
                "promotion",
                "control",
                "destination",
            ]
            .contains(&r.as_str())
        {
            return Err(problem(format!("unknown reason `{r}`")));
        }
        Ok(Self {
            text: text.to_string(),
            names_control: spec.reason.as_deref() == Some("control"),
            exact_id: spec
                .id
                .clone()
                .filter(|id| !id.contains(['*', '?', '[', '{'])),
            kind: glob(&spec.kind)?,
            env: glob(&spec.env)?,
            path: glob(&spec.path)?,
            reason: glob(&spec.reason)?,
            id: glob(&spec.id)?,
        })
    }

    /// Whether this rule speaks for a reason of this code at all: a rule naming `reason=`
    /// answers those reasons; else a `kind=` rule answers only the `kind` reason; production
    /// is answered only by a rule naming `env=` (or `reason=production`), a destination
    /// change only by `reason=destination`; the exact id of a change answers all its reasons.
    fn answers(&self, code: crate::risk::ReasonCode, request: &ApprovalRequest) -> bool {
        use crate::risk::ReasonCode;
        if self.exact_id.as_deref() == Some(request.id.as_str()) {
            return true;
        }
        if self.reason.is_some() {
            return true;
        }
        if self.kind.is_some() {
            return code == ReasonCode::Kind;
        }
        // What a deployer deploys, or where, is answered only by `reason=destination`.
        if code == ReasonCode::Destination {
            return false;
        }
        if code == ReasonCode::Production {
            return self.env.is_some();
        }
        true
    }

    fn matches(&self, request: &ApprovalRequest, unit: &ApprovalUnit, reason: &Reason) -> bool {
        let ok = |m: &Option<GlobMatcher>, v: &str| m.as_ref().is_none_or(|m| m.is_match(v));
        // A control file is approved only by a rule that says so, or by the change's own id;
        // `path=**`, `reason=*` and the like never cover it.
        if reason.code == crate::risk::ReasonCode::Control
            && !self.names_control
            && self.exact_id.as_deref() != Some(request.id.as_str())
        {
            return false;
        }
        if !self.answers(reason.code, request) {
            return false;
        }
        ok(&self.id, &request.id)
            && ok(&self.path, &unit.path)
            && ok(&self.env, unit.environment.as_deref().unwrap_or(""))
            && ok(&self.reason, reason.code.as_str())
            // A kind rule speaks for reasons about kinds only (not, say, a promotion).
            && (self.kind.is_none()
                || (!reason.kinds.is_empty() && reason.kinds.iter().all(|k| ok(&self.kind, k))))
    }
}

/// Values a rule's globs are tested against: a glob that matches all of them is no limit.
const KIND_SAMPLES: &[&str] = &["Deployment", "StatefulSet", "NetworkPolicy", "x"];
const ENV_SAMPLES: &[&str] = &["dev", "prod", "production-eu", "x/y", "-"];
const PATH_SAMPLES: &[&str] = &[
    "a",
    ".claude/settings.json",
    "apps/web/overlays/prod",
    "x/y/z.yaml",
    "-",
];
const REASON_SAMPLES: &[&str] = &[
    "kind",
    "delete",
    "immutable",
    "production",
    "promotion",
    "control",
    "destination",
];

/// Approval rules for runs without a person.
#[derive(Debug, Clone, Default)]
pub struct ApprovalPolicy {
    pub approve: Vec<ApprovalRule>,
    pub deny: Vec<ApprovalRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    approve: Vec<RuleSpec>,
    #[serde(default)]
    deny: Vec<RuleSpec>,
}

impl ApprovalPolicy {
    /// Adds the rules of a TOML file: `[[approve]]` and `[[deny]]` tables with the rule keys.
    pub fn load_file(&mut self, path: &Path) -> Result<(), ApprovalError> {
        let err = |problem: String| ApprovalError::File {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: PolicyFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let label = |kind: &str, i: usize| format!("{}: [[{kind}]] #{}", path.display(), i + 1);
        for (i, spec) in file.approve.iter().enumerate() {
            self.approve
                .push(ApprovalRule::from_spec(&label("approve", i), spec)?);
        }
        for (i, spec) in file.deny.iter().enumerate() {
            self.deny
                .push(ApprovalRule::from_spec(&label("deny", i), spec)?);
        }
        Ok(())
    }

    /// `--approve` rules and an `--approval-policy` file, as one policy.
    pub fn from_flags(file: Option<&Path>, rules: &[String]) -> Result<Self, ApprovalError> {
        let mut policy = Self::default();
        if let Some(file) = file {
            policy.load_file(file)?;
        }
        for rule in rules {
            policy.approve.push(ApprovalRule::parse(rule)?);
        }
        Ok(policy)
    }

    pub fn decide_now(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let pairs = || {
            request
                .units
                .iter()
                .flat_map(|u| u.reasons.iter().map(move |r| (u, r)))
        };
        for (u, r) in pairs() {
            if let Some(rule) = self.deny.iter().find(|d| d.matches(request, u, r)) {
                return ApprovalDecision::Denied {
                    by: format!("deny rule `{}`", rule.text),
                };
            }
        }
        let mut by = Vec::new();
        let mut unmatched = Vec::new();
        for (u, r) in pairs() {
            match self.approve.iter().find(|a| a.matches(request, u, r)) {
                Some(rule) => {
                    if !by.contains(&rule.text) {
                        by.push(rule.text.clone());
                    }
                }
                None => unmatched.push(format!("{}: {}", u.path, r.message)),
            }
        }
        if unmatched.is_empty() && !by.is_empty() {
            ApprovalDecision::Granted {
                by: format!("approve rule `{}`", by.join("`, `")),
            }
        } else {
            ApprovalDecision::Unanswered { unmatched }
        }
    }
}

impl Approver for ApprovalPolicy {
    fn decide<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalDecision> {
        Box::pin(async move { self.decide_now(request) })
    }
}

/// Asks a person at a terminal, after the rules: a rule that decides is final (a deny rule
/// cannot be talked round); otherwise the change, its reasons and its rendered diff are shown
/// and the answer is read. Only `y`/`yes` approves, and only this change: there is no "always"
/// for high risk. End of input leaves it unanswered.
pub struct PromptApprover {
    pub policy: ApprovalPolicy,
    input: std::sync::Arc<std::sync::Mutex<Box<dyn std::io::BufRead + Send>>>,
    output: std::sync::Arc<std::sync::Mutex<Box<dyn std::io::Write + Send>>>,
}

/// Lines of rendered diff shown at the prompt.
const PROMPT_DIFF_LINES: usize = 200;

impl PromptApprover {
    pub fn new(
        policy: ApprovalPolicy,
        input: Box<dyn std::io::BufRead + Send>,
        output: Box<dyn std::io::Write + Send>,
    ) -> Self {
        Self {
            policy,
            input: std::sync::Arc::new(std::sync::Mutex::new(input)),
            output: std::sync::Arc::new(std::sync::Mutex::new(output)),
        }
    }

    fn ask(
        request: &ApprovalRequest,
        input: &mut dyn std::io::BufRead,
        output: &mut dyn std::io::Write,
    ) -> std::io::Result<Option<bool>> {
        let mut text = format!("\nHigh-risk change {}", request.describe());
        let lines: Vec<&str> = request.diff.lines().collect();
        for line in lines.iter().take(PROMPT_DIFF_LINES) {
            text.push_str(line);
            text.push('\n');
        }
        if lines.len() > PROMPT_DIFF_LINES {
            text.push_str(&format!(
                "… {} more lines of diff\n",
                lines.len() - PROMPT_DIFF_LINES
            ));
        }
        text.push_str("Make this change? [y/N] ");
        output.write_all(text.as_bytes())?;
        output.flush()?;
        let mut answer = String::new();
        if input.read_line(&mut answer)? == 0 {
            return Ok(None);
        }
        let answer = answer.trim().to_ascii_lowercase();
        Ok(Some(answer == "y" || answer == "yes"))
    }
}

impl Approver for PromptApprover {
    fn decide<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalDecision> {
        Box::pin(async move {
            let by_rules = self.policy.decide_now(request);
            if !matches!(by_rules, ApprovalDecision::Unanswered { .. }) {
                return by_rules;
            }
            let (input, output, owned) = (self.input.clone(), self.output.clone(), request.clone());
            let answer = tokio::task::spawn_blocking(move || {
                let mut input = input
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?;
                let mut output = output
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?;
                Self::ask(&owned, &mut **input, &mut **output)
            })
            .await;
            match answer {
                Ok(Ok(Some(true))) => ApprovalDecision::Granted {
                    by: "a person at the terminal".into(),
                },
                Ok(Ok(Some(false))) => ApprovalDecision::Denied {
                    by: "a person at the terminal".into(),
                },
                _ => by_rules,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::ReasonCode;

    fn request(env: &str, code: ReasonCode, kind: &str) -> ApprovalRequest {
        ApprovalRequest {
            id: "apr-0011223344".into(),
            agent: "a".into(),
            tool: "Write".into(),
            input: Value::Null,
            files: vec!["apps/db/base/sts.yaml".into()],
            units: vec![ApprovalUnit {
                path: format!("apps/db/overlays/{env}"),
                environment: Some(env.into()),
                reasons: vec![Reason {
                    code,
                    kinds: vec![kind.into()],
                    message: format!("adds {kind}"),
                }],
            }],
            diff: String::new(),
        }
    }

    fn policy(approve: &[&str], deny: &[&str]) -> ApprovalPolicy {
        ApprovalPolicy {
            approve: approve
                .iter()
                .map(|r| ApprovalRule::parse(r).unwrap())
                .collect(),
            deny: deny
                .iter()
                .map(|r| ApprovalRule::parse(r).unwrap())
                .collect(),
        }
    }

    #[test]
    fn rules_match_kind_env_reason_and_id() {
        let r = request("dev", ReasonCode::Kind, "StatefulSet");
        let granted =
            |p: &ApprovalPolicy| matches!(p.decide_now(&r), ApprovalDecision::Granted { .. });
        assert!(granted(&policy(&["env=dev,kind=StatefulSet"], &[])));
        assert!(granted(&policy(&["id=apr-0011223344"], &[])));
        assert!(granted(&policy(&["path=apps/db/**"], &[])));
        assert!(!granted(&policy(&["env=prod"], &[])));
        assert!(!granted(&policy(&["kind=PersistentVolumeClaim"], &[])));
        assert!(!granted(&policy(&["reason=delete"], &[])));
        assert!(matches!(
            policy(&["env=dev"], &["kind=StatefulSet"]).decide_now(&r),
            ApprovalDecision::Denied { .. }
        ));
        assert!(matches!(
            ApprovalPolicy::default().decide_now(&r),
            ApprovalDecision::Unanswered { .. }
        ));
    }

    /// A writer the test can read after the approver is done with it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn prompt(answer: &str, policy: ApprovalPolicy) -> (ApprovalDecision, String) {
        let out = Shared::default();
        let approver = PromptApprover::new(
            policy,
            Box::new(std::io::Cursor::new(answer.as_bytes().to_vec())),
            Box::new(out.clone()),
        );
        let mut r = request("prod", ReasonCode::Production, "Deployment");
        r.diff = "--- a\n+++ b\n-  replicas: 3\n+  replicas: 6\n".into();
        let decision = approver.decide(&r).await;
        let shown = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        (decision, shown)
    }

    #[tokio::test]
    async fn a_person_approves_or_denies_one_change_at_the_prompt() {
        let (d, shown) = prompt("y\n", ApprovalPolicy::default()).await;
        assert!(matches!(d, ApprovalDecision::Granted { .. }), "{d:?}");
        assert!(
            shown.contains("apps/db/overlays/prod: adds Deployment"),
            "{shown}"
        );
        assert!(
            shown.contains("+  replicas: 6") && shown.ends_with("[y/N] "),
            "{shown}"
        );
        let (d, _) = prompt("\n", ApprovalPolicy::default()).await;
        assert!(
            matches!(d, ApprovalDecision::Denied { .. }),
            "Enter means no: {d:?}"
        );
        let (d, _) = prompt("always\n", ApprovalPolicy::default()).await;
        assert!(
            matches!(d, ApprovalDecision::Denied { .. }),
            "no always: {d:?}"
        );
        let (d, _) = prompt("", ApprovalPolicy::default()).await;
        assert!(
            matches!(d, ApprovalDecision::Unanswered { .. }),
            "end of input: {d:?}"
        );
        // A deny rule is final: the person is not even asked.
        let (d, shown) = prompt("y\n", policy(&[], &["env=prod"])).await;
        assert!(
            matches!(d, ApprovalDecision::Denied { .. }) && shown.is_empty(),
            "{d:?}"
        );
    }

    #[test]
    fn rules_that_approve_everything_or_make_no_sense_are_refused() {
        for bad in [
            "",
            "kind=*",
            "env=*,path=**",
            "colour=red",
            "reason=maybe",
            "kind",
            // Wide globs are as wide as `*`, whatever their characters.
            "path=**/*",
            "env=?*",
            "kind=?*,path=**",
            "id=apr-*",
        ] {
            assert!(ApprovalRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_answer_only_the_reasons_they_name() {
        let granted = |rules: &[&str], r: &ApprovalRequest| {
            matches!(
                policy(rules, &[]).decide_now(r),
                ApprovalDecision::Granted { .. }
            )
        };
        // A production NetworkPolicy change: the kind rule answers the kind, not production.
        let mut prod = request("prod", ReasonCode::Kind, "NetworkPolicy");
        prod.units[0].reasons.push(Reason {
            code: ReasonCode::Production,
            kinds: vec!["NetworkPolicy".into()],
            message: "targets prod".into(),
        });
        assert!(!granted(&["kind=NetworkPolicy"], &prod));
        assert!(!granted(&["path=apps/**"], &prod));
        assert!(granted(&["kind=NetworkPolicy", "env=prod"], &prod));
        assert!(granted(&["kind=NetworkPolicy", "reason=production"], &prod));
        assert!(granted(&["id=apr-0011223344"], &prod));
        // A kind rule does not answer a delete.
        let delete = request("dev", ReasonCode::Delete, "Deployment");
        assert!(!granted(&["kind=Deployment"], &delete));
        assert!(granted(&["reason=delete,kind=Deployment"], &delete));
    }

    #[test]
    fn policy_files_are_toml_with_approve_and_deny_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.toml");
        std::fs::write(
            &path,
            "[[approve]]\nenv = \"dev\"\n\n[[deny]]\nenv = \"prod\"\nreason = \"delete\"\n",
        )
        .unwrap();
        let mut p = ApprovalPolicy::default();
        p.load_file(&path).unwrap();
        assert!(matches!(
            p.decide_now(&request("dev", ReasonCode::Kind, "StatefulSet")),
            ApprovalDecision::Granted { .. }
        ));
        assert!(matches!(
            p.decide_now(&request("prod", ReasonCode::Delete, "Deployment")),
            ApprovalDecision::Denied { .. }
        ));
        std::fs::write(&path, "[[approve]]\nenvironment = \"dev\"\n").unwrap();
        let err = ApprovalPolicy::default()
            .load_file(&path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("approvals.toml") && err.contains("environment"),
            "{err}"
        );
    }
}
