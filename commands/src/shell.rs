//! Pre-execution of `` !`cmd` `` and ```` ```! ```` blocks.
//!
//! The command text only says *what* to run. *How* it runs (which shell, in which folder, with
//! what timeout and which permission rules) belongs to whoever implements [`ShellExec`]: the
//! runtime passes one that goes through the Shell tool.

/// What a pre-executed command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutput {
    /// `None` when the process was killed (by a signal or the timeout).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl ShellOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Runs a shell snippet for command expansion.
pub trait ShellExec {
    /// Runs `script`; `Err` when it could not be started or was refused (with the reason).
    fn run(&self, script: &str) -> Result<ShellOutput, String>;
}

/// A shell that refuses everything: for rendering where execution is not wanted.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoShell;

impl ShellExec for NoShell {
    fn run(&self, _script: &str) -> Result<ShellOutput, String> {
        Err("shell execution is disabled here".to_string())
    }
}

/// One inline `` !`cmd` `` span found in a line: byte range of the whole span and the command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InlineSpan<'a> {
    pub start: usize,
    pub end: usize,
    pub command: &'a str,
}

/// Finds `` !`cmd` `` spans in one line. The `!` must start the line or follow whitespace, so
/// prose like `` `npm ERR!` `` never runs anything; the command must close on the same line
/// and not be empty.
pub(crate) fn inline_spans(line: &str) -> Vec<InlineSpan<'_>> {
    let mut spans = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        let starts_ok = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if bytes[i] == b'!' && bytes[i + 1] == b'`' && starts_ok {
            let cmd_start = i + 2;
            if let Some(len) = line[cmd_start..].find('`') {
                let command = &line[cmd_start..cmd_start + len];
                if !command.trim().is_empty() {
                    spans.push(InlineSpan {
                        start: i,
                        end: cmd_start + len + 1,
                        command,
                    });
                    i = cmd_start + len + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(line: &str) -> Vec<&str> {
        inline_spans(line).into_iter().map(|s| s.command).collect()
    }

    #[test]
    fn finds_commands_at_line_start_and_after_space() {
        assert_eq!(commands("!`git status`"), ["git status"]);
        assert_eq!(
            commands("Status: !`git status` and !`date`"),
            ["git status", "date"]
        );
    }

    #[test]
    fn prose_does_not_trigger() {
        assert!(commands("markers: `npm ERR!`, `pip install failed`").is_empty());
        assert!(commands("wow!`x`").is_empty());
        assert!(commands("!`unclosed").is_empty());
        assert!(commands("!``").is_empty());
    }
}
