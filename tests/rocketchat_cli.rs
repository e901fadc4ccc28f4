//! `rocketchat-import` as users run it: the real binary against the Rocket.Chat mode of the
//! sandbox over loopback. Each test has its own pacer folder (`XDG_RUNTIME_DIR`).

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use woosmap_sandbox::rocketchat::RcFaultKind;

mod common;

use common::rocketchat::{RcEnv as Env, assert_exit, assert_message, timed, user};

impl Env {
    fn users_file(&self, users: &Value) -> String {
        self.write_users("users.json", users)
    }

    /// The binary with `args`, pacing in the scratch folder; the token defaults to the
    /// sandbox's.
    fn command(&self, args: &[&str], token: Option<&str>) -> Command {
        let mut cmd = self.import_command(args);
        cmd.env("XDG_RUNTIME_DIR", self.dir.path());
        if let Some(token) = token {
            cmd.env("ROCKETCHAT_AUTH_TOKEN", token);
        }
        cmd
    }

    /// Runs the binary with `args`; the token defaults to the sandbox's.
    async fn run(&self, args: &[&str], token: Option<&str>) -> Output {
        let mut cmd = self.command(args, token);
        tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
            .await
            .unwrap()
    }

    /// Runs `run --users FILE --json`, polling fast, with `extra` arguments.
    async fn run_json(&self, file: &str, extra: &[&str]) -> Output {
        let args = [&["run", "--users", file, "--json"][..], &FAST, extra].concat();
        self.run(&args, None).await
    }
}

fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const FAST: [&str; 2] = ["--poll-interval", "50ms"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_import_reports_its_operation_and_counts() {
    let env = Env::fast().await;
    let file = env.users_file(&json!([user("ann"), user("bob"), user("cy")]));
    let out = env.run_json(&file, &["--batch-size", "2"]).await;
    assert_exit(&out, 0);
    let r = report(&out);
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["state"], "done");
    assert_eq!(r["count"]["total"], 3);
    assert_eq!(r["count"]["completed"], 3);
    assert_eq!(r["count"]["error"], 0);
    assert!(r["operation_id"].as_str().is_some_and(|s| !s.is_empty()));
    let stats = env.sb.stats();
    assert_eq!(
        stats.per_route["import.addUsers"], 2,
        "two batches of at most 2"
    );
    assert_eq!((stats.operations, stats.runs, stats.aborts), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_fail_by_default_and_pass_when_allowed() {
    let env = Env::fast().await;
    let bad_email = json!({"username": "zed", "emails": ["zed-at-nowhere"], "importIds": ["zed"]});
    let file = env.users_file(&json!([user("ann"), user("will-fail"), bad_email]));
    let out = env.run_json(&file, &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    assert_eq!(r["outcome"], "user_errors");
    assert_eq!(r["count"]["error"], 2);
    assert_message(&r, "--allow-user-errors");

    let out = env
        .run(
            &[&["run", "--users", &file, "--allow-user-errors"][..], &FAST].concat(),
            None,
        )
        .await;
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error 2") && text.contains("allowed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_exits_4_with_the_documented_message_and_no_secret() {
    let env = Env::fast().await;
    let file = env.users_file(&json!([user("ann")]));
    let token = "wrong-token-Zq81";
    let out = env.run(&["run", "--users", &file], Some(token)).await;
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("You must be logged in to do this."),
        "{stderr}"
    );
    assert!(stderr.contains("ROCKETCHAT_AUTH_TOKEN"), "{stderr}");
    let all = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains(token), "the token leaked: {all}");
    assert_eq!(env.sb.stats().operations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_users_file_is_a_usage_error_naming_the_field() {
    let env = Env::fast().await;
    let file = env.users_file(&json!([user("ann"), {"emails": ["b@example.com"]}]));
    let out = env.run(&["run", "--users", &file], None).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("user #2") && stderr.contains("importIds"),
        "{stderr}"
    );
    assert_eq!(env.sb.stats().requests, 0);
}

/// Runs `run --json` for one user, with `extra`, while someone else's operation imports 4
/// users for `duration_ms`; the run must succeed. Returns the other operation's id, the
/// output and its stderr.
async fn run_beside_an_import(
    env: &Env,
    duration_ms: u64,
    extra: &[&str],
) -> (String, Output, String) {
    let foreign = env.foreign("importing", duration_ms, 4, None);
    let file = env.users_file(&json!([user("ann")]));
    let out = env.run_json(&file, extra).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (foreign, out, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_already_importing_is_waited_on_never_aborted() {
    let env = Env::fast().await;
    let (foreign, out, stderr) = run_beside_an_import(&env, 1500, &[]).await;
    assert!(stderr.contains("not aborted"), "{stderr}");
    let r = report(&out);
    assert_eq!(r["waited_for_operation_id"], json!(foreign));
    assert_eq!(r["aborted_operation_id"], Value::Null);
    assert_ne!(r["operation_id"], json!(foreign));
    assert_eq!(env.sb.stats().aborts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_running_aborts_the_running_operation_once_and_says_so() {
    let env = Env::fast().await;
    let (foreign, out, stderr) = run_beside_an_import(&env, 600_000, &["--abort-running"]).await;
    assert!(
        stderr.contains(&format!(
            "Aborting the import operation {foreign} (importing"
        )),
        "{stderr}"
    );
    let r = report(&out);
    assert_eq!(r["aborted_operation_id"], json!(foreign));
    assert_message(&r, "aborted");
    assert_eq!(env.sb.stats().aborts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_current_operation() {
    let env = Env::fast().await;
    let out = env.run(&["status"], None).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No import operation"));
    let id = env.foreign("ready", 600_000, 2, None);
    let out = env.run(&["status", "--json"], None).await;
    let r = report(&out);
    assert_eq!(r["state"], "ready");
    assert_eq!(r["operation"]["_id"], json!(id));
}

/// The default limiter's count (10 calls per route per window) with a 2 s window instead of
/// 60 s: 20 runs back to back, each a separate process, never see a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_runs_back_to_back_never_hit_the_limiter() {
    let env = Env::fast_with_imports(Duration::from_millis(100)).await;
    let file = env.users_file(&json!([user("ann"), user("bob")]));
    for i in 0..20 {
        let out = env.run_json(&file, &[]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    env.assert_stats(&[("operations", 20), ("rate_limited", 0), ("aborts", 0)]);
}

/// SIGTERM (how CI cancels a job) while waiting for someone else's operation: exit 130, the
/// report says nothing was started, and nothing was aborted.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_waiting_exits_130_and_aborts_nothing() {
    let env = Env::fast().await;
    env.foreign("importing", 600_000, 2, None);
    let file = env.users_file(&json!([user("ann")]));
    let args = [&["run", "--users", &file, "--json"][..], &FAST].concat();
    let child = common::scenario::Running::spawn(env.command(&args, None));
    // Wait until it is waiting for the running operation: its second status read (it took
    // in the answer to the first, which showed the operation).
    env.until("a second status read", |s| {
        s.per_route.get("import.status").copied().unwrap_or(0) >= 2
    })
    .await;
    child.signal("TERM");
    let out = child.output().await;
    assert_exit(&out, 130);
    let r = report(&out);
    assert_eq!(r["outcome"], "interrupted");
    assert_message(&r, "waiting for operation");
    assert_eq!(r["operation_id"], Value::Null, "nothing of ours: {r}");
    assert_eq!(r["waiting_for"]["state"], "importing", "{r}");
    env.assert_stats(&[("aborts", 0), ("operations", 1)]);
}

/// Someone else's 429 (injected: `X-RateLimit-Remaining: 0`, reset 1 s ahead) is waited out to
/// `X-RateLimit-Reset` and the call repeated; a 500 on a status read is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_a_status_500_retried() {
    let env = Env::fast().await;
    env.fault("import.new", RcFaultKind::RateLimit, 1);
    env.fault("import.status", RcFaultKind::Http500, 1);
    let file = env.users_file(&json!([user("ann")]));
    let (out, took) = timed(env.run_json(&file, &[])).await;
    assert_exit(&out, 0);
    assert!(
        took >= Duration::from_millis(900),
        "the 429 was waited out to its reset"
    );
    let stats = env.sb.stats();
    assert_eq!(stats.injected, 2);
    assert_eq!(
        stats.per_route["import.new"], 2,
        "one 429, then the call again"
    );
    assert_eq!(stats.operations, 1);
}

/// Another client's `import.new` aborts our operation mid-import: the run fails (exit 1) with
/// state `invalidated`, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_aborted_by_someone_else_fails_as_invalidated() {
    let env = Env::unlimited_with_imports(Duration::from_secs(30)).await;
    let file = env.users_file(&json!([user("ann")]));
    let run = env.run_json(&file, &[]);
    let abort = async {
        env.until("our operation running", |s| s.runs >= 1).await;
        env.foreign("ready", 600_000, 1, None)
    };
    let (out, _) = tokio::join!(run, abort);
    assert_exit(&out, 1);
    let r = report(&out);
    assert_eq!(r["state"], "invalidated");
    assert_eq!(r["outcome"], "failed");
    assert_message(&r, "aborted this operation");
}
