//! `rocketchat-import action` (the GitHub Action's step) as the runner starts it: the real
//! binary with `INPUT_*` variables, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files, against the
//! Rocket.Chat sandbox over loopback. The token is masked before anything else is printed and
//! appears nowhere else; progress is folded in a log group; the job summary is a table on
//! success, failure and bad input; a bad input is an error annotation naming it, exit 2, with
//! nothing sent. (`tests/rocketchat_act.rs` runs the whole action under real `act`.)

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use woosmap_sandbox::rocketchat::{DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, RocketChatHandle};

struct Step {
    out: Output,
    stdout: String,
    outputs: String,
    summary: String,
}

async fn sandbox() -> RocketChatHandle {
    common::rocketchat::sandbox_2s_window(Duration::from_millis(200)).await
}

/// Runs the step with these inputs (composite-action spelling: `INPUT_USER_ID`…).
async fn step(sb: &RocketChatHandle, inputs: &[(&str, &str)]) -> Step {
    let dir = tempfile::tempdir().unwrap();
    let (outputs, summary) = (dir.path().join("output"), dir.path().join("summary"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocketchat-import"));
    cmd.arg("action")
        .env_remove("ROCKETCHAT_URL")
        .env_remove("ROCKETCHAT_USER_ID")
        .env_remove("ROCKETCHAT_AUTH_TOKEN")
        .env_remove("WOOSMAP_LOG")
        .env("WOOSMAP_PACER_DIR", dir.path())
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("INPUT_URL", sb.base_url())
        .env("INPUT_USER_ID", DEFAULT_USER_ID)
        .env("INPUT_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
        .env("INPUT_POLL_INTERVAL", "50ms")
        .stdin(Stdio::null());
    for (k, v) in inputs {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    Step {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        out,
    }
}

const ANN: &str = r#"[{"username":"ann","emails":["ann@example.com"],"importIds":["ann"]}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_import_masks_groups_and_summarises() {
    let sb = sandbox().await;
    let s = step(&sb, &[("INPUT_USERS", ANN)]).await;
    assert_eq!(
        s.out.status.code(),
        Some(0),
        "{}{}",
        s.stdout,
        String::from_utf8_lossy(&s.out.stderr)
    );
    let first = s.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("::add-mask::{DEFAULT_AUTH_TOKEN}"),
        "the mask comes first"
    );
    assert_eq!(
        s.stdout.matches(DEFAULT_AUTH_TOKEN).count(),
        1,
        "the token only in the mask: {}",
        s.stdout
    );
    let group = s
        .stdout
        .find("::group::Rocket.Chat import of 1 user(s)")
        .expect("a group");
    let started = s.stdout.find("Created import operation").expect("progress");
    let end = s.stdout.find("::endgroup::").expect("the group ends");
    assert!(group < started && started < end, "{}", s.stdout);
    assert!(s.outputs.contains("outcome=success\n"), "{}", s.outputs);
    assert!(s.outputs.contains("count-completed=1\n"), "{}", s.outputs);
    assert!(
        s.summary
            .starts_with("### ✅ Rocket.Chat import: success\n"),
        "{}",
        s.summary
    );
    assert!(
        s.summary
            .contains("| Users | total 1, completed 1, error 0 |"),
        "{}",
        s.summary
    );
    assert!(!s.summary.contains(DEFAULT_AUTH_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_import_has_an_error_annotation_and_a_summary() {
    let sb = sandbox().await;
    let users = r#"[{"username":"will-fail","emails":["x@example.com"],"importIds":["x"]}]"#;
    let s = step(&sb, &[("INPUT_USERS", users)]).await;
    assert_eq!(s.out.status.code(), Some(1), "{}", s.stdout);
    assert!(
        s.stdout
            .contains("::error title=Rocket.Chat import (user_errors)::Operation "),
        "{}",
        s.stdout
    );
    assert!(
        s.summary
            .starts_with("### ❌ Rocket.Chat import: user_errors\n"),
        "{}",
        s.summary
    );
    assert!(
        s.summary
            .contains("| Users | total 1, completed 0, error 1 |"),
        "{}",
        s.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_input_is_named_summarised_and_nothing_is_sent() {
    let sb = sandbox().await;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("INPUT_USERS", ANN), ("INPUT_ABORT_RUNNING", "yes")],
            "abort-running",
        ),
        (&[("INPUT_USERS", "[{\"emails\":[\"a@b.c\"]}]")], "users"),
        (
            &[("INPUT_USERS", ANN), ("INPUT_TIMEOUT", "soon")],
            "timeout",
        ),
        (
            &[
                ("INPUT_USERS", ANN),
                ("INPUT_AUTH_TOKEN", "secret-Zk4\r\nX: 1"),
            ],
            "auth-token",
        ),
    ];
    for (inputs, name) in cases {
        let s = step(&sb, inputs).await;
        assert_eq!(s.out.status.code(), Some(2), "{name}: {}", s.stdout);
        assert!(
            s.stdout
                .contains(&format!("::error title=Invalid input `{name}`::")),
            "{name}: {}",
            s.stdout
        );
        assert!(
            s.outputs.contains("outcome=usage\n"),
            "{name}: {}",
            s.outputs
        );
        assert!(
            s.summary.starts_with("### ❌ Rocket.Chat import: usage\n"),
            "{}",
            s.summary
        );
        let all = format!("{}{}{}", s.stdout, s.outputs, s.summary);
        assert_eq!(
            all.matches("secret-Zk4").count(),
            usize::from(name == "auth-token"),
            "the token only in its mask: {all}"
        );
    }
    assert_eq!(sb.stats().requests, 0);
}
