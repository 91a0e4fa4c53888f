//! What a shell command line really runs, read with a bash grammar (tree-sitter-bash), for
//! permission rules.
//!
//! A prefix rule such as `Bash(git diff:*)` vouches for a command only when agentops can
//! say with certainty which words it runs. [`parse`] returns every simple command of the line
//! (including those inside substitutions, subshells and functions, so deny rules see them)
//! and, when the line holds anything whose effect depends on run-time expansion or could
//! change what a command means, why it is uncertain. Uncertain lines are never covered by a
//! prefix rule; deny and ask rules still apply to each of their commands.
//!
//! Certain: plain words, quoted strings without expansions, escapes, pipelines, lists
//! (`&&`, `||`, `;`, `&`), subshells and groups, `<` from a file, redirections to
//! `/dev/null` or another descriptor, here-documents without expansions.
//! Uncertain: command or process substitution, parameter and arithmetic expansion,
//! redirections into files, environment assignments, function definitions (they can
//! shadow an allowed name), control flow, `eval`-like builtins reached through names
//! are left to the rules, globs that could expand to an option, and anything that does
//! not parse.

use tree_sitter::{Node, Parser};

/// One simple command: its words after quote removal, and its text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// Words after quote removal; `None` when a word is only known at run time.
    pub words: Option<Vec<String>>,
    pub text: String,
}

impl SimpleCommand {
    /// The words joined by single spaces (what prefix rules match), or the text as written.
    pub fn line(&self) -> String {
        match &self.words {
            Some(words) => words.join(" "),
            None => self.text.clone(),
        }
    }
}

/// A parsed command line.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    pub commands: Vec<SimpleCommand>,
    /// Why the line's effect cannot be read from its text, if it cannot.
    pub uncertain: Option<String>,
}

/// Parses `source` as bash.
pub fn parse(source: &str) -> CommandLine {
    let mut line = CommandLine::default();
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_bash::LANGUAGE.into())
        .is_err()
    {
        line.uncertain = Some("the shell grammar could not be loaded".to_string());
        return line;
    }
    let Some(tree) = parser.parse(source, None) else {
        line.uncertain = Some("the command line could not be parsed".to_string());
        return line;
    };
    let root = tree.root_node();
    let mut walker = Walker {
        source,
        line: &mut line,
    };
    if root.has_error() {
        walker.uncertain("it does not parse as bash");
    }
    walker.statement(root);
    if line.commands.is_empty() && line.uncertain.is_none() && !source.trim().is_empty() {
        line.uncertain = Some("no command found".to_string());
    }
    line
}

struct Walker<'a> {
    source: &'a str,
    line: &'a mut CommandLine,
}

