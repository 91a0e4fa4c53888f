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
    /// Found inside another command (`sudo rm x` holds `rm x`; `/bin/rm` is `rm`): deny and
    /// ask rules judge it, allow rules judge the command that holds it.
    pub implied: bool,
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
    /// Why the line's effect cannot be read from its text, if it cannot: no prefix rule
    /// vouches for it.
    pub uncertain: Option<String>,
    /// Why the line may run commands not in [`CommandLine::commands`] (a name only known at
    /// run time, a script, a nested line that cannot be read, text bash and the grammar read
    /// differently): deny and ask rules cannot see everything, so it is never allowed
    /// without a person while any such rule exists. Implies `uncertain`.
    pub opaque: Option<String>,
}

/// Parses `source` as bash.
pub fn parse(source: &str) -> CommandLine {
    parse_at(source, 0)
}

fn parse_at(source: &str, depth: usize) -> CommandLine {
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
    // Where bash and the grammar could read the text differently, nothing is certain: control
    // characters (bash keeps `\r` in a word; the grammar skips it as space) and line
    // continuations (bash joins the words; the grammar may not).
    if source
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        walker.opaque("a control character (bash and agentops could read it differently)");
    }
    if source.contains("\\\n") || source.contains("\\\r") {
        walker.opaque("a line continuation (a backslash before the end of a line)");
    }
    if root.has_error() {
        walker.opaque("it does not parse as bash");
    }
    walker.statement(root);
    unwrap_commands(&mut line, depth);
    if line.commands.is_empty() && line.uncertain.is_none() && !source.trim().is_empty() {
        line.uncertain = Some("no command found".to_string());
    }
    line
}

