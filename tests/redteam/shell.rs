//! The shell's after-the-fact diff is gone: `Bash` runs in the sandbox and its change set goes
//! through the gates like a `Write`. Background jobs, symlinks, big files, odd extensions,
//! commits, pushes and staged moves all end with nothing changed outside the gates.

use crate::common::{Sandbox, calls, platform, result_of, run_with, stderr, text};
use agentops_testkit::{FakeModelServer, git};
use serde_json::{Value, json};
use std::time::Duration;

const PROD: &str = "apps/web/overlays/prod/replicas.yaml";

fn bash(command: &str) -> agentops_testkit::Reply {
    let args = json!({ "command": command });
    calls(&[("c1", "Bash", &args.to_string())])
}

/// The platform example where every shell command is allowed by the rules: only the sandbox
/// and the gates stand in the way.
fn shell_allowed() -> Sandbox {
    let sb = platform();
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Edit", "Write", "Read", "Bash"]}}"#,
    );
    sb
}

async fn attack(sb: &Sandbox, command: &str) -> (Value, Option<i32>, String) {
    let server = FakeModelServer::start(vec![bash(command), text("done")]).await;
    let out = run_with(sb, &server, &["run", "--output-format", "json", "do it"]);
    let told = server
        .requests()
        .get(1)
        .map(|r| r.body["messages"].to_string())
        .unwrap_or_default();
    (
        result_of(&out),
        out.status.code(),
        format!("{told}\n{}", stderr(&out)),
    )
}

