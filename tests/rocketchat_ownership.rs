//! `rocketchat-import run` and other people's work (issue 21): the real binary against the
//! Rocket.Chat sandbox over loopback. An operation this invocation did not create (being
//! staged, ready, loading, importing) is waited for and never aborted unless asked; two runs on
//! one machine queue on the per-server lock; runs on two machines (two pacer folders) see each
//! other's operation right before `import.new`; an operation we created and could not run is
//! cleared (or kept, if asked) and reported; a 429 from a server whose clock is behind is
//! waited out; settings that cannot be headers are refused before anything is sent; every
//! `--json` report has the documented shape. Each test has its own pacer folder.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use woosmap_sandbox::rocketchat::{RcFaultKind, RocketChatConfig};

mod common;

use common::rocketchat::{RcEnv as Env, assert_exit, assert_message, timed, user};

impl Env {
    fn users_file(&self, names: &[&str]) -> String {
        let users: Vec<Value> = names.iter().map(|n| user(n)).collect();
        self.write_users(
            &format!("users-{}.json", names.join("-")),
            &Value::Array(users),
        )
    }

    /// The binary with `args`, the sandbox's credentials and the pacer folder `pacer`.
    fn command(&self, args: &[&str], pacer: &Path) -> Command {
        let mut cmd = self.import_command(args);
        cmd.env("WOOSMAP_PACER_DIR", pacer)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args, self.dir.path()).spawn().unwrap()
    }

    /// Asserts how many operations the server aborted, created and ran.
    fn assert_counts(&self, aborts: u64, operations: u64, runs: u64) {
        self.assert_stats(&[
            ("aborts", aborts),
            ("operations", operations),
            ("runs", runs),
        ]);
    }

    async fn run(&self, args: &[&str]) -> Output {
        finish(self.spawn(args)).await
    }

    /// `run --users FILE --json`, polling fast, with `extra` arguments.
    fn run_json_args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        [&["run", "--users", file, "--json"][..], &FAST, extra].concat()
    }

    /// Runs `run --users FILE --json`, polling fast, with `extra` arguments.
    async fn run_json(&self, file: &str, extra: &[&str]) -> Output {
        self.run(&Env::run_json_args(file, extra)).await
    }

    /// Starts `run --users FILE --json`, polling fast.
    fn spawn_json(&self, file: &str) -> Child {
        self.spawn(&Env::run_json_args(file, &[]))
    }
}

async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one JSON report on stdout, checked against the documented schema.
fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {stdout}\nstderr: {}",
            stderr(out)
        )
    });
    check_schema(stdout.trim(), &value);
    value
}

fn check_schema(line: &str, value: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("guide/rocketchat-cli-json.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{line}\ndoes not match the schema: {errors:#?}"
    );
    let positions: Vec<usize> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            line.find(&format!("\"{}\":", k.as_str().unwrap()))
                .unwrap_or_else(|| panic!("{k} missing: {line}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order: {line}"
    );
}

const FAST: [&str; 2] = ["--poll-interval", "50ms"];

/// Someone else's operation being staged (`new`: created, no user added yet) is theirs: the
/// run waits for it, names it and its user, and never aborts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staging_operation_of_another_user_is_waited_for_not_aborted() {
    let env = Env::fast().await;
    let foreign = env.foreign("new", 700, 2, Some("another-admin"));
    let file = env.users_file(&["ann"]);
    let out = env.run_json(&file, &[]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "Another import operation {foreign} (new, created by user another-admin) is in progress: waiting for it to end; it is not aborted"
        )),
        "{err}"
    );
    let r = report(&out);
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["waited_for_operation_id"], json!(foreign));
    env.assert_counts(0, 2, 1);
}

/// Two runs started at once on one machine (one pacer folder) queue on the server lock: both
/// end `done`, nothing is aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_on_one_machine_both_end_done_without_aborts() {
    let env = Env::fast().await;
    let (a, b) = (
        env.users_file(&["ann", "bob"]),
        env.users_file(&["cy", "dee"]),
    );
    let first = env.spawn_json(&a);
    let second = env.spawn_json(&b);
    let (one, two) = tokio::join!(finish(first), finish(second));
    for out in [&one, &two] {
        assert_exit(out, 0);
        let r = report(out);
        assert_eq!(
            (r["outcome"].as_str(), r["state"].as_str()),
            (Some("success"), Some("done"))
        );
        assert_eq!(r["count"]["completed"], 2, "{r}");
    }
    env.assert_counts(0, 2, 2);
    // They overlapped: one queued on the lock (or, at the least, waited for the other's import).
    let queued = [&one, &two].iter().any(|o| {
        stderr(o).contains("Another run on this machine (rocketchat-import or Terraform) is importing into this server: waiting")
            || !report(o)["waited_for_operation_id"].is_null()
    });
    assert!(queued, "{}\n{}", stderr(&one), stderr(&two));
}

