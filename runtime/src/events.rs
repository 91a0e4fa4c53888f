//! The typed events of a run, on one channel. The session recorder appends each one to the
//! session log before the front end (text, stream-json, REPL) renders it. The core never prints.

use crate::approval::ApprovalDecision;
use crate::config::ToolMode;
use crate::model::{Message, Usage};
use crate::review::UnitReview;
use crate::risk::Level;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// How a tool call was read from the model's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallVia {
    /// The API's own `tool_calls`.
    Native,
    /// A JSON object in the reply's text (the fallback for models that write calls as text).
    ContentJson,
    /// A schema-constrained step (`tool_mode = "schema"`).
    Schema,
    /// A pending call made again on resume.
    Resume,
}

impl std::fmt::Display for CallVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallVia::Native => "native",
            CallVia::ContentJson => "content-json",
            CallVia::Schema => "schema",
            CallVia::Resume => "resume",
        })
    }
}

/// How one gated change ended (the `outcome` of a `gate` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    /// Files written (or a shell command's changes kept).
    Written,
    /// A cluster change made.
    Applied,
    Committed,
    /// Gated and approved, deliberately not written (`--dry-run`).
    DryRun,
    /// A gate failed: nothing changed.
    Rejected,
    /// A person or a rule said no: nothing changed.
    Denied,
    /// High risk and nobody decided: nothing changed, the run stops.
    Pending,
    /// Gated and approved, but making the change failed.
    Failed,
}

impl GateOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Written => "written",
            Self::Applied => "applied",
            Self::Committed => "committed",
            Self::DryRun => "dry_run",
            Self::Rejected => "rejected",
            Self::Denied => "denied",
            Self::Pending => "pending",
            Self::Failed => "failed",
        }
    }
}

/// The gates' verdict on one call's changes, as the result object and the session keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    pub agent: String,
    pub tool: String,
    pub call_id: String,
    pub files: Vec<String>,
    pub passed: bool,
    pub risk: Level,
    pub outcome: GateOutcome,
    pub units: Vec<UnitReview>,
}

/// One approval decision made (granted or denied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub id: String,
    pub agent: String,
    pub tool: String,
    pub files: Vec<String>,
    #[serde(flatten)]
    pub decision: ApprovalDecision,
}

/// The steps of one environment's deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Validate,
    Plan,
    Approve,
    Apply,
    Verify,
    Rollback,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Validate => "validate",
            Step::Plan => "plan",
            Step::Approve => "approve",
            Step::Apply => "apply",
            Step::Verify => "verify",
            Step::Rollback => "rollback",
        })
    }
}

/// Where a step stands (the `status` of a `deploy` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Started,
    Ok,
    /// Failed for a transient reason; tried again after a pause.
    Retry,
    Failed,
    /// Waits for an approval nobody gave.
    Pending,
    Denied,
    /// Done in an earlier run of the session.
    Skipped,
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StepStatus::Started => "started",
            StepStatus::Ok => "ok",
            StepStatus::Retry => "retry",
            StepStatus::Failed => "failed",
            StepStatus::Pending => "pending",
            StepStatus::Denied => "denied",
            StepStatus::Skipped => "skipped",
        })
    }
}

/// The events of a run: serialized into the session log and stream-json, read back (typed)
/// by replay and resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An agent run begins (the main agent, or a subagent at `depth` > 0).
    AgentStarted {
        agent: String,
        model: String,
        provider: String,
        tool_mode: ToolMode,
        depth: u32,
        tools: Vec<String>,
    },
    /// Free text was routed to `agent` before the first turn: by the words of the request
    /// (`words`), by one schema-constrained model call (`model`), or to the main agent when
    /// neither chose (`fallback`).
    Routed {
        agent: String,
        by: String,
        why: String,
    },
    /// A request to the model is sent.
    ModelRequest {
        agent: String,
        turn: u32,
        attempt: u32,
        model: String,
        tool_mode: ToolMode,
    },
    TextDelta {
        agent: String,
        text: String,
    },
    ReasoningDelta {
        agent: String,
        text: String,
    },
    /// The model's turn is complete.
    ModelResponse {
        agent: String,
        turn: u32,
        finish_reason: Option<String>,
        usage: Usage,
        cost_usd: f64,
        request_id: Option<String>,
        tool_calls: usize,
    },
    /// A request failed and will be retried after `delay_ms`. When `discard_deltas` is true,
    /// the failed attempt had streamed text: a consumer discards this agent's `text_delta` and
    /// `reasoning_delta` events since its last `model_request` — the next attempt's text
    /// replaces them, never adds to them.
    Retry {
        agent: String,
        attempt: u32,
        max_attempts: u32,
        delay_ms: u64,
        error: String,
        request_id: Option<String>,
        #[serde(default)]
        discard_deltas: bool,
    },
    ToolCall {
        agent: String,
        id: String,
        name: String,
        input: Value,
        via: CallVia,
    },
    ToolResult {
        agent: String,
        id: String,
        name: String,
        is_error: bool,
        content: String,
        truncated: bool,
        duration_ms: u64,
    },
    /// The gates' verdict on a tool call's planned file changes.
    Gate {
        agent: String,
        id: String,
        #[serde(flatten)]
        record: GateRecord,
    },
    /// A high-risk change waits for a decision.
    ApprovalRequested {
        agent: String,
        request: crate::approval::ApprovalRequest,
    },
    ApprovalDecided {
        agent: String,
        id: String,
        decision: crate::approval::ApprovalDecision,
    },
    /// Something the user should know that does not stop the run.
    Warning {
        agent: String,
        message: String,
    },
    /// A message of the main agent's conversation, as the model sees it (what resume replays).
    Message {
        agent: String,
        message: Message,
    },
    /// A session goes on: a later run of the same session starts here.
    Resumed {
        agent: String,
        /// Pending approvals made again at the start of this run.
        pending: Vec<String>,
        /// Tool calls an earlier process never finished (they got an "interrupted" result).
        interrupted_calls: Vec<String>,
    },
    /// Older turns were replaced by a summary; `messages` is the conversation from here on.
    Compacted {
        agent: String,
        summarized: usize,
        messages: Vec<Message>,
    },
    /// A hook ran (Claude Code's hook contract); `blocked` when it stopped what it guards.
    Hook {
        agent: String,
        hook_event: String,
        command: String,
        exit_code: Option<i32>,
        blocked: bool,
        message: String,
    },
    /// One step of a deploy and where it stands.
    Deploy {
        app: String,
        env: String,
        step: Step,
        status: StepStatus,
        attempt: u32,
        detail: String,
    },
    /// An agent run ended with its final answer.
    AgentFinished {
        agent: String,
        depth: u32,
        turns: u32,
        text: String,
    },
}

