//! Keeping secrets away from the model, the event stream and the terminal.
//!
//! Two passes over any text a tool returns:
//! 1. **Kubernetes Secrets**: in YAML (one or many documents, `List` items, `kubectl get -o
//!    yaml` output) and JSON, every value under `data` / `stringData` of an object whose `kind`
//!    is `Secret` becomes `<redacted>`; keys stay, so the model still sees what a Secret holds.
//! 2. **Token-like strings** anywhere: PEM private keys, bearer tokens, JWTs, cloud and forge
//!    API keys, and the values of keys such as `password`, `token`, `client-key-data`.
//!
//! Redacting twice changes nothing, so every layer may apply it.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

pub const REDACTED: &str = "<redacted>";

/// `text` with secrets replaced, and how many were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub count: usize,
}

pub fn redact(text: &str) -> Redacted {
    let (text, json_count) = redact_json(text);
    let (text, yaml_count) = redact_yaml_secrets(&text);
    let (text, parsed_count) = redact_parsed_secrets(&text);
    let (text, token_count) = redact_tokens(&text);
    Redacted {
        text,
        count: json_count + yaml_count + parsed_count + token_count,
    }
}

/// The Secrets a YAML reader finds in `text` (flow style, escaped or tagged `kind`, `kind:` on
/// its own line — what the line-based pass cannot see), each one's values replaced wherever
/// they still appear.
fn redact_parsed_secrets(text: &str) -> (String, usize) {
    let mut values = Vec::new();
    for o in parsed_secrets(text) {
        for key in ["data", "stringData"] {
            for v in o[key].as_object().into_iter().flat_map(|m| m.values()) {
                if let Some(v) = v.as_str() {
                    values.push(v.to_string());
                    use base64::Engine as _;
                    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v.trim())
                        && let Ok(decoded) = String::from_utf8(bytes)
                    {
                        values.push(decoded.trim().to_string());
                    }
                }
            }
        }
    }
    values.retain(|v| v.len() >= 4 && v != REDACTED);
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    let mut count = 0;
    for v in values {
        if out.contains(&v) {
            count += out.matches(&v).count();
            out = out.replace(&v, REDACTED);
        }
    }
    (out, count)
}

/// Redacts every string in a JSON value (tool inputs, messages, events) in place.
pub fn redact_strings(value: &mut serde_json::Value) {
    KnownSecrets::default().redact_strings(value);
}

/// Only the text.
pub fn redact_text(text: &str) -> String {
    redact(text).text
}

/// Whether `text` holds a Kubernetes Secret anywhere: a `kind: Secret` line however it is
/// quoted or commented, in YAML or JSON, one object, many documents or a `List`.
pub fn holds_secret_object(text: &str) -> bool {
    static KIND: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r#"(?m)^\s*(?:-\s*)?["']?kind["']?\s*:\s*["']?Secret["']?\s*,?\s*(?:#.*)?$"#)
            .ok()
    });
    static JSON_KIND: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r#""kind"\s*:\s*"Secret""#).ok());
    KIND.as_ref().is_some_and(|r| r.is_match(text))
        || JSON_KIND.as_ref().is_some_and(|r| r.is_match(text))
        || !parsed_secrets(text).is_empty()
}

