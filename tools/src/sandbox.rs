//! The shell's sandbox (DESIGN.md §3, "the shell only plans").
//!
//! A command runs in new user, mount, PID and (unless configured otherwise) network
//! namespaces — `unshare`, no root needed. Inside, the repository is the lower layer of an
//! overlayfs and every write lands in the upper layer; the rest of the system is read-only,
//! `/tmp` is private, `.agentops/` (session logs) is hidden, and `/proc` shows only the
//! sandbox's processes. When the command's shell exits, the kernel kills every process left in
//! the PID namespace: nothing runs on after the command, nothing lands later.
//!
//! Then the upper layer *is* the change set — any file, size or count, deletions (whiteouts),
//! replaced folders (opaque directories). [`Sandboxed::changes`] holds the text changes as
//! [`FileChange`]s for the gates; what cannot be gated as text (symlinks, binary files,
//! special files) is listed in [`Sandboxed::unsupported`] and refuses the whole change set;
//! changes under `.git/` are never applied (commits go through `git_commit` and its gates).
//! The real tree is touched only when the runtime applies the approved change set.

use crate::file_change::FileChange;
use crate::shell::{ShellResult, run_program};
use std::ffi::OsStr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the sandbox is set up for a run (probed once when the workspace opens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Where the overlay's upper and work folders go (outside the repository).
    pub scratch: PathBuf,
    /// Network inside the sandbox (`[shell] network = true`); off by default.
    pub network: bool,
}

/// What a sandboxed command did.
#[derive(Debug, Clone)]
pub struct Sandboxed {
    pub result: ShellResult,
    /// Text files created, changed or deleted (relative paths in `rel`).
    pub changes: Vec<FileChange>,
    /// Changes that cannot be gated as text, one line each.
    pub unsupported: Vec<String>,
    /// The command changed `.git/` (index, refs, config): never applied.
    pub git_changed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot prepare the sandbox under {path}: {source}")]
    Scratch {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Shell(#[from] crate::shell::ShellError),
    #[error("the sandbox did not start: {0}")]
    Setup(String),
}

/// Marks the sandbox's own setup failures apart from the command's exit status.
const SETUP_FAILED: i32 = 121;

/// Runs inside the namespaces: `$1` lower (the repository), `$2` upper, `$3` work, `$4` merged,
/// `$5` working folder, `$6` the command.
const SCRIPT: &str = r#"
fail() { echo "agentops-sandbox: $*" >&2; exit 121; }
L="$1"; U="$2"; W="$3"; M="$4"; C="$5"; CMD="$6"
mount -t overlay overlay -o "lowerdir=$L,upperdir=$U,workdir=$W,userxattr" "$M" || fail "overlayfs"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "tmpfs /dev/shm"
mkdir /dev/shm/.agentops-view && mount --bind "$M" /dev/shm/.agentops-view || fail "view"
mount --rbind / / || fail "rbind /"
mount -o remount,bind,ro / || fail "read-only /"
awk '{print $5}' /proc/self/mountinfo | while read -r mp; do
  case "$mp" in /|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) ;; *) mount -o remount,bind,ro "$mp" 2>/dev/null ;; esac
done
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "tmpfs /tmp"
mkdir -p "$L" && mount --bind /dev/shm/.agentops-view "$L" || fail "repository view"
if [ -d "$L/.agentops" ]; then mount -t tmpfs tmpfs "$L/.agentops" || fail "hide .agentops"; fi
mount -t proc proc /proc 2>/dev/null
cd "$C" || fail "cd $C"
exec /bin/bash -c "$CMD"
"#;