impl Walker<'_> {
    fn text(&self, node: Node) -> String {
        node.utf8_text(self.source.as_bytes())
            .unwrap_or_default()
            .to_string()
    }

    fn uncertain(&mut self, why: &str) {
        if self.line.uncertain.is_none() {
            self.line.uncertain = Some(why.to_string());
        }
    }

    /// Any statement-level node: finds its commands and judges its certainty.
    fn statement(&mut self, node: Node) {
        match node.kind() {
            "program" | "list" | "pipeline" | "subshell" | "compound_statement"
            | "negated_command" => self.children(node),
            "command" => self.command(node),
            "redirected_statement" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "file_redirect" => self.file_redirect(child),
                        "heredoc_redirect" => self.heredoc(child),
                        "herestring_redirect" => {
                            self.uncertain_words(child);
                        }
                        _ => self.statement(child),
                    }
                }
            }
            "comment" | "heredoc_body" => {}
            "function_definition" => {
                self.uncertain("a function definition (it can stand in for an allowed command)");
                self.children(node);
            }
            "variable_assignment" | "variable_assignments" => {
                self.uncertain("a variable assignment");
                self.children(node);
            }
            "declaration_command" | "unset_command" => {
                self.uncertain("a declaration (`export`, `declare`, `local`, `unset`)");
                self.children(node);
            }
            "if_statement"
            | "while_statement"
            | "for_statement"
            | "c_style_for_statement"
            | "case_statement"
            | "test_command" => {
                self.uncertain("control flow (if, for, while, case, tests)");
                self.children(node);
            }
            "command_substitution" => {
                self.uncertain("a command substitution");
                self.children(node);
            }
            "process_substitution" => {
                self.uncertain("a process substitution");
                self.children(node);
            }
            _ => {
                self.uncertain(&format!(
                    "shell syntax agentops does not vouch for ({})",
                    node.kind()
                ));
                self.children(node);
            }
        }
    }

    fn children(&mut self, node: Node) {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            self.statement(child);
        }
    }

    fn command(&mut self, node: Node) {
        let mut words = Some(Vec::new());
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            match child.kind() {
                "command_name" => {
                    let mut c = child.walk();
                    let inner: Vec<Node> = child.named_children(&mut c).collect();
                    for n in inner {
                        self.word_into(n, &mut words, true);
                    }
                }
                "variable_assignment" => {
                    self.uncertain("an environment assignment before the command");
                    self.children(child);
                }
                "file_redirect" => self.file_redirect(child),
                "herestring_redirect" => self.uncertain_words(child),
                "comment" => {}
                _ => self.word_into(child, &mut words, false),
            }
        }
        self.line.commands.push(SimpleCommand {
            words,
            text: self.text(node).trim().to_string(),
        });
    }

    /// Adds the literal value of `node` to `words`, or makes them unknown.
    fn word_into(&mut self, node: Node, words: &mut Option<Vec<String>>, name: bool) {
        match self.literal(node) {
            Some(value) => {
                if let Some(w) = words.as_mut() {
                    w.push(value);
                }
            }
            None => {
                *words = None;
                if name {
                    self.uncertain("a command name only known at run time");
                }
            }
        }
    }

    /// A word's value after quote removal, when it has no expansion. Records why not.
    fn literal(&mut self, node: Node) -> Option<String> {
        let text = self.text(node);
        match node.kind() {
            "word" => {
                // An unquoted glob whose first character is a wildcard can expand to a file
                // named like an option (`--output=…`).
                if text.starts_with(['*', '?', '[']) {
                    self.uncertain("a glob that could expand to an option");
                    return None;
                }
                if text.contains('{') && (text.contains(',') || text.contains("..")) {
                    self.uncertain("a brace expansion");
                    return None;
                }
                if text.starts_with('~') {
                    self.uncertain("a home-folder expansion");
                    return None;
                }
                Some(unescape_unquoted(&text))
            }
            "number" => Some(text),
            "raw_string" => Some(
                text.strip_prefix('\'')
                    .and_then(|t| t.strip_suffix('\''))
                    .unwrap_or(&text)
                    .to_string(),
            ),
            "string" => {
                let mut cursor = node.walk();
                let parts: Vec<Node> = node.named_children(&mut cursor).collect();
                let mut out = String::new();
                for part in parts {
                    if part.kind() == "string_content" {
                        out.push_str(&unescape_double_quoted(&self.text(part)));
                    } else {
                        self.statement_in_word(part);
                        return None;
                    }
                }
                Some(out)
            }
            "concatenation" => {
                let mut cursor = node.walk();
                let parts: Vec<Node> = node.named_children(&mut cursor).collect();
                let braces = parts
                    .iter()
                    .any(|p| p.kind() == "word" && self.text(*p).contains('{'));
                if braces && (text.contains(',') || text.contains("..")) {
                    self.uncertain("a brace expansion");
                    return None;
                }
                let mut out = String::new();
                let mut known = true;
                for part in parts {
                    match self.literal(part) {
                        Some(v) if known => out.push_str(&v),
                        _ => known = false,
                    }
                }
                known.then_some(out)
            }
            _ => {
                self.statement_in_word(node);
                None
            }
        }
    }

    /// An expansion inside a word: records why it is uncertain and walks the commands it runs.
    fn statement_in_word(&mut self, node: Node) {
        match node.kind() {
            "command_substitution" | "process_substitution" => self.statement(node),
            "simple_expansion" | "expansion" => {
                self.uncertain("a parameter expansion (`$NAME`)");
                self.children_in_words(node);
            }
            "arithmetic_expansion" => {
                self.uncertain("an arithmetic expansion");
                self.children_in_words(node);
            }
            "ansi_c_string" | "translated_string" => {
                self.uncertain("a `$'…'` or `$\"…\"` string");
            }
            "brace_expression" => self.uncertain("a brace expansion"),
            other => {
                self.uncertain(&format!(
                    "shell syntax agentops does not vouch for ({other})"
                ));
                self.children_in_words(node);
            }
        }
    }

    /// Finds commands nested anywhere below `node` (substitutions inside expansions).
    fn children_in_words(&mut self, node: Node) {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            match child.kind() {
                "command_substitution" | "process_substitution" => self.statement(child),
                _ => self.children_in_words(child),
            }
        }
    }

    fn uncertain_words(&mut self, node: Node) {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            let _ = self.literal(child);
        }
    }

    /// `> file` writes a file: uncertain unless it is `/dev/null` or a descriptor.
    fn file_redirect(&mut self, node: Node) {
        let mut writes = false;
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if !child.is_named() && self.text(child).contains('>') {
                writes = true;
            }
        }
        let mut cursor = node.walk();
        let targets: Vec<Node> = node
            .children_by_field_name("destination", &mut cursor)
            .collect();
        for target in targets {
            let value = self.literal(target);
            if !writes {
                continue;
            }
            match value.as_deref() {
                Some("/dev/null") | Some("-") => {}
                Some(v) if v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty() => {
                    // `2>&1`, `>&2`: a descriptor; `> 1` (a file named 1) is a write.
                    if !self.text(node).contains('&') {
                        self.uncertain(&format!("a redirection into the file `{v}`"));
                    }
                }
                Some(v) => self.uncertain(&format!("a redirection into `{v}`")),
                None => self.uncertain("a redirection into a file named at run time"),
            }
        }
    }

    /// A here-document is certain when its body has no expansions.
    fn heredoc(&mut self, node: Node) {
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children {
            match child.kind() {
                "heredoc_body" => {
                    let mut c = child.walk();
                    let parts: Vec<Node> = child.named_children(&mut c).collect();
                    for part in parts {
                        if part.kind() != "heredoc_content" {
                            self.statement_in_word(part);
                        }
                    }
                }
                "heredoc_start" | "heredoc_end" => {}
                "file_redirect" => self.file_redirect(child),
                _ => self.statement(child),
            }
        }
    }
}

