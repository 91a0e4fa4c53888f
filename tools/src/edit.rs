//! Claude Code's file-changing tools, `Write` and `Edit`. They only *plan* a change
//! ([`FileChange`]): the runtime puts every planned change through the gates and, when it is high
//! risk, an approval before [`FileChange::apply`] writes it. Nothing a model sends can write a
//! file around that path.

pub use crate::file_change::{ApplyError, FileChange, unified_diff};
use crate::path::{confine, display};
use crate::redact::REDACTED;
use crate::tool::{Risk, ToolContext, ToolOutput, TypedTool};
use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Files larger than this are not edited.
const MAX_EDIT_BYTES: u64 = 4 * 1024 * 1024;

/// Input of `Write`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteInput {
    /// Path of the file, relative to the repository root or absolute inside it.
    pub file_path: String,
    /// The whole new content of the file.
    pub content: String,
}

/// Input of `Edit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditInput {
    /// Path of the file, relative to the repository root or absolute inside it.
    pub file_path: String,
    /// The exact text to replace (must occur once unless `replace_all`).
    pub old_string: String,
    /// The text to put in its place.
    pub new_string: String,
    /// Replace every occurrence.
    #[serde(default)]
    pub replace_all: bool,
}

pub struct WriteTool;
pub struct EditTool;

fn current(path: &Path, rel: &str) -> Result<Option<String>, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {rel}: {e}")),
        Ok(m) if m.is_dir() => return Err(format!("{rel} is a directory")),
        Ok(m) if m.len() > MAX_EDIT_BYTES => {
            return Err(format!(
                "{rel} is {} bytes; files over {MAX_EDIT_BYTES} bytes are not edited",
                m.len()
            ));
        }
        Ok(_) => {}
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| format!("cannot read {rel} as UTF-8 text: {e}"))
}

fn locate(ctx: &ToolContext, file_path: &str) -> Result<(PathBuf, String), String> {
    let path = confine(&ctx.root, &ctx.cwd, file_path).map_err(|e| e.to_string())?;
    let rel = display(&ctx.root, &path);
    if rel == ".git" || rel.starts_with(".git/") {
        return Err(format!(
            "{rel} is inside .git; change the repository with the git tools"
        ));
    }
    Ok((path, rel))
}

/// Text the model only ever saw redacted must not be written back over the real value.
fn refuse_redacted(rel: &str, before: Option<&str>, after: &str) -> Result<(), String> {
    let had = before.map_or(0, |b| b.matches(REDACTED).count());
    if after.matches(REDACTED).count() > had {
        return Err(format!(
            "the new content of {rel} contains `{REDACTED}`: secret values are hidden from you, so writing them back would destroy them. Change only the other lines with Edit"
        ));
    }
    Ok(())
}

impl WriteTool {
    pub fn plan(input: &WriteInput, ctx: &ToolContext) -> Result<FileChange, String> {
        let (path, rel) = locate(ctx, &input.file_path)?;
        let before = current(&path, &rel)?;
        refuse_redacted(&rel, before.as_deref(), &input.content)?;
        Ok(FileChange {
            path,
            rel,
            before,
            after: Some(input.content.clone()),
        })
    }
}

impl EditTool {
    pub fn plan(input: &EditInput, ctx: &ToolContext) -> Result<FileChange, String> {
        let (path, rel) = locate(ctx, &input.file_path)?;
        if input.old_string.is_empty() {
            return Err("old_string is empty; to create a file use Write".into());
        }
        if input.old_string == input.new_string {
            return Err("old_string and new_string are the same: nothing to change".into());
        }
        let Some(before) = current(&path, &rel)? else {
            return Err(format!(
                "{rel} does not exist; to create it use Write.{}",
                crate::files::did_you_mean(&ctx.root, &path)
            ));
        };
        let found = before.matches(input.old_string.as_str()).count();
        let after = match found {
            0 => {
                return Err(format!(
                    "old_string was not found in {rel}; Read the file and copy the text exactly (whitespace included)"
                ));
            }
            1 => before.replacen(&input.old_string, &input.new_string, 1),
            _ if input.replace_all => before.replace(&input.old_string, &input.new_string),
            n => {
                return Err(format!(
                    "old_string occurs {n} times in {rel}; add surrounding lines to make it unique, or set replace_all"
                ));
            }
        };
        refuse_redacted(&rel, Some(&before), &after)?;
        Ok(FileChange {
            path,
            rel,
            before: Some(before),
            after: Some(after),
        })
    }
}

fn plan_result(plan: Result<FileChange, String>) -> Result<Vec<FileChange>, ToolOutput> {
    plan.map(|c| vec![c]).map_err(ToolOutput::error)
}

