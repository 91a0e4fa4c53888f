//! `agentops validate`: real `kubectl kustomize` renders (parallel, cached by input hash) and
//! compliance policies, on the bundled example and on GitOps trees written by others.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, agentops, corpus, json, stderr};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn example_copy(sb: &Sandbox) {
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/platform"),
        &sb.repo(),
    );
}

fn overlay<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["overlays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == path)
        .unwrap_or_else(|| panic!("no overlay {path}"))
}

#[test]
fn the_example_repo_passes_every_gate() {
    let sb = Sandbox::new();
    example_copy(&sb);
    let out = sb.run(&["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["summary"]["overlays"], 12);
    assert_eq!(r["summary"]["failed"], 0);
    // 60 rendered objects and the 9 Argo CD Applications of the two cluster folders.
    assert_eq!(r["summary"]["objects"], 69);
    assert_eq!(r["summary"]["manifest_folders"], 2);
    assert_eq!(r["manifests"][1]["path"], "argocd/prod");
    assert_eq!(r["manifests"][1]["objects"], 3);
    assert_eq!(
        r["findings"].as_array().unwrap().len(),
        0,
        "{}",
        r["findings"]
    );
    assert_eq!(overlay(&r, "apps/web/overlays/prod")["objects"], 5);

    let out = sb.run(&[
        "validate", "--app", "postgres", "--env", "prod", "--format", "json",
    ]);
    let r = json(&out);
    assert_eq!(r["summary"]["overlays"], 1);
    assert_eq!(r["overlays"][0]["path"], "apps/postgres/overlays/prod");
}

#[test]
fn cache_reuses_unchanged_renders_and_rerenders_what_changed() {
    let sb = Sandbox::new();
    example_copy(&sb);
    let first = json(&sb.run(&["validate", "--format", "json"]));
    assert!(
        first["overlays"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["cached"] == false)
    );
    let second = json(&sb.run(&["validate", "--format", "json"]));
    assert!(
        second["overlays"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["cached"] == true)
    );

    // One file of one base changes: that base and its three overlays render again.
    let deployment = sb.repo().join("apps/web/base/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(&deployment, text.replace("cpu: 500m", "cpu: 750m")).unwrap();
    let third = json(&sb.run(&["validate", "--format", "json"]));
    let rerendered: Vec<&str> = third["overlays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["cached"] == false)
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        rerendered,
        [
            "apps/web/base",
            "apps/web/overlays/dev",
            "apps/web/overlays/prod",
            "apps/web/overlays/staging"
        ]
    );
}

#[test]
fn policy_findings_name_file_object_and_rule_and_fail_the_run() {
    let sb = Sandbox::new();
    example_copy(&sb);
    sb.write(
        "agentops.toml",
        "[policy]\napproved_registries = [\"registry.example.com/\", \"quay.io/prometheus/\"]\n",
    );
    let deployment = sb.repo().join("apps/web/base/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    let without_limits = text.replace(
        "            limits:\n              cpu: 500m\n              memory: 256Mi\n",
        "",
    );
    assert_ne!(text, without_limits);
    std::fs::write(&deployment, without_limits).unwrap();
    let out = sb.run(&["validate", "--env", "prod", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    let findings: Vec<(String, String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["file"].as_str().unwrap().into(),
                f["object"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        findings.contains(&(
            "resource-limits".into(),
            "apps/web/overlays/prod".into(),
            "Deployment/web-prod/web".into()
        )),
        "{findings:?}"
    );
    // postgres comes from docker.io, which is not approved.
    assert!(
        findings.contains(&(
            "approved-registries".into(),
            "apps/postgres/overlays/prod".into(),
            "StatefulSet/data-prod/postgres".into()
        )),
        "{findings:?}"
    );

    let text = common::stdout(&sb.run(&["validate", "--env", "prod"]));
    assert!(text.contains("error: apps/web/overlays/prod: Deployment/web-prod/web [resource-limits] container `web` has no resources.limits"), "{text}");
}

/// BUILDS.tsv: which kustomizations of the corpus build offline, and why the others do not.
fn builds() -> BTreeMap<String, (String, String, u64)> {
    let tsv = std::fs::read_to_string(corpus().join("gitops/BUILDS.tsv")).unwrap();
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let path = format!("{}/{}", c[0].replace('/', "__"), c[1]);
            (
                path,
                (
                    c[3].to_string(),
                    c[5].to_string(),
                    c[4].parse().unwrap_or(0),
                ),
            )
        })
        .collect()
}

#[test]
fn the_gitops_corpus_renders_as_builds_tsv_says_with_real_reasons_and_findings() {
    let gitops = corpus().join("gitops");
    let home = tempfile::tempdir().unwrap();
    let out = agentops(&gitops, home.path(), &["validate", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures and findings exist: {}",
        stderr(&out)
    );
    let r = json(&out);
    let expected = builds();
    assert_eq!(
        r["summary"]["overlays"].as_u64().unwrap() as usize,
        expected.len()
    );
    for o in r["overlays"].as_array().unwrap() {
        let path = o["path"].as_str().unwrap();
        let (result, category, objects) = expected
            .get(path)
            .unwrap_or_else(|| panic!("{path} not in BUILDS.tsv"));
        if result == "ok" {
            assert_eq!(o["status"], "ok", "{path}: {}", o["error"]);
            assert_eq!(o["objects"].as_u64().unwrap(), *objects, "{path}");
        } else {
            assert_eq!(o["status"], "failed", "{path}");
            let error = o["error"].as_str().unwrap();
            let why = if category.starts_with("helmCharts") {
                "helm"
            } else if category.starts_with("remote") {
                "https://"
            } else {
                "no such file or directory"
            };
            assert!(error.contains(why), "{path} ({category}): {error}");
        }
    }
    assert_eq!(r["summary"]["failed"], 18);
    let findings = r["findings"].as_array().unwrap();
    let limits = findings
        .iter()
        .find(|f| {
            f["rule"] == "resource-limits"
                && f["file"] == "kubernetes-sigs__kustomize/examples/helloWorld"
        })
        .unwrap_or_else(|| panic!("no limits finding for helloWorld"));
    assert_eq!(limits["object"], "Deployment/the-deployment");
    assert_eq!(limits["severity"], "error");
    assert!(findings.iter().any(|f| f["rule"] == "kustomize-deprecation"
        && f["file"] == "kubernetes-sigs__kustomize/examples/helloWorld"
        && f["message"].as_str().unwrap().contains("commonLabels")));
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema_and_junit_is_well_formed() {
    let gitops = corpus().join("gitops/kubernetes-sigs__kustomize");
    let home = tempfile::tempdir().unwrap();
    let out = agentops(&gitops, home.path(), &["validate", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sarif = json(&out);
    // The schema's `run.language` pattern ends in `]?`, a literal `]` in ECMAScript regexes
    // that Rust's regex syntax wants escaped; the escaped form means the same.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-2.1.0-rtm.5.json"),
    )
    .unwrap()
    .replace("{2}]?$", "{2}\\\\]?$");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "resource-limits"
        && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == "examples/helloWorld/kustomization.yaml"
        && r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            == "Deployment/the-deployment"));
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "kustomize-deprecation" && r["level"] == "warning")
    );
    // Builds that fail are results too (the redhat-cop tree has broken paths and helm charts).
    let redhat = corpus().join("gitops/redhat-cop__gitops-standards-repo-template");
    let out = agentops(&redhat, home.path(), &["validate", "--format", "sarif"]);
    let broken = json(&out);
    assert!(validator.is_valid(&broken));
    let builds = broken["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "kustomize-build")
        .count();
    assert_eq!(builds, 16);

    let out = agentops(&gitops, home.path(), &["validate", "--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = common::stdout(&out);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    let cases: Vec<_> = suites
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let failures = suites
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(
        suites.attribute("tests").unwrap().parse::<usize>().unwrap(),
        cases.len()
    );
    assert_eq!(
        suites
            .attribute("failures")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        failures
    );
    assert!(failures > 0);
    assert!(
        cases
            .iter()
            .any(|c| c.attribute("name") == Some("examples/helloWorld")
                && c.attribute("classname") == Some("policy"))
    );
}

#[test]
fn schema_gate_rejects_wrong_types_and_unknown_fields_with_the_object_and_path() {
    let sb = Sandbox::new();
    example_copy(&sb);
    let patch = sb.repo().join("apps/web/overlays/dev/replicas.yaml");
    let text = std::fs::read_to_string(&patch).unwrap();
    std::fs::write(
        &patch,
        text.replace("replicas: 1", "replicas: one\n  revisionHistoryLimitt: 3"),
    )
    .unwrap();
    let out = sb.run(&["validate", "--app", "web", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    let schema: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "schema")
        .collect();
    assert_eq!(schema.len(), 1, "{schema:?}");
    assert_eq!(schema[0]["file"], "apps/web/overlays/dev");
    assert_eq!(schema[0]["object"], "Deployment/web-dev/web");
    let message = schema[0]["message"].as_str().unwrap();
    assert!(message.contains("/spec/replicas"), "{message}");
    assert!(message.contains("revisionHistoryLimitt"), "{message}");
}

#[test]
fn plain_manifest_folders_are_schema_checked_file_by_file() {
    let sb = Sandbox::new();
    example_copy(&sb);
    let app = sb.repo().join("argocd/prod/web-prod.yaml");
    let text = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, text.replace("  destination:", "  destinaton:")).unwrap();
    sb.write(
        "argocd/prod/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n",
    );
    // Not manifests: CI configuration, a Helm chart's templates.
    sb.write(".github/workflows/ci.yaml", "on: push\njobs: {}\n");
    sb.write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\n");
    sb.write(
        "charts/web/templates/d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{ .Values.x }}\n",
    );
    let out = sb.run(&["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    let findings = r["findings"].as_array().unwrap();
    let schema = findings
        .iter()
        .find(|f| f["rule"] == "schema")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(schema["file"], "argocd/prod/web-prod.yaml");
    assert_eq!(schema["object"], "Application/argocd/web-prod");
    assert!(
        schema["message"].as_str().unwrap().contains("destinaton"),
        "{schema}"
    );
    let prod = r["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "argocd/prod")
        .unwrap();
    assert_eq!(prod["status"], "failed");
    assert!(
        prod["error"]
            .as_str()
            .unwrap()
            .starts_with("argocd/prod/broken.yaml: "),
        "{prod}"
    );
    assert_eq!(r["summary"]["manifest_folders"], 2, "{}", r["manifests"]);
}

#[test]
fn an_argocd_application_pointing_at_a_missing_overlay_is_an_error() {
    let sb = Sandbox::new();
    example_copy(&sb);
    let app = sb.repo().join("argocd/nonprod/web-dev.yaml");
    let text = std::fs::read_to_string(&app).unwrap().replace(
        "path: apps/web/overlays/dev",
        "path: apps/web/overlays/develop",
    );
    std::fs::write(&app, text).unwrap();
    // Twice: the second run reads the folder's checks from the cache, and still finds it.
    for _ in 0..2 {
        let out = sb.run(&["validate", "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{}", common::stdout(&out));
        let report = json(&out);
        let found: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "argocd-app-path")
            .collect();
        assert_eq!(found.len(), 1, "{report:#}");
        assert_eq!(found[0]["file"], "argocd/nonprod/web-dev.yaml");
        assert_eq!(found[0]["object"], "Application/web-dev");
        assert!(
            found[0]["message"]
                .as_str()
                .unwrap()
                .contains("apps/web/overlays/develop")
        );
    }
}