/// Where a sink writes events before anyone sees them: the session log
/// ([`crate::session::SessionRecorder`]).
pub trait Recorder: Send {
    fn record(&mut self, event: &Event) -> Result<(), RecordError>;
    /// Appends the run's final result object.
    fn finish(&mut self, result: &Value) -> Result<(), RecordError>;
    fn id(&self) -> &str;
    fn path(&self) -> &std::path::Path;
}

/// A recorder could not write (the run goes on without a log; the user is told).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(pub String);

type Slot = Arc<Mutex<Option<Box<dyn Recorder>>>>;

/// The sending side of the event channel; sending never blocks and never fails the run.
/// With a recorder, every event is written to the session log first (the single writer).
#[derive(Clone, Default)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
    recorder: Option<Slot>,
    /// Values the repository makes secret, redacted along with everything the shapes find.
    secrets: Arc<agentops_tools::redact::KnownSecrets>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("channel", &self.tx.is_some())
            .field("recording", &self.recorder.is_some())
            .finish()
    }
}

impl EventSink {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                tx: Some(tx),
                recorder: None,
                secrets: Arc::default(),
            },
            rx,
        )
    }

    /// A sink that drops everything (benchmarks, tests that do not look).
    pub fn discard() -> Self {
        Self::default()
    }

    /// Writes every event to `recorder` before sending it on. The returned handle gives the
    /// recorder back (to append the run's result) once the run is over.
    pub fn recording(mut self, recorder: impl Recorder + 'static) -> (Self, RecorderHandle) {
        let slot: Slot = Arc::new(Mutex::new(Some(Box::new(recorder))));
        self.recorder = Some(slot.clone());
        (self, RecorderHandle(slot))
    }

    /// Also redacts `secrets` (the engine sets its workspace's) from every event.
    pub fn with_secrets(mut self, secrets: Arc<agentops_tools::redact::KnownSecrets>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Sends `event` on: redacted first (tool inputs, messages, text, hook output: whatever a
    /// model or a tool wrote), then written to the session log, then to the front end.
    pub fn emit(&self, event: Event) {
        let event = redacted(event, &self.secrets);
        if let Some(slot) = &self.recorder
            && let Ok(mut guard) = slot.lock()
            && let Some(recorder) = guard.as_mut()
            && let Err(e) = recorder.record(&event)
        {
            // The run goes on without a log rather than stopping; the user is told once.
            *guard = None;
            if let Some(tx) = &self.tx {
                let _ = tx.send(Event::Warning {
                    agent: String::new(),
                    message: format!("the session log stopped: {e}"),
                });
            }
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}

/// `event` with every string in it redacted (Secret values, tokens, keys). An event that
/// cannot be read back after redaction (which would be a bug) keeps only its kind.
fn redacted(event: Event, secrets: &agentops_tools::redact::KnownSecrets) -> Event {
    let Ok(mut value) = serde_json::to_value(&event) else {
        return event;
    };
    let before = value.clone();
    secrets.redact_strings(&mut value);
    if value == before {
        return event;
    }
    serde_json::from_value(value).unwrap_or_else(|e| Event::Warning {
        agent: String::new(),
        message: format!("an event was withheld: it could not be redacted ({e})"),
    })
}

/// Access to a sink's recorder after (or beside) the run.
#[derive(Clone)]
pub struct RecorderHandle(Slot);

impl RecorderHandle {
    /// Appends the final result object; `Err` says why the log could not take it.
    pub fn finish(&self, result: &Value) -> Result<(), RecordError> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| RecordError("the session log is poisoned".into()))?;
        match guard.as_mut() {
            Some(r) => r.finish(result),
            None => Err(RecordError("the session log had stopped earlier".into())),
        }
    }

    /// The session's id.
    pub fn id(&self) -> Option<String> {
        self.0.lock().ok()?.as_ref().map(|r| r.id().to_string())
    }

    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.0.lock().ok()?.as_ref().map(|r| r.path().to_path_buf())
    }
}
