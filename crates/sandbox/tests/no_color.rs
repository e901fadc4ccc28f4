//! The `woosmap-sandbox` binary's request log on a terminal (`script` from util-linux, Debian's
//! bsdutils, gives it a pseudo-terminal; `TERM=xterm`): coloured by default, without a single
//! escape sequence when `NO_COLOR` is set.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::Lines;

/// Runs the sandbox on a pseudo-terminal, sends it one API request and returns the terminal's
/// lines up to the log line of that request.
fn log_of_one_request(no_color: bool) -> Vec<String> {
    let line = format!(
        "'{}' --listen 127.0.0.1:0",
        env!("CARGO_BIN_EXE_woosmap-sandbox")
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let mut child = cmd
        .spawn()
        .expect("`script` (util-linux; Debian package bsdutils) runs: see scripts/setup-tools.sh");
    // Read on a thread: a sandbox that never logs must fail the test, not hang it.
    let terminal = Lines::of(&mut child);
    let mut lines = vec![terminal.next().expect("the sandbox prints its address")];
    let addr = lines[0]
        .trim_end()
        .strip_prefix("woosmap-sandbox listening on http://")
        .unwrap_or_else(|| panic!("first line: {lines:?}"))
        .to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            b"GET /datasets/0e4c7b1a-2f3d-4c5e-8a9b-1c2d3e4f5a6b/status HTTP/1.1\r\n\
              Host: sandbox\r\nX-Api-Key: sandbox-private-key\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    stream.read_to_end(&mut Vec::new()).unwrap();
    while let Some(line) = terminal.next() {
        let done = line.contains("/status -> 200");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    lines
}

#[test]
fn the_request_log_is_coloured_on_a_terminal_unless_no_color() {
    for no_color in [false, true] {
        let lines = log_of_one_request(no_color);
        let log = lines
            .iter()
            .find(|l| l.contains("/status -> 200"))
            .unwrap_or_else(|| {
                panic!("NO_COLOR {no_color}: the request was not logged: {lines:?}")
            });
        let escapes = lines.iter().any(|l| l.contains("\x1b["));
        assert_eq!(escapes, !no_color, "NO_COLOR {no_color}: {log:?}");
    }
}
