//! Claude Code's settings layers, highest precedence first:
//!
//! 1. managed: `/etc/agentops/managed-settings.json`, `/etc/claude-code/managed-settings.json`
//!    (`AGENTOPS_MANAGED_SETTINGS` names another file), always read, even with `--bare`;
//! 2. the command line: `--settings FILE` or `--settings '{"permissions": …}'`;
//! 3. `.claude/settings.local.json`, 4. `.claude/settings.json` (the repository's);
//! 5. `~/.claude/settings.json` (the user's).
//!
//! `--setting-sources user,project,local` picks which of the last three are read; `--bare`
//! reads none of them. Of each file agentops applies `permissions.{allow,ask,deny,defaultMode}`,
//! `hooks` and `env`: list keys merge across layers, `defaultMode` and each `env` variable come
//! from the highest layer that sets them. Other keys Claude Code knows are accepted quietly;
//! keys nobody knows warn.
//!
//! **Trust.** What a repository's own files say can widen what the model may do: allow rules,
//! hooks (programs agentops runs), `env`, a `defaultMode` that asks less, and — outside this
//! module — a command's or skill's `allowed-tools`, agent frontmatter hooks and permission
//! modes. Until the person has trusted the repository (`agentops trust`, stored outside it, see
//! [`crate::trust`]) or passed `--trust-repo`, those are reported and not applied; what only
//! restricts (deny and ask rules, `plan` mode) always applies.

use agentops_agents::definition::PermissionMode;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where a settings file sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Managed,
    Cli,
    Local,
    Project,
    User,
}

impl Layer {
    /// The repository's own files: applied in full only when it is trusted.
    pub fn is_repository(self) -> bool {
        matches!(self, Layer::Local | Layer::Project)
    }

    /// `--setting-sources` names.
    pub fn parse_source(name: &str) -> Option<Self> {
        match name.trim() {
            "user" => Some(Layer::User),
            "project" => Some(Layer::Project),
            "local" => Some(Layer::Local),
            _ => None,
        }
    }
}

/// How settings and the rest of the customisation are loaded (the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--bare`: nothing of the user's or the repository's customisation — no settings files
    /// but managed and `--settings`, no memory, rules, skills, plugins, hooks, project or
    /// user agents and commands.
    pub bare: bool,
    /// `--setting-sources`: which of user, project and local are read (`None`: all).
    pub sources: Option<Vec<Layer>>,
    /// `--settings`: a file, or JSON text.
    pub cli: Option<String>,
    /// Managed settings files (the front end fills in [`managed_paths`]).
    pub managed: Vec<PathBuf>,
    /// `--trust-repo`: apply this repository's widening settings for this run.
    pub trust_repo: bool,
    /// `--tools`: the only tools that exist in this run (`None`: all).
    pub tools: Option<Vec<String>>,
    /// `--plugin-dir`: plugin folders to load besides the discovered ones.
    pub plugin_dirs: Vec<PathBuf>,
}

/// The managed settings files: `AGENTOPS_MANAGED_SETTINGS` when set, else the system ones.
pub fn managed_paths() -> Vec<PathBuf> {
    match std::env::var_os("AGENTOPS_MANAGED_SETTINGS").filter(|v| !v.is_empty()) {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![
            PathBuf::from("/etc/agentops/managed-settings.json"),
            PathBuf::from("/etc/claude-code/managed-settings.json"),
        ],
    }
}

/// One settings file that was read.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    pub layer: Layer,
    /// The path as shown in messages, or `--settings`.
    pub source: String,
    pub value: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{source_name}:{line}:{column}: invalid JSON: {message}; fix the file or remove it")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}: {message}")]
    Shape {
        source_name: String,
        message: String,
    },
    #[error(
        "--setting-sources: `{0}` is not a settings source; use a comma list of user, project, local"
    )]
    UnknownSource(String),
}

/// Keys of a settings file Claude Code knows; agentops applies `permissions`, `hooks` and
/// `env` and accepts the others without a word.
const KNOWN_KEYS: &[&str] = &[
    "$schema",
    "permissions",
    "hooks",
    "env",
    "model",
    "apiKeyHelper",
    "cleanupPeriodDays",
    "includeCoAuthoredBy",
    "includeGitInstructions",
    "statusLine",
    "outputStyle",
    "enabledPlugins",
    "extraKnownMarketplaces",
    "enableAllProjectMcpServers",
    "enabledMcpjsonServers",
    "disabledMcpjsonServers",
    "disableAllHooks",
    "allowManagedHooksOnly",
    "forceLoginMethod",
    "awsAuthRefresh",
    "awsCredentialExport",
    "spinnerTipsEnabled",
    "alwaysThinkingEnabled",
    "companyAnnouncements",
    "sandbox",
    "theme",
    "language",
    "autoUpdates",
    "autoUpdatesChannel",
    "attribution",
    "feedbackSurveyRate",
    "respectGitignore",
    "plansDirectory",
    "fileSuggestion",
    "showTurnDuration",
    "skipWebFetchPreflight",
];

