//! Turning a command and its arguments into the prompt the model receives.
//!
//! Order (DESIGN.md §2): argument substitution → `` !`cmd` `` / ```` ```! ```` pre-execution
//! (single pass: command output is never scanned again) → `@path` inlining → `ARGUMENTS:` line
//! when the body used no placeholder. As in Claude Code, `!` and `@` work inside fenced code
//! blocks too (a rendered manifest is often wanted inside a ```` ```yaml ```` fence); `@` only
//! inlines paths that exist inside the repository. The body is processed line by line so every
//! error names the file line it comes from.

use crate::args::Arguments;
use crate::definition::CommandDefinition;
use crate::inline::{self, Resolved};
use crate::shell::{ShellExec, ShellOutput, inline_spans};
use crate::substitute::substitute;
use agentops_agents::diagnostic::Diagnostic;
use std::path::{Path, PathBuf};

/// Settings for expansion.
#[derive(Debug, Clone)]
pub struct ExpandOptions {
    /// 1: `$1` is the first argument (most existing files); 0: `$0` is (current Claude Code).
    pub positional_base: usize,
    /// The repository root: `@path` never reads outside it. Should be canonical.
    pub root: PathBuf,
    /// Relative `@path`s are resolved from here.
    pub cwd: PathBuf,
    /// `${CLAUDE_SESSION_ID}` (left as written when `None`).
    pub session_id: Option<String>,
}

impl ExpandOptions {
    /// `${NAME}` variables of Claude Code: `CLAUDE_PROJECT_DIR` (the root),
    /// `CLAUDE_SESSION_ID`, and for a skill `CLAUDE_SKILL_DIR` (its folder).
    pub fn variables(&self, cmd: &CommandDefinition) -> Vec<(&'static str, String)> {
        let mut vars = vec![("CLAUDE_PROJECT_DIR", self.root.display().to_string())];
        if let Some(id) = &self.session_id {
            vars.push(("CLAUDE_SESSION_ID", id.clone()));
        }
        if let Some(dir) = &cmd.skill_dir {
            vars.push(("CLAUDE_SKILL_DIR", dir.display().to_string()));
        }
        vars
    }
}

/// `text` with each `${NAME}` of `vars` replaced.
pub fn with_variables(text: &str, vars: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in vars {
        let token = format!("${{{name}}}");
        if out.contains(&token) {
            out = out.replace(&token, value);
        }
    }
    out
}

/// A pre-executed shell snippet, for reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellRun {
    pub line: usize,
    pub command: String,
    pub exit_code: Option<i32>,
}

/// The expanded prompt and what happened on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    pub prompt: String,
    pub warnings: Vec<Diagnostic>,
    pub shell_runs: Vec<ShellRun>,
    /// Files inlined through `@path`, relative to the root.
    pub inlined: Vec<PathBuf>,
}

