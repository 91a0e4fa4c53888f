//! `@path` file references: the file's text is inlined into the prompt.
//!
//! A reference is `@` at the start of a line or after whitespace or `(`, followed by a path.
//! Only paths that exist are inlined (so `@username` or `@types/node` stay as written); paths
//! that resolve outside the repository (symlinks and `..` included) are never read.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Inlined files larger than this are cut, with a note saying so.
pub const MAX_INLINE_BYTES: usize = 256 * 1024;
/// Entries listed for an `@dir/` reference.
const MAX_DIR_ENTRIES: usize = 200;

/// What a reference became.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Not a file reference: keep the text as written.
    Literal,
    /// Exists but outside the repository: kept as written, with this warning.
    Refused(String),
    /// The text to put in place of the reference, and the file it came from.
    Inlined { text: String, path: PathBuf },
}

/// A candidate reference in a line: byte range (including `@`) and the path text.
pub(crate) struct Reference<'a> {
    pub start: usize,
    pub end: usize,
    pub path: &'a str,
}

pub(crate) fn references(line: &str) -> Vec<Reference<'_>> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'@' {
            continue;
        }
        let starts_ok = i == 0 || bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b'(';
        if !starts_ok {
            continue;
        }
        let rest = &line[i + 1..];
        let len = rest
            .find(|c: char| c.is_whitespace() || "`\"'<>()[]{},;|".contains(c))
            .unwrap_or(rest.len());
        let path = rest[..len].trim_end_matches(['.', ':', '!', '?']);
        if path.is_empty() {
            continue;
        }
        out.push(Reference {
            start: i,
            end: i + 1 + path.len(),
            path,
        });
    }
    out
}

/// Resolves a reference against `cwd`, confined to `root` (both should be canonical).
pub(crate) fn resolve(reference: &str, cwd: &Path, root: &Path) -> Result<Resolved, String> {
    let candidate = cwd.join(reference);
    let Ok(real) = candidate.canonicalize() else {
        return Ok(Resolved::Literal);
    };
    if !real.starts_with(root) {
        return Ok(Resolved::Refused(format!(
            "@{reference} resolves outside the repository ({}); it is not inlined",
            real.display()
        )));
    }
    let shown = real
        .strip_prefix(root)
        .map_or_else(|_| real.clone(), Path::to_path_buf);
    let shown_str = shown.display().to_string();
    if real.is_dir() {
        let mut names: Vec<String> = fs::read_dir(&real)
            .map_err(|e| format!("@{reference}: cannot list the folder: {e}"))?
            .filter_map(Result::ok)
            .map(|e| {
                let mut name = e.file_name().to_string_lossy().into_owned();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    name.push('/');
                }
                name
            })
            .collect();
        names.sort();
        let total = names.len();
        names.truncate(MAX_DIR_ENTRIES);
        let mut text = format!("<directory path=\"{shown_str}/\">\n");
        for name in &names {
            text.push_str(name);
            text.push('\n');
        }
        if total > MAX_DIR_ENTRIES {
            text.push_str(&format!("… {} more entries\n", total - MAX_DIR_ENTRIES));
        }
        text.push_str("</directory>");
        return Ok(Resolved::Inlined { text, path: shown });
    }
    let mut bytes = Vec::new();
    fs::File::open(&real)
        .and_then(|f| f.take(MAX_INLINE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("@{reference}: cannot read: {e}"))?;
    if bytes.contains(&0) {
        return Ok(Resolved::Refused(format!(
            "@{reference} is a binary file; it is not inlined"
        )));
    }
    let truncated = bytes.len() > MAX_INLINE_BYTES;
    bytes.truncate(MAX_INLINE_BYTES);
    let mut content = String::from_utf8_lossy(&bytes).into_owned();
    if truncated {
        // The cut may have split a character: drop a trailing replacement char.
        content = content.trim_end_matches('\u{fffd}').to_string();
    }
    let mut text = format!("<file path=\"{shown_str}\">\n{content}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if truncated {
        text.push_str(&format!(
            "[… cut at {MAX_INLINE_BYTES} bytes; read the rest with the Read tool]\n"
        ));
    }
    text.push_str("</file>");
    Ok(Resolved::Inlined { text, path: shown })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references() {
        let refs: Vec<_> = references("- Project: @README.md, and (@docs/a.md). mail a@b.c @")
            .into_iter()
            .map(|r| r.path)
            .collect();
        assert_eq!(refs, ["README.md", "docs/a.md"]);
    }

    #[test]
    fn resolves_inside_and_refuses_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::write(root.join("docs/a.md"), "hello").unwrap();
        fs::write(tmp.path().join("secret.txt"), "s3cret").unwrap();
        let root = root.canonicalize().unwrap();
        match resolve("docs/a.md", &root, &root).unwrap() {
            Resolved::Inlined { text, .. } => {
                assert_eq!(text, "<file path=\"docs/a.md\">\nhello\n</file>");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve("../secret.txt", &root, &root).unwrap(),
            Resolved::Refused(_)
        ));
        assert_eq!(
            resolve("missing.md", &root, &root).unwrap(),
            Resolved::Literal
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("link.txt"))
                .unwrap();
            assert!(matches!(
                resolve("link.txt", &root, &root).unwrap(),
                Resolved::Refused(_)
            ));
        }
    }
}
