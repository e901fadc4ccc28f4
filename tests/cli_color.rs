//! Colour on a terminal: the real binaries run on a pseudo-terminal (`script` from util-linux,
//! Debian's bsdutils, installed by `scripts/setup-tools.sh`) against the sandboxes, with
//! `WOOSMAP_LOG=debug` (and `TERM=xterm`, so that only what is under test decides).
//!
//! - `woosmap-import` and `rocketchat-import` colour their log on a terminal; with `NO_COLOR`
//!   set (not empty) or `--color never` they print no escape sequence at all; `--color always`
//!   colours even with `NO_COLOR`, and even into a pipe, where `auto` does not.
//! - `woosmap-import run`'s live spinners keep drawing under `NO_COLOR` (cursor movement is
//!   not colour) but lose their styling (no SGR `ESC[…m` sequence).
//! - The providers, run by hand on a terminal, print their message without escape sequences
//!   (their logs are JSON lines for Terraform; `tfplugin::log` escapes control characters).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{KEY, dataset, sandbox, sandbox_env};
use woosmap_sandbox::DatasetConfig;
use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, RcFault, RcFaultKind, RocketChatConfig, RocketChatSandbox,
};

const ESC: &str = "\x1b[";

/// Whether `text` holds an SGR (colour or style) sequence: `ESC [ digits-and-semicolons m`.
fn has_sgr(text: &str) -> bool {
    text.match_indices(ESC).any(|(i, _)| {
        let rest = &text[i + ESC.len()..];
        let params = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(rest.len());
        rest[params..].starts_with('m')
    })
}

/// Single-quotes `s` for `sh -c`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `cmd` with its program and arguments run on a pseudo-terminal by `script`, which copies the
/// terminal's output (stdout and stderr together) to its own stdout; the environment is
/// `cmd`'s. Returns that output.
fn on_pty(cmd: &Command) -> String {
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| quote(&a.to_string_lossy()))
        .collect();
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .stdin(Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = script.output().unwrap_or_else(|e| {
        panic!("`script` (util-linux; Debian package bsdutils) is needed: {e}; run scripts/setup-tools.sh")
    });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The environment under test: debug logs, a terminal type that can colour, `NO_COLOR` as
/// given (unset by default).
fn terminal_env(cmd: &mut Command, no_color: Option<&str>) {
    cmd.env("WOOSMAP_LOG", "debug")
        .env("TERM", "xterm")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE");
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
}

#[tokio::test(flavor = "multi_thread")]
async fn woosmap_import_logs_follow_no_color_and_the_color_flag() {
    let sb = sandbox().await;
    let id = dataset();
    sb.configure_dataset(&id, DatasetConfig::default()).unwrap();
    let pacer = tempfile::tempdir().unwrap();
    let base_url = sb.base_url();
    let status = |no_color: Option<&str>, flags: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_woosmap-import"));
        cmd.args(["status", "--dataset-id", &id]).args(flags);
        sandbox_env(&mut cmd, &base_url).env("WOOSMAP_PACER_DIR", pacer.path());
        terminal_env(&mut cmd, no_color);
        cmd
    };
    let outputs = tokio::task::block_in_place(|| {
        let out = |no_color, flags: &[&str]| on_pty(&status(no_color, flags));
        let piped = status(None, &["--color", "always"]).output().unwrap();
        let piped_auto = status(None, &[]).output().unwrap();
        [
            out(None, &[]),
            out(Some("1"), &[]),
            out(Some(""), &[]),
            out(Some("1"), &["--color", "always"]),
            out(None, &["--color", "never"]),
            String::from_utf8_lossy(&piped.stderr).into_owned(),
            String::from_utf8_lossy(&piped_auto.stderr).into_owned(),
        ]
    });
    let [
        auto,
        no_color,
        empty_no_color,
        always,
        never,
        piped_always,
        piped_auto,
    ] = outputs;
    LogLine::new("DEBUG", "/status", KEY).assert_in(&[
        ("auto: a terminal gets colour by default", &auto, true),
        ("NO_COLOR=1", &no_color, false),
        ("an empty NO_COLOR does not count", &empty_no_color, true),
        ("--color always beats NO_COLOR", &always, true),
        ("--color never", &never, false),
        ("--color always into a pipe", &piped_always, true),
        ("auto into a pipe", &piped_auto, false),
    ]);
}

/// A log entry every output of a test shows: its `level` and a text it `holding`; and a secret
/// no output may show.
struct LogLine<'a> {
    level: &'a str,
    holding: &'a str,
    never: &'a str,
}

