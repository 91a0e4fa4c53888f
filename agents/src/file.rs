//! Reading a definition file from disk without trusting it: directories, huge files, binary
//! content and invalid UTF-8 all become clear diagnostics instead of panics or garbage.

use crate::diagnostic::Diagnostic;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Definitions larger than this are refused: real agent files are under 100 KiB, and a prompt
/// this large would not fit a model's context anyway.
pub const MAX_DEFINITION_BYTES: u64 = 1024 * 1024;

/// Why a definition file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is a directory, not a markdown file; remove the .md suffix from the directory or point at a file", path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: is {size} bytes, over the {limit}-byte limit for a definition; is this really an agent or command file?", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{}: looks binary (it contains NUL bytes), not markdown; remove it from the definitions folder", path.display())]
    Binary { path: PathBuf },
}

impl ReadError {
    /// A stable code for the kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::Io { .. } => "unreadable",
            ReadError::IsDirectory { .. } => "is-directory",
            ReadError::TooLarge { .. } => "too-large",
            ReadError::Binary { .. } => "binary-file",
        }
    }

    /// The error as a diagnostic of the file (without repeating the path).
    pub fn to_diagnostic(&self) -> Diagnostic {
        let text = self.to_string();
        let message = match text.split_once(": ") {
            Some((_, rest)) => rest.to_string(),
            None => text,
        };
        Diagnostic::error(self.code(), None, message)
    }
}

/// The text of a definition file plus the warnings reading it produced.
#[derive(Debug)]
pub struct DefinitionText {
    pub text: String,
    pub warnings: Vec<Diagnostic>,
}

/// Reads a definition file: refuses directories, files over [`MAX_DEFINITION_BYTES`] and binary
/// files; decodes invalid UTF-8 lossily with a warning naming the first bad line.
pub fn read_definition(path: &Path) -> Result<DefinitionText, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(ReadError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > MAX_DEFINITION_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit: MAX_DEFINITION_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // Read at most one byte past the limit: the file may have grown since `metadata`.
    fs::File::open(path)
        .map_err(io)?
        .take(MAX_DEFINITION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_DEFINITION_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_DEFINITION_BYTES,
        });
    }
    decode(path, bytes)
}

fn decode(path: &Path, bytes: Vec<u8>) -> Result<DefinitionText, ReadError> {
    if bytes.contains(&0) {
        return Err(ReadError::Binary {
            path: path.to_path_buf(),
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(DefinitionText {
            text,
            warnings: Vec::new(),
        }),
        Err(err) => {
            let valid_up_to = err.utf8_error().valid_up_to();
            let bytes = err.into_bytes();
            let line = bytes[..valid_up_to].iter().filter(|b| **b == b'\n').count() + 1;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Ok(DefinitionText {
                text,
                warnings: vec![Diagnostic::warning(
                    "invalid-utf8",
                    Some(line),
                    "file is not valid UTF-8; invalid bytes were replaced with U+FFFD. Re-save the file as UTF-8",
                )],
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_names_the_line() {
        let got = decode(Path::new("x.md"), b"---\nname: a\n\xff\xfe bad\n".to_vec()).unwrap();
        assert_eq!(got.warnings.len(), 1);
        assert_eq!(got.warnings[0].line, Some(3));
        assert!(got.text.contains('\u{fffd}'));
    }

    #[test]
    fn nul_bytes_mean_binary() {
        let err = decode(Path::new("x.md"), b"\x89PNG\0\0".to_vec()).unwrap_err();
        assert_eq!(err.code(), "binary-file");
    }
}