fn read(sb: &Sandbox, rel: &str) -> String {
    std::fs::read_to_string(sb.repo().join(rel)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_sed_goes_pending_and_the_file_stays_untouched() {
    let sb = shell_allowed();
    let before = read(&sb, PROD);
    let (result, code, _) =
        attack(&sb, &format!("sed -i 's/replicas: 4/replicas: 9/' {PROD}")).await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(code, Some(3));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(read(&sb, PROD), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_background_job_never_lands() {
    let sb = shell_allowed();
    let before = read(&sb, PROD);
    let (result, code, _) = attack(
        &sb,
        &format!(
            "(sleep 2; sed -i 's/replicas: 4/replicas: 9/' {PROD}) > /dev/null 2>&1 & echo started"
        ),
    )
    .await;
    assert_eq!(result["outcome"], "success", "{result:#}");
    assert_eq!(code, Some(0));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        read(&sb, PROD),
        before,
        "the background job reached the repository"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_big_files_and_odd_extensions_are_all_in_the_change_set() {
    // A manifest replaced by a symlink cannot be gated as text: nothing of the set is applied.
    let sb = shell_allowed();
    let before = read(&sb, PROD);
    let (result, _, told) = attack(
        &sb,
        &format!("ln -sf /etc/hostname {PROD}; echo ok > apps/web/notes.txt"),
    )
    .await;
    assert!(told.contains("were NOT applied"), "{told}");
    assert!(!sb.repo().join(PROD).is_symlink());
    assert_eq!(read(&sb, PROD), before);
    assert!(!sb.repo().join("apps/web/notes.txt").exists(), "{result:#}");

    // A manifest padded past any snapshot cap (2 MB of comments) with a real change in it:
    // still seen, still gated (production is high risk).
    let sb = shell_allowed();
    let (result, code, _) = attack(
        &sb,
        &format!(
            "sed -i 's/replicas: 4/replicas: 9/' {PROD}; yes '# pad' | head -n 300000 >> {PROD}"
        ),
    )
    .await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(code, Some(3));
    assert_eq!(read(&sb, PROD), before);

    // A kustomize generator input with another extension, wired into the prod overlay.
    let sb = shell_allowed();
    let kustomization = read(&sb, "apps/web/overlays/prod/kustomization.yaml");
    let (result, code, _) = attack(
        &sb,
        "echo 'MODE=debug' > apps/web/overlays/prod/app.conf; printf 'configMapGenerator:\n  - name: extra\n    files:\n      - app.conf\n' >> apps/web/overlays/prod/kustomization.yaml",
    )
    .await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(code, Some(3));
    assert!(!sb.repo().join("apps/web/overlays/prod/app.conf").exists());
    assert_eq!(
        read(&sb, "apps/web/overlays/prod/kustomization.yaml"),
        kustomization
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_push_and_staged_moves_inside_the_sandbox_change_no_git_state() {
    let sb = shell_allowed();
    let origin = sb.dir.path().join("origin.git");
    std::fs::remove_dir_all(sb.repo().join(".git")).unwrap();
    git(&sb.repo(), &["init", "-q", "-b", "main"]);
    git(&sb.repo(), &["add", "-A"]);
    git(&sb.repo(), &["commit", "-q", "-m", "feat: platform"]);
    git(
        sb.dir.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    git(
        &sb.repo(),
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git(&sb.repo(), &["push", "-q", "origin", "main"]);
    let head = git(&sb.repo(), &["rev-parse", "HEAD"]);
    let origin_head = git(&origin, &["rev-parse", "main"]);

    let (result, _, _) = attack(
        &sb,
        &format!(
            "sed -i 's/replicas: 4/replicas: 9/' {PROD} && git -c user.name=m -c user.email=m@x commit -qam 'scale' && git push -q origin main; git mv apps/web/overlays/prod apps/web/overlays/prod2"
        ),
    )
    .await;
    assert_ne!(result["outcome"], "success", "{result:#}");
    assert_eq!(git(&sb.repo(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&origin, &["rev-parse", "main"]), origin_head, "pushed");
    // agentops' own state (.agentops/, ignored) aside.
    assert_eq!(
        git(
            &sb.repo(),
            &["status", "--porcelain", "--", ".", ":!.agentops"]
        ),
        "",
        "index or tree changed"
    );
    assert!(sb.repo().join("apps/web/overlays/prod").is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_into_agentops_toml_is_not_covered_by_an_echo_rule_and_is_a_control_change() {
    // `Bash(echo:*)` does not vouch for a redirection into a file: refused by the rules.
    let sb = platform();
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Bash(echo:*)"]}}"#,
    );
    let (result, code, _) = attack(
        &sb,
        "echo '[permissions]' > agentops.toml; echo 'allow = [\"Bash\"]' >> agentops.toml",
    )
    .await;
    assert_eq!(result["outcome"], "denied", "{result:#}");
    assert_eq!(code, Some(3));
    assert!(!sb.repo().join("agentops.toml").exists());

    // Where the shell is allowed, the change is a control change waiting for a person.
    let sb = shell_allowed();
    let (result, code, _) = attack(
        &sb,
        "echo '[permissions]' > agentops.toml; echo 'allow = [\"Bash\"]' >> agentops.toml",
    )
    .await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(code, Some(3));
    assert_eq!(
        result["pending_approvals"][0]["units"][0]["reasons"][0]["code"],
        "control"
    );
    assert!(!sb.repo().join("agentops.toml").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_files_do_not_hide_a_production_change() {
    // The old snapshot stopped at 50,000 files; the sandbox's change set has no cap.
    let sb = shell_allowed();
    let before = read(&sb, PROD);
    let (result, code, _) = attack(
        &sb,
        &format!(
            "mkdir -p junk && cd junk && seq 1 50001 | xargs touch && cd .. && sed -i 's/replicas: 4/replicas: 9/' {PROD}"
        ),
    )
    .await;
    assert_eq!(result["outcome"], "approval_required", "{result:#}");
    assert_eq!(code, Some(3));
    assert_eq!(read(&sb, PROD), before);
    assert!(
        !sb.repo().join("junk").exists(),
        "part of a refused change set was applied"
    );
}

/// An `Edit(...)` deny rule covers a file whichever way it would change: a shell command's
/// change set that touches it is refused whole, even for an allowed command in a low-risk
/// environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_deny_rule_covers_the_shells_change_set() {
    let sb = platform();
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Bash"], "deny": ["Edit(./apps/prometheus/**)"]}}"#,
    );
    let dev = "apps/prometheus/overlays/dev/retention.yaml";
    let before = read(&sb, dev);
    let (_, _, told) = attack(&sb, &format!("sed -i 's/=7d/=1d/' {dev}")).await;
    assert!(
        told.contains(&format!(
            "nothing was written: the command would change {dev}"
        )),
        "{told}"
    );
    assert_eq!(read(&sb, dev), before);
}