const PERMISSION_KEYS: &[&str] = &[
    "allow",
    "ask",
    "deny",
    "defaultMode",
    "additionalDirectories",
    "disableBypassPermissionsMode",
];

/// Environment variables a settings file may not set: they change which programs or
/// libraries every process agentops starts loads, or how a shell starts.
const REFUSED_ENV: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PROMPT_COMMAND",
    "IFS",
    "HOME",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_EXEC_PATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "KUBECONFIG",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "NODE_OPTIONS",
    "PERL5OPT",
    "RUBYOPT",
];

fn env_refused(name: &str) -> bool {
    REFUSED_ENV.contains(&name)
        || name.starts_with("LD_")
        || name.starts_with("DYLD_")
        || name.starts_with("AGENTOPS_")
        || name.starts_with("BASH_FUNC_")
}

/// Every settings file in effect, and whether the repository's widening settings apply.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Highest precedence first.
    pub files: Vec<SettingsFile>,
    /// The repository's allow rules, hooks, `env` and permissive modes apply.
    pub trusted: bool,
    /// What the files said that agentops does not apply, or does not know.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Reads the layers `options` asks for. A file that is not JSON, or whose `permissions`
    /// has the wrong shape, stops with an error naming it; a missing file is no file.
    pub fn load(
        root: &Path,
        home: Option<&Path>,
        options: &LoadOptions,
        trusted: bool,
    ) -> Result<Self, SettingsError> {
        let mut settings = Self {
            trusted,
            ..Self::default()
        };
        for path in &options.managed {
            settings.read_file(Layer::Managed, path)?;
        }
        if let Some(cli) = &options.cli {
            let text = cli.trim();
            if text.starts_with('{') {
                settings.read_text(Layer::Cli, "--settings", text)?;
            } else {
                let path = PathBuf::from(text);
                if !path.is_file() {
                    return Err(SettingsError::Read {
                        path,
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "no such file (give a settings file or JSON text)",
                        ),
                    });
                }
                settings.read_file(Layer::Cli, &path)?;
            }
        }
        if options.bare {
            return Ok(settings);
        }
        let wanted = |layer: Layer| options.sources.as_ref().is_none_or(|s| s.contains(&layer));
        if wanted(Layer::Local) {
            settings.read_file(Layer::Local, &root.join(".claude/settings.local.json"))?;
        }
        if wanted(Layer::Project) {
            settings.read_file(Layer::Project, &root.join(".claude/settings.json"))?;
        }
        if let Some(home) = home
            && wanted(Layer::User)
        {
            let user = home.join(".claude/settings.json");
            // Working in the home folder: its settings are the user's, read once.
            if !settings
                .files
                .iter()
                .any(|f| f.source == user.display().to_string())
            {
                settings.read_file(Layer::User, &user)?;
            }
        }
        Ok(settings)
    }

    /// Parses `--setting-sources user,project`.
    pub fn parse_sources(text: &str) -> Result<Vec<Layer>, SettingsError> {
        text.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| Layer::parse_source(s).ok_or_else(|| SettingsError::UnknownSource(s.into())))
            .collect()
    }

    fn read_file(&mut self, layer: Layer, path: &Path) -> Result<(), SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        self.read_text(layer, &path.display().to_string(), &text)
    }

    fn read_text(&mut self, layer: Layer, source: &str, text: &str) -> Result<(), SettingsError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SettingsError::Json {
            source_name: source.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let Some(object) = value.as_object() else {
            return Err(SettingsError::Shape {
                source_name: source.to_string(),
                message: "a settings file is a JSON object (`{\"permissions\": {…}}`)".into(),
            });
        };
        for key in object.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                self.warnings.push(format!(
                    "{source}: `{key}` is not a settings key agentops or Claude Code knows; ignored"
                ));
            }
        }
        if let Some(p) = object.get("permissions") {
            let Some(p) = p.as_object() else {
                return Err(SettingsError::Shape {
                    source_name: source.to_string(),
                    message: "`permissions` must be an object with `allow`, `ask`, `deny` lists"
                        .into(),
                });
            };
            for (key, v) in p {
                if !PERMISSION_KEYS.contains(&key.as_str()) {
                    self.warnings.push(format!(
                        "{source}: `permissions.{key}` is not a permissions key; ignored (known: {})",
                        PERMISSION_KEYS.join(", ")
                    ));
                    continue;
                }
                let list = matches!(
                    key.as_str(),
                    "allow" | "ask" | "deny" | "additionalDirectories"
                );
                if list && !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(SettingsError::Shape {
                        source_name: source.to_string(),
                        message: format!(
                            "`permissions.{key}` must be a list of strings, e.g. [\"Bash(git diff:*)\"]"
                        ),
                    });
                }
            }
            if let Some(mode) = p.get("defaultMode")
                && mode.as_str().and_then(PermissionMode::parse).is_none()
            {
                self.warnings.push(format!(
                    "{source}: `permissions.defaultMode` {mode} is not a mode (default, acceptEdits, plan, bypassPermissions, dontAsk); ignored"
                ));
            }
            if p.get("additionalDirectories")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                self.warnings.push(format!(
                    "{source}: `permissions.additionalDirectories` is not applied: agentops' file tools stay inside the repository"
                ));
            }
        }
        if let Some(env) = object.get("env")
            && !env.is_object()
        {
            return Err(SettingsError::Shape {
                source_name: source.to_string(),
                message: "`env` must be an object of NAME: \"value\"".into(),
            });
        }
        self.files.push(SettingsFile {
            layer,
            source: source.to_string(),
            value,
        });
        Ok(())
    }

    /// Reads one settings file as a layer of the repository, for `agentops lint`.
    pub fn read_checked(&mut self, path: &Path) -> Result<(), SettingsError> {
        self.read_file(Layer::Project, path)
    }

    /// Every file's rule lists, allow rules included whatever the trust.
    pub fn rule_lists_all(&self) -> Vec<(crate::permissions::RuleLists, String)> {
        self.files
            .iter()
            .map(|f| {
                (
                    crate::permissions::RuleLists {
                        allow: Self::list(f, "allow"),
                        ask: Self::list(f, "ask"),
                        deny: Self::list(f, "deny"),
                    },
                    f.source.clone(),
                )
            })
            .collect()
    }

    /// Whether `layer`'s widening settings apply.
    pub fn applies(&self, layer: Layer) -> bool {
        self.trusted || !layer.is_repository()
    }

    fn list(file: &SettingsFile, key: &str) -> Vec<String> {
        file.value
            .pointer(&format!("/permissions/{key}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The rule lists of each file, lowest precedence first (order does not change a
    /// decision: deny wins over ask, ask over allow), with a repository's allow rules left
    /// out while it is not trusted.
    pub fn rule_lists(&self) -> Vec<(crate::permissions::RuleLists, String)> {
        self.files
            .iter()
            .rev()
            .map(|f| {
                let allow = if self.applies(f.layer) {
                    Self::list(f, "allow")
                } else {
                    Vec::new()
                };
                (
                    crate::permissions::RuleLists {
                        allow,
                        ask: Self::list(f, "ask"),
                        deny: Self::list(f, "deny"),
                    },
                    f.source.clone(),
                )
            })
            .collect()
    }

    /// The run's permission mode when the agent sets none: from the highest layer that sets
    /// one and may (a repository that is not trusted may only ask for more care).
    pub fn default_mode(&self) -> Option<(PermissionMode, String)> {
        self.files.iter().find_map(|f| {
            let mode = f
                .value
                .pointer("/permissions/defaultMode")
                .and_then(Value::as_str)
                .and_then(PermissionMode::parse)?;
            let widening = !matches!(
                mode,
                PermissionMode::Default | PermissionMode::Plan | PermissionMode::DontAsk
            );
            (!widening || self.applies(f.layer)).then(|| (mode, f.source.clone()))
        })
    }

    /// The `hooks` objects that apply, lowest precedence first, with their file.
    pub fn hooks(&self) -> Vec<(&Value, &str)> {
        self.all_hooks()
            .into_iter()
            .filter(|(_, _, layer)| self.applies(*layer))
            .map(|(v, s, _)| (v, s))
            .collect()
    }

    /// Every `hooks` object, applied or not (the control files protect what any could run).
    pub fn all_hooks(&self) -> Vec<(&Value, &str, Layer)> {
        self.files
            .iter()
            .rev()
            .filter_map(|f| Some((f.value.get("hooks")?, f.source.as_str(), f.layer)))
            .collect()
    }

    /// The `env` variables for the processes agentops starts (the shell, hooks): each from
    /// the highest layer that sets it; names that change how programs load are refused.
    pub fn env(&self) -> (Vec<(String, String)>, Vec<String>) {
        let mut vars: Vec<(String, String)> = Vec::new();
        let mut warnings = Vec::new();
        for f in &self.files {
            let Some(env) = f.value.get("env").and_then(Value::as_object) else {
                continue;
            };
            if !self.applies(f.layer) {
                continue;
            }
            for (name, value) in env {
                if vars.iter().any(|(n, _)| n == name) {
                    continue;
                }
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        warnings.push(format!(
                            "{}: env `{name}` = {other} is not a string; ignored",
                            f.source
                        ));
                        continue;
                    }
                };
                if env_refused(name) || name.is_empty() || name.contains(['=', '\0']) {
                    warnings.push(format!(
                        "{}: env `{name}` is not set: it changes which programs run or how they load",
                        f.source
                    ));
                    continue;
                }
                vars.push((name.clone(), value));
            }
        }
        (vars, warnings)
    }

    /// What the repository's settings files say that is not applied because it is not
    /// trusted, one phrase each (empty when trusted or when they say nothing widening).
    pub fn withheld(&self) -> Vec<String> {
        if self.trusted {
            return Vec::new();
        }
        let mut out = Vec::new();
        for f in self.files.iter().filter(|f| f.layer.is_repository()) {
            let allow = Self::list(f, "allow");
            if !allow.is_empty() {
                out.push(format!(
                    "{} allow rule{} in {} ({})",
                    allow.len(),
                    if allow.len() == 1 { "" } else { "s" },
                    f.source,
                    allow.join(", ")
                ));
            }
            if f.value
                .get("hooks")
                .is_some_and(|h| h.as_object().is_some_and(|o| !o.is_empty()))
            {
                out.push(format!("the hooks in {}", f.source));
            }
            if f.value
                .get("env")
                .is_some_and(|e| e.as_object().is_some_and(|o| !o.is_empty()))
            {
                out.push(format!("the env in {}", f.source));
            }
            if let Some(mode) = f
                .value
                .pointer("/permissions/defaultMode")
                .and_then(Value::as_str)
                && !matches!(mode, "default" | "plan" | "dontAsk")
            {
                out.push(format!("defaultMode {mode} in {}", f.source));
            }
        }
        out
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

    fn sources(s: &Settings) -> Vec<(Layer, String)> {
        s.files
            .iter()
            .map(|f| {
                let name = f.source.rsplit('/').take(2).collect::<Vec<_>>();
                (
                    f.layer,
                    name.into_iter().rev().collect::<Vec<_>>().join("/"),
                )
            })
            .collect()
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        let home = t.path().join("home");
        write(
            &root,
            ".claude/settings.json",
            r#"{"permissions": {"allow": ["Read"], "deny": ["Bash(rm:*)"]}, "env": {"TEAM": "project"}}"#,
        );
        write(
            &root,
            ".claude/settings.local.json",
            r#"{"permissions": {"allow": ["Write"], "defaultMode": "bypassPermissions"}, "env": {"TEAM": "local", "LD_PRELOAD": "/x.so"}, "hooks": {"Stop": []}}"#,
        );
        write(
            &home,
            ".claude/settings.json",
            r#"{"permissions": {"allow": ["Grep"], "defaultMode": "acceptEdits"}, "env": {"EDITOR": "vi"}}"#,
        );
        write(
            t.path(),
            "managed.json",
            r#"{"permissions": {"deny": ["WebFetch"]}}"#,
        );
        (t, root, home)
    }

    #[test]
    fn layers_are_read_in_precedence_order_and_sources_pick_them() {
        let (t, root, home) = setup();
        let options = LoadOptions {
            managed: vec![t.path().join("managed.json")],
            cli: Some(r#"{"permissions": {"ask": ["Edit"]}}"#.into()),
            ..LoadOptions::default()
        };
        let s = Settings::load(&root, Some(&home), &options, true).unwrap();
        assert_eq!(
            sources(&s),
            [
                (
                    Layer::Managed,
                    format!(
                        "{}/managed.json",
                        t.path().file_name().unwrap().to_string_lossy()
                    )
                ),
                (Layer::Cli, "--settings".into()),
                (Layer::Local, ".claude/settings.local.json".into()),
                (Layer::Project, ".claude/settings.json".into()),
                (Layer::User, ".claude/settings.json".into()),
            ]
        );
        let only_user = LoadOptions {
            sources: Some(Settings::parse_sources("user").unwrap()),
            ..LoadOptions::default()
        };
        let s = Settings::load(&root, Some(&home), &only_user, true).unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.files[0].layer, Layer::User);
        let bare = LoadOptions {
            bare: true,
            managed: vec![t.path().join("managed.json")],
            ..LoadOptions::default()
        };
        let s = Settings::load(&root, Some(&home), &bare, true).unwrap();
        assert_eq!(s.files.len(), 1, "bare keeps only managed settings");
        assert!(matches!(
            Settings::parse_sources("user,everything"),
            Err(SettingsError::UnknownSource(s)) if s == "everything"
        ));
    }

    #[test]
    fn an_untrusted_repository_only_restricts() {
        let (_t, root, home) = setup();
        let s = Settings::load(&root, Some(&home), &LoadOptions::default(), false).unwrap();
        let lists = s.rule_lists();
        let allow: Vec<&String> = lists.iter().flat_map(|(l, _)| &l.allow).collect();
        let deny: Vec<&String> = lists.iter().flat_map(|(l, _)| &l.deny).collect();
        assert_eq!(allow, ["Grep"], "only the user's allow rule applies");
        assert_eq!(
            deny,
            ["Bash(rm:*)"],
            "the repository's deny rule still applies"
        );
        // The repository's bypassPermissions is withheld; the user's acceptEdits applies.
        assert_eq!(s.default_mode().unwrap().0, PermissionMode::AcceptEdits);
        assert!(s.hooks().is_empty());
        assert_eq!(s.all_hooks().len(), 1);
        let (env, _) = s.env();
        assert_eq!(env, [("EDITOR".to_string(), "vi".to_string())]);
        let withheld = s.withheld().join("; ");
        for part in [
            "allow rule in",
            "(Write)",
            "(Read)",
            "hooks",
            "env",
            "bypassPermissions",
        ] {
            assert!(withheld.contains(part), "{part}: {withheld}");
        }
    }

    #[test]
    fn a_trusted_repository_applies_in_precedence_order() {
        let (_t, root, home) = setup();
        let s = Settings::load(&root, Some(&home), &LoadOptions::default(), true).unwrap();
        assert_eq!(
            s.default_mode().unwrap().0,
            PermissionMode::BypassPermissions
        );
        let (env, warnings) = s.env();
        assert!(
            env.contains(&("TEAM".to_string(), "local".to_string())),
            "{env:?}"
        );
        assert!(!env.iter().any(|(n, _)| n == "LD_PRELOAD"));
        assert!(warnings[0].contains("LD_PRELOAD"), "{warnings:?}");
        assert_eq!(s.hooks().len(), 1);
        assert!(s.withheld().is_empty());
    }

    #[test]
    fn bad_files_name_the_file_and_unknown_keys_warn() {
        let (_t, root, home) = setup();
        write(&root, ".claude/settings.json", "{\n  \"permissions\": [\n");
        let err = Settings::load(&root, Some(&home), &LoadOptions::default(), true).unwrap_err();
        assert!(err.to_string().contains("settings.json:3:"), "{err}");
        write(
            &root,
            ".claude/settings.json",
            r#"{"permissions": {"allow": "Bash"}}"#,
        );
        let err = Settings::load(&root, Some(&home), &LoadOptions::default(), true).unwrap_err();
        assert!(
            err.to_string()
                .contains("`permissions.allow` must be a list"),
            "{err}"
        );
        write(
            &root,
            ".claude/settings.json",
            r#"{"permisions": {}, "permissions": {"alow": ["Bash"], "additionalDirectories": ["../x"]}}"#,
        );
        let s = Settings::load(&root, Some(&home), &LoadOptions::default(), true).unwrap();
        let w = s.warnings.join("\n");
        assert!(w.contains("`permisions` is not a settings key"), "{w}");
        assert!(w.contains("`permissions.alow`"), "{w}");
        assert!(w.contains("additionalDirectories"), "{w}");
        let cli = LoadOptions {
            cli: Some("/no/such/settings.json".into()),
            ..LoadOptions::default()
        };
        let err = Settings::load(&root, Some(&home), &cli, true).unwrap_err();
        assert!(err.to_string().contains("/no/such/settings.json"), "{err}");
    }
}
