//! Claude Code plugins: a folder with `.claude-plugin/plugin.json`, found under
//! `.claude/plugins/<dir>/` of the repository, `~/.claude/plugins/<dir>/`, and every
//! `--plugin-dir DIR`.
//!
//! The manifest needs only `name` (kebab-case). `commands` and `agents` (a path or a list of
//! paths, files or folders) replace the default `commands/` and `agents/` folders; `skills`
//! adds to `skills/`; `hooks` and `mcpServers` are a path, a list of paths or an inline
//! object. Every path stays inside the plugin's folder. The plugin's definitions are named
//! `plugin:name` (`/deploy-tools:promote`). Unknown fields warn; a known field of the wrong
//! type stops that plugin, with an error naming the file and the field.

use agentops_agents::discover::scan_markdown;
use agentops_agents::{AgentDefinition, Catalog, FileDiagnostic, Source};
use agentops_commands::CommandDefinition;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = ".claude-plugin/plugin.json";

/// Fields a manifest may have; agentops uses `name`, `commands`, `agents`, `skills`, `hooks`
/// and `mcpServers` and accepts the others as metadata.
const METADATA: &[&str] = &[
    "version",
    "description",
    "author",
    "homepage",
    "repository",
    "license",
    "keywords",
    "outputStyles",
    "lspServers",
    "$schema",
];
const COMPONENTS: &[&str] = &["commands", "agents", "skills", "hooks", "mcpServers"];

/// One plugin that loaded.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub name: String,
    pub root: PathBuf,
    pub manifest: PathBuf,
    /// Files or folders of commands (the manifest's `commands`, else `commands/`).
    pub commands: Vec<PathBuf>,
    pub agents: Vec<PathBuf>,
    /// `skills/` and the manifest's `skills`.
    pub skills: Vec<PathBuf>,
    /// Hooks objects (`{"PreToolUse": […]}`), `${CLAUDE_PLUGIN_ROOT}` filled in.
    pub hooks: Vec<Value>,
    /// MCP server names the plugin declares (agentops does not start them).
    pub mcp_servers: Vec<String>,
}

/// Every plugin found, and what went wrong.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    pub plugins: Vec<Plugin>,
    /// Plugins that did not load, one message each (file: what, what to do).
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Plugins {
    /// Finds and reads the plugins of `root`, of `home` and of `extra` folders.
    pub fn discover(root: &Path, home: Option<&Path>, extra: &[PathBuf]) -> Self {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut parents = vec![root.join(".claude/plugins")];
        if let Some(home) = home {
            parents.push(home.join(".claude/plugins"));
        }
        for parent in parents {
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join(MANIFEST).is_file())
                .collect();
            found.sort();
            dirs.extend(found);
        }
        dirs.extend(extra.iter().cloned());
        let mut out = Self::default();
        for dir in dirs {
            match load(&dir) {
                Ok((plugin, warnings)) => {
                    out.warnings.extend(warnings);
                    if out.plugins.iter().any(|p| p.name == plugin.name) {
                        out.warnings.push(format!(
                            "{}: a plugin named `{}` is already loaded; this one is skipped",
                            plugin.manifest.display(),
                            plugin.name
                        ));
                        continue;
                    }
                    out.plugins.push(plugin);
                }
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    /// The plugins' agents, named `plugin:name`.
    pub fn agents(&self) -> Catalog<AgentDefinition> {
        let mut catalog = Catalog::default();
        for plugin in &self.plugins {
            for (file, _) in markdown(&plugin.agents, &mut catalog.diagnostics) {
                match AgentDefinition::load(&file, Source::Plugin) {
                    Ok(mut agent) => {
                        agent.name = format!("{}:{}", plugin.name, agent.name);
                        catalog.add(agent);
                    }
                    Err(rejected) => catalog.diagnostics.extend(rejected.into_file_diagnostics()),
                }
            }
        }
        catalog
    }

    /// The plugins' skills and commands, named `plugin:name` (a skill wins over a command
    /// of the same name, as in a repository).
    pub fn commands(&self) -> Catalog<CommandDefinition> {
        let mut catalog = Catalog::default();
        for plugin in &self.plugins {
            let mut skills: Vec<(PathBuf, PathBuf)> = Vec::new();
            for dir in &plugin.skills {
                let (files, problems) = scan_markdown(dir);
                catalog.diagnostics.extend(problems);
                skills.extend(
                    files
                        .into_iter()
                        .filter(|f| f.path.file_name().is_some_and(|n| n == "SKILL.md"))
                        .map(|f| (f.path, f.relative)),
                );
            }
            for (path, relative) in skills {
                let name = format!(
                    "{}:{}",
                    plugin.name,
                    agentops_commands::skill_name(&relative)
                );
                match CommandDefinition::load(&path, &name, Source::Plugin) {
                    Ok(mut skill) => {
                        skill.skill_dir = path.parent().map(Path::to_path_buf);
                        catalog.add(skill);
                    }
                    Err(rejected) => catalog.diagnostics.extend(rejected.into_file_diagnostics()),
                }
            }
            for (file, relative) in markdown(&plugin.commands, &mut catalog.diagnostics) {
                let name = format!(
                    "{}:{}",
                    plugin.name,
                    agentops_commands::name_from_path(&relative)
                );
                match CommandDefinition::load(&file, &name, Source::Plugin) {
                    Ok(cmd) => catalog.add(cmd),
                    Err(rejected) => catalog.diagnostics.extend(rejected.into_file_diagnostics()),
                }
            }
        }
        catalog
    }
}

/// The markdown files of `entries` (files, or folders scanned), with the path that names
/// them: relative to their folder, or the file name.
fn markdown(entries: &[PathBuf], diagnostics: &mut Vec<FileDiagnostic>) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            let (files, problems) = scan_markdown(entry);
            diagnostics.extend(problems);
            out.extend(files.into_iter().map(|f| (f.path, f.relative)));
        } else if entry.is_file() {
            let name = entry.file_name().map(PathBuf::from).unwrap_or_default();
            out.push((entry.clone(), name));
        }
    }
    out
}

