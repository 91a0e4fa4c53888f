//! Anthropic's Messages API with streaming and tool use.

use super::{
    ChatRequest, Delta, DeltaFn, Endpoint, Message, ModelTurn, Provider, ProviderError,
    StreamAccumulator, ToolCall, send_streaming,
};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::time::Duration;

/// Anthropic requires `max_tokens`; used when none is configured.
const DEFAULT_MAX_TOKENS: u32 = 8192;
const API_VERSION: &str = "2023-06-01";

pub struct AnthropicProvider {
    endpoint: Endpoint,
}

impl AnthropicProvider {
    pub fn new(base_url: &str, api_key: Option<String>, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            endpoint: Endpoint::new(base_url, api_key, timeout)?,
        })
    }
}

/// The request body: system prompt apart, tool results as user `tool_result` blocks (merged
/// when consecutive, as the API requires alternating roles).
pub fn request_body(request: &ChatRequest) -> Value {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in &request.messages {
        match m {
            Message::System { content } => system.push(content.clone()),
            Message::User { content } => push(
                &mut messages,
                "user",
                json!({"type": "text", "text": content}),
            ),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                for c in tool_calls {
                    let input: Value =
                        serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                for b in blocks {
                    push(&mut messages, "assistant", b);
                }
            }
            Message::Tool {
                call_id,
                content,
                is_error,
                ..
            } => push(
                &mut messages,
                "user",
                json!({"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}),
            ),
        }
    }
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

fn push(messages: &mut Vec<Value>, role: &str, block: Value) {
    if let Some(last) = messages.last_mut()
        && last["role"] == role
        && let Some(content) = last["content"].as_array_mut()
    {
        content.push(block);
        return;
    }
    messages.push(json!({"role": role, "content": [block]}));
}

#[derive(Default)]
struct Accumulator {
    turn: ModelTurn,
    /// Content blocks by index: `Some` for tool uses being assembled.
    blocks: Vec<(u64, Option<ToolCall>)>,
    stopped: bool,
}

impl StreamAccumulator for Accumulator {
    fn apply(&mut self, data: &str, on_delta: DeltaFn<'_>) -> Result<(), ProviderError> {
        let v: Value = serde_json::from_str(data).map_err(|e| {
            ProviderError::Decode(format!(
                "{e} in event {}",
                data.chars().take(120).collect::<String>()
            ))
        })?;
        match v["type"].as_str().unwrap_or_default() {
            "message_start" => {
                self.turn.usage.input_tokens = v
                    .pointer("/message/usage/input_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                self.turn.usage.output_tokens = v
                    .pointer("/message/usage/output_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
            }
            "content_block_start" => {
                let index = v["index"].as_u64().unwrap_or(0);
                let block = &v["content_block"];
                let call = (block["type"] == "tool_use").then(|| ToolCall {
                    id: block["id"].as_str().unwrap_or_default().to_string(),
                    name: block["name"].as_str().unwrap_or_default().to_string(),
                    arguments: String::new(),
                });
                if block["type"] == "text"
                    && let Some(text) = block["text"].as_str().filter(|t| !t.is_empty())
                {
                    on_delta(Delta::Text(text.to_string()));
                    self.turn.text.push_str(text);
                }
                self.blocks.push((index, call));
            }
            "content_block_delta" => {
                let index = v["index"].as_u64().unwrap_or(0);
                let delta = &v["delta"];
                match delta["type"].as_str().unwrap_or_default() {
                    "text_delta" => {
                        let text = delta["text"].as_str().unwrap_or_default();
                        on_delta(Delta::Text(text.to_string()));
                        self.turn.text.push_str(text);
                    }
                    "thinking_delta" => {
                        let text = delta["thinking"].as_str().unwrap_or_default();
                        on_delta(Delta::Reasoning(text.to_string()));
                        self.turn.reasoning.push_str(text);
                    }
                    "input_json_delta" => {
                        if let Some((_, Some(call))) =
                            self.blocks.iter_mut().find(|(i, _)| *i == index)
                        {
                            call.arguments
                                .push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.turn.finish_reason = Some(reason.to_string());
                }
                if let Some(out) = v.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.turn.usage.output_tokens = out;
                }
            }
            "message_stop" => self.stopped = true,
            "error" => {
                let kind = v
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let message = v
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(ProviderError::Stream {
                    message: format!("{kind}: {message}"),
                    retryable: matches!(
                        kind,
                        "overloaded_error" | "api_error" | "rate_limit_error"
                    ),
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.stopped
    }

    fn finish(mut self) -> Result<ModelTurn, ProviderError> {
        if !self.stopped {
            return Err(ProviderError::Truncated("no message_stop".to_string()));
        }
        self.turn.tool_calls = self
            .blocks
            .into_iter()
            .filter_map(|(_, c)| c)
            .map(|mut c| {
                if c.arguments.trim().is_empty() {
                    c.arguments = "{}".to_string();
                }
                c
            })
            .collect();
        Ok(self.turn)
    }
}

impl Provider for AnthropicProvider {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        on_delta: DeltaFn<'a>,
    ) -> BoxFuture<'a, Result<ModelTurn, ProviderError>> {
        Box::pin(async move {
            let mut builder = self
                .endpoint
                .client
                .post(format!("{}/v1/messages", self.endpoint.base_url))
                .header("anthropic-version", API_VERSION)
                .json(&request_body(request));
            if let Some(key) = &self.endpoint.api_key {
                builder = builder.header("x-api-key", key);
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
    use crate::model::ToolDef;

    #[test]
    fn consecutive_tool_results_merge_into_one_user_message() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message::System {
                    content: "sys".into(),
                },
                Message::User {
                    content: "hi".into(),
                },
                Message::Assistant {
                    content: String::new(),
                    tool_calls: vec![
                        ToolCall {
                            id: "a".into(),
                            name: "Read".into(),
                            arguments: "{\"file_path\":\"x\"}".into(),
                        },
                        ToolCall {
                            id: "b".into(),
                            name: "Glob".into(),
                            arguments: "{}".into(),
                        },
                    ],
                },
                Message::Tool {
                    call_id: "a".into(),
                    name: "Read".into(),
                    content: "1".into(),
                    is_error: false,
                },
                Message::Tool {
                    call_id: "b".into(),
                    name: "Glob".into(),
                    content: "2".into(),
                    is_error: true,
                },
            ],
            tools: vec![ToolDef {
                name: "Read".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            response_schema: None,
            max_tokens: None,
            temperature: None,
        };
        let body = request_body(&req);
        assert_eq!(body["system"], "sys");
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1]["content"].as_array().unwrap().len(), 2);
        assert_eq!(msgs[2]["content"][1]["is_error"], true);
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
    }
}