/// The Secret objects a YAML reader finds in `text` (`List` items included); none when it
/// does not parse or cannot hold an object.
fn parsed_secrets(text: &str) -> Vec<Value> {
    if !text.contains("kind") {
        return Vec::new();
    }
    let Ok(objects) = crate::kustomize::parse_objects(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut stack: Vec<Value> = objects;
    while let Some(mut o) = stack.pop() {
        if let Some(Value::Array(items)) = o.get_mut("items").map(std::mem::take) {
            stack.extend(items);
        }
        if o["kind"] == "Secret" {
            found.push(o);
        }
    }
    found
}

/// Values known to be secret because of what they become: every value a kustomization's
/// `secretGenerator` puts in a Secret (its literals, the files and env files it reads) and
/// every value of a `.env` file. They are redacted wherever they appear — a file read, a grep
/// match, a diff, shell output, the session log — whatever the text around them looks like.
#[derive(Debug, Clone, Default)]
pub struct KnownSecrets {
    /// Longest first, so a value containing another is replaced whole.
    values: Vec<String>,
    /// The files those values come from (relative to the root): the shell sees them empty.
    files: Vec<std::path::PathBuf>,
}

/// Values too common to be worth hiding (they would blank out ordinary text).
const TOO_COMMON: &[&str] = &["true", "false", "null", "none", "yes", "no", "on", "off"];

impl KnownSecrets {
    /// Reads the repository at `root`: its kustomizations' secret generators (also through
    /// `generators:` configs) and `.env` files.
    pub fn scan(root: &std::path::Path) -> Self {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let mut found = Found::default();
        for dir in crate::kustomize::find_kustomizations(&root) {
            generator_values(&root, &dir, &mut found);
        }
        for entry in crate::kustomize::walk_repo(&root).filter(|e| e.file_type().is_file()) {
            let name = entry.file_name().to_string_lossy();
            // Dotenv files (`.env`, `.env.local`); a `config.env` that feeds a ConfigMap is
            // configuration, and a secretGenerator's env file is found above.
            let dotenv = name == ".env" || name.starts_with(".env.");
            if dotenv && let Ok(text) = std::fs::read_to_string(entry.path()) {
                found.values.extend(env_values(&text));
                found.file(&root, entry.path());
            }
        }
        let mut known = Self::from_values(found.values);
        found.files.sort();
        found.files.dedup();
        known.files = found.files;
        known
    }

    /// These values (and their base64, base64url and hex forms).
    pub fn from_values(values: impl IntoIterator<Item = String>) -> Self {
        use base64::Engine as _;
        let mut all: Vec<String> = Vec::new();
        for raw in values {
            let v = raw.trim().to_string();
            if v.chars().count() < 4
                || TOO_COMMON.contains(&v.to_ascii_lowercase().as_str())
                || (v.len() < 6 && v.chars().all(|c| c.is_ascii_digit()))
            {
                continue;
            }
            let engines = [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::STANDARD_NO_PAD,
            ];
            for form in [v.clone(), format!("{v}\n"), raw.clone()] {
                for e in &engines {
                    all.push(e.encode(form.as_bytes()));
                }
            }
            all.push(v.bytes().map(|b| format!("{b:02x}")).collect());
            all.push(v);
        }
        all.retain(|v| v.len() >= 4);
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        Self {
            values: all,
            files: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The files the values come from, relative to the repository root.
    pub fn files(&self) -> &[std::path::PathBuf] {
        &self.files
    }

    /// `text` with known values, then everything [`redact`] finds, replaced.
    pub fn redact(&self, text: &str) -> Redacted {
        let mut count = 0;
        let mut out = std::borrow::Cow::Borrowed(text);
        for v in &self.values {
            if out.contains(v.as_str()) {
                count += out.matches(v.as_str()).count();
                out = std::borrow::Cow::Owned(out.replace(v.as_str(), REDACTED));
            }
        }
        let mut r = redact(&out);
        r.count += count;
        r
    }

    pub fn redact_text(&self, text: &str) -> String {
        self.redact(text).text
    }

    /// [`redact_strings`] with the known values.
    pub fn redact_strings(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let trimmed = s.trim_start();
                if (trimmed.starts_with('{') || trimmed.starts_with('['))
                    && let Ok(mut inner) = serde_json::from_str::<Value>(s)
                {
                    let before = inner.clone();
                    self.redact_strings(&mut inner);
                    if inner != before {
                        *s = inner.to_string();
                    }
                    return;
                }
                let r = self.redact_text(s);
                if r != *s {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_strings(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_strings(v)),
            _ => {}
        }
    }
}

/// What a scan collects.
#[derive(Default)]
struct Found {
    values: Vec<String>,
    files: Vec<std::path::PathBuf>,
}

impl Found {
    fn file(&mut self, root: &std::path::Path, path: &std::path::Path) {
        if let Ok(rel) = path.strip_prefix(root) {
            self.files.push(rel.to_path_buf());
        }
    }

    /// A file's whole content and every line of it.
    fn content(&mut self, content: &str) {
        self.values.extend(
            content
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 4)
                .map(str::to_string),
        );
        self.values.push(content.to_string());
    }
}

/// Dotenv values: `KEY=VALUE`, `export`, quotes (a quoted value may span lines), and an
/// unquoted value's ` # comment` left out.
fn env_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((_, value)) = line.trim_start_matches("export ").split_once('=') else {
            continue;
        };
        let value = value.trim();
        if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'')
            && !(value.len() > 1 && value.ends_with(q))
        {
            // A quoted value that goes on over the next lines.
            let mut whole = value[1..].to_string();
            for next in lines.by_ref() {
                out.push(next.trim().trim_end_matches(q).to_string());
                whole.push('\n');
                whole.push_str(next);
                if next.trim_end().ends_with(q) {
                    break;
                }
            }
            out.push(value[1..].to_string());
            out.push(whole.trim_end().trim_end_matches(q).to_string());
            continue;
        }
        let unquoted = if value.starts_with(['"', '\'']) {
            value.trim_matches(['"', '\''])
        } else {
            value.split(" #").next().unwrap_or(value).trim()
        };
        out.push(unquoted.to_string());
        out.push(value.to_string());
    }
    out
}

