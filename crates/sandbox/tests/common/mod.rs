//! What the sandbox's integration tests share: a client around a sandbox started in process
//! ([`Api`], for the Woosmap and the Rocket.Chat sandbox), reading an answer's status and body
//! ([`answer`]), and running the `woosmap-sandbox` binary and reading its stdout without
//! hanging ([`binary`], [`Lines`]).
// Each test file uses the part it needs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use woosmap_sandbox::rocketchat::{RocketChatConfig, RocketChatHandle, RocketChatSandbox};
use woosmap_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

/// A running sandbox (`sb`: its handle) and an HTTP client to call it with.
pub struct Api<H> {
    pub sb: H,
    pub http: reqwest::Client,
}

impl<H> Api<H> {
    fn around(sb: H) -> Self {
        Api {
            sb,
            http: reqwest::Client::new(),
        }
    }
}

impl Api<SandboxHandle> {
    /// A Woosmap sandbox started with `cfg`.
    pub async fn start(cfg: SandboxConfig) -> Self {
        Api::around(Sandbox::start(cfg).await.expect("sandbox starts"))
    }
}

impl Api<RocketChatHandle> {
    /// A Rocket.Chat sandbox started with `cfg`.
    pub async fn start(cfg: RocketChatConfig) -> Self {
        Api::around(RocketChatSandbox::start(cfg).await.expect("sandbox starts"))
    }
}

/// Sends `request` and returns the answer's status and body: its JSON, or its text as a JSON
/// string when it is not JSON.
pub async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request is answered");
    let status = response.status();
    let text = response.text().await.expect("body is read");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The `woosmap-sandbox` binary with `args`: no stdin, stdout piped (see [`Lines`]), stderr
/// dropped.
pub fn binary(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_woosmap-sandbox"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

/// A child's stdout, line by line, read on a thread: a child that prints fewer lines than a
/// test waits for fails the test instead of hanging it.
pub struct Lines(mpsc::Receiver<String>);

impl Lines {
    /// Takes `child`'s (piped) stdout.
    pub fn of(child: &mut Child) -> Lines {
        Lines::read(child.stdout.take().expect("stdout is piped"))
    }

    /// Reads `stream` on a thread until it ends.
    pub fn read(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Lines(rx)
    }

    /// The next line, or `None` when none comes within 10 s (or the stream ended).
    pub fn next(&self) -> Option<String> {
        self.0.recv_timeout(Duration::from_secs(10)).ok()
    }

    /// The next `count` lines, fewer when [`Lines::next`] gives up.
    pub fn first(&self, count: usize) -> Vec<String> {
        std::iter::from_fn(|| self.next()).take(count).collect()
    }
}
