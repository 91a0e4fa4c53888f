//! What the shell's sandbox costs per command (namespaces, overlayfs, the change-set walk),
//! next to the same command run directly: `true`, and a `sed -i` of one manifest in a copy of
//! examples/platform (the change set then holds one file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_tools::sandbox::SandboxConfig;
use agentops_tools::shell::{ShellCommand, run};
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    agentops_testkit::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/platform"),
        &root,
    );
    let root = root.canonicalize().unwrap();
    let sandbox = SandboxConfig::probe(&tmp.path().join("scratch"), false)
        .expect("the sandbox works on this machine");
    let timeout = Duration::from_secs(30);
    let sed = "sed -i 's/replicas: 4/replicas: 5/' apps/web/overlays/prod/replicas.yaml";
    let mut group = c.benchmark_group("shell");
    group.sample_size(30);
    group.bench_function("direct_true", |b| {
        b.iter(|| {
            let cmd = ShellCommand {
                script: "true".into(),
                cwd: root.clone(),
                timeout,
            };
            assert_eq!(run(&cmd).unwrap().exit_code, Some(0));
        })
    });
    group.bench_function("sandboxed_true", |b| {
        b.iter(|| {
            let run = sandbox.run(&root, &root, "true", timeout).unwrap();
            assert_eq!(run.result.exit_code, Some(0));
        })
    });
    group.bench_function("sandboxed_sed_one_manifest", |b| {
        b.iter(|| {
            let run = sandbox.run(&root, &root, sed, timeout).unwrap();
            assert_eq!(run.changes.len(), 1);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
