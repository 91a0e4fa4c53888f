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
    let (text, token_count) = redact_tokens(&text);
    Redacted {
        text,
        count: json_count + yaml_count + token_count,
    }
}

/// Redacts every string in a JSON value (tool inputs, messages, events) in place.
pub fn redact_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            // A JSON document inside a string (a tool call's arguments): its strings each.
            let trimmed = s.trim_start();
            if (trimmed.starts_with('{') || trimmed.starts_with('['))
                && let Ok(mut inner) = serde_json::from_str::<serde_json::Value>(s)
            {
                let before = inner.clone();
                redact_strings(&mut inner);
                if inner != before {
                    *s = inner.to_string();
                }
                return;
            }
            let r = redact_text(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// Only the text.
pub fn redact_text(text: &str) -> String {
    redact(text).text
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
}