/// Why a command could not be expanded. Each names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    #[error("{}:{line}: `{command}` failed ({reason}); the command was not run. Fix the command or run it by hand to see why{}", path.display(), stderr_note(.stderr))]
    ShellFailed {
        path: PathBuf,
        line: usize,
        command: String,
        reason: String,
        stderr: String,
    },
    #[error("{}:{line}: a ```! block is opened here but never closed; add a closing ``` line", path.display())]
    UnclosedBlock { path: PathBuf, line: usize },
    #[error("{}:{line}: {message}", path.display())]
    Inline {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn stderr_note(stderr: &str) -> String {
    let tail: Vec<&str> = stderr.trim().lines().rev().take(5).collect();
    if tail.is_empty() {
        String::new()
    } else {
        let lines: Vec<&str> = tail.into_iter().rev().collect();
        format!("\n  stderr: {}", lines.join("\n          "))
    }
}

/// A piece of the prompt under construction.
enum Segment {
    /// Command text: `@path` references are resolved in it.
    Text { text: String, line: usize },
    /// Command output: copied as it is (single pass).
    Opaque(String),
}

/// Expands `cmd` with `args`.
pub fn expand(
    cmd: &CommandDefinition,
    args: &Arguments,
    options: &ExpandOptions,
    shell: &dyn ShellExec,
) -> Result<Expansion, ExpandError> {
    let mut warnings = Vec::new();
    if args.unterminated_quote {
        warnings.push(Diagnostic::warning(
            "unterminated-quote",
            None,
            "a quote in the arguments is never closed; it runs to the end",
        ));
    }
    let mut used_placeholder = false;
    let mut missing: Vec<(String, usize)> = Vec::new();
    let vars = options.variables(cmd);
    let mut sub = |text: &str, line: usize| {
        let text = with_variables(text, &vars);
        let s = substitute(&text, args, &cmd.arguments, options.positional_base);
        used_placeholder |= s.used_placeholder;
        missing.extend(s.missing.into_iter().map(|m| (m, line)));
        s.text
    };

    let mut segments = Vec::new();
    let mut shell_runs = Vec::new();
    let mut bang_block: Option<(usize, String)> = None;
    for (index, line) in cmd.body.split_inclusive('\n').enumerate() {
        let line_no = cmd.body_line + index;
        let trimmed = line.trim_start();
        if let Some((start, script)) = bang_block.as_mut() {
            if trimmed.starts_with("```") {
                let output = run(shell, script, *start, &cmd.path, &mut shell_runs)?;
                segments.push(Segment::Opaque(format!("{output}\n")));
                bang_block = None;
            } else {
                script.push_str(&sub(line, line_no));
            }
            continue;
        }
        if trimmed.starts_with("```!") {
            bang_block = Some((line_no, String::new()));
            continue;
        }
        let text = sub(line, line_no);
        let mut last = 0;
        for span in inline_spans(&text) {
            segments.push(Segment::Text {
                text: text[last..span.start].to_string(),
                line: line_no,
            });
            let output = run(shell, span.command, line_no, &cmd.path, &mut shell_runs)?;
            segments.push(Segment::Opaque(output));
            last = span.end;
        }
        segments.push(Segment::Text {
            text: text[last..].to_string(),
            line: line_no,
        });
    }
    if let Some((line, _)) = bang_block {
        return Err(ExpandError::UnclosedBlock {
            path: cmd.path.clone(),
            line,
        });
    }

    let mut prompt = String::with_capacity(cmd.body.len());
    let mut inlined = Vec::new();
    for segment in segments {
        match segment {
            Segment::Opaque(text) => prompt.push_str(&text),
            Segment::Text { text, line } => {
                inline_references(
                    &text,
                    line,
                    cmd,
                    options,
                    &mut prompt,
                    &mut inlined,
                    &mut warnings,
                )?;
            }
        }
    }

    for (placeholder, line) in missing {
        warnings.push(Diagnostic::warning(
            "missing-argument",
            Some(line),
            format!("{placeholder} was not given and is empty{}", hint(cmd)),
        ));
    }
    if !used_placeholder && !args.raw.is_empty() {
        if !prompt.ends_with('\n') && !prompt.is_empty() {
            prompt.push('\n');
        }
        if !prompt.is_empty() {
            prompt.push('\n');
        }
        prompt.push_str("ARGUMENTS: ");
        prompt.push_str(&args.raw);
        prompt.push('\n');
    }
    Ok(Expansion {
        prompt,
        warnings,
        shell_runs,
        inlined,
    })
}

fn hint(cmd: &CommandDefinition) -> String {
    cmd.argument_hint
        .as_ref()
        .map(|h| format!(" (usage: /{} {h})", cmd.name))
        .unwrap_or_default()
}

fn run(
    shell: &dyn ShellExec,
    script: &str,
    line: usize,
    path: &Path,
    runs: &mut Vec<ShellRun>,
) -> Result<String, ExpandError> {
    let command = script.trim().to_string();
    let failed = |reason: String, stderr: String| ExpandError::ShellFailed {
        path: path.to_path_buf(),
        line,
        command: command.clone(),
        reason,
        stderr,
    };
    let output: ShellOutput = shell
        .run(script)
        .map_err(|reason| failed(reason, String::new()))?;
    runs.push(ShellRun {
        line,
        command: command.clone(),
        exit_code: output.exit_code,
    });
    if !output.success() {
        let reason = if output.timed_out {
            "timed out".to_string()
        } else {
            match output.exit_code {
                Some(code) => format!("exit code {code}"),
                None => "killed by a signal".to_string(),
            }
        };
        return Err(failed(reason, output.stderr));
    }
    Ok(output.stdout.trim_end_matches(['\n', '\r']).to_string())
}

fn inline_references(
    text: &str,
    line: usize,
    cmd: &CommandDefinition,
    options: &ExpandOptions,
    prompt: &mut String,
    inlined: &mut Vec<PathBuf>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), ExpandError> {
    let mut last = 0;
    for reference in inline::references(text) {
        let resolved =
            inline::resolve(reference.path, &options.cwd, &options.root).map_err(|message| {
                ExpandError::Inline {
                    path: cmd.path.clone(),
                    line,
                    message,
                }
            })?;
        match resolved {
            Resolved::Literal => {}
            Resolved::Refused(message) => {
                warnings.push(Diagnostic::warning("inline-refused", Some(line), message));
            }
            Resolved::Inlined {
                text: file_text,
                path,
            } => {
                prompt.push_str(&text[last..reference.start]);
                prompt.push_str(&file_text);
                inlined.push(path);
                last = reference.end;
            }
        }
    }
    prompt.push_str(&text[last..]);
    Ok(())
}
