//! `woosmap-import` as a newcomer meets it (issue 16): `status` exit codes and `--exit-status`,
//! Ctrl-C before a trigger, a wrong base URL reported at once, each front end's own setting
//! names, one `--json` shape checked against `guide/cli-json.schema.json`, the environment
//! variables (`--help`, README, bad values), the demo's closing summary, completions and the
//! man page. The real binary against the in-process sandbox over loopback HTTP.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::scenario::{POLL, Running, Scenario, dataset_with, lines_until};
use common::{cli, dataset, run, sandbox};
use woosmap_sandbox::{DatasetConfig, Outcome, PreviousRun, SandboxHandle};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback address where nothing listens (a port just released).
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// ---- 2. `status` exit codes, errors on stderr, --exit-status -----------------------------

#[tokio::test(flavor = "multi_thread")]
async fn status_exits_2_on_stderr_for_a_dataset_without_run_like_run_does() {
    let sb = sandbox().await;
    let never = dataset_with(&sb, DatasetConfig::never_imported());
    let missing = dataset_with(&sb, DatasetConfig::missing());
    for id in [&never, &missing] {
        let mut cmd = cli(&sb);
        cmd.args(["status", "--dataset-id", id]);
        let ran = run(cmd).await;
        assert_eq!(ran.code, 2, "{ran:?}");
        assert!(ran.stdout.is_empty(), "errors belong on stderr: {ran:?}");
        assert!(ran.stderr.contains(id.as_str()), "{ran:?}");
        assert!(ran.stderr.contains("No import run found"), "{ran:?}");
    }
    // `run` agrees for the unknown dataset.
    let mut cmd = cli(&sb);
    cmd.args(["run", "--dataset-id", &missing]);
    assert_eq!(run(cmd).await.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_status_makes_a_failed_run_1_and_a_running_one_3() {
    let sb = sandbox().await;
    let failed = dataset_with(
        &sb,
        DatasetConfig::default().previous_run(Some(PreviousRun::Failed)),
    );
    let running = dataset_with(&sb, running_a_minute());
    let ok = dataset();
    let cases = [
        (&failed, false, 0),
        (&failed, true, 1),
        (&running, false, 0),
        (&running, true, 3),
        (&ok, true, 0),
    ];
    for (id, flag, code) in cases {
        let mut cmd = cli(&sb);
        cmd.args(["status", "--dataset-id", id]);
        if flag {
            cmd.arg("--exit-status");
        }
        let ran = run(cmd).await;
        assert_eq!(ran.code, code, "--exit-status {flag}: {ran:?}");
        assert!(ran.stdout.contains(id.as_str()), "{ran:?}");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("Exit codes of `status`"),
        "README documents them"
    );
    assert!(readme.contains("--exit-status"));
}

// ---- 3. --no-wait interrupted while someone else's import runs ----------------------------

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_before_the_trigger_says_nothing_was_triggered() {
    let sc = Scenario::with(running_a_minute()).await;
    let mut cli = Running::spawn(sc.run_command(&[&["--no-wait"][..], &POLL].concat()));
    lines_until(
        &cli.stderr_lines(),
        "already running",
        Duration::from_secs(10),
        "never said it waits for the running import",
    );
    cli.signal("INT");
    let ran = cli.finish().await;
    let stdout = &ran.stdout;
    assert_eq!(ran.code, 130, "{stdout}");
    assert!(
        !stdout.contains("no new run had shown up"),
        "claims a run was expected: {stdout}"
    );
    assert!(stdout.contains("no import was triggered"), "{stdout}");
    assert_eq!(sc.stats().triggers, 0);
    // The flag's help says that it waits for a running import first.
    let help = run(sc.cli(&["run", "--help"])).await.stdout;
    assert!(help.contains("still waited for first"), "{help}");
}

/// A run going on for a minute from when it is set up.
fn running_a_minute() -> DatasetConfig {
    DatasetConfig::default()
        .duration(Duration::from_secs(60))
        .running()
}

// ---- 4. A wrong base URL is reported at once ----------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_first_connection_is_reported_within_seconds_naming_the_base_url() {
    let sb = sandbox().await;
    let url = closed_port_url();
    let id = dataset();
    for command in ["status", "run"] {
        let mut cmd = cli(&sb);
        cmd.env("WOOSMAP_BASE_URL", &url)
            .args([command, "--dataset-id", &id]);
        let started = Instant::now();
        let ran = run(cmd).await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "{command}: {took:?} before reporting a refused connection: {ran:?}"
        );
        assert_eq!(ran.code, 6, "{command}: {ran:?}");
        let all = ran.all();
        assert!(all.contains("Could not connect"), "{command}: {ran:?}");
        assert!(all.contains("WOOSMAP_BASE_URL"), "{command}: {ran:?}");
        assert!(all.contains("--base-url"), "{command}: {ran:?}");
    }
}

