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
    // staging and prod, so dev gets an `images:` entry of its own and the base stays.
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
        "--approve",
        "kind=StatefulSet",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("which apps/postgres/overlays/prod, apps/postgres/overlays/staging also build from: set in this overlay instead"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read(&sb, "apps/postgres/base/statefulset.yaml"), base);
    let dev = read(&sb, "apps/postgres/overlays/dev/kustomization.yaml");
    assert!(dev.contains(&format!("- name: {name}\n")), "{dev}");
    assert!(dev.contains("newTag: \"99.0\""), "{dev}");
    let rendered = |env: &str| common::kustomize(&sb, &format!("apps/postgres/overlays/{env}"));
    assert!(rendered("dev").contains(&format!("image: {name}:99.0")));
    assert!(rendered("staging").contains(&image));
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

/// `kubectl kustomize` of a folder of the sandbox's repository, parsed.
fn render(sb: &Sandbox, rel: &str) -> Vec<serde_json::Value> {
    agentops_tools::kustomize::parse_objects(&common::kustomize(sb, rel)).unwrap()
}

#[test]
fn a_label_reaches_every_object_of_the_app_and_no_selector() {
    let sb = platform();
    let selectors = |sb: &Sandbox, env: &str| -> Vec<String> {
        render(sb, &format!("apps/web/overlays/{env}"))
            .iter()
            .map(|o| {
                format!(
                    "{} {} {}",
                    o["spec"]["selector"],
                    o["spec"]["podSelector"],
                    o["spec"]["template"]["metadata"]["labels"]
                )
            })
            .collect()
    };
    let before: Vec<Vec<String>> = ["dev", "staging", "prod"]
        .iter()
        .map(|e| selectors(&sb, e))
        .collect();
    let prometheus = read(&sb, "apps/prometheus/overlays/prod/kustomization.yaml");
    // Without an app, a label would reach every app of the repository: refused, with the
    // calls that name one.
    let out = sb.run(&["harmonize", "--set", "label:cost-center=cc-4120"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(r#"{"set":"label:cost-center=cc-4120","app":"web","env":[]}"#),
        "{}",
        stderr(&out)
    );
    let set = [
        "harmonize",
        "--set",
        "label:cost-center=cc-4120",
        "--app",
        "web",
    ];
    // prod, and a label on prod's NetworkPolicy, need approval.
    let out = sb.run(&set);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let approved = [
        &set[..],
        &["--approve", "env=prod", "--approve", "kind=NetworkPolicy"],
    ]
    .concat();
    let out = sb.run(&approved);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    for (env, before) in ["dev", "staging", "prod"].iter().zip(&before) {
        let objects = render(&sb, &format!("apps/web/overlays/{env}"));
        assert!(objects.len() >= 3, "{env}");
        for o in &objects {
            assert_eq!(
                o["metadata"]["labels"]["cost-center"], "cc-4120",
                "{env}: {o}"
            );
        }
        assert_eq!(&selectors(&sb, env), before, "{env}: a selector changed");
        let k = read(&sb, &format!("apps/web/overlays/{env}/kustomization.yaml"));
        assert!(
            k.contains("- pairs:\n") && k.contains("cost-center: cc-4120"),
            "{k}"
        );
    }
    assert_eq!(
        read(&sb, "apps/prometheus/overlays/prod/kustomization.yaml"),
        prometheus
    );
    // Again: nothing to do.
    let out = sb.run(&approved);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("nothing to do"), "{}", stdout(&out));
}

#[test]
fn a_field_no_overlay_sets_is_added_as_one_patch_per_overlay_in_the_corpus() {
    let sb = Sandbox::new();
    common::copy_dir(
        &common::corpus().join("gitops/kubernetes-sigs__kustomize"),
        &sb.repo(),
    );
    let base = read(&sb, "examples/ldap/base/deployment.yaml");
    let path = "Deployment/ldap:spec.template.spec.containers[ldap].resources";
    for (field, value) in [("limits.cpu", "500m"), ("requests.memory", "256Mi")] {
        let out = sb.run(&[
            "harmonize",
            "--set",
            &format!("{path}.{field}={value}"),
            "--app",
            "ldap",
            "--approve",
            "reason=production",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("added as a strategic-merge patch"),
            "{}",
            stdout(&out)
        );
    }
    for env in ["staging", "production"] {
        let objects = render(&sb, &format!("examples/ldap/overlays/{env}"));
        let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["name"], "ldap");
        assert_eq!(container["resources"]["limits"]["cpu"], "500m", "{env}");
        assert_eq!(
            container["resources"]["requests"]["memory"], "256Mi",
            "{env}"
        );
        // Everything else the container had is still there.
        assert_eq!(container["image"], "osixia/openldap:1.1.11");
        // The second add went into the first one's patch: one file, listed once.
        let k = read(
            &sb,
            &format!("examples/ldap/overlays/{env}/kustomization.yaml"),
        );
        assert_eq!(k.matches("ldap-resources.yaml").count(), 1, "{k}");
    }
    assert_eq!(read(&sb, "examples/ldap/base/deployment.yaml"), base);
    // Set now: a second value is a one-line edit of the patch.
    let out = sb.run(&[
        "harmonize",
        "--set",
        &format!("{path}.limits.cpu=1"),
        "--app",
        "ldap",
        "--env",
        "staging",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let patch = read(&sb, "examples/ldap/overlays/staging/ldap-resources.yaml");
    assert!(
        patch.contains("cpu: 1\n") || patch.contains("cpu: \"1\"\n"),
        "{patch}"
    );
    // What cannot be added says what would work.
    let out = sb.run(&[
        "harmonize",
        "--set",
        "Deployment/ldap:spec.template.spec.containers[openldap].resources.limits.cpu=1",
        "--app",
        "ldap",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("the items are: ldap"), "{said}");
    let out = sb.run(&[
        "harmonize",
        "--set",
        "Deployment/ldap:spec.template.spec.containers[ldap].args[--debug]=1",
        "--app",
        "ldap",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("Add it with Edit"), "{said}");
    // A field the kind does not have is not added: the paths that do render are listed.
    let out = sb.run(&[
        "harmonize",
        "--set",
        "Deployment/ldap:spec.retention=30d",
        "--app",
        "ldap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(said.contains("Deployment has no such field"), "{said}");
}
