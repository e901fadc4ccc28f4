//! Hostile servers and bad settings, through the real front ends over loopback HTTP: the
//! `woosmap-import` binary (CLI and action mode) and the provider under real Terraform.
//!
//! - A server that accepts the connection and never answers is a network fault (exit 6, named
//!   as such), reported within the user's timeout, whatever the per-request timeout.
//! - A setting (`WOOSMAP_*` variable or action input) that is not UTF-8 is a configuration
//!   error naming it, never read as unset (which would fall back to a default: the production
//!   API, or the private key instead of the reimport key).
//! - The userinfo of a base URL (`http://user:password@host`) is never printed.
//! - Plain `http://` to another machine is refused unless `WOOSMAP_ALLOW_INSECURE_HTTP` allows it.
//! - A `timed_out` report names the run that was latest before the trigger.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use common::terraform::{Import, Terraform, flatten};
use common::{KEY, Ran, dataset};
use woosmap_sandbox::{DatasetConfig, Fault, FaultEndpoint, FaultKind, Outcome, PreviousRun};

/// A value that is not UTF-8 text (a Latin-1 `é` in a URL).
fn not_utf8(prefix: &str) -> &'static OsStr {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.push(0xe9);
    OsStr::from_bytes(Box::leak(bytes.into_boxed_slice()))
}

/// The CLI against `sb`, with a private pacer folder.
fn cli(sb: &woosmap_sandbox::SandboxHandle, pacer: &tempfile::TempDir) -> Command {
    let mut cmd = common::cli(sb);
    cmd.env("WOOSMAP_PACER_DIR", pacer.path());
    cmd
}