/// Programs that run the command given in their arguments.
const WRAPPERS: &[&str] = &[
    "command",
    "builtin",
    "exec",
    "env",
    "nohup",
    "time",
    "sudo",
    "doas",
    "xargs",
    "nice",
    "ionice",
    "timeout",
    "stdbuf",
    "setsid",
    "chroot",
    "unbuffer",
    "watch",
    "strace",
    "ltrace",
    "flock",
    "runuser",
    "chrt",
    "taskset",
    "catchsegv",
    "busybox",
    "parallel",
    "coproc",
];
/// Programs that run a command line given as text.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish"];

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Adds the commands that wrappers, `eval`, `sh -c`, `trap` and `find -exec` run, and a
/// path-qualified command by its name (`/bin/rm` is `rm`), so deny rules see them.
fn unwrap_commands(line: &mut CommandLine, depth: usize) {
    let mut extra: Vec<SimpleCommand> = Vec::new();
    let mut nested: Vec<String> = Vec::new();
    let mut opaque: Option<String> = None;
    for c in &line.commands {
        let Some(words) = &c.words else { continue };
        let mut at = 0;
        while let Some(first) = words.get(at) {
            let name = basename(first);
            if name != first.as_str() || at > 0 {
                let mut w: Vec<String> = words[at..].to_vec();
                w[0] = name.to_string();
                extra.push(SimpleCommand {
                    text: w.join(" "),
                    words: Some(w),
                    implied: true,
                });
            }
            if name == "eval" {
                nested.push(words[at + 1..].join(" "));
                break;
            }
            if name == "trap" {
                nested.extend(words.get(at + 1).cloned());
                break;
            }
            if SHELLS.contains(&name) {
                match words[at + 1..].iter().position(|w| w == "-c") {
                    Some(i) => {
                        if let Some(script) = words.get(at + 2 + i) {
                            nested.push(script.clone());
                        }
                    }
                    None if words.len() > at + 1 => {
                        opaque = Some(format!("`{name}` runs a script agentops cannot read"));
                    }
                    None => {}
                }
                break;
            }
            if name == "source" || name == "." {
                opaque = Some(format!("`{name}` runs a script agentops cannot read"));
                break;
            }
            if name == "find" {
                let mut i = at + 1;
                while i < words.len() {
                    if matches!(words[i].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
                        let end = words[i + 1..]
                            .iter()
                            .position(|w| w == ";" || w == "+")
                            .map_or(words.len(), |p| i + 1 + p);
                        let w: Vec<String> = words[i + 1..end].to_vec();
                        if !w.is_empty() {
                            extra.push(SimpleCommand {
                                text: w.join(" "),
                                words: Some(w),
                                implied: true,
                            });
                        }
                        i = end;
                    }
                    i += 1;
                }
                break;
            }
            if !WRAPPERS.contains(&name) {
                break;
            }
            // Skip the wrapper, its options, assignments (`env A=1`) and counts or durations
            // (`timeout 5s`, `nice -n 10`). An option's value (`sudo -u root`) cannot be told
            // from the command, so every later word may start the command: deny rules see
            // each such tail.
            let plain = |w: &String| {
                let option = w.starts_with('-');
                let assignment = w.contains('=') && !w.starts_with('=');
                let number = w
                    .trim_end_matches(['s', 'm', 'h', 'd'])
                    .parse::<f64>()
                    .is_ok();
                !(option || assignment || number)
            };
            let tails: Vec<usize> = (at + 1..words.len())
                .filter(|j| plain(&words[*j]))
                .collect();
            for j in tails.iter().skip(1) {
                let mut w: Vec<String> = words[*j..].to_vec();
                w[0] = basename(&w[0]).to_string();
                extra.push(SimpleCommand {
                    text: w.join(" "),
                    words: Some(w),
                    implied: true,
                });
            }
            match tails.first() {
                Some(j) => at = *j,
                None => break,
            }
        }
    }
    line.commands.extend(extra);
    for text in nested {
        if depth >= 4 {
            opaque = Some("command lines nested too deep".to_string());
            break;
        }
        let inner = parse_at(&text, depth + 1);
        line.commands.extend(
            inner
                .commands
                .into_iter()
                .map(|c| SimpleCommand { implied: true, ..c }),
        );
        if let Some(why) = inner.opaque {
            opaque.get_or_insert(why);
        }
        if line.uncertain.is_none() {
            line.uncertain = Some(
                inner
                    .uncertain
                    .unwrap_or_else(|| "a nested command line (eval, sh -c, trap)".to_string()),
            );
        }
    }
    if let Some(why) = opaque {
        line.opaque.get_or_insert(why.clone());
        line.uncertain.get_or_insert(why);
    }
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

    /// The line may run commands agentops cannot see.
    fn opaque(&mut self, why: &str) {
        self.uncertain(why);
        if self.line.opaque.is_none() {
            self.line.opaque = Some(why.to_string());
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
                self.opaque("a function definition (it can stand in for an allowed command)");
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
            implied: false,
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
                    self.opaque("a command name only known at run time");
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
                let glob = text.contains(['*', '?', '[']);
                if glob && text.starts_with(['*', '?', '[', '-']) {
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

    /// `> file` writes a file: uncertain unless it is `/dev/null`, or a descriptor after the
    /// `>&`/`<&` operator (`&>1` writes a file named `1`; `> -` a file named `-`).
    fn file_redirect(&mut self, node: Node) {
        let mut cursor = node.walk();
        let operator: String = node
            .children(&mut cursor)
            .filter(|c| !c.is_named())
            .map(|c| self.text(c))
            .collect();
        let writes = operator.contains('>');
        let duplicates = operator == ">&" || operator == "<&";
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
                Some("/dev/null") => {}
                Some(v)
                    if duplicates
                        && (v == "-"
                            || (!v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))) => {}
                Some(v) => self.uncertain(&format!("a redirection into the file `{v}`")),
                None => self.uncertain("a redirection into a file named at run time"),
            }
        }
    }

    /// A here-document is certain when its delimiter is a plain or fully quoted word and,
    /// unquoted, its body has no `$` or backtick (read from the raw text, not the grammar).
    fn heredoc(&mut self, node: Node) {
        let mut c = node.walk();
        let start = node
            .named_children(&mut c)
            .find(|n| n.kind() == "heredoc_start")
            .map(|n| self.text(n))
            .unwrap_or_default();
        let plain =
            |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let quoted = ["'", "\""].iter().any(|q| {
            start
                .strip_prefix(q)
                .and_then(|r| r.strip_suffix(q))
                .is_some_and(plain)
        });
        if !quoted && !plain(&start) {
            self.opaque("a here-document with an unusual delimiter");
        }
        if !quoted {
            let mut c = node.walk();
            let body: String = node
                .named_children(&mut c)
                .filter(|n| n.kind() == "heredoc_body")
                .map(|n| self.text(n))
                .collect();
            if body.contains(['$', '`']) {
                self.opaque("a here-document whose body expands `$` or backticks");
            }
        }
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

    #[test]
    fn what_bash_and_the_grammar_read_differently_is_opaque() {
        for src in [
            "git diff \r# ; id",
            "git diff \x0c# ; id",
            "git diff \\\r\necho hi",
            "git diff --out\\\nput=x",
            "r\\\nm -rf x",
            "cat <<$'E'\n`id`\nE\n",
            "cat <<EOF\n`id`\nEOF\n",
            "$'rm' -rf x",
            "x=rm; $x -rf y",
            "bash script.sh",
            ". ./env.sh",
        ] {
            let line = parse(src);
            assert!(line.opaque.is_some(), "{src:?} should be opaque: {line:?}");
        }
        assert_eq!(parse("cat <<'EOF'\n`id` $x\nEOF\n").opaque, None);
    }

    #[test]
    fn redirections_write_unless_they_duplicate_a_descriptor() {
        for src in [
            "echo hi &>1",
            "echo hi &>>1",
            "echo hi > -",
            "echo hi >| -",
            "echo a <> f",
        ] {
            assert!(why(src).is_some(), "{src}");
        }
        for src in [
            "ls 2>&1",
            "ls >&2",
            "ls 2>/dev/null",
            "ls &>/dev/null",
            "ls >&-",
            "cat < f",
        ] {
            assert_eq!(why(src), None, "{src}");
        }
        assert!(why("git diff -*").is_some());
        assert!(why("git diff --*").is_some());
    }

    #[test]
    fn wrapped_and_nested_commands_are_commands() {
        for (src, inner) in [
            ("command rm -rf x", "rm -rf x"),
            ("env A=1 nohup nice -n 5 rm x", "rm x"),
            ("timeout 5s xargs rm", "rm"),
            ("/bin/rm x", "rm x"),
            ("sudo -u root rm x", "rm x"),
            ("eval 'rm -rf x'", "rm -rf x"),
            ("bash -c 'rm -rf x'", "rm -rf x"),
            ("trap 'rm -rf x' EXIT", "rm -rf x"),
            ("find . -name a -exec rm {} ;", "rm {}"),
        ] {
            assert!(
                lines(src).contains(&inner.to_string()),
                "{src}: {:?}",
                lines(src)
            );
        }
    }
}
