//! The shell's sandbox (DESIGN.md §3, "the shell only plans").
//!
//! A command runs in new user, mount, PID and (unless configured otherwise) network
//! namespaces — `unshare`, no root needed. Inside, the repository is the lower layer of an
//! overlayfs and every write lands in the upper layer; every other mount (`/proc`, `/sys` and
//! `/dev` included) is read-only, `/tmp` and `/run` are private, `.agentops/` (session logs)
//! is hidden, and `/proc` shows only the sandbox's processes. The command itself runs with no
//! capabilities and `no_new_privs` (`setpriv`): it cannot undo a mount or make one, so the
//! view it gets is the view it keeps. When the command's shell exits, the kernel kills every
//! process left in the PID namespace: nothing runs on after the command, nothing lands later.
//!
//! Then the upper layer *is* the change set — any file, size or count, deletions (whiteouts),
//! replaced folders (opaque directories). [`Sandboxed::changes`] holds the text changes as
//! [`FileChange`]s for the gates; what cannot be gated as text (symlinks, binary files,
//! special files) is listed in [`Sandboxed::unsupported`] and refuses the whole change set;
//! changes under `.git/` are never applied (commits go through `git_commit` and its gates).
//! The real tree is touched only when the runtime applies the approved change set.

use crate::file_change::FileChange;
use crate::shell::{ShellResult, run_program_env};
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
    /// Environment variables for the command (the settings' `env`).
    pub env: Vec<(String, String)>,
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
L="$1"; U="$2"; W="$3"; M="$4"; C="$5"; CMD="$6"; H="$7"
# Read now: the list may live under /tmp, which is replaced below.
HIDE=""; if [ -n "$H" ] && [ -f "$H" ]; then HIDE="$(cat "$H")"; fi
mount -t overlay overlay -o "lowerdir=$L,upperdir=$U,workdir=$W,userxattr" "$M" || fail "overlayfs"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "tmpfs /dev/shm"
mkdir /dev/shm/.agentops-view && mount --bind "$M" /dev/shm/.agentops-view || fail "view"
mount --rbind / / || fail "rbind /"
awk '{print $5}' /proc/self/mountinfo | while read -r mp; do
  case "$mp" in /dev/shm|/dev/shm/*) ;; *) mount -o remount,bind,ro "$mp" 2>/dev/null ;; esac
done
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "tmpfs /tmp"
mount -t tmpfs -o mode=755 tmpfs /run || fail "tmpfs /run"
mkdir -p "$L" && mount --bind /dev/shm/.agentops-view "$L" || fail "repository view"
if [ -d "$L/.agentops" ]; then mount -t tmpfs tmpfs "$L/.agentops" || fail "hide .agentops"; fi
if [ -n "$HIDE" ]; then
  printf '%s\n' "$HIDE" | while IFS= read -r f; do
    if [ -n "$f" ] && [ -f "$L/$f" ] && [ ! -L "$L/$f" ]; then mount --bind /dev/null "$L/$f" || fail "hide $f"; fi
  done || exit 121
fi
mount -t proc -o ro,nosuid,nodev,noexec proc /proc || fail "proc"
cd "$C" || fail "cd $C"
exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- /bin/bash -c "$CMD"
"#;

impl SandboxConfig {
    /// A working sandbox under `scratch`, or why there is none (no `unshare`, user namespaces
    /// or overlayfs disabled).
    pub fn probe(scratch: &Path, network: bool) -> Result<Self, String> {
        let config = Self {
            scratch: scratch.to_path_buf(),
            network,
            env: Vec::new(),
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
        self.run_hiding(root, cwd, command, timeout, &[])
    }

    /// [`SandboxConfig::run`] where the files `hidden` (paths relative to `root`: secret
    /// generators' inputs, `.env` files) read as empty: no transformation of their content
    /// (`rev`, `xxd`, `base64`) can carry a secret past the redactor.
    pub fn run_hiding(
        &self,
        root: &Path,
        cwd: &Path,
        command: &str,
        timeout: Duration,
        hidden: &[PathBuf],
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
        let hidden_list = dir.path().join("hidden");
        let listed: String = hidden
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.contains('\n') && !p.is_empty())
            .map(|p| format!("{p}\n"))
            .collect();
        std::fs::write(&hidden_list, listed).map_err(scratch_err)?;
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
            hidden_list.as_os_str(),
        ]);
        let result = run_program_env("unshare", &args, root, timeout, &self.env)?;
        if result.exit_code == Some(SETUP_FAILED) && result.stderr.contains("agentops-sandbox:") {
            return Err(SandboxError::Setup(result.stderr.trim().to_string()));
        }
        let mut out = Sandboxed {
            result,
            changes: Vec::new(),
            unsupported: Vec::new(),
            git_changed: false,
        };
        collect(root, &upper, Path::new(""), false, &mut out);
        // overlayfs leaves a mode-000 folder in `work`, and the command may have left
        // unreadable folders in `upper`: make them ours to remove, then remove it all.
        remove_all(dir.path());
        Ok(out)
    }
}

/// Removes `dir`, first opening folders whose mode keeps their owner (us) out.
fn remove_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::remove_dir_all(dir).is_ok() {
        return;
    }
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| {
            if e.file_type().is_dir() {
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o700));
            }
            true
        })
        .flatten()
    {
        let _ = entry;
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!("cannot remove the sandbox folder {}: {e}", dir.display());
    }
}

/// Walks the upper layer under `rel`, turning each entry into a change of the real tree.
/// `replaced`: `rel` is inside a folder the command replaced (an opaque folder), so what the
/// real folder has and the upper one lacks is deleted at every level.
fn collect(root: &Path, upper: &Path, rel: &Path, replaced: bool, out: &mut Sandboxed) {
    let entries = match std::fs::read_dir(upper.join(rel)) {
        Ok(e) => e,
        Err(e) => {
            out.unsupported
                .push(format!("{}: unreadable ({e})", shown(rel)));
            return;
        }
    };
    if replaced {
        deleted_except(root, rel, upper, out);
    }
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.unsupported
                    .push(format!("{}: unreadable ({e})", shown(rel)));
                continue;
            }
        };
        let rel = rel.join(entry.file_name());
        if rel.components().any(|c| c.as_os_str() == ".git") {
            out.git_changed = true;
            continue;
        }
        if rel.starts_with(".agentops") {
            continue;
        }
        if let Some(problem) = odd_name(&rel) {
            out.unsupported.push(problem);
            continue;
        }
        if let Some(problem) = through_symlink(root, &rel) {
            out.unsupported.push(problem);
            continue;
        }
        let meta = match std::fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            Err(e) => {
                out.unsupported
                    .push(format!("{}: unreadable ({e})", shown(&rel)));
                continue;
            }
        };
        let kind = meta.file_type();
        let real = root.join(&rel);
        let real_kind = std::fs::symlink_metadata(&real).ok().map(|m| m.file_type());
        if kind.is_char_device() {
            // A whiteout: the file (or folder) was deleted.
            deleted(root, &rel, out);
        } else if kind.is_dir() {
            match real_kind {
                Some(k) if !k.is_dir() => {
                    out.unsupported.push(format!(
                        "{}: a file or link replaced by a folder",
                        shown(&rel)
                    ));
                    continue;
                }
                _ => {}
            }
            let replaced_here = replaced || opaque(&entry.path());
            collect(root, upper, &rel, replaced_here, out);
        } else if real_kind.is_some_and(|k| k.is_dir()) {
            out.unsupported
                .push(format!("{}: a folder replaced by a file", shown(&rel)));
        } else if kind.is_symlink() {
            let same = std::fs::read_link(entry.path()).ok() == std::fs::read_link(&real).ok();
            if !same {
                out.unsupported.push(format!(
                    "{}: a symbolic link (created or changed)",
                    shown(&rel)
                ));
            }
        } else if kind.is_file() {
            changed(root, &rel, &entry.path(), out);
        } else {
            out.unsupported
                .push(format!("{}: a special file", shown(&rel)));
        }
    }
}

/// A path for people: control characters escaped, so a name cannot forge lines.
fn shown(rel: &Path) -> String {
    rel.to_string_lossy().escape_debug().to_string()
}

/// Names that could mislead a person reading the change (control or bidi characters) or that
/// are not UTF-8.
fn odd_name(rel: &Path) -> Option<String> {
    let Some(text) = rel.to_str() else {
        return Some(format!("{}: a file name that is not UTF-8", shown(rel)));
    };
    let odd = text.chars().any(|c| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    odd.then(|| {
        format!(
            "{}: a file name with control or direction characters",
            shown(rel)
        )
    })
}

/// Whether a folder on the way to `rel` is a symbolic link in the real tree (a change there
/// would land wherever the link points).
fn through_symlink(root: &Path, rel: &Path) -> Option<String> {
    let mut at = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        at.push(c);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(format!(
                "{}: inside {}, a symbolic link in the repository",
                shown(rel),
                shown(at.strip_prefix(root).unwrap_or(&at))
            ));
        }
    }
    None
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

    #[test]
    fn the_command_cannot_undo_the_sandbox() {
        let (_scratch, sbx) = sandbox();
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        std::fs::write(root.join("README.md"), "real\n").unwrap();
        let marker = std::env::temp_dir().join(format!("agentops-umount-{}", std::process::id()));
        let attack = format!(
            "cd /; umount -l {root} 2>/dev/null && echo UMOUNTED; umount -l /tmp 2>/dev/null && echo TMP-UMOUNTED; \
             mount -o remount,bind,rw / 2>/dev/null && echo REMOUNTED; \
             echo x > /proc/sys/kernel/core_pattern 2>/dev/null && echo CORE; \
             touch /dev/agentops-x 2>/dev/null && echo DEV; mkdir /sys/fs/cgroup/agentops-x 2>/dev/null && echo CGROUP; \
             touch {marker} 2>/dev/null; echo pwned > {root}/README.md; echo done",
            root = root.display(),
            marker = marker.display()
        );
        let run = sbx
            .run(&root, &root, &attack, Duration::from_secs(20))
            .unwrap();
        let said = &run.result.stdout;
        for escape in ["UMOUNTED", "REMOUNTED", "CORE", "DEV", "CGROUP"] {
            assert!(!said.contains(escape), "{escape}: {said}");
        }
        assert!(said.contains("done"), "{:?}", run.result);
        assert_eq!(
            std::fs::read_to_string(root.join("README.md")).unwrap(),
            "real\n"
        );
        assert!(!marker.exists() && !Path::new("/dev/agentops-x").exists());
        // The write went to the overlay: it is the change set, to be gated.
        assert_eq!(run.changes.len(), 1);
        assert_eq!(run.changes[0].after.as_deref(), Some("pwned\n"));
    }

    #[test]
    fn changes_through_symlinked_folders_and_replaced_folders_are_not_taken_as_text() {
        let (_scratch, sbx) = sandbox();
        let repo = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        std::fs::write(outside.path().join("existing.conf"), "keep\n").unwrap();
        std::fs::create_dir_all(root.join("apps/web")).unwrap();
        std::fs::write(root.join("apps/web/a.yaml"), "a\n").unwrap();
        std::fs::write(root.join("apps/web/b.yaml"), "b\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("apps/x")).unwrap();
        let run = sbx
            .run(
                &root,
                &root,
                "rm apps/x && mkdir apps/x && echo evil > apps/x/evil; \
                 rm -rf apps/web && mkdir -p apps/web/sub && echo c > apps/web/sub/c.yaml; \
                 touch \"$(printf 'odd\\nname')\"",
                Duration::from_secs(20),
            )
            .unwrap();
        assert!(
            run.changes.iter().all(|c| c.path.starts_with(&root)),
            "{:?}",
            run.changes
        );
        assert!(
            !run.changes.iter().any(|c| c.rel.starts_with("apps/x")),
            "{:?}",
            run.changes
        );
        assert!(
            run.unsupported.iter().any(|u| u.starts_with("apps/x")),
            "{:?}",
            run.unsupported
        );
        assert!(
            run.unsupported.iter().any(|u| u.contains("control")),
            "{:?}",
            run.unsupported
        );
        // A replaced folder deletes what the new one lacks, at every level.
        let deleted: Vec<&str> = run
            .changes
            .iter()
            .filter(|c| c.after.is_none())
            .map(|c| c.rel.as_str())
            .collect();
        assert!(
            deleted.contains(&"apps/web/a.yaml") && deleted.contains(&"apps/web/b.yaml"),
            "{deleted:?}"
        );
        assert!(outside.path().join("existing.conf").exists());
    }
}
