//! The tools agentops offers, by name.

use crate::argocd::{ArgoAppDiffTool, ArgoAppGetTool, ArgoAppSyncTool};
use crate::bash::BashTool;
use crate::edit::{EditTool, WriteTool};
use crate::files::{GlobTool, GrepTool, ReadTool};
use crate::git::{GitBlameTool, GitCommitTool, GitDiffTool, GitLogTool, GitStatusTool};
use crate::kube::{KubectlApplyTool, KubectlDiffTool, KubectlGetTool, KubectlRolloutStatusTool};
use crate::kustomize::KustomizeBuildTool;
use crate::tool::Tool;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
}

impl ToolRegistry {
    /// Every built-in tool.
    pub fn builtin() -> Self {
        let mut r = Self::default();
        r.register(Arc::new(ReadTool));
        r.register(Arc::new(GlobTool));
        r.register(Arc::new(GrepTool));
        r.register(Arc::new(WriteTool));
        r.register(Arc::new(EditTool));
        r.register(Arc::new(BashTool));
        r.register(Arc::new(KustomizeBuildTool));
        r.register(Arc::new(KubectlGetTool));
        r.register(Arc::new(KubectlDiffTool));
        r.register(Arc::new(KubectlApplyTool));
        r.register(Arc::new(KubectlRolloutStatusTool));
        r.register(Arc::new(ArgoAppGetTool));
        r.register(Arc::new(ArgoAppDiffTool));
        r.register(Arc::new(ArgoAppSyncTool));
        r.register(Arc::new(GitStatusTool));
        r.register(Arc::new(GitDiffTool));
        r.register(Arc::new(GitLogTool));
        r.register(Arc::new(GitBlameTool));
        r.register(Arc::new(GitCommitTool));
        r.register(Arc::new(crate::harmonize::HarmonizeTool));
        r.register(Arc::new(crate::find::FindTool));
        r.register(Arc::new(crate::add::AddObjectTool));
        r.register(Arc::new(crate::learnings::LearnTool));
        r
    }

    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.name(), tool);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.tools.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.values()
    }
}
