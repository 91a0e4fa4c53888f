//! Splitting a markdown definition into its YAML frontmatter and its body.
//!
//! Done by hand rather than with a markdown parser's metadata option: those also match a `---`
//! rule later in the body and miss a BOM or an empty block. Rules, in the order Claude Code
//! applies them: an optional UTF-8 BOM, then `---` alone on the first line opens the block, the
//! next line that is `---` alone closes it (trailing spaces allowed, end of file without newline
//! allowed). CRLF line endings are normalised to LF first.

use crate::diagnostic::Diagnostic;

/// The two parts of a definition file. Line numbers are 1-based and refer to the original file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The YAML between the delimiters (without them); `None` when the file has no frontmatter.
    pub frontmatter: Option<Frontmatter>,
    /// Everything after the closing delimiter (or the whole file when there is no frontmatter).
    pub body: String,
    /// The file line on which `body` starts.
    pub body_line: usize,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontmatter {
    pub yaml: String,
    /// The file line of the first YAML line (the line after the opening `---`).
    pub first_line: usize,
}

fn is_delimiter(line: &str) -> bool {
    line.trim_end() == "---"
}

/// Splits `text` into frontmatter and body. Never fails: an unclosed block is reported and the
/// whole file is treated as body, as Claude Code does.
pub fn split(text: &str) -> Split {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        text
    };

    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return no_frontmatter(String::new(), Vec::new());
    };
    if !is_delimiter(first) {
        return no_frontmatter(text.to_string(), Vec::new());
    }

    let mut offset = first.len();
    let mut line_no = 1;
    for line in lines {
        line_no += 1;
        if is_delimiter(line) {
            let yaml = &text[first.len()..offset];
            let body_start = offset + line.len();
            return Split {
                frontmatter: Some(Frontmatter {
                    yaml: yaml.to_string(),
                    first_line: 2,
                }),
                body: text[body_start..].to_string(),
                body_line: line_no + 1,
                warnings: Vec::new(),
            };
        }
        offset += line.len();
    }

    no_frontmatter(
        text.to_string(),
        vec![Diagnostic::warning(
            "unclosed-frontmatter",
            Some(1),
            "frontmatter opened with `---` on line 1 is never closed; the whole file is read as the prompt body. Add a `---` line after the last frontmatter key",
        )],
    )
}

fn no_frontmatter(body: String, warnings: Vec<Diagnostic>) -> Split {
    Split {
        frontmatter: None,
        body,
        body_line: 1,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fm(s: &Split) -> &str {
        &s.frontmatter.as_ref().unwrap().yaml
    }

    #[test]
    fn plain_frontmatter() {
        let s = split("---\nname: a\n---\nbody\n");
        assert_eq!(fm(&s), "name: a\n");
        assert_eq!(s.body, "body\n");
        assert_eq!(s.body_line, 4);
    }

    #[test]
    fn bom_and_crlf() {
        let s = split("\u{feff}---\r\nname: a\r\n---\r\nbody\r\nmore\r\n");
        assert_eq!(fm(&s), "name: a\n");
        assert_eq!(s.body, "body\nmore\n");
    }

    #[test]
    fn empty_frontmatter() {
        let s = split("---\n---\nbody");
        assert_eq!(fm(&s), "");
        assert_eq!(s.body, "body");
        assert_eq!(s.body_line, 3);
    }

    #[test]
    fn closing_delimiter_at_eof_without_newline() {
        let s = split("---\nname: a\n---");
        assert_eq!(fm(&s), "name: a\n");
        assert_eq!(s.body, "");
    }

    #[test]
    fn later_rule_is_not_frontmatter() {
        let s = split("# Title\n\n---\nname: a\n---\n");
        assert!(s.frontmatter.is_none());
        assert_eq!(s.body, "# Title\n\n---\nname: a\n---\n");
    }

    #[test]
    fn body_rule_after_frontmatter_stays_in_body() {
        let s = split("---\na: 1\n---\ntext\n---\nmore\n");
        assert_eq!(fm(&s), "a: 1\n");
        assert_eq!(s.body, "text\n---\nmore\n");
    }

    #[test]
    fn unclosed_frontmatter_warns_and_keeps_text() {
        let s = split("---\nname: a\nbody\n");
        assert!(s.frontmatter.is_none());
        assert_eq!(s.body, "---\nname: a\nbody\n");
        assert_eq!(s.warnings[0].code, "unclosed-frontmatter");
    }

    #[test]
    fn empty_file() {
        let s = split("");
        assert!(s.frontmatter.is_none());
        assert_eq!(s.body, "");
    }

    #[test]
    fn delimiter_with_trailing_spaces() {
        let s = split("---  \nname: a\n---\t\nbody");
        assert_eq!(fm(&s), "name: a\n");
        assert_eq!(s.body, "body");
    }
}