// ---- 5. Each front end names its own knobs ------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_and_the_action_name_their_own_timeout_setting() {
    let sc = Scenario::ending(Outcome::Never).await;
    let ran = sc.run(&[&POLL[..], &["--timeout", "2s"]].concat()).await;
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stdout.contains("longer timeout (--timeout)"), "{ran:?}");
    assert!(!ran.stdout.contains("timeouts"), "{ran:?}");

    let other = dataset_with(&sc.sb, DatasetConfig::default().outcome(Outcome::Never));
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = action(&sc.sb, &other, scratch.path());
    cmd.env("INPUT_WAIT", "true")
        .env("INPUT_TIMEOUT", "2s")
        .env("INPUT_POLL-INTERVAL", "300ms");
    let action = run(cmd).await;
    assert_eq!(action.code, 3, "{action:?}");
    let outputs = std::fs::read_to_string(scratch.path().join("output")).unwrap();
    assert!(outputs.contains("the timeout input"), "{outputs}");
    assert!(!outputs.contains("--timeout"), "{outputs}");
    assert!(!outputs.contains("timeouts"), "{outputs}");
}

/// `woosmap-import action` as the GitHub Action runs it, for `dataset` of `sb` with the test
/// key given as inputs; its step output and job summary go to `output` and `summary` in
/// `scratch`.
fn action(sb: &SandboxHandle, dataset: &str, scratch: &Path) -> Command {
    let mut cmd = cli(sb);
    cmd.arg("action")
        .env_remove("WOOSMAP_BASE_URL")
        .env("INPUT_DATASET-ID", dataset)
        .env("INPUT_PRIVATE-KEY", common::KEY)
        .env("INPUT_BASE-URL", sb.base_url())
        .env("GITHUB_OUTPUT", scratch.join("output"))
        .env("GITHUB_STEP_SUMMARY", scratch.join("summary"));
    cmd
}

/// A bad input stops the action before anything is sent, and the job summary says so (a step
/// that failed with an empty summary leaves the reader of the run page with nothing).
#[tokio::test(flavor = "multi_thread")]
async fn the_action_writes_a_job_summary_on_a_bad_input() {
    let sb = sandbox().await;
    let scratch = tempfile::tempdir().unwrap();
    let summary = scratch.path().join("summary");
    let action = run(action(&sb, "not-a-dataset", scratch.path())).await;
    assert_eq!(action.code, 2, "{action:?}");
    let text = std::fs::read_to_string(&summary)
        .unwrap_or_else(|e| panic!("no job summary was written ({e}): {action:?}"));
    assert!(text.contains("not started"), "{text}");
    assert!(
        text.contains("dataset-id"),
        "the summary names the input: {text}"
    );
    assert!(text.contains("Nothing was sent"), "{text}");
    assert!(
        !text.contains(common::KEY),
        "the key stays out of the summary: {text}"
    );
    assert_eq!(sb.stats().requests, 0, "nothing was sent");
}

// ---- 6. One JSON shape, checked against guide/cli-json.schema.json -------------------------

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("guide/cli-json.schema.json"))
        .expect("guide/cli-json.schema.json exists");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// Checks every stdout line against the schema, and its keys' order against the schema's
/// `required` list (JSON Schema does not check order).
fn check_lines(validator: &jsonschema::Validator, order: &[String], stdout: &str) -> Vec<String> {
    let mut statuses = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{line}\ndoes not match the schema: {errors:#?}"
        );
        let positions: Vec<usize> = order
            .iter()
            .map(|k| line.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "keys out of order: {line}"
        );
        statuses.push(value["status"].as_str().unwrap().to_owned());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread")]
async fn every_json_line_has_the_documented_shape() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let order: Vec<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let sb = sandbox().await;
    let (ok, hooked) = (dataset(), dataset());
    let ending = |outcome| dataset_with(&sb, DatasetConfig::default().outcome(outcome));
    let (failed, never) = (ending(Outcome::Failed), ending(Outcome::Never));
    let missing = dataset_with(&sb, DatasetConfig::missing());
    let unread = dataset_with(&sb, DatasetConfig::never_imported());
    let running = dataset_with(&sb, running_a_minute());

    // run: success, failed, error (404) and timed_out in one call.
    let mut cmd = cli(&sb);
    cmd.args([
        "run",
        "--json",
        "--poll-interval",
        "300ms",
        "--timeout",
        "6s",
    ]);
    for id in [&ok, &failed, &missing, &never] {
        cmd.args(["--dataset-id", id]);
    }
    let ran = run(cmd).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    let statuses = check_lines(&validator, &order, &ran.stdout);
    assert_eq!(
        statuses,
        ["success", "failed", "error", "timed_out"],
        "{ran:?}"
    );

    // run --no-wait: triggered.
    let mut cmd = cli(&sb);
    cmd.args(["run", "--json", "--no-wait", "--dataset-id", &hooked]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(check_lines(&validator, &order, &ran.stdout), ["triggered"]);

    // status: a run, one in progress, no run.
    let mut cmd = cli(&sb);
    cmd.args(["status", "--json"]);
    for id in [&ok, &running, &unread] {
        cmd.args(["--dataset-id", id]);
    }
    let ran = run(cmd).await;
    let statuses = check_lines(&validator, &order, &ran.stdout);
    assert_eq!(statuses, ["success", "in_progress", "no_run"], "{ran:?}");
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains(&unread), "{ran:?}");

    // status: an error (nothing listens at the base URL).
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_BASE_URL", closed_port_url())
        .args(["status", "--json", "--dataset-id", &ok]);
    let ran = run(cmd).await;
    assert_eq!(check_lines(&validator, &order, &ran.stdout), ["error"]);
    assert_eq!(ran.code, 6, "{ran:?}");
}

