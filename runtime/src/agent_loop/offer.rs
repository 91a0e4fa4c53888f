//! What an agent is offered: its tools (its `tools` minus `disallowedTools`, resolved against
//! the registry), the `Agent` delegation tool while the depth allows it, the input validators,
//! and the system prompt (agent body, environment, learnings, schema-mode instructions).

use super::skills::SKILL_TOOL;
use super::{AGENT_TOOL, Engine};
use crate::config::ToolMode;
use crate::events::Event;
use crate::model::ToolDef;
use crate::tool_mode;
use agentops_agents::AgentDefinition;
use serde_json::{Value, json};
use std::collections::HashMap;

/// What one agent is offered.
pub(super) struct Offer {
    pub(super) defs: Vec<ToolDef>,
    pub(super) validators: HashMap<String, jsonschema::Validator>,
    pub(super) delegation: bool,
    /// The `Skill` tool is offered.
    pub(super) skills: bool,
}

impl Offer {
    pub(super) fn names(&self) -> Vec<String> {
        self.defs.iter().map(|d| d.name.clone()).collect()
    }

    /// Checks `args` against the tool's schema; `Err` lists what is wrong.
    pub(super) fn validate(&self, name: &str, args: &Value) -> Result<(), String> {
        let Some(v) = self.validators.get(name) else {
            return Err(format!(
                "tool `{name}` is not available here; available: {}",
                self.names().join(", ")
            ));
        };
        let problems: Vec<String> = v
            .iter_errors(args)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl Engine {
    pub(super) fn system_prompt(
        &self,
        agent: &AgentDefinition,
        offer: &Offer,
        depth: u32,
    ) -> String {
        let mut prompt = agent.body.trim().to_string();
        if prompt.is_empty() {
            prompt = agent.description.clone();
        }
        // Memory is the main agent's, as in Claude Code (subagents get their own prompt only).
        if depth == 0 && !self.memory.is_empty() {
            prompt.push_str("\n\n");
            prompt.push_str(&self.memory);
        }
        if !self.environment.is_empty() {
            prompt.push_str("\n\n# Environment\n");
            prompt.push_str(&self.environment);
        }
        // Factor V: what this agent learned in earlier runs here, as a checklist.
        let learned = agentops_tools::learnings::for_agent(&self.tool_ctx.root, &agent.name);
        if !learned.is_empty() {
            prompt.push_str("\n\n# Learnings from earlier runs in this repository\nCheck each before you finish:\n");
            let skip = learned
                .len()
                .saturating_sub(agentops_tools::learnings::PROMPT_LIMIT);
            for l in &learned[skip..] {
                prompt.push_str(&format!("- [ ] {l}\n"));
            }
        }
        if self.tool_mode == ToolMode::Schema && !offer.defs.is_empty() {
            prompt.push_str(&tool_mode::schema_instructions(&offer.defs));
        }
        prompt
    }

    /// The tools `agent` may use: its `tools` (all when absent) minus `disallowedTools`,
    /// resolved against the registry, plus delegation while the depth allows it.
    /// `offer` without the tools that can change anything (and without delegation and
    /// skills): for a request that says nothing may change.
    pub(super) fn read_only(&self, offer: Offer) -> Offer {
        let keep = |name: &str| {
            self.tools
                .get(name)
                .is_some_and(|t| t.risk() == agentops_tools::Risk::ReadOnly)
        };
        Offer {
            defs: offer.defs.into_iter().filter(|d| keep(&d.name)).collect(),
            validators: offer
                .validators
                .into_iter()
                .filter(|(name, _)| keep(name))
                .collect(),
            delegation: false,
            skills: false,
        }
    }

    pub(super) fn offer(&self, agent: &AgentDefinition, depth: u32) -> Offer {
        let disallowed: Vec<&str> = agent
            .disallowed_tools
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let wanted: Vec<String> = match &agent.tools {
            None => self
                .tools
                .names()
                .map(str::to_string)
                .chain([AGENT_TOOL.to_string(), SKILL_TOOL.to_string()])
                .collect(),
            Some(list) => {
                let mut names: Vec<String> = Vec::new();
                for spec in list {
                    if !names.contains(&spec.name) {
                        names.push(spec.name.clone());
                    }
                }
                names
            }
        };
        let can_delegate =
            depth < self.limits.max_depth && self.agents.iter().any(|a| a.name != agent.name);
        let mut defs = Vec::new();
        let mut delegation = false;
        let mut skills = false;
        let mut unavailable = Vec::new();
        for name in wanted {
            if disallowed.contains(&name.as_str())
                || self
                    .only_tools
                    .as_ref()
                    .is_some_and(|only| !only.contains(&name))
            {
                continue;
            }
            if name == AGENT_TOOL {
                if can_delegate {
                    delegation = true;
                    defs.push(self.agent_tool_def(agent));
                }
                continue;
            }
            if name == SKILL_TOOL {
                if !self.skills.is_empty() {
                    skills = true;
                    defs.push(self.skill_tool_def());
                }
                continue;
            }
            match self.tools.get(&name) {
                Some(tool) => defs.push(ToolDef {
                    name: tool.name().to_string(),
                    description: tool.description().to_string(),
                    parameters: tool.input_schema(),
                }),
                None => unavailable.push(name),
            }
        }
        if !unavailable.is_empty() && agent.tools.is_some() {
            self.events.emit(Event::Warning {
                agent: agent.name.clone(),
                message: format!(
                    "not offered (agentops has no such tool yet): {}",
                    unavailable.join(", ")
                ),
            });
        }
        let validators = defs
            .iter()
            .filter_map(|d| {
                jsonschema::validator_for(&d.parameters)
                    .ok()
                    .map(|v| (d.name.clone(), v))
            })
            .collect();
        Offer {
            defs,
            validators,
            delegation,
            skills,
        }
    }

    pub(super) fn agent_tool_def(&self, caller: &AgentDefinition) -> ToolDef {
        let mut description = String::from(
            "Hand a self-contained task to a specialised subagent and get its final answer back. Choose the agent by name in subagent_type, or leave it out and the agent whose description fits best is used. Agents:\n",
        );
        for a in self.agents.iter().filter(|a| a.name != caller.name) {
            description.push_str(&crate::route::agent_line(a));
        }
        ToolDef {
            name: AGENT_TOOL.to_string(),
            description,
            parameters: json!({
                "type": "object",
                "properties": {
                    "subagent_type": {"type": "string", "description": "The agent's name."},
                    "description": {"type": "string", "description": "The task in a few words."},
                    "prompt": {"type": "string", "description": "Everything the subagent needs to do the task."}
                },
                "required": ["description", "prompt"],
                "additionalProperties": false
            }),
        }
    }
}
