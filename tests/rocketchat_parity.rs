//! `rocketchat-import` on par with `woosmap-import`: shell completions, the manual page (on
//! stdout and one page per command), and a live progress display on a terminal (`script` from
//! util-linux gives it a pseudo-terminal) with plain lines otherwise.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::rocketchat::sandbox_2s_window;
use woosmap_sandbox::rocketchat::{DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocketchat-import"));
    cmd.stdin(Stdio::null());
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_the_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "complete -F _rocketchat__import"),
        ("zsh", "#compdef rocketchat-import"),
        ("fish", "complete -c rocketchat-import"),
    ] {
        let mut cmd = bin();
        cmd.args(["completions", shell]);
        let out = output(cmd).await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(text.contains("abort-running"), "{shell}");
        assert!(text.contains("keep-staged"), "{shell}");
    }
    let mut cmd = bin();
    cmd.arg("man");
    let out = output(cmd).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(text.contains(".TH"), "{text}");
    assert!(text.contains("rocketchat\\-import"), "{text}");
    assert!(text.contains("ROCKETCHAT_AUTH_TOKEN"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.args(["man", "--dir"]).arg(dir.path());
    assert_eq!(output(cmd).await.status.code(), Some(0));
    common::assert_man_pages(dir.path(), "rocketchat-import");
    assert!(
        !dir.path().join("rocketchat-import-action.1").exists(),
        "the hidden action mode has no page"
    );
}

/// On a terminal the progress is one line redrawn in place; piped, the same steps are plain
/// lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_live_on_a_terminal_and_plain_otherwise() {
    let sb = sandbox_2s_window(Duration::from_millis(300)).await;
    let pacer = tempfile::tempdir().unwrap();
    let users = pacer.path().join("users.json");
    std::fs::write(
        &users,
        r#"[{"username":"ann","emails":["ann@example.com"],"importIds":["ann"]}]"#,
    )
    .unwrap();
    let env = [
        ("ROCKETCHAT_URL", sb.base_url()),
        ("ROCKETCHAT_USER_ID", DEFAULT_USER_ID.to_owned()),
        ("ROCKETCHAT_AUTH_TOKEN", DEFAULT_AUTH_TOKEN.to_owned()),
        ("WOOSMAP_PACER_DIR", pacer.path().display().to_string()),
    ];
    let inner = format!(
        "{} run --poll-interval 50ms --users {}",
        env!("CARGO_BIN_EXE_rocketchat-import"),
        users.display()
    );
    let typescript = tempfile::NamedTempFile::new().unwrap();
    let mut script = Command::new("script");
    script
        .args(["-qec", &inner])
        .arg(typescript.path())
        .envs(env.clone())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    let out = output(script).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let screen = std::fs::read_to_string(typescript.path()).unwrap();
    assert!(screen.contains("\u{1b}[2K"), "no live redraw: {screen}");
    assert!(screen.contains("Created import operation"), "{screen}");
    assert!(
        screen.contains("users total 1, completed 1, error 0."),
        "{screen}"
    );

    let mut cmd = bin();
    cmd.args(["run", "--poll-interval", "50ms", "--users"])
        .arg(&users)
        .envs(env);
    let out = output(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "plain lines when piped: {stderr:?}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("Created import operation ")),
        "{stderr}"
    );
}