/// Applies a planned change outside the runtime's gates (a tool run on its own, e.g. in tests).
fn apply_now(plan: Result<Vec<FileChange>, ToolOutput>) -> BoxFuture<'static, ToolOutput> {
    Box::pin(async move {
        match plan {
            Err(e) => e,
            Ok(changes) => {
                let mut done = Vec::new();
                for c in &changes {
                    if let Err(e) = c.apply() {
                        return ToolOutput::error(e.to_string());
                    }
                    done.push(c.rel.clone());
                }
                ToolOutput::ok(format!("wrote {}", done.join(", ")))
            }
        }
    })
}

impl TypedTool for WriteTool {
    type Input = WriteInput;
    const NAME: &'static str = "Write";
    const DESCRIPTION: &'static str = "Write a whole file of the repository (creates it, or replaces its content). Manifest changes are validated (render, schema, policies) and high-risk ones need approval before they are written.";
    const RISK: Risk = Risk::Write;
    fn call(&self, input: WriteInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        apply_now(plan_result(Self::plan(&input, ctx)))
    }
    fn plan(
        &self,
        input: &WriteInput,
        ctx: &ToolContext,
    ) -> Option<Result<Vec<FileChange>, ToolOutput>> {
        Some(plan_result(Self::plan(input, ctx)))
    }
}

impl TypedTool for EditTool {
    type Input = EditInput;
    const NAME: &'static str = "Edit";
    const DESCRIPTION: &'static str = "Replace exact text in a file of the repository (old_string must occur once unless replace_all). Manifest changes are validated (render, schema, policies) and high-risk ones need approval before they are written.";
    const RISK: Risk = Risk::Write;
    fn call(&self, input: EditInput, ctx: &ToolContext) -> BoxFuture<'static, ToolOutput> {
        apply_now(plan_result(Self::plan(&input, ctx)))
    }
    fn plan(
        &self,
        input: &EditInput,
        ctx: &ToolContext,
    ) -> Option<Result<Vec<FileChange>, ToolOutput>> {
        Some(plan_result(Self::plan(input, ctx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> ToolContext {
        let root = dir.canonicalize().unwrap();
        ToolContext {
            cwd: root.clone(),
            root,
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        }
    }

    #[test]
    fn edit_replaces_one_exact_occurrence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "replicas: 1\nname: web\n").unwrap();
        let input = EditInput {
            file_path: "a.yaml".into(),
            old_string: "replicas: 1".into(),
            new_string: "replicas: 3".into(),
            replace_all: false,
        };
        let change = EditTool::plan(&input, &ctx(dir.path())).unwrap();
        assert_eq!(change.after.as_deref(), Some("replicas: 3\nname: web\n"));
        assert!(
            change.diff().contains("-replicas: 1\n+replicas: 3"),
            "{}",
            change.diff()
        );
        // Planning wrote nothing.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
            "replicas: 1\nname: web\n"
        );
        change.apply().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
            "replicas: 3\nname: web\n"
        );
    }

    #[test]
    fn edit_refuses_ambiguous_missing_and_stale() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "x: 1\nx: 1\n").unwrap();
        let c = ctx(dir.path());
        let mut input = EditInput {
            file_path: "a.yaml".into(),
            old_string: "x: 1".into(),
            new_string: "x: 2".into(),
            replace_all: false,
        };
        assert!(
            EditTool::plan(&input, &c)
                .unwrap_err()
                .contains("occurs 2 times")
        );
        input.replace_all = true;
        let change = EditTool::plan(&input, &c).unwrap();
        assert_eq!(change.after.as_deref(), Some("x: 2\nx: 2\n"));
        input.old_string = "y: 1".into();
        assert!(
            EditTool::plan(&input, &c)
                .unwrap_err()
                .contains("not found")
        );
        // The file changed after planning: applying refuses instead of losing that change.
        std::fs::write(dir.path().join("a.yaml"), "x: 9\n").unwrap();
        assert!(matches!(change.apply(), Err(ApplyError::Stale { .. })));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
            "x: 9\n"
        );
    }

    #[test]
    fn write_stays_inside_the_repository_and_out_of_git() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let c = ctx(dir.path());
        for path in ["../escape.yaml", "/etc/passwd", ".git/config"] {
            let input = WriteInput {
                file_path: path.into(),
                content: "x".into(),
            };
            assert!(WriteTool::plan(&input, &c).is_err(), "{path}");
        }
        let input = WriteInput {
            file_path: "new/dir/file.yaml".into(),
            content: "a: 1\n".into(),
        };
        let change = WriteTool::plan(&input, &c).unwrap();
        assert_eq!(change.before, None);
        change.apply().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new/dir/file.yaml")).unwrap(),
            "a: 1\n"
        );
    }

    #[test]
    fn redacted_secret_values_are_never_written_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.yaml"),
            "kind: Secret\nstringData:\n  password: hunter2\n",
        )
        .unwrap();
        let input = WriteInput {
            file_path: "s.yaml".into(),
            content: format!("kind: Secret\nstringData:\n  password: {REDACTED}\n"),
        };
        let err = WriteTool::plan(&input, &ctx(dir.path())).unwrap_err();
        assert!(err.contains("secret values are hidden"), "{err}");
    }
}