impl<'a> LogLine<'a> {
    fn new(level: &'a str, holding: &'a str, never: &'a str) -> LogLine<'a> {
        LogLine {
            level,
            holding,
            never,
        }
    }

    /// For each `(what, output, coloured)`: the output shows the log entry and not the secret;
    /// a coloured output holds an SGR sequence, any other no escape sequence at all.
    fn assert_in(&self, cases: &[(&str, &str, bool)]) {
        for (what, text, coloured) in cases {
            assert!(
                text.contains(self.level) && text.contains(self.holding),
                "{what}: no {} log line: {text:?}",
                self.level
            );
            assert!(!text.contains(self.never), "{what}: the secret was printed");
            assert_coloured(what, text, *coloured);
        }
    }
}

/// A coloured output holds an SGR sequence; any other holds no escape sequence at all.
fn assert_coloured(what: &str, text: &str, coloured: bool) {
    if coloured {
        assert!(has_sgr(text), "{what}: no colour: {text:?}");
    } else {
        assert!(!text.contains(ESC), "{what}: an escape sequence: {text:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn woosmap_import_spinners_lose_their_style_under_no_color() {
    let sb = sandbox().await;
    let pacer = tempfile::tempdir().unwrap();
    let base_url = sb.base_url();
    let run = |no_color: Option<&str>| {
        let id = dataset();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_woosmap-import"));
        cmd.args(["run", "--dataset-id", &id, "--poll-interval", "300ms"]);
        sandbox_env(&mut cmd, &base_url).env("WOOSMAP_PACER_DIR", pacer.path());
        terminal_env(&mut cmd, no_color);
        (id, on_pty(&cmd))
    };
    let ((id_a, auto), (id_n, no_color)) =
        tokio::task::block_in_place(|| (run(None), run(Some("1"))));
    for (id, what, text) in [(&id_a, "auto", &auto), (&id_n, "NO_COLOR=1", &no_color)] {
        assert!(
            text.contains(&format!("{id}: import succeeded")),
            "{what}: the run did not succeed: {text:?}"
        );
        // The live display drew (it clears its line with ESC[2K as it redraws).
        assert!(text.contains("\x1b[2K"), "{what}: no spinner: {text:?}");
    }
    assert!(
        has_sgr(&auto),
        "styled spinners and log by default: {auto:?}"
    );
    assert!(!has_sgr(&no_color), "NO_COLOR=1: {no_color:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rocketchat_import_logs_follow_no_color() {
    let sb = RocketChatSandbox::start(RocketChatConfig::default())
        .await
        .expect("sandbox starts");
    let runtime_dir = tempfile::tempdir().unwrap();
    // Each run meets one 500 on its status read: retried, with a warning in the log.
    let status = |no_color: Option<&str>, flags: &[&str]| {
        sb.inject(RcFault {
            endpoint: "import.status".into(),
            kind: RcFaultKind::Http500,
            count: 1,
        });
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocketchat-import"));
        cmd.arg("status")
            .args(flags)
            .env("ROCKETCHAT_URL", sb.base_url())
            .env("ROCKETCHAT_USER_ID", DEFAULT_USER_ID)
            .env("ROCKETCHAT_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
            .env("XDG_RUNTIME_DIR", runtime_dir.path());
        terminal_env(&mut cmd, no_color);
        on_pty(&cmd)
    };
    let [auto, no_color, never] = tokio::task::block_in_place(|| {
        [
            status(None, &[]),
            status(Some("1"), &[]),
            status(None, &["--color", "never"]),
        ]
    });
    let warning = LogLine::new("WARN", "import.status: HTTP 500", DEFAULT_AUTH_TOKEN);
    warning.assert_in(&[
        ("auto: a terminal gets colour by default", &auto, true),
        ("NO_COLOR=1", &no_color, false),
        ("--color never", &never, false),
    ]);
}

#[test]
fn providers_run_by_hand_print_no_escape_sequences() {
    for bin in [
        env!("CARGO_BIN_EXE_terraform-provider-woosmap"),
        env!("CARGO_BIN_EXE_terraform-provider-rocketchat"),
    ] {
        let mut cmd = Command::new(bin);
        terminal_env(&mut cmd, None);
        cmd.env_remove("TF_PLUGIN_MAGIC_COOKIE");
        let out = on_pty(&cmd);
        let name = Path::new(bin).file_name().unwrap().to_string_lossy();
        assert!(out.contains("Terraform"), "{name}: {out:?}");
        assert!(!out.contains(ESC), "{name}: {out:?}");
    }
}