/// `woosmap-import action` as action.yml runs it: inputs as `INPUT_*`, outputs to files in
/// `scratch`. Returns what it printed, with the step outputs appended.
async fn action(
    base_url: &str,
    id: &str,
    scratch: &tempfile::TempDir,
    env: &[(&str, &OsStr)],
) -> Ran {
    let mut cmd = Command::new(common::bin("woosmap-import"));
    cmd.arg("action")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WOOSMAP_PACER_DIR", scratch.path().join("pacer"))
        .env("INPUT_DATASET-ID", id)
        .env("INPUT_PRIVATE-KEY", KEY)
        .env("INPUT_TIMEOUT", "20s")
        .env("INPUT_POLL-INTERVAL", "300ms")
        .env("INPUT_BASE-URL", base_url)
        .env("GITHUB_OUTPUT", scratch.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", scratch.path().join("summary"));
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut ran = common::run(cmd).await;
    ran.stdout
        .push_str(&std::fs::read_to_string(scratch.path().join("output")).unwrap_or_default());
    ran
}

fn tf_config(id: &str) -> String {
    Import::named("this", id)
        .fast_poll()
        .timeout("create", "20s")
        .hcl()
}

/// `terraform apply` of one import with `env` on top of the sandbox settings; the provider's
/// log (`TF_LOG=debug`) is appended to the output.
fn terraform_apply(sb_url: &str, id: &str, env: &[(&str, &OsStr)]) -> Ran {
    let tf = Terraform::new(sb_url);
    tf.write(&tf_config(id));
    let mut cmd = tf.command(&["apply", "-auto-approve", "-no-color"]);
    cmd.env("TF_LOG", "debug")
        .env("WOOSMAP_PACER_DIR", tf.dir.path().join("pacer"));
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut ran: Ran = cmd.output().expect("terraform runs").into();
    ran.stderr.push_str(&tf.file("terraform.log"));
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_a_network_fault_named_within_the_timeout() {
    let sb = common::sandbox().await;
    let pacer = tempfile::tempdir().unwrap();
    // The default request timeout (30s) is longer than the wait: the wait bounds the silence.
    // With a 1s request timeout, the status is read several times before the wait ends.
    for (timeout, request_timeout) in [("3s", None), ("4s", Some("1s"))] {
        let id = dataset();
        sb.inject(
            Fault::new(FaultKind::Silent)
                .on(FaultEndpoint::Status)
                .for_dataset(&id)
                .times(100),
        );
        let mut cmd = cli(&sb, &pacer);
        cmd.args(["run", "--dataset-id", &id, "--timeout", timeout]);
        if let Some(t) = request_timeout {
            cmd.env("WOOSMAP_REQUEST_TIMEOUT", t);
        }
        let ran = common::run(cmd).await;
        assert_eq!(ran.code, 6, "{ran:?}");
        let text = ran.all();
        let named = format!(
            "The server at {} accepted the connection but sent no answer in ",
            sb.base_url()
        );
        // The silence it names was cut by the wait (or the shorter request timeout), not
        // waited out to the default 30 s request timeout.
        let silence = text
            .split_once(&named)
            .and_then(|(_, rest)| rest.split_once(" while "))
            .and_then(|(after, _)| humantime::parse_duration(after).ok())
            .unwrap_or_else(|| panic!("no silence named: {ran:?}"));
        let bound = request_timeout.unwrap_or(timeout);
        assert!(
            silence <= humantime::parse_duration(bound).unwrap(),
            "{silence:?} of silence, more than {bound}: {ran:?}"
        );
        assert!(!text.contains("Allow a longer timeout"), "{ran:?}");
        let seen = sb.stats().dataset(&id).cloned().unwrap_or_default();
        assert_eq!(seen.triggers, 0, "nothing may be triggered blind: {ran:?}");
        assert!(seen.status_calls >= 1, "{seen:?}");
    }
    // Refused connections keep their own, immediate message.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut cmd = cli(&sb, &pacer);
    cmd.env("WOOSMAP_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("WOOSMAP_LOG", "debug")
        .args(["run", "--dataset-id", &dataset(), "--timeout", "20s"]);
    let ran = common::run(cmd).await;
    assert_eq!(ran.code, 6, "{ran:?}");
    assert!(ran.all().contains("Could not connect to"), "{ran:?}");
    // Immediate: the first refusal ends the run, no backoff is spent retrying it.
    assert!(
        ran.stderr
            .contains("refused at first contact: not retrying"),
        "{ran:?}"
    );
    let retries: Vec<_> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("retrying") && !l.contains("not retrying"))
        .collect();
    assert!(retries.is_empty(), "{retries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variable_that_is_not_utf8_is_refused_by_the_cli() {
    let sb = common::sandbox().await;
    let pacer = tempfile::tempdir().unwrap();
    let id = dataset();
    for var in woosmap_import::woosmap::settings::VARIABLES {
        // A folder inside this test's own for WOOSMAP_PACER_DIR, a URL for the others.
        let value = match var.name {
            "WOOSMAP_PACER_DIR" => not_utf8(&pacer.path().join("x").to_string_lossy()),
            _ => not_utf8("http://127.0.0.1:1/"),
        };
        let mut cmd = cli(&sb, &pacer);
        cmd.env(var.name, value)
            .args(["run", "--dataset-id", &id, "--timeout", "20s"]);
        let ran = common::run(cmd).await;
        assert_eq!(ran.code, 2, "{}: {ran:?}", var.name);
        assert!(
            ran.stderr.contains(var.name) && ran.stderr.contains("UTF-8"),
            "{}: {ran:?}",
            var.name
        );
    }
    assert_eq!(sb.stats().requests, 0, "a request was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_action_refuses_inputs_and_variables_that_are_not_utf8() {
    let sb = common::sandbox().await;
    let id = dataset();
    let cases: [(&str, &str, &OsStr); 3] = [
        (
            "input `base-url`",
            "INPUT_BASE-URL",
            not_utf8("http://127.0.0.1:1/"),
        ),
        (
            "input `reimport-key`",
            "INPUT_REIMPORT-KEY",
            not_utf8("key"),
        ),
        // A blank input falls back to the variable: it must not be read as unset.
        (
            "WOOSMAP_REIMPORT_KEY",
            "WOOSMAP_REIMPORT_KEY",
            not_utf8("key"),
        ),
    ];
    for (named, var, value) in cases {
        let scratch = tempfile::tempdir().unwrap();
        let ran = action(&sb.base_url(), &id, &scratch, &[(var, value)]).await;
        assert_eq!(ran.code, 2, "{var}: {ran:?}");
        assert!(
            ran.stdout.contains("::error") && ran.stdout.contains(named),
            "{var}: {ran:?}"
        );
        assert!(ran.stdout.contains("UTF-8"), "{var}: {ran:?}");
        assert!(ran.stdout.contains("status=error"), "{var}: {ran:?}");
    }
    assert_eq!(sb.stats().requests, 0, "a request was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_refuses_a_variable_that_is_not_utf8() {
    let sb = common::sandbox().await;
    let url = sb.base_url();
    let id = dataset();
    let ran = tokio::task::spawn_blocking(move || {
        terraform_apply(
            &url,
            &id,
            &[("WOOSMAP_BASE_URL", not_utf8("http://127.0.0.1:1/"))],
        )
    })
    .await
    .unwrap();
    assert_ne!(ran.code, 0, "{ran:?}");
    let out = flatten(&ran.stdout) + &flatten(&ran.stderr);
    assert!(
        out.contains("Invalid environment variable")
            && out.contains("WOOSMAP_BASE_URL=(not UTF-8) is not valid"),
        "{ran:?}"
    );
    assert_eq!(sb.stats().requests, 0, "a request was sent");
}

const PASSWORD: &str = "hunter2-pw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_a_base_url_is_never_printed() {
    let sb = common::sandbox().await;
    let pacer = tempfile::tempdir().unwrap();
    let id = dataset();
    let with_password = sb
        .base_url()
        .replacen("http://", &format!("http://user:{PASSWORD}@"), 1);
    let check = |what: &str, ran: &Ran| {
        assert_eq!(ran.code, 2, "{what}: {ran:?}");
        assert!(!ran.all().contains(PASSWORD), "{what}: {ran:?}");
        assert!(ran.all().contains("***@127.0.0.1"), "{what}: {ran:?}");
    };
    // The flag, the variable, and a URL typed where clap does not expect one.
    let mut flag = cli(&sb, &pacer);
    flag.args(["run", "--dataset-id", &id, "--base-url", &with_password]);
    check("--base-url", &common::run(flag).await);
    let mut var = cli(&sb, &pacer);
    var.env("WOOSMAP_BASE_URL", &with_password)
        .args(["run", "--dataset-id", &id, "--json"]);
    check("WOOSMAP_BASE_URL", &common::run(var).await);
    let mut stray = cli(&sb, &pacer);
    stray.args(["run", "--dataset-id", &id, &with_password]);
    check("a stray argument", &common::run(stray).await);

    let scratch = tempfile::tempdir().unwrap();
    let ran = action(&with_password, &id, &scratch, &[]).await;
    check("the base-url input", &ran);
    assert!(ran.stdout.contains("status=error"), "{ran:?}");

    let url = with_password.clone();
    let tf_id = id.clone();
    let ran = tokio::task::spawn_blocking(move || terraform_apply(&url, &tf_id, &[]))
        .await
        .unwrap();
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(!ran.all().contains(PASSWORD), "Terraform: {ran:?}");
    assert!(flatten(&ran.all()).contains("Invalid base_url"), "{ran:?}");
    assert_eq!(sb.stats().requests, 0, "a request was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_machine_is_refused_unless_allowed() {
    let sb = common::sandbox().await;
    let pacer = tempfile::tempdir().unwrap();
    let id = dataset();
    // TEST-NET-1: documentation addresses, never a real host.
    let remote = "http://192.0.2.1:9";
    let refused = |what: &str, ran: &Ran| {
        assert_eq!(ran.code, 2, "{what}: {ran:?}");
        let text = flatten(&ran.all());
        assert!(
            text.contains("plain http:// to another machine would send the keys unencrypted")
                && text.contains("WOOSMAP_ALLOW_INSECURE_HTTP=1"),
            "{what}: {ran:?}"
        );
    };
    let mut cmd = cli(&sb, &pacer);
    cmd.args(["run", "--dataset-id", &id, "--base-url", remote]);
    refused("CLI", &common::run(cmd).await);

    let scratch = tempfile::tempdir().unwrap();
    let ran = action(remote, &id, &scratch, &[]).await;
    refused("action", &ran);

    let tf_id = id.clone();
    let ran = tokio::task::spawn_blocking(move || terraform_apply(remote, &tf_id, &[]))
        .await
        .unwrap();
    assert_ne!(ran.code, 0, "{ran:?}");
    let text = flatten(&ran.all());
    assert!(
        text.contains("Invalid base_url") && text.contains("WOOSMAP_ALLOW_INSECURE_HTTP=1"),
        "{ran:?}"
    );

    // With the opt-in the request goes out (and finds no server there): not a usage error.
    let mut cmd = cli(&sb, &pacer);
    cmd.env("WOOSMAP_ALLOW_INSECURE_HTTP", "1")
        .env("WOOSMAP_REQUEST_TIMEOUT", "1s")
        .args(["run", "--dataset-id", &id, "--base-url", remote])
        .args(["--timeout", "2s"]);
    let ran = common::run(cmd).await;
    assert_ne!(ran.code, 2, "{ran:?}");
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(!ran.all().contains("unencrypted"), "{ran:?}");
    // Loopback needs no opt-in (every other test of the suite relies on it).
    let mut cmd = cli(&sb, &pacer);
    cmd.env("WOOSMAP_ALLOW_INSECURE_HTTP", "maybe")
        .args(["run", "--dataset-id", &id]);
    let ran = common::run(cmd).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("WOOSMAP_ALLOW_INSECURE_HTTP"),
        "{ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_report_names_the_previous_run() {
    let sb = common::sandbox().await;
    let pacer = tempfile::tempdir().unwrap();
    let id = dataset();
    sb.configure_dataset(
        &id,
        DatasetConfig::default()
            .previous_run(Some(PreviousRun::Success))
            .outcome(Outcome::Never),
    )
    .unwrap();
    let mut cmd = cli(&sb, &pacer);
    cmd.args(["run", "--dataset-id", &id, "--timeout", "3s", "--json"])
        .args(["--poll-interval", "300ms"]);
    let ran = common::run(cmd).await;
    assert_eq!(ran.code, 3, "{ran:?}");
    let report = &ran.json()[0];
    assert_eq!(report["status"], "timed_out", "{ran:?}");
    let runs = sb.stats().dataset(&id).cloned().unwrap_or_default().runs;
    let ours = runs.last().expect("our run");
    assert_eq!(report["run_id"].as_str(), Some(ours.as_str()), "{ran:?}");
    let previous = report["previous_run_id"].as_str();
    assert!(
        previous.is_some_and(|p| p != ours),
        "previous_run_id: {ran:?}"
    );
}