fn kebab(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Reads the plugin at `dir`: the plugin, with warnings, or why it did not load.
pub fn load(dir: &Path) -> Result<(Plugin, Vec<String>), String> {
    let manifest = dir.join(MANIFEST);
    let shown = manifest.display().to_string();
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        format!("{shown}: cannot read the plugin manifest: {e}; a plugin folder holds .claude-plugin/plugin.json")
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{shown}:{}:{}: invalid JSON: {e}; the plugin is not loaded",
            e.line(),
            e.column()
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err(format!(
            "{shown}: the manifest is a JSON object with at least `name`; the plugin is not loaded"
        ));
    };
    let wrong = |field: &str, want: &str| {
        format!("{shown}: `{field}` must be {want}; the plugin is not loaded until it is fixed")
    };
    let name = match object.get("name") {
        Some(Value::String(n)) if kebab(n) => n.clone(),
        Some(Value::String(n)) => {
            return Err(format!(
                "{shown}: plugin name `{n}` is not kebab-case (lowercase letters, digits and `-`, e.g. `deploy-tools`); the plugin is not loaded"
            ));
        }
        Some(_) => return Err(wrong("name", "a string")),
        None => {
            return Err(format!(
                "{shown}: `name` is required (kebab-case, e.g. `deploy-tools`); the plugin is not loaded"
            ));
        }
    };
    let root = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut warnings = Vec::new();
    for key in object.keys() {
        if key != "name" && !METADATA.contains(&key.as_str()) && !COMPONENTS.contains(&key.as_str())
        {
            warnings.push(format!(
                "{shown}: `{key}` is not a plugin manifest field; ignored"
            ));
        }
    }
    for (key, want) in [
        ("version", "a string"),
        ("description", "a string"),
        ("homepage", "a string"),
        ("repository", "a string"),
        ("license", "a string"),
    ] {
        if object.get(key).is_some_and(|v| !v.is_string()) {
            return Err(wrong(key, want));
        }
    }
    if object
        .get("keywords")
        .is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
    {
        return Err(wrong("keywords", "a list of strings"));
    }
    if object
        .get("author")
        .is_some_and(|v| !(v.is_object() || v.is_string()))
    {
        return Err(wrong("author", "an object ({\"name\": …}) or a string"));
    }
    // A path of the manifest: relative, inside the plugin's folder.
    let inside = |field: &str, text: &str| -> Result<PathBuf, String> {
        let rel = Path::new(text);
        if rel.is_absolute() {
            return Err(format!(
                "{shown}: `{field}` path `{text}` is absolute; write it relative to the plugin folder (`./{field}/`)"
            ));
        }
        let outside = || {
            format!(
                "{shown}: `{field}` path `{text}` leads outside the plugin folder; the plugin is not loaded"
            )
        };
        // `..` that climbs out is refused even when the place does not exist (yet).
        let mut depth = 0usize;
        for c in rel.components() {
            match c {
                std::path::Component::ParentDir if depth == 0 => return Err(outside()),
                std::path::Component::ParentDir => depth -= 1,
                std::path::Component::Normal(_) => depth += 1,
                _ => {}
            }
        }
        let path = root.join(rel);
        match path.canonicalize() {
            Ok(real) if real.starts_with(&root) => Ok(real),
            Ok(_) => Err(outside()),
            // A missing path is reported, not fatal: there is nothing to load from it.
            Err(_) => Ok(path),
        }
    };
    let paths = |field: &str| -> Result<Option<Vec<PathBuf>>, String> {
        match object.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![inside(field, s)?])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => inside(field, s),
                    _ => Err(wrong(field, "a path or a list of paths")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong(field, "a path or a list of paths")),
        }
    };
    let default = |folder: &str| {
        vec![root.join(folder)]
            .into_iter()
            .filter(|p| p.is_dir())
            .collect::<Vec<_>>()
    };
    let commands = paths("commands")?.unwrap_or_else(|| default("commands"));
    let agents = paths("agents")?.unwrap_or_else(|| default("agents"));
    let mut skills = default("skills");
    skills.extend(paths("skills")?.unwrap_or_default());
    for (field, list) in [
        ("commands", &commands),
        ("agents", &agents),
        ("skills", &skills),
    ] {
        for p in list.iter().filter(|p| !p.exists()) {
            warnings.push(format!(
                "{shown}: `{field}` names {}, which does not exist",
                p.display()
            ));
        }
    }
    // hooks / mcpServers: a path, a list of paths, or inline.
    let objects = |field: &str, inner: &str| -> Result<Vec<(Value, String)>, String> {
        let mut out = Vec::new();
        let mut from_file = |text: &str| -> Result<(), String> {
            let path = inside(field, text)?;
            let body = std::fs::read_to_string(&path)
                .map_err(|e| format!("{shown}: `{field}` file {}: {e}", path.display()))?;
            let v: Value = serde_json::from_str(&body).map_err(|e| {
                format!(
                    "{}:{}:{}: invalid JSON: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                )
            })?;
            // A hooks file may wrap the object: `{"description": …, "hooks": {…}}`.
            let v = v.get(inner).cloned().unwrap_or(v);
            if !v.is_object() {
                return Err(format!("{}: `{inner}` must be an object", path.display()));
            }
            out.push((v, path.display().to_string()));
            Ok(())
        };
        match object.get(field) {
            None => {}
            Some(Value::String(s)) => from_file(s)?,
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => from_file(s)?,
                        _ => return Err(wrong(field, "a path, a list of paths or an object")),
                    }
                }
            }
            Some(v @ Value::Object(_)) => {
                let v = v.get(inner).cloned().unwrap_or_else(|| v.clone());
                out.push((v, shown.clone()));
            }
            Some(_) => return Err(wrong(field, "a path, a list of paths or an object")),
        }
        Ok(out)
    };
    let mut hook_values = objects("hooks", "hooks")?;
    if object.get("hooks").is_none() {
        let default_hooks = root.join("hooks/hooks.json");
        if default_hooks.is_file() {
            let text = std::fs::read_to_string(&default_hooks).unwrap_or_default();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => hook_values.push((
                    v.get("hooks").cloned().unwrap_or(v),
                    default_hooks.display().to_string(),
                )),
                Err(e) => {
                    return Err(format!(
                        "{}:{}:{}: invalid JSON: {e}; the plugin is not loaded",
                        default_hooks.display(),
                        e.line(),
                        e.column()
                    ));
                }
            }
        }
    }
    let plugin_root = root.display().to_string();
    let hooks = hook_values
        .into_iter()
        .map(|(v, _)| fill_root(v, &plugin_root))
        .collect();
    let mcp_servers: Vec<String> = objects("mcpServers", "mcpServers")?
        .iter()
        .flat_map(|(v, _)| {
            v.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect();
    if !mcp_servers.is_empty() {
        warnings.push(format!(
            "{shown}: MCP servers {} are not started: agentops does not run MCP servers yet",
            mcp_servers.join(", ")
        ));
    }
    Ok((
        Plugin {
            name,
            root,
            manifest,
            commands,
            agents,
            skills,
            hooks,
            mcp_servers,
        },
        warnings,
    ))
}

/// `${CLAUDE_PLUGIN_ROOT}` in every string of `v`.
fn fill_root(v: Value, root: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("${CLAUDE_PLUGIN_ROOT}", root)),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| fill_root(v, root)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, fill_root(v, root)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn a_plugin_loads_its_definitions_under_its_name() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        let p = root.join(".claude/plugins/deploy");
        write(
            &p,
            MANIFEST,
            r#"{"name": "deploy-tools", "version": "1.0.0", "skills": "./extra-skills", "hooks": "./config/hooks.json", "flavour": "x"}"#,
        );
        write(
            &p,
            "commands/promote.md",
            "---\ndescription: Promote\n---\nPromote $1",
        );
        write(
            &p,
            "agents/reviewer.md",
            "---\nname: reviewer\ndescription: Reviews\n---\nReview.",
        );
        write(
            &p,
            "skills/diff/SKILL.md",
            "---\ndescription: Diff overlays\n---\nDiff.",
        );
        write(
            &p,
            "extra-skills/lint/SKILL.md",
            "---\ndescription: Lint\n---\nLint.",
        );
        write(
            &p,
            "config/hooks.json",
            r#"{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "${CLAUDE_PLUGIN_ROOT}/stop.sh"}]}]}}"#,
        );
        let plugins = Plugins::discover(&root, None, &[]);
        assert!(plugins.errors.is_empty(), "{:?}", plugins.errors);
        assert_eq!(plugins.warnings.len(), 1, "{:?}", plugins.warnings);
        assert!(plugins.warnings[0].contains("`flavour`"));
        let names: Vec<String> = plugins
            .commands()
            .items
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "deploy-tools:diff",
                "deploy-tools:lint",
                "deploy-tools:promote"
            ]
        );
        let agents = plugins.agents();
        assert_eq!(agents.items[0].name, "deploy-tools:reviewer");
        assert_eq!(agents.items[0].source, Source::Plugin);
        let hook = plugins.plugins[0].hooks[0].to_string();
        assert!(
            hook.contains(&format!("{}/stop.sh", p.canonicalize().unwrap().display())),
            "{hook}"
        );
    }

    #[test]
    fn manifest_paths_replace_defaults_and_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("plug");
        write(
            &p,
            MANIFEST,
            r#"{"name": "ops", "commands": ["./custom/only.md"]}"#,
        );
        write(&p, "commands/ignored.md", "ignored");
        write(&p, "custom/only.md", "only");
        let plugins = Plugins::discover(t.path(), None, std::slice::from_ref(&p));
        let names: Vec<String> = plugins
            .commands()
            .items
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(names, ["ops:only"]);
        write(&p, MANIFEST, r#"{"name": "ops", "agents": "../../etc"}"#);
        let err = load(&p).unwrap_err();
        assert!(err.contains("leads outside the plugin folder"), "{err}");
        write(&p, MANIFEST, r#"{"name": "ops", "agents": "/etc"}"#);
        assert!(load(&p).unwrap_err().contains("is absolute"));
    }

    #[test]
    fn bad_manifests_stop_only_their_plugin_with_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        let good = root.join(".claude/plugins/good");
        write(&good, MANIFEST, r#"{"name": "good"}"#);
        for (dir, manifest, expect) in [
            ("a", r#"{"version": "1"}"#, "`name` is required"),
            ("b", r#"{"name": "Deploy Tools"}"#, "not kebab-case"),
            (
                "c",
                r#"{"name": "c", "commands": 3}"#,
                "`commands` must be a path or a list of paths",
            ),
            (
                "d",
                r#"{"name": "d", "keywords": "x"}"#,
                "`keywords` must be a list of strings",
            ),
            ("e", "{\n\"name\": ", "plugin.json:2:"),
        ] {
            write(&root.join(".claude/plugins").join(dir), MANIFEST, manifest);
            let plugins = Plugins::discover(&root, None, &[]);
            assert!(
                plugins
                    .errors
                    .iter()
                    .any(|e| e.contains(expect) && e.contains(&format!("plugins/{dir}/"))),
                "{dir}: {:?}",
                plugins.errors
            );
            assert!(plugins.plugins.iter().any(|p| p.name == "good"));
            std::fs::remove_dir_all(root.join(".claude/plugins").join(dir)).unwrap();
        }
    }
}
