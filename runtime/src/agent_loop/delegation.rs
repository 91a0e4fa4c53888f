//! Delegation through the `Agent` tool (alias `Task`): the subagent is chosen by name, else
//! by the words its description shares with the task; its final text is the tool's result.

use super::{Engine, Start, Stop};
use agentops_agents::AgentDefinition;
use agentops_tools::ToolOutput;
use serde_json::{Value, json};

impl Engine {
    /// Runs a subagent for the `Agent` tool; its final text is the tool's result.
    pub(super) async fn delegate(
        &self,
        caller: &AgentDefinition,
        model: &str,
        args: Value,
        depth: u32,
    ) -> ToolOutput {
        let started = self.totals.lock().map_or(u32::MAX, |mut t| {
            t.subagents += 1;
            t.subagents
        });
        if started > self.limits.max_subagents {
            return ToolOutput::failed(
                agentops_tools::ErrorKind::Denied,
                format!(
                    "not started: this run has started its {} subagents ([limits] max_subagents); finish the task yourself",
                    self.limits.max_subagents
                ),
            );
        }
        let task = args["description"].as_str().unwrap_or_default();
        let prompt = args["prompt"].as_str().unwrap_or_default().to_string();
        let wanted = args["subagent_type"].as_str().unwrap_or_default();
        let Some(sub) = self.choose_subagent(caller, wanted, &format!("{task} {prompt}")) else {
            let names: Vec<&str> = self
                .agents
                .iter()
                .filter(|a| a.name != caller.name)
                .map(|a| a.name.as_str())
                .collect();
            return ToolOutput::error(format!(
                "no agent named `{wanted}` and none whose description fits; available: {}",
                names.join(", ")
            ));
        };
        let sub_model = self.agent_model(sub, model);
        let said = self
            .hook(
                sub,
                "SubagentStart",
                Some(&sub.name),
                json!({"agent_type": sub.name, "prompt": prompt}),
            )
            .await;
        let mut prompt = prompt;
        for context in said.context {
            prompt.push_str(&format!("\n\n{context}"));
        }
        match self
            .run_at(sub, Start::fresh(prompt), sub_model, depth + 1)
            .await
        {
            Ok(run) => match run.stop {
                Stop::Final => ToolOutput::ok(run.text),
                Stop::TurnLimit { limit } => ToolOutput::error(format!(
                    "subagent {} stopped at its limit of {limit} turns; its last words: {}",
                    sub.name, run.text
                )),
                stop => ToolOutput::error(format!("subagent {} stopped: {stop:?}", sub.name)),
            },
            Err(err) => ToolOutput::error(format!("subagent {} failed: {err}", sub.name)),
        }
    }

    /// By name (case-insensitive), else the agent whose description shares the most words
    /// with the task.
    pub(super) fn choose_subagent<'a>(
        &'a self,
        caller: &AgentDefinition,
        name: &str,
        task: &str,
    ) -> Option<&'a AgentDefinition> {
        let others = || self.agents.iter().filter(|a| a.name != caller.name);
        if !name.is_empty()
            && let Some(a) = others().find(|a| a.name.eq_ignore_ascii_case(name))
        {
            return Some(a);
        }
        let words = |s: &str| -> Vec<String> {
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 3)
                .map(str::to_lowercase)
                .collect()
        };
        let task_words = words(&format!("{name} {task}"));
        others()
            .map(|a| {
                let desc = words(&format!("{} {}", a.name, a.description));
                let score = task_words.iter().filter(|w| desc.contains(w)).count();
                (score, a)
            })
            .filter(|(score, _)| *score > 0)
            .max_by_key(|(score, _)| *score)
            .map(|(_, a)| a)
    }
}