/// `\x` outside quotes is `x`.
fn unescape_unquoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\n') | None => {}
                Some(n) => out.push(n),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Inside double quotes a backslash escapes only `$`, `` ` ``, `"`, `\` and a newline.
fn unescape_double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(src: &str) -> Vec<String> {
        parse(src)
            .commands
            .iter()
            .map(SimpleCommand::line)
            .collect()
    }

    fn why(src: &str) -> Option<String> {
        parse(src).uncertain
    }

    #[test]
    fn splits_lists_and_pipelines_into_words() {
        assert_eq!(
            lines("git status && git diff | head; ls"),
            ["git status", "git diff", "head", "ls"]
        );
        assert_eq!(
            lines("echo 'a && b' || rm -rf x"),
            ["echo a && b", "rm -rf x"]
        );
        assert_eq!(lines("sleep 1 & kill %1"), ["sleep 1", "kill %1"]);
        assert_eq!(lines("\"git\" di\\ff -- 'x y'"), ["git diff -- x y"]);
        assert_eq!(why("git status && git diff | head; ls"), None);
        assert_eq!(why("make 2>&1 | grep x >/dev/null"), None);
        assert_eq!(why("(cd apps && ls) ; { ls; }"), None);
        assert_eq!(why("kubectl kustomize overlays/prod < /dev/null"), None);
    }

    #[test]
    fn substitutions_anywhere_are_found_and_uncertain() {
        for src in [
            "git diff \"`touch x`\"",
            "git diff \"$(touch x)\"",
            "git diff <(touch x)",
            "git diff >(touch x)",
            "echo $(rm -rf /) done",
        ] {
            let line = parse(src);
            assert!(line.uncertain.is_some(), "{src}");
            assert!(
                line.commands.len() >= 2,
                "{src}: the inner command is a command too: {:?}",
                line.commands
            );
        }
        assert!(lines("echo $(rm -rf /) done").contains(&"rm -rf /".to_string()));
    }

    #[test]
    fn escaped_quotes_keep_bash_in_step() {
        // The old splitter lost track of the quotes here and saw one command.
        let src = r#"git diff "\"" ; touch x ; echo "\"""#;
        assert_eq!(lines(src), ["git diff \"", "touch x", "echo \""]);
    }

    #[test]
    fn what_is_uncertain() {
        for src in [
            "ls > out",
            "ls >> out 2>&1",
            "ls &> out",
            "ls > 1",
            "GIT_EXTERNAL_DIFF=x git diff",
            "git() { rm -rf .; }; git diff",
            "for f in a b; do ls $f; done",
            "echo $HOME",
            "echo ${X:-y}",
            "git diff *",
            "echo $'\\x41'",
            "cat <<EOF\n$(touch x)\nEOF\n",
            "export A=1",
            "git diff \"unterminated",
            "ls ~/x",
            "echo {a,b}",
        ] {
            assert!(why(src).is_some(), "{src} should be uncertain");
        }
        assert_eq!(why("cat <<'EOF'\nplain text\nEOF\n"), None);
        assert_eq!(why("ls overlays/*"), None);
    }
}