#[test]
fn the_schema_accepts_a_status_added_later_and_rejects_a_missing_key() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let line = serde_json::json!({
        "dataset_id": "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0", "run_id": null,
        "status": "not_triggered", "previous_run_id": null, "triggered": false,
        "started_at": null, "finished_at": null, "error": "the deadline passed", "steps": []
    });
    assert!(validator.is_valid(&line), "a new status value is allowed");
    let mut short = line.clone();
    short.as_object_mut().unwrap().remove("steps");
    assert!(!validator.is_valid(&short), "every key is required");
}

// ---- 7. Environment variables --------------------------------------------------------------

/// The variable names of README's environment table (rows starting with "| `WOOSMAP_").
fn readme_variables() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `WOOSMAP_"))
        .map(|rest| format!("WOOSMAP_{}", &rest[..rest.find('`').unwrap()]))
        .collect()
}

/// Every `"WOOSMAP_…"` string literal in `src/`: the variables the program reads.
fn variables_in_source() -> Vec<String> {
    let mut found = std::collections::BTreeSet::new();
    let sources = common::files_below(&root().join("src"));
    assert!(!sources.is_empty(), "no source files");
    for path in sources
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        for (i, _) in text.match_indices("\"WOOSMAP_") {
            let rest = &text[i + 1..];
            let end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap();
            if rest[end..].starts_with('"') {
                found.insert(rest[..end].to_owned());
            }
        }
    }
    found.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_every_variable_as_the_readme_table_does() {
    let sb = sandbox().await;
    let mut cmd = cli(&sb);
    cmd.arg("--help");
    let help = run(cmd).await.stdout;
    let section = &help[help.find("Environment:").expect("an Environment section")..];
    let in_help: Vec<String> = section
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("WOOSMAP_"))
        .map(str::to_owned)
        .collect();
    let mut sorted_help = in_help.clone();
    sorted_help.sort();
    let readme = readme_variables();
    assert_eq!(in_help, readme, "--help and README's table differ");
    assert_eq!(
        sorted_help,
        variables_in_source(),
        "the program reads a variable that is not documented, or documents one it does not read"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_environment_value_is_an_error_naming_the_variable() {
    let sb = sandbox().await;
    let id = dataset();
    let file = tempfile::NamedTempFile::new().unwrap();
    let file = file.path().to_str().unwrap().to_owned();
    let cases = [
        ("WOOSMAP_REQUEST_TIMEOUT", "abc"),
        ("WOOSMAP_TRIGGER_INTERVAL", "ten"),
        ("WOOSMAP_STATUS_INTERVAL", "5"),
        ("WOOSMAP_PACER_DIR", file.as_str()),
        ("WOOSMAP_LOG", "verbose"),
        ("WOOSMAP_BASE_URL", "ftp://example.com"),
        ("WOOSMAP_PRIVATE_KEY", "key\twith-a-tab"),
    ];
    for (name, value) in cases {
        for command in ["run", "status"] {
            let mut cmd = cli(&sb);
            cmd.env(name, value).args([command, "--dataset-id", &id]);
            let ran = run(cmd).await;
            assert_eq!(ran.code, 2, "{name}={value:?} {command}: {ran:?}");
            assert!(
                ran.stderr.contains(name),
                "{name}={value:?} {command}: {ran:?}"
            );
            assert!(!ran.stderr.contains("warning"), "{ran:?}");
        }
    }
    assert_eq!(
        sb.stats().requests,
        0,
        "a request was sent despite a bad value"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_and_help_do_not_show_exported_variables_as_flags() {
    let sb = sandbox().await;
    // Exported base URL and reimport key, then a usage error.
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_REIMPORT_KEY", "rk-usage-line-test-key")
        .args(["run", "--json"]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    let usage = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("no usage line: {ran:?}"));
    assert!(!usage.contains("--base-url"), "{usage}");
    assert!(!usage.contains("--reimport-key"), "{usage}");
    assert!(!ran.all().contains("rk-usage-line-test-key"));

    for args in [&["run", "--help"][..], &["status", "--help"], &["--help"]] {
        let mut cmd = cli(&sb);
        cmd.env_remove("WOOSMAP_BASE_URL").args(args);
        let ran = run(cmd).await;
        assert!(!ran.stdout.contains("=]"), "{args:?}: {ran:?}");
        assert!(ran.stdout.contains("WOOSMAP_BASE_URL"), "{args:?}: {ran:?}");
    }

    // Key counts in words.
    let mut cmd = cli(&sb);
    cmd.args(["run", "--no-wait", "--reimport-key", "rk-one-of-two-0001"])
        .args(["--reimport-key", "rk-two-of-two-0002"])
        .args(["--dataset-id", &dataset()]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(!ran.stderr.contains("time(s)"), "{ran:?}");
    assert!(ran.stderr.contains("twice"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_says_how_to_install_the_cli() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for how in [
        "cargo install --locked --path .",
        "cargo install --locked --git",
        "target/release/woosmap-import",
        "SHA256SUMS",
    ] {
        assert!(readme.contains(how), "README does not say {how:?}");
    }
}

// ---- 8. The demo ends on a readable summary ------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_summary_counts_triggers_status_calls_and_429s_per_dataset() {
    let sc = Scenario::new().await;
    assert_eq!(sc.run(&POLL).await.code, 0);
    let stats = reqwest::get(format!("{}/_sandbox/stats", sc.sb.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = root().join("scripts/lib/sandbox-summary.py");
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stats.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let calls = sc.stats().status_calls;
    let line = text
        .lines()
        .find(|l| l.contains(&sc.id))
        .unwrap_or_else(|| panic!("no line for the dataset: {text}"));
    assert!(line.contains("1 trigger,"), "{line}");
    assert!(line.contains(&format!("{calls} status calls")), "{line}");
    assert!(line.contains("0 × 429"), "{line}");
    assert!(!text.contains('{'), "raw JSON: {text}");

    let demo = std::fs::read_to_string(root().join("scripts/demo.sh")).unwrap();
    assert!(
        demo.contains("sandbox-summary.py"),
        "the demo uses the summary"
    );
    // It installs Terraform only (the tests' other tools come with scripts/test.sh).
    let setup = demo.find("\nscripts/setup-tools.sh terraform\n").unwrap();
    let build = demo.find("\ncargo build").unwrap();
    assert!(
        demo[..setup].contains("first run: installing"),
        "the demo says what it installs before doing it"
    );
    assert!(
        demo[..build].contains("first build: compiling"),
        "the demo says what it compiles before doing it"
    );
}

// ---- 9. Completions and the man page -------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn completions_and_the_man_page_are_generated() {
    let sb = sandbox().await;
    for (shell, marker) in [
        ("bash", "complete -F _woosmap__import"),
        ("zsh", "#compdef woosmap-import"),
        ("fish", "complete -c woosmap-import"),
    ] {
        let mut cmd = cli(&sb);
        cmd.args(["completions", shell]);
        let ran = run(cmd).await;
        assert_eq!(ran.code, 0, "{shell}: {ran:?}");
        assert!(ran.stdout.contains(marker), "{shell}: {ran:?}");
        assert!(ran.stdout.contains("--dataset-id"), "{shell}: {ran:?}");
        assert!(ran.stdout.contains("--exit-status"), "{shell}: {ran:?}");
    }
    if which("bash") {
        // The bash script loads without error.
        let mut cmd = cli(&sb);
        cmd.args(["completions", "bash"]);
        let script = run(cmd).await.stdout;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("woosmap-import.bash");
        std::fs::write(&file, script).unwrap();
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {} && complete -p woosmap-import",
                file.display()
            ))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut cmd = cli(&sb);
    cmd.arg("man");
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.starts_with(".ie") || ran.stdout.contains(".TH"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("woosmap\\-import"), "{ran:?}");
    assert!(ran.stdout.contains("WOOSMAP_PRIVATE_KEY"), "{ran:?}");

    // One page per command into a directory, as packagers install them.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = cli(&sb);
    cmd.args(["man", "--dir"]).arg(dir.path());
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    common::assert_man_pages(dir.path(), "woosmap-import");
    let run_page = std::fs::read_to_string(dir.path().join("woosmap-import-run.1")).unwrap();
    assert!(run_page.contains("no\\-wait"), "{run_page}");
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(program).is_file()))
        .unwrap_or(false)
}
