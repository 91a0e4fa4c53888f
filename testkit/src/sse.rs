//! Builders for the streamed bodies real servers send, including their quirks.

use serde_json::{Value, json};

fn event(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// Knobs for the variations real OpenAI-compatible servers produce.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quirks {
    /// `finish_reason: ""` instead of a value (seen from some servers).
    pub empty_finish_reason: bool,
    /// Tool calls without `"type": "function"`.
    pub no_tool_type: bool,
    /// A `reasoning_content` delta before the answer.
    pub reasoning: bool,
    /// Fields no client knows about, everywhere.
    pub unknown_fields: bool,
    /// Stop before the final chunk and `[DONE]` (a truncated stream).
    pub truncate: bool,
}

impl Quirks {
    /// A well-behaved server.
    pub const NONE: Quirks = Quirks {
        empty_finish_reason: false,
        no_tool_type: false,
        reasoning: false,
        unknown_fields: false,
        truncate: false,
    };
}

/// An OpenAI-compatible streamed reply with `text`, split into small deltas.
pub fn openai_text(
    text: &str,
    prompt_tokens: u64,
    completion_tokens: u64,
    q: Quirks,
) -> Vec<String> {
    let mut out = vec![event(
        &json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
    )];
    if q.reasoning {
        out.push(event(
            &json!({"choices": [{"index": 0, "delta": {"reasoning_content": "Let me think."}}]}),
        ));
    }
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    for piece in words.chunks(2) {
        let mut chunk = json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": piece.concat()}, "finish_reason": null}]});
        if q.unknown_fields {
            chunk["system_fingerprint"] = json!("fp_x");
            chunk["choices"][0]["logprobs"] = Value::Null;
            chunk["choices"][0]["delta"]["annotations"] = json!([]);
            chunk["timings"] = json!({"predicted_ms": 1.5});
        }
        out.push(event(&chunk));
    }
    if q.truncate {
        return out;
    }
    finish(
        &mut out,
        if q.empty_finish_reason { "" } else { "stop" },
        prompt_tokens,
        completion_tokens,
    );
    out
}

/// An OpenAI-compatible streamed reply with tool calls `(id, name, arguments JSON text)`;
/// each call's arguments arrive split over several chunks.
pub fn openai_tool_calls(
    calls: &[(&str, &str, &str)],
    prompt_tokens: u64,
    completion_tokens: u64,
    q: Quirks,
) -> Vec<String> {
    let mut out = vec![event(
        &json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null}, "finish_reason": null}]}),
    )];
    for (index, (id, name, args)) in calls.iter().enumerate() {
        let mut head = json!({"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}});
        if q.no_tool_type {
            head.as_object_mut().unwrap().remove("type");
        }
        out.push(event(
            &json!({"choices": [{"index": 0, "delta": {"tool_calls": [head]}}]}),
        ));
        let bytes: Vec<char> = args.chars().collect();
        for part in bytes.chunks(7) {
            let piece: String = part.iter().collect();
            out.push(event(&json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}}]})));
        }
    }
    if q.truncate {
        return out;
    }
    finish(
        &mut out,
        if q.empty_finish_reason {
            ""
        } else {
            "tool_calls"
        },
        prompt_tokens,
        completion_tokens,
    );
    out
}

fn finish(out: &mut Vec<String>, reason: &str, prompt_tokens: u64, completion_tokens: u64) {
    out.push(event(
        &json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}),
    ));
    // Usage only in the last chunk, with empty choices (stream_options.include_usage).
    out.push(event(&json!({"choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}})));
    out.push("data: [DONE]\n\n".to_string());
}

fn anthropic_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// An Anthropic Messages streamed reply: optional text, then tool uses `(id, name, input JSON)`.
pub fn anthropic(
    text: &str,
    tool_uses: &[(&str, &str, &str)],
    input_tokens: u64,
    output_tokens: u64,
) -> Vec<String> {
    let mut out = vec![anthropic_event(
        "message_start",
        &json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-fake", "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if !text.is_empty() {
        out.push(anthropic_event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
        for piece in text.split_inclusive(' ') {
            out.push(anthropic_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})));
        }
        out.push(anthropic_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for (id, name, input) in tool_uses {
        out.push(anthropic_event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
        let chars: Vec<char> = input.chars().collect();
        for part in chars.chunks(5) {
            out.push(anthropic_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": part.iter().collect::<String>()}})));
        }
        out.push(anthropic_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    out.push("event: ping\ndata: {\"type\": \"ping\"}\n\n".to_string());
    let stop = if tool_uses.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    out.push(anthropic_event("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output_tokens}})));
    out.push(anthropic_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    out
}
