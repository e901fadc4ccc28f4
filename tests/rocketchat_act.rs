//! The Rocket.Chat action (`rocketchat/action.yml`) run by real `act` in host mode against an
//! in-process Rocket.Chat sandbox, through `tests/act/rocketchat.yml`: `success` imports two
//! users and a later step reads the outputs; `user-errors` fails the job (exit 1) with an
//! error annotation; `allowed` passes with `allow-user-errors`; `bad-token` exits 4 with the server's message;
//! `bad-input` exits 2 with an error annotation naming the input, nothing sent, and its
//! `outcome` output says `usage`.
//! The tokens never appear; the action's install step finds `rocketchat-import` itself.

mod common;

use std::time::Duration;

use common::act;
use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, RocketChatConfig, RocketChatSandbox,
};

const WORKFLOW: &str = "tests/act/rocketchat.yml";
const WRONG_TOKEN: &str = "wrong-token-Kd03";

#[tokio::test(flavor = "multi_thread")]
async fn the_rocketchat_action_runs_under_act() {
    let sb = RocketChatSandbox::start(RocketChatConfig {
        limit_window: Duration::from_secs(2),
        import_duration: Duration::from_millis(300),
        ..RocketChatConfig::default()
    })
    .await
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = act::command(std::path::Path::new(WORKFLOW), scratch.path());
    cmd.args(["-s", &format!("ROCKETCHAT_AUTH_TOKEN={DEFAULT_AUTH_TOKEN}")])
        .args(["-s", &format!("WRONG_TOKEN={WRONG_TOKEN}")])
        .args(["--var", &format!("ROCKETCHAT_URL={}", sb.base_url())])
        .args(["--var", &format!("ROCKETCHAT_USER_ID={DEFAULT_USER_ID}")])
        .args([
            "--env",
            &format!("XDG_RUNTIME_DIR={}", scratch.path().display()),
        ])
        .arg("-j");
    let run = |job: &'static str, mut cmd: std::process::Command| async move {
        cmd.arg(job);
        tokio::task::spawn_blocking(move || act::run_with_limit(cmd, Duration::from_secs(180)))
            .await
            .unwrap()
    };
    let clone = |c: &std::process::Command| {
        let mut n = std::process::Command::new(c.get_program());
        n.args(c.get_args())
            .current_dir(c.get_current_dir().unwrap());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => n.env(k, v),
                None => n.env_remove(k),
            };
        }
        n
    };

    let (code, log) = run("success", clone(&cmd)).await;
    eprintln!("{log}");
    assert!(!log.contains(DEFAULT_AUTH_TOKEN), "the token leaked");
    assert_eq!(code, 0);
    let lines = act::job_lines(&log, "rocketchat-under-act", "success");
    assert!(lines.contains("seen outcome=success operation="), "{lines}");
    assert!(lines.contains("completed=2 errors=0"), "{lines}");
    // The action's install step found the binary of this build (scripts/action-install.sh).
    assert!(
        lines.contains("rocketchat-import: using "),
        "the install step did not run: {lines}"
    );

    let (code, log) = run("user-errors", clone(&cmd)).await;
    eprintln!("{log}");
    assert_ne!(code, 0);
    let lines = act::job_lines(&log, "rocketchat-under-act", "user-errors");
    assert_eq!(act::job_exit(&lines), Some(1), "{lines}");
    assert!(lines.contains("allow-user-errors"), "{lines}");

    let (code, log) = run("allowed", clone(&cmd)).await;
    eprintln!("{log}");
    assert_eq!(code, 0);
    let lines = act::job_lines(&log, "rocketchat-under-act", "allowed");
    assert!(
        lines.contains("allowed outcome=success errors=1"),
        "{lines}"
    );

    let requests = sb.stats().requests;
    let (code, log) = run("bad-input", clone(&cmd)).await;
    eprintln!("{log}");
    assert_ne!(code, 0);
    assert!(!log.contains(DEFAULT_AUTH_TOKEN), "the token leaked");
    let lines = act::job_lines(&log, "rocketchat-under-act", "bad-input");
    assert_eq!(act::job_exit(&lines), Some(2), "{lines}");
    assert!(lines.contains("Invalid input `abort-running`"), "{lines}");
    assert!(lines.contains("bad input outcome=usage"), "{lines}");
    assert_eq!(sb.stats().requests, requests, "nothing sent");

    let stats = sb.stats();
    assert_eq!(
        (stats.operations, stats.aborts, stats.rate_limited),
        (3, 0, 0)
    );
}
