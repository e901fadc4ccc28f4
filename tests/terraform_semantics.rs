//! What a Terraform user sees in plans, as terraform-plugin-framework providers behave: defaults
//! planned back, dataset ids compared as UUIDs, plans that need no key when they send nothing,
//! refresh faults that keep the state, adoption of a failed run. Real Terraform 1.15 against
//! the sandbox; every test has its own sandbox and directory, so the harness runs them at once.

mod common;

use common::terraform::{APPLY, Import, Terraform, blocking, case, secret_variable};
use common::{KEY, dataset};
use woosmap_sandbox::{DatasetConfig, Fault, FaultEndpoint, FaultKind, PreviousRun, SandboxHandle};

/// One `woosmap_dataset_import` with `id` and the extra lines `extra`.
fn config(id: &str, extra: &str) -> String {
    Import::new(id).version("1").lines(extra).hcl()
}

/// A sandbox and a directory configured with [`config`] for a fresh dataset, polling every
/// 300 ms.
async fn fast_case() -> (SandboxHandle, String, Terraform) {
    let (sb, id, tf) = case(None).await;
    tf.write(&config(&id, "  poll_interval = \"300ms\""));
    (sb, id, tf)
}

/// The first resource instance of the state file.
fn first_instance(tf: &Terraform) -> serde_json::Value {
    let state: serde_json::Value = serde_json::from_str(&tf.file("terraform.tfstate")).unwrap();
    state["resources"][0]["instances"][0].clone()
}

/// Asserts that no import of dataset `id` ran (`what` would have triggered one).
fn assert_no_run(sb: &SandboxHandle, id: &str, what: &str) {
    assert!(
        sb.stats().dataset(id).is_none_or(|d| d.runs.is_empty()),
        "{what} triggered an import"
    );
}

/// `terraform state show` of the resource.
fn show(tf: &Terraform) -> String {
    tf.ok(&[
        "state",
        "show",
        "-no-color",
        "woosmap_dataset_import.stores",
    ])
    .stdout
}

