//! `validate --format sarif|junit`: the report as SARIF 2.1.0 (code-scanning UIs) and JUnit XML
//! (CI test tabs). Build failures are results/failures too, under the rule `kustomize-build`.

use agentops_runtime::gates::{OverlayStatus, ValidateReport};
use agentops_runtime::policy::{RULES, Severity};
use serde_json::{Value, json};
use std::fmt::Write;

const BUILD_RULE: &str = "kustomize-build";

fn rule_text(rule: &str) -> &'static str {
    match rule {
        "resource-limits" => "Every container sets resources.limits",
        "approved-registries" => "Images come from approved registries",
        "namespace-networkpolicy" => "Every namespace with workloads has a NetworkPolicy",
        "required-labels" => "Objects carry the required labels",
        "kustomize-deprecation" => "The kustomization uses no deprecated fields",
        BUILD_RULE => "The kustomization builds",
        _ => "agentops policy",
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warn => "warning",
        Severity::Off => "none",
    }
}

/// The kustomization file of an overlay path, as a SARIF artifact URI.
fn artifact(path: &str) -> String {
    if path == "." {
        "kustomization.yaml".to_string()
    } else {
        format!("{path}/kustomization.yaml")
    }
}

pub fn sarif(report: &ValidateReport) -> Value {
    let mut rules: Vec<Value> = RULES
        .iter()
        .map(|(id, default)| {
            json!({"id": id, "shortDescription": {"text": rule_text(id)}, "defaultConfiguration": {"level": level(*default)}})
        })
        .collect();
    rules.push(json!({"id": BUILD_RULE, "shortDescription": {"text": rule_text(BUILD_RULE)}, "defaultConfiguration": {"level": "error"}}));
    let mut results = Vec::new();
    for o in report
        .overlays
        .iter()
        .filter(|o| o.status == OverlayStatus::Failed)
    {
        results.push(json!({
            "ruleId": BUILD_RULE,
            "level": "error",
            "message": {"text": o.error.clone().unwrap_or_default()},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact(&o.path)}}}],
        }));
    }
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Off)
    {
        results.push(json!({
            "ruleId": f.rule,
            "level": level(f.severity),
            "message": {"text": format!("{}: {}", f.object, f.message)},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": artifact(&f.file)}},
                "logicalLocations": [{"fullyQualifiedName": f.object, "kind": "object"}],
            }],
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "agentops",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/agentops",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// One test case per kustomization and gate: `build` fails when it does not render, `policy`
/// fails on error findings (warnings go to system-out).
pub fn junit(report: &ValidateReport) -> String {
    let seconds = report.summary.duration_ms as f64 / 1000.0;
    let mut cases = String::new();
    let mut failures = 0;
    let mut tests = 0;
    let folders = report
        .overlays
        .iter()
        .map(|o| (o, false))
        .chain(report.manifests.iter().map(|m| (m, true)));
    for (o, plain) in folders {
        // A plain manifest folder's findings name its files.
        let owns = |file: &str| {
            file == o.path
                || (plain
                    && file
                        .strip_prefix(o.path.as_str())
                        .and_then(|rest| rest.strip_prefix('/'))
                        .is_some_and(|name| !name.contains('/')))
        };
        tests += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"build\" name=\"{}\">",
            xml_escape(&o.path)
        );
        if o.status == OverlayStatus::Failed {
            failures += 1;
            let error = o.error.clone().unwrap_or_default();
            let first = error.lines().next().unwrap_or_default();
            let _ = write!(
                cases,
                "<failure message=\"{}\">{}</failure>",
                xml_escape(first),
                xml_escape(&error)
            );
        }
        cases.push_str("</testcase>\n");
        if o.status == OverlayStatus::Ok {
            tests += 1;
            let mine: Vec<_> = report.findings.iter().filter(|f| owns(&f.file)).collect();
            let errors: Vec<_> = mine
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            let _ = write!(
                cases,
                "    <testcase classname=\"policy\" name=\"{}\">",
                xml_escape(&o.path)
            );
            if !errors.is_empty() {
                failures += 1;
                let body: Vec<String> = errors
                    .iter()
                    .map(|f| format!("{} [{}] {}", f.object, f.rule, f.message))
                    .collect();
                let _ = write!(
                    cases,
                    "<failure message=\"{} policy error(s)\">{}</failure>",
                    errors.len(),
                    xml_escape(&body.join("\n"))
                );
            }
            let warnings: Vec<String> = mine
                .iter()
                .filter(|f| f.severity == Severity::Warn)
                .map(|f| format!("warning: {} [{}] {}", f.object, f.rule, f.message))
                .collect();
            if !warnings.is_empty() {
                let _ = write!(
                    cases,
                    "<system-out>{}</system-out>",
                    xml_escape(&warnings.join("\n"))
                );
            }
            cases.push_str("</testcase>\n");
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"agentops validate\" tests=\"{tests}\" failures=\"{failures}\" time=\"{seconds:.3}\">\n  <testsuite name=\"agentops validate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}
