//! OpenAI-compatible Chat Completions (OpenAI, vLLM, llama.cpp, Ollama, LM Studio, OpenRouter)
//! with streaming and tool calls.
//!
//! Decoding is deliberately lenient: every field is optional, unknown fields are ignored, and
//! the variations real servers send are accepted — `finish_reason: ""`, tool calls without
//! `type`, `reasoning_content`, usage only in the last chunk, arguments split across chunks.
//! A stream that ends before `[DONE]` or a finish reason is reported as truncated (and retried).

use super::{
    ChatRequest, Delta, DeltaFn, Endpoint, Message, ModelTurn, Provider, ProviderError,
    StreamAccumulator, ToolCall, Usage, send_streaming,
};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

pub struct OpenAiProvider {
    endpoint: Endpoint,
}

impl OpenAiProvider {
    pub fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            endpoint: Endpoint::new(base_url, api_key, timeout)?,
        })
    }
}

/// The request body for `request`.
pub fn request_body(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
    }
    if let Some(schema) = &request.response_schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "agent_step", "strict": true, "schema": schema},
        });
    }
    if let Some(max) = request.max_tokens {
        body["max_tokens"] = json!(max);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    body
}

fn message_json(m: &Message) -> Value {
    match m {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let mut v = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                if content.is_empty() {
                    v["content"] = Value::Null;
                }
                v["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            v
        }
        Message::Tool {
            call_id, content, ..
        } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<WireDelta>,
    /// Non-streaming servers (or the last chunk of some) put the whole message here.
    #[serde(default)]
    message: Option<WireDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Default, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Debug, Default, Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    /// Usually a JSON string; some servers send an object.
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Accumulates a streamed reply.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    turn: ModelTurn,
    calls: Vec<(usize, ToolCall)>,
    done: bool,
}

impl StreamAccumulator for Accumulator {
    /// Applies one SSE data payload. Returns an error for an in-stream error object.
    fn apply(&mut self, data: &str, on_delta: DeltaFn<'_>) -> Result<(), ProviderError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| ProviderError::Decode(format!("{e} in chunk {}", preview(data))))?;
        if let Some(err) = chunk.error {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| err.to_string(), str::to_string);
            return Err(ProviderError::Stream {
                message,
                retryable: true,
            });
        }
        if let Some(u) = chunk.usage {
            self.turn.usage = Usage {
                input_tokens: u.prompt_tokens.unwrap_or(0),
                output_tokens: u.completion_tokens.unwrap_or(0),
            };
        }
        for choice in chunk.choices {
            for delta in [choice.delta, choice.message].into_iter().flatten() {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    on_delta(Delta::Text(text.clone()));
                    self.turn.text.push_str(&text);
                }
                if let Some(text) = delta
                    .reasoning_content
                    .or(delta.reasoning)
                    .filter(|t| !t.is_empty())
                {
                    on_delta(Delta::Reasoning(text.clone()));
                    self.turn.reasoning.push_str(&text);
                }
                for (pos, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                    self.apply_call(pos, call);
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.turn.finish_reason = Some(reason);
            }
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.done
    }

    /// The finished turn: an error when the stream ended without `[DONE]` or a finish reason.
    fn finish(mut self) -> Result<ModelTurn, ProviderError> {
        if !self.done && self.turn.finish_reason.is_none() {
            return Err(ProviderError::Truncated(
                "no finish reason and no [DONE]".to_string(),
            ));
        }
        self.calls.sort_by_key(|(i, _)| *i);
        self.turn.tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .map(|(n, (_, mut c))| {
                if c.id.is_empty() {
                    c.id = format!("call_{n}");
                }
                c
            })
            .collect();
        Ok(self.turn)
    }
}

impl Accumulator {
    fn apply_call(&mut self, pos: usize, call: WireToolCall) {
        let index = call.index.unwrap_or(pos);
        let slot = match self.calls.iter().position(|(i, _)| *i == index) {
            Some(s) => s,
            None => {
                self.calls.push((
                    index,
                    ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    },
                ));
                self.calls.len() - 1
            }
        };
        let target = &mut self.calls[slot].1;
        if let Some(id) = call.id.filter(|i| !i.is_empty()) {
            target.id = id;
        }
        if let Some(f) = call.function {
            if let Some(name) = f.name.filter(|n| !n.is_empty()) {
                target.name.push_str(&name);
            }
            match f.arguments {
                Some(Value::String(s)) => target.arguments.push_str(&s),
                Some(Value::Null) | None => {}
                Some(other) => target.arguments.push_str(&other.to_string()),
            }
        }
    }
}

fn preview(s: &str) -> String {
    s.chars().take(120).collect()
}

impl Provider for OpenAiProvider {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        on_delta: DeltaFn<'a>,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>> {
        Box::pin(async move {
            let mut builder = self
                .endpoint
                .client
                .post(format!("{}/chat/completions", self.endpoint.base_url))
                .json(&request_body(request));
            if let Some(key) = &self.endpoint.api_key {
                builder = builder.bearer_auth(key);
            }
            send_streaming(
                builder,
                Accumulator::default(),
                on_delta,
                self.endpoint.timeout,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> Result<ModelTurn, ProviderError> {
        let mut acc = Accumulator::default();
        let sink = |_d: Delta| {};
        for c in chunks {
            acc.apply(c, &sink)?;
        }
        acc.finish()
    }

    #[test]
    fn tool_call_arguments_split_across_chunks_without_type() {
        let turn = run(&[
            r#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"Read","arguments":"{\"file_"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"path\":\"x\"}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}],"usage":null}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(turn.tool_calls.len(), 1);
        assert_eq!(turn.tool_calls[0].name, "Read");
        assert_eq!(turn.tool_calls[0].arguments, r#"{"file_path":"x"}"#);
        assert_eq!(
            turn.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 5
            }
        );
    }

    #[test]
    fn empty_finish_reason_reasoning_and_unknown_fields() {
        let turn = run(&[
            r#"{"choices":[{"delta":{"reasoning_content":"hmm"},"finish_reason":"","logprobs":null}],"x_extra":1}"#,
            r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":""}],"timings":{}}"#,
            "[DONE]",
        ])
        .unwrap();
        assert_eq!(turn.text, "Hi");
        assert_eq!(turn.reasoning, "hmm");
        assert_eq!(turn.finish_reason, None);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let err = run(&[r#"{"choices":[{"delta":{"content":"Hi"}}]}"#]).unwrap_err();
        assert!(matches!(err, ProviderError::Truncated(_)));
        assert!(err.retryable());
    }

    #[test]
    fn object_arguments_and_missing_ids() {
        let turn = run(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"Glob","arguments":{"pattern":"*"}}}]},"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        assert_eq!(turn.tool_calls[0].id, "call_0");
        assert_eq!(turn.tool_calls[0].arguments, r#"{"pattern":"*"}"#);
    }
}