/// The resource's attributes in the state file.
fn state_attrs(tf: &Terraform) -> serde_json::Value {
    let state: serde_json::Value = serde_json::from_str(&tf.file("terraform.tfstate")).unwrap();
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "woosmap_dataset_import")
        .map(|r| r["instances"][0]["attributes"].clone())
        .unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_wait_plans_it_back_to_true_without_an_import() {
    let (sb, id, tf) = case(None).await;
    tf.write(&config(
        &id,
        "  wait          = false\n  poll_interval = \"300ms\"",
    ));
    let (tf, id) = blocking(move || {
        tf.apply();
        assert_eq!(state_attrs(&tf)["wait"], false);
        // Both lines removed: both attributes plan back to their defaults, in place.
        tf.write(&config(&id, ""));
        let plan = tf.plan_exit(2);
        assert!(plan.stdout.contains("updated in-place"), "{plan:?}");
        assert!(plan.stdout.contains("~ wait"), "{plan:?}");
        assert!(plan.stdout.contains("false -> true"), "{plan:?}");
        assert!(plan.stdout.contains("\"300ms\" -> \"5s\""), "{plan:?}");
        assert!(!plan.stdout.contains("known after apply"), "{plan:?}");
        assert!(!plan.stdout.contains("must be replaced"), "{plan:?}");
        tf.apply();
        let attrs = state_attrs(&tf);
        assert_eq!(attrs["wait"], true, "{attrs}");
        assert_eq!(attrs["poll_interval"], "5s", "{attrs}");
        assert_eq!(attrs["status"], "triggered", "{attrs}");
        tf.plan_exit(0);
        (tf, id)
    })
    .await;
    let runs = sb.stats().dataset(&id).unwrap().runs.len();
    assert_eq!(runs, 1, "a default planned back triggered an import");
    drop(tf);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_spelling_of_the_dataset_id_is_no_change() {
    let (sb, id, tf) = fast_case().await;
    let (tf, id) = blocking(move || {
        tf.apply();
        for spelling in [
            id.to_uppercase(),
            format!("{{{id}}}"),
            format!("{{{}}}", id.to_uppercase()),
            id.replace('-', ""),
        ] {
            tf.write(&config(&spelling, "  poll_interval = \"300ms\""));
            let plan = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
            assert_eq!(plan.code, 0, "{spelling}: expected no changes: {plan:?}");
            assert!(plan.stdout.contains("No changes"), "{plan:?}");
        }
        tf.apply();
        let attrs = state_attrs(&tf);
        assert_eq!(attrs["dataset_id"], id.as_str(), "{attrs}");
        assert_eq!(attrs["id"], id.as_str(), "{attrs}");
        (tf, id)
    })
    .await;
    assert_eq!(sb.stats().dataset(&id).unwrap().runs.len(), 1);

    // Created with an upper-case id: the next refresh stores the canonical form, and the
    // configuration (still upper case) plans nothing.
    let other = dataset();
    let tf2 = Terraform::new(&sb.base_url());
    tf2.write(&config(
        &other.to_uppercase(),
        "  poll_interval = \"300ms\"",
    ));
    let tf2 = blocking(move || {
        tf2.ok(&["apply", "-auto-approve", "-no-color"]);
        tf2.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
        let attrs = state_attrs(&tf2);
        assert_eq!(attrs["dataset_id"], other.as_str(), "{attrs}");
        assert_eq!(attrs["id"], other.as_str(), "{attrs}");
        tf2.plan_exit(0);
        tf2
    })
    .await;
    drop((tf, tf2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_that_sends_nothing_needs_no_key_and_unknowns_plan_known_after_apply() {
    let (_sb, id, tf) = fast_case().await;
    let tf = blocking(move || {
        tf.apply();
        // No key at all: a plan that changes only how to wait sends nothing.
        tf.write(&config(&id, "  poll_interval = \"2s\""));
        let plan = tf.run_keyless(&["plan", "-detailed-exitcode", "-no-color"], &[]);
        assert_eq!(plan.code, 2, "{plan:?}");
        assert!(plan.stdout.contains("\"300ms\" -> \"2s\""), "{plan:?}");
        // A plan that would trigger still says what is missing.
        tf.write(&config(&id, "  poll_interval = \"2s\"").replace("\"1\"", "\"2\""));
        let plan = tf.run_keyless(&["plan", "-no-color"], &[]);
        assert_ne!(plan.code, 0, "{plan:?}");
        assert!(plan.stderr.contains("No Woosmap private key"), "{plan:?}");

        // A key and a dataset id known only after apply: refresh and plan go through, and
        // the run attributes are "known after apply".
        let unknown = format!(
            r#"{}
resource "terraform_data" "key" {{
  input            = var.key
  triggers_replace = ["2"]
}}
resource "terraform_data" "other" {{
  input = "{other}"
}}
provider "woosmap" {{
  private_key = terraform_data.key.output
}}
resource "woosmap_dataset_import" "stores" {{
  dataset_id    = "{id}"
  triggers      = {{ version = "1" }}
  poll_interval = "300ms"
}}
resource "woosmap_dataset_import" "other" {{
  dataset_id    = terraform_data.other.output
  poll_interval = "300ms"
}}
"#,
            secret_variable("key", false),
            other = dataset(),
        );
        tf.write(&unknown);
        let plan = tf.run_keyless(&["plan", "-no-color"], &[("TF_VAR_key", KEY)]);
        assert_eq!(plan.code, 0, "{plan:?}");
        let other_block = plan
            .stdout
            .split("woosmap_dataset_import.other will be created")
            .nth(1)
            .unwrap_or_else(|| panic!("{plan:?}"));
        assert!(
            other_block.contains("dataset_id    = (known after apply)"),
            "{plan:?}"
        );
        assert!(
            other_block.contains("run_id        = (known after apply)"),
            "{plan:?}"
        );
        // A data source reads while planning: it says why it cannot.
        tf.write(&format!(
            "{unknown}\ndata \"woosmap_dataset_status\" \"s\" {{\n  dataset_id = \"{id}\"\n}}\n"
        ));
        let plan = tf.run_keyless(&["plan", "-no-color"], &[("TF_VAR_key", KEY)]);
        assert_ne!(plan.code, 0, "{plan:?}");
        assert!(
            plan.stderr.contains("Private key not known yet"),
            "{plan:?}"
        );
        tf
    })
    .await;
    drop(tf);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_fault_keeps_the_state_with_a_warning_and_a_404_removes_it() {
    let (sb, id, tf) = fast_case().await;
    let tf = blocking(move || {
        tf.apply();
        tf
    })
    .await;
    let before = state_attrs(&tf);
    // Every status read answers 500: retries run out, the plan carries on with the record.
    sb.inject(
        Fault::new(FaultKind::Http500)
            .on(FaultEndpoint::Status)
            .for_dataset(&id)
            .times(1000),
    );
    let tf = blocking(move || {
        let plan = tf.plan_exit(0);
        assert!(plan.all().contains("Warning"), "{plan:?}");
        assert!(
            plan.all()
                .contains("Could not refresh the import of dataset"),
            "{plan:?}"
        );
        tf
    })
    .await;
    assert_eq!(state_attrs(&tf), before, "the refresh changed the state");
    // The refresh retried the 500s before settling (the last attempt may end on the deadline
    // instead, so the warning quotes whichever fault came last).
    let injected = sb.stats().dataset(&id).unwrap().injected;
    assert!(injected >= 2, "only {injected} status answers were 500s");
    sb.clear_faults();

    // The dataset is gone: the refresh removes the resource, with a warning.
    sb.configure_dataset(&id, DatasetConfig::missing()).unwrap();
    blocking(move || {
        let plan = tf.run(&["plan", "-no-color"]);
        assert_eq!(plan.code, 0, "{plan:?}");
        assert!(plan.all().contains("not found"), "{plan:?}");
        assert!(plan.stdout.contains("will be created"), "{plan:?}");
        let apply = tf.fails(APPLY);
        assert!(apply.stderr.contains("was not found"), "{apply:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn importing_a_failed_run_adopts_it_without_triggering() {
    let failed = DatasetConfig::default().previous_run(Some(PreviousRun::Failed));
    let (sb, id, tf) = case(Some(failed)).await;
    tf.write(&config(&id, "  poll_interval = \"300ms\""));
    let (tf, id) = blocking(move || {
        let import = tf.ok(&["import", "-no-color", "woosmap_dataset_import.stores", &id]);
        assert!(import.all().contains("adopted run"), "{import:?}");
        assert!(show(&tf).contains("\"failed\""));
        // The first plan records the configured triggers, in place, without an import.
        let plan = tf.plan_exit(2);
        assert!(!plan.stdout.contains("known after apply"), "{plan:?}");
        tf.apply();
        let plan = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(plan.code, 0, "the adopted failed run was retried: {plan:?}");
        (tf, id)
    })
    .await;
    let runs = sb.stats().dataset(&id).map_or(0, |d| d.runs.len());
    assert_eq!(runs, 0, "importing triggered an import");

    // New triggers run a new import as usual.
    sb.configure_dataset(&id, DatasetConfig::default()).unwrap();
    let (tf, id) = blocking(move || {
        tf.write(&config(&id, "  poll_interval = \"300ms\"").replace("\"1\"", "\"2\""));
        let apply = tf.apply();
        assert!(apply.stdout.contains("updated in-place"), "{apply:?}");
        (tf, id)
    })
    .await;
    assert_eq!(sb.stats().dataset(&id).unwrap().runs.len(), 1);
    assert_eq!(state_attrs(&tf)["status"], "success");
}

/// The saved state of the first release (schema version 0) for dataset `id`, written in upper
/// case as a user may have configured it, with `schema_version` set to `version`.
fn v0_state(id: &str, version: u32) -> String {
    let fixture = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dataset_import_v0.tfstate.json"),
    )
    .unwrap();
    assert!(fixture.contains("\"schema_version\": 0"));
    fixture
        .replace("{DATASET_ID_UPPER}", &id.to_uppercase())
        .replace(
            "\"schema_version\": 0",
            &format!("\"schema_version\": {version}"),
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v0_state_upgrades_and_a_newer_one_is_refused() {
    let (sb, id, tf) = case(None).await;
    std::fs::write(tf.dir.path().join("terraform.tfstate"), v0_state(&id, 0)).unwrap();
    tf.write(&config(&id.to_uppercase(), "  poll_interval = \"1s\""));
    let newer = Terraform::new(&sb.base_url());
    std::fs::write(newer.dir.path().join("terraform.tfstate"), v0_state(&id, 2)).unwrap();
    newer.write(&config(&id.to_uppercase(), ""));
    let (tf, id) = blocking(move || {
        // No refresh: only the upgrade can have canonicalised the id.
        let apply = tf.ok(&["apply", "-refresh=false", "-auto-approve", "-no-color"]);
        assert!(apply.stdout.contains("1 changed"), "{apply:?}");
        let instance = &first_instance(&tf);
        assert_eq!(instance["schema_version"], 1, "{instance}");
        assert_eq!(instance["attributes"]["dataset_id"], id.as_str());
        assert_eq!(instance["attributes"]["id"], id.as_str());
        assert_eq!(instance["attributes"]["poll_interval"], "1s");
        assert_eq!(
            instance["attributes"]["run_id"],
            "7d3c9a52-1f0e-4b8a-a6c2-90e4d1b7f388"
        );
        tf.plan_exit(0);

        // Terraform refuses a newer schema version itself, before asking the provider (whose
        // own refusal, for a Terraform that would ask, is unit-tested in provider::resource).
        let refused = newer.fails(&["plan", "-no-color"]);
        assert!(
            refused.stderr.contains("managed by newer provider version"),
            "{refused:?}"
        );
        assert!(
            refused.stderr.contains("Upgrade the woosmap provider"),
            "{refused:?}"
        );
        (tf, id)
    })
    .await;
    assert_no_run(&sb, &id, "the upgrade");
    drop(tf);
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_mode_serves_terraform_through_tf_reattach_providers() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let sb = common::sandbox().await;
    let id = dataset();
    // The provider runs on its own, with the sandbox settings in its environment.
    let mut cmd = Command::new(common::bin("terraform-provider-woosmap"));
    cmd.arg("-debug")
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .env("TF_LOG_PROVIDER", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::sandbox_env(&mut cmd, &sb.base_url());
    let mut debug = cmd.spawn().unwrap();
    let mut stderr = debug.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = BufReader::new(debug.stdout.take().unwrap());
    let mut banner = String::new();
    let reattach = loop {
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "{banner}");
        banner.push_str(&line);
        if let Some(rest) = line.strip_prefix("\tTF_REATTACH_PROVIDERS='") {
            break rest.trim_end().trim_end_matches('\'').to_owned();
        }
    };
    assert!(banner.starts_with("Provider started."), "{banner}");
    let parsed: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let entry = &parsed["registry.terraform.io/woosmap/woosmap"];
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Pid"], debug.id());
    assert_eq!(entry["Test"], true);
    assert_eq!(entry["Addr"]["Network"], "tcp");

    let tf = Terraform::new(&sb.base_url());
    // No dev_overrides and no init: only the reattached process can serve the provider.
    std::fs::write(tf.dir.path().join("cli.tfrc"), "").unwrap();
    tf.write(&config(&id, "  poll_interval = \"300ms\""));
    let (tf, debug) = blocking(move || {
        let run = |args: &[&str]| tf.run_keyless(args, &[("TF_REATTACH_PROVIDERS", &reattach)]);
        let apply = run(APPLY);
        assert_eq!(apply.code, 0, "{apply:?}");
        assert!(apply.stdout.contains("1 added"), "{apply:?}");
        // The same process serves the next run too.
        let plan = run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(plan.code, 0, "{plan:?}");
        (tf, debug)
    })
    .await;
    assert_eq!(state_attrs(&tf)["status"], "success");
    assert_eq!(sb.stats().dataset(&id).unwrap().runs.len(), 1);

    // Ctrl-C ends the debug session.
    let mut debug = debug;
    let kill = Command::new("kill")
        .args(["-INT", &debug.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Only the interrupt can end it (the limit only stops a hang): it exits cleanly.
    let code =
        blocking(move || common::wait::exit_within(&mut debug, Duration::from_secs(60))).await;
    assert_eq!(
        code,
        Some(0),
        "the debug session did not end cleanly on Ctrl-C (None: still running after 60 s)"
    );
    let log = log.join().unwrap();
    assert!(log.contains("ApplyResourceChange"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_block_with_identity_adopts_the_latest_run_without_triggering() {
    let (sb, id, tf) = case(None).await;
    tf.write(&format!(
        "{}\nimport {{\n  to       = woosmap_dataset_import.stores\n  identity = {{ dataset_id = \"{id}\" }}\n}}\n",
        config(&id, "  poll_interval = \"300ms\"")
    ));
    let (_tf, id) = blocking(move || {
        let schema = tf.ok(&["providers", "schema", "-json"]);
        let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
        let provider = &schema["provider_schemas"]["registry.terraform.io/woosmap/woosmap"];
        let identity = &provider["resource_identity_schemas"]["woosmap_dataset_import"];
        assert_eq!(
            identity["attributes"]["dataset_id"]["required_for_import"], true,
            "{identity}"
        );
        // Descriptions written in Markdown are declared so.
        let status = &provider["resource_schemas"]["woosmap_dataset_import"]["block"]["attributes"]
            ["status"];
        assert_eq!(status["description_kind"], "markdown", "{status}");

        let plan = tf.ok(&["plan", "-no-color"]);
        assert!(plan.stdout.contains("will be imported"), "{plan:?}");
        assert!(!plan.stdout.contains("known after apply"), "{plan:?}");
        let apply = tf.apply();
        assert!(apply.stdout.contains("1 imported"), "{apply:?}");
        let instance = &first_instance(&tf);
        assert_eq!(
            instance["identity"]["dataset_id"],
            id.as_str(),
            "{instance}"
        );
        assert_eq!(instance["attributes"]["status"], "success", "{instance}");
        assert!(instance["attributes"]["run_id"].is_string(), "{instance}");
        tf.plan_exit(0);
        (tf, id)
    })
    .await;
    assert_no_run(&sb, &id, "importing by identity");
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_1_10_works_but_refuses_reimport_key_naming_1_11() {
    let (sb, id, tf) = case(None).await;
    // The oldest Terraform installed by scripts/setup-tools.sh: 1.10, without write-only
    // attributes.
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-tf1.10");
    let venv = venv.to_str().unwrap().to_owned();
    let (tf, id) = blocking(move || {
        let run = |args: &[&str]| tf.run_env(args, &[("WOOSMAP_TF_VENV", &venv)]);
        let version = run(&["version"]);
        assert!(
            version.stdout.starts_with("Terraform v1.10."),
            "{version:?}"
        );
        tf.write(&format!(
            "{}{}",
            secret_variable("rk", false),
            config(&id, "  poll_interval = \"300ms\"\n  reimport_key  = var.rk",)
        ));
        let validate = tf.run_env(
            &["validate", "-no-color"],
            &[
                ("WOOSMAP_TF_VENV", &venv),
                ("TF_VAR_rk", "rk-old-terraform-1f2e"),
            ],
        );
        assert_ne!(validate.code, 0, "{validate:?}");
        assert!(
            validate
                .stderr
                .contains("reimport_key needs a newer Terraform"),
            "{validate:?}"
        );
        assert!(
            validate.stderr.contains("Terraform 1.11 or later"),
            "{validate:?}"
        );
        assert!(
            !validate.all().contains("rk-old-terraform-1f2e"),
            "{validate:?}"
        );
        // Everything else works.
        tf.write(&config(&id, "  poll_interval = \"300ms\""));
        let apply = run(APPLY);
        assert_eq!(apply.code, 0, "{apply:?}");
        let plan = run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(plan.code, 0, "{plan:?}");
        (tf, id)
    })
    .await;
    assert_eq!(sb.stats().dataset(&id).unwrap().runs.len(), 1);
    drop(tf);
}
