//! The secret canary: a repository seeded with distinct canaries where secrets live; a
//! scripted model reads, greps, cats, renders and edits them, and writes one into a tool call
//! itself. No canary reaches a request the model received, the session log, stdout/stderr or
//! the result object.

use crate::common::{calls, platform, run_with, stderr, stdout, text};
use agentops_testkit::{FakeModelServer, git};
use serde_json::json;

const CANARIES: &[&str] = &[
    "cnry-secret-yaml-9d1",
    "cnry-literal-4e7",
    "cnry-envfile-2b8",
    "cnry-dotenv-url-6a3",
    "cnry-gitconfig-8f0",
    // Secret by meaning: keys and files that look like nothing, but end up in a Secret.
    "cnry-meaning-env-3d9",
    "cnry-meaning-file-7a1",
    "cnry-meaning-literal-1f4",
    "cnry-meaning-dotenv-0b6",
    // Last: what the model itself writes into a tool call.
    "cnry-model-input-5c2",
];

const MODEL_INPUT: usize = CANARIES.len() - 1;

fn call(id: &str, name: &str, args: serde_json::Value) -> agentops_testkit::Reply {
    calls(&[(id, name, &args.to_string())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_leaves_the_repository() {
    let sb = platform();
    sb.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Read", "Write", "Edit", "Bash"]}}"#,
    );
    sb.write(
        "apps/web/base/db-secret.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {}\n",
            CANARIES[0]
        ),
    );
    sb.write(
        "apps/web/overlays/dev/app.env",
        format!("DB_PASSWORD={}\n", CANARIES[2]),
    );
    sb.write(
        "apps/web/overlays/dev/secrets.yaml",
        format!(
            "secretGenerator:\n  - name: extra\n    literals:\n      - API_TOKEN={}\n",
            CANARIES[1]
        ),
    );
    sb.write(
        ".env",
        format!(
            "DATABASE_URL=postgres://app:{}@db:5432/app\nAPP_MODE={}\n",
            CANARIES[3], CANARIES[8]
        ),
    );
    // A generator whose env file, file and literal have ordinary names.
    sb.write(
        "apps/web/overlays/staging/settings.env",
        format!("REGION=eu-west-1\nUPSTREAM={}\n", CANARIES[5]),
    );
    sb.write(
        "apps/web/overlays/staging/upstream.conf",
        format!("endpoint {}\n", CANARIES[6]),
    );
    let staging = sb
        .repo()
        .join("apps/web/overlays/staging/kustomization.yaml");
    let mut kustomization = std::fs::read_to_string(&staging).unwrap();
    kustomization.push_str(&format!(
        "secretGenerator:\n  - name: upstream\n    envs:\n      - settings.env\n    files:\n      - upstream.conf\n    literals:\n      - MODE={}\n",
        CANARIES[7]
    ));
    std::fs::write(&staging, kustomization).unwrap();
    std::fs::remove_dir_all(sb.repo().join(".git")).unwrap();
    git(&sb.repo(), &["init", "-q", "-b", "main"]);
    git(
        &sb.repo(),
        &[
            "remote",
            "add",
            "origin",
            &format!(
                "https://bot:{}@git.example.com/org/platform.git",
                CANARIES[4]
            ),
        ],
    );
    let script = vec![
        call(
            "c1",
            "Read",
            json!({"file_path": "apps/web/base/db-secret.yaml"}),
        ),
        call("c2", "Grep", json!({"pattern": "cnry", "path": "."})),
        call(
            "c3",
            "Bash",
            json!({"command": "cat -n apps/web/base/db-secret.yaml apps/web/overlays/dev/app.env .env .git/config apps/web/overlays/dev/secrets.yaml apps/web/overlays/staging/*"}),
        ),
        call(
            "c4",
            "kustomize_build",
            json!({"path": "apps/web/overlays/dev"}),
        ),
        call("c5", "Read", json!({"file_path": ".env"})),
        call(
            "c7",
            "Read",
            json!({"file_path": "apps/web/overlays/staging/settings.env"}),
        ),
        call(
            "c8",
            "git_diff",
            json!({"path": "apps/web/overlays/staging"}),
        ),
        // Transformed output cannot be matched: the shell sees these files empty.
        call(
            "c9",
            "Bash",
            json!({"command": "rev apps/web/overlays/staging/settings.env .env; od -c apps/web/overlays/staging/upstream.conf | head -5; kubectl kustomize apps/web/overlays/staging > /dev/null && echo rendered"}),
        ),
        call(
            "c6",
            "Write",
            json!({"file_path": "notes/creds.txt", "content": format!("api_key: {}\n", CANARIES[MODEL_INPUT])}),
        ),
        text(&format!("All read. By the way the token is {}.", "<none>")),
    ];
    let server = FakeModelServer::start(script).await;
    let out = run_with(
        &sb,
        &server,
        &["run", "--output-format", "stream-json", "audit the secrets"],
    );
    // What the model was sent (it may see again what it wrote itself: the last canary).
    let mut sent = String::new();
    for r in server.requests() {
        sent.push_str(&r.body.to_string());
    }
    for canary in &CANARIES[..MODEL_INPUT] {
        assert!(!sent.contains(canary), "{canary} reached the model");
        let reversed: String = canary.chars().rev().collect();
        assert!(
            !sent.contains(&reversed),
            "{canary} reached the model reversed"
        );
    }
    // The shell still renders the overlay whose generator reads the hidden files.
    assert!(
        sent.contains("rendered"),
        "the render in the sandbox failed: {sent}"
    );
    let mut seen = String::new();
    seen.push_str(&stdout(&out));
    seen.push_str(&stderr(&out));
    for entry in std::fs::read_dir(sb.repo().join(".agentops/sessions")).unwrap() {
        seen.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
    }
    assert!(
        server.requests().len() >= 10,
        "the script ran: {}",
        stderr(&out)
    );
    for canary in CANARIES {
        if let Some(at) = seen.find(canary) {
            let from = seen[..at]
                .char_indices()
                .rev()
                .nth(300)
                .map_or(0, |(i, _)| i);
            panic!(
                "{canary} leaked: …{}…",
                &seen[from..(at + 200).min(seen.len())]
            );
        }
        let b64 = base64(canary);
        assert!(!seen.contains(&b64), "{canary} leaked as base64");
    }
}

/// Standard base64, enough for a test.
fn base64(text: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