/// `KEY=VALUE` literals, files and env files of one generator (a `secretGenerator` entry or
/// a `SecretGenerator` config).
fn one_generator(dir: &std::path::Path, root: &std::path::Path, g: &Value, found: &mut Found) {
    let strings = |key: &str| -> Vec<String> {
        match &g[key] {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    // A generator may only read inside the repository (renders that reach out are refused).
    let read = |rel: &str| -> Option<(std::path::PathBuf, String)> {
        let path = dir.join(rel).canonicalize().ok()?;
        path.starts_with(root)
            .then(|| std::fs::read_to_string(&path).ok().map(|t| (path, t)))
            .flatten()
    };
    for literal in strings("literals") {
        if let Some((_, v)) = literal.split_once('=') {
            found.values.push(v.trim_matches(['"', '\'']).to_string());
            found.values.push(v.to_string());
        }
    }
    for f in strings("files") {
        let rel = f.split_once('=').map_or(f.as_str(), |(_, p)| p);
        if let Some((path, content)) = read(rel) {
            found.content(&content);
            found.file(root, &path);
        }
    }
    for e in strings("envs").into_iter().chain(strings("env")) {
        if let Some((path, content)) = read(&e) {
            found.values.extend(env_values(&content));
            found.file(root, &path);
        }
    }
}

/// What `dir`'s kustomization's secret generators put in Secrets: its `secretGenerator`
/// entries and the `SecretGenerator` configs its `generators:` list. A kustomization the
/// YAML reader refuses (kustomize accepts duplicate keys) is read line by line.
fn generator_values(root: &std::path::Path, dir: &std::path::Path, found: &mut Found) {
    let Some(file) = crate::kustomize::kustomization_file(dir) else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return;
    };
    let docs = match crate::kustomize::parse_objects(&text) {
        Ok(docs) => docs,
        Err(_) => {
            let g = lenient_generator(&text);
            one_generator(dir, root, &g, found);
            return;
        }
    };
    for doc in docs {
        for g in doc["secretGenerator"].as_array().into_iter().flatten() {
            one_generator(dir, root, g, found);
        }
        for config in doc["generators"].as_array().into_iter().flatten() {
            let Some(rel) = config.as_str() else { continue };
            let Ok(path) = dir.join(rel).canonicalize() else {
                continue;
            };
            if !path.starts_with(root) || !path.is_file() {
                continue;
            }
            let Ok(config_text) = std::fs::read_to_string(&path) else {
                continue;
            };
            found.file(root, &path);
            let base = path.parent().unwrap_or(dir).to_path_buf();
            match crate::kustomize::parse_objects(&config_text) {
                Ok(objects) => {
                    for o in objects.iter().filter(|o| o["kind"] == "SecretGenerator") {
                        one_generator(&base, root, o, found);
                    }
                }
                Err(_) => one_generator(&base, root, &lenient_generator(&config_text), found),
            }
        }
    }
}

/// The list items under every `literals:`, `files:` and `envs:` key of `text`, read line by
/// line (for YAML a strict reader refuses).
fn lenient_generator(text: &str) -> Value {
    let mut lists: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(key) = ["literals:", "files:", "envs:"].iter().find(|k| t == **k) {
            current = Some(key.trim_end_matches(':'));
            continue;
        }
        match (current, t.strip_prefix("- ")) {
            (Some(key), Some(item)) => lists.entry(key).or_default().push(Value::String(
                item.trim().trim_matches(['"', '\'']).to_string(),
            )),
            _ if !t.is_empty() && !t.starts_with('#') => current = None,
            _ => {}
        }
    }
    serde_json::to_value(lists).unwrap_or(Value::Null)
}