/// A run that queues behind another run of this machine and runs out of time says so: it
/// started nothing. The first run holds the lock while its import.new is held back by 429s
/// (no operation exists yet, so the second sees none and goes for the lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_queued_behind_a_local_run_times_out_naming_the_queue() {
    let env = Env::fast().await;
    env.fault("import.new", RcFaultKind::RateLimit, 4);
    let (a, b) = (env.users_file(&["ann"]), env.users_file(&["bob"]));
    let first = env.spawn_json(&a);
    env.until("the first run's import.new held back", |s| s.injected >= 1)
        .await;
    let second = env.run_json(&b, &["--timeout", "2s"]).await;
    assert_exit(&second, 3);
    assert!(
        stderr(&second).contains("Another run on this machine (rocketchat-import or Terraform) is importing into this server: waiting"),
        "{}",
        stderr(&second)
    );
    let r = report(&second);
    assert_eq!(r["operation_id"], Value::Null, "{r}");
    assert_message(
        &r,
        "waiting for another run on this machine to finish its import on this server; nothing of ours was started",
    );
    let first = finish(first).await;
    assert_exit(&first, 0);
    env.assert_counts(0, 1, 1);
}

/// Two machines (two pacer folders: no shared lock): the second starts while the first's
/// operation is still being staged (its addUsers held back by a 429). The second reads the
/// status right before import.new, sees the operation in `new`, and waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_two_machines_do_not_abort_each_other() {
    let env = Env::fast().await;
    env.fault("import.addUsers", RcFaultKind::RateLimit, 1);
    let (a, b) = (env.users_file(&["ann"]), env.users_file(&["bob"]));
    let other_machine = tempfile::tempdir().unwrap();
    let first = env.spawn_json(&a);
    env.until("the first run's operation, staging held back", |s| {
        s.operations >= 1 && s.injected >= 1
    })
    .await;
    let second = env
        .command(&Env::run_json_args(&b, &[]), other_machine.path())
        .spawn()
        .unwrap();
    let (one, two) = tokio::join!(finish(first), finish(second));
    for out in [&one, &two] {
        assert_exit(out, 0);
    }
    assert!(
        stderr(&two).contains("the same user as this run"),
        "{}",
        stderr(&two)
    );
    assert_eq!(
        report(&two)["waited_for_operation_id"],
        report(&one)["operation_id"]
    );
    env.assert_counts(0, 2, 2);
}

/// SIGTERM while our operation is being staged: exit 130, the report names the operation and
/// says it was cleared; the server has nothing of ours left in progress.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_staging_leaves_no_operation_of_ours() {
    let env = Env::fast().await;
    env.fault("import.addUsers", RcFaultKind::RateLimit, 1000);
    let file = env.users_file(&["ann"]);
    let child = env.spawn_json(&file);
    env.until("staging held back", |s| {
        s.operations >= 1 && s.injected >= 1
    })
    .await;
    // SAFETY: signalling our own child process by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = finish(child).await;
    assert_exit(&out, 130);
    let r = report(&out);
    let id = r["operation_id"]
        .as_str()
        .expect("our operation is named")
        .to_owned();
    assert_eq!(r["outcome"], "interrupted");
    assert_eq!(r["leftover"]["cleanup"]["action"], "cleared", "{r}");
    assert_message(
        &r,
        &format!("operation {id} was created and left in state new: cleared it"),
    );
    let status = env.run(&["status", "--json"]).await;
    let st: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["operation"]["_id"], json!(id));
    assert_eq!(
        st["state"], "error",
        "cleared: invalidated, not in progress: {st}"
    );
    env.assert_stats(&[("aborts", 0), ("cleared", 1), ("runs", 0)]);
}