impl SandboxConfig {
    /// A working sandbox under `scratch`, or why there is none (no `unshare`, user namespaces
    /// or overlayfs disabled).
    pub fn probe(scratch: &Path, network: bool) -> Result<Self, String> {
        let config = Self {
            scratch: scratch.to_path_buf(),
            network,
        };
        let lower = tempfile::Builder::new()
            .prefix("probe-")
            .tempdir_in(config.prepare().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        std::fs::write(lower.path().join("probe"), "x").map_err(|e| e.to_string())?;
        let run = config
            .run(
                lower.path(),
                lower.path(),
                "echo y > probe",
                Duration::from_secs(20),
            )
            .map_err(|e| e.to_string())?;
        let ok = run.changes.len() == 1
            && run.changes[0].after.as_deref() == Some("y\n")
            && std::fs::read_to_string(lower.path().join("probe"))
                .ok()
                .as_deref()
                == Some("x");
        if ok {
            Ok(config)
        } else {
            Err(format!(
                "the probe did not behave: exit {:?}, {}",
                run.result.exit_code,
                run.result.stderr.trim()
            ))
        }
    }

    fn prepare(&self) -> Result<&Path, SandboxError> {
        std::fs::create_dir_all(&self.scratch).map_err(|source| SandboxError::Scratch {
            path: self.scratch.display().to_string(),
            source,
        })?;
        Ok(&self.scratch)
    }

    /// Runs `command` with `root` as the sandbox's repository, from `cwd` (inside `root`).
    pub fn run(
        &self,
        root: &Path,
        cwd: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<Sandboxed, SandboxError> {
        let scratch_err = |source| SandboxError::Scratch {
            path: self.scratch.display().to_string(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("sbx-")
            .tempdir_in(self.prepare()?)
            .map_err(scratch_err)?;
        let (upper, work, merged) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("merged"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).map_err(scratch_err)?;
        }
        let mut args: Vec<&OsStr> = ["--user", "--map-root-user", "--mount", "--pid", "--fork"]
            .iter()
            .map(OsStr::new)
            .collect();
        if !self.network {
            args.push(OsStr::new("--net"));
        }
        args.extend(
            ["--kill-child", "/bin/sh", "-c", SCRIPT, "agentops-sandbox"]
                .iter()
                .map(OsStr::new),
        );
        args.extend([
            root.as_os_str(),
            upper.as_os_str(),
            work.as_os_str(),
            merged.as_os_str(),
            cwd.as_os_str(),
            OsStr::new(command),
        ]);
        let result = run_program("unshare", &args, root, timeout)?;
        if result.exit_code == Some(SETUP_FAILED) && result.stderr.contains("agentops-sandbox:") {
            return Err(SandboxError::Setup(result.stderr.trim().to_string()));
        }
        let mut out = Sandboxed {
            result,
            changes: Vec::new(),
            unsupported: Vec::new(),
            git_changed: false,
        };
        collect(root, &upper, Path::new(""), &mut out);
        // The work folder holds overlayfs's own files (some unreadable to us); best effort.
        let _ = std::fs::remove_dir_all(&work);
        Ok(out)
    }
}

/// Walks the upper layer under `rel`, turning each entry into a change of the real tree.
fn collect(root: &Path, upper: &Path, rel: &Path, out: &mut Sandboxed) {
    let Ok(entries) = std::fs::read_dir(upper.join(rel)) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let rel = rel.join(entry.file_name());
        if rel.starts_with(".git") {
            out.git_changed = true;
            continue;
        }
        if rel.starts_with(".agentops") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let kind = meta.file_type();
        let real = root.join(&rel);
        if kind.is_char_device() {
            // A whiteout: the file (or folder) was deleted.
            deleted(root, &rel, out);
        } else if kind.is_dir() {
            if opaque(&entry.path()) {
                // Replaced: everything the real folder had and the new one lacks is deleted.
                deleted_except(root, &rel, upper, out);
            } else if real.is_file() || real.is_symlink() {
                out.unsupported
                    .push(format!("{}: a file replaced by a folder", rel.display()));
            }
            collect(root, upper, &rel, out);
        } else if kind.is_symlink() {
            let same = std::fs::read_link(entry.path()).ok() == std::fs::read_link(&real).ok();
            if !same {
                out.unsupported.push(format!(
                    "{}: a symbolic link (created or changed)",
                    rel.display()
                ));
            }
        } else if kind.is_file() {
            changed(root, &rel, &entry.path(), out);
        } else {
            out.unsupported
                .push(format!("{}: a special file", rel.display()));
        }
    }
}

fn changed(root: &Path, rel: &Path, new: &Path, out: &mut Sandboxed) {
    let real = root.join(rel);
    let after = match std::fs::read(new) {
        Ok(bytes) => bytes,
        Err(e) => {
            out.unsupported
                .push(format!("{}: unreadable ({e})", rel.display()));
            return;
        }
    };
    let before = if real.is_symlink() {
        out.unsupported.push(format!(
            "{}: written through a symbolic link",
            rel.display()
        ));
        return;
    } else {
        std::fs::read(&real).ok()
    };
    if before.as_deref() == Some(after.as_slice()) {
        return; // copied up for its metadata only (touch, chmod)
    }
    let text = |b: Vec<u8>| String::from_utf8(b).ok();
    let before_text = match before {
        None => None,
        Some(b) => match text(b) {
            Some(t) => Some(t),
            None => {
                out.unsupported
                    .push(format!("{}: a binary file changed", rel.display()));
                return;
            }
        },
    };
    let Some(after_text) = text(after) else {
        out.unsupported
            .push(format!("{}: a binary file written", rel.display()));
        return;
    };
    out.changes.push(FileChange {
        path: real,
        rel: rel.display().to_string(),
        before: before_text,
        after: Some(after_text),
    });
}

/// The real file or folder at `rel` was deleted.
fn deleted(root: &Path, rel: &Path, out: &mut Sandboxed) {
    let real = root.join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&real) else {
        return;
    };
    if meta.is_dir() {
        for e in walkdir::WalkDir::new(&real)
            .into_iter()
            .filter_map(Result::ok)
        {
            if (e.file_type().is_file() || e.file_type().is_symlink())
                && let Ok(r) = e.path().strip_prefix(root)
            {
                deleted(root, r, out);
            }
        }
        return;
    }
    if meta.file_type().is_symlink() {
        out.unsupported
            .push(format!("{}: a symbolic link deleted", rel.display()));
        return;
    }
    match std::fs::read(&real).map(String::from_utf8) {
        Ok(Ok(text)) => out.changes.push(FileChange {
            path: real,
            rel: rel.display().to_string(),
            before: Some(text),
            after: None,
        }),
        _ => out.unsupported.push(format!(
            "{}: a binary or unreadable file deleted",
            rel.display()
        )),
    }
}

/// The real folder at `rel` was replaced: what the upper layer lacks is deleted.
fn deleted_except(root: &Path, rel: &Path, upper: &Path, out: &mut Sandboxed) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let r = rel.join(e.file_name());
        if std::fs::symlink_metadata(upper.join(&r)).is_err() {
            deleted(root, &r, out);
        }
    }
}

