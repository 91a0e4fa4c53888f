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

    // Blank lines before the opening `---` are tolerated (with a warning).
    let mut start = 0;
    let mut open_line = 1;
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            break;
        }
        start += line.len();
        open_line += 1;
    }
    let mut lines = text[start..].split_inclusive('\n');
    let Some(first) = lines.next() else {
        return no_frontmatter(text.to_string(), Vec::new());
    };
    if !is_delimiter(first) {
        return no_frontmatter(text.to_string(), missing_opening_delimiter(text));
    }
    let mut warnings = Vec::new();
    if open_line > 1 {
        warnings.push(Diagnostic::warning(
            "blank-before-frontmatter",
            Some(1),
            format!("blank line(s) before the opening `---` on line {open_line}; read as frontmatter anyway. Start the file with `---`"),
        ));
    }

    let yaml_start = start + first.len();
    let mut offset = yaml_start;
    let mut line_no = open_line;
    for line in lines {
        line_no += 1;
        if is_delimiter(line) {
            return Split {
                frontmatter: Some(Frontmatter {
                    yaml: text[yaml_start..offset].to_string(),
                    first_line: open_line + 1,
                }),
                body: text[offset + line.len()..].to_string(),
                body_line: line_no + 1,
                warnings,
            };
        }
        offset += line.len();
    }

    warnings.push(Diagnostic::warning(
        "unclosed-frontmatter",
        Some(open_line),
        format!("frontmatter opened with `---` on line {open_line} is never closed; the whole file is read as the prompt body. Add a `---` line after the last frontmatter key"),
    ));
    no_frontmatter(text.to_string(), warnings)
}

/// A file that starts with `key: value` lines closed by `---` lacks its opening delimiter.
/// Claude Code reads such lines as prompt text, and so does agentops, but says so.
fn missing_opening_delimiter(text: &str) -> Vec<Diagnostic> {
    let mut key_lines = 0;
    for (index, line) in text.lines().enumerate().take(40) {
        if is_delimiter(line) {
            return if key_lines > 0 && key_lines == index {
                vec![Diagnostic::warning(
                    "missing-frontmatter-start",
                    Some(1),
                    format!(
                        "lines 1-{index} look like frontmatter closed by `---` on line {}, but the file does not start with `---`; they are read as prompt text. Add `---` as the first line",
                        index + 1
                    ),
                )]
            } else {
                Vec::new()
            };
        }
        let looks_like_key = line.split_once(':').is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        });
        if looks_like_key || (key_lines > 0 && line.starts_with([' ', '-'])) {
            key_lines += 1;
        } else {
            return Vec::new();
        }
    }
    Vec::new()
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
    fn blank_lines_before_frontmatter_are_tolerated() {
        let s = split("\n\n---\nname: a\n---\nbody\n");
        assert_eq!(fm(&s), "name: a\n");
        assert_eq!(s.frontmatter.as_ref().unwrap().first_line, 4);
        assert_eq!(s.body_line, 6);
        assert_eq!(s.warnings[0].code, "blank-before-frontmatter");
    }

    #[test]
    fn frontmatter_without_opening_delimiter_warns() {
        let s = split("name: a\ndescription: b\ntags: []\n---\n\n# Title\n");
        assert!(s.frontmatter.is_none());
        assert_eq!(s.warnings[0].code, "missing-frontmatter-start");
        let s = split("# Title\n\nSome: text\n---\n");
        assert!(s.warnings.is_empty());
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