/// An error while staging (500 on addUsers) clears our operation and says so; with
/// `--keep-staged` it is kept, and a later run recognises the leftover of the same user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_while_staging_clears_our_operation_or_keeps_it_if_asked() {
    let env = Env::fast().await;
    let file = env.users_file(&["ann"]);
    env.fault("import.addUsers", RcFaultKind::Http500, 1);
    let out = env.run_json(&file, &[]).await;
    assert_exit(&out, 6);
    let r = report(&out);
    assert_eq!(r["outcome"], "error");
    assert_eq!(r["state"], "new");
    assert_eq!(r["leftover"]["cleanup"]["action"], "cleared", "{r}");
    assert_message(&r, "import.addUsers");
    assert_message(&r, "was created and left in state new");

    env.fault("import.run", RcFaultKind::Http500, 1);
    let out = env.run_json(&file, &["--keep-staged"]).await;
    assert_exit(&out, 6);
    let r = report(&out);
    assert_eq!(r["leftover"]["cleanup"]["action"], "kept", "{r}");
    assert_eq!(r["state"], "ready");
    let kept = r["operation_id"].as_str().unwrap().to_owned();

    let out = env.run_json(&file, &["--timeout", "1s"]).await;
    assert_exit(&out, 3);
    let r = report(&out);
    assert_eq!(r["outcome"], "timed_out");
    assert_eq!(r["operation_id"], Value::Null, "nothing was started: {r}");
    assert_eq!(r["waiting_for"]["id"], json!(kept));
    assert_eq!(r["waiting_for"]["same_user"], true);
    assert!(
        stderr(&out).contains("the same user as this run: a leftover"),
        "{}",
        stderr(&out)
    );
    // the first run's own operation was cleared; nothing was aborted
    env.assert_stats(&[
        ("aborts", 0),
        ("cleared", 1),
        ("operations", 2),
        ("runs", 0),
    ]);
}

/// A server whose clock is 10 minutes behind answers 429s whose `X-RateLimit-Reset` lies 10
/// minutes in our past: each is waited out on the server's clock (five in a row), and the
/// pacing of the limiter's budgets holds (no 429 of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_from_a_server_10_minutes_behind_is_waited_out() {
    let env = Env::start(RocketChatConfig {
        limit_calls: 4,
        limit_window: Duration::from_secs(2),
        import_duration: Duration::from_millis(300),
        clock_offset_ms: -600_000,
        ..RocketChatConfig::default()
    })
    .await;
    env.fault("import.new", RcFaultKind::RateLimit, 5);
    let file = env.users_file(&["ann"]);
    let (out, took) = timed(env.run_json(&file, &[])).await;
    assert_exit(&out, 0);
    assert!(took >= Duration::from_secs(5), "each 429 was waited out");
    let stats = env.sb.stats();
    assert_eq!(stats.per_route["import.new"], 6, "five 429s, then the call");
    assert_eq!((stats.rate_limited, stats.operations), (0, 1), "{stats:?}");
}

/// A token or user id holding CR/LF, or a setting that is not UTF-8, is a usage error (exit 2)
/// naming the variable, without the value, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_unsafe_or_non_utf8_settings_exit_2_with_nothing_sent() {
    let env = Env::fast().await;
    let file = env.users_file(&["ann"]);
    let token = "secret-Tk9\r\nX-Evil: 1";
    let cases: [(&str, &OsStr); 3] = [
        ("ROCKETCHAT_AUTH_TOKEN", OsStr::new(token)),
        ("ROCKETCHAT_USER_ID", OsStr::new("sandbox\r\nadmin")),
        ("ROCKETCHAT_AUTH_TOKEN", non_utf8()),
    ];
    for (name, value) in cases {
        let mut cmd = env.command(&["run", "--users", &file, "--json"], env.dir.path());
        cmd.env(name, value);
        let out = finish(cmd.spawn().unwrap()).await;
        let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        assert_eq!(out.status.code(), Some(2), "{name}: {all}");
        assert!(all.contains(name), "{all}");
        assert!(!all.contains("secret-Tk9"), "the token leaked: {all}");
        assert_eq!(report(&out)["outcome"], "usage");
    }
    assert_eq!(env.sb.stats().requests, 0);
}

#[cfg(unix)]
fn non_utf8() -> &'static OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(b"tok\xff\xfe")
}

/// Users listed twice (same email, any case, or same importId) are refused, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_users_are_refused_and_named() {
    let env = Env::fast().await;
    let path = env.dir.path().join("dup.json");
    let users =
        json!([user("ann"), user("bob"), {"emails": ["ANN@example.com"], "importIds": ["ann2"]}]);
    std::fs::write(&path, users.to_string()).unwrap();
    let out = env.run(&["run", "--users", path.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("users #1 and #3 share the email \"ANN@example.com\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.sb.stats().requests, 0);
}
