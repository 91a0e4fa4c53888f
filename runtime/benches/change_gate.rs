//! What the gates cost per planned change, on a copy of examples/platform with real
//! `kubectl kustomize` (render cache warm for the repository's own state, as in a session):
//! an overlay-only edit (1 overlay) and a base edit (the base and its 3 overlays).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentops_runtime::review::ChangeGate;
use agentops_tools::edit::{EditInput, EditTool};
use agentops_tools::tool::ToolContext;
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
    let ctx = ToolContext {
        cwd: root.clone(),
        root: root.clone(),
        timeout: Duration::from_secs(30),
        ..ToolContext::default()
    };
    let gate = ChangeGate::new(
        root.clone(),
        Default::default(),
        Some(root.join(".agentops/cache")),
        Duration::from_secs(60),
    );
    let edit = |file: &str, old: &str, new: &str| {
        EditTool::plan(
            &EditInput {
                file_path: file.into(),
                old_string: old.into(),
                new_string: new.into(),
                replace_all: false,
            },
            &ctx,
        )
        .unwrap()
    };
    let overlay = vec![edit(
        "apps/web/overlays/dev/replicas.yaml",
        "replicas: 1",
        "replicas: 2",
    )];
    let base = vec![edit(
        "apps/web/base/deployment.yaml",
        "cpu: 100m",
        "cpu: 150m",
    )];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Warm the render cache of the unchanged tree.
    rt.block_on(gate.review(&base)).unwrap();
    let mut group = c.benchmark_group("change_gate");
    group.sample_size(10);
    group.bench_function("overlay_edit_1_overlay", |b| {
        b.iter(|| assert!(rt.block_on(gate.review(&overlay)).unwrap().passed()));
    });
    group.bench_function("base_edit_4_kustomizations", |b| {
        b.iter(|| assert_eq!(rt.block_on(gate.review(&base)).unwrap().units.len(), 4));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