fn redact_json(text: &str) -> (String, usize) {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return (text.to_string(), 0);
    }
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return (text.to_string(), 0);
    };
    let count = redact_value(&mut value);
    if count == 0 {
        return (text.to_string(), 0);
    }
    let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
    (pretty, count)
}

fn redact_value(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let is_secret = map.get("kind").and_then(Value::as_str) == Some("Secret");
            let mut count = 0;
            for (key, child) in map.iter_mut() {
                if is_secret && (key == "data" || key == "stringData") {
                    if let Value::Object(entries) = child {
                        for v in entries.values_mut() {
                            *v = Value::String(REDACTED.to_string());
                            count += 1;
                        }
                    }
                } else {
                    count += redact_value(child);
                }
            }
            count
        }
        Value::Array(items) => items.iter_mut().map(redact_value).sum(),
        _ => 0,
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The indentation at which `line`'s key sits (`- data:` at 2 → 4).
fn key_indent(line: &str) -> usize {
    let i = indent_of(line);
    if line[i..].starts_with("- ") {
        i + 2
    } else {
        i
    }
}

fn key_is(line: &str, key: &str) -> bool {
    let rest = line[key_indent(line)..].trim_start_matches("- ");
    rest.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
}

fn is_kind_secret(line: &str) -> bool {
    let rest = line[key_indent(line)..].trim_start_matches("- ");
    let Some(v) = rest.strip_prefix("kind:") else {
        return false;
    };
    matches!(v.trim().trim_matches(['"', '\'']), "Secret")
}

/// Does the mapping containing line `at` (its keys at `indent`) have `kind: Secret`? The
/// mapping runs up to its first key (or the `- ` that starts it as a list item) and down to the
/// first line indented less than its keys.
fn object_is_secret(lines: &[&str], at: usize, indent: usize) -> bool {
    let starts_item =
        |l: &str| indent >= 2 && indent_of(l) == indent - 2 && l[indent_of(l)..].starts_with("- ");
    let is_separator = |l: &str| l.trim_end() == "---" || l.starts_with("--- ");
    let mut start = at;
    if !starts_item(lines[at]) {
        while start > 0 {
            let prev = lines[start - 1];
            if is_separator(prev) {
                break;
            }
            if prev.trim().is_empty() || indent_of(prev) >= indent {
                start -= 1;
                continue;
            }
            if starts_item(prev) {
                start -= 1;
            }
            break;
        }
    }
    let mut end = at;
    while end + 1 < lines.len() {
        let next = lines[end + 1];
        if is_separator(next) || (!next.trim().is_empty() && indent_of(next) < indent) {
            break;
        }
        end += 1;
    }
    lines[start..=end]
        .iter()
        .any(|l| key_indent(l) == indent && is_kind_secret(l))
}

fn redact_yaml_secrets(text: &str) -> (String, usize) {
    if !text.contains("Secret") {
        return (text.to_string(), 0);
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut count = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = key_indent(line);
        let is_data =
            !line.trim().is_empty() && (key_is(line, "data") || key_is(line, "stringData"));
        if is_data && object_is_secret(&lines, i, indent) {
            let (head, value) = match line.split_once(':') {
                Some((h, v)) => (h, v.trim()),
                None => (line, ""),
            };
            if value.starts_with('{') && value.len() > 2 {
                out.push(format!("{head}: {{{REDACTED}}}"));
                count += 1;
                i += 1;
                continue;
            }
            out.push(line.to_string());
            i += 1;
            // Children: every following line more indented than the key.
            let mut child_indent = None;
            while i < lines.len() {
                let child = lines[i];
                if child.trim().is_empty() {
                    i += 1;
                    continue;
                }
                if indent_of(child) <= indent {
                    break;
                }
                let ci = *child_indent.get_or_insert(indent_of(child));
                if indent_of(child) == ci
                    && let Some((k, _)) = child.split_once(':')
                {
                    out.push(format!("{k}: {REDACTED}"));
                    count += 1;
                }
                // Deeper lines (block scalar bodies) are dropped.
                i += 1;
            }
            continue;
        }
        out.push(line.to_string());
        i += 1;
    }
    (out.join("\n"), count)
}

struct TokenRule {
    regex: Regex,
    /// Capture group kept before the redaction (0: replace the whole match).
    keep: usize,
    /// Put back after the redaction (the `@` of a URL's credentials).
    suffix: &'static str,
}

