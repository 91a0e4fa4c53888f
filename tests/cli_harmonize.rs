//! `agentops harmonize` with no model, on a copy of examples/platform and on the Flux example
//! of the gitops corpus (a tree no one here wrote), with real `kubectl kustomize`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Sandbox, platform, stderr, stdout};
use std::path::Path;

const RETENTION: &str = "Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=30d";

fn read(sb: &Sandbox, rel: &str) -> String {
    std::fs::read_to_string(sb.repo().join(rel)).unwrap()
}

/// The lines that differ between two versions of a file (same line count expected).
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    assert_eq!(before.lines().count(), after.lines().count());
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn prometheus_retention_across_every_environment_exactly_the_intended_lines() {
    let sb = platform();
    let envs = ["dev", "staging", "prod"];
    let file = |env: &str| format!("apps/prometheus/overlays/{env}/retention.yaml");
    let before: Vec<String> = envs.iter().map(|e| read(&sb, &file(e))).collect();

    // Dry run: shows the plan and the gates, writes nothing.
    let out = sb.run(&["harmonize", "--set", RETENTION, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("high risk: targets production (prod)"),
        "{}",
        stdout(&out)
    );
    for (e, b) in envs.iter().zip(&before) {
        assert_eq!(&read(&sb, &file(e)), b);
    }

    // prod needs approval: without it nothing is written (exit 3).
    let out = sb.run(&["harmonize", "--set", RETENTION]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--approve id=apr-"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&sb, &file("prod")), before[2]);

    let out = sb.run(&[
        "harmonize",
        "--set",
        RETENTION,
        "--approve",
        "env=prod",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = common::json(&out);
    assert_eq!(report["outcome"], "written");
    assert_eq!(report["targets"].as_array().unwrap().len(), 3);
    for unit in report["gates"].as_array().unwrap() {
        assert_eq!(unit["passed"], true, "{unit}");
    }
    for (e, b) in envs.iter().zip(&before) {
        let after = read(&sb, &file(e));
        // Exactly one line changed per environment; the comment above it is kept.
        let old_days = if *e == "dev" { "7d" } else { "15d" };
        assert_eq!(
            changed_lines(b, &after),
            [(
                format!("  value: --storage.tsdb.retention.time={old_days}"),
                "  value: --storage.tsdb.retention.time=30d".to_string()
            )],
            "{e}"
        );
        assert!(after.starts_with(&format!("# How long {e} keeps metrics.")));
    }
    // Every gate passes on the result.
    let out = sb.run(&["validate", "--app", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A second run is a no-op.
    let snapshot: Vec<String> = envs.iter().map(|e| read(&sb, &file(e))).collect();
    let out = sb.run(&["harmonize", "--set", RETENTION, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = common::json(&out);
    assert_eq!(report["outcome"], "no_change");
    assert!(
        report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "already")
    );
    let again: Vec<String> = envs.iter().map(|e| read(&sb, &file(e))).collect();
    assert_eq!(again, snapshot);
}

#[test]
fn refuses_immutable_fields_unknown_objects_and_bases_shared_with_left_out_overlays() {
    let sb = platform();
    let out = sb.run(&[
        "harmonize",
        "--set",
        "Deployment/web:spec.selector.matchLabels.app=x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("immutable"), "{}", stderr(&out));
    let out = sb.run(&["harmonize", "--set", "Deployment/nope:spec.replicas=3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no overlay renders Deployment/nope"),
        "{}",
        stderr(&out)
    );

    // The StatefulSet's image is set in the base only: for dev alone that line is shared with
    // staging and prod, so it is refused with the reason, and nothing is written.
    let base = read(&sb, "apps/postgres/base/statefulset.yaml");
    let image_line = base
        .lines()
        .find(|l| l.contains("image:"))
        .unwrap()
        .trim()
        .to_string();
    let image = image_line.trim_start_matches("image:").trim().to_string();
    let (name, _) = image.rsplit_once(':').unwrap();
    let out = sb.run(&[
        "harmonize",
        "--set",
        &format!("image:{name}=99.0"),
        "--env",
        "dev",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("which apps/postgres/overlays/"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read(&sb, "apps/postgres/base/statefulset.yaml"), base);
}

#[test]
fn harmonizes_the_flux_example_of_the_corpus() {
    let sb = Sandbox::new();
    common::copy_dir(
        &common::corpus().join("gitops/fluxcd__flux2-kustomize-helm-example"),
        &sb.repo(),
    );
    let base = "apps/base/podinfo/release.yaml";
    let before = read(&sb, base);
    // The redis image tag comes from the base both environments build on: one line there.
    let out = sb.run(&[
        "harmonize",
        "--set",
        "HelmRelease/podinfo:spec.values.redis.tag=8.7.0",
        "--env",
        "staging,production",
        // `apps/production` is production by its own name: approved here.
        "--approve",
        "env=production",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        changed_lines(&before, &read(&sb, base)),
        [(
            "      tag: 8.6.2".to_string(),
            "      tag: 8.7.0".to_string()
        )]
    );
    for env in ["staging", "production"] {
        let rendered = std::process::Command::new("kubectl")
            .args([
                "kustomize",
                &sb.repo().join("apps").join(env).display().to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&rendered.stdout).contains("tag: 8.7.0"),
            "{env}"
        );
    }
    // The chart version differs per environment and is quoted in each patch: both patches
    // change, their quotes kept.
    let out = sb.run(&[
        "harmonize",
        "--set",
        "HelmRelease/podinfo:spec.chart.spec.version=>=1.2.0",
        "--approve",
        "env=production",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    for env in ["staging", "production"] {
        let patch = read(&sb, &format!("apps/{env}/podinfo-values.yaml"));
        assert!(patch.contains("      version: \">=1.2.0\"\n"), "{patch}");
    }
    assert!(Path::new(&sb.repo().join(base)).exists());
}

#[test]
fn a_path_that_renders_nothing_is_answered_with_paths_that_do() {
    let sb = platform();
    // The retention is an argument of the container, not a spec field: the error lists the
    // path that renders, ready to copy, with each overlay's value and the line that sets it.
    let out = sb.run(&[
        "harmonize",
        "--set",
        "Deployment/prometheus:spec.retention=30d",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("`Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]="),
        "{err}"
    );
    assert!(
        err.contains(
            "apps/prometheus/overlays/dev: 7d  (set at apps/prometheus/overlays/dev/retention.yaml:"
        ),
        "{err}"
    );
    // The path it suggests works as given.
    let out = sb.run(&[
        "harmonize",
        "--set",
        "Deployment/prometheus:spec.template.spec.containers[prometheus].args[--storage.tsdb.retention.time]=30d",
        "--dry-run",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
