//! Talking to models: one [`Provider`] trait, an OpenAI-compatible and an Anthropic
//! implementation, lenient decoding of what real servers send, and retries.

pub mod anthropic;
pub mod openai;
pub mod retry;
pub mod sse;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// One message of a conversation, provider-neutral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        content: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        call_id: String,
        name: String,
        content: String,
        #[serde(default)]
        is_error: bool,
    },
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments exactly as the model wrote them.
    pub arguments: String,
}

/// A tool as offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// One model call.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    /// Offered natively (empty in schema mode).
    pub tools: Vec<ToolDef>,
    /// A JSON schema the reply must follow (schema tool mode).
    pub response_schema: Option<Value>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }

    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// A complete model reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTurn {
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    pub request_id: Option<String>,
}

/// Streamed pieces, as they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    Text(String),
    Reasoning(String),
}

/// Why a model call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("HTTP {status}: {message}")]
    Http {
        status: u16,
        message: String,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("no data from the server for {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("the stream ended before the reply was complete ({0})")]
    Truncated(String),
    #[error("the server reported an error in the stream: {message}")]
    Stream { message: String, retryable: bool },
    #[error("cannot read the reply: {0}")]
    Decode(String),
    /// No model is configured (a session that started without one).
    #[error("{0}")]
    NotConfigured(String),
}

impl ProviderError {
    /// 429, 5xx, timeouts, connection resets, truncated streams and streams that could not
    /// be read (a garbled chunk, a fragment left by a cut mid-event) are worth retrying: every
    /// failure before the attempt's final event is transient. A well-formed error from the
    /// server keeps its own class.
    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Http { status, .. } => {
                *status == 408 || *status == 409 || *status == 429 || *status >= 500
            }
            ProviderError::Timeout(_)
            | ProviderError::Connection(_)
            | ProviderError::Truncated(_)
            | ProviderError::Decode(_) => true,
            ProviderError::Stream { retryable, .. } => *retryable,
            ProviderError::NotConfigured(_) => false,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            ProviderError::Http { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Called with each streamed piece.
pub type DeltaFn<'a> = &'a (dyn Fn(Delta) + Send + Sync);

pub trait Provider: Send + Sync {
    /// Sends `request` and streams the reply; one attempt, no retries.
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        on_delta: DeltaFn<'a>,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>>;
}

/// Classifies a transport error from reqwest.
pub(crate) fn transport_error(err: &reqwest::Error, timeout: Duration) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout(timeout)
    } else if err.is_connect() {
        ProviderError::Connection(root_cause(err))
    } else if err.is_body() || err.is_decode() || err.is_request() {
        ProviderError::Truncated(root_cause(err))
    } else {
        ProviderError::Connection(root_cause(err))
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

/// The request id a server put in its response headers.
pub(crate) fn request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "x-amzn-requestid", "cf-ray"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` in seconds (HTTP dates are ignored).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Reads an error response into a [`ProviderError::Http`].
pub(crate) async fn http_error(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let request_id = request_id(response.headers());
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(300).collect());
    ProviderError::Http {
        status,
        message,
        request_id,
        retry_after,
    }
}

/// Decodes one provider's streamed events into a [`ModelTurn`].
pub(crate) trait StreamAccumulator {
    /// Applies one SSE `data:` payload; an error object in the stream is an error.
    fn apply(&mut self, data: &str, on_delta: DeltaFn<'_>) -> Result<(), ProviderError>;
    /// The provider said the reply is complete (`[DONE]`, `message_stop`).
    fn done(&self) -> bool;
    /// The finished turn, or `Truncated` when the stream ended early.
    fn finish(self) -> Result<ModelTurn, ProviderError>;
}

/// Sends `request` and streams its server-sent events through `acc`: the part of a model call
/// every provider shares (status check, request id, SSE decoding, truncation).
pub(crate) async fn send_streaming<A: StreamAccumulator>(
    request: reqwest::RequestBuilder,
    mut acc: A,
    on_delta: DeltaFn<'_>,
    timeout: Duration,
) -> Result<ModelTurn, ProviderError> {
    use futures_util::StreamExt;
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(&e, timeout))?;
    if !response.status().is_success() {
        return Err(http_error(response).await);
    }
    let req_id = request_id(response.headers());
    let mut decoder = sse::SseDecoder::default();
    let mut stream = response.bytes_stream();
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.map_err(|e| transport_error(&e, timeout))?;
        for event in decoder.feed(&bytes) {
            acc.apply(&event.data, on_delta)?;
        }
        if acc.done() {
            break;
        }
    }
    if let Some(event) = decoder.finish() {
        acc.apply(&event.data, on_delta)?;
    }
    let mut turn = acc.finish()?;
    turn.request_id = req_id;
    Ok(turn)
}

/// Where and how a provider sends its requests: the part every provider has.
pub(crate) struct Endpoint {
    pub client: reqwest::Client,
    /// Without a trailing `/`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl Endpoint {
    pub fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: http_client(timeout)?,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            timeout,
        })
    }
}

/// The HTTP client all providers use: explicit timeouts, no proxy or env magic.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    agentops_tools::http::client(timeout)
}
