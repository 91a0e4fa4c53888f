//! Small helpers shared by the text and JSON renderers.

use crate::exit::Failure;
use agentops_agents::{FileDiagnostic, Source};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Prints pretty JSON and a newline to stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(Failure::usage)?;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = writeln!(out, "{text}");
    Ok(())
}

/// Prints text to stdout, ignoring a closed pipe.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
}

/// The first line of `text`, cut to `max` characters with an ellipsis.
pub fn one_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// Problems found while discovering definitions (unreadable, rejected, loops), on stderr.
pub fn report_discovery(diagnostics: &[FileDiagnostic]) {
    for d in diagnostics {
        eprintln!("{d}");
    }
}

pub fn source_matches(source: Source, filter: Option<crate::cli::SourceFilter>) -> bool {
    use crate::cli::SourceFilter;
    match filter {
        None => true,
        Some(SourceFilter::Project) => source == Source::Project,
        Some(SourceFilter::User) => source == Source::User,
        Some(SourceFilter::Builtin) => source == Source::Builtin,
        Some(SourceFilter::Plugin) => source == Source::Plugin,
    }
}

/// A path shown relative to `base` when it is under it.
pub fn relative<'a>(path: &'a Path, base: &Path) -> std::borrow::Cow<'a, Path> {
    match path.strip_prefix(base) {
        Ok(rel) => std::borrow::Cow::Owned(rel.to_path_buf()),
        Err(_) => std::borrow::Cow::Borrowed(path),
    }
}

/// Colours unified-diff lines (`+` green, `-` red, `@@` cyan) written through it.
pub struct DiffColors<W: Write> {
    inner: W,
    at_line_start: bool,
}

impl<W: Write> DiffColors<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            at_line_start: true,
        }
    }
}

impl<W: Write> Write for DiffColors<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut out = String::with_capacity(text.len() + 32);
        for piece in text.split_inclusive('\n') {
            let colour = if !self.at_line_start {
                None
            } else if piece.starts_with("+++") || piece.starts_with("---") {
                Some("1")
            } else if piece.starts_with('+') {
                Some("32")
            } else if piece.starts_with('-') {
                Some("31")
            } else if piece.starts_with("@@") {
                Some("36")
            } else {
                None
            };
            match colour {
                Some(c) => {
                    let body = piece.trim_end_matches('\n');
                    out.push_str(&format!("\x1b[{c}m{body}\x1b[0m"));
                    if piece.ends_with('\n') {
                        out.push('\n');
                    }
                }
                None => out.push_str(piece),
            }
            self.at_line_start = piece.ends_with('\n');
        }
        self.inner.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What the embedded local model is doing, for the person running agentops (stderr).
pub fn local_model_notice(notice: agentops_runtime::providers::Notice) {
    use agentops_runtime::providers::Notice;
    match notice {
        Notice::Starting { model, cache } => eprintln!(
            "agentops: no model provider is configured: starting the embedded local model, {model} (llama-server from {})",
            cache.display()
        ),
        Notice::Ready { base_url, seconds } => eprintln!(
            "agentops: local model ready at {base_url} in {seconds:.1} s; it stops when agentops exits"
        ),
    }
}