static TOKEN_RULES: LazyLock<Vec<TokenRule>> = LazyLock::new(|| {
    let rule = |pattern: &str, keep: usize| {
        Regex::new(pattern).ok().map(|regex| TokenRule {
            regex,
            keep,
            suffix: "",
        })
    };
    [
        rule(r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", 0),
        rule(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{16,}=*", 1),
        rule(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0),
        rule(r"\bgh[pousr]_[A-Za-z0-9]{30,}", 0),
        rule(r"\bgithub_pat_[A-Za-z0-9_]{30,}", 0),
        rule(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0),
        rule(r"\bxox[abprs]-[A-Za-z0-9-]{10,}", 0),
        rule(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}", 0),
        rule(r"\bglpat-[A-Za-z0-9_-]{20,}", 0),
        // `password: x`, `token = x`, `client-key-data: …` (YAML, env files, INI).
        rule(
            r#"(?im)^([+-]?\s*(?:\d+(?:\t|:\s*|\s+))?(?:- )?["']?(?:password|passwd|pass|token|secret|client[-_]secret|api[-_]?key|access[-_]?key|secret[-_]?key|private[-_]?key|client-key-data|auth)["']?\s*[:=]\s*)([^\s<].*)$"#,
            1,
        ),
        // Any key that names a secret, wherever the word is in it and in any case:
        // `DB_PASSWORD=x` (a generator literal, an env file), `export API_TOKEN=x`,
        // `dbPassword: x`. Fields that only name a Secret (`secretName`, …) are not values.
        rule(
            r#"(?im)^([+-]?\s*(?:\d+(?:\t|:\s*|\s+))?(?:- )?(?:export\s+)?["']?(?:[A-Za-z0-9_.-]*?)(?:password|passwd|secret|token|api[-_]?key|apikey|private[-_]?key|credentials?)(?:[A-Za-z0-9_.-]*)["']?\s*[:=]\s*)([^\s<|>{\[&*][^\n]*)$"#,
            1,
        ),
        // `"password": "x"` in JSON.
        rule(
            r#"(?i)("(?:password|passwd|token|secret|client_secret|api_?key|access_?key|secret_?key|private_?key|client-key-data)"\s*:\s*)"[^"<][^"]*""#,
            1,
        ),
    ]
    .into_iter()
    .flatten()
    // Credentials in a URL (`postgres://app:PASSWORD@db`, a git remote with a token).
    .chain(
        Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@")
            .ok()
            .map(|regex| TokenRule {
                regex,
                keep: 1,
                suffix: "@",
            }),
    )
    .collect()
});

/// Keys that name a Secret or a token setting without holding a secret value.
const NOT_VALUES: &[&str] = &[
    "secretname",
    "secretref",
    "secretkeyref",
    "secretgenerator",
    "secretproviderclass",
    "automountserviceaccounttoken",
    "serviceaccounttoken",
    "tokenrequests",
    "existingsecret",
];

fn redact_tokens(text: &str) -> (String, usize) {
    let mut text = text.to_string();
    let mut count = 0;
    for rule in TOKEN_RULES.iter() {
        let mut found = 0;
        let replaced = rule.regex.replace_all(&text, |caps: &regex::Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str());
            let key: String = whole
                .trim_start_matches(['+', '-'])
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start_matches([':', '\t', ' '])
                .split([':', '='])
                .next()
                .unwrap_or("")
                .trim()
                .trim_start_matches("- ")
                .trim_start_matches("export ")
                .trim_matches(['"', '\''])
                .to_ascii_lowercase();
            if NOT_VALUES.contains(&key.as_str()) || whole.contains(REDACTED) {
                return whole.to_string();
            }
            found += 1;
            let kept = if rule.keep > 0 {
                caps.get(rule.keep).map_or("", |m| m.as_str())
            } else {
                ""
            };
            let quote = if caps.get(0).is_some_and(|m| m.as_str().ends_with('"')) && rule.keep > 0 {
                "\""
            } else {
                ""
            };
            format!("{kept}{quote}{REDACTED}{quote}{}", rule.suffix)
        });
        if found > 0 {
            text = replaced.into_owned();
            count += found;
        }
    }
    (text, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: cGFzc3dvcmQxMjM=\n  user: YWRtaW4=\nstringData:\n  url: postgres://admin:hunter2@db:5432/app\n  cert: |\n    line one\n    line two\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  mode: fast\n";

    #[test]
    fn secret_values_are_redacted_keys_and_other_objects_kept() {
        let r = redact(SECRET);
        assert!(!r.text.contains("cGFzc3dvcmQxMjM="), "{}", r.text);
        assert!(!r.text.contains("hunter2"), "{}", r.text);
        assert!(!r.text.contains("line one"), "{}", r.text);
        assert!(r.text.contains("  password: <redacted>"));
        assert!(r.text.contains("  cert: <redacted>"));
        assert!(
            r.text.contains("  mode: fast"),
            "ConfigMaps are untouched: {}",
            r.text
        );
        assert_eq!(r.count, 4);
        assert_eq!(redact(&r.text).text, r.text, "idempotent");
    }

    #[test]
    fn kind_after_data_and_list_items() {
        let text = "items:\n- apiVersion: v1\n  data:\n    token: c2VjcmV0\n  kind: Secret\n- apiVersion: v1\n  data:\n    a: b\n  kind: ConfigMap\n";
        let r = redact(text);
        assert!(!r.text.contains("c2VjcmV0"), "{}", r.text);
        assert!(r.text.contains("    a: b"), "{}", r.text);
    }

    #[test]
    fn json_secrets() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Secret", "data": {"password": "cGFzcw=="}}, {"kind": "ConfigMap", "data": {"x": "y"}}]}"#;
        let r = redact(text);
        assert!(!r.text.contains("cGFzcw=="), "{}", r.text);
        assert!(r.text.contains("\"x\": \"y\""));
    }

    #[test]
    fn token_like_strings() {
        let text = "Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456\nkey=AKIAABCDEFGHIJKLMNOP\nghp_abcdefghijklmnopqrstuvwxyz0123456789\n    token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n\"password\": \"hunter2\"\nsecretName: tls-cert\n";
        let r = redact(text);
        for leaked in [
            "abcdefghijklmnopqrstuvwxyz123456",
            "AKIAABCDEFGHIJKLMNOP",
            "ghp_",
            "eyJhbGci",
            "MIIE",
            "hunter2",
        ] {
            assert!(!r.text.contains(leaked), "{leaked} leaked: {}", r.text);
        }
        assert!(r.text.contains("secretName: tls-cert"), "{}", r.text);
        assert!(
            r.text.contains("\"password\": \"<redacted>\""),
            "{}",
            r.text
        );
    }

    #[test]
    fn ordinary_manifests_are_unchanged() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - env:\n        - name: POSTGRES_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: db\n              key: password\n";
        assert_eq!(
            redact(text),
            Redacted {
                text: text.to_string(),
                count: 0
            }
        );
    }

    #[test]
    fn secrets_by_key_anywhere_in_it_and_credentials_in_urls() {
        let text = "secretGenerator:\n  - name: db\n    literals:\n      - DB_PASSWORD=canary-1\nexport API_TOKEN=canary-2\ndbPassword: canary-3\nDATABASE_URL=postgres://app:canary-4@db:5432/app\n\turl = https://bot:canary-5@github.com/org/repo.git\nsecretName: db-creds\nautomountServiceAccountToken: false\n";
        let out = redact_text(text);
        for canary in ["canary-1", "canary-2", "canary-3", "canary-4", "canary-5"] {
            assert!(!out.contains(canary), "{canary}: {out}");
        }
        assert!(out.contains("secretName: db-creds"), "{out}");
        assert!(out.contains("automountServiceAccountToken: false"), "{out}");
        assert!(
            out.contains("postgres://app:<redacted>@db:5432/app"),
            "{out}"
        );
        assert_eq!(redact_text(&out), out, "idempotent");
    }

    #[test]
    fn secret_objects_are_found_however_their_kind_is_written() {
        for text in [
            "apiVersion: v1\nkind: Secret\n",
            "kind: \"Secret\" # db creds\n",
            "kind: 'Secret'\n",
            "items:\n  - kind: Secret\n",
            "{\"apiVersion\": \"v1\", \"kind\": \"Secret\"}",
            "{\"kind\": \"List\", \"items\": [{\"kind\" : \"Secret\"}]}",
        ] {
            assert!(holds_secret_object(text), "{text}");
        }
        assert!(!holds_secret_object("kind: SecretProviderClass\n"));
        assert!(!holds_secret_object("kind: ConfigMap\nsecretName: x\n"));
    }

    #[test]
    fn values_a_generator_makes_secret_are_redacted_anywhere() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("apps/web/overlays/prod");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            "secretGenerator:\n  - name: up\n    envs: [up.env]\n    files: [tls=cert.txt]\n    literals:\n      - MODE=plain-looking-1\n      - FLAG=true\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("up.env"),
            "REGION=eu-west-9\nexport HOST=\"db.internal-42\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("cert.txt"), "abcdefgh-cert-body\n").unwrap();
        std::fs::write(tmp.path().join(".env"), "MODE=dotenv-value-7\n").unwrap();
        let known = KnownSecrets::scan(tmp.path());
        let text = "plain-looking-1 eu-west-9 db.internal-42 abcdefgh-cert-body dotenv-value-7 true ZXUtd2VzdC05";
        let out = known.redact_text(text);
        for v in [
            "plain-looking-1",
            "eu-west-9",
            "db.internal-42",
            "abcdefgh-cert-body",
            "dotenv-value-7",
            "ZXUtd2VzdC05",
        ] {
            assert!(!out.contains(v), "{v}: {out}");
        }
        // Common values stay: redacting `true` everywhere would blank out ordinary text.
        assert!(out.contains(" true "), "{out}");
    }

    #[test]
    fn a_diff_hunk_is_redacted_by_the_object_it_belongs_to() {
        let before = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  a: c2VjcmV0LWE=\n  b: c2VjcmV0LWI=\n  c: c2VjcmV0LWM=\n  d: c2VjcmV0LWQ=\n  e: c2VjcmV0LWU=\ntype: Opaque\n";
        let after = before.replace("type: Opaque", "type: Opaque\nimmutable: true");
        let change = crate::file_change::FileChange {
            path: "/r/s.yaml".into(),
            rel: "s.yaml".into(),
            before: Some(before.to_string()),
            after: Some(after),
        };
        let diff = change.diff();
        assert!(diff.contains("+immutable: true"), "{diff}");
        assert!(!diff.contains("c2VjcmV0"), "{diff}");
    }

    #[test]
    fn secrets_a_yaml_reader_finds_are_redacted_however_they_are_written() {
        for text in [
            "{apiVersion: v1, kind: Secret, metadata: {name: a}, stringData: {pw: flow-style-canary}}",
            "apiVersion: v1\nkind: \"Secr\\x65t\"\nmetadata:\n  name: a\nstringData:\n  pw: escaped-kind-canary\n",
            "apiVersion: v1\nkind: !!str Secret\nmetadata:\n  name: a\nstringData:\n  pw: tagged-kind-canary\n",
            "apiVersion: v1\nkind:\n  Secret\nmetadata:\n  name: a\nstringData:\n  pw: split-kind-canary\n",
        ] {
            let out = redact_text(text);
            assert!(!out.contains("-canary"), "{text}\n=> {out}");
            assert!(holds_secret_object(text), "{text}");
        }
    }

    #[test]
    fn generator_plugins_duplicate_keys_dotenv_quirks_and_encodings() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("kustomization.yaml"),
            "generators:\n  - gen.yaml\nresources: []\n",
        )
        .unwrap();
        std::fs::write(d.join("gen.yaml"), "apiVersion: builtin\nkind: SecretGenerator\nmetadata:\n  name: g\nliterals:\n  - SEED=genplugin-kl12\n").unwrap();
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("kustomization.yaml"), "secretGenerator:\n  - name: x\n    files:\n      - creds\nnamePrefix: a\nnamePrefix: b\n").unwrap();
        std::fs::write(b.join("creds"), "user-long-line\nPw4x!q7\n").unwrap();
        std::fs::write(
            tmp.path().join(".env"),
            "A=inline-val # note\nB=\"first-line\nsecond-line-x\"\n",
        )
        .unwrap();
        let known = KnownSecrets::scan(tmp.path());
        use base64::Engine as _;
        let b64nl = base64::engine::general_purpose::STANDARD.encode("user-long-line\nPw4x!q7\n");
        let hex: String = "genplugin-kl12"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let text = format!("genplugin-kl12 Pw4x!q7 inline-val second-line-x {b64nl} {hex}");
        let out = known.redact_text(&text);
        for v in [
            "genplugin-kl12",
            "Pw4x!q7",
            "inline-val",
            "second-line-x",
            &b64nl,
            &hex,
        ] {
            assert!(!out.contains(v), "{v}: {out}");
        }
        let files: Vec<String> = known
            .files()
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        assert!(
            files.contains(&"b/creds".to_string()) && files.contains(&".env".to_string()),
            "{files:?}"
        );
    }
}
