//! The `Skill` tool: the model loads a skill (`.claude/skills/<name>/SKILL.md`) by name. The
//! tool's description lists each model-invocable skill by name and description; the body is
//! read, expanded with the call's `args`, only when the model calls it.
//!
//! A skill the model invokes never widens what it may do: its `allowed-tools` are not applied
//! (a person's `/name` applies them), and its `` !`cmd` `` snippets are not run, because the
//! model chose the arguments they would be run with — they are shown as text, and the `Bash`
//! tool, which goes through the permission rules and the sandbox, is there to run them.

use super::Engine;
use crate::model::ToolDef;
use agentops_commands::{Arguments, CommandDefinition, ShellExec, ShellOutput};
use agentops_tools::ToolOutput;
use serde_json::{Value, json};

pub const SKILL_TOOL: &str = "Skill";

/// Leaves each snippet as text saying it was not run.
struct NotRun;

impl ShellExec for NotRun {
    fn run(&self, script: &str) -> Result<ShellOutput, String> {
        Ok(ShellOutput {
            exit_code: Some(0),
            stdout: format!(
                "[not run when the model invokes a skill: `{}`; use the Bash tool if it is needed]",
                script.trim()
            ),
            stderr: String::new(),
            timed_out: false,
        })
    }
}

/// The skills the model may invoke: skill files without `disable-model-invocation`.
pub fn model_invocable(commands: &[CommandDefinition]) -> Vec<CommandDefinition> {
    commands
        .iter()
        .filter(|c| c.skill_dir.is_some() && !c.disable_model_invocation)
        .cloned()
        .collect()
}

impl Engine {
    pub(super) fn skill_tool_def(&self) -> ToolDef {
        let mut description = String::from(
            "Load a skill: instructions (and the folder of files they refer to) for a kind of task. Call it when a skill below fits the task, then follow what it returns. Skills:\n",
        );
        for s in &self.skills {
            let mut line = format!("- {}: {}", s.name, one_line(&s.description));
            if let Some(when) = &s.when_to_use {
                line.push_str(&format!(" Use when: {}", one_line(when)));
            }
            description.push_str(&line);
            description.push('\n');
        }
        ToolDef {
            name: SKILL_TOOL.to_string(),
            description,
            parameters: json!({
                "type": "object",
                "properties": {
                    "skill": {"type": "string", "description": "The skill's name."},
                    "args": {"type": "string", "description": "Arguments for the skill, as a person would type them after /name."}
                },
                "required": ["skill"],
                "additionalProperties": false
            }),
        }
    }

    /// The skill's expanded text, after a line naming its folder (relative to the repository),
    /// or an error listing the skills there are.
    pub(super) fn invoke_skill(&self, args: &Value) -> ToolOutput {
        let wanted = args
            .get("skill")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .trim_start_matches('/');
        let found = self.skills.iter().find(|s| s.name == wanted).or_else(|| {
            let short: Vec<&CommandDefinition> = self
                .skills
                .iter()
                .filter(|s| s.short_name() == wanted)
                .collect();
            (short.len() == 1).then(|| short[0])
        });
        let Some(skill) = found else {
            let names: Vec<&str> = self.skills.iter().map(|s| s.name.as_str()).collect();
            return ToolOutput::error(format!(
                "no skill named `{wanted}`; the skills are: {}",
                names.join(", ")
            ));
        };
        let line = args.get("args").and_then(Value::as_str).unwrap_or_default();
        let arguments = Arguments::parse(line);
        let options = agentops_commands::ExpandOptions {
            positional_base: self.positional_base,
            root: self.tool_ctx.root.clone(),
            cwd: self.tool_ctx.cwd.clone(),
            session_id: Some(self.tool_ctx.session_id.clone()).filter(|s| !s.is_empty()),
        };
        match agentops_commands::expand(skill, &arguments, &options, &NotRun) {
            Ok(expansion) => {
                let dir = skill
                    .skill_dir
                    .as_deref()
                    .map(|d| agentops_tools::path::display(&self.tool_ctx.root, d))
                    .unwrap_or_default();
                ToolOutput::ok(format!(
                    "Base directory for this skill: {dir} (read its files with paths under it)\n\n{}",
                    expansion.prompt
                ))
            }
            Err(e) => ToolOutput::error(format!("skill `{}` could not be loaded: {e}", skill.name)),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