/// Whether overlayfs marked an upper folder opaque (it replaced the lower one).
fn opaque(dir: &Path) -> bool {
    matches!(
        xattr::get(dir, "user.overlay.opaque"),
        Ok(Some(v)) if v == b"y"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn sandbox() -> (tempfile::TempDir, SandboxConfig) {
        let scratch = tempfile::tempdir().unwrap();
        let config = SandboxConfig::probe(scratch.path(), false)
            .unwrap_or_else(|e| panic!("the sandbox must work on this machine: {e}"));
        (scratch, config)
    }

    #[test]
    fn the_upper_layer_is_the_change_set_and_the_real_tree_is_untouched() {
        let (_scratch, sbx) = sandbox();
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("apps/web")).unwrap();
        std::fs::write(root.join("apps/web/a.yaml"), "replicas: 1\n").unwrap();
        std::fs::write(root.join("apps/web/b.yaml"), "keep: me\n").unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        let run = sbx
            .run(
                &root,
                &root,
                "sed -i s/1/2/ apps/web/a.yaml; rm apps/web/b.yaml; echo new > c.conf; \
                 ln -s /etc/passwd link; echo x > .git/HEAD; (sleep 2; echo late > late.txt) &",
                Duration::from_secs(20),
            )
            .unwrap();
        let mut rels: Vec<(&str, Option<&str>)> = run
            .changes
            .iter()
            .map(|c| (c.rel.as_str(), c.after.as_deref()))
            .collect();
        rels.sort();
        assert_eq!(
            rels,
            [
                ("apps/web/a.yaml", Some("replicas: 2\n")),
                ("apps/web/b.yaml", None),
                ("c.conf", Some("new\n")),
            ]
        );
        assert_eq!(run.unsupported.len(), 1, "{:?}", run.unsupported);
        assert!(run.unsupported[0].starts_with("link:"));
        assert!(run.git_changed);
        // Nothing reached the real tree, not even the background job, later.
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            std::fs::read_to_string(root.join("apps/web/a.yaml")).unwrap(),
            "replicas: 1\n"
        );
        assert!(root.join("apps/web/b.yaml").exists());
        assert!(!root.join("late.txt").exists() && !root.join("c.conf").exists());
    }

    #[test]
    fn the_system_is_read_only_and_there_is_no_network() {
        let (_scratch, sbx) = sandbox();
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        let marker = std::env::temp_dir().join(format!("agentops-escape-{}", std::process::id()));
        let run = sbx
            .run(
                &root,
                &root,
                &format!(
                    "touch /etc/agentops-escape; touch {}; (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && echo NET; echo done",
                    marker.display()
                ),
                Duration::from_secs(20),
            )
            .unwrap();
        assert!(run.result.stdout.contains("done"), "{:?}", run.result);
        assert!(!run.result.stdout.contains("NET"));
        assert!(!Path::new("/etc/agentops-escape").exists());
        assert!(!marker.exists(), "the real /tmp was written");
        assert!(run.changes.is_empty());
    }
}
